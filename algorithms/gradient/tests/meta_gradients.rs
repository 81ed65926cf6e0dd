//! Meta-gradients against finite differences of the whole adapt-then-evaluate computation, and
//! Reptile's update against its definition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::layers::Activation;
use autodidact_core::ndarray::{Array2, IxDyn};
use autodidact_core::testing::{check_meta_gradient, GradcheckOptions};
use autodidact_core::{
    optim, CreateGraph, Params, Seed, Split, Tape, Targets, Task, TaskDistribution, TaskKind,
    Tensor,
};
use autodidact_envs::{Sinusoid, SinusoidParams};
use autodidact_gradient::anil::anil_meta_loss;
use autodidact_gradient::hyperparams::MetaParams;
use autodidact_gradient::maml::{batchable, maml_meta_loss, maml_meta_loss_batched};
use autodidact_gradient::meta_sgd::meta_sgd_meta_loss;
use autodidact_gradient::model::Model;
use autodidact_gradient::reptile::reptile_update;

fn tiny(hidden: usize) -> (Model, Params<f64>) {
    let hp = MetaParams {
        hidden: vec![hidden],
        activation: Activation::Tanh,
        ..MetaParams::default()
    };
    let mut p = Params::<f64>::new();
    let m = Model::build(
        &hp,
        TaskKind::Regression { output_dim: 1 },
        &[1],
        &mut p,
        &mut Seed(4).rng("init"),
    )
    .unwrap();
    (m, p)
}

/// A 2-4-3 tanh classifier for the cross-entropy checks.
fn tiny_classifier() -> (Model, Params<f64>) {
    let hp = MetaParams {
        hidden: vec![4],
        activation: Activation::Tanh,
        ..MetaParams::default()
    };
    let mut p = Params::<f64>::new();
    let m = Model::build(
        &hp,
        TaskKind::Classification { ways: 3 },
        &[2],
        &mut p,
        &mut Seed(8).rng("init"),
    )
    .unwrap();
    (m, p)
}

fn tasks(n: usize) -> Vec<Task> {
    let dist = Sinusoid::new(SinusoidParams {
        shots: 4,
        queries: 3,
        ..SinusoidParams::default()
    })
    .unwrap();
    (0..n)
        .map(|i| dist.task(Split::Train, Seed(1), i as u64).unwrap())
        .collect()
}

fn opts() -> GradcheckOptions {
    GradcheckOptions {
        eps: 1e-6,
        atol: 1e-6,
        rtol: 1e-4,
        max_elements: None,
    }
}

#[test]
fn maml_meta_gradient_equals_finite_differences() {
    let (model, params) = tiny(5);
    let ts = tasks(3);
    // Small inner rate: the sinusoid targets reach ±5, and large steps would make the check
    // ill-conditioned, not wrong.
    for steps in [1, 2] {
        check_meta_gradient(
            "maml",
            |theta| maml_meta_loss(&model, theta, &ts, 0.003, steps, false),
            params.tensors(),
            &opts(),
        )
        .unwrap();
    }
}

#[test]
fn first_order_maml_is_not_the_full_meta_gradient() {
    let (model, params) = tiny(5);
    let ts = tasks(2);
    let fo = check_meta_gradient(
        "fomaml",
        |theta| maml_meta_loss(&model, theta, &ts, 0.05, 1, true),
        params.tensors(),
        &opts(),
    );
    assert!(
        fo.is_err(),
        "first-order MAML must differ from finite differences of the true objective"
    );
}

#[test]
fn meta_sgd_meta_gradient_covers_the_learned_rates() {
    let (model, params) = tiny(4);
    let ts = tasks(2);
    let n = params.len();
    let mut all: Vec<Tensor<f64>> = params.tensors().to_vec();
    for t in params.tensors() {
        all.push(t.mapv(|_| 0.004));
    }
    check_meta_gradient(
        "meta-sgd",
        |v| {
            let (theta, alphas) = v.split_at(n);
            meta_sgd_meta_loss(&model, theta, alphas, &ts, 2, false)
        },
        &all,
        &opts(),
    )
    .unwrap();
}

#[test]
fn anil_meta_gradient_equals_finite_differences() {
    let (model, params) = tiny(5);
    let ts = tasks(2);
    check_meta_gradient(
        "anil",
        |theta| anil_meta_loss(&model, theta, &ts, 0.01, 2, false),
        params.tensors(),
        &opts(),
    )
    .unwrap();
}

#[test]
fn reptile_update_equals_its_definition() {
    // A linear model y = w x + b (an MLP without hidden layers), whose gradient is known:
    // ∂/∂w mean((wx + b − y)²) = 2 mean((wx + b − y) x), ∂/∂b = 2 mean(wx + b − y).
    let hp = MetaParams {
        hidden: vec![],
        ..MetaParams::default()
    };
    let mut params = Params::<f32>::new();
    let model = Model::build(
        &hp,
        TaskKind::Regression { output_dim: 1 },
        &[1],
        &mut params,
        &mut Seed(2).rng("init"),
    )
    .unwrap();
    let ts = tasks(3);
    let (lr, steps, eps) = (0.05, 3, 0.7);
    let new = reptile_update(&model, &params, &ts, lr, steps, eps);

    let w0 = params.tensors()[0][[0, 0]] as f64;
    let b0 = params.tensors()[1][[0]] as f64;
    let (mut dw, mut db) = (0.0, 0.0);
    for t in &ts {
        let x: Vec<f64> = t.support_x.iter().map(|&v| v as f64).collect();
        let y: Vec<f64> = t
            .support_y
            .values()
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect();
        let (mut w, mut b) = (w0, b0);
        for _ in 0..steps {
            let n = x.len() as f64;
            let r: Vec<f64> = x.iter().zip(&y).map(|(xi, yi)| w * xi + b - yi).collect();
            let gw = 2.0 * r.iter().zip(&x).map(|(ri, xi)| ri * xi).sum::<f64>() / n;
            let gb = 2.0 * r.iter().sum::<f64>() / n;
            w -= lr * gw;
            b -= lr * gb;
        }
        dw += w - w0;
        db += b - b0;
    }
    let want_w = w0 + eps * dw / ts.len() as f64;
    let want_b = b0 + eps * db / ts.len() as f64;
    assert!(
        (new[0][[0, 0]] as f64 - want_w).abs() < 1e-5,
        "{} vs {want_w}",
        new[0][[0, 0]]
    );
    assert!(
        (new[1][[0]] as f64 - want_b).abs() < 1e-5,
        "{} vs {want_b}",
        new[1][[0]]
    );
}

#[test]
fn classification_meta_gradient_through_cross_entropy() {
    let (model, params) = tiny_classifier();
    let x = Array2::from_shape_fn((6, 2), |(i, j)| ((i * 2 + j) as f32 * 0.37).sin()).into_dyn();
    let task = Task {
        support_x: x.clone(),
        support_y: Targets::Labels(vec![0, 1, 2, 0, 1, 2]),
        query_x: x
            .mapv(|v| v * 0.8)
            .into_shape_with_order(IxDyn(&[6, 2]))
            .unwrap(),
        query_y: Targets::Labels(vec![2, 1, 0, 0, 1, 2]),
    };
    let ts = vec![task];
    check_meta_gradient(
        "maml-ce",
        |theta| maml_meta_loss(&model, theta, &ts, 0.5, 2, false),
        params.tensors(),
        &opts(),
    )
    .unwrap();
    let _ = CreateGraph::Yes;
}

/// The meta-loss and meta-gradient of `f` at `params`.
fn loss_and_grad(
    params: &Params<f64>,
    f: impl Fn(&[autodidact_core::Var<f64>]) -> autodidact_core::Var<f64>,
) -> (f64, Vec<Tensor<f64>>) {
    let tape = Tape::<f64>::new();
    let theta = tape.params(params);
    let loss = f(&theta);
    (
        loss.item(),
        optim::values(&tape.grad(&loss, &theta, CreateGraph::No)),
    )
}

#[test]
fn batched_maml_equals_the_task_loop() {
    // Regression (sinusoid) and classification (cross-entropy), second and first order, one
    // and two inner steps: the batched pass gives the loop's meta-loss and meta-gradient.
    let (reg_model, reg_params) = tiny(5);
    let reg_tasks = tasks(4);
    let (cls_model, cls_params) = tiny_classifier();
    let cls_tasks: Vec<Task> = (0..3)
        .map(|t| {
            let x =
                Array2::from_shape_fn((6, 2), |(i, j)| ((i * 2 + j + 7 * t) as f32 * 0.37).sin())
                    .into_dyn();
            Task {
                support_x: x.clone(),
                support_y: Targets::Labels(vec![0, 1, 2, 0, 1, 2]),
                query_x: x.mapv(|v| v * 0.8 - 0.1),
                query_y: Targets::Labels(vec![(t) % 3, 1, 0, 0, (t + 1) % 3, 2]),
            }
        })
        .collect();
    let cases = [
        (&reg_model, &reg_params, &reg_tasks, 0.01),
        (&cls_model, &cls_params, &cls_tasks, 0.5),
    ];
    for (model, params, ts, lr) in cases {
        assert!(batchable(model, ts));
        for first_order in [false, true] {
            for steps in [1, 2] {
                let (l1, g1) = loss_and_grad(params, |th| {
                    maml_meta_loss(model, th, ts, lr, steps, first_order)
                });
                let (l2, g2) = loss_and_grad(params, |th| {
                    maml_meta_loss_batched(model, th, ts, lr, steps, first_order)
                });
                let what = format!("first_order {first_order}, steps {steps}");
                assert!(
                    (l1 - l2).abs() <= 1e-12 * (1.0 + l1.abs()),
                    "{what}: {l1} vs {l2}"
                );
                for (a, b) in g1.iter().zip(&g2) {
                    assert_eq!(a.shape(), b.shape(), "{what}");
                    for (x, y) in a.iter().zip(b.iter()) {
                        assert!(
                            (x - y).abs() <= 1e-10 * (1.0 + x.abs()),
                            "{what}: {x} vs {y}"
                        );
                    }
                }
            }
        }
    }
    // Tasks of different sizes cannot share one batch.
    let mut uneven = reg_tasks.clone();
    uneven[1] = tasks(1).remove(0);
    uneven[1].query_x = uneven[1]
        .query_x
        .slice_axis(autodidact_core::ndarray::Axis(0), (0..2).into())
        .to_owned();
    assert!(!batchable(&reg_model, &uneven));
}
