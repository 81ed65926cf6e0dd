//! Convolution and pooling values against direct loops (the definitions), over random
//! shapes, strides and paddings: gradients are checked elsewhere, these check the numbers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::ndarray::{ArrayD, IxDyn};
use autodidact_core::*;
use proptest::prelude::*;

fn tensor(shape: &[usize], seed: u64) -> ArrayD<f64> {
    // A small deterministic generator: distinct, non-round values.
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    })
}

/// PyTorch's conv2d (cross-correlation) by its definition.
fn direct_conv(
    x: &ArrayD<f64>,
    w: &ArrayD<f64>,
    b: &[f64],
    stride: usize,
    pad: usize,
) -> ArrayD<f64> {
    let (n, c, h, wd) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (o, kh, kw) = (w.shape()[0], w.shape()[2], w.shape()[3]);
    let ho = (h + 2 * pad - kh) / stride + 1;
    let wo = (wd + 2 * pad - kw) / stride + 1;
    ArrayD::from_shape_fn(IxDyn(&[n, o, ho, wo]), |ix| {
        let (bi, oi, y, xx) = (ix[0], ix[1], ix[2], ix[3]);
        let mut acc = b[oi];
        for ci in 0..c {
            for i in 0..kh {
                for j in 0..kw {
                    let yy = (y * stride + i) as isize - pad as isize;
                    let xj = (xx * stride + j) as isize - pad as isize;
                    if yy >= 0 && xj >= 0 && (yy as usize) < h && (xj as usize) < wd {
                        acc += x[[bi, ci, yy as usize, xj as usize]] * w[[oi, ci, i, j]];
                    }
                }
            }
        }
        acc
    })
}

fn direct_pool(x: &ArrayD<f64>, k: usize, stride: usize, max: bool) -> ArrayD<f64> {
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (ho, wo) = ((h - k) / stride + 1, (w - k) / stride + 1);
    ArrayD::from_shape_fn(IxDyn(&[n, c, ho, wo]), |ix| {
        let mut vals = vec![];
        for i in 0..k {
            for j in 0..k {
                vals.push(x[[ix[0], ix[1], ix[2] * stride + i, ix[3] * stride + j]]);
            }
        }
        if max {
            vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        } else {
            vals.iter().sum::<f64>() / vals.len() as f64
        }
    })
}

fn close(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn conv2d_equals_its_definition(
        seed in any::<u64>(), n in 1usize..3, c in 1usize..4, o in 1usize..4,
        h in 3usize..9, w in 3usize..9, k in 1usize..4, stride in 1usize..4, pad in 0usize..3,
    ) {
        prop_assume!(h + 2 * pad >= k && w + 2 * pad >= k);
        let x = tensor(&[n, c, h, w], seed);
        let wt = tensor(&[o, c, k, k], seed ^ 7);
        let b: Vec<f64> = (0..o).map(|i| 0.1 * i as f64 - 0.05).collect();
        let _tape = Tape::<f64>::new();
        let y = Var::constant(x.clone()).conv2d(
            Var::constant(wt.clone()),
            Some(Var::constant(ArrayD::from_shape_vec(IxDyn(&[o]), b.clone()).unwrap())),
            stride,
            pad,
        );
        prop_assert!(close(&y.value(), &direct_conv(&x, &wt, &b, stride, pad)));
    }

    #[test]
    fn pooling_equals_its_definition(
        seed in any::<u64>(), h in 2usize..10, w in 2usize..10, k in 1usize..4, stride in 1usize..4,
    ) {
        prop_assume!(h >= k && w >= k);
        let x = tensor(&[2, 3, h, w], seed);
        let _tape = Tape::<f64>::new();
        let v = Var::constant(x.clone());
        prop_assert!(close(&v.max_pool2d(k, stride).value(), &direct_pool(&x, k, stride, true)));
        prop_assert!(close(&v.avg_pool2d(k, stride).value(), &direct_pool(&x, k, stride, false)));
    }
}
