//! Stochastic gradient descent with momentum, Nesterov momentum and weight decay.

use serde::{Deserialize, Serialize};

use super::{check_grads, Optimizer};
use crate::error::Result;
use crate::float::Float;
use crate::params::Params;
use crate::Tensor;

/// SGD, as PyTorch defines it (`v ← μv + g`; Nesterov uses `g + μv`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(bound = "T: Float")]
pub struct Sgd<T> {
    /// Learning rate.
    pub lr: f64,
    /// Momentum μ (0 for none).
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 weight decay added to the gradient.
    pub weight_decay: f64,
    velocity: Vec<Tensor<T>>,
}

impl<T: Float> Sgd<T> {
    /// Plain SGD.
    pub fn new(lr: f64) -> Self {
        Sgd {
            lr,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            velocity: Vec::new(),
        }
    }
    /// With momentum.
    pub fn with_momentum(mut self, momentum: f64, nesterov: bool) -> Self {
        self.momentum = momentum;
        self.nesterov = nesterov;
        self
    }
    /// With L2 weight decay.
    pub fn with_weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut Params<T>, grads: &[Tensor<T>]) -> Result<()> {
        check_grads(params, grads)?;
        if self.momentum != 0.0 && self.velocity.len() != grads.len() {
            self.velocity = params.zeros_like();
        }
        let (lr, mu, wd) = (
            T::of(self.lr),
            T::of(self.momentum),
            T::of(self.weight_decay),
        );
        for (i, (p, g)) in params.tensors_mut().iter_mut().zip(grads).enumerate() {
            if self.momentum == 0.0 {
                // Plain slices when both are contiguous (a store's tensors and computed
                // gradients always are): `zip_mut_with` costs more than these few flops.
                match (p.as_slice_mut(), g.as_slice()) {
                    (Some(ps), Some(gs)) if ps.len() == gs.len() && self.weight_decay == 0.0 => {
                        for (w, &g) in ps.iter_mut().zip(gs) {
                            *w -= lr * g;
                        }
                    }
                    (Some(ps), Some(gs)) if ps.len() == gs.len() => {
                        for (w, &g) in ps.iter_mut().zip(gs) {
                            *w -= lr * (g + wd * *w);
                        }
                    }
                    _ if self.weight_decay == 0.0 => p.zip_mut_with(g, |w, &g| *w -= lr * g),
                    _ => p.zip_mut_with(g, |w, &g| *w -= lr * (g + wd * *w)),
                }
                continue;
            }
            let v = &mut self.velocity[i];
            let nesterov = self.nesterov;
            ndarray::Zip::from(p).and(v).and(g).for_each(|w, v, &g| {
                let g = g + wd * *w;
                *v = mu * *v + g;
                let d = if nesterov { g + mu * *v } else { *v };
                *w -= lr * d;
            });
        }
        Ok(())
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
}
