//! The algorithm against a real environment: it learns, its hyperparameters are validated,
//! and a checkpoint restores every piece of state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::{Algorithm, Config, EnvSpec, Registry, Seed};
use autodidact_envs as _;
use third_party_algorithm as _;

fn build(overrides: &[(&str, toml::Value)]) -> Box<dyn Algorithm> {
    let registry = Registry::from_inventory().unwrap();
    let entry = registry.algorithm("linear-protonet").unwrap();
    let env_entry = registry.env("gaussian-classes").unwrap();
    let mut config: Config = (entry.default_config)();
    for (k, v) in overrides {
        config.insert((*k).to_string(), v.clone());
    }
    let env = EnvSpec {
        entry: env_entry,
        config: (env_entry.default_config)(),
    };
    (entry.build)(&config, &env, Seed(3)).unwrap()
}

#[test]
fn training_lowers_the_loss_and_beats_chance() {
    let mut alg = build(&[("iterations", 60.into()), ("eval_tasks", 50.into())]);
    let mut losses = Vec::new();
    while alg.steps_done() < alg.total_steps() {
        let m = alg.train_step().unwrap();
        if let Some(l) = m.get("loss") {
            losses.push(*l);
        }
    }
    assert!(losses.iter().all(|l| l.is_finite()));
    let first = losses[0];
    let last = *losses.last().unwrap();
    assert!(last < first, "loss went from {first} to {last}");
    let eval = alg.evaluate(None).unwrap();
    // 5-way: chance is 0.2.
    assert!(eval["test_accuracy"] > 0.4, "{eval:?}");
}

#[test]
fn a_checkpoint_continues_exactly() {
    let config = [("iterations", 12.into()), ("log_every", 1.into())];
    let mut straight = build(&config);
    for _ in 0..5 {
        straight.train_step().unwrap();
    }
    let bytes = straight.save().unwrap();
    let mut resumed = build(&config);
    resumed.load(&bytes).unwrap();
    assert_eq!(resumed.steps_done(), 5);
    while straight.steps_done() < straight.total_steps() {
        let a = straight.train_step().unwrap();
        let b = resumed.train_step().unwrap();
        assert_eq!(a, b);
    }
    assert_eq!(straight.save().unwrap(), resumed.save().unwrap());
    assert!(resumed.load(b"not a checkpoint").is_err());
}

#[test]
fn unknown_keys_and_wrong_environments_are_refused() {
    let registry = Registry::from_inventory().unwrap();
    let entry = registry.algorithm("linear-protonet").unwrap();
    let sinusoid = registry.env("sinusoid").unwrap();
    let err = Registry::check_kind(entry, "sinusoid", sinusoid.kind)
        .unwrap_err()
        .to_string();
    assert!(err.contains("few-shot classification"), "{err}");
    let mut config = (entry.default_config)();
    config.insert("embeding_dim".into(), 8.into());
    let env = EnvSpec {
        entry: registry.env("gaussian-classes").unwrap(),
        config: Config::new(),
    };
    let err = (entry.build)(&config, &env, Seed(0))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("embeding_dim") && err.contains("embedding_dim"),
        "{err}"
    );
}
