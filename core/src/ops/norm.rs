//! Batch and layer normalisation, composed from reductions and arithmetic.

use serde::{Deserialize, Serialize};

use crate::float::Float;
use crate::tape::Var;
use crate::Tensor;

/// Running statistics of a batch-norm layer (kept outside the tape; not trained).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BatchNormStats<T> {
    /// Running mean per channel.
    pub mean: Vec<T>,
    /// Running (unbiased) variance per channel.
    pub var: Vec<T>,
}

impl<T: Float> BatchNormStats<T> {
    /// Fresh statistics: mean 0, variance 1.
    pub fn new(channels: usize) -> Self {
        BatchNormStats {
            mean: vec![T::zero(); channels],
            var: vec![T::one(); channels],
        }
    }
}

/// How a batch-norm call normalises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchNormMode {
    /// Normalise with batch statistics and update the running ones.
    Train,
    /// Normalise with batch statistics, leave the running ones (transductive, as MAML does).
    BatchStats,
    /// Normalise with the running statistics.
    Eval,
}

/// Batch normalisation over every axis but axis 1 (channels): `[N, C]` or `[N, C, H, W]`.
///
/// `gamma` and `beta` have shape `[C]`.
pub fn batch_norm<T: Float>(
    x: Var<T>,
    gamma: Var<T>,
    beta: Var<T>,
    stats: Option<&mut BatchNormStats<T>>,
    mode: BatchNormMode,
    momentum: f64,
    eps: f64,
) -> Var<T> {
    let shape = x.shape();
    assert!(
        shape.len() >= 2,
        "shape error in batch_norm: expected [N, C, …], got {shape:?}"
    );
    let c = shape[1];
    let mut bshape = vec![1; shape.len()];
    bshape[1] = c;
    let axes: Vec<usize> = (0..shape.len()).filter(|&a| a != 1).collect();
    let g = gamma.reshape(&bshape);
    let b = beta.reshape(&bshape);
    match (mode, stats) {
        (BatchNormMode::Eval, Some(st)) => {
            let mean = Var::constant(to_tensor(&st.mean, &bshape));
            let var = Var::constant(to_tensor(&st.var, &bshape));
            (x - mean) * (g / (var + eps).sqrt()) + b
        }
        (mode, stats) => {
            let mean = x.mean_axes(&axes, true);
            let centred = x - mean;
            let var = centred.square().mean_axes(&axes, true);
            if let (BatchNormMode::Train, Some(st)) = (mode, stats) {
                let n: usize = axes.iter().map(|&a| shape[a]).product();
                let unbias = if n > 1 {
                    n as f64 / (n - 1) as f64
                } else {
                    1.0
                };
                let m = T::of(momentum);
                mean.with_value(|mv| {
                    for (r, &v) in st.mean.iter_mut().zip(mv.iter()) {
                        *r = (T::one() - m) * *r + m * v;
                    }
                });
                var.with_value(|vv| {
                    for (r, &v) in st.var.iter_mut().zip(vv.iter()) {
                        *r = (T::one() - m) * *r + m * v * T::of(unbias);
                    }
                });
            }
            // γ/σ per channel first: one full-size multiply instead of a divide and a
            // multiply (the divide's backward alone is four full-size ops).
            centred * (g / (var + eps).sqrt()) + b
        }
    }
}

/// Layer normalisation over the last axis, with `gamma` and `beta` of that axis' length.
pub fn layer_norm<T: Float>(x: Var<T>, gamma: Var<T>, beta: Var<T>, eps: f64) -> Var<T> {
    let last = x.ndim() - 1;
    let mean = x.mean_axes(&[last], true);
    let centred = x - mean;
    let var = centred.square().mean_axes(&[last], true);
    centred / (var + eps).sqrt() * gamma + beta
}

fn to_tensor<T: Float>(v: &[T], shape: &[usize]) -> Tensor<T> {
    crate::ops::from_vec(shape, v.to_vec())
}
