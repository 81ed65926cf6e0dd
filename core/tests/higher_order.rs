//! Second and third order: Hessian-vector products against finite differences of gradients on
//! compositions (conv2d, batch norm, softmax + cross-entropy, LSTM and GRU cells), third derivatives
//! against closed forms, and MAML's meta-gradient on linear regression against its closed form.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cloned_ref_to_slice_refs
)]

use autodidact_core::ndarray::{arr1, Array1, Array2, ArrayD, IxDyn};
use autodidact_core::testing::{check_meta_gradient, gradgradcheck, GradcheckOptions};
use autodidact_core::*;
use rand::{Rng as _, SeedableRng};

fn rand_tensor(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut rng = Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect(),
    )
    .unwrap()
}

fn opts() -> GradcheckOptions {
    GradcheckOptions {
        eps: 1e-5,
        atol: 1e-6,
        rtol: 1e-4,
        max_elements: None,
    }
}

#[test]
fn hvp_elementwise_and_matmul() {
    let x = rand_tensor(&[3, 4], 1);
    let w = rand_tensor(&[4, 2], 2);
    gradgradcheck(
        "tanh(x@w)",
        |v| v[0].matmul(v[1]).tanh(),
        &[x.clone(), w.clone()],
        &opts(),
    )
    .unwrap();
    gradgradcheck(
        "sigmoid*exp",
        |v| v[0].sigmoid() * v[0].exp(),
        &[x.clone()],
        &opts(),
    )
    .unwrap();
    gradgradcheck("log-sum-exp", |v| v[0].logsumexp(1, false), &[x], &opts()).unwrap();
}

#[test]
fn hvp_erf_and_gelu() {
    let x = rand_tensor(&[3, 4], 5).mapv(|v| 2.5 * v);
    let w = rand_tensor(&[4, 3], 6);
    gradgradcheck("erf", |v| v[0].erf(), &[x.clone()], &opts()).unwrap();
    gradgradcheck("gelu", |v| v[0].gelu(), &[x.clone()], &opts()).unwrap();
    gradgradcheck(
        "gelu(x@w)*x@w",
        |v| {
            let h = v[0].matmul(v[1]);
            h.gelu() * h
        },
        &[x, w],
        &opts(),
    )
    .unwrap();
}

/// erf against published values (Abramowitz and Stegun, table 7.1, and the closed forms at
/// 0 and ±∞), f64 to 1e-15 and f32 to an ulp; GELU's fused no-grad path equals the composed
/// one bit for bit in f64 and within 6e-7 relative in f32; the third derivative of erf matches its closed form
/// `2/√π · (4x² − 2) e^(−x²)`.
#[test]
fn erf_values_fused_gelu_and_third_order() {
    let table = [
        (0.0, 0.0),
        (0.1, 0.112_462_916_018_284_9),
        (0.5, 0.520_499_877_813_046_5),
        (1.0, 0.842_700_792_949_714_9),
        (1.5, 0.966_105_146_475_310_7),
        (2.0, 0.995_322_265_018_952_7),
        (3.0, 0.999_977_909_503_001_4),
        (-1.0, -0.842_700_792_949_714_9),
        (6.0, 1.0),
        (-30.0, -1.0),
    ];
    let _t64 = Tape::<f64>::new();
    let _t32 = Tape::<f32>::new();
    for (x, want) in table {
        let got = Var::<f64>::constant(arr1(&[x]).into_dyn()).erf().item();
        assert!((got - want).abs() < 1e-15, "erf({x}) = {got}, want {want}");
        let got32 = Var::<f32>::constant(arr1(&[x as f32]).into_dyn())
            .erf()
            .item();
        assert!(
            (got32 - want).abs() <= 2.0 * f64::from(f32::EPSILON) * want.abs().max(1e-3),
            "f32 erf({x}) = {got32}, want {want}"
        );
    }
    // gelu: the composed (recorded) and the fused (constant) paths agree exactly.
    let xs = rand_tensor(&[5, 7], 9).mapv(|v| 4.0 * v);
    let composed = Var::leaf(xs.clone()).gelu().value();
    let fused = no_grad(|| Var::leaf(xs.clone()).gelu().value());
    assert_eq!(composed, fused);
    // In f32 the fused pass uses a vectorisable erf: within 4e-7 · |x| of the composed one
    // (plus the composed one's own rounding).
    let xs32 = xs.mapv(|v| v as f32);
    let composed = Var::leaf(xs32.clone()).gelu().value();
    let fused = Var::<f32>::constant(xs32.clone()).gelu().value();
    for ((c, f), x) in composed.iter().zip(fused.iter()).zip(xs32.iter()) {
        assert!(
            (c - f).abs() <= 6e-7 * x.abs() + 1e-7,
            "gelu({x}): {c} vs {f}"
        );
    }
    // softmax: the fused no-grad pass agrees with the composed exp(x − logsumexp(x)), also
    // with rows holding the additive mask's lowest f32.
    let mut s = rand_tensor(&[3, 4, 6], 12).mapv(|v| 5.0 * v);
    s[[1, 2, 0]] = f64::from(f32::MIN);
    s[[1, 2, 5]] = f64::from(f32::MIN);
    let composed = Var::leaf(s.clone()).softmax(2).value();
    let fused = no_grad(|| Var::leaf(s.clone()).softmax(2).value());
    for (a, b) in composed.iter().zip(fused.iter()) {
        assert!((a - b).abs() < 1e-14, "{a} vs {b}");
    }
    assert_eq!(fused[[1, 2, 0]], 0.0);
    // gelu(1) = 0.5 · (1 + erf(1/√2)) = 0.841344746068543.
    let g1 = Var::<f64>::constant(arr1(&[1.0]).into_dyn()).gelu().item();
    assert!((g1 - 0.841_344_746_068_542_9).abs() < 1e-15, "{g1}");
    for x0 in [-1.3, 0.2, 0.9] {
        let d3 = third_derivative(x0, |x| x.erf());
        let want = std::f64::consts::FRAC_2_SQRT_PI * (4.0 * x0 * x0 - 2.0) * (-x0 * x0).exp();
        assert!((d3 - want).abs() < 1e-10, "erf''' at {x0}: {d3} vs {want}");
    }
}

#[test]
fn hvp_linear_relu_layers() {
    // Two fused linear layers around a ReLU (its backward is the one-op mask, differentiated
    // again here): x [5, 3] → 4 → 2, every input differentiated twice.
    let x = rand_tensor(&[5, 3], 30);
    let w1 = rand_tensor(&[3, 4], 31);
    let b1 = rand_tensor(&[4], 32);
    let w2 = rand_tensor(&[4, 2], 33);
    let b2 = rand_tensor(&[1, 2], 34);
    gradgradcheck(
        "affine-relu-affine",
        |v| {
            let h = v[0].affine(v[1], v[2]).relu();
            h.affine(v[3], v[4]).tanh() * h.sum()
        },
        &[x, w1, b1, w2, b2],
        &opts(),
    )
    .unwrap();
}

#[test]
fn hvp_softmax_cross_entropy() {
    let logits = rand_tensor(&[5, 4], 3);
    let w = rand_tensor(&[4, 4], 4);
    let labels = [0, 3, 1, 2, 3];
    gradgradcheck(
        "cross_entropy(x@w)",
        |v| cross_entropy(v[0].matmul(v[1]), &labels),
        &[logits, w],
        &opts(),
    )
    .unwrap();
}

#[test]
fn hvp_conv_batch_norm() {
    let x = rand_tensor(&[2, 2, 5, 5], 5);
    let k = rand_tensor(&[3, 2, 3, 3], 6);
    let g = rand_tensor(&[3], 7).mapv(|v| v + 1.5);
    let b = rand_tensor(&[3], 8);
    gradgradcheck(
        "tanh(batch_norm(conv2d))",
        |v| {
            let h = v[0].conv2d(v[1], None, 1, 1);
            batch_norm(h, v[2], v[3], None, BatchNormMode::BatchStats, 0.1, 1e-5)
                .tanh()
                .avg_pool2d(2, 2)
        },
        &[x, k, g, b],
        &opts(),
    )
    .unwrap();
}

#[test]
fn hvp_lstm_cell() {
    let mut params = Params::<f64>::new();
    let cell = LstmCell::new(&mut params, "lstm", 3, 2, &mut Seed(1).rng("init"));
    let mut inputs = params.tensors().to_vec();
    inputs.push(rand_tensor(&[2, 3], 9));
    inputs.push(rand_tensor(&[2, 2], 10));
    inputs.push(rand_tensor(&[2, 2], 11));
    gradgradcheck(
        "lstm_cell",
        |v| {
            let (h, c) = cell.forward(&v[..3], v[3], v[4], v[5]);
            let (h2, _) = cell.forward(&v[..3], v[3].sin(), h, c);
            h2
        },
        &inputs,
        &opts(),
    )
    .unwrap();
}

#[test]
fn hvp_gru_cell() {
    let mut params = Params::<f64>::new();
    let cell = GruCell::new(&mut params, "gru", 3, 2, &mut Seed(2).rng("init"));
    let mut inputs = params.tensors().to_vec();
    inputs.push(rand_tensor(&[2, 3], 12));
    inputs.push(rand_tensor(&[2, 2], 13));
    gradgradcheck(
        "gru_cell",
        |v| {
            let h = cell.forward(&v[..4], v[4], v[5]);
            cell.forward(&v[..4], v[4].sin(), h)
        },
        &inputs,
        &opts(),
    )
    .unwrap();
}

/// d³/dx³ of a scalar function by three nested `grad` calls.
fn third_derivative(x0: f64, f: impl Fn(Var<f64>) -> Var<f64>) -> f64 {
    let _t = Tape::<f64>::new();
    let x = Var::leaf(arr1(&[x0]).into_dyn());
    let y = f(x).sum();
    let d1 = grad(&[y], &[x], CreateGraph::Yes)[0];
    let d2 = grad(&[d1.sum()], &[x], CreateGraph::Yes)[0];
    let d3 = grad(&[d2.sum()], &[x], CreateGraph::No)[0];
    d3.item()
}

#[test]
fn third_order_closed_forms() {
    for &x in &[-1.3, -0.2, 0.4, 1.1] {
        let t = f64::tanh(x);
        let want = (1.0 - t * t) * (6.0 * t * t - 2.0);
        assert!(
            (third_derivative(x, |v| v.tanh()) - want).abs() < 1e-10,
            "tanh''' at {x}"
        );
        assert!(
            (third_derivative(x, |v| v.sin()) + x.cos()).abs() < 1e-12,
            "sin''' at {x}"
        );
        assert!(
            (third_derivative(x, |v| v.exp()) - x.exp()).abs() < 1e-12,
            "exp''' at {x}"
        );
        let s = 1.0 / (1.0 + (-x).exp());
        let want_sig = s * (1.0 - s) * (1.0 - 6.0 * s + 6.0 * s * s);
        assert!(
            (third_derivative(x, |v| v.sigmoid()) - want_sig).abs() < 1e-10,
            "sigmoid''' at {x}"
        );
    }
    for &x in &[0.5, 1.7] {
        let p = 3.5;
        let want = p * (p - 1.0) * (p - 2.0) * f64::powf(x, p - 3.0);
        assert!(
            (third_derivative(x, |v| v.powf(p)) - want).abs() < 1e-9,
            "pow''' at {x}"
        );
        assert!(
            (third_derivative(x, |v| v.log()) - 2.0 / (x * x * x)).abs() < 1e-9,
            "log''' at {x}"
        );
    }
}

#[test]
fn fourth_order_is_available() {
    // d⁴/dx⁴ sin = sin: any order works.
    let _t = Tape::<f64>::new();
    let x = Var::leaf(arr1(&[0.7]).into_dyn());
    let mut d = x.sin().sum();
    for _ in 0..4 {
        d = grad(&[d], &[x], CreateGraph::Yes)[0].sum();
    }
    assert!((d.item() - 0.7f64.sin()).abs() < 1e-12);
}

/// Linear-regression data: X [n, d], y [n].
struct Lin {
    xs: Array2<f64>,
    ys: Array1<f64>,
    xq: Array2<f64>,
    yq: Array1<f64>,
}

fn lin_task(seed: u64) -> Lin {
    let mut rng = Rng::seed_from_u64(seed);
    let mut m = |r, c| Array2::from_shape_fn((r, c), |_| rng.random_range(-1.0..1.0));
    let xs = m(6, 3);
    let xq = m(5, 3);
    let ys = m(6, 1).column(0).to_owned();
    let yq = m(5, 1).column(0).to_owned();
    Lin { xs, ys, xq, yq }
}

/// A = (2/n) XᵀX, b = (2/n) Xᵀy: ∇ mean((Xw − y)²) = A w − b.
fn ab(x: &Array2<f64>, y: &Array1<f64>) -> (Array2<f64>, Array1<f64>) {
    let n = x.nrows() as f64;
    (x.t().dot(x) * (2.0 / n), x.t().dot(y) * (2.0 / n))
}

fn maml_loss(w: Var<f64>, task: &Lin, alpha: f64, steps: usize, order: CreateGraph) -> Var<f64> {
    let xs = Var::constant(task.xs.clone().into_dyn());
    let ys = Var::constant(task.ys.clone().insert_axis(ndarray::Axis(1)).into_dyn());
    let xq = Var::constant(task.xq.clone().into_dyn());
    let yq = Var::constant(task.yq.clone().insert_axis(ndarray::Axis(1)).into_dyn());
    let mut fast = w;
    for _ in 0..steps {
        let l = mse(xs.matmul(fast), ys);
        let g = grad(&[l], &[fast], order)[0];
        fast = fast - g * alpha;
    }
    mse(xq.matmul(fast), yq)
}

use autodidact_core::ndarray;

#[test]
fn maml_meta_gradient_matches_closed_form() {
    let task = lin_task(42);
    let alpha = 0.1;
    let w0 = Array1::from(vec![0.3, -0.2, 0.5]);
    let (a_s, b_s) = ab(&task.xs, &task.ys);
    let (a_q, b_q) = ab(&task.xq, &task.yq);
    let m = Array2::eye(3) - &a_s * alpha;
    for steps in [1usize, 3] {
        // Closed form: w_k = M w_{k−1} + α b_s; meta-gradient = (Mᵀ)^k (A_q w_k − b_q).
        let mut w = w0.clone();
        for _ in 0..steps {
            w = m.dot(&w) + &b_s * alpha;
        }
        let mut expect = a_q.dot(&w) - &b_q;
        let first_order = expect.clone();
        for _ in 0..steps {
            expect = m.t().dot(&expect);
        }
        let _t = Tape::<f64>::new();
        let wv = Var::leaf(w0.clone().insert_axis(ndarray::Axis(1)).into_dyn());
        let l = maml_loss(wv, &task, alpha, steps, CreateGraph::Yes);
        let g = grad(&[l], &[wv], CreateGraph::No)[0].value();
        for i in 0..3 {
            assert!(
                (g[[i, 0]] - expect[i]).abs() < 1e-12,
                "second-order, {steps} steps, coordinate {i}: {} vs {}",
                g[[i, 0]],
                expect[i]
            );
        }
        // First-order MAML drops the (Mᵀ)^k factor: its meta-gradient is ∇L_Q at the adapted
        // weights, and differs from the true one exactly by that factor.
        let lf = maml_loss(wv, &task, alpha, steps, CreateGraph::No);
        let gf = grad(&[lf], &[wv], CreateGraph::No)[0].value();
        for i in 0..3 {
            assert!(
                (gf[[i, 0]] - first_order[i]).abs() < 1e-12,
                "first-order, {steps} steps"
            );
        }
        let diff: f64 = (0..3).map(|i| (gf[[i, 0]] - g[[i, 0]]).abs()).sum();
        assert!(
            diff > 1e-4,
            "first-order must differ from the full meta-gradient"
        );
    }
}

#[test]
fn maml_meta_gradient_matches_finite_differences_on_mlp() {
    let mut params = Params::<f64>::new();
    let mlp = Mlp::new(
        &mut params,
        "net",
        &[1, 5, 1],
        Activation::Tanh,
        Init::XavierUniform,
        &mut Seed(5).rng("init"),
    );
    let xs = rand_tensor(&[4, 1], 20);
    let ys = rand_tensor(&[4, 1], 21);
    let xq = rand_tensor(&[4, 1], 22);
    let yq = rand_tensor(&[4, 1], 23);
    check_meta_gradient(
        "maml-2-steps",
        |theta| {
            let (xs, ys) = (Var::constant(xs.clone()), Var::constant(ys.clone()));
            let mut fast = theta.to_vec();
            for _ in 0..2 {
                let l = mse(mlp.forward(&fast, xs), ys);
                let g = grad(&[l], &fast, CreateGraph::Yes);
                fast = sgd_step(&fast, &g, 0.3);
            }
            mse(
                mlp.forward(&fast, Var::constant(xq.clone())),
                Var::constant(yq.clone()),
            )
        },
        params.tensors(),
        &opts(),
    )
    .unwrap();
}

#[test]
fn f32_and_f64_agree() {
    let mut p64 = Params::<f64>::new();
    let mlp = Mlp::new(
        &mut p64,
        "net",
        &[3, 8, 2],
        Activation::Tanh,
        Init::XavierUniform,
        &mut Seed(9).rng("init"),
    );
    let p32: Params<f32> = p64.cast();
    let x = rand_tensor(&[5, 3], 30);
    let labels = [0, 1, 1, 0, 1];
    let g64: Vec<ArrayD<f64>> = {
        let t = Tape::<f64>::new();
        let v = t.params(&p64);
        let l = cross_entropy(mlp.forward(&v, Var::constant(x.clone())), &labels);
        grad(&[l], &v, CreateGraph::No)
            .iter()
            .map(|g| g.value())
            .collect()
    };
    let g32: Vec<ArrayD<f32>> = {
        let t = Tape::<f32>::new();
        let v = t.params(&p32);
        let l = cross_entropy(
            mlp.forward(&v, Var::constant(x.mapv(|e| e as f32))),
            &labels,
        );
        grad(&[l], &v, CreateGraph::No)
            .iter()
            .map(|g| g.value())
            .collect()
    };
    for (a, b) in g64.iter().zip(&g32) {
        for (x, y) in a.iter().zip(b.iter()) {
            assert!((x - *y as f64).abs() <= 1e-5 + 1e-4 * x.abs(), "{x} vs {y}");
        }
    }
}
