//! PPO's or A2C's training speed on CartPole-v1 with rl-baselines3-zoo's hyperparameters, for
//! the side-by-side comparison with Stable-Baselines3 (`bench/rl/run_sb3_pg.sh`): one run
//! without evaluation during training, timed in wall-clock and CPU seconds of this process,
//! then 10 deterministic evaluation episodes; printed as one JSON line.
//!
//! ```text
//! cargo run --release -p autodidact-rl --example pg_speed -- ppo|a2c [--steps N] [--seed 0] [--threads 1]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use autodidact_core::Hyperparams as _;
use autodidact_core::{Algorithm, Seed};
use autodidact_envs::CartPole;
use autodidact_rl::pg::{Method, PgAgent, PgParams};

fn arg(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

/// CPU seconds this process has used, from `/proc/self/stat` (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "ppo".into());
    let (method, zoo) = match which.as_str() {
        "a2c" => (Method::A2c, PgParams::a2c_zoo_cartpole()),
        _ => (Method::Ppo, PgParams::ppo_zoo_cartpole()),
    };
    let steps = arg("--steps").unwrap_or(zoo.total_steps);
    let seed = arg("--seed").unwrap_or(0);
    // One thread unless asked (the `threads` key's default is every core).
    let threads = arg("--threads").unwrap_or(1) as usize;
    let p = PgParams {
        threads,
        // The timed steps, then a stretch under the FLOP meter.
        total_steps: steps + (steps / 8).max(1),
        ..zoo
    };
    let env = Box::new(CartPole::with_seed(Seed(seed).derive("env")));
    let mut a = PgAgent::new(method, p.check().unwrap(), env, "cartpole", Seed(seed)).unwrap();
    let (t, cpu0) = (Instant::now(), cpu_seconds());
    while a.steps_done() < steps {
        a.train_step().unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let timed = a.steps_done();
    let meter = autodidact_core::flops::Meter::start();
    while a.steps_done() < a.total_steps() {
        a.train_step().unwrap();
    }
    let flops_per_step = 2.0 * meter.stop() as f64 / (a.steps_done() - timed).max(1) as f64;
    let m = a.evaluate(None).unwrap();
    println!(
        "{{\"impl\": \"autodidact\", \"threads\": {threads}, \"algo\": \"{}\", \"steps\": {}, \"seed\": {seed}, \"seconds\": {secs:.3}, \"cpu_seconds\": {cpu:.2}, \"steps_per_second\": {:.1}, \"eval_return_mean\": {:.1}, \"updates\": {}, \"flops_per_step\": {flops_per_step:.1}}}",
        method.name(),
        timed,
        timed as f64 / secs,
        m["eval_return_mean"],
        a.updates()
    );
}
