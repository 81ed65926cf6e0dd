//! Core speed benchmarks (single thread): training steps of small and MNIST-sized MLPs, and one
//! second-order MAML meta-iteration on sinusoid tasks. Compare with `bench/pytorch_core.py`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::ndarray::{ArrayD, IxDyn};
use autodidact_core::*;
use criterion::{criterion_group, criterion_main, Criterion};
use rand::Rng as _;

fn randn(shape: &[usize], rng: &mut Rng, lo: f32, hi: f32) -> ArrayD<f32> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|_| rng.random_range(lo..hi)).collect(),
    )
    .unwrap()
}

/// One SGD step of an MLP with an MSE loss.
fn mlp_step_mse(
    mlp: &Mlp,
    p: &mut Params<f32>,
    opt: &mut Sgd<f32>,
    x: &ArrayD<f32>,
    y: &ArrayD<f32>,
) {
    let tape = Tape::<f32>::new();
    let v = tape.params(p);
    let loss = mse(
        mlp.forward(&v, tape.constant(x.clone())),
        tape.constant(y.clone()),
    );
    let g = optim::values(&tape.grad(&loss, &v, CreateGraph::No));
    opt.step(p, &g).unwrap();
}

fn mlp_step_ce(
    mlp: &Mlp,
    p: &mut Params<f32>,
    opt: &mut Sgd<f32>,
    x: &ArrayD<f32>,
    labels: &[usize],
) {
    let tape = Tape::<f32>::new();
    let v = tape.params(p);
    let loss = cross_entropy(mlp.forward(&v, tape.constant(x.clone())), labels);
    let g = optim::values(&tape.grad(&loss, &v, CreateGraph::No));
    opt.step(p, &g).unwrap();
}

struct SineTask {
    xs: ArrayD<f32>,
    ys: ArrayD<f32>,
    xq: ArrayD<f32>,
    yq: ArrayD<f32>,
}

fn sine_tasks(n: usize, rng: &mut Rng) -> Vec<SineTask> {
    (0..n)
        .map(|_| {
            let a: f32 = rng.random_range(0.1..5.0);
            let ph: f32 = rng.random_range(0.0..std::f32::consts::PI);
            let xs = randn(&[10, 1], rng, -5.0, 5.0);
            let xq = randn(&[10, 1], rng, -5.0, 5.0);
            let ys = xs.mapv(|x| a * (x - ph).sin());
            let yq = xq.mapv(|x| a * (x - ph).sin());
            SineTask { xs, ys, xq, yq }
        })
        .collect()
}

/// One second-order MAML meta-iteration: 25 tasks, one inner SGD step at 0.01, Adam 1e-3.
fn maml_meta_step(mlp: &Mlp, p: &mut Params<f32>, adam: &mut Adam<f32>, tasks: &[SineTask]) -> f64 {
    let tape = Tape::<f32>::new();
    let theta = tape.params(p);
    let mut meta = tape.scalar(0.0);
    for t in tasks {
        let loss = mse(
            mlp.forward(&theta, tape.constant(t.xs.clone())),
            tape.constant(t.ys.clone()),
        );
        let g = tape.grad(&loss, &theta, CreateGraph::Yes);
        let fast = sgd_step(&theta, &g, 0.01);
        meta = meta
            + mse(
                mlp.forward(&fast, tape.constant(t.xq.clone())),
                tape.constant(t.yq.clone()),
            );
    }
    let meta = meta * (1.0 / tasks.len() as f64);
    let g = optim::values(&tape.grad(&meta, &theta, CreateGraph::No));
    adam.step(p, &g).unwrap();
    meta.item()
}

fn benches(c: &mut Criterion) {
    let mut rng = Seed(0).rng("bench");
    {
        let mut p = Params::<f32>::new();
        let mlp = Mlp::new(
            &mut p,
            "net",
            &[1, 40, 40, 1],
            Activation::Relu,
            Init::KaimingUniform,
            &mut rng,
        );
        let mut opt = Sgd::new(0.01);
        let x = randn(&[10, 1], &mut rng, -5.0, 5.0);
        let y = x.mapv(f32::sin);
        c.bench_function("mlp_1_40_40_1_batch10_mse_sgd_step", |b| {
            b.iter(|| mlp_step_mse(&mlp, &mut p, &mut opt, &x, &y))
        });
    }
    {
        let mut p = Params::<f32>::new();
        let mlp = Mlp::new(
            &mut p,
            "net",
            &[784, 256, 128, 10],
            Activation::Relu,
            Init::KaimingUniform,
            &mut rng,
        );
        let mut opt = Sgd::new(0.01);
        let x = randn(&[64, 784], &mut rng, 0.0, 1.0);
        let labels: Vec<usize> = (0..64).map(|i| i % 10).collect();
        c.bench_function("mlp_784_256_128_10_batch64_ce_sgd_step", |b| {
            b.iter(|| mlp_step_ce(&mlp, &mut p, &mut opt, &x, &labels))
        });
    }
    {
        let mut p = Params::<f32>::new();
        let mlp = Mlp::new(
            &mut p,
            "net",
            &[1, 40, 40, 1],
            Activation::Relu,
            Init::KaimingUniform,
            &mut rng,
        );
        let mut adam = Adam::new(1e-3);
        let tasks = sine_tasks(25, &mut rng);
        c.bench_function("maml_sinusoid_meta_iteration_25_tasks", |b| {
            b.iter(|| maml_meta_step(&mlp, &mut p, &mut adam, &tasks))
        });
    }
}

criterion_group!(core_benches, benches);
criterion_main!(core_benches);
