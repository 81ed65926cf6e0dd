//! Every differentiable op: autodiff against central finite differences in f64, over random
//! shapes (broadcasting included) and values, off kinks. Uses the public gradcheck API.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cloned_ref_to_slice_refs
)]

use autodidact_core::ndarray::{ArrayD, IxDyn};
use autodidact_core::testing::strategies::*;
use autodidact_core::testing::{gradcheck, GradcheckOptions};
use autodidact_core::*;
use proptest::prelude::*;

fn opts() -> GradcheckOptions {
    GradcheckOptions::default()
}

fn cfg() -> ProptestConfig {
    ProptestConfig::with_cases(24)
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn add_sub_mul_broadcast((a, b) in arb_broadcast_pair(3, 4).prop_flat_map(|(sa, sb)| (arb_tensor_with_shape(sa, -2.0..2.0), arb_tensor_with_shape(sb, -2.0..2.0)))) {
        gradcheck("add", |v| v[0] + v[1], &[a.clone(), b.clone()], &opts())?;
        gradcheck("sub", |v| v[0] - v[1], &[a.clone(), b.clone()], &opts())?;
        gradcheck("mul", |v| v[0] * v[1], &[a, b], &opts())?;
    }

    #[test]
    fn div_broadcast((a, b) in arb_broadcast_pair(3, 4).prop_flat_map(|(sa, sb)| (arb_tensor_with_shape(sa, -2.0..2.0), arb_positive_tensor(sb, 0.5, 2.0)))) {
        gradcheck("div", |v| v[0] / v[1], &[a, b], &opts())?;
    }

    #[test]
    fn scalar_ops(x in arb_tensor(3, 4, -2.0..2.0)) {
        gradcheck("neg", |v| -v[0], &[x.clone()], &opts())?;
        gradcheck("add_scalar", |v| v[0] + 1.5, &[x.clone()], &opts())?;
        gradcheck("mul_scalar", |v| v[0] * -2.5, &[x.clone()], &opts())?;
        gradcheck("square", |v| v[0].square(), &[x.clone()], &opts())?;
        gradcheck("sin", |v| v[0].sin(), &[x.clone()], &opts())?;
        gradcheck("cos", |v| v[0].cos(), &[x.clone()], &opts())?;
        gradcheck("tanh", |v| v[0].tanh(), &[x.clone()], &opts())?;
        gradcheck("sigmoid", |v| v[0].sigmoid(), &[x.clone()], &opts())?;
        gradcheck("exp", |v| v[0].exp(), &[x.clone()], &opts())?;
        gradcheck("softplus", |v| v[0].softplus(), &[x.clone()], &opts())?;
        gradcheck("erf", |v| v[0].erf(), &[x.clone()], &opts())?;
        gradcheck("gelu", |v| v[0].gelu(), &[x], &opts())?;
    }

    #[test]
    fn positive_domain(x in arb_shape(3, 4).prop_flat_map(|s| arb_positive_tensor(s, 0.3, 3.0))) {
        gradcheck("log", |v| v[0].log(), &[x.clone()], &opts())?;
        gradcheck("sqrt", |v| v[0].sqrt(), &[x.clone()], &opts())?;
        gradcheck("powf", |v| v[0].powf(1.7), &[x.clone()], &opts())?;
        gradcheck("recip", |v| v[0].recip(), &[x], &opts())?;
    }

    #[test]
    fn kinked_activations(x in arb_shape(3, 4).prop_flat_map(|s| arb_tensor_off_kinks(s, -2.0..2.0, vec![0.0], 1e-3))) {
        gradcheck("relu", |v| v[0].relu(), &[x.clone()], &opts())?;
        gradcheck("abs", |v| v[0].abs(), &[x.clone()], &opts())?;
        gradcheck("leaky_relu", |v| v[0].leaky_relu(0.1), &[x.clone()], &opts())?;
        gradcheck("elu", |v| v[0].elu(1.0), &[x.clone()], &opts())?;
        gradcheck("clamp", |v| v[0].clamp(-10.0, 10.0), &[x], &opts())?;
    }

    #[test]
    fn matmul_2d(n in 1usize..5, k in 1usize..5, m in 1usize..5, seed in any::<u64>()) {
        let a = arb_value(&[n, k], seed);
        let b = arb_value(&[k, m], seed ^ 1);
        gradcheck("matmul", |v| v[0].matmul(v[1]), &[a, b], &opts())?;
    }

    #[test]
    fn matmul_batched(bt in 1usize..4, n in 1usize..4, k in 1usize..4, m in 1usize..4, seed in any::<u64>()) {
        let a = arb_value(&[bt, n, k], seed);
        let b = arb_value(&[bt, k, m], seed ^ 1);
        let b2 = arb_value(&[k, m], seed ^ 2);
        let a2 = arb_value(&[n, k], seed ^ 3);
        gradcheck("matmul batched", |v| v[0].matmul(v[1]), &[a.clone(), b.clone()], &opts())?;
        gradcheck("matmul [B,n,k]@[k,m]", |v| v[0].matmul(v[1]), &[a, b2], &opts())?;
        gradcheck("matmul [n,k]@[B,k,m]", |v| v[0].matmul(v[1]), &[a2, b], &opts())?;
    }

    #[test]
    fn affine_rows(bt in 1usize..3, n in 1usize..4, k in 1usize..4, m in 1usize..4, seed in any::<u64>()) {
        let x = arb_value(&[n, k], seed);
        let x3 = arb_value(&[bt, n, k], seed ^ 1);
        let w = arb_value(&[k, m], seed ^ 2);
        let b = arb_value(&[m], seed ^ 3);
        let b_row = arb_value(&[1, m], seed ^ 4);
        let b_full = arb_value(&[n, m], seed ^ 5);
        for (name, x, b) in [
            ("affine [n,k] + [m]", x.clone(), b.clone()),
            ("affine [n,k] + [1,m]", x.clone(), b_row),
            ("affine [B,n,k] + [m]", x3, b),
            ("affine [n,k] + [n,m] (composed)", x, b_full),
        ] {
            gradcheck(name, |v| v[0].affine(v[1], v[2]), &[x.clone(), w.clone(), b.clone()], &opts())?;
            // The same values as the composed product and sum.
            let _t = Tape::<f64>::new();
            let (vx, vw, vb) = (Var::constant(x), Var::constant(w.clone()), Var::constant(b));
            let fused = vx.affine(vw, vb).value();
            let composed = (vx.matmul(vw) + vb).value();
            prop_assert_eq!(fused.shape(), composed.shape());
            for (p, q) in fused.iter().zip(composed.iter()) {
                prop_assert!((p - q).abs() < 1e-12, "{}: {} vs {}", name, p, q);
            }
        }
    }

    #[test]
    fn shape_ops(x in arb_tensor_with_shape(vec![2, 3, 4], -2.0..2.0)) {
        gradcheck("permute", |v| v[0].permute(&[2, 0, 1]), &[x.clone()], &opts())?;
        gradcheck("transpose", |v| v[0].transpose(0, 2), &[x.clone()], &opts())?;
        gradcheck("reshape", |v| v[0].reshape(&[4, 6]), &[x.clone()], &opts())?;
        gradcheck("broadcast_to", |v| v[0].broadcast_to(&[5, 2, 3, 4]), &[x.clone()], &opts())?;
        gradcheck("sum_to_shape", |v| v[0].sum_to_shape(&[1, 3, 1]), &[x.clone()], &opts())?;
        gradcheck("narrow", |v| v[0].narrow(2, 1, 2), &[x.clone()], &opts())?;
        gradcheck("pad_axis", |v| v[0].pad_axis(1, 2, 6), &[x.clone()], &opts())?;
        gradcheck("concat", |v| Var::concat(&[v[0], v[0].narrow(1, 0, 2) * 2.0], 1), &[x.clone()], &opts())?;
        gradcheck("stack", |v| Var::stack(&[v[0], v[0].sin()], 1), &[x], &opts())?;
    }

    #[test]
    fn reductions(x in arb_tensor_with_shape(vec![3, 4, 2], -2.0..2.0)) {
        gradcheck("sum", |v| v[0].sum(), &[x.clone()], &opts())?;
        gradcheck("sum_axes", |v| v[0].sum_axes(&[0, 2], false), &[x.clone()], &opts())?;
        gradcheck("sum_axes keepdim", |v| v[0].sum_axes(&[1], true), &[x.clone()], &opts())?;
        gradcheck("mean", |v| v[0].mean(), &[x.clone()], &opts())?;
        gradcheck("mean_axes", |v| v[0].mean_axes(&[1], false), &[x.clone()], &opts())?;
        gradcheck("var_axes", |v| v[0].var_axes(&[0], false), &[x.clone()], &opts())?;
        gradcheck("logsumexp", |v| v[0].logsumexp(1, false), &[x.clone()], &opts())?;
        gradcheck("softmax", |v| v[0].softmax(1), &[x.clone()], &opts())?;
        gradcheck("log_softmax", |v| v[0].log_softmax(2), &[x], &opts())?;
    }

    #[test]
    fn max_min(x in arb_distinct_tensor(vec![3, 4], 0.05)) {
        gradcheck("max_axis", |v| v[0].max_axis(1, false), &[x.clone()], &opts())?;
        gradcheck("min_axis", |v| v[0].min_axis(0, true), &[x], &opts())?;
    }

    #[test]
    fn indexing(x in arb_tensor_with_shape(vec![4, 3], -2.0..2.0), rows in arb_labels(5, 4), cols in arb_labels(4, 3)) {
        gradcheck("index_select", |v| v[0].index_select(&rows), &[x.clone()], &opts())?;
        gradcheck("index_add", |v| v[0].index_select(&rows).index_add(&rows, 6), &[x.clone()], &opts())?;
        gradcheck("gather", |v| v[0].gather(&cols), &[x.clone()], &opts())?;
        gradcheck("scatter", |v| v[0].gather(&cols).scatter(&cols, 5), &[x.clone()], &opts())?;
        let mask = x.mapv(|e| if e > 0.0 { 1.0 } else { 0.0 });
        gradcheck("where", |v| Var::where_mask(mask.clone(), v[0].sin(), v[0] * 3.0), &[x], &opts())?;
    }

    #[test]
    fn losses(logits in arb_tensor_with_shape(vec![4, 3], -2.0..2.0), labels in arb_labels(4, 3), t in arb_tensor_with_shape(vec![4, 3], 0.0..1.0)) {
        gradcheck("mse", |v| mse(v[0], v[1]), &[logits.clone(), t.clone()], &opts())?;
        // A broadcast target takes the composed path; both equal mean((a − b)²).
        let row = t.index_axis(ndarray::Axis(0), 0).to_owned().into_dyn();
        gradcheck("mse broadcast", |v| mse(v[0], v[1]), &[logits.clone(), row.clone()], &opts())?;
        {
            let _tape = Tape::<f64>::new();
            let (a, b, r) = (Var::constant(logits.clone()), Var::constant(t.clone()), Var::constant(row));
            let by_hand = |d: Var<f64>| d.with_value(|v| v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64);
            prop_assert!((mse(a, b).item() - by_hand(a - b)).abs() < 1e-12);
            prop_assert!((mse(a, r).item() - by_hand(a - r)).abs() < 1e-12);
        }
        gradcheck("cross_entropy", |v| cross_entropy(v[0], &labels), &[logits.clone()], &opts())?;
        gradcheck("cross_entropy_soft", |v| cross_entropy_soft(v[0], v[1].softmax(1)), &[logits.clone(), t.clone()], &opts())?;
        gradcheck("bce_with_logits", |v| binary_cross_entropy_with_logits(v[0], v[1]), &[logits.clone(), t.clone()], &opts())?;
        gradcheck("pairwise_cosine", |v| pairwise_cosine_similarity(v[0], v[1], 1e-8), &[logits.clone(), t.clone()], &opts())?;
        gradcheck("cosine_similarity", |v| cosine_similarity(v[0], v[1], 1e-8), &[logits.clone(), t.clone()], &opts())?;
        gradcheck("pairwise_sq_distance", |v| pairwise_sq_distance(v[0], v[1]), &[logits, t], &opts())?;
    }

    #[test]
    fn huber_off_kinks(d in arb_tensor_off_kinks(vec![6], -3.0..3.0, vec![-1.0, 1.0], 1e-3)) {
        let zero = ArrayD::zeros(IxDyn(&[6]));
        gradcheck("huber", |v| huber(v[0], v[1], 1.0), &[d, zero], &opts())?;
    }

    #[test]
    fn conv_and_pool(seed in any::<u64>(), stride in 1usize..3, pad in 0usize..2) {
        let x = arb_value(&[2, 2, 5, 5], seed);
        let w = arb_value(&[3, 2, 3, 3], seed ^ 1);
        let b = arb_value(&[3], seed ^ 2);
        gradcheck("conv2d", |v| v[0].conv2d(v[1], Some(v[2]), stride, pad), &[x.clone(), w, b], &opts())?;
        let geom = ConvGeom { channels: 2, height: 5, width: 5, kernel: (2, 3), stride: (stride, 1), padding: (pad, 1) };
        gradcheck("unfold", |v| v[0].unfold(geom), &[x.clone()], &opts())?;
        let cols = arb_value(&[2, geom.patch_len(), geom.out_hw().0 * geom.out_hw().1], seed ^ 3);
        gradcheck("fold", |v| v[0].fold(geom), &[cols], &opts())?;
        gradcheck("avg_pool2d", |v| v[0].avg_pool2d(2, 2), &[x], &opts())?;
    }

    #[test]
    fn max_pool(x in arb_distinct_tensor(vec![1, 2, 4, 4], 0.05)) {
        gradcheck("max_pool2d", |v| v[0].max_pool2d(2, 2), &[x], &opts())?;
    }

    #[test]
    fn norms(x in arb_tensor_with_shape(vec![4, 3, 2, 2], -2.0..2.0), g in arb_tensor_with_shape(vec![3], 0.5..1.5), b in arb_tensor_with_shape(vec![3], -1.0..1.0)) {
        gradcheck("batch_norm", |v| batch_norm(v[0], v[1], v[2], None, BatchNormMode::BatchStats, 0.1, 1e-5), &[x.clone(), g.clone(), b.clone()], &opts())?;
        let x2 = x.into_shape_with_order(IxDyn(&[4, 4, 3])).unwrap();
        gradcheck("layer_norm", |v| layer_norm(v[0], v[1], v[2], 1e-5), &[x2, g, b], &opts())?;
    }
}

/// Deterministic pseudo-random values in [-1.5, 1.5] for a shape (for strategies over sizes).
fn arb_value(shape: &[usize], seed: u64) -> ArrayD<f64> {
    use rand::{Rng as _, SeedableRng};
    let mut rng = autodidact_core::Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.random_range(-1.5..1.5)).collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

#[test]
fn batch_norm_eval_uses_running_stats() {
    let _t = Tape::<f64>::new();
    let x = Var::constant(
        ArrayD::from_shape_vec(IxDyn(&[4, 2]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
            .unwrap(),
    );
    let g = Var::constant(ArrayD::ones(IxDyn(&[2])));
    let b = Var::constant(ArrayD::zeros(IxDyn(&[2])));
    let mut st = BatchNormStats::<f64>::new(2);
    batch_norm(x, g, b, Some(&mut st), BatchNormMode::Train, 1.0, 0.0);
    // momentum 1: running stats equal the batch's mean and unbiased variance.
    assert!((st.mean[0] - 4.0).abs() < 1e-12 && (st.mean[1] - 5.0).abs() < 1e-12);
    assert!((st.var[0] - 20.0 / 3.0).abs() < 1e-12);
    let y = batch_norm(x, g, b, Some(&mut st), BatchNormMode::Eval, 0.1, 0.0).value();
    assert!((y[[0, 0]] - (1.0 - 4.0) / (20.0f64 / 3.0).sqrt()).abs() < 1e-12);
}

#[test]
fn lstm_cell_gradient() {
    let mut params = Params::<f64>::new();
    let mut rng = Seed(3).rng("init");
    let cell = LstmCell::new(&mut params, "lstm", 3, 2, &mut rng);
    let x = arb_value(&[2, 3], 1);
    let h = arb_value(&[2, 2], 2);
    let c = arb_value(&[2, 2], 3);
    let mut inputs = params.tensors().to_vec();
    inputs.extend([x, h, c]);
    gradcheck(
        "lstm_cell",
        |v| {
            let (h2, c2) = cell.forward(&v[..3], v[3], v[4], v[5]);
            h2 + c2
        },
        &inputs,
        &opts(),
    )
    .unwrap();
}

/// First order through two GRU steps (the second reads the first's state), with respect to
/// every weight, both biases, the inputs and the initial state.
#[test]
fn gru_cell_gradient() {
    let mut params = Params::<f64>::new();
    let mut rng = Seed(4).rng("init");
    let cell = GruCell::new(&mut params, "gru", 3, 2, &mut rng);
    let mut inputs = params.tensors().to_vec();
    inputs.extend([
        arb_value(&[2, 3], 4),
        arb_value(&[2, 3], 5),
        arb_value(&[2, 2], 6),
    ]);
    gradcheck(
        "gru_cell",
        |v| {
            let hs = cell.unroll(&v[..4], &[v[4], v[5]], v[6]);
            hs[0] * 0.5 + hs[1]
        },
        &inputs,
        &opts(),
    )
    .unwrap();
}

/// The cell computes PyTorch's `GRUCell` equations: an independent scalar loop over the same
/// weights (`r`, `z`, `n` in that order, `b_hn` inside the reset product).
#[test]
fn gru_cell_matches_its_equations() {
    let mut params = Params::<f64>::new();
    let cell = GruCell::new(&mut params, "gru", 3, 4, &mut Seed(9).rng("init"));
    let x = arb_value(&[2, 3], 7);
    let h = arb_value(&[2, 4], 8);
    let t = params.tensors().to_vec();
    let (w_ih, w_hh, b_ih, b_hh) = (&t[cell.w_ih], &t[cell.w_hh], &t[cell.b_ih], &t[cell.b_hh]);
    let got = {
        let _tape = Tape::<f64>::new();
        let p: Vec<Var<f64>> = t.iter().map(|a| Var::constant(a.clone())).collect();
        cell.forward(&p, Var::constant(x.clone()), Var::constant(h.clone()))
            .value()
    };
    let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
    let k = 4;
    for b in 0..2 {
        let gate = |g: usize, j: usize| -> (f64, f64) {
            let col = g * k + j;
            let gi = (0..3).map(|i| x[[b, i]] * w_ih[[i, col]]).sum::<f64>() + b_ih[[col]];
            let gh = (0..k).map(|i| h[[b, i]] * w_hh[[i, col]]).sum::<f64>() + b_hh[[col]];
            (gi, gh)
        };
        for j in 0..k {
            let (ri, rh) = gate(0, j);
            let (zi, zh) = gate(1, j);
            let (ni, nh) = gate(2, j);
            let r = sigmoid(ri + rh);
            let z = sigmoid(zi + zh);
            let n = (ni + r * nh).tanh();
            let want = (1.0 - z) * n + z * h[[b, j]];
            assert!(
                (got[[b, j]] - want).abs() < 1e-12,
                "row {b} unit {j}: {} vs {want}",
                got[[b, j]]
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The merged-run broadcast, reduction and broadcasting arithmetic agree with ndarray's own.
    #[test]
    fn fast_broadcast_kernels_agree_with_ndarray((a, b) in arb_broadcast_pair(4, 4).prop_flat_map(|(sa, sb)| (arb_tensor_with_shape(sa, -2.0..2.0), arb_tensor_with_shape(sb, -2.0..2.0)))) {
        let _t = Tape::<f64>::new();
        let (va, vb) = (Var::constant(a.clone()), Var::constant(b.clone()));
        let want_sum = &a + &b;
        prop_assert_eq!((va + vb).value(), want_sum.clone());
        prop_assert_eq!((va * vb).value(), &a * &b);
        let big = want_sum.shape().to_vec();
        for (x, vx) in [(&a, va), (&b, vb)] {
            let broadcast = vx.broadcast_to(&big).value();
            prop_assert_eq!(&broadcast, &x.broadcast(IxDyn(&big)).unwrap().to_owned());
            // Summing back: reference by ndarray's sum_axis over the broadcast axes.
            let summed = Var::constant(want_sum.clone()).sum_to_shape(x.shape()).value();
            let mut reference = want_sum.clone();
            while reference.ndim() > x.ndim() {
                reference = reference.sum_axis(ndarray::Axis(0));
            }
            for (ax, &d) in x.shape().iter().enumerate() {
                if d == 1 && reference.shape()[ax] != 1 {
                    reference = reference.sum_axis(ndarray::Axis(ax)).insert_axis(ndarray::Axis(ax));
                }
            }
            for (p, q) in summed.iter().zip(reference.iter()) {
                prop_assert!((p - q).abs() < 1e-9);
            }
        }
    }
}

use autodidact_core::ndarray;
