//! Losses and similarities, composed from primitive ops (so differentiable to any order).

use crate::float::Float;
use crate::ops::index::one_hot;
use crate::tape::{Op, Var};

/// Mean squared error `mean((pred − target)²)`; `target` broadcasts to `pred`'s shape.
///
/// Equal shapes (the usual case) run as one op, whose backward `2(pred − target)/n` is
/// written in the same differentiable ops; other shapes compose subtract, square and mean.
pub fn mse<T: Float>(pred: Var<T>, target: Var<T>) -> Var<T> {
    let rec = crate::tape::is_grad_enabled();
    let fused = T::with_tape(|s| {
        let (a, b) = (s.node(pred), s.node(target));
        if a.value.shape() != b.value.shape() {
            return None;
        }
        let n = a.value.len();
        let sq = |acc: T, (&x, &y): (&T, &T)| acc + (x - y) * (x - y);
        let sum = match (a.value.as_slice(), b.value.as_slice()) {
            (Some(x), Some(y)) => x.iter().zip(y).fold(T::zero(), sq),
            _ => a.value.iter().zip(b.value.iter()).fold(T::zero(), sq),
        };
        let value = crate::pool::filled(&[], sum * T::of(1.0 / n.max(1) as f64));
        let rg = rec && (a.requires_grad || b.requires_grad);
        let op = if rg {
            Op::Mse(pred.id, target.id)
        } else {
            Op::Const
        };
        Some(s.push(value, op, rg))
    });
    fused.unwrap_or_else(|| (pred - target).square().mean())
}

/// Cross-entropy of `[N, C]` logits against integer labels, averaged over rows.
///
/// # Panics
/// If the number of labels is not `N` or a label is not below `C`.
pub fn cross_entropy<T: Float>(logits: Var<T>, labels: &[usize]) -> Var<T> {
    let s = logits.shape();
    assert!(
        s.len() == 2 && s[0] == labels.len(),
        "shape error in cross_entropy: logits {s:?} with {} labels (expected [N, C] and N labels)",
        labels.len()
    );
    -logits.log_softmax(1).gather(labels).mean()
}

/// Cross-entropy of `[N, C]` logits against soft targets (rows of probabilities).
pub fn cross_entropy_soft<T: Float>(logits: Var<T>, targets: Var<T>) -> Var<T> {
    let n = logits.shape().first().copied().unwrap_or(1).max(1);
    -(targets * logits.log_softmax(1)).sum() * (1.0 / n as f64)
}

/// Binary cross-entropy on logits, `mean(softplus(x) − x·t)`, stable for large `|x|`.
pub fn binary_cross_entropy_with_logits<T: Float>(logits: Var<T>, targets: Var<T>) -> Var<T> {
    (logits.softplus() - logits * targets).mean()
}

/// Huber loss with threshold `delta`: quadratic within `delta`, linear outside; averaged.
pub fn huber<T: Float>(pred: Var<T>, target: Var<T>, delta: f64) -> Var<T> {
    let d = pred - target;
    let dt = T::of(delta);
    let mask = d.with_value(|v| v.mapv(|x| if x.abs() <= dt { T::one() } else { T::zero() }));
    let quad = d.square() * 0.5;
    let lin = (d.abs() - 0.5 * delta) * delta;
    Var::where_mask(mask, quad, lin).mean()
}

/// Cosine similarity of every row of `a` `[N, D]` with every row of `b` `[M, D]`: `[N, M]`.
///
/// Norms are floored at `eps` so zero rows give 0, not NaN.
pub fn pairwise_cosine_similarity<T: Float>(a: Var<T>, b: Var<T>, eps: f64) -> Var<T> {
    let an = a / a.square().sum_axes(&[1], true).sqrt().maximum_scalar(eps);
    let bn = b / b.square().sum_axes(&[1], true).sqrt().maximum_scalar(eps);
    an.matmul_nt(bn)
}

/// Cosine similarity of matching rows of `a` and `b` (`[N, D]` each): `[N]`.
pub fn cosine_similarity<T: Float>(a: Var<T>, b: Var<T>, eps: f64) -> Var<T> {
    let dot = (a * b).sum_axes(&[1], false);
    let na = a.square().sum_axes(&[1], false).sqrt().maximum_scalar(eps);
    let nb = b.square().sum_axes(&[1], false).sqrt().maximum_scalar(eps);
    dot / (na * nb)
}

/// Squared Euclidean distance of every row of `a` `[N, D]` to every row of `b` `[M, D]`:
/// `[N, M]`, as `|a|² + |b|² − 2ab`.
pub fn pairwise_sq_distance<T: Float>(a: Var<T>, b: Var<T>) -> Var<T> {
    let aa = a.square().sum_axes(&[1], true); // [N, 1]
    let bb = b.square().sum_axes(&[1], true).t(); // [1, M]
    aa + bb - a.matmul_nt(b) * 2.0
}

/// Fraction of rows of `[N, C]` logits whose argmax equals the label.
pub fn accuracy<T: Float>(logits: Var<T>, labels: &[usize]) -> f64 {
    let pred = logits.argmax(1);
    let hits = pred.iter().zip(labels).filter(|(p, l)| *p == *l).count();
    hits as f64 / labels.len().max(1) as f64
}

/// One-hot `[N, C]` constant for integer labels.
pub fn one_hot_var<T: Float>(labels: &[usize], classes: usize) -> Var<T> {
    Var::constant(one_hot(labels, classes))
}
