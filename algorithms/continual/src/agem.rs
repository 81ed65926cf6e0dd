//! Averaged Gradient Episodic Memory (Chaudhry et al. 2019): the update `g` is projected so
//! that, to first order, it does not increase the loss on a sample of the memory: with the
//! reference gradient `g_ref` on that sample, if `g · g_ref < 0` then
//! `g ← g − (g · g_ref / g_ref · g_ref) g_ref`, after which `g · g_ref = 0`.

use autodidact_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::errors::Result;
use crate::replay::{remember_experience, Buffer, Policy};
use crate::strategy::{dot, Context, Strategy};

/// A-GEM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agem {
    /// The episodic memory.
    pub buffer: Buffer,
    /// Memory examples per reference gradient.
    pub sample: usize,
    /// Updates so far.
    pub updates: u64,
    /// Updates that were projected.
    pub projected: u64,
    /// Online protocol: each example is offered to the memory right after its update.
    #[serde(default)]
    pub online: bool,
}

impl Agem {
    /// A-GEM with an empty memory.
    pub fn new(capacity: usize, policy: Policy, sample: usize) -> Agem {
        Agem {
            buffer: Buffer::new(capacity, policy),
            sample,
            updates: 0,
            projected: 0,
            online: false,
        }
    }

    /// The same, for the online protocol or not.
    pub fn with_online(self, online: bool) -> Agem {
        Agem { online, ..self }
    }
}

/// Projects `g` onto the half-space `g · g_ref ≥ 0`; returns whether it moved.
pub fn project_onto(g: &mut [Tensor<f32>], g_ref: &[Tensor<f32>]) -> bool {
    let d = dot(g, g_ref);
    let rr = dot(g_ref, g_ref);
    if d >= 0.0 || rr <= 0.0 {
        return false;
    }
    let k = (d / rr) as f32;
    for (a, r) in g.iter_mut().zip(g_ref) {
        a.zip_mut_with(r, |a, &r| *a -= k * r);
    }
    true
}

impl Strategy for Agem {
    fn name(&self) -> &'static str {
        "agem"
    }

    fn after_experience(&mut self, ctx: &mut Context<'_, '_>) -> Result<()> {
        if !self.online {
            remember_experience(&mut self.buffer, ctx);
        }
        Ok(())
    }

    fn after_example(&mut self, example: &crate::data::Batch, rng: &mut autodidact_core::Rng) {
        self.buffer.add_all(example, rng);
    }

    fn project(&mut self, grads: &mut [Tensor<f32>], ctx: &mut Context<'_, '_>) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let memory = self.buffer.sample(self.sample, ctx.rng);
        let (g_ref, _) = ctx.objective.gradient(ctx.params, &memory);
        self.updates += 1;
        if project_onto(grads, &g_ref) {
            self.projected += 1;
        }
        Ok(())
    }

    fn metrics(&self) -> autodidact_core::Metrics {
        let mut m = autodidact_core::Metrics::new();
        m.insert("memory".into(), self.buffer.len() as f64);
        if self.updates > 0 {
            m.insert(
                "projected_fraction".into(),
                self.projected as f64 / self.updates as f64,
            );
        }
        m
    }

    fn save_state(&self) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(self)?)
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        *self = serde_json::from_value(state)?;
        Ok(())
    }
}
