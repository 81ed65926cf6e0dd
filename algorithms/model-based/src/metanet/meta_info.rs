//! MetaNet's meta information: the loss gradients of single support examples (or chunks of
//! them), and the log-and-sign preprocessing that puts their wildly varying magnitudes on one
//! scale before a generator reads them.

use autodidact_core::{one_hot, CreateGraph, Float, Tensor, Var};
use ndarray::IxDyn;

/// Per-example gradients of a linear layer's weight `[in, out]`: `x_i ⊗ δ_i` for every row,
/// flattened to `[N, in · out]` in the weight's row-major order.
pub fn outer_rows<T: Float>(x: Var<T>, delta: Var<T>) -> Var<T> {
    let (n, a) = (x.shape()[0], x.shape()[1]);
    let b = delta.shape()[1];
    (x.unsqueeze(2) * delta.unsqueeze(1)).reshape(&[n, a * b])
}

/// The gradients of each example's own loss with respect to the two weights of a head
/// `z = relu(h W₁ + b₁) W₂ + b₂` (`pre` = h W₁ + b₁, `act` its ReLU, `w2` = W₂), as
/// `[N, |W₁| + |W₂|]` rows.
///
/// The head's backward pass written out with differentiable ops: `δz = softmax(z) − onehot(y)`,
/// `δpre = (δz W₂ᵀ) ⊙ [pre > 0]`, and each weight's gradient the outer product of its input
/// row with its output's δ. Written out, it is one batched pass for all N examples (the head
/// acts row by row) and it is defined whether or not anything upstream records. With
/// `CreateGraph::Yes` the result is a function of the slow weights that the autodiff
/// differentiates again (the second-order path); with `No` it is a constant input.
pub fn head_gradients<T: Float>(
    h: Var<T>,
    pre: Var<T>,
    act: Var<T>,
    logits: Var<T>,
    w2: Var<T>,
    labels: &[usize],
    create: CreateGraph,
) -> Var<T> {
    let detach = |v: Var<T>| match create {
        CreateGraph::Yes => v,
        CreateGraph::No => Var::constant(v.value()),
    };
    let (h, pre, act, logits, w2) = (
        detach(h),
        detach(pre),
        detach(act),
        detach(logits),
        detach(w2),
    );
    let classes = logits.shape()[1];
    let d_logits = logits.softmax(1) - Var::constant(one_hot::<T>(labels, classes));
    let active = pre.with_value(|v| v.mapv(|x| if x > T::zero() { T::one() } else { T::zero() }));
    let d_pre = d_logits.matmul_nt(w2) * Var::constant(active);
    Var::concat(&[outer_rows(h, d_pre), outer_rows(act, d_logits)], 1)
}

/// Gradients of the mean loss of `chunks` consecutive groups of rows: `[chunks, P]` from
/// per-example `[N, P]` (a group's loss is the mean of its examples', so its gradient too).
pub fn chunk_means<T: Float>(per_example: Var<T>, chunks: usize) -> Var<T> {
    let n = per_example.shape()[0];
    let chunks = chunks.clamp(1, n.max(1));
    let mut a = Tensor::<T>::zeros(IxDyn(&[chunks, n]));
    for c in 0..chunks {
        let (lo, hi) = (c * n / chunks, (c + 1) * n / chunks);
        for i in lo..hi {
            a[[c, i]] = T::of(1.0 / (hi - lo) as f64);
        }
    }
    Var::constant(a).matmul(per_example)
}

/// Andrychowicz et al.'s preprocessing, as MetaNet's code applies it: a gradient value g
/// becomes `(ln|g| / p, sign g)` if `|g| ≥ e^−p`, else `(−1, e^p g)`; `[…]` → `[count, 2]`.
///
/// Differentiable in g on both branches (the sign is locally constant), so the second-order
/// path runs through it.
pub fn log_and_sign<T: Float>(g: Var<T>, p: f64) -> Var<T> {
    let n: usize = g.shape().iter().product();
    let g = g.reshape(&[n, 1]);
    let floor = (-p).exp();
    let (mask, sign) = g.with_value(|v| {
        (
            v.mapv(|x| {
                if x.abs() >= T::of(floor) {
                    T::one()
                } else {
                    T::zero()
                }
            }),
            v.mapv(|x| if x < T::zero() { -T::one() } else { T::one() }),
        )
    });
    // Floored before the log so the unused branch never holds −∞ (its gradient would be NaN).
    let log = g.abs().maximum_scalar(floor).log() * (1.0 / p);
    let minus_one = Var::constant(Tensor::from_elem(IxDyn(&[n, 1]), -T::one()));
    let first = Var::where_mask(mask.clone(), log, minus_one);
    let second = Var::where_mask(mask, Var::constant(sign), g * p.exp());
    Var::concat(&[first, second], 1)
}
