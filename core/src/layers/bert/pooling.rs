//! Sentence pooling as sentence-transformers does it: the mean of the token states over the
//! attention mask, then L2 normalisation.

use crate::float::Float;
use crate::tape::Var;

/// `Σ_t mask_t h_t / max(Σ_t mask_t, 1e-9)`: `h [batch, seq, hidden]`, `mask [batch, seq, 1]`
/// (ones and zeros) → `[batch, hidden]`.
pub fn mean_pool<T: Float>(h: Var<T>, mask: Var<T>) -> Var<T> {
    let summed = (h * mask).sum_axes(&[1], false);
    let count = mask.sum_axes(&[1], false).maximum_scalar(1e-9);
    summed / count
}

/// Each row divided by `max(‖row‖₂, 1e-12)` (PyTorch's `F.normalize`): `[batch, hidden]`.
pub fn l2_normalize<T: Float>(x: Var<T>) -> Var<T> {
    let last = x.ndim() - 1;
    let norm = x
        .square()
        .sum_axes(&[last], true)
        .sqrt()
        .maximum_scalar(1e-12);
    x / norm
}
