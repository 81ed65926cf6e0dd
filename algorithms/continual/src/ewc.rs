//! Elastic Weight Consolidation (Kirkpatrick et al. 2017) with a diagonal Fisher, separate
//! (one Fisher and anchor per experience) or online (Schwarz et al. 2018: one running Fisher,
//! decayed by γ, anchored at the latest parameters).
//!
//! The Fisher is the empirical one: the mean over examples of the squared gradient of each
//! example's log-likelihood of its label, `F = (1/N) Σₙ (∇θ log p(yₙ|xₙ))²`. The penalty is
//! `λ/2 · Σ_anchors Σₖ Fₖ (θₖ − θ*ₖ)²`.

use autodidact_core::{Params, Tensor};
use rand::seq::index::sample;
use serde::{Deserialize, Serialize};

use crate::data::Batch;
use crate::errors::Result;
use crate::strategy::{weighted_sq_distance, Context, Objective, PenaltyInput, Strategy};

/// One consolidated experience: its Fisher diagonal and the parameters it was anchored at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anchor {
    /// Diagonal Fisher, per parameter tensor.
    pub fisher: Vec<Tensor<f32>>,
    /// θ* per parameter tensor.
    pub params: Vec<Tensor<f32>>,
}

/// EWC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ewc {
    /// Penalty strength λ.
    pub lambda: f64,
    /// Online EWC: keep one running Fisher.
    pub online: bool,
    /// Online decay γ.
    pub decay: f64,
    /// Examples per Fisher estimate (0: all).
    pub samples: usize,
    /// The anchors (one when online).
    pub anchors: Vec<Anchor>,
}

impl Ewc {
    /// EWC with no anchor yet.
    pub fn new(lambda: f64, online: bool, decay: f64, samples: usize) -> Ewc {
        Ewc {
            lambda,
            online,
            decay,
            samples,
            anchors: Vec::new(),
        }
    }
}

/// The empirical diagonal Fisher of `params` on `batch`: the mean over its examples of each
/// example's squared loss gradient.
pub fn empirical_fisher(
    objective: &Objective<'_>,
    params: &Params<f32>,
    batch: &Batch,
) -> Vec<Tensor<f32>> {
    let mut fisher = params.zeros_like();
    let n = batch.len();
    let dim = batch.x.len().checked_div(n).unwrap_or(0);
    for i in 0..n {
        let mut one = Batch::default();
        one.push(&batch.x[i * dim..(i + 1) * dim], batch.y[i], batch.exp[i]);
        let (g, _) = objective.gradient(params, &one);
        for (f, g) in fisher.iter_mut().zip(&g) {
            f.zip_mut_with(g, |f, &g| *f += g * g);
        }
    }
    let scale = 1.0 / n.max(1) as f32;
    for f in &mut fisher {
        f.mapv_inplace(|v| v * scale);
    }
    fisher
}

impl Strategy for Ewc {
    fn name(&self) -> &'static str {
        "ewc"
    }

    fn after_experience(&mut self, ctx: &mut Context<'_, '_>) -> Result<()> {
        let exp = &ctx.objective.data.experiences[ctx.experience];
        let n = exp.train.len();
        let k = if self.samples == 0 {
            n
        } else {
            self.samples.min(n)
        };
        let mut idx = sample(ctx.rng, n, k).into_vec();
        idx.sort_unstable();
        let batch = Batch::gather(exp, &idx, false);
        let fisher = empirical_fisher(ctx.objective, ctx.params, &batch);
        let params = ctx.params.tensors().to_vec();
        if self.online {
            if let Some(old) = self.anchors.first() {
                let decay = self.decay as f32;
                let mut merged = fisher;
                for (m, o) in merged.iter_mut().zip(&old.fisher) {
                    m.zip_mut_with(o, |m, &o| *m += decay * o);
                }
                self.anchors = vec![Anchor {
                    fisher: merged,
                    params,
                }];
            } else {
                self.anchors = vec![Anchor { fisher, params }];
            }
        } else {
            self.anchors.push(Anchor { fisher, params });
        }
        Ok(())
    }

    fn penalty(&self, input: &PenaltyInput<'_, '_>) -> Option<autodidact_core::Var<f32>> {
        if self.anchors.is_empty() || self.lambda == 0.0 {
            return None;
        }
        let mut total = None;
        for a in &self.anchors {
            let d = weighted_sq_distance(input.vars, &a.fisher, &a.params);
            total = Some(match total {
                Some(t) => t + d,
                None => d,
            });
        }
        total.map(|t| t * (self.lambda / 2.0))
    }

    fn metrics(&self) -> autodidact_core::Metrics {
        let mut m = autodidact_core::Metrics::new();
        m.insert("ewc_anchors".into(), self.anchors.len() as f64);
        m
    }

    fn save_state(&self) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(&self.anchors)?)
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        self.anchors = serde_json::from_value(state)?;
        Ok(())
    }
}
