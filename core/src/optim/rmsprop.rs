//! RMSprop (Hinton), with optional momentum.

use serde::{Deserialize, Serialize};

use super::{check_grads, Optimizer};
use crate::error::Result;
use crate::float::Float;
use crate::params::Params;
use crate::Tensor;

/// RMSprop: `s ← αs + (1−α)g²`, `w ← w − lr · g / (√s + ε)` (with momentum on that step).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(bound = "T: Float")]
pub struct RmsProp<T> {
    /// Learning rate.
    pub lr: f64,
    /// Smoothing α.
    pub alpha: f64,
    /// Denominator floor ε.
    pub eps: f64,
    /// Momentum (0 for none).
    pub momentum: f64,
    square_avg: Vec<Tensor<T>>,
    buf: Vec<Tensor<T>>,
}

impl<T: Float> RmsProp<T> {
    /// RMSprop with α = 0.99, ε = 1e-8 (PyTorch's defaults).
    pub fn new(lr: f64) -> Self {
        RmsProp {
            lr,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            square_avg: Vec::new(),
            buf: Vec::new(),
        }
    }
}

impl<T: Float> Optimizer<T> for RmsProp<T> {
    fn step(&mut self, params: &mut Params<T>, grads: &[Tensor<T>]) -> Result<()> {
        check_grads(params, grads)?;
        if self.square_avg.len() != grads.len() {
            self.square_avg = params.zeros_like();
            self.buf = params.zeros_like();
        }
        let (lr, a, eps, mu) = (
            T::of(self.lr),
            T::of(self.alpha),
            T::of(self.eps),
            T::of(self.momentum),
        );
        let one = T::one();
        let use_mom = self.momentum != 0.0;
        for ((p, g), (s, b)) in params
            .tensors_mut()
            .iter_mut()
            .zip(grads)
            .zip(self.square_avg.iter_mut().zip(self.buf.iter_mut()))
        {
            ndarray::Zip::from(p)
                .and(g)
                .and(s)
                .and(b)
                .for_each(|w, &g, s, b| {
                    *s = a * *s + (one - a) * g * g;
                    let d = g / (s.sqrt() + eps);
                    if use_mom {
                        *b = mu * *b + d;
                        *w -= lr * *b;
                    } else {
                        *w -= lr * d;
                    }
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
