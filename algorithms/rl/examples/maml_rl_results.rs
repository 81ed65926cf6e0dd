//! The MAML-RL results of `docs/meta-rl.md`: for one environment and seed, the returns on
//! held-out (test-split) goals after 0, 1, 2, 3 inner steps of
//!
//! - `maml-dice`: MAML-RL with the DiCE meta-gradient (the configuration file as it is),
//! - `maml-fo`: first-order MAML-RL (`first_order = true`),
//! - `pretrained`: one policy trained on all training goals without adaptation
//!   (`inner_steps = 0`), then fine-tuned the same way,
//! - `random`: the untrained initial policy, fine-tuned the same way,
//!
//! and the optimum of the same goals; one JSON line per variant. With `val_every` > 0 in the
//! configuration, each trained variant is tested with its weights from the validation point
//! with the best return after one inner step on validation goals (`restored_iteration`).
//!
//! ```text
//! cargo run --release -p autodidact-rl --example maml_rl_results -- ENV CONFIG [--seed S]
//! ```
//!
//! `ENV` is `navigation-2d` or `gridworld-goals`, `CONFIG` one of `bench/meta-rl/*.toml`
//! (hyperparameters at the top level, the environment's in `[env]`). Every variant of a seed
//! shares the initial weights, the goal split and the evaluation goals and episodes. The same
//! runs through the runner: `autodidact run maml-rl --env ENV --config CONFIG --seed S`
//! (`--set first_order=true`, `--set inner_steps=0`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use autodidact_core::{Config, EnvSpec, Registry, Seed};

fn main() {
    autodidact_rl::link();
    autodidact_envs::link();
    let args: Vec<String> = std::env::args().collect();
    let env = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "navigation-2d".into());
    let file = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "bench/meta-rl/navigation.toml".into());
    let seed: u64 = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // `--only a,b` runs some variants; `--set key=value` (TOML value) overrides the file.
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').map(String::from).collect());
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut config: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let file_env = config.remove("env");
    for (i, a) in args.iter().enumerate() {
        if a == "--set" {
            let kv = args.get(i + 1).expect("--set key=value");
            let t: Config = toml::from_str(kv).unwrap_or_else(|e| panic!("--set {kv}: {e}"));
            config.extend(t);
        }
    }
    let mut env_config: Config = Config::new();
    for part in [file_env, config.remove("env")].into_iter().flatten() {
        if let toml::Value::Table(t) = part {
            env_config.extend(t);
        }
    }
    let reg = Registry::from_inventory().unwrap();
    let entry = reg
        .env(&env)
        .unwrap_or_else(|| panic!("no environment {env}"));
    let mut full = (entry.default_config)();
    full.extend(env_config);
    let spec = EnvSpec {
        entry,
        config: full,
    };
    let algo = reg.algorithm("maml-rl").unwrap();
    for (variant, overrides) in [
        ("random", vec![]),
        ("maml-dice", vec![]),
        ("maml-fo", vec![("first_order", toml::Value::from(true))]),
        ("pretrained", vec![("inner_steps", toml::Value::from(0))]),
    ] {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|v| v == variant))
        {
            continue;
        }
        let mut c = config.clone();
        for (k, v) in overrides {
            c.insert(k.into(), v);
        }
        let mut a = (algo.build)(&c, &spec, Seed(seed)).unwrap();
        let t = Instant::now();
        // With `val_every` set, the runner's early stopping: keep the weights with the best
        // return on validation goals (the learner's selection metric) and test those.
        let select = a.selection_metric().map(|(k, _)| format!("val_{k}"));
        let mut best: Option<(f64, u64, Vec<u8>)> = None;
        if variant != "random" {
            while a.steps_done() < a.total_steps() {
                let m = a.train_step().unwrap();
                if !m.is_empty() {
                    eprintln!("{env} {variant} seed {seed} it {}: {m:?}", a.steps_done());
                }
                if let Some(v) = select.as_ref().and_then(|k| m.get(k)) {
                    if best.as_ref().is_none_or(|(b, _, _)| *v > *b) {
                        best = Some((*v, a.steps_done(), a.save().unwrap()));
                    }
                }
            }
        }
        let train_s = t.elapsed().as_secs_f64();
        let iterations = a.steps_done();
        let restored = best.map(|(_, it, bytes)| {
            a.load(&bytes).unwrap();
            it
        });
        let m = a.evaluate(None).unwrap();
        let mut line = serde_json::json!({
            "env": env, "variant": variant, "seed": seed, "config": file,
            "iterations": iterations, "train_s": train_s, "restored_iteration": restored,
        });
        for (k, v) in m {
            line[k] = serde_json::json!(v);
        }
        println!("{line}");
    }
}
