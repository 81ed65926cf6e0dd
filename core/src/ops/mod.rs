//! Differentiable ops on [`Var`](crate::Var): each file holds one family's forward kernels and
//! methods; every backward rule lives in `backward.rs`, written with these same ops.
//!
//! Primitives (with a hand-written backward rule) are few; everything else (softmax, losses,
//! norms, pooling, conv2d, cosine similarity) is composed from them, so its gradient comes for
//! free at any order.

pub mod conv;
pub mod elementwise;
pub mod index;
pub mod losses;
pub mod matmul;
pub mod norm;
pub(crate) mod panels;
pub(crate) mod pieces;
pub mod reduce;
pub mod shape;
pub(crate) mod strided;
pub(crate) mod wide;

use ndarray::{ArrayD, IxDyn};

/// Builds an array from a shape and a vector whose length is known to match.
pub(crate) fn from_vec<T: Clone>(shape: &[usize], data: Vec<T>) -> ArrayD<T> {
    match ArrayD::from_shape_vec(IxDyn(shape), data) {
        Ok(a) => a,
        Err(e) => panic!("autodidact internal error: buffer does not fit shape {shape:?}: {e}"),
    }
}

/// The broadcast shape of two shapes (NumPy rules), or a panic naming the op and both shapes.
pub(crate) fn broadcast_shape(op: &str, a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            panic!("shape error in {op}: shapes {a:?} and {b:?} do not broadcast");
        };
    }
    out
}

/// Panics with the op's name and both shapes.
pub(crate) fn shape_panic(op: &str, a: &[usize], b: &[usize], what: &str) -> ! {
    panic!("shape error in {op}: {what} (shapes {a:?} and {b:?})")
}
