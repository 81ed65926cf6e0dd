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
                let (mv, vv) = (mean.value(), var.value());
                update_running(st, mv.iter().copied(), vv.iter().copied(), n, momentum);
            }
            // γ/σ per channel first: one full-size multiply instead of a divide and a
            // multiply (the divide's backward alone is four full-size ops).
            centred * (g / (var + eps).sqrt()) + b
        }
    }
}

/// Moves running statistics toward a batch's per-channel mean and biased variance over `n`
/// values (the variance is kept unbiased). Shared with the fused Conv4 blocks, so both paths
/// update the statistics with the same arithmetic.
pub(crate) fn update_running<T: Float>(
    st: &mut BatchNormStats<T>,
    mean: impl Iterator<Item = T>,
    var: impl Iterator<Item = T>,
    n: usize,
    momentum: f64,
) {
    let unbias = if n > 1 {
        n as f64 / (n - 1) as f64
    } else {
        1.0
    };
    let m = T::of(momentum);
    for (r, v) in st.mean.iter_mut().zip(mean) {
        *r = (T::one() - m) * *r + m * v;
    }
    for (r, v) in st.var.iter_mut().zip(var) {
        *r = (T::one() - m) * *r + m * v * T::of(unbias);
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
