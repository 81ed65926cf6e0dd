//! Memory over a long second-order MAML run: 10,000 meta-iterations (25 fresh sinusoid tasks of
//! 10 support and 10 query points each, 1-40-40-1 ReLU, one inner SGD step at 0.01, Adam 1e-3),
//! printing peak RSS (`VmHWM`) and current RSS (`VmRSS`) from `/proc/self/status` after 100,
//! 1,000, 5,000 and 10,000 meta-iterations, to show that memory stays flat.
//!
//! ```text
//! cargo run --release -p autodidact-core --example maml_memory [-- --iterations 10000]
//! ```
//!
//! Prints one JSON line (prefixed `JSON `) per checkpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use autodidact_core::ndarray::{ArrayD, IxDyn};
use autodidact_core::*;
use rand::Rng as _;

fn uniform(shape: &[usize], rng: &mut Rng, lo: f32, hi: f32) -> ArrayD<f32> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|_| rng.random_range(lo..hi)).collect(),
    )
    .unwrap()
}

/// (VmHWM, VmRSS) in KiB, from /proc/self/status.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// One second-order MAML meta-iteration on 25 fresh tasks; returns the meta-loss.
fn maml_meta_step(mlp: &Mlp, p: &mut Params<f32>, adam: &mut Adam<f32>, rng: &mut Rng) -> f64 {
    let tape = Tape::<f32>::new();
    let theta = tape.params(p);
    let mut meta = tape.scalar(0.0);
    let n_tasks = 25;
    for _ in 0..n_tasks {
        let a: f32 = rng.random_range(0.1..5.0);
        let ph: f32 = rng.random_range(0.0..std::f32::consts::PI);
        let xs = uniform(&[10, 1], rng, -5.0, 5.0);
        let xq = uniform(&[10, 1], rng, -5.0, 5.0);
        let ys = xs.mapv(|x| a * (x - ph).sin());
        let yq = xq.mapv(|x| a * (x - ph).sin());
        let loss = mse(mlp.forward(&theta, tape.constant(xs)), tape.constant(ys));
        let g = tape.grad(&loss, &theta, CreateGraph::Yes);
        let fast = sgd_step(&theta, &g, 0.01);
        meta = meta + mse(mlp.forward(&fast, tape.constant(xq)), tape.constant(yq));
    }
    let meta = meta * (1.0 / n_tasks as f64);
    let g = optim::values(&tape.grad(&meta, &theta, CreateGraph::No));
    adam.step(p, &g).unwrap();
    meta.item()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let iterations: u64 = match args.iter().position(|a| a == "--iterations") {
        Some(i) => args[i + 1].parse().expect("--iterations takes a number"),
        None => 10_000,
    };
    let mut checkpoints: Vec<u64> = [100, 1_000, 5_000, 10_000]
        .into_iter()
        .filter(|&c| c < iterations)
        .collect();
    checkpoints.push(iterations);

    let mut rng = Seed(0).rng("maml-memory");
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
    let (hwm0, rss0) = rss_kib();
    println!("maml_memory: {iterations} second-order MAML meta-iterations, 25 tasks each");
    println!(
        "{:>10} {:>14} {:>14} {:>12} {:>10}",
        "iteration", "VmHWM (KiB)", "VmRSS (KiB)", "meta-loss", "time (s)"
    );
    println!(
        "{:>10} {:>14} {:>14} {:>12} {:>10}",
        0, hwm0, rss0, "-", "0.0"
    );
    let start = Instant::now();
    let mut loss_sum = 0.0;
    let mut loss_n = 0u64;
    let mut next = 0;
    for it in 1..=iterations {
        loss_sum += maml_meta_step(&mlp, &mut p, &mut adam, &mut rng);
        loss_n += 1;
        if it == checkpoints[next] {
            let (hwm, rss) = rss_kib();
            let secs = start.elapsed().as_secs_f64();
            let mean_loss = loss_sum / loss_n as f64;
            println!("{it:>10} {hwm:>14} {rss:>14} {mean_loss:>12.4} {secs:>10.1}");
            println!(
                "JSON {}",
                serde_json::json!({
                    "impl": "autodidact",
                    "bench": "maml_memory",
                    "iteration": it,
                    "vm_hwm_kib": hwm,
                    "vm_rss_kib": rss,
                    "mean_meta_loss_since_last": mean_loss,
                    "elapsed_s": secs,
                })
            );
            loss_sum = 0.0;
            loss_n = 0;
            next += 1;
        }
    }
}
