//! Our side of `bench/meta-rl/speed.sh`: MAML-RL meta-iterations per second on navigation-2d
//! with `bench/meta-rl/navigation.toml` (20 tasks × 20 episodes × 30 steps, 64-64 policy, one
//! second-order inner step), after one untimed warm-up iteration; one JSON line.
//!
//! ```text
//! cargo run --release -p autodidact-rl --example maml_rl_speed -- [--iterations 5] [--seed 0]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use autodidact_core::{Config, EnvSpec, Registry, Seed};

fn arg(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn main() {
    autodidact_rl::link();
    autodidact_envs::link();
    let iterations = arg("--iterations").unwrap_or(5);
    let seed = arg("--seed").unwrap_or(0);
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../bench/meta-rl/navigation.toml"
    );
    let mut config: Config = toml::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let env_config: Config = match config.remove("env") {
        Some(toml::Value::Table(t)) => t.into_iter().collect(),
        _ => Config::new(),
    };
    config.insert(
        "meta_iterations".into(),
        toml::Value::from(iterations as i64 + 1),
    );
    // One thread unless told otherwise: PyTorch's side runs on one (the default, 0, is every
    // core).
    let threads = arg("--threads").unwrap_or(1);
    config.insert("threads".into(), toml::Value::from(threads as i64));
    let reg = Registry::from_inventory().unwrap();
    let entry = reg.env("navigation-2d").unwrap();
    let mut full = (entry.default_config)();
    full.extend(env_config);
    let spec = EnvSpec {
        entry,
        config: full,
    };
    let algo = reg.algorithm("maml-rl").unwrap();
    let mut a = (algo.build)(&config, &spec, Seed(seed)).unwrap();
    a.train_step().unwrap(); // warm-up, not timed
    let t = Instant::now();
    for _ in 0..iterations {
        a.train_step().unwrap();
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "JSON {}",
        serde_json::json!({
            "impl": "autodidact", "iterations": iterations, "seconds": dt,
            "iterations_per_s": iterations as f64 / dt,
        })
    );
}
