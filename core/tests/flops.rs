//! The FLOP meter counts every matrix product's multiply-adds — plain, batched, broadcast,
//! transposed, in backward passes, and inside the fused Conv4 blocks — and nothing while off.
//! One test in this binary, so no other test's products run while the meter is on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::layers::{Conv4, Conv4Config};
use autodidact_core::ndarray::{ArrayD, IxDyn};
use autodidact_core::{flops, grad, BatchNormMode, CreateGraph, Params, Seed, Tape, Var};

fn ones(shape: &[usize]) -> ArrayD<f32> {
    ArrayD::from_elem(IxDyn(shape), 0.5)
}

/// Multiply-adds of a 3×3 same-padded convolution layer, forward, on `n` images `c → f`
/// channels of `s × s`.
fn conv_macs(n: u64, c: u64, f: u64, s: u64) -> u64 {
    n * s * s * c * 9 * f
}

#[test]
fn the_meter_counts_every_product_and_only_while_on() {
    let (n, k, m) = (5usize, 7usize, 3usize);
    let _tape = Tape::<f32>::new();
    let x = Var::leaf(ones(&[n, k]));
    let w = Var::leaf(ones(&[k, m]));
    let b = Var::leaf(ones(&[m]));

    // Off: nothing counted, and a fresh meter starts from zero.
    let _ = x.matmul(w);
    assert_eq!(flops::Meter::start().stop(), 0);

    // Forward: one n·k·m product each; matmul_nt reads the transpose through strides.
    let meter = flops::Meter::start();
    let y = x.matmul(w);
    let _ = x.affine(w, b);
    let _ = y.matmul_nt(w);
    assert_eq!(meter.stop(), (3 * n * k * m) as u64);

    // Backward of y = x @ w: dx = gy @ wᵀ and dw = xᵀ @ gy, n·k·m each.
    let meter = flops::Meter::start();
    let _ = grad(&[y.sum()], &[x, w], CreateGraph::No);
    assert_eq!(meter.stop(), (2 * n * k * m) as u64);

    // Batched [B, n, k] @ [B, k, m] and broadcast [B, n, k] @ [k, m].
    let xb = Var::leaf(ones(&[4, n, k]));
    let wb = Var::leaf(ones(&[4, k, m]));
    let meter = flops::Meter::start();
    let _ = xb.matmul(wb);
    let _ = xb.matmul(w);
    assert_eq!(meter.stop(), (2 * 4 * n * k * m) as u64);

    // The fused Conv4 forward on f32: each block's 3×3 convolution, same padding, 2×2 pooling.
    // The first block (one input channel) does not keep its convolution's output: with batch
    // statistics it computes it once for the statistics and again for the pooling pass, and
    // the meter counts the products done, so that block's twice.
    let mut params = Params::<f32>::new();
    let cfg = Conv4Config {
        in_channels: 1,
        filters: 8,
        input_size: 16,
        blocks: 3,
    };
    let conv = Conv4::new(&mut params, "body", cfg, &mut Seed(1).rng("init"));
    let tape = Tape::<f32>::new();
    let p = tape.params(&params);
    let images = Var::leaf(ones(&[6, 1, 16, 16]));
    let meter = flops::Meter::start();
    let _ = conv.forward(&p, images, BatchNormMode::Train, None);
    let expected = 2 * conv_macs(6, 1, 8, 16) + conv_macs(6, 8, 8, 8) + conv_macs(6, 8, 8, 4);
    assert_eq!(meter.stop(), expected);
}
