//! The registry: duplicate names refused naming both crates, kind mismatches in one sentence,
//! name suggestions, and hyperparameter validation messages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
struct Toy {
    /// Learning rate.
    #[param(gt = 0)]
    lr: f64,
    /// Training length.
    #[param(min = 1)]
    steps: u64,
}

impl Default for Toy {
    fn default() -> Self {
        Toy { lr: 0.1, steps: 10 }
    }
}

fn no_build(_: &Config, _: &EnvSpec, _: Seed) -> Result<Box<dyn Algorithm>> {
    Err(CoreError::Env("not built in this test".into()))
}

static A: AlgorithmEntry = AlgorithmEntry {
    name: "toy",
    crate_name: "crate-one",
    family: "tests",
    summary: "a toy",
    accepts: &[EnvKind::Rl],
    params: Toy::docs,
    default_config: Toy::default_config,
    build: no_build,
};

static B: AlgorithmEntry = AlgorithmEntry {
    crate_name: "crate-two",
    ..A
};

#[test]
fn duplicate_names_are_refused_naming_both_crates() {
    let mut r = Registry::default();
    r.add_algorithm(&A).unwrap();
    let err = r.add_algorithm(&B).unwrap_err().to_string();
    assert!(
        err.contains("`toy`") && err.contains("crate-one") && err.contains("crate-two"),
        "{err}"
    );
}

#[test]
fn kind_mismatch_is_one_clear_sentence() {
    let err = Registry::check_kind(&A, "sinusoid", EnvKind::FewShotRegression)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "toy trains on an RL environment; sinusoid is a few-shot regression task distribution"
    );
    assert!(Registry::check_kind(&A, "gridworld", EnvKind::Rl).is_ok());
}

#[test]
fn suggestions_are_the_closest_names() {
    let mut r = Registry::default();
    r.add_algorithm(&A).unwrap();
    assert_eq!(r.suggest("tyo"), vec!["toy"]);
    assert!(r.suggest("completely-different-name").is_empty());
}

#[test]
fn hyperparameters_refuse_unknown_keys_and_bad_values() {
    let mut c = Config::new();
    c.insert("lrr".into(), toml::Value::Float(0.5));
    let err = Toy::from_config(&c).unwrap_err().to_string();
    assert!(
        err.contains("lrr") && err.contains("valid keys: lr, steps"),
        "{err}"
    );
    let mut c = Config::new();
    c.insert("lr".into(), toml::Value::Float(-1.0));
    let err = Toy::from_config(&c).unwrap_err().to_string();
    assert!(err.contains("`lr`") && err.contains("> 0"), "{err}");
    let ok = Toy::from_config(&Config::new()).unwrap();
    assert_eq!(*ok, Toy::default());
    assert_eq!(Toy::from_config(&ok.to_config()).unwrap(), ok);
}
