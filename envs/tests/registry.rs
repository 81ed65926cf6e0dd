//! Every environment is registered by name, documents its keys, and builds from its defaults
//! (those that need data from tiny fixtures).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_core::{Action, Config, EnvInstance, EnvKind, Registry, Seed, Split};
use common::*;

const EXPECTED: &[(&str, EnvKind)] = &[
    ("bandit", EnvKind::Rl),
    ("bandit-distribution", EnvKind::MetaRl),
    ("cartpole", EnvKind::Rl),
    ("gaussian-classes", EnvKind::FewShotClassification),
    ("gridworld", EnvKind::Rl),
    ("gridworld-goals", EnvKind::MetaRl),
    ("intents", EnvKind::FewShotClassification),
    ("navigation-2d", EnvKind::MetaRl),
    ("omniglot", EnvKind::FewShotClassification),
    ("permuted", EnvKind::Continual),
    ("sinusoid", EnvKind::FewShotRegression),
    ("split", EnvKind::Continual),
];

#[test]
fn every_environment_is_registered_and_documented() {
    autodidact_envs::link();
    let reg = Registry::from_inventory().unwrap();
    for (name, kind) in EXPECTED {
        let e = reg
            .env(name)
            .unwrap_or_else(|| panic!("{name} is not registered"));
        assert_eq!(e.kind, *kind, "{name}");
        assert_eq!(e.crate_name, "autodidact-envs");
        let docs = (e.params)();
        assert!(!docs.is_empty(), "{name}");
        for (k, _) in (e.default_config)() {
            assert!(
                docs.iter().any(|d| d.key == k),
                "{name}: default key {k} is undocumented"
            );
        }
        for d in &docs {
            assert!(
                !d.doc.is_empty() && !d.range.is_empty() && !d.ty.is_empty(),
                "{name}.{}",
                d.key
            );
        }
    }
}

fn build(name: &str, cfg: Config) -> EnvInstance {
    let reg = Registry::from_inventory().unwrap();
    let e = reg.env(name).unwrap();
    let mut full = (e.default_config)();
    full.extend(cfg);
    let inst = (e.build)(&full, Seed(0)).unwrap_or_else(|err| panic!("{name}: {err}"));
    assert_eq!(inst.kind(), e.kind, "{name}");
    inst
}

#[test]
fn every_environment_builds_and_runs() {
    let root = temp_dir("registry");
    write_folder(
        &root.join("omni"),
        &omniglot_files("", &["A", "B", "C", "D", "E", "F"], 5, 17, 14),
    );
    std::fs::write(root.join("b77.csv"), intents_csv(30, 16, "category")).unwrap();
    let omni = root.join("omni").display().to_string();
    let csv = root.join("b77.csv").display().to_string();
    for (name, _) in EXPECTED {
        let cfg: Config = match *name {
            "omniglot" => [("data_dir".to_string(), toml::Value::from(omni.clone()))]
                .into_iter()
                .collect(),
            "intents" => [("data_dir".to_string(), toml::Value::from(csv.clone()))]
                .into_iter()
                .collect(),
            _ => Config::new(),
        };
        match build(name, cfg) {
            EnvInstance::Tasks(t) => {
                let task = t.task(Split::Validation, Seed(1), 0).unwrap();
                assert_eq!(
                    &task.support_x.shape()[1..],
                    t.input_shape().as_slice(),
                    "{name}"
                );
            }
            EnvInstance::Rl(mut env) => {
                let (obs, _) = env.reset(Some(1));
                assert_eq!(obs.len(), env.observation_space().flat_dim(), "{name}");
                let r = env.step(&Action::Discrete(0)).unwrap();
                assert_eq!(r.obs.len(), obs.len());
            }
            EnvInstance::MetaRl(d) => {
                let mut env = d.sample_env(Split::Train, &mut Seed(0).rng("m")).unwrap();
                env.reset(None);
                let a = match env.action_space().bounds() {
                    Some((low, _)) => Action::Continuous(vec![0.0; low.len()]),
                    None => Action::Discrete(0),
                };
                env.step(&a).unwrap();
            }
            EnvInstance::Stream(s) => assert!(!s.experiences().is_empty(), "{name}"),
        }
    }
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn unknown_keys_are_refused_with_the_valid_ones() {
    let reg = Registry::from_inventory().unwrap();
    for name in [
        "sinusoid",
        "gridworld",
        "cartpole",
        "bandit",
        "omniglot",
        "intents",
        "gaussian-classes",
        "gridworld-goals",
        "navigation-2d",
    ] {
        let e = reg.env(name).unwrap();
        let cfg: Config = [("wayz".to_string(), toml::Value::from(3))]
            .into_iter()
            .collect();
        let err = match (e.build)(&cfg, Seed(0)) {
            Err(err) => err.to_string(),
            Ok(_) => panic!("{name} accepted an unknown key"),
        };
        assert!(
            err.contains("wayz") && err.contains("valid keys"),
            "{name}: {err}"
        );
    }
    // The command line's `--set env.ways=20` on gaussian-classes.
    let e = reg.env("gaussian-classes").unwrap();
    let cfg: Config = [("ways".to_string(), toml::Value::from(20))]
        .into_iter()
        .collect();
    match (e.build)(&cfg, Seed(0)).unwrap() {
        EnvInstance::Tasks(t) => assert_eq!(
            t.kind(),
            autodidact_core::TaskKind::Classification { ways: 20 }
        ),
        _ => panic!(),
    }
    // A bad value names its key and range.
    let e = reg.env("gridworld").unwrap();
    let cfg: Config = [("slip".to_string(), toml::Value::from(1.5))]
        .into_iter()
        .collect();
    let err = (e.build)(&cfg, Seed(0)).err().unwrap().to_string();
    assert!(err.contains("slip") && err.contains("1.5"), "{err}");
}

#[test]
fn data_dir_accepts_a_string_or_a_list() {
    use autodidact_core::Hyperparams;
    let one: Config = toml::from_str("data_dir = \"a.zip\"").unwrap();
    let many: Config = toml::from_str("data_dir = [\"a.zip\", \"b.zip\"]").unwrap();
    assert_eq!(
        autodidact_envs::OmniglotParams::from_config(&one)
            .unwrap()
            .data_dir
            .0,
        vec!["a.zip"]
    );
    assert_eq!(
        autodidact_envs::OmniglotParams::from_config(&many)
            .unwrap()
            .data_dir
            .len(),
        2
    );
    assert_eq!(
        autodidact_envs::IntentsParams::from_config(&one)
            .unwrap()
            .data_dir
            .0,
        vec!["a.zip"]
    );
    let defaults = autodidact_envs::OmniglotParams::default_config();
    assert_eq!(
        *autodidact_envs::OmniglotParams::from_config(&defaults).unwrap(),
        autodidact_envs::OmniglotParams::default()
    );
}

#[test]
fn integers_are_accepted_for_float_keys_without_defaults() {
    use autodidact_core::Hyperparams;
    // `--set env.slip=0` arrives as a TOML integer; the optional float keys have no default
    // for the runner to coerce against.
    let cfg: Config = toml::from_str("slip = 0\nstep_reward = -1\nmax_steps = 7").unwrap();
    let p = autodidact_envs::GridworldParams::from_config(&cfg).unwrap();
    assert_eq!(
        (p.slip, p.step_reward, p.max_steps),
        (Some(0.0), Some(-1.0), Some(7))
    );
    let cfg: Config = toml::from_str("noise = 1\nmean_scale = 2").unwrap();
    assert_eq!(
        autodidact_envs::GaussianClassesParams::from_config(&cfg)
            .unwrap()
            .noise,
        1.0
    );
}
