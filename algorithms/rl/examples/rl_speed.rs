//! DQN's training speed on CartPole-v1 with rl-baselines3-zoo's hyperparameters, for the
//! side-by-side comparison with Stable-Baselines3 (`bench/rl/run_sb3_cartpole.sh`): one run
//! without evaluation, timed in wall-clock and CPU seconds of this process, printed as one
//! JSON line.
//!
//! ```text
//! cargo run --release -p autodidact-rl --example rl_speed -- [--steps 50000] [--seed 0] [--threads 2]
//! ```
//!
//! The one part of the former `rl_results` driver that `autodidact sweep` / `compare` do not
//! do: the CPU seconds inside the process (both sides report them the same way). The RL result
//! tables are made by `bench/rl/run_results.sh` through the runner.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use autodidact_core::Hyperparams as _;
use autodidact_core::{Algorithm, Seed};
use autodidact_envs::{CartPole, CartPoleParams};
use autodidact_rl::{Dqn, DqnParams};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cartpole_env(seed: u64) -> Box<CartPole> {
    Box::new(CartPole::from_params(&CartPoleParams::default(), Seed(seed).derive("env")).unwrap())
}

/// CPU seconds this process has used (all threads), from `/proc/self/stat` (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    // After the command name: field 3 (state) is token 0, so utime (14) and stime (15) are
    // tokens 11 and 12, in clock ticks (100 per second).
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

fn speed(steps: u64, seed: u64, threads: usize) {
    let p = DqnParams {
        // The timed steps, then a stretch under the FLOP meter.
        total_steps: steps + (steps / 10).max(1),
        threads,
        ..DqnParams::rl_zoo_cartpole()
    };
    let mut a = Dqn::new(
        p.check().unwrap(),
        cartpole_env(seed),
        "cartpole",
        Seed(seed),
    )
    .unwrap();
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
        "{{\"impl\": \"autodidact\", \"threads\": {threads}, \"steps\": {steps}, \"seconds\": {secs:.3}, \"cpu_seconds\": {cpu:.2}, \"steps_per_second\": {:.1}, \"eval_return_mean\": {:.1}, \"gradient_steps\": {}, \"flops_per_step\": {flops_per_step:.1}}}",
        steps as f64 / secs,
        m["eval_return_mean"],
        a.gradient_steps()
    );
}

fn main() {
    speed(
        arg("--steps", 50_000),
        arg("--seed", 0),
        arg("--threads", 2) as usize,
    );
}
