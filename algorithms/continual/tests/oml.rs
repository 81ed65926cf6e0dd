//! OML's meta-gradient: through the whole inner trajectory against finite differences
//! (`check_meta_gradient`) on a tiny network, and against the closed form on linear
//! regression through two online steps; the learner resumes exactly mid-meta-training and
//! mid-stream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_continual::oml::{inner_trajectory, oml_meta_loss, HeadReset, OmlNet};
use autodidact_continual::oml_learner::{OmlLearner, OmlParams, Representation};
use autodidact_core::layers::{Activation, Linear};
use autodidact_core::testing::{check_meta_gradient, GradcheckOptions};
use autodidact_core::{
    grad, mse, Algorithm, CreateGraph, Hyperparams as _, Params, Scenario, Seed, Tape, Tensor, Var,
};
use autodidact_envs::{Holdout, SplitStream, StreamOptions};
use ndarray::{arr1, arr2, Array1, Array2, IxDyn};
use rand::Rng as _;

fn random(shape: &[usize], rng: &mut autodidact_core::Rng) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    Tensor::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect(),
    )
    .unwrap()
}

#[test]
fn the_meta_gradient_through_the_inner_trajectory_matches_finite_differences() {
    let mut rng = Seed(11).rng("test");
    let mut params = Params::<f64>::new();
    let net = OmlNet::build(4, &[5], &[3], 3, Activation::Tanh, &mut params, &mut rng);
    let traj_x = random(&[4, 4], &mut rng);
    let traj_y = vec![0, 0, 2, 2];
    let eval_x = random(&[6, 4], &mut rng);
    let eval_y = vec![0, 0, 2, 2, 1, 0];
    for reset in [HeadReset::None, HeadReset::Trajectory, HeadReset::All] {
        check_meta_gradient(
            "OML meta-loss",
            |p| {
                oml_meta_loss(
                    &net,
                    p,
                    Var::constant(traj_x.clone()),
                    &traj_y,
                    Var::constant(eval_x.clone()),
                    &eval_y,
                    0.5,
                    reset,
                    CreateGraph::Yes,
                )
            },
            params.tensors(),
            &GradcheckOptions::default(),
        )
        .unwrap();
    }
    // First order (inner gradients as constants) is a different number: the check has teeth.
    let _tape = Tape::<f64>::new();
    let p: Vec<Var<f64>> = params
        .tensors()
        .iter()
        .map(|t| Var::leaf(t.clone()))
        .collect();
    let loss = |c| {
        oml_meta_loss(
            &net,
            &p,
            Var::constant(traj_x.clone()),
            &traj_y,
            Var::constant(eval_x.clone()),
            &eval_y,
            0.5,
            HeadReset::None,
            c,
        )
    };
    let second = grad(&[loss(CreateGraph::Yes)], &p, CreateGraph::No);
    let first = grad(&[loss(CreateGraph::No)], &p, CreateGraph::No);
    let gap: f64 = second
        .iter()
        .zip(&first)
        .map(|(a, b)| (a.value() - b.value()).mapv(f64::abs).sum())
        .sum();
    assert!(gap > 1e-4, "second and first order agree: {gap}");
}

/// `HeadReset::All` is the meta-loss of the same network with its output layer set to zero
/// beforehand (values and gradients with respect to everything but the head); `Trajectory`
/// zeroes the trajectory's classes only, so it differs from both.
#[test]
fn resetting_every_output_equals_starting_from_a_zero_output_layer() {
    let mut rng = Seed(12).rng("test");
    let mut params = Params::<f64>::new();
    let net = OmlNet::build(4, &[5], &[], 3, Activation::Relu, &mut params, &mut rng);
    let traj_x = random(&[4, 4], &mut rng);
    let traj_y = vec![1, 1, 2, 2];
    let eval_x = random(&[5, 4], &mut rng);
    let eval_y = vec![0, 1, 2, 2, 1];
    let mut zeroed = params.clone();
    for i in [Some(net.head.weight), net.head.bias].into_iter().flatten() {
        zeroed.tensors_mut()[i].fill(0.0);
    }
    let loss_and_grad = |ps: &Params<f64>, reset| {
        let _tape = Tape::<f64>::new();
        let p: Vec<Var<f64>> = ps.tensors().iter().map(|t| Var::leaf(t.clone())).collect();
        let l = oml_meta_loss(
            &net,
            &p,
            Var::constant(traj_x.clone()),
            &traj_y,
            Var::constant(eval_x.clone()),
            &eval_y,
            0.3,
            reset,
            CreateGraph::Yes,
        );
        let g: Vec<_> = grad(&[l], &p, CreateGraph::No)
            .iter()
            .map(|g| g.value())
            .collect();
        (l.item(), g)
    };
    let (all, g_all) = loss_and_grad(&params, HeadReset::All);
    let (zero, g_zero) = loss_and_grad(&zeroed, HeadReset::None);
    let (traj, _) = loss_and_grad(&params, HeadReset::Trajectory);
    assert!((all - zero).abs() < 1e-12, "{all} vs {zero}");
    for i in net.rln_indices() {
        let d = (&g_all[i] - &g_zero[i]).mapv(f64::abs).sum();
        assert!(d < 1e-10, "RLN parameter {i}: gradients differ by {d}");
    }
    assert!(
        (traj - all).abs() > 1e-6,
        "trajectory reset {traj} equals the full reset"
    );
    assert_eq!(HeadReset::Trajectory.classes(&[2, 0, 2, 0], 4), vec![0, 2]);
    assert_eq!(HeadReset::All.classes(&[1], 3), vec![0, 1, 2]);
    assert!(HeadReset::None.classes(&[1], 3).is_empty());
}

/// The closed form of the meta-gradient of L = mean_i (h_i·w₂ − y_i)², h = Rᵀx, after two
/// online SGD steps w_t = w_{t−1} − 2α (h_t·w_{t−1} − y_t) h_t from w₀ (derivation in the
/// comments).
#[test]
fn the_meta_gradient_equals_the_closed_form_on_linear_regression_through_two_online_steps() {
    let (dx, dh) = (3, 2);
    let r = arr2(&[[0.5, -0.3], [0.2, 0.8], [-0.6, 0.1]]); // [dx, dh]
    let w0 = arr1(&[0.4, -0.7]);
    let alpha = 0.15;
    let traj_x = arr2(&[[1.0, 0.5, -1.0], [0.3, -0.8, 0.6]]);
    let traj_y = [0.7, -0.2];
    let eval_x = arr2(&[[1.0, 0.5, -1.0], [0.3, -0.8, 0.6], [-0.4, 0.9, 0.2]]);
    let eval_y = [0.7, -0.2, 0.5];

    // Autodiff: a linear RLN (no bias, identity) and a linear PLN head of one output.
    let net = OmlNet {
        rln: vec![Linear {
            weight: 0,
            bias: None,
            in_dim: dx,
            out_dim: dh,
        }],
        pln: Vec::new(),
        head: Linear {
            weight: 1,
            bias: None,
            in_dim: dh,
            out_dim: 1,
        },
        activation: Activation::Identity,
    };
    let _tape = Tape::<f64>::new();
    let p = vec![
        Var::leaf(r.clone().into_dyn()),
        Var::leaf(w0.clone().insert_axis(ndarray::Axis(1)).into_dyn()),
    ];
    let h = net.features(&p, Var::constant(traj_x.clone().into_dyn()));
    let fast = inner_trajectory(&net, &p, h, alpha, CreateGraph::Yes, |out, j| {
        mse(out, Var::constant(arr2(&[[traj_y[j]]]).into_dyn()))
    });
    let pred = net.predict(
        &fast,
        net.features(&fast, Var::constant(eval_x.clone().into_dyn())),
    );
    let target = Array2::from_shape_vec((3, 1), eval_y.to_vec()).unwrap();
    let loss = mse(pred, Var::constant(target.into_dyn()));
    let g = grad(&[loss], &p, CreateGraph::No);
    let (g_r, g_w) = (g[0].value(), g[1].value());

    // By hand. h = Rᵀx; a step w ← w − 2α r h with r = h·w − y.
    let feat = |x: &Array1<f64>| r.t().dot(x);
    let outer = |a: &Array1<f64>, b: &Array1<f64>| {
        Array2::from_shape_fn((a.len(), b.len()), |(i, j)| a[i] * b[j])
    };
    let (x1, x2) = (traj_x.row(0).to_owned(), traj_x.row(1).to_owned());
    let (h1, h2) = (feat(&x1), feat(&x2));
    let r1 = h1.dot(&w0) - traj_y[0];
    let w1 = &w0 - &(&h1 * (2.0 * alpha * r1));
    let r2 = h2.dot(&w1) - traj_y[1];
    let w2 = &w1 - &(&h2 * (2.0 * alpha * r2));
    let m = eval_y.len() as f64;
    // g2 = ∂L/∂w₂ = (2/m) Σ e_i h_i; the direct part of ∂L/∂R is Σ x_i ((2/m) e_i w₂)ᵀ.
    let mut g2 = Array1::<f64>::zeros(dh);
    let mut dr = Array2::<f64>::zeros((dx, dh));
    for (i, &y) in eval_y.iter().enumerate() {
        let x = eval_x.row(i).to_owned();
        let e = feat(&x).dot(&w2) - y;
        g2 = g2 + &feat(&x) * (2.0 / m * e);
        dr = dr + outer(&x, &(&w2 * (2.0 / m * e)));
    }
    // Back through step 2: ∂w₂/∂w₁ = I − 2α h₂h₂ᵀ; ∂L/∂h₂ = −2α[(g₂·h₂) w₁ + r₂ g₂].
    let g1 = &g2 - &(&h2 * (2.0 * alpha * h2.dot(&g2)));
    let dh2 = (&w1 * g2.dot(&h2) + &g2 * r2) * (-2.0 * alpha);
    // Back through step 1: ∂w₁/∂w₀ = I − 2α h₁h₁ᵀ; ∂L/∂h₁ = −2α[(g₁·h₁) w₀ + r₁ g₁].
    let g0 = &g1 - &(&h1 * (2.0 * alpha * h1.dot(&g1)));
    let dh1 = (&w0 * g1.dot(&h1) + &g1 * r1) * (-2.0 * alpha);
    // h_t = Rᵀx_t, so ∂L/∂R gains x_t (∂L/∂h_t)ᵀ.
    let dr = dr + outer(&x2, &dh2) + outer(&x1, &dh1);

    for (a, b) in g_w.iter().zip(g0.iter()) {
        assert!(
            (a - b).abs() < 1e-12,
            "∂L/∂w₀: autodiff {a}, closed form {b}"
        );
    }
    for (a, b) in g_r.iter().zip(dr.iter()) {
        assert!(
            (a - b).abs() < 1e-12,
            "∂L/∂R: autodiff {a}, closed form {b}"
        );
    }
    // The closed form is not the first-order one (through w₂ only): the terms matter.
    assert!((&g0 - &g2).mapv(f64::abs).sum() > 1e-3);
}

fn stream() -> SplitStream {
    SplitStream::with_options(
        &common::gaussian(8, 12, 6, 2),
        4,
        Scenario::ClassIncremental,
        Holdout::Random(0.25),
        0,
        Seed(3),
        StreamOptions {
            online: true,
            pretrain_classes: 4,
            stream_classes: 4,
        },
    )
    .unwrap()
}

fn quick(representation: Representation) -> OmlParams {
    OmlParams {
        representation,
        rln_hidden: vec![12],
        pln_hidden: vec![8],
        meta_iterations: 6,
        traj_classes: 2,
        traj_shots: 2,
        remember: 4,
        pretrain_batch: 8,
        log_every: 2,
        ..OmlParams::default()
    }
}

#[test]
fn oml_resumes_exactly_mid_meta_training_and_mid_stream() {
    let s = stream();
    for rep in [
        Representation::Oml,
        Representation::Pretrained,
        Representation::Random,
    ] {
        let build = || OmlLearner::with_stream(quick(rep).check().unwrap(), &s, Seed(5)).unwrap();
        let mut straight = build();
        let total = straight.total_steps();
        assert_eq!(total, straight.meta_steps() + 36);
        let mut all = Vec::new();
        while straight.steps_done() < total {
            all.push(straight.train_step().unwrap());
        }
        assert_eq!(straight.matrix().trained(), 4);
        assert!(all.last().unwrap().contains_key("seen_test_acc"));
        for stop in [3usize, 6 + 13] {
            let stop = stop.min(total as usize - 1);
            let mut first = build();
            for _ in 0..stop {
                first.train_step().unwrap();
            }
            let bytes = first.save().unwrap();
            let mut resumed = build();
            resumed.load(&bytes).unwrap();
            let mut rest = Vec::new();
            while resumed.steps_done() < total {
                rest.push(resumed.train_step().unwrap());
            }
            assert_eq!(rest, all[stop..], "{rep:?} resumed at {stop}");
            assert_eq!(resumed.save().unwrap(), straight.save().unwrap());
        }
    }
}

#[test]
fn oml_without_pretraining_classes_is_refused_with_the_key_to_set() {
    let s = common::class_incremental(0);
    let err = OmlLearner::with_stream(quick(Representation::Oml).check().unwrap(), &s, Seed(0))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("pretrain_classes"), "{err}");
    assert!(
        OmlLearner::with_stream(quick(Representation::Random).check().unwrap(), &s, Seed(0))
            .is_ok()
    );
}
