//! RL² through the registry: it builds on both meta-RL distributions, refuses what it cannot
//! train on, resumes bit for bit, and learns to explore and exploit a two-armed bandit
//! within a trial.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_core::{Algorithm, Registry, Seed};
use common::spec;
use toml::Value;

fn rl2(
    overrides: &[(&str, Value)],
    env: &autodidact_core::EnvSpec,
    seed: u64,
) -> Box<dyn Algorithm> {
    common::build("rl2", overrides, env, seed)
}

fn small() -> Vec<(&'static str, Value)> {
    vec![
        ("trials_per_iteration", Value::Integer(6)),
        ("minibatch_trials", Value::Integer(3)),
        ("n_epochs", Value::Integer(2)),
        ("hidden", Value::Integer(8)),
        ("eval_trials", Value::Integer(5)),
    ]
}

#[test]
fn resumes_bit_for_bit_on_both_distributions() {
    for env in [
        spec(
            "bandit-distribution",
            &[("arms", Value::Integer(3)), ("horizon", Value::Integer(5))],
        ),
        spec("gridworld-goals", &[("max_steps", Value::Integer(20))]),
    ] {
        let mut a = rl2(&small(), &env, 7);
        a.train_step().unwrap();
        let bytes = a.save().unwrap();
        let mut b = rl2(&small(), &env, 7);
        b.load(&bytes).unwrap();
        for _ in 0..2 {
            let x = a.train_step().unwrap();
            let y = b.train_step().unwrap();
            let bits = |m: &autodidact_core::Metrics| -> Vec<(String, u64)> {
                m.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
            };
            assert_eq!(bits(&x), bits(&y), "{}", env.name());
            assert!(x.contains_key("trial_return_mean") && x.contains_key("approx_kl"));
        }
        assert_eq!(a.save().unwrap(), b.save().unwrap(), "{}", env.name());
        let e1 = a.evaluate(None).unwrap();
        let e2 = b.evaluate(None).unwrap();
        assert_eq!(e1, e2);
        assert!(e1.contains_key("eval_episode_2_return_mean"));
        // The same seed again gives the same run; another seed another one.
        let mut c = rl2(&small(), &env, 8);
        c.train_step().unwrap();
        assert_ne!(c.save().unwrap(), bytes);
    }
}

#[test]
fn refuses_what_it_cannot_train_on() {
    autodidact_rl::link();
    let reg = Registry::from_inventory().unwrap();
    let entry = reg.algorithm("rl2").unwrap();
    // A single environment is not a distribution.
    let single = spec("bandit", &[]);
    let err = (entry.build)(&(entry.default_config)(), &single, Seed(0))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("rl2") && err.contains("distribution"), "{err}");
    // Checked hyperparameters name the key.
    let env = spec("bandit-distribution", &[]);
    let mut config = (entry.default_config)();
    config.insert("hidden".into(), Value::Integer(0));
    let err = (entry.build)(&config, &env, Seed(0))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("hidden"), "{err}");
    // Another network's checkpoint is refused.
    let mut a = rl2(&small(), &env, 1);
    let mut bigger = small();
    bigger.push(("hidden", Value::Integer(9)));
    let b = rl2(&bigger, &env, 1);
    let err = a.load(&b.save().unwrap()).unwrap_err().to_string();
    assert!(err.contains("GRU units"), "{err}");
}

/// Two arms, ten pulls: random play earns 5 in expectation, the Bayes-optimal policy
/// (6.02, `bandit_reference`). A short training (300,000 pulls, seconds) must take RL² well
/// past random: more than 4 standard errors above 5.4.
#[test]
fn learns_to_exploit_a_two_armed_bandit() {
    let env = spec(
        "bandit-distribution",
        &[("arms", Value::Integer(2)), ("horizon", Value::Integer(10))],
    );
    let overrides = vec![
        ("episodes_per_trial", Value::Integer(1)),
        ("trials_per_iteration", Value::Integer(64)),
        ("minibatch_trials", Value::Integer(16)),
        ("hidden", Value::Integer(32)),
        ("learning_rate", Value::Float(3e-3)),
        ("total_steps", Value::Integer(300_000)),
        ("eval_trials", Value::Integer(2000)),
    ];
    let mut a = rl2(&overrides, &env, 3);
    let before = a.evaluate(None).unwrap()["eval_return_mean"];
    while a.steps_done() < a.total_steps() {
        a.train_step().unwrap();
    }
    let m = a.evaluate(None).unwrap();
    let (after, se) = (m["eval_return_mean"], m["eval_return_se"]);
    assert!(
        after - 4.0 * se > 5.4,
        "before {before:.3}, after {after:.3} ± {se:.3}"
    );
}
