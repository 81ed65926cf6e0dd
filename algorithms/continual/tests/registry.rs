//! The seven strategies are registered with documented, validated hyperparameters, run
//! through the `Algorithm` trait on the registered streams, and report their accuracy matrix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_continual::hyperparams::ContinualParams;
use autodidact_core::{Config, EnvKind, EnvSpec, Hyperparams, Registry, Seed};

const NAMES: [&str; 7] = ["naive", "ewc", "si", "lwf", "replay", "agem", "joint"];

fn registry() -> Registry {
    autodidact_continual::link();
    autodidact_envs::link();
    Registry::from_inventory().unwrap()
}

#[test]
fn every_strategy_is_registered_with_documented_defaults() {
    let reg = registry();
    for name in NAMES {
        let a = reg
            .algorithm(name)
            .unwrap_or_else(|| panic!("{name} is not registered"));
        assert_eq!(a.family, "continual learning");
        assert_eq!(a.crate_name, "autodidact-continual");
        assert_eq!(a.accepts, &[EnvKind::Continual]);
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
        assert!(config.contains_key("epochs"));
    }
    assert_eq!(
        (reg.algorithm("replay").unwrap().default_config)()["buffer_size"].as_integer(),
        Some(1000)
    );
}

fn refuses(key: &str, value: toml::Value) {
    let mut c = ContinualParams::default_config();
    c.insert(key.into(), value);
    let err = ContinualParams::from_config(&c).unwrap_err().to_string();
    assert!(err.contains(key), "{err}");
}

#[test]
fn invalid_values_and_unknown_keys_name_the_key() {
    refuses("epochs", 0.into());
    refuses("lr", (-1.0).into());
    refuses("optimizer", "rmsprop".into());
    refuses("head", "many".into());
    refuses("ewc_mode", "sometimes".into());
    refuses("ewc_decay", 1.5.into());
    refuses("buffer_policy", "fifo".into());
    refuses("labels_trick", "yes".into());
    refuses("hidden", toml::Value::Array(vec![0.into()]));
    refuses("lwf_temperature", 0.0.into());
    refuses("no_such_key", 1.into());
}

fn split_spec(reg: &Registry, extra: &str) -> EnvSpec {
    let entry = reg.env("split").unwrap();
    let mut config = (entry.default_config)();
    let mine: Config = toml::from_str(&format!(
        "classes = 6\nexamples_per_class = 30\nexperiences = 3\n{extra}"
    ))
    .unwrap();
    config.extend(mine);
    EnvSpec { entry, config }
}

#[test]
fn every_strategy_runs_through_the_registry_and_reports_the_matrix() {
    let reg = registry();
    let spec = split_spec(&reg, "");
    let config: Config = toml::from_str(
        "epochs = 1\nhidden = [16]\nbuffer_size = 20\nfisher_samples = 8\nagem_sample = 8",
    )
    .unwrap();
    for name in NAMES {
        let entry = reg.algorithm(name).unwrap();
        Registry::check_kind(entry, "split", spec.entry.kind).unwrap();
        let mut alg = (entry.build)(&config, &spec, Seed(1)).unwrap();
        assert_eq!(alg.total_steps(), 3);
        assert_eq!(alg.headline_metric(), "acc");
        let mut last = Default::default();
        while alg.steps_done() < alg.total_steps() {
            last = alg.train_step().unwrap();
        }
        let m = alg.evaluate(None).unwrap();
        for key in [
            "acc",
            "bwt",
            "fwt",
            "forgetting",
            "just_trained_1",
            "init_acc_2",
        ] {
            assert!(m.contains_key(key), "{name}: no `{key}`");
            assert!(m[key].is_finite());
        }
        assert_eq!(m["acc"], last["acc"]);
        // The accuracy matrix is a table of its own, every row trained.
        let r = &alg.matrices()["accuracy_matrix"];
        assert_eq!(r.len(), 3);
        assert!(r.iter().flatten().all(|c| c.is_some_and(f64::is_finite)));
        assert!(!m.keys().any(|k| k.starts_with("r_")), "{name}: {m:?}");
        // Evaluated on another instance of the stream (another seed's split of the same shape).
        let other = spec.instantiate(Seed(99)).unwrap();
        let e = alg.evaluate(Some(&other)).unwrap();
        assert!(e.contains_key("acc_2") && e["acc"].is_finite());
    }
    let permuted = EnvSpec {
        entry: reg.env("permuted").unwrap(),
        config: split_spec(&reg, "").config,
    };
    let mut c = permuted.config.clone();
    for split_only in ["scenario", "pretrain_classes", "stream_classes"] {
        c.remove(split_only);
    }
    let permuted = EnvSpec {
        config: c,
        ..permuted
    };
    let mut longer = config.clone();
    longer.insert("epochs".into(), 5.into());
    longer.insert("lr".into(), 0.01.into());
    longer.insert("ewc_lambda".into(), 100.0.into());
    let mut alg = (reg.algorithm("ewc").unwrap().build)(&longer, &permuted, Seed(1)).unwrap();
    while alg.steps_done() < alg.total_steps() {
        alg.train_step().unwrap();
    }
    let acc = alg.evaluate(None).unwrap()["acc"];
    assert!(acc > 0.4, "EWC on the permuted stream: ACC {acc}");
}

#[test]
fn a_non_stream_environment_is_refused() {
    let reg = registry();
    let entry = reg.env("gaussian-classes").unwrap();
    let spec = EnvSpec {
        entry,
        config: (entry.default_config)(),
    };
    let err = (reg.algorithm("naive").unwrap().build)(&Config::new(), &spec, Seed(0))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("continual"), "{err}");
}

#[test]
fn mer_and_oml_run_through_the_registry_on_an_online_stream() {
    let reg = registry();
    let spec = split_spec(
        &reg,
        "online = true\npretrain_classes = 2\nstream_classes = 3",
    );
    let cases: [(&str, &str); 2] = [
        (
            "mer",
            "hidden = [8]\nbuffer_size = 10\nmer_batches = 2\nmer_batch_size = 3",
        ),
        (
            "oml",
            "rln_hidden = [8]\nmeta_iterations = 3\ntraj_classes = 2\ntraj_shots = 2\nremember = 3",
        ),
    ];
    for (name, cfg) in cases {
        let entry = reg
            .algorithm(name)
            .unwrap_or_else(|| panic!("{name} is not registered"));
        assert_eq!(entry.family, "continual learning");
        let config: Config = toml::from_str(cfg).unwrap();
        let mut alg = (entry.build)(&config, &spec, Seed(2)).unwrap();
        while alg.steps_done() < alg.total_steps() {
            alg.train_step().unwrap();
        }
        let m = alg.evaluate(None).unwrap();
        assert_eq!(m["classes_seen"], 3.0, "{name}: {m:?}");
        assert!(m["seen_test_acc"].is_finite() && m["acc"].is_finite());
        assert_eq!(alg.matrices()["accuracy_matrix"].len(), 3);
    }
}
