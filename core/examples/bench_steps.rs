//! Side-by-side speed benchmark (ours vs `bench/core/pytorch_core.py`), single thread, f32:
//!
//! - `mlp_1_40_40_1_step`: one SGD step (lr 0.01) of a 1-40-40-1 ReLU MLP, batch 10, MSE;
//! - `mlp_784_256_128_10_step`: one SGD step of a 784-256-128-10 ReLU MLP, batch 64,
//!   cross-entropy, with the GEMM GFLOP/s;
//! - `maml_meta_iteration`: one second-order MAML meta-iteration, 25 sinusoid tasks of 10 support
//!   and 10 query points, 1-40-40-1 ReLU, one inner SGD step at 0.01, Adam 1e-3.
//!
//! Each benchmark is warmed up, then every repetition is timed on its own; the median and mean
//! (µs) are printed, plus one JSON line per benchmark (prefixed `JSON `) for `bench/core/run.sh`.
//!
//! ```text
//! cargo run --release -p autodidact-core --example bench_steps [-- --scale 0.1] [--only NAME] [--threads N]
//! ```
//!
//! `--scale` multiplies every repetition count (the defaults match the PyTorch script's).
//! `--threads N` (default 1) runs the steps on a pool of N worker threads, where core cuts large
//! products into pieces that run in parallel (the bits are the same at any N).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use autodidact_core::ndarray::{ArrayD, IxDyn};
use autodidact_core::*;
use rand::Rng as _;

/// (name, warm-up repetitions, timed repetitions); the PyTorch script uses the same.
const PLAN: [(&str, usize, usize); 4] = [
    ("mlp_1_40_40_1_step", 500, 20_000),
    ("mlp_784_256_128_10_step", 50, 2_000),
    ("maml_meta_iteration", 10, 300),
    ("maml_meta_iteration_batched", 10, 300),
];

fn uniform(shape: &[usize], rng: &mut Rng, lo: f32, hi: f32) -> ArrayD<f32> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|_| rng.random_range(lo..hi)).collect(),
    )
    .unwrap()
}

struct Stats {
    reps: usize,
    median_us: f64,
    mean_us: f64,
    min_us: f64,
    p90_us: f64,
}

/// Runs `f` `warmup` times untimed, then `reps` times each timed on its own.
fn time(warmup: usize, reps: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..warmup {
        f();
    }
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let s = Instant::now();
        f();
        t.push(s.elapsed().as_secs_f64() * 1e6);
    }
    let mean_us = t.iter().sum::<f64>() / reps as f64;
    t.sort_by(|a, b| a.total_cmp(b));
    let median_us = if reps % 2 == 1 {
        t[reps / 2]
    } else {
        0.5 * (t[reps / 2 - 1] + t[reps / 2])
    };
    Stats {
        reps,
        median_us,
        mean_us,
        min_us: t[0],
        p90_us: t[(reps * 9 / 10).min(reps - 1)],
    }
}

fn report(name: &str, s: &Stats, flops: Option<f64>, extra: &str) {
    let gflops = flops.map(|f| f / (s.median_us * 1e-6) / 1e9);
    println!(
        "{name:<26} reps {:>6}  median {:>10.2} µs  mean {:>10.2} µs  min {:>10.2} µs  p90 {:>10.2} µs{}{extra}",
        s.reps,
        s.median_us,
        s.mean_us,
        s.min_us,
        s.p90_us,
        gflops.map(|g| format!("  {g:.2} GFLOP/s")).unwrap_or_default()
    );
    let mut j = serde_json::json!({
        "impl": "autodidact",
        "bench": name,
        "threads": THREADS.load(std::sync::atomic::Ordering::Relaxed),
        "reps": s.reps,
        "median_us": s.median_us,
        "mean_us": s.mean_us,
        "min_us": s.min_us,
        "p90_us": s.p90_us,
    });
    if let (Some(f), Some(g)) = (flops, gflops) {
        j["flops"] = serde_json::json!(f);
        j["gflops_median"] = serde_json::json!(g);
    }
    println!("JSON {j}");
}

/// GEMM FLOPs (2·m·n·k each) of one training step of an MLP on a batch: forward, weight
/// gradients, and input gradients of every layer but the first (its input is a constant).
fn mlp_step_flops(widths: &[usize], batch: usize) -> f64 {
    let layers: Vec<f64> = widths
        .windows(2)
        .map(|w| 2.0 * batch as f64 * w[0] as f64 * w[1] as f64)
        .collect();
    let one_pass: f64 = layers.iter().sum();
    3.0 * one_pass - layers[0]
}

/// The 1-40-40-1 ReLU MLP of the small-step and MAML benchmarks, Kaiming-uniform initialised.
fn sine_mlp(rng: &mut Rng) -> (Mlp, Params<f32>) {
    let mut p = Params::<f32>::new();
    let mlp = Mlp::new(
        &mut p,
        "net",
        &[1, 40, 40, 1],
        Activation::Relu,
        Init::KaimingUniform,
        rng,
    );
    (mlp, p)
}

fn bench_small(rng: &mut Rng, warmup: usize, reps: usize) {
    let (mlp, mut p) = sine_mlp(rng);
    let mut opt = Sgd::new(0.01);
    let x = uniform(&[10, 1], rng, -5.0, 5.0);
    let y = x.mapv(f32::sin);
    let mut last = 0.0;
    let s = time(warmup, reps, || {
        let tape = Tape::<f32>::new();
        let v = tape.params(&p);
        let loss = mse(
            mlp.forward(&v, tape.constant_from(&x)),
            tape.constant_from(&y),
        );
        let g = tape.grad(&loss, &v, CreateGraph::No);
        opt.step_vars(&mut p, &g).unwrap();
        last = loss.item();
    });
    report(PLAN[0].0, &s, None, &format!("  (final loss {last:.4})"));
}

fn bench_mnist(rng: &mut Rng, warmup: usize, reps: usize) {
    let widths = [784, 256, 128, 10];
    let batch = 64;
    let mut p = Params::<f32>::new();
    let mlp = Mlp::new(
        &mut p,
        "net",
        &widths,
        Activation::Relu,
        Init::KaimingUniform,
        rng,
    );
    let mut opt = Sgd::new(0.01);
    let x = uniform(&[batch, 784], rng, 0.0, 1.0);
    let labels: Vec<usize> = (0..batch).map(|i| i % 10).collect();
    let mut last = 0.0;
    let s = time(warmup, reps, || {
        let tape = Tape::<f32>::new();
        let v = tape.params(&p);
        let loss = cross_entropy(mlp.forward(&v, tape.constant_from(&x)), &labels);
        let g = tape.grad(&loss, &v, CreateGraph::No);
        opt.step_vars(&mut p, &g).unwrap();
        last = loss.item();
    });
    report(
        PLAN[1].0,
        &s,
        Some(mlp_step_flops(&widths, batch)),
        &format!("  (final loss {last:.4})"),
    );
}

/// One sinusoid task: support and query inputs and targets.
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
            let xs = uniform(&[10, 1], rng, -5.0, 5.0);
            let xq = uniform(&[10, 1], rng, -5.0, 5.0);
            let ys = xs.mapv(|x| a * (x - ph).sin());
            let yq = xq.mapv(|x| a * (x - ph).sin());
            SineTask { xs, ys, xq, yq }
        })
        .collect()
}

/// One second-order MAML meta-iteration; returns the meta-loss.
fn maml_meta_step(mlp: &Mlp, p: &mut Params<f32>, adam: &mut Adam<f32>, tasks: &[SineTask]) -> f64 {
    let tape = Tape::<f32>::new();
    let theta = tape.params(p);
    let mut meta = tape.scalar(0.0);
    for t in tasks {
        let loss = mse(
            mlp.forward(&theta, tape.constant_from(&t.xs)),
            tape.constant_from(&t.ys),
        );
        let g = tape.grad(&loss, &theta, CreateGraph::Yes);
        let fast = sgd_step(&theta, &g, 0.01);
        meta = meta
            + mse(
                mlp.forward(&fast, tape.constant_from(&t.xq)),
                tape.constant_from(&t.yq),
            );
    }
    let meta = meta * (1.0 / tasks.len() as f64);
    let g = tape.grad(&meta, &theta, CreateGraph::No);
    adam.step_vars(p, &g).unwrap();
    meta.item()
}

/// The same meta-iteration with the 25 tasks in one batched pass (vectorised MAML): the
/// parameters are copied per task with [`Mlp::per_task`], so one `grad` of the summed support
/// losses gives every task its own inner gradient, and the query pass uses batched matmuls.
/// The same numbers as [`maml_meta_step`] up to summation order.
fn maml_meta_step_batched(
    mlp: &Mlp,
    p: &mut Params<f32>,
    adam: &mut Adam<f32>,
    tasks: &[ArrayD<f32>; 4],
) -> f64 {
    let t = tasks[0].shape()[0];
    let tape = Tape::<f32>::new();
    let theta = tape.params(p);
    let per_task = mlp.per_task(&theta, t);
    let [xs, ys, xq, yq] = tasks.each_ref().map(|a| tape.constant_from(a));
    let rows = tasks[0].shape()[1] as f64;
    // Σ_t mse_t = Σ (pred − y)² / rows: each task's mean over its own rows.
    let support = (mlp.forward(&per_task, xs) - ys).square().sum() * (1.0 / rows);
    let g = tape.grad(&support, &per_task, CreateGraph::Yes);
    let fast = sgd_step(&per_task, &g, 0.01);
    let meta = (mlp.forward(&fast, xq) - yq).square().sum() * (1.0 / (rows * t as f64));
    let g = tape.grad(&meta, &theta, CreateGraph::No);
    adam.step_vars(p, &g).unwrap();
    meta.item()
}

fn bench_maml_batched(rng: &mut Rng, warmup: usize, reps: usize) {
    let (mlp, mut p) = sine_mlp(rng);
    let mut adam = Adam::new(1e-3);
    let tasks = sine_tasks(25, rng);
    let stack = |f: &dyn Fn(&SineTask) -> &ArrayD<f32>| {
        let views: Vec<_> = tasks.iter().map(|t| f(t).view()).collect();
        autodidact_core::ndarray::stack(autodidact_core::ndarray::Axis(0), &views).unwrap()
    };
    let batch = [
        stack(&|t| &t.xs),
        stack(&|t| &t.ys),
        stack(&|t| &t.xq),
        stack(&|t| &t.yq),
    ];
    let mut last = 0.0;
    let s = time(warmup, reps, || {
        last = maml_meta_step_batched(&mlp, &mut p, &mut adam, &batch);
    });
    report(
        PLAN[3].0,
        &s,
        None,
        &format!("  (final meta-loss {last:.4})"),
    );
}

fn bench_maml(rng: &mut Rng, warmup: usize, reps: usize) {
    let (mlp, mut p) = sine_mlp(rng);
    let mut adam = Adam::new(1e-3);
    let tasks = sine_tasks(25, rng);
    let mut last = 0.0;
    let s = time(warmup, reps, || {
        last = maml_meta_step(&mlp, &mut p, &mut adam, &tasks);
    });
    report(
        PLAN[2].0,
        &s,
        None,
        &format!("  (final meta-loss {last:.4})"),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut scale = 1.0f64;
    let mut only: Option<String> = None;
    let mut threads = 1usize;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--scale" => {
                scale = args[i + 1].parse().expect("--scale takes a number");
                i += 1;
            }
            "--only" => {
                only = Some(args[i + 1].clone());
                i += 1;
            }
            "--threads" => {
                threads = args[i + 1].parse().expect("--threads takes a count");
                i += 1;
            }
            other => panic!("unknown argument {other} (use --scale F, --only NAME, --threads N)"),
        }
        i += 1;
    }
    let n = |k: usize| ((k as f64 * scale).round() as usize).max(1);
    println!(
        "autodidact bench_steps: f32, {threads} thread(s), {} build",
        if cfg!(debug_assertions) {
            "DEBUG"
        } else {
            "release"
        }
    );
    let pool = parallel::pool(threads).expect("a worker pool");
    THREADS.store(threads, std::sync::atomic::Ordering::Relaxed);
    pool.install(|| run_plan(only.as_deref(), &n));
}

/// The worker threads, for the JSON lines.
static THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

fn run_plan(only: Option<&str>, n: &dyn Fn(usize) -> usize) {
    let mut rng = Seed(0).rng("bench");
    let run = |name: &str| only.is_none_or(|o| o == name);
    if run(PLAN[0].0) {
        bench_small(&mut rng, n(PLAN[0].1), n(PLAN[0].2));
    }
    if run(PLAN[1].0) {
        bench_mnist(&mut rng, n(PLAN[1].1), n(PLAN[1].2));
    }
    if run(PLAN[2].0) {
        bench_maml(&mut rng, n(PLAN[2].1), n(PLAN[2].2));
    }
    if run(PLAN[3].0) {
        bench_maml_batched(&mut rng, n(PLAN[3].1), n(PLAN[3].2));
    }
}
