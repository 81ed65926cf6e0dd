//! CPU time (not wall time) per step of the core benchmarks, read from the thread's scheduler
//! statistics, so the figure holds on a loaded machine; for quick before/after comparisons while
//! optimising. The criterion benches (`cargo bench -p autodidact-core`) are the reference.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::ndarray::{ArrayD, IxDyn};
use autodidact_core::*;
use rand::Rng as _;

fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0)
}

fn randn(shape: &[usize], rng: &mut Rng, lo: f32, hi: f32) -> ArrayD<f32> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|_| rng.random_range(lo..hi)).collect(),
    )
    .unwrap()
}

fn time(name: &str, reps: usize, mut f: impl FnMut()) {
    let reps = std::env::var("REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(reps);
    for _ in 0..reps / 10 + 1 {
        f();
    }
    let t0 = cpu_ns();
    for _ in 0..reps {
        f();
    }
    let per = (cpu_ns() - t0) as f64 / reps as f64;
    println!("{name:45} {:>10.2} µs CPU", per / 1e3);
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let mut rng = Seed(0).rng("bench");
    if which.is_empty() || which == "small" {
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
        time("mlp 1-40-40-1 batch 10 step", 20000, || {
            let tape = Tape::<f32>::new();
            let v = tape.params(&p);
            let loss = mse(
                mlp.forward(&v, tape.constant_from(&x)),
                tape.constant_from(&y),
            );
            let g = optim::values(&tape.grad(&loss, &v, CreateGraph::No));
            opt.step(&mut p, &g).unwrap();
        });
    }
    if which.is_empty() || which == "mnist" {
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
        time("mlp 784-256-128-10 batch 64 step", 300, || {
            let tape = Tape::<f32>::new();
            let v = tape.params(&p);
            let loss = cross_entropy(mlp.forward(&v, tape.constant_from(&x)), &labels);
            let g = optim::values(&tape.grad(&loss, &v, CreateGraph::No));
            opt.step(&mut p, &g).unwrap();
        });
    }
    if which == "conv4" {
        conv4_step();
    }
    if which == "conv4-blocks" {
        conv4_blocks();
    }
    if which.is_empty() || which == "maml" {
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
        let tasks: Vec<[ArrayD<f32>; 4]> = (0..25)
            .map(|_| {
                let xs = randn(&[10, 1], &mut rng, -5.0, 5.0);
                let xq = randn(&[10, 1], &mut rng, -5.0, 5.0);
                [xs.mapv(f32::sin), xs, xq.mapv(f32::sin), xq]
            })
            .collect();
        time("maml sinusoid meta-iteration (25 tasks)", 300, || {
            let tape = Tape::<f32>::new();
            let theta = tape.params(&p);
            let mut meta = tape.scalar(0.0);
            for [ys, xs, yq, xq] in &tasks {
                let loss = mse(
                    mlp.forward(&theta, tape.constant_from(xs)),
                    tape.constant_from(ys),
                );
                let g = tape.grad(&loss, &theta, CreateGraph::Yes);
                let fast = sgd_step(&theta, &g, 0.01);
                meta = meta
                    + mse(
                        mlp.forward(&fast, tape.constant_from(xq)),
                        tape.constant_from(yq),
                    );
            }
            let meta = meta * (1.0 / 25.0);
            let g = optim::values(&tape.grad(&meta, &theta, CreateGraph::No));
            adam.step(&mut p, &g).unwrap();
        });
    }
}

/// Conv4 (64 filters) forward + backward on a batch of 100 28×28 images.
pub fn conv4_step() {
    let mut rng = Seed(1).rng("bench");
    let mut p = Params::<f32>::new();
    let conv = Conv4::new(&mut p, "body", Conv4Config::default(), &mut rng);
    let head = Linear::new(
        &mut p,
        "head",
        conv.feature_dim(),
        20,
        true,
        Init::XavierUniform,
        &mut rng,
    );
    let x = randn(&[100, 1, 28, 28], &mut rng, 0.0, 1.0);
    let labels: Vec<usize> = (0..100).map(|i| i % 20).collect();
    time("conv4 64f, 100 images 28x28, fwd+bwd", 10, || {
        let tape = Tape::<f32>::new();
        let v = tape.params(&p);
        let h = conv.forward(&v, tape.constant_from(&x), BatchNormMode::BatchStats, None);
        let loss = cross_entropy(head.forward(&v, h), &labels);
        let _ = tape.grad(&loss, &v, CreateGraph::No);
    });
}

/// Each block of a ProtoNet training episode's Conv4 (400 images) on its own: forward, and
/// forward + backward (the input's gradient too, except for the first block, as in training).
pub fn conv4_blocks() {
    let mut rng = Seed(2).rng("bench");
    let only: Option<usize> = std::env::var("BLOCK").ok().and_then(|b| b.parse().ok());
    for (i, (c, size)) in [(1, 28), (64, 14), (64, 7), (64, 3)]
        .into_iter()
        .enumerate()
    {
        if only.is_some_and(|b| b != i + 1) {
            continue;
        }
        let mut p = Params::<f32>::new();
        let cfg = Conv4Config {
            in_channels: c,
            input_size: size,
            blocks: 1,
            ..Conv4Config::default()
        };
        let conv = Conv4::new(&mut p, "body", cfg, &mut rng);
        let x = randn(&[400, c, size, size], &mut rng, 0.0, 1.0);
        time(
            &format!("block {} ({c}x{size}x{size}) forward", i + 1),
            10,
            || {
                let tape = Tape::<f32>::new();
                let v = tape.params(&p);
                let _ = conv.forward(&v, tape.constant_from(&x), BatchNormMode::BatchStats, None);
            },
        );
        time(
            &format!("block {} ({c}x{size}x{size}) fwd+bwd", i + 1),
            10,
            || {
                let tape = Tape::<f32>::new();
                let v = tape.params(&p);
                let xv = if i == 0 {
                    tape.constant_from(&x)
                } else {
                    Var::leaf(x.clone())
                };
                let h = conv.forward(&v, xv, BatchNormMode::BatchStats, None);
                let mut wrt = v.clone();
                if i > 0 {
                    wrt.push(xv);
                }
                let _ = tape.grad(&h.sum(), &wrt, CreateGraph::No);
            },
        );
    }
}
