//! The registry every crate fills: no name twice, every shared environment present, every
//! key with a default documented, and every algorithm building with its defaults and resuming
//! from its own checkpoint exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use autodidact_core::{Algorithm, EnvKind, EnvSpec, Registry, Seed};
use autodidact_runner as _;

fn registry() -> Registry {
    Registry::from_inventory().expect("no name is registered twice")
}

#[test]
fn every_shared_environment_is_registered() {
    let r = registry();
    for name in [
        "sinusoid",
        "omniglot",
        "intents",
        "gaussian-classes",
        "gridworld",
        "gridworld-goals",
        "cartpole",
        "bandit",
        "split",
        "permuted",
    ] {
        assert!(
            r.env(name).is_some(),
            "environment `{name}` is not registered"
        );
    }
}

fn undocumented(defaults: &BTreeSet<String>, docs: &BTreeSet<String>) -> Vec<String> {
    defaults.difference(docs).cloned().collect()
}

/// Every key with a default is documented (`describe` shows it with its type, range and
/// meaning); a documented key may lack a default (an optional parameter).
#[test]
fn every_parameter_with_a_default_is_documented() {
    let r = registry();
    let mut problems = Vec::new();
    for a in r.algorithms() {
        let defaults: BTreeSet<String> = (a.default_config)().keys().cloned().collect();
        let docs: BTreeSet<String> = (a.params)().iter().map(|d| d.key.to_string()).collect();
        let missing = undocumented(&defaults, &docs);
        if !missing.is_empty() {
            problems.push(format!(
                "algorithm {} ({}): undocumented keys {missing:?}",
                a.name, a.crate_name
            ));
        }
    }
    for e in r.envs() {
        let defaults: BTreeSet<String> = (e.default_config)().keys().cloned().collect();
        let docs: BTreeSet<String> = (e.params)().iter().map(|d| d.key.to_string()).collect();
        let missing = undocumented(&defaults, &docs);
        if !missing.is_empty() {
            problems.push(format!(
                "environment {} ({}): undocumented keys {missing:?}",
                e.name, e.crate_name
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A cheap environment of each kind, built from its defaults (no data files needed).
fn cheap_env(r: &Registry, kind: EnvKind) -> Option<EnvSpec> {
    let name = match kind {
        EnvKind::FewShotRegression => "sinusoid",
        EnvKind::FewShotClassification => "gaussian-classes",
        EnvKind::Rl => "gridworld",
        EnvKind::MetaRl => "gridworld-goals",
        EnvKind::Continual => "split",
    };
    let entry = r.env(name)?;
    Some(EnvSpec {
        entry,
        config: (entry.default_config)(),
    })
}

/// Two steps, a checkpoint, two more steps; a fresh build loaded from the checkpoint takes
/// the same two steps to the same state.
#[test]
fn every_algorithm_builds_with_its_defaults_and_resumes_exactly() {
    let r = registry();
    for a in r.algorithms() {
        for &kind in a.accepts {
            let Some(mut env) = cheap_env(&r, kind) else {
                continue;
            };
            if a.name == "oml" {
                // OML meta-trains on classes kept out of the stream: its default trajectories
                // take 3, so 3 more classes, kept out.
                env.config
                    .insert("classes".into(), toml::Value::Integer(13));
                env.config
                    .insert("pretrain_classes".into(), toml::Value::Integer(3));
            }
            let what = format!("{} on {}", a.name, env.name());
            let build = || -> Box<dyn Algorithm> {
                (a.build)(&(a.default_config)(), &env, Seed(5))
                    .unwrap_or_else(|e| panic!("{what}: does not build with its defaults: {e}"))
            };
            let mut straight = build();
            assert!(straight.total_steps() > 0, "{what}: no steps");
            for _ in 0..2.min(straight.total_steps()) {
                straight.train_step().unwrap();
            }
            let bytes = straight.save().unwrap();
            let mut resumed = build();
            resumed.load(&bytes).unwrap();
            assert_eq!(resumed.steps_done(), straight.steps_done(), "{what}");
            for _ in 0..2 {
                if straight.steps_done() >= straight.total_steps() {
                    break;
                }
                let x = straight.train_step().unwrap();
                let y = resumed.train_step().unwrap();
                let bits = |m: &autodidact_core::Metrics| -> Vec<(String, u64)> {
                    m.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
                };
                assert_eq!(bits(&x), bits(&y), "{what}: metrics differ after resuming");
            }
            assert_eq!(
                straight.save().unwrap(),
                resumed.save().unwrap(),
                "{what}: states differ after resuming"
            );
        }
    }
}
