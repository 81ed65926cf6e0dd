//! DQN's training rounds: minibatches drawn from replay, their TD targets, and gradient steps
//! with a clipped norm.

use std::sync::Arc;

use autodidact_core::{clip_grad_norm, Optimizer};
use ndarray::Array2;

use super::agent::Dqn;
use super::hyperparams::LossKind;
use super::td::{TdLoss, TdRows};
use crate::errors::{Result, RlError};

impl Dqn {
    /// TD targets `R + γ^k (1 − done) Q⁻(s', a')` of the given slots.
    fn targets(&self, slots: &[usize]) -> Result<Vec<f32>> {
        let next = self.buffer.next_obs_of(slots);
        let online = self.p.double_dqn.then_some(self.online.as_ref());
        let best = self
            .shards
            .bootstrap(&self.net, &self.target, online, next.view())?;
        let (r, d, g) = self.buffer.scalars_of(slots);
        Ok(best
            .iter()
            .enumerate()
            .map(|(i, &b)| r[i] + g[i] * (1.0 - d[i]) * b)
            .collect())
    }

    /// Runs `n` gradient steps.
    pub fn train_round(&mut self, n: usize) -> Result<()> {
        let bs = self.p.batch_size;
        if self.priorities.is_none() && !self.p.double_dqn {
            let all = self.buffer.sample_uniform(n * bs, &mut self.rng_replay);
            // A slot drawn twice has the same target: compute each distinct slot once.
            let mut distinct = all.clone();
            distinct.sort_unstable();
            distinct.dedup();
            let values = self.targets(&distinct)?;
            let targets: Vec<f32> = all
                .iter()
                .map(|s| match distinct.binary_search(s) {
                    Ok(i) => values[i],
                    Err(_) => f32::NAN,
                })
                .collect();
            for (slots, y) in all.chunks(bs).zip(targets.chunks(bs)) {
                let b = self.buffer.batch(slots);
                self.gradient_step(b.obs, &b.actions, y, None)?;
            }
            return Ok(());
        }
        for _ in 0..n {
            let (slots, weights) = match &self.priorities {
                Some(p) => {
                    let (s, w) = p.sample(bs, self.buffer.len(), self.beta(), &mut self.rng_replay);
                    (s, Some(w))
                }
                None => (self.buffer.sample_uniform(bs, &mut self.rng_replay), None),
            };
            let y = self.targets(&slots)?;
            let b = self.buffer.batch(&slots);
            let td = self.gradient_step(b.obs, &b.actions, &y, weights.as_deref())?;
            if let Some(p) = self.priorities.as_mut() {
                p.update(&slots, &td);
            }
        }
        Ok(())
    }

    /// One gradient step on a minibatch; returns the TD errors `Q(s,a) − y`.
    pub fn gradient_step(
        &mut self,
        obs: Array2<f32>,
        actions: &[usize],
        targets: &[f32],
        weights: Option<&[f32]>,
    ) -> Result<Vec<f32>> {
        let loss = if self.p.loss == LossKind::Huber {
            TdLoss::Huber(self.p.huber_delta)
        } else {
            TdLoss::Mse
        };
        let rows = TdRows {
            obs: obs.view(),
            actions,
            targets,
            weights,
        };
        let mut step = self.shards.gradient(&self.net, &self.online, rows, loss);
        if !step.loss.is_finite() {
            return Err(RlError::Numerical(format!(
                "gradient step {}: the TD loss is {}",
                self.grad_steps, step.loss
            )));
        }
        let norm = if self.p.max_grad_norm > 0.0 {
            clip_grad_norm(&mut step.grads, self.p.max_grad_norm)
        } else {
            0.0
        };
        self.opt.set_lr(self.learning_rate());
        self.opt
            .step(Arc::make_mut(&mut self.online), &step.grads)?;
        self.grad_steps += 1;
        self.log.loss += step.loss;
        self.log.q += step.q_sum / actions.len() as f64;
        self.log.grad_norm += norm;
        self.log.n += 1;
        Ok(step.td)
    }
}
