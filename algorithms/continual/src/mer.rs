//! Meta-Experience Replay (Riemer et al. 2019, Algorithm 1): a reservoir memory; each incoming
//! example is learnt in `s` batches, each of `k − 1` memory examples and the example itself,
//! with one plain SGD step per example (step size α = `lr`), and two Reptile meta-updates:
//!
//! - within a batch, θ ← θ_W0 + β (θ_k − θ_W0) (the paper's β, `mer_beta`);
//! - across the batches, θ ← θ_A0 + γ (θ_s − θ_A0) (the paper's γ, `mer_gamma`).
//!
//! Sequential SGD over a batch followed by the Reptile interpolation maximises, to second order,
//! the inner products of the examples' gradients (Nichol et al. 2018): updates that interfere
//! with the memory are damped, updates that transfer are amplified. With β = γ = 1 and an empty
//! memory it is exactly Reptile on the single example (`s` inner steps, ε = 1); test
//! `mer_without_memory_is_reptile`.
//!
//! The example is offered to the reservoir after its update. MER replaces the learner's
//! optimiser: its steps are its own (the `optimizer` key does not apply).

use autodidact_core::{Params, Rng, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::Batch;
use crate::errors::Result;
use crate::replay::{Buffer, Policy};
use crate::strategy::{Objective, Strategy, UpdateInput};

/// MER's step sizes and batch shape.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MerSettings {
    /// Batches per incoming example, `s`.
    pub batches: usize,
    /// Examples per batch, `k` (the incoming one and `k − 1` from memory).
    pub batch_size: usize,
    /// SGD step size α.
    pub lr: f64,
    /// Within-batch meta step β.
    pub beta: f64,
    /// Across-batch meta step γ.
    pub gamma: f64,
}

/// Meta-Experience Replay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mer {
    /// The reservoir memory.
    pub buffer: Buffer,
    /// The settings.
    pub settings: MerSettings,
    /// Incoming examples learnt so far.
    pub examples: u64,
}

impl Mer {
    /// MER with an empty memory.
    pub fn new(capacity: usize, policy: Policy, settings: MerSettings) -> Mer {
        Mer {
            buffer: Buffer::new(capacity, policy),
            settings,
            examples: 0,
        }
    }
}

/// Example `j` of a batch as a batch of one.
pub fn one_of(batch: &Batch, j: usize) -> Batch {
    let d = batch.x.len() / batch.len().max(1);
    let mut b = Batch::default();
    b.push(&batch.x[j * d..(j + 1) * d], batch.y[j], batch.exp[j]);
    b
}

/// `θ ← θ − α g`.
fn sgd(params: &mut Params<f32>, grads: &[Tensor<f32>], lr: f64) {
    let lr = lr as f32;
    for (p, g) in params.tensors_mut().iter_mut().zip(grads) {
        p.zip_mut_with(g, |p, &g| *p -= lr * g);
    }
}

/// `θ ← start + ε (θ − start)` (a Reptile meta-update toward the weights reached).
fn interpolate(params: &mut Params<f32>, start: &[Tensor<f32>], eps: f64) {
    let eps = eps as f32;
    for (p, s) in params.tensors_mut().iter_mut().zip(start) {
        p.zip_mut_with(s, |p, &s| *p = s + eps * (*p - s));
    }
}

/// MER's update on one incoming example (a batch of one) with `memory`; returns the mean
/// loss of the example over its batches, before each of its steps.
pub fn mer_step(
    objective: &Objective<'_>,
    params: &mut Params<f32>,
    memory: &Buffer,
    example: &Batch,
    settings: &MerSettings,
    rng: &mut Rng,
) -> f64 {
    let across = params.tensors().to_vec();
    let mut loss = 0.0;
    for _ in 0..settings.batches {
        let within = params.tensors().to_vec();
        let from_memory = settings.batch_size.saturating_sub(1).min(memory.len());
        let mut batch = memory.sample(from_memory, rng);
        batch.extend(example);
        for j in 0..batch.len() {
            let (g, l) = objective.gradient(params, &one_of(&batch, j));
            if j + 1 == batch.len() {
                loss += l;
            }
            sgd(params, &g, settings.lr);
        }
        interpolate(params, &within, settings.beta);
    }
    interpolate(params, &across, settings.gamma);
    loss / settings.batches.max(1) as f64
}

impl Strategy for Mer {
    fn name(&self) -> &'static str {
        "mer"
    }

    fn update(&mut self, input: UpdateInput<'_, '_>) -> Result<Option<f64>> {
        let UpdateInput {
            objective,
            params,
            batch,
            rng,
        } = input;
        let mut total = 0.0;
        for j in 0..batch.len() {
            let example = one_of(batch, j);
            total += mer_step(
                objective,
                params,
                &self.buffer,
                &example,
                &self.settings,
                rng,
            );
            self.buffer.add_all(&example, rng);
            self.examples += 1;
        }
        Ok(Some(total / batch.len().max(1) as f64))
    }

    fn metrics(&self) -> autodidact_core::Metrics {
        let mut m = autodidact_core::Metrics::new();
        m.insert("memory".into(), self.buffer.len() as f64);
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
