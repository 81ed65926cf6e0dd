//! Stochastic gradient descent with momentum, Nesterov momentum and weight decay.

use serde::{Deserialize, Serialize};

use super::{check_grads, GradSource, Optimizer};
use crate::error::Result;
use crate::float::Float;
use crate::ops::wide;
use crate::params::Params;
use crate::tape::Var;
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

impl<T: Float> Sgd<T> {
    /// The update from any gradient source (tensors, or variables read in place).
    fn apply<G: GradSource<T> + ?Sized>(
        &mut self,
        params: &mut Params<T>,
        grads: &G,
    ) -> Result<()> {
        check_grads(params, grads)?;
        if self.momentum != 0.0 && self.velocity.len() != grads.count() {
            self.velocity = params.zeros_like();
        }
        let (lr, mu, wd) = (
            T::of(self.lr),
            T::of(self.momentum),
            T::of(self.weight_decay),
        );
        let (plain, decay, nesterov) = (
            self.momentum == 0.0,
            self.weight_decay != 0.0,
            self.nesterov,
        );
        for (i, p) in params.tensors_mut().iter_mut().enumerate() {
            let velocity = if plain {
                None
            } else {
                self.velocity.get_mut(i)
            };
            grads.with(i, |g| {
                let Some(v) = velocity else {
                    // Plain slices when both are contiguous (a store's tensors and computed
                    // gradients always are): `zip_mut_with` costs more than these few flops.
                    // The loops compiled for the CPU's widest vectors (element-wise, so the
                    // same bits).
                    match (p.as_slice_mut(), g.as_slice()) {
                        (Some(ps), Some(gs)) if ps.len() == gs.len() && !decay => wide::run(
                            #[inline(always)]
                            move || {
                                for (w, &g) in ps.iter_mut().zip(gs) {
                                    *w -= lr * g;
                                }
                            },
                        ),
                        (Some(ps), Some(gs)) if ps.len() == gs.len() => wide::run(
                            #[inline(always)]
                            move || {
                                for (w, &g) in ps.iter_mut().zip(gs) {
                                    *w -= lr * (g + wd * *w);
                                }
                            },
                        ),
                        _ if !decay => p.zip_mut_with(g, |w, &g| *w -= lr * g),
                        _ => p.zip_mut_with(g, |w, &g| *w -= lr * (g + wd * *w)),
                    }
                    return;
                };
                ndarray::Zip::from(&mut *p)
                    .and(v)
                    .and(g)
                    .for_each(|w, v, &g| {
                        let g = g + wd * *w;
                        *v = mu * *v + g;
                        let d = if nesterov { g + mu * *v } else { *v };
                        *w -= lr * d;
                    });
            });
        }
        Ok(())
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut Params<T>, grads: &[Tensor<T>]) -> Result<()> {
        self.apply(params, grads)
    }
    fn step_vars(&mut self, params: &mut Params<T>, grads: &[Var<T>]) -> Result<()> {
        self.apply(params, grads)
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
}
