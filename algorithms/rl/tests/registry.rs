#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The nine algorithms are registered with documented, validated hyperparameters.

use autodidact_core::{EnvKind, Hyperparams, Registry};
use autodidact_rl::{
    DqnParams, PgParams, PolicyEvaluationParams, PolicyIterationParams, QLearningParams,
    SarsaParams, ValueIterationParams,
};

const NAMES: [&str; 9] = [
    "policy-evaluation",
    "value-iteration",
    "policy-iteration",
    "q-learning",
    "sarsa",
    "dqn",
    "reinforce",
    "a2c",
    "ppo",
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
    refuses::<PgParams>("gae_lambda", 1.5.into());
    refuses::<PgParams>("n_envs", 0.into());
    refuses::<PgParams>("clip_range", 0.0.into());
    refuses::<PgParams>("learning_rate_schedule", "cosine".into());
    refuses::<PgParams>("clip_rang", 0.2.into());
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

#[test]
fn rl_zoo_policy_gradient_values() {
    use autodidact_rl::pg::Decay;
    let p = PgParams::ppo_zoo_cartpole();
    p.validate().unwrap();
    assert_eq!(
        (p.n_envs, p.n_steps, p.batch_size, p.n_epochs, p.total_steps),
        (8, 32, 256, 20, 100_000)
    );
    assert_eq!(
        (
            p.gae_lambda,
            p.gamma,
            p.ent_coef,
            p.learning_rate,
            p.clip_range
        ),
        (0.8, 0.98, 0.0, 1e-3, 0.2)
    );
    assert_eq!(
        (p.learning_rate_schedule, p.clip_range_schedule),
        (Decay::Linear, Decay::Linear)
    );
    let a = PgParams::a2c_zoo_cartpole();
    a.validate().unwrap();
    assert_eq!(
        (a.n_envs, a.n_steps, a.ent_coef, a.total_steps),
        (8, 5, 0.0, 500_000)
    );
    assert_eq!(
        (a.learning_rate, a.gae_lambda, a.vf_coef, a.max_grad_norm),
        (7e-4, 1.0, 0.5, 0.5)
    );
    let q = PgParams::ppo_zoo_pendulum();
    q.validate().unwrap();
    assert_eq!(
        (
            q.n_envs,
            q.n_steps,
            q.gae_lambda,
            q.gamma,
            q.n_epochs,
            q.learning_rate
        ),
        (4, 1024, 0.95, 0.9, 10, 1e-3)
    );
    // The TOML files the docs give for the runner hold the same values.
    for (file, want) in [
        ("ppo-cartpole-zoo.toml", p),
        ("a2c-cartpole-zoo.toml", a),
        ("ppo-pendulum-zoo.toml", q),
    ] {
        let path = format!("{}/../../bench/rl/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let config: autodidact_core::Config = toml::from_str(&text).unwrap();
        let defaults = if file.starts_with("a2c") {
            PgParams::a2c()
        } else {
            PgParams::ppo()
        };
        let got = defaults.with_config(&config).unwrap().into_inner();
        assert_eq!(
            PgParams {
                log_every: 0,
                ..got
            },
            PgParams {
                log_every: 0,
                ..want
            },
            "{file}"
        );
    }
}
