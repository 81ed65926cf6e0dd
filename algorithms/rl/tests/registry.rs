#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The six algorithms are registered with documented, validated hyperparameters.

use autodidact_core::{EnvKind, Hyperparams, Registry};
use autodidact_rl::{
    DqnParams, PolicyEvaluationParams, PolicyIterationParams, QLearningParams, SarsaParams,
    ValueIterationParams,
};

const NAMES: [&str; 6] = [
    "policy-evaluation",
    "value-iteration",
    "policy-iteration",
    "q-learning",
    "sarsa",
    "dqn",
];

#[test]
fn every_algorithm_is_registered_with_documented_defaults() {
    autodidact_rl::link();
    let reg = Registry::from_inventory().unwrap();
    for name in NAMES {
        let a = reg
            .algorithm(name)
            .unwrap_or_else(|| panic!("{name} is not registered"));
        assert_eq!(a.family, "reinforcement learning");
        assert_eq!(a.crate_name, "autodidact-rl");
        assert_eq!(a.accepts, &[EnvKind::Rl]);
        let docs = (a.params)();
        let config = (a.default_config)();
        let documented: Vec<&str> = docs.iter().map(|d| d.key).collect();
        for key in config.keys() {
            assert!(
                documented.contains(&key.as_str()),
                "{name}: `{key}` is undocumented"
            );
        }
        for d in &docs {
            assert!(
                config.contains_key(d.key),
                "{name}: `{}` has no default",
                d.key
            );
            assert!(!d.ty.is_empty() && !d.range.is_empty() && !d.doc.is_empty());
        }
        assert!(config.contains_key("total_steps"), "{name}");
    }
}

fn refuses<P: Hyperparams + std::fmt::Debug>(key: &str, value: toml::Value) {
    let mut c = P::default_config();
    c.insert(key.into(), value);
    let err = P::from_config(&c).unwrap_err().to_string();
    assert!(err.contains(key), "{err}");
}

#[test]
fn invalid_values_and_unknown_keys_name_the_key() {
    refuses::<DqnParams>("gamma", 1.5.into());
    refuses::<DqnParams>("loss", "l1".into());
    refuses::<DqnParams>("n_step", 0.into());
    refuses::<DqnParams>("tau", 0.0.into());
    refuses::<DqnParams>("hidden", toml::Value::Array(vec![0.into()]));
    refuses::<DqnParams>("batch_sise", 32.into());
    refuses::<QLearningParams>("learning_rate", 0.0.into());
    refuses::<QLearningParams>("epsilon_schedule", "cosine".into());
    refuses::<SarsaParams>("exploration_fraction", 2.0.into());
    refuses::<ValueIterationParams>("tolerance", (-1.0).into());
    refuses::<PolicyIterationParams>("evaluation", "guess".into());
    refuses::<PolicyEvaluationParams>("policy", "random".into());
    let mut c = PolicyEvaluationParams::default_config();
    c.insert("policy".into(), "actions".into());
    assert!(PolicyEvaluationParams::from_config(&c)
        .unwrap_err()
        .to_string()
        .contains("actions"));
}

#[test]
fn rl_zoo_cartpole_values() {
    let p = DqnParams::rl_zoo_cartpole();
    p.validate().unwrap();
    assert_eq!(
        (
            p.learning_rate,
            p.batch_size,
            p.buffer_size,
            p.learning_starts,
            p.gamma
        ),
        (2.3e-3, 64, 100_000, 1000, 0.99)
    );
    assert_eq!(
        (
            p.target_update_interval,
            p.train_freq,
            p.gradient_steps,
            p.exploration_fraction,
            p.exploration_final_eps
        ),
        (10, 256, 128, 0.16, 0.04)
    );
    assert_eq!(p.hidden, vec![256, 256]);
    assert_eq!(p.total_steps, 50_000);
}
