//! Adam and AdamW (decoupled weight decay).

use serde::{Deserialize, Serialize};

use super::{check_grads, GradSource, Optimizer};
use crate::error::Result;
use crate::float::Float;
use crate::ops::wide;
use crate::params::Params;
use crate::tape::Var;
use crate::Tensor;

/// Adam (Kingma and Ba), with L2 (`weight_decay`) or decoupled (AdamW) decay.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(bound = "T: Float")]
pub struct Adam<T> {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay β₁.
    pub beta1: f64,
    /// Second-moment decay β₂.
    pub beta2: f64,
    /// Denominator floor ε.
    pub eps: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// Decay the weights directly (AdamW) instead of adding to the gradient.
    pub decoupled: bool,
    /// Per-tensor multipliers of `lr` (PyTorch's parameter groups), in the store's order;
    /// tensors past the end of the list use 1.
    #[serde(default)]
    pub lr_scales: Vec<f64>,
    t: u64,
    m: Vec<Tensor<T>>,
    v: Vec<Tensor<T>>,
}

impl<T: Float> Adam<T> {
    /// Adam with β = (0.9, 0.999), ε = 1e-8.
    pub fn new(lr: f64) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            lr_scales: Vec::new(),
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }
    /// AdamW with decoupled weight decay.
    pub fn adamw(lr: f64, weight_decay: f64) -> Self {
        Adam {
            weight_decay,
            decoupled: true,
            ..Adam::new(lr)
        }
    }
    /// Multiplies the learning rate (and decoupled decay) of the tensor at `index` by
    /// `scale`, for a part of the model that should move slower or faster than the rest.
    pub fn set_lr_scale(&mut self, index: usize, scale: f64) {
        if self.lr_scales.len() <= index {
            self.lr_scales.resize(index + 1, 1.0);
        }
        self.lr_scales[index] = scale;
    }
    /// The learning-rate multiplier of the tensor at `index`.
    pub fn lr_scale(&self, index: usize) -> f64 {
        self.lr_scales.get(index).copied().unwrap_or(1.0)
    }
    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }
}

impl<T: Float> Adam<T> {
    /// The update from any gradient source (tensors, or variables read in place).
    fn apply<G: GradSource<T> + ?Sized>(
        &mut self,
        params: &mut Params<T>,
        grads: &G,
    ) -> Result<()> {
        check_grads(params, grads)?;
        if self.m.len() != grads.count() {
            self.m = params.zeros_like();
            self.v = params.zeros_like();
        }
        self.t += 1;
        let t = self.t as i32;
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = 1.0 - b1.powi(t);
        let c2 = 1.0 - b2.powi(t);
        let c2s = T::of(c2.sqrt());
        let (b1t, b2t, eps) = (T::of(b1), T::of(b2), T::of(self.eps));
        let one = T::one();
        let wd = T::of(self.weight_decay);
        let decoupled = self.decoupled;
        // Moments this small no longer move a weight (|m|/(√v + ε) with ε = 1e-8), but as
        // subnormals they make every later multiply ~100x slower: flush them to zero.
        let tiny = T::of(1e-30);
        let scales = &self.lr_scales;
        for (i, (p, (m, v))) in params
            .tensors_mut()
            .iter_mut()
            .zip(self.m.iter_mut().zip(self.v.iter_mut()))
            .enumerate()
        {
            let lr = self.lr * scales.get(i).copied().unwrap_or(1.0);
            let step = T::of(lr / c1);
            let lr_wd = T::of(lr * self.weight_decay);
            let update = |w: &mut T, g: T, m: &mut T, v: &mut T| {
                let g = if decoupled {
                    *w -= lr_wd * *w;
                    g
                } else {
                    g + wd * *w
                };
                *m = b1t * *m + (one - b1t) * g;
                *v = b2t * *v + (one - b2t) * g * g;
                if m.abs() < tiny {
                    *m = T::zero();
                }
                if *v < tiny {
                    *v = T::zero();
                }
                *w -= step * *m / (v.sqrt() / c2s + eps);
            };
            // Plain slices when every buffer is contiguous (always, for a store's tensors):
            // a Zip over dynamic-rank arrays costs several times the arithmetic. The loop is
            // compiled for the CPU's widest vectors (element-wise, so the same bits).
            grads.with(i, |g| {
                match (
                    p.as_slice_mut(),
                    g.as_slice(),
                    m.as_slice_mut(),
                    v.as_slice_mut(),
                ) {
                    (Some(ps), Some(gs), Some(ms), Some(vs)) => wide::run(
                        #[inline(always)]
                        move || {
                            for (((w, &g), m), v) in ps.iter_mut().zip(gs).zip(ms).zip(vs) {
                                update(w, g, m, v);
                            }
                        },
                    ),
                    _ => ndarray::Zip::from(&mut *p)
                        .and(g)
                        .and(&mut *m)
                        .and(&mut *v)
                        .for_each(|w, &g, m, v| update(w, g, m, v)),
                }
            });
        }
        Ok(())
    }
}

impl<T: Float> Optimizer<T> for Adam<T> {
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
