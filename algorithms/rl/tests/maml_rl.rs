//! MAML-RL end to end: registration, clear refusals, exact resume, determinism, and learning
//! to adapt on 2D navigation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_core::{Algorithm, Config, Seed};
use autodidact_rl::maml_rl::{Estimator, MamlRlParams};
use common::{nav, spec};

fn small() -> MamlRlParams {
    MamlRlParams {
        meta_iterations: 6,
        meta_batch: 3,
        episodes_per_task: 4,
        horizon: 12,
        hidden: vec![8],
        eval_tasks: 3,
        eval_inner_steps: 2,
        log_every: 2,
        ..MamlRlParams::default()
    }
}

fn run(a: &mut dyn Algorithm, until: u64) -> Vec<(u64, Vec<(String, u64)>)> {
    let mut logs = Vec::new();
    while a.steps_done() < until {
        let m = a.train_step().unwrap();
        if !m.is_empty() {
            logs.push((
                a.steps_done(),
                m.into_iter().map(|(k, v)| (k, v.to_bits())).collect(),
            ));
        }
    }
    logs
}

#[test]
fn registered_builds_on_meta_rl_environments_and_refuses_others() {
    autodidact_rl::link();
    let reg = autodidact_core::Registry::from_inventory().unwrap();
    let entry = reg.algorithm("maml-rl").unwrap();
    assert_eq!(entry.family, "meta-reinforcement learning");
    assert_eq!(entry.accepts, &[autodidact_core::EnvKind::MetaRl]);
    let cfg: Config = toml::from_str(
        "meta_iterations = 1\nmeta_batch = 2\nepisodes_per_task = 2\nhorizon = 5\nhidden = [4]",
    )
    .unwrap();
    for env in ["gridworld-goals", "navigation-2d"] {
        let mut a = (entry.build)(&cfg, &spec(env, &[]), Seed(0)).unwrap();
        a.train_step().unwrap();
        assert_eq!(a.steps_done(), 1);
        let m = a.evaluate(None).unwrap();
        assert!(
            m.contains_key("return_after_3") && m.contains_key("optimal_return"),
            "{env}"
        );
        assert!(m["optimal_return"] >= m["return_after_0"], "{env}: {m:?}");
    }
    let err = (entry.build)(&cfg, &spec("gridworld", &[]), Seed(0))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("maml-rl") && err.contains("distribution of RL environments"),
        "{err}"
    );
    for (key, value) in [
        ("inner_lr", toml::Value::from(0.0)),
        ("estimator", toml::Value::from("reinforce")),
        ("gamma", toml::Value::from(1.5)),
        ("meta_batch", toml::Value::from(0)),
        ("inner_step", toml::Value::from(1)),
    ] {
        let mut c = cfg.clone();
        c.insert(key.into(), value);
        let err = (entry.build)(&c, &spec("navigation-2d", &[]), Seed(0))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[test]
fn resume_continues_bit_for_bit() {
    for p in [
        small(),
        MamlRlParams {
            learn_inner_lr: true,
            inner_steps: 2,
            ..small()
        },
        MamlRlParams {
            first_order: true,
            estimator: Estimator::Surrogate,
            ..small()
        },
    ] {
        let mut a = nav(p.clone(), 3);
        run(&mut a, 3);
        let bytes = a.save().unwrap();
        let mut b = nav(p.clone(), 3);
        b.load(&bytes).unwrap();
        assert_eq!(run(&mut a, 6), run(&mut b, 6));
        assert_eq!(a.save().unwrap(), b.save().unwrap());
        let (ea, eb) = (a.evaluate(None).unwrap(), b.evaluate(None).unwrap());
        assert_eq!(format!("{ea:?}"), format!("{eb:?}"));
    }
    // Another seed gives other bytes; another policy's checkpoint is refused.
    let go = |seed| {
        let mut a = nav(small(), seed);
        run(&mut a, 2);
        a.save().unwrap()
    };
    assert_eq!(go(4), go(4));
    assert_ne!(go(4), go(5));
    let mut wide = nav(
        MamlRlParams {
            hidden: vec![9],
            ..small()
        },
        4,
    );
    assert!(wide.load(&go(4)).is_err());
}

/// Meta-training makes one inner step count: after a short MAML-RL run the return after one
/// step on held-out goals beats the return before adaptation, by more than it did at
/// initialisation.
#[test]
fn learns_to_adapt_on_navigation() {
    let p = MamlRlParams {
        meta_iterations: 40,
        meta_batch: 10,
        episodes_per_task: 10,
        horizon: 20,
        hidden: vec![32, 32],
        outer_lr: 1e-2,
        inner_lr: 0.1,
        eval_tasks: 20,
        eval_inner_steps: 1,
        log_every: 10,
        ..MamlRlParams::default()
    };
    let mut a = nav(p, 1);
    let m0 = a.evaluate(None).unwrap();
    run(&mut a, 40);
    let m = a.evaluate(None).unwrap();
    let gain0 = m0["return_after_1"] - m0["return_after_0"];
    let gain = m["return_after_1"] - m["return_after_0"];
    println!("before meta-training: {m0:?}\nafter: {m:?}");
    assert!(m["return_after_1"] > m0["return_after_1"], "{m0:?} → {m:?}");
    assert!(gain > 0.0 && gain > gain0, "gain {gain0} → {gain}");
    assert!(m["return_after_1"] <= m["optimal_return"]);
}
