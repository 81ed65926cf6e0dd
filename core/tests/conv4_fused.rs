//! Conv4's fused f32 blocks (`Conv4::forward`) against its composition of core ops
//! (`Conv4::forward_composed`): outputs, first-order gradients, batch-norm running statistics,
//! and second-order gradients (which differentiate the composition).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::layers::{Conv4, Conv4Config};
use autodidact_core::{grad, no_grad, BatchNormMode, CreateGraph, Params, Seed, Tape, Tensor, Var};
use rand::Rng as _;

fn setup(size: usize) -> (Conv4, Params<f32>, Tensor<f32>) {
    setup_wide(size, 2, 5)
}

/// A Conv4 of `filters` filters on 6 images of `channels × size × size`.
fn setup_wide(size: usize, channels: usize, filters: usize) -> (Conv4, Params<f32>, Tensor<f32>) {
    let mut params = Params::new();
    let cfg = Conv4Config {
        in_channels: channels,
        filters,
        input_size: size,
        blocks: 4,
    };
    let conv = Conv4::new(&mut params, "body", cfg, &mut Seed(3).rng("init"));
    // Non-trivial γ and β so every batch-norm term matters.
    let mut rng = Seed(4).rng("x");
    let mut tensors = params.tensors().to_vec();
    for t in tensors.iter_mut() {
        t.mapv_inplace(|v| v + 0.3 * (rng.random::<f32>() - 0.5));
    }
    params.assign(tensors).unwrap();
    let x = Tensor::from_shape_fn(ndarray::IxDyn(&[6, channels, size, size]), |_| {
        rng.random::<f32>()
    });
    (conv, params, x)
}

fn close(a: &Tensor<f32>, b: &Tensor<f32>, tol: f32, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}");
    let scale = b.iter().fold(0.05f32, |m, v| m.max(v.abs()));
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}: {x} vs {y} (scale {scale})"
        );
    }
}

#[test]
fn fused_forward_and_gradients_match_core_in_every_mode() {
    match_core(2, 5);
}

/// With 16 channels and more, blocks on maps of 6 × 6 and larger convolve in the Winograd
/// domain (forward, input and weight gradients): on 16 × 16 inputs the first two blocks, on
/// 19 × 19 the first two too, the second on an odd 9 × 9 map.
#[test]
fn fused_winograd_blocks_match_core_in_every_mode() {
    match_core(16, 16);
}

fn match_core(channels: usize, filters: usize) {
    for size in [16, 19] {
        let (conv, params, x) = setup_wide(size, channels, filters);
        for mode in [
            BatchNormMode::Train,
            BatchNormMode::Eval,
            BatchNormMode::BatchStats,
        ] {
            let mut st_ref = conv.new_stats::<f32>();
            let mut st_fused = conv.new_stats::<f32>();
            // Non-trivial running statistics for Eval.
            for (a, b) in st_ref.iter_mut().zip(st_fused.iter_mut()) {
                for (i, (m, v)) in a.mean.iter_mut().zip(a.var.iter_mut()).enumerate() {
                    *m = 0.1 * i as f32;
                    *v = 0.5 + 0.2 * i as f32;
                }
                b.clone_from(a);
            }
            let tape = Tape::<f32>::new();
            let p = tape.params(&params);
            let xv = Var::leaf(x.clone());
            let r = conv.forward_composed(&p, xv, mode, Some(&mut st_ref));
            let f = conv.forward(&p, xv, mode, Some(&mut st_fused));
            close(&f.value(), &r.value(), 1e-4, "output");
            // A loss that weighs every output differently.
            let w = Var::constant(Tensor::from_shape_fn(r.value().raw_dim(), |d| {
                (d[0] * 7 + d[1] * 3) as f32 * 0.1 - 0.5
            }));
            let mut wrt = p.clone();
            wrt.push(xv);
            let gr = grad(&[(r * w).sum()], &wrt, CreateGraph::No);
            let gf = grad(&[(f * w).sum()], &wrt, CreateGraph::No);
            for (i, (a, b)) in gf.iter().zip(&gr).enumerate() {
                close(
                    &a.value(),
                    &b.value(),
                    2e-3,
                    &format!("gradient {i} in {mode:?}"),
                );
            }
            for (a, b) in st_fused.iter().zip(&st_ref) {
                for (x, y) in a.mean.iter().zip(&b.mean).chain(a.var.iter().zip(&b.var)) {
                    assert!(
                        (x - y).abs() < 1e-4,
                        "running stats in {mode:?}: {x} vs {y}"
                    );
                }
            }
        }
    }
}

#[test]
fn fused_blocks_differentiate_to_any_order() {
    let (conv, params, x) = setup(16);
    let tape = Tape::<f32>::new();
    let p = tape.params(&params);
    let xv = Var::constant(x);
    let mut st = conv.new_stats::<f32>();
    let loss_r = conv
        .forward_composed(&p, xv, BatchNormMode::BatchStats, None)
        .square()
        .sum();
    let loss_f = conv
        .forward(&p, xv, BatchNormMode::BatchStats, Some(&mut st))
        .square()
        .sum();
    let w = p[conv.blocks[1].weight];
    // d/dw of |∂L/∂w|², through the recorded gradient.
    let second = |loss: Var<f32>| {
        let g = grad(&[loss], &[w], CreateGraph::Yes)[0];
        grad(&[g.square().sum()], &[w], CreateGraph::No)[0].value()
    };
    let a = second(loss_f);
    let b = second(loss_r);
    close(&a, &b, 2e-3, "second-order gradient");
    assert!(b.iter().any(|v| v.abs() > 0.0));
    // And a third order: the recorded gradient's own gradient, recorded again.
    let third = |loss: Var<f32>| {
        let g = grad(&[loss], &[w], CreateGraph::Yes)[0];
        let gg = grad(&[g.square().sum()], &[w], CreateGraph::Yes)[0];
        grad(&[gg.sum()], &[w], CreateGraph::No)[0].value()
    };
    let a = third(loss_f);
    let b = third(loss_r);
    close(&a, &b, 5e-3, "third-order gradient");
    assert!(b.iter().any(|v| v.abs() > 0.0));
}

#[test]
fn f32_forward_is_one_op_per_block_and_f64_composes() {
    let (conv, params, x) = setup(16);
    let nodes = |run: &dyn Fn(&[Var<f32>], Var<f32>)| {
        let tape = Tape::<f32>::new();
        let p = tape.params(&params);
        let xv = Var::constant(x.clone());
        let before = tape.len();
        run(&p, xv);
        tape.len() - before
    };
    let fused = nodes(&|p, xv| {
        conv.forward(p, xv, BatchNormMode::BatchStats, None);
    });
    let composed = nodes(&|p, xv| {
        conv.forward_composed(p, xv, BatchNormMode::BatchStats, None);
    });
    // One custom node per block and the flatten.
    assert_eq!(fused, conv.blocks.len() + 1);
    assert!(composed > 4 * fused, "{composed} vs {fused}");
    // f64 (gradient checks) runs the composition: the same values bit for bit.
    let params64 = params.cast::<f64>();
    let tape = Tape::<f64>::new();
    let p = tape.params(&params64);
    let xv = Var::constant(x.mapv(f64::from));
    let before = tape.len();
    let a = conv.forward(&p, xv, BatchNormMode::BatchStats, None);
    assert_eq!(tape.len() - before, composed);
    let b = conv.forward_composed(&p, xv, BatchNormMode::BatchStats, None);
    assert_eq!(a.value(), b.value());
}

#[test]
fn fused_forward_without_recording_matches() {
    let (conv, params, x) = setup(19);
    let tape = Tape::<f32>::new();
    let p = tape.params(&params);
    let xv = Var::constant(x);
    let mut st = conv.new_stats::<f32>();
    for s in st.iter_mut() {
        s.mean.iter_mut().for_each(|m| *m = 0.2);
        s.var.iter_mut().for_each(|v| *v = 1.5);
    }
    for mode in [BatchNormMode::Eval, BatchNormMode::BatchStats] {
        let f = no_grad(|| conv.forward(&p, xv, mode, Some(&mut st)));
        let r = no_grad(|| conv.forward_composed(&p, xv, mode, Some(&mut st)));
        close(
            &f.value(),
            &r.value(),
            1e-4,
            &format!("{mode:?} under no_grad"),
        );
    }
}

#[test]
#[should_panic(expected = "shape error in max_pool2d")]
fn maps_too_small_to_pool_are_refused_as_by_the_composition() {
    // 8 → 4 → 2 → 1: the last block's 1×1 map cannot be pooled.
    let (conv, params, x) = setup(8);
    let tape = Tape::<f32>::new();
    let p = tape.params(&params);
    conv.forward(&p, Var::constant(x), BatchNormMode::BatchStats, None);
}
