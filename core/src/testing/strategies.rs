//! `proptest` strategies for tensors: shapes (with broadcastable pairs), bounded values, values
//! kept off an op's kinks, positive values, well-separated values (no ties for max) and labels.

use std::ops::Range;

use proptest::collection::vec;
use proptest::prelude::*;

use crate::Tensor;

/// A shape of rank `1..=max_rank` with each dimension in `1..=max_dim`.
pub fn arb_shape(max_rank: usize, max_dim: usize) -> impl Strategy<Value = Vec<usize>> {
    vec(1..=max_dim.max(1), 1..=max_rank.max(1))
}

/// Two shapes that broadcast together (NumPy rules): the second drops leading axes and sets
/// some axes to 1.
pub fn arb_broadcast_pair(
    max_rank: usize,
    max_dim: usize,
) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    arb_shape(max_rank, max_dim)
        .prop_flat_map(|a| {
            let n = a.len();
            (Just(a), 0..=n, vec(any::<bool>(), n), any::<bool>())
        })
        .prop_map(|(a, drop, ones, swap)| {
            let b: Vec<usize> = a[drop.min(a.len() - 1)..]
                .iter()
                .zip(&ones)
                .map(|(&d, &one)| if one { 1 } else { d })
                .collect();
            if swap {
                (b, a)
            } else {
                (a, b)
            }
        })
}

/// A tensor of the given shape with values in `range`.
pub fn arb_tensor_with_shape(
    shape: Vec<usize>,
    range: Range<f64>,
) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    vec(range, n).prop_map(move |v| crate::ops::from_vec(&shape, v))
}

/// A tensor of random shape (rank ≤ `max_rank`, dims ≤ `max_dim`) with values in `range`.
pub fn arb_tensor(
    max_rank: usize,
    max_dim: usize,
    range: Range<f64>,
) -> impl Strategy<Value = Tensor<f64>> {
    arb_shape(max_rank, max_dim).prop_flat_map(move |s| arb_tensor_with_shape(s, range.clone()))
}

/// A tensor whose values keep at least `margin` away from every point in `kinks` (ReLU at 0,
/// `abs` at 0, Huber at ±δ), so finite differences never straddle a kink.
pub fn arb_tensor_off_kinks(
    shape: Vec<usize>,
    range: Range<f64>,
    kinks: Vec<f64>,
    margin: f64,
) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    vec(range.clone(), n).prop_map(move |v| {
        let v: Vec<f64> = v
            .into_iter()
            .map(|mut x| {
                for &k in &kinks {
                    if (x - k).abs() < margin {
                        x = if x >= k { k + margin } else { k - margin };
                    }
                }
                x
            })
            .collect();
        crate::ops::from_vec(&shape, v)
    })
}

/// A tensor of strictly positive values in `lo..hi` (`lo > 0`), for `log` and `sqrt`.
pub fn arb_positive_tensor(
    shape: Vec<usize>,
    lo: f64,
    hi: f64,
) -> impl Strategy<Value = Tensor<f64>> {
    arb_tensor_with_shape(shape, lo.max(f64::MIN_POSITIVE)..hi)
}

/// A tensor whose values are pairwise at least `gap` apart (no ties for max/min): a shuffled
/// ladder with jitter.
pub fn arb_distinct_tensor(shape: Vec<usize>, gap: f64) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    (
        Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
        vec(0.0..gap * 0.4, n),
    )
        .prop_map(move |(perm, jit)| {
            let v: Vec<f64> = perm
                .iter()
                .zip(&jit)
                .map(|(&k, &j)| (k as f64 - n as f64 / 2.0) * gap + j)
                .collect();
            crate::ops::from_vec(&shape, v)
        })
}

/// `n` integer labels in `0..classes`.
pub fn arb_labels(n: usize, classes: usize) -> impl Strategy<Value = Vec<usize>> {
    vec(0..classes.max(1), n)
}
