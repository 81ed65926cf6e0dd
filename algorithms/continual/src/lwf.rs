//! Learning without Forgetting (Li and Hoiem 2016): after each experience the model is
//! frozen; while training the next, the new model's outputs on the old classes (or old heads)
//! are distilled toward the frozen model's on the current inputs, with temperature T:
//! `α · T² · KL(softmax(old/T) ‖ softmax(new/T))`, averaged over the batch.

use autodidact_core::{cross_entropy_soft, no_grad, BatchNormStats, Scenario, Tensor, Var};
use ndarray::IxDyn;
use serde::{Deserialize, Serialize};

use crate::errors::Result;
use crate::model::MASKED;
use crate::strategy::{Context, PenaltyInput, Strategy};

/// The frozen model of the previous experience.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frozen {
    /// Its parameters.
    pub params: Vec<Tensor<f32>>,
    /// Its Conv4 running statistics (empty for an MLP).
    pub stats: Vec<BatchNormStats<f32>>,
    /// The classes it had seen.
    pub classes: Vec<bool>,
    /// The last experience it was trained on.
    pub experience: usize,
}

/// Learning without Forgetting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lwf {
    /// Distillation weight α.
    pub alpha: f64,
    /// Temperature T.
    pub temperature: f64,
    /// The frozen model, after the first experience.
    pub frozen: Option<Frozen>,
}

impl Lwf {
    /// LwF with no frozen model yet.
    pub fn new(alpha: f64, temperature: f64) -> Lwf {
        Lwf {
            alpha,
            temperature,
            frozen: None,
        }
    }
}

/// `T² · KL(softmax(old/T) ‖ softmax(new/T))` averaged over rows, over the classes `mask`
/// leaves (`None`: all).
pub fn distillation(
    new: Var<f32>,
    old: Var<f32>,
    temperature: f64,
    mask: Option<&[bool]>,
) -> Var<f32> {
    let t = temperature;
    let mask_var = mask.map(|m| {
        let v: Vec<f32> = m.iter().map(|&ok| if ok { 0.0 } else { MASKED }).collect();
        Var::constant(
            Tensor::from_shape_vec(IxDyn(&[v.len()]), v)
                .unwrap_or_else(|_| Tensor::zeros(IxDyn(&[0]))),
        )
    });
    let soften = |z: Var<f32>| match mask_var {
        Some(m) => z * (1.0 / t) + m,
        None => z * (1.0 / t),
    };
    let targets = no_grad(|| soften(old).softmax(1)).detach();
    let rows = new.shape().first().copied().unwrap_or(1).max(1);
    let entropy: f64 = targets.with_value(|p| {
        p.iter()
            .filter(|&&q| q > 0.0)
            .map(|&q| -(q as f64) * (q as f64).ln())
            .sum::<f64>()
    }) / rows as f64;
    (cross_entropy_soft(soften(new), targets) - entropy) * (t * t)
}

impl Strategy for Lwf {
    fn name(&self) -> &'static str {
        "lwf"
    }

    fn after_experience(&mut self, ctx: &mut Context<'_, '_>) -> Result<()> {
        self.frozen = Some(Frozen {
            params: ctx.params.tensors().to_vec(),
            stats: ctx.objective.stats.to_vec(),
            classes: ctx.objective.seen.to_vec(),
            experience: ctx.experience,
        });
        Ok(())
    }

    fn penalty(&self, input: &PenaltyInput<'_, '_>) -> Option<Var<f32>> {
        let frozen = self.frozen.as_ref()?;
        if self.alpha == 0.0 {
            return None;
        }
        let obj = input.objective;
        let model = obj.model;
        let old_h = no_grad(|| {
            let old: Vec<Var<f32>> = frozen.params.iter().map(Var::constant_from).collect();
            let mut st = frozen.stats.clone();
            let h = model.features(
                &old,
                input.x,
                false,
                (!st.is_empty()).then_some(st.as_mut_slice()),
            );
            (old, h)
        });
        let (old, old_h) = old_h;
        let t = self.temperature;
        let loss = if model.multi_head {
            let mut total: Option<Var<f32>> = None;
            for head in 0..=frozen.experience.min(model.heads.len() - 1) {
                let o = no_grad(|| model.head(&old, old_h, head));
                let n = model.head(input.vars, input.features, head);
                let d = distillation(n, o, t, None);
                total = Some(match total {
                    Some(s) => s + d,
                    None => d,
                });
            }
            total?
        } else {
            let o = no_grad(|| model.head(&old, old_h, 0));
            let n = model.head(input.vars, input.features, 0);
            let mask = match obj.data.scenario {
                Scenario::DomainIncremental => None,
                _ => Some(frozen.classes.as_slice()),
            };
            distillation(n, o, t, mask)
        };
        Some(loss * self.alpha)
    }

    fn save_state(&self) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(&self.frozen)?)
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        self.frozen = serde_json::from_value(state)?;
        Ok(())
    }
}
