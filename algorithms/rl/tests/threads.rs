//! The thread count changes no number: PPO, A2C, REINFORCE, DQN, MAML-RL and RL² trained at 1
//! and 2 threads (and at the default, every core) give the same bits in every logged metric,
//! the evaluation and the checkpoint. The evaluations have several pieces (9 episodes: pieces
//! of 3; MAML-RL's tasks; 70 RL² trials: pieces of at most 32), so the second thread has work.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_core::{EnvSpec, Hyperparams as _, Metrics};
use autodidact_rl::maml_rl::MamlRlParams;
use autodidact_rl::pg::PgParams;
use autodidact_rl::{DqnParams, Rl2Params};
use common::{build, spec};
use toml::Value;

/// Every metric as (key, bits), so a NaN compares equal to itself and -0 differs from 0.
fn bits(m: &Metrics) -> Vec<(String, u64)> {
    m.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
}

/// A whole run of `algo` on `env` at `threads`: every step's metrics, the evaluation and the
/// checkpoint.
fn run(
    algo: &str,
    env: &EnvSpec,
    config: &[(&str, Value)],
    threads: i64,
) -> (Vec<Vec<(String, u64)>>, Vec<u8>) {
    let mut config = config.to_vec();
    config.push(("threads", Value::Integer(threads)));
    let mut a = build(algo, &config, env, 11);
    let mut logs = Vec::new();
    while a.steps_done() < a.total_steps() {
        logs.push(bits(&a.train_step().unwrap()));
    }
    let eval = a.evaluate(None).unwrap();
    assert!(!eval.is_empty(), "{algo}");
    logs.push(bits(&eval));
    (logs, a.save().unwrap())
}

/// Runs at 1, 2 and the default threads and checks they agree, naming the part that differs.
fn same_at_any_thread_count(algo: &str, env: &EnvSpec, config: &[(&str, Value)], key: &str) {
    let one = run(algo, env, config, 1);
    assert!(
        one.0.iter().flatten().any(|(k, _)| k == key),
        "{algo}: no {key} logged"
    );
    for threads in [2, 0] {
        let other = run(algo, env, config, threads);
        assert!(
            one.0 == other.0,
            "{algo} at {threads} threads: the logs differ"
        );
        assert!(
            one.1 == other.1,
            "{algo} at {threads} threads: the checkpoints differ"
        );
    }
}

#[test]
fn ppo_a2c_and_reinforce_give_the_same_bits_on_one_and_two_threads() {
    let cart = spec("cartpole", &[]);
    let common: Vec<(&str, Value)> = vec![
        ("total_steps", Value::Integer(600)),
        ("n_envs", Value::Integer(2)),
        ("hidden", Value::Array(vec![Value::Integer(16)])),
        ("log_every", Value::Integer(100)),
        ("eval_episodes", Value::Integer(9)),
        ("eval_max_steps", Value::Integer(60)),
    ];
    let mut ppo = common.clone();
    ppo.extend([
        ("n_steps", Value::Integer(50)),
        ("batch_size", Value::Integer(25)),
        ("n_epochs", Value::Integer(2)),
    ]);
    same_at_any_thread_count("ppo", &cart, &ppo, "approx_kl");
    same_at_any_thread_count("a2c", &cart, &common, "eval_return_mean");
    let grid = spec("gridworld", &[("map", "frozen-lake-4x4".into())]);
    same_at_any_thread_count("reinforce", &grid, &common, "value_gap");
}

#[test]
fn dqn_gives_the_same_bits_on_one_and_two_threads() {
    let cart = spec("cartpole", &[]);
    let config: Vec<(&str, Value)> = vec![
        ("total_steps", Value::Integer(500)),
        ("learning_starts", Value::Integer(300)),
        ("batch_size", Value::Integer(96)),
        ("train_freq", Value::Integer(20)),
        ("gradient_steps", Value::Integer(8)),
        ("hidden", Value::Array(vec![Value::Integer(32)])),
        ("log_every", Value::Integer(100)),
        ("eval_episodes", Value::Integer(9)),
        ("eval_max_steps", Value::Integer(60)),
    ];
    same_at_any_thread_count("dqn", &cart, &config, "loss");
}

#[test]
fn maml_rl_and_rl2_give_the_same_bits_on_one_and_two_threads() {
    let nav = spec("navigation-2d", &[("max_steps", Value::Integer(8))]);
    let maml: Vec<(&str, Value)> = vec![
        ("meta_iterations", Value::Integer(3)),
        ("meta_batch", Value::Integer(3)),
        ("episodes_per_task", Value::Integer(3)),
        ("horizon", Value::Integer(8)),
        ("hidden", Value::Array(vec![Value::Integer(8)])),
        ("eval_tasks", Value::Integer(3)),
        ("eval_inner_steps", Value::Integer(1)),
        ("val_tasks", Value::Integer(2)),
        ("val_every", Value::Integer(2)),
        ("log_every", Value::Integer(1)),
    ];
    same_at_any_thread_count("maml-rl", &nav, &maml, "val_return_after_1");
    let bandits = spec(
        "bandit-distribution",
        &[("arms", Value::Integer(3)), ("horizon", Value::Integer(5))],
    );
    let rl2: Vec<(&str, Value)> = vec![
        ("total_steps", Value::Integer(120)),
        ("trials_per_iteration", Value::Integer(6)),
        ("minibatch_trials", Value::Integer(3)),
        ("n_epochs", Value::Integer(2)),
        ("hidden", Value::Integer(8)),
        ("log_every", Value::Integer(1)),
        ("eval_trials", Value::Integer(70)),
    ];
    same_at_any_thread_count("rl2", &bandits, &rl2, "eval_episode_2_return_mean");
}

#[test]
fn every_learner_takes_threads_from_0_to_256_and_defaults_to_every_core() {
    assert_eq!(PgParams::default().threads, 0);
    assert_eq!(DqnParams::default().threads, 0);
    assert_eq!(MamlRlParams::default().threads, 0);
    assert_eq!(Rl2Params::default().threads, 0);
    let errors = [
        PgParams {
            threads: 257,
            ..PgParams::default()
        }
        .check()
        .err(),
        DqnParams {
            threads: 257,
            ..DqnParams::default()
        }
        .check()
        .err(),
        MamlRlParams {
            threads: 257,
            ..MamlRlParams::default()
        }
        .check()
        .err(),
        Rl2Params {
            threads: 257,
            ..Rl2Params::default()
        }
        .check()
        .err(),
    ];
    for e in errors {
        let e = e.expect("257 threads is refused").to_string();
        assert!(e.contains("threads"), "{e}");
    }
    assert!(PgParams {
        threads: 256,
        ..PgParams::default()
    }
    .check()
    .is_ok());
}
