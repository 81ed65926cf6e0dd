//! Typed hyperparameters: documentation generated from the struct, per-key errors that name the
//! key, the value and what is expected, bounds with a float tolerance, choices as enums, and
//! `Checked` as the only way to validated parameters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::config::{invalid, Checked, Value};
use autodidact_core::layers::{Activation, Init};
use autodidact_core::{Choice, Config, Hyperparams, ParamType, Result};
use serde::{Deserialize, Serialize};

/// A two-way choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    /// The usual way.
    Standard,
    /// The other way, spelled with two words.
    LabelsTrick,
    /// A spelling of its own.
    #[serde(rename = "a-gem")]
    AGem,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
#[hyperparams(check = Toy::relations)]
struct Toy {
    /// Training length.
    ///
    /// (This second paragraph is not part of the one-line documentation.)
    #[param(min = 1, max = 1_000_000)]
    steps: u64,
    /// Learning rate.
    #[param(gt = 0, max = 10)]
    lr: f64,
    /// Hidden widths.
    #[param(min = 1, max = 4096, min_len = 1, max_len = 8)]
    hidden: Vec<usize>,
    /// Fraction for training.
    #[param(min = 0, max = 1)]
    train_fraction: f64,
    /// Fraction for validation.
    #[param(min = 0, max = 1)]
    validation_fraction: f64,
    /// How to do it.
    mode: Mode,
    /// Hidden activation.
    activation: Activation,
    /// Weight initialiser, if not the default.
    init: Option<Init>,
    /// Whether to log.
    verbose: bool,
    /// A name.
    name: String,
}

impl Default for Toy {
    fn default() -> Self {
        Toy {
            steps: 10,
            lr: 0.1,
            hidden: vec![40, 40],
            train_fraction: 0.6,
            validation_fraction: 0.2,
            mode: Mode::Standard,
            activation: Activation::Relu,
            init: None,
            verbose: false,
            name: "toy".into(),
        }
    }
}

impl Toy {
    fn relations(&self) -> Result<()> {
        if self.train_fraction + self.validation_fraction > 1.0 + 1e-9 {
            return Err(invalid(
                "validation_fraction",
                format!(
                    "{} + train_fraction {} exceeds 1",
                    self.validation_fraction, self.train_fraction
                ),
            ));
        }
        Ok(())
    }
}

fn config(text: &str) -> Config {
    toml::from_str(text).unwrap()
}

fn error(text: &str) -> String {
    Toy::from_config(&config(text)).unwrap_err().to_string()
}

#[test]
fn documentation_comes_from_the_struct() {
    let docs = Toy::docs();
    let keys: Vec<&str> = docs.iter().map(|d| d.key).collect();
    assert_eq!(
        keys,
        [
            "steps",
            "lr",
            "hidden",
            "train_fraction",
            "validation_fraction",
            "mode",
            "activation",
            "init",
            "verbose",
            "name"
        ]
    );
    assert_eq!(docs[0].doc, "Training length");
    assert_eq!(docs[0].ty, "integer");
    assert_eq!(docs[0].range, "1 ..= 1000000");
    assert_eq!(docs[1].ty, "float");
    assert_eq!(docs[1].range, "> 0 and <= 10");
    assert_eq!(docs[2].ty, "list of integers");
    assert_eq!(docs[2].range, "each 1 ..= 4096; 1 to 8 items");
    assert_eq!(docs[5].range, "one of: standard, labels-trick, a-gem");
    assert_eq!(
        docs[6].range,
        "one of: relu, tanh, sigmoid, leaky-relu, elu, identity"
    );
    assert_eq!(docs[7].ty, "string (optional)");
    assert_eq!(docs[8].range, "true or false");
    assert_eq!(docs[9].range, "any");
}

#[test]
fn choice_spellings_match_serde() {
    for m in Mode::ALL {
        let v = Value::try_from(m).unwrap();
        assert_eq!(v.as_str(), Some(m.name()));
        assert_eq!(m.to_string(), m.name());
    }
    for a in Activation::ALL {
        assert_eq!(Value::try_from(a).unwrap().as_str(), Some(a.name()));
    }
    for i in Init::ALL {
        assert_eq!(Value::try_from(i).unwrap().as_str(), Some(i.name()));
    }
    let names: Vec<&str> = Mode::choices().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["standard", "labels-trick", "a-gem"]);
    assert_eq!(
        Mode::choices()[1].1,
        "The other way, spelled with two words."
    );
}

#[test]
fn values_are_read_into_their_types() {
    let toy = Toy::from_config(&config(
        "steps = 5\nlr = 1\nhidden = [8]\nmode = \"a-gem\"\nactivation = \"leaky-relu\"\ninit = \"xavier-uniform\"",
    ))
    .unwrap();
    assert_eq!(toy.steps, 5);
    assert_eq!(toy.lr, 1.0, "an integer is a valid float");
    assert_eq!(toy.hidden, [8]);
    assert_eq!(toy.mode, Mode::AGem);
    assert_eq!(toy.activation, Activation::LeakyRelu);
    assert_eq!(toy.init, Some(Init::XavierUniform));
    // Round trip through a configuration.
    assert_eq!(Toy::from_config(&toy.to_config()).unwrap(), toy);
}

#[test]
fn a_wrong_value_names_the_key_the_value_and_the_expectation() {
    for (text, key, shown, expected) in [
        ("steps = -5", "steps", "-5", "integer >= 0"),
        ("steps = 1.5", "steps", "1.5", "integer >= 0"),
        ("steps = true", "steps", "true", "integer >= 0"),
        ("verbose = 1", "verbose", "1", "bool"),
        (
            "hidden = [40, -1]",
            "hidden",
            "[40, -1]",
            "list of integers >= 0",
        ),
        ("lr = true", "lr", "true", "float"),
        ("name = 5", "name", "5", "string"),
        (
            "mode = \"fancy\"",
            "mode",
            "\"fancy\"",
            "one of: standard, labels-trick, a-gem",
        ),
    ] {
        let err = error(text);
        assert!(err.contains(&format!("`{key}`")), "{text}: {err}");
        assert!(err.contains(shown), "{text}: {err}");
        assert!(err.contains(expected), "{text}: {err}");
    }
}

#[test]
fn bounds_are_checked_with_the_key_and_range() {
    let err = error("steps = 0");
    assert!(
        err.contains("`steps`") && err.contains("1 ..= 1000000"),
        "{err}"
    );
    let err = error("steps = 1000000000000");
    assert!(
        err.contains("`steps`") && err.contains("1000000000000"),
        "{err}"
    );
    let err = error("lr = 0");
    assert!(err.contains("`lr`") && err.contains("> 0"), "{err}");
    let err = error("hidden = [100000000]");
    assert!(
        err.contains("`hidden`") && err.contains("100000000"),
        "{err}"
    );
    let err = error("hidden = []");
    assert!(err.contains("`hidden`") && err.contains("0 items"), "{err}");
    let err = error("lr = nan");
    assert!(err.contains("`lr`"), "{err}");
}

#[test]
fn float_bounds_have_a_tolerance() {
    // 0.9 + 0.1 is 0.9999999999999999 or 1.0000000000000002 depending on the order: both fit.
    Toy::from_config(&config("train_fraction = 0.9\nvalidation_fraction = 0.1")).unwrap();
    Toy::from_config(&config("train_fraction = 0.7\nvalidation_fraction = 0.3")).unwrap();
    let err = error("train_fraction = 0.9\nvalidation_fraction = 0.2");
    assert!(err.contains("`validation_fraction`"), "{err}");
    let err = error("train_fraction = 1.01");
    assert!(err.contains("`train_fraction`"), "{err}");
}

#[test]
fn unknown_keys_are_refused_with_the_valid_ones() {
    let err = error("stepz = 3");
    assert!(
        err.contains("`stepz`") && err.contains("steps, lr, hidden"),
        "{err}"
    );
}

#[test]
fn checked_is_the_only_way_to_validated_parameters() {
    let bad = Toy {
        steps: 0,
        ..Toy::default()
    };
    assert!(bad.clone().check().is_err());
    let good: Checked<Toy> = Toy::default().check().unwrap();
    assert_eq!(good.steps, 10, "a checked value reads like the struct");
    assert_eq!(good.into_inner(), Toy::default());
    // Laying a configuration over other defaults keeps what it does not set.
    let base = Toy {
        steps: 7,
        ..Toy::default()
    };
    let merged = base.with_config(&config("lr = 0.5")).unwrap();
    assert_eq!((merged.steps, merged.lr), (7, 0.5));
}

#[test]
fn a_network_that_cannot_fit_is_refused_before_it_is_allocated() {
    use autodidact_core::layers::{Backbone, BackboneKind, BackboneSpec};
    use autodidact_core::{Params, Seed};
    if autodidact_core::memory::available_bytes().is_none() {
        eprintln!("skipped: this system does not report its available memory");
        return;
    }
    // About 8.6e9 parameters: far beyond any machine this runs on.
    let spec = BackboneSpec {
        kind: BackboneKind::Mlp,
        hidden: vec![65_536, 65_536, 65_536],
        activation: Activation::Relu,
        init: Init::TorchDefault,
        filters: 64,
        out_dim: Some(1),
        layer_norm: false,
    };
    let mut params = Params::<f32>::new();
    let err = Backbone::build(&spec, &[784], "body", &mut params, &mut Seed(0).rng("init"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`hidden`") && err.contains("GiB"), "{err}");
    assert_eq!(params.len(), 0, "nothing was allocated");
    // The same body at a sane size builds.
    let small = BackboneSpec {
        hidden: vec![40, 40],
        ..spec
    };
    Backbone::build(
        &small,
        &[784],
        "body",
        &mut params,
        &mut Seed(0).rng("init"),
    )
    .unwrap();
}
