//! Finn et al.'s sinusoid MAML with the library's `MetaLearner`, for the side-by-side comparison
//! with `bench/core/pytorch_maml_sinusoid.py` (`bench/core/run_maml.sh`).
//!
//! 1-40-40-1 ReLU, K = 10 support and 10 query points, amplitude U[0.1, 5], phase U[0, π],
//! x U[-5, 5], one inner SGD step at 0.01 (second order), meta-batch 25, Adam 1e-3, N
//! meta-iterations; then the post-adaptation query MSE on 1,000 test tasks after 1 and after 10
//! SGD steps at 0.01 (mean ± 95 % CI), and the wall time per meta-iteration.
//!
//! ```text
//! cargo run --release -p autodidact-gradient --example sinusoid_maml -- [--iterations 10000] [--seed 0] [--eval-tasks 1000] [--init kaiming|torch-default]
//! ```
//!
//! `--init torch-default` rescales the library's Kaiming-uniform weights to PyTorch's
//! `nn.Linear` default before training (same flag in the PyTorch script).
//!
//! The last line (prefixed `JSON `) holds every figure. The evaluation is reported twice: by the
//! library's `MetaLearner::evaluate_on` (`lib_*`), and by the same procedure on the same test
//! tasks with the fast weights re-made as leaves after each step (`mse_*`), because
//! `evaluate_on`'s steps 2… are currently no-ops (see `curves_releafed`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use autodidact_core::mean_ci95;
use autodidact_core::{
    grad, Algorithm, CreateGraph, Params, Seed, Split, Tape, TaskDistribution, Var,
};
use autodidact_envs::{Sinusoid, SinusoidParams};
use autodidact_gradient::{hyperparams::MetaParams, MetaLearner, Method};

/// Query MSE per task before adaptation and after each of `steps` plain SGD steps at `lr`, on the
/// same test tasks as `MetaLearner::evaluate_on` (same seeds), but with the fast weights made
/// fresh leaves after every step so that steps 2… still see a gradient.
///
/// (`evaluate_on` detaches the fast weights after each step — `(θ − αg).detach()` is a
/// constant — so its steps 2… get zero gradients and its "after 10 steps" equals "after 1".)
fn curves_releafed(
    maml: &MetaLearner,
    dist: &dyn TaskDistribution,
    seed: Seed,
    n_tasks: usize,
    steps: usize,
    lr: f64,
) -> Vec<Vec<f64>> {
    let model = maml.model();
    let eval_seed = seed.derive(Split::Test.name()).derive("evaluation");
    (0..n_tasks)
        .map(|i| {
            let task = dist.task(Split::Test, eval_seed, i as u64).unwrap();
            let tape = Tape::<f32>::new();
            let mut fast = tape.params(maml.params());
            let xs = model.input::<f32>(&task.support_x);
            let xq = model.input::<f32>(&task.query_x);
            let mut scores = vec![model.score(model.forward(&fast, xq), &task.query_y)];
            for _ in 0..steps {
                let loss = model.loss(model.forward(&fast, xs), &task.support_y);
                let g = grad(&[loss], &fast, CreateGraph::No);
                fast = fast
                    .iter()
                    .zip(&g)
                    .map(|(p, g)| Var::leaf((*p - *g * lr).value()))
                    .collect();
                scores.push(model.score(model.forward(&fast, xq), &task.query_y));
            }
            scores
        })
        .collect()
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} takes a number")),
        None => default,
    }
}

/// Rescales the MLP's weights from the library's Kaiming-uniform draw, U(±√(6/fan_in)), to
/// PyTorch's `nn.Linear` default, U(±1/√fan_in) (a factor 1/√6 on the same draw; biases are
/// already PyTorch's default), through the public checkpoint API (`save`, edit, `load`).
fn torch_default_init(maml: &mut MetaLearner) {
    let mut state: serde_json::Value = serde_json::from_slice(&maml.save().unwrap()).unwrap();
    let old = maml.params();
    let mut new = Params::<f32>::new();
    for (name, t) in old.names().iter().zip(old.tensors()) {
        let t = if name.ends_with(".weight") {
            t.mapv(|w| w / 6f32.sqrt())
        } else {
            t.clone()
        };
        new.insert(name.clone(), t);
    }
    state["params"] = serde_json::to_value(&new).unwrap();
    maml.load(&serde_json::to_vec(&state).unwrap()).unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let iterations: u64 = arg(&args, "--iterations", 10_000);
    let seed: u64 = arg(&args, "--seed", 0);
    let eval_tasks: usize = arg(&args, "--eval-tasks", 1000);
    let init = match args.iter().position(|a| a == "--init") {
        Some(i) => args.get(i + 1).cloned().unwrap_or_default(),
        None => "kaiming".into(),
    };
    assert!(
        init == "kaiming" || init == "torch-default",
        "--init takes kaiming (the library's, default) or torch-default"
    );
    let log_every = (iterations / 10).max(1);

    let hp = MetaParams {
        meta_iterations: iterations,
        meta_batch: 25,
        inner_lr: 0.01,
        inner_steps: 1,
        test_inner_steps: 10,
        outer_lr: 1e-3,
        first_order: false,
        hidden: vec![40, 40],
        activation: "relu".into(),
        backbone: "mlp".into(),
        eval_tasks,
        val_every: 0,
        ..MetaParams::default()
    };
    let sp = SinusoidParams::default();
    println!(
        "autodidact sinusoid MAML: {iterations} meta-iterations, seed {seed}, meta-batch {}, K {} + {} query, inner lr {}, Adam {}",
        hp.meta_batch, sp.shots, sp.queries, hp.inner_lr, hp.outer_lr
    );
    let dist = Sinusoid::new(sp.clone()).unwrap();
    let mut maml =
        MetaLearner::with_distribution(Method::Maml, hp, Box::new(dist), Seed(seed)).unwrap();
    if init == "torch-default" {
        torch_default_init(&mut maml);
    }
    println!("weight init: {init}");

    let start = Instant::now();
    let mut window = 0.0;
    let mut window_n = 0u64;
    for it in 1..=iterations {
        window += maml.meta_step().unwrap();
        window_n += 1;
        if it % log_every == 0 || it == iterations {
            println!(
                "  iteration {it:>6}  meta-loss (mean of last {window_n}) {:.4}  elapsed {:.1} s",
                window / window_n as f64,
                start.elapsed().as_secs_f64()
            );
            window = 0.0;
            window_n = 0;
        }
    }
    let train_s = start.elapsed().as_secs_f64();
    let per_iter_ms = train_s * 1e3 / iterations as f64;

    let eval_start = Instant::now();
    let test = Sinusoid::new(sp).unwrap();
    let m = maml
        .evaluate_on(&test, Split::Test, eval_tasks, "")
        .unwrap();
    let eval_s = eval_start.elapsed().as_secs_f64();
    let get = |k: &str| m.get(k).copied().unwrap_or(f64::NAN);
    let curves = curves_releafed(&maml, &test, Seed(seed), eval_tasks, 10, 0.01);
    let at = |k: usize| mean_ci95(&curves.iter().map(|c| c[k]).collect::<Vec<_>>());
    let (b, b_ci) = at(0);
    let (a1, a1_ci) = at(1);
    let (a10, a10_ci) = at(10);
    println!("training: {train_s:.1} s, {per_iter_ms:.3} ms per meta-iteration");
    println!(
        "test, re-leafed fast weights ({eval_tasks} tasks): query MSE before {b:.4} ± {b_ci:.4}, after 1 step {a1:.4} ± {a1_ci:.4}, after 10 steps {a10:.4} ± {a10_ci:.4}"
    );
    println!(
        "test, library evaluate_on ({eval_tasks} tasks, {eval_s:.1} s): query MSE before {:.4} ± {:.4}, after 1 step {:.4} ± {:.4}, after 10 steps {:.4} ± {:.4}",
        get("query_mse_before"),
        get("query_mse_before_ci95"),
        get("query_mse_after_1"),
        get("query_mse_after_1_ci95"),
        get("query_mse_after"),
        get("query_mse_after_ci95"),
    );
    println!(
        "JSON {}",
        serde_json::json!({
            "impl": "autodidact",
            "bench": "sinusoid_maml",
            "iterations": iterations,
            "seed": seed,
            "init": init,
            "eval_tasks": eval_tasks,
            "train_s": train_s,
            "ms_per_meta_iteration": per_iter_ms,
            "eval_s": eval_s,
            "mse_before": b,
            "mse_before_ci95": b_ci,
            "mse_after_1": a1,
            "mse_after_1_ci95": a1_ci,
            "mse_after_10": a10,
            "mse_after_10_ci95": a10_ci,
            "lib_mse_before": get("query_mse_before"),
            "lib_mse_before_ci95": get("query_mse_before_ci95"),
            "lib_mse_after_1": get("query_mse_after_1"),
            "lib_mse_after_1_ci95": get("query_mse_after_1_ci95"),
            "lib_mse_after_10": get("query_mse_after"),
            "lib_mse_after_10_ci95": get("query_mse_after_ci95"),
        })
    );
}
