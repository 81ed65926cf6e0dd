//! Short training runs on gaussian-classes beat chance clearly; a checkpoint resumes exactly;
//! the registry builds all three, with more training ways than test ways when asked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::{Algorithm, Config, EnvSpec, Hyperparams, Registry, Seed, Split, TaskKind};
use autodidact_envs::{GaussianClasses, GaussianClassesParams};
use autodidact_metric::hyperparams::{defaults_for, MetricParams};
use autodidact_metric::{Method, MetricLearner};

fn gaussian(ways: usize) -> Box<GaussianClasses> {
    // Class means spread in 16 dimensions, noise as large: raw nearest prototype is far from
    // perfect, and a learned embedding has to find the scale of things.
    Box::new(
        GaussianClasses::new(GaussianClassesParams {
            ways,
            shots: 1,
            queries: 5,
            dim: 16,
            mean_scale: 1.0,
            noise: 1.0,
            ..GaussianClassesParams::default()
        })
        .unwrap(),
    )
}

fn short(method: Method, iterations: u64) -> MetricParams {
    MetricParams {
        meta_iterations: iterations,
        lr: 3e-3,
        hidden: vec![32],
        embedding_dim: 16,
        val_every: 0,
        log_every: 50,
        eval_episodes: 100,
        ..defaults_for(method.name())
    }
}

#[test]
fn short_runs_beat_chance_clearly() {
    for method in [Method::Proto, Method::Matching, Method::Relation] {
        let mut l = MetricLearner::with_distributions(
            method,
            short(method, 300).check().unwrap(),
            gaussian(5),
            None,
            Seed(1),
        )
        .unwrap();
        let before = l
            .evaluate_on(l.distribution(), Split::Test, 100, "")
            .unwrap();
        while l.steps_done() < l.total_steps() {
            l.train_step().unwrap();
        }
        let after = l
            .evaluate_on(l.distribution(), Split::Test, 100, "")
            .unwrap();
        let acc = after["query_accuracy"];
        let ci = after["query_accuracy_ci95"];
        println!(
            "{}: before {:.3}, after {acc:.3} ± {ci:.3}, baseline {:.3}",
            method.name(),
            before["query_accuracy"],
            after["baseline_accuracy"]
        );
        // Chance is 0.2.
        assert!(acc - ci > 0.4, "{}: {acc} ± {ci}", method.name());
        assert!(
            acc > before["query_accuracy"],
            "{}: training did not help",
            method.name()
        );
    }
}

#[test]
fn full_context_embeddings_train() {
    let hp = MetricParams {
        fce: true,
        fce_steps: 2,
        ..short(Method::Matching, 100)
    };
    let mut l = MetricLearner::with_distributions(
        Method::Matching,
        hp.check().unwrap(),
        gaussian(5),
        None,
        Seed(2),
    )
    .unwrap();
    assert!(l.params().names().iter().any(|n| n.starts_with("fce.")));
    while l.steps_done() < l.total_steps() {
        l.train_step().unwrap();
    }
    let m = l
        .evaluate_on(l.distribution(), Split::Test, 100, "")
        .unwrap();
    assert!(m["query_accuracy"] > 0.35, "{m:?}");
}

#[test]
fn a_checkpoint_resumes_exactly() {
    let hp = MetricParams {
        val_every: 5,
        val_episodes: 5,
        lr_decay_every: 4,
        ..short(Method::Proto, 12)
    };
    let mut a = MetricLearner::with_distributions(
        Method::Proto,
        hp.clone().check().unwrap(),
        gaussian(5),
        None,
        Seed(3),
    )
    .unwrap();
    for _ in 0..6 {
        a.train_step().unwrap();
    }
    let ckpt = a.save().unwrap();
    let mut b = MetricLearner::with_distributions(
        Method::Proto,
        hp.check().unwrap(),
        gaussian(5),
        None,
        Seed(3),
    )
    .unwrap();
    b.load(&ckpt).unwrap();
    assert_eq!(b.steps_done(), 6);
    let mut last = (Default::default(), Default::default());
    for _ in 6..12 {
        last = (a.train_step().unwrap(), b.train_step().unwrap());
    }
    assert_eq!(a.params(), b.params());
    assert_eq!(last.0, last.1);
    assert_eq!(a.save().unwrap(), b.save().unwrap());
    // Another method's checkpoint is refused.
    let mut r = MetricLearner::with_distributions(
        Method::Relation,
        short(Method::Relation, 1).check().unwrap(),
        gaussian(5),
        None,
        Seed(3),
    )
    .unwrap();
    assert!(r.load(&ckpt).is_err());
}

#[test]
fn registry_builds_all_three_and_trains_with_more_ways() {
    autodidact_envs::link();
    let reg = Registry::from_inventory().unwrap();
    let entry = reg.env("gaussian-classes").unwrap();
    let spec = EnvSpec {
        entry,
        config: (entry.default_config)(),
    };
    for name in ["matching-net", "proto-net", "relation-net"] {
        let a = reg.algorithm(name).unwrap();
        assert_eq!(a.family, "metric-based meta-learning");
        assert!((a.params)().iter().any(|d| d.key == "meta_iterations"));
        let mut cfg: Config = (a.default_config)();
        cfg.insert("meta_iterations".into(), toml::Value::Integer(2));
        cfg.insert(
            "hidden".into(),
            toml::Value::Array(vec![toml::Value::Integer(8)]),
        );
        cfg.insert("eval_episodes".into(), toml::Value::Integer(3));
        cfg.insert("val_every".into(), toml::Value::Integer(0));
        let mut alg = (a.build)(&cfg, &spec, Seed(0)).unwrap();
        alg.train_step().unwrap();
        let m = alg.train_step().unwrap();
        assert!(m["loss"].is_finite());
        let e = alg.evaluate(None).unwrap();
        assert!(e.contains_key("query_accuracy") && e.contains_key("query_accuracy_ci95"));
        assert!(e.contains_key("baseline_accuracy") && e.contains_key("baseline_accuracy_ci95"));
        // The paired gain is the difference of the two means (same episodes).
        let gain = e["gain_over_baseline"];
        assert!((gain - (e["query_accuracy"] - e["baseline_accuracy"])).abs() < 1e-12);
        assert!(e["gain_over_baseline_ci95"] >= 0.0);
    }
    let mut cfg = Config::new();
    cfg.insert("train_ways".into(), toml::Value::Integer(9));
    cfg.insert("train_queries".into(), toml::Value::Integer(2));
    let l = MetricLearner::new(Method::Proto, &cfg, &spec, Seed(0)).unwrap();
    assert_eq!(
        l.train_distribution().kind(),
        TaskKind::Classification { ways: 9 }
    );
    assert_eq!(
        l.distribution().kind(),
        TaskKind::Classification { ways: 5 }
    );
    let t = l.next_task().unwrap();
    assert_eq!(t.query_y.len(), 18);
}

#[test]
fn hyperparameters_are_validated() {
    let bad = |k: &str, v: toml::Value| {
        let mut c = Config::new();
        c.insert(k.into(), v);
        MetricParams::from_config(&c).unwrap_err().to_string()
    };
    assert!(bad("distance", "manhattan".into()).contains("distance"));
    assert!(bad("lr", toml::Value::Float(-1.0)).contains("lr"));
    assert!(bad("lr_decay", toml::Value::Float(1.5)).contains("lr_decay"));
    assert!(bad("no_such_key", toml::Value::Integer(1)).contains("no_such_key"));
    let docs = MetricParams::docs();
    let cfg = MetricParams::default().to_config();
    assert_eq!(docs.len(), cfg.len(), "one doc per key");
    for d in docs {
        assert!(
            cfg.contains_key(d.key),
            "{} documented but not a key",
            d.key
        );
    }
}

#[test]
fn image_inputs_need_conv4_shapes_and_mlp_refuses_nothing() {
    // Conv4 on vectors is refused with a sentence naming the shape.
    let hp = MetricParams {
        backbone: autodidact_core::layers::BackboneKind::Conv4,
        ..short(Method::Proto, 1)
    };
    let err = MetricLearner::with_distributions(
        Method::Proto,
        hp.check().unwrap(),
        gaussian(5),
        None,
        Seed(0),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("[16]"), "{err}");
}

#[test]
fn an_untrained_diagonal_metric_is_the_raw_baseline_on_the_same_episodes() {
    let hp = MetricParams {
        backbone: autodidact_core::layers::BackboneKind::Diagonal,
        ..short(Method::Proto, 1)
    };
    let l = MetricLearner::with_distributions(
        Method::Proto,
        hp.check().unwrap(),
        gaussian(5),
        None,
        Seed(5),
    )
    .unwrap();
    let m = l
        .evaluate_on(l.distribution(), Split::Test, 50, "")
        .unwrap();
    assert!(
        (m["query_accuracy"] - m["baseline_accuracy"]).abs() < 1e-12,
        "{m:?}"
    );
    assert_eq!(m["eval_episodes"], 50.0);
}

#[test]
fn relation_lr_scale_slows_only_the_relation_module() {
    let hp = MetricParams {
        relation_lr_scale: 0.1,
        ..short(Method::Relation, 5)
    };
    let l = MetricLearner::with_distributions(
        Method::Relation,
        hp.check().unwrap(),
        gaussian(5),
        None,
        Seed(1),
    )
    .unwrap();
    let names = l.params().names();
    let mut relation = 0;
    for (i, name) in names.iter().enumerate() {
        let scale = l.optimizer().lr_scale(i);
        if name.starts_with("relation") {
            relation += 1;
            assert_eq!(scale, 0.1, "{name}");
        } else {
            assert_eq!(scale, 1.0, "{name}");
        }
    }
    assert_eq!(relation, 4, "two weights and two biases: {names:?}");
    let bad = MetricParams {
        relation_lr_scale: 0.0,
        ..short(Method::Relation, 5)
    };
    let err = bad.validate().unwrap_err().to_string();
    assert!(err.contains("relation_lr_scale"), "{err}");
}

#[test]
fn the_thread_count_does_not_change_a_number() {
    // Validation and test episodes run on the worker pool; early stopping reads validation.
    for method in [Method::Proto, Method::Relation] {
        let run = |threads: usize| {
            let hp = MetricParams {
                threads,
                val_every: 5,
                val_episodes: 7,
                eval_episodes: 9,
                ..short(method, 10)
            };
            let mut l = MetricLearner::with_distributions(
                method,
                hp.check().unwrap(),
                gaussian(5),
                None,
                Seed(3),
            )
            .unwrap();
            let mut logs = Vec::new();
            while l.steps_done() < l.total_steps() {
                logs.push(l.train_step().unwrap());
            }
            logs.push(l.evaluate(None).unwrap());
            let bits: Vec<Vec<(String, u64)>> = logs
                .iter()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect())
                .collect();
            (bits, l.save().unwrap())
        };
        assert_eq!(run(1), run(2), "{}", method.name());
    }
}
