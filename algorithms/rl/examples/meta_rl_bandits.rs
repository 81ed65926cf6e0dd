//! The bandit table of `docs/meta-rl-bandits.md` (Duan et al. 2016, table 1): the exact and
//! Monte Carlo references, and RL² runs, printed as JSON lines.
//!
//! ```text
//! cargo run --release -p autodidact-rl --example meta_rl_bandits -- references K N [--trials T] [--seed S]
//! cargo run --release -p autodidact-rl --example meta_rl_bandits -- rl2 K N [--seed S] [--config FILE] [--eval-trials E]
//! ```
//!
//! `references` evaluates every reference policy on `T` bandits drawn from the prior (the
//! same bandits and outcome sequences for every policy) and, where the programme is
//! tractable, exactly. `rl2` trains RL² on `bandit-distribution` with K arms and N pulls
//! (one episode of N pulls per trial; the configuration file's keys override the defaults)
//! and evaluates it on `E` test trials.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use autodidact_core::{Config, EnvSpec, Registry, Seed};
use autodidact_rl::bandit_reference::{
    canonical_state_count, exact_return, monte_carlo, Policy, PolicyKind,
};

fn arg<T: std::str::FromStr>(name: &str) -> Option<T> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).cloned().unwrap_or_default();
    let k: usize = args.get(2).and_then(|v| v.parse().ok()).expect("K");
    let n: usize = args.get(3).and_then(|v| v.parse().ok()).expect("N");
    let seed: u64 = arg("--seed").unwrap_or(0);
    match mode.as_str() {
        "references" => references(k, n, arg("--trials").unwrap_or(20_000), seed),
        "rl2" => rl2(
            k,
            n,
            seed,
            arg("--config"),
            arg("--eval-trials").unwrap_or(10_000),
        ),
        other => panic!("unknown mode {other:?}: references or rl2"),
    }
}

fn references(k: usize, n: usize, trials: usize, seed: u64) {
    let states = canonical_state_count(k, n - 1);
    for kind in PolicyKind::ALL {
        let start = Instant::now();
        let mut policy = match Policy::new(kind, k, n) {
            Ok(p) => p,
            Err(e) => {
                println!(
                    "{{\"policy\":\"{}\",\"arms\":{k},\"pulls\":{n},\"states\":{states},\"error\":{:?}}}",
                    kind.name(),
                    e.to_string()
                );
                continue;
            }
        };
        let exact = if policy.is_deterministic() {
            exact_return(&mut policy, k, n, 20_000_000).ok()
        } else {
            None
        };
        let est = monte_carlo(&mut policy, k, n, trials, Seed(seed));
        let exact = exact.map_or("null".to_string(), |v| format!("{v:.6}"));
        println!(
            "{{\"policy\":\"{}\",\"arms\":{k},\"pulls\":{n},\"states\":{states},\"exact\":{exact},\"mc_mean\":{:.6},\"mc_se\":{:.6},\"trials\":{trials},\"seconds\":{:.2}}}",
            kind.name(),
            est.mean,
            est.std_error,
            start.elapsed().as_secs_f64()
        );
    }
}

fn rl2(k: usize, n: usize, seed: u64, config: Option<String>, eval_trials: u64) {
    autodidact_envs::link();
    autodidact_rl::link();
    let reg = Registry::from_inventory().unwrap();
    let env = reg.env("bandit-distribution").unwrap();
    let mut env_config = (env.default_config)();
    env_config.insert("arms".into(), toml::Value::Integer(k as i64));
    env_config.insert("horizon".into(), toml::Value::Integer(n as i64));
    let spec = EnvSpec {
        entry: env,
        config: env_config,
    };
    let entry = reg.algorithm("rl2").unwrap();
    let mut hp: Config = (entry.default_config)();
    hp.insert("episodes_per_trial".into(), toml::Value::Integer(1));
    if let Some(path) = config {
        let text = std::fs::read_to_string(&path).unwrap();
        let table: Config = toml::from_str(&text).unwrap();
        hp.extend(table);
    }
    hp.insert(
        "eval_trials".into(),
        toml::Value::Integer(eval_trials as i64),
    );
    let mut alg = (entry.build)(&hp, &spec, Seed(seed)).unwrap();
    let start = Instant::now();
    let mut last = Default::default();
    while alg.steps_done() < alg.total_steps() {
        let m = alg.train_step().unwrap();
        if !m.is_empty() {
            last = m;
        }
    }
    let train_s = start.elapsed().as_secs_f64();
    let m = alg.evaluate(None).unwrap();
    let get = |m: &autodidact_core::Metrics, key: &str| m.get(key).copied().unwrap_or(f64::NAN);
    println!(
        "{{\"policy\":\"RL2\",\"arms\":{k},\"pulls\":{n},\"seed\":{seed},\"steps\":{},\"train_seconds\":{train_s:.1},\"last_train_return\":{:.4},\"eval_mean\":{:.6},\"eval_se\":{:.6},\"eval_trials\":{eval_trials}}}",
        alg.steps_done(),
        get(&last, "trial_return_mean"),
        get(&m, "eval_return_mean"),
        get(&m, "eval_return_se"),
    );
}
