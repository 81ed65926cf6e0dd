//! Vectorised MAML: running every task through one batched pass with `Mlp::per_task` gives
//! the same meta-gradient as the task-by-task loop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::ndarray::{ArrayD, Axis, IxDyn};
use autodidact_core::*;
use rand::Rng as _;

fn uniform(shape: &[usize], rng: &mut Rng) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_range(-2.0..2.0))
}

#[test]
fn batched_maml_meta_gradient_equals_the_task_loop() {
    let mut rng = Seed(3).rng("per-task");
    let mut p = Params::<f64>::new();
    let mlp = Mlp::new(
        &mut p,
        "net",
        &[2, 5, 4, 1],
        Activation::Tanh,
        Init::KaimingUniform,
        &mut rng,
    );
    let (tasks, rows) = (3, 4);
    let data: Vec<[ArrayD<f64>; 4]> = (0..tasks)
        .map(|_| {
            [
                uniform(&[rows, 2], &mut rng),
                uniform(&[rows, 1], &mut rng),
                uniform(&[rows, 2], &mut rng),
                uniform(&[rows, 1], &mut rng),
            ]
        })
        .collect();
    let lr = 0.3;

    // The loop: one task at a time, two inner steps each.
    let looped = {
        let tape = Tape::<f64>::new();
        let theta = tape.params(&p);
        let mut meta = tape.scalar(0.0);
        for [xs, ys, xq, yq] in &data {
            let mut fast = theta.clone();
            for _ in 0..2 {
                let loss = mse(
                    mlp.forward(&fast, tape.constant(xs.clone())),
                    tape.constant(ys.clone()),
                );
                let g = tape.grad(&loss, &fast, CreateGraph::Yes);
                fast = sgd_step(&fast, &g, lr);
            }
            meta = meta
                + mse(
                    mlp.forward(&fast, tape.constant(xq.clone())),
                    tape.constant(yq.clone()),
                );
        }
        let meta = meta * (1.0 / tasks as f64);
        (
            meta.item(),
            optim::values(&tape.grad(&meta, &theta, CreateGraph::No)),
        )
    };

    // The batched pass.
    let batched = {
        let stack = |i: usize| {
            let views: Vec<_> = data.iter().map(|d| d[i].view()).collect();
            autodidact_core::ndarray::stack(Axis(0), &views).unwrap()
        };
        let tape = Tape::<f64>::new();
        let theta = tape.params(&p);
        let mut fast = mlp.per_task(&theta, tasks);
        assert_eq!(fast[0].shape(), vec![tasks, 2, 5]);
        assert_eq!(fast[1].shape(), vec![tasks, 1, 5]);
        let (xs, ys, xq, yq) = (
            tape.constant(stack(0)),
            tape.constant(stack(1)),
            tape.constant(stack(2)),
            tape.constant(stack(3)),
        );
        for _ in 0..2 {
            // Σ_t mse_t: each task's mean over its own rows.
            let loss = (mlp.forward(&fast, xs) - ys).square().sum() * (1.0 / rows as f64);
            let g = tape.grad(&loss, &fast, CreateGraph::Yes);
            fast = sgd_step(&fast, &g, lr);
        }
        let meta = (mlp.forward(&fast, xq) - yq).square().sum() * (1.0 / (rows * tasks) as f64);
        (
            meta.item(),
            optim::values(&tape.grad(&meta, &theta, CreateGraph::No)),
        )
    };

    assert!(
        (looped.0 - batched.0).abs() < 1e-12,
        "{} vs {}",
        looped.0,
        batched.0
    );
    for (a, b) in looped.1.iter().zip(&batched.1) {
        assert_eq!(a.shape(), b.shape());
        for (x, y) in a.iter().zip(b.iter()) {
            assert!((x - y).abs() <= 1e-10 * (1.0 + x.abs()), "{x} vs {y}");
        }
    }
}
