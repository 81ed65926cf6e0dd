//! Short training runs: each method lowers the post-adaptation loss on sinusoid, classifies
//! Gaussian tasks above chance, and a checkpoint resumes bit for bit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::Hyperparams as _;
use autodidact_core::{Algorithm, Seed, Split};
use autodidact_envs::{GaussianClasses, GaussianClassesParams, Sinusoid, SinusoidParams};
use autodidact_gradient::hyperparams::{defaults_for, MetaParams};
use autodidact_gradient::{MetaLearner, Method};

fn sinusoid() -> Box<Sinusoid> {
    Box::new(Sinusoid::new(SinusoidParams::default()).unwrap())
}

fn short(method: Method, iterations: u64) -> MetaParams {
    MetaParams {
        meta_iterations: iterations,
        meta_batch: 10,
        eval_tasks: 100,
        val_every: 0,
        ..defaults_for(method.name())
    }
}

fn post_adaptation_mse(l: &MetaLearner) -> f64 {
    l.evaluate_on(sinusoid().as_ref(), Split::Test, 100, "")
        .unwrap()["query_mse_after"]
}

#[test]
fn short_runs_lower_the_post_adaptation_loss() {
    for (method, iters) in [
        (Method::Maml, 400),
        (Method::FoMaml, 400),
        (Method::MetaSgd, 400),
        (Method::Anil, 400),
        (Method::Reptile, 400),
    ] {
        let mut l = MetaLearner::with_distribution(
            method,
            short(method, iters).check().unwrap(),
            sinusoid(),
            Seed(0),
        )
        .unwrap();
        let before = post_adaptation_mse(&l);
        for _ in 0..iters {
            l.meta_step().unwrap();
        }
        let after = post_adaptation_mse(&l);
        // ANIL (head-only adaptation) and Reptile (first-order, annealed) learn slowest.
        let bar = if matches!(method, Method::Anil | Method::Reptile) {
            0.9
        } else {
            0.6
        };
        assert!(
            after < bar * before,
            "{}: post-adaptation MSE {before:.3} -> {after:.3}",
            method.name()
        );
    }
}

#[test]
fn more_test_steps_keep_adapting() {
    let mut l = MetaLearner::with_distribution(
        Method::Maml,
        short(Method::Maml, 200).check().unwrap(),
        sinusoid(),
        Seed(5),
    )
    .unwrap();
    for _ in 0..200 {
        l.meta_step().unwrap();
    }
    let m = l
        .evaluate_on(sinusoid().as_ref(), Split::Test, 100, "")
        .unwrap();
    // Ten SGD steps on the support set must fit it better than one.
    assert!(m["query_mse_after"] < m["query_mse_after_1"], "{m:?}");
    assert!(m["query_mse_after_1"] < m["query_mse_before"], "{m:?}");
}

#[test]
fn maml_classifies_gaussian_tasks_above_chance() {
    let params = GaussianClassesParams {
        ways: 5,
        shots: 1,
        queries: 5,
        ..GaussianClassesParams::default()
    };
    let dist = GaussianClasses::new(params.clone()).unwrap();
    let hp = MetaParams {
        meta_iterations: 150,
        meta_batch: 8,
        inner_lr: 0.4,
        eval_tasks: 100,
        val_every: 0,
        hidden: vec![32],
        ..MetaParams::default()
    };
    let mut l =
        MetaLearner::with_distribution(Method::Maml, hp.check().unwrap(), Box::new(dist), Seed(3))
            .unwrap();
    for _ in 0..150 {
        l.meta_step().unwrap();
    }
    let m = l.evaluate(None).unwrap();
    assert!(
        m["query_accuracy"] > 0.5,
        "5-way accuracy {} (chance 0.2)",
        m["query_accuracy"]
    );
    assert!(m["query_accuracy"] > m["query_accuracy_before"]);
    assert!(m["query_accuracy_ci95"] > 0.0 && m["query_accuracy_ci95"] < 0.1);
}

#[test]
fn checkpoints_resume_bit_for_bit() {
    let run = |split: Option<u64>| -> Vec<u8> {
        let hp = short(Method::Maml, 20);
        let mut l = MetaLearner::with_distribution(
            Method::Maml,
            hp.clone().check().unwrap(),
            sinusoid(),
            Seed(9),
        )
        .unwrap();
        let mut log = Vec::new();
        for i in 0..20 {
            if Some(i) == split {
                let bytes = l.save().unwrap();
                l = MetaLearner::with_distribution(
                    Method::Maml,
                    hp.clone().check().unwrap(),
                    sinusoid(),
                    Seed(9),
                )
                .unwrap();
                l.load(&bytes).unwrap();
            }
            log.extend(format!("{:?}", l.train_step().unwrap()).into_bytes());
        }
        log.extend(l.save().unwrap());
        log
    };
    assert_eq!(run(None), run(Some(7)));
}

#[test]
fn same_seed_same_numbers() {
    let go = |seed| {
        let mut l = MetaLearner::with_distribution(
            Method::Maml,
            short(Method::Maml, 5).check().unwrap(),
            sinusoid(),
            Seed(seed),
        )
        .unwrap();
        (0..5).map(|_| l.meta_step().unwrap()).collect::<Vec<f64>>()
    };
    assert_eq!(go(1), go(1));
    assert_ne!(go(1), go(2));
}

#[test]
fn the_thread_count_does_not_change_a_number() {
    for method in [Method::Maml, Method::Reptile, Method::MetaSgd] {
        let run = |threads: usize| {
            let hp = MetaParams {
                threads,
                ..short(method, 5)
            };
            let mut l =
                MetaLearner::with_distribution(method, hp.check().unwrap(), sinusoid(), Seed(3))
                    .unwrap();
            let losses: Vec<f64> = (0..5).map(|_| l.meta_step().unwrap()).collect();
            // Evaluation runs its tasks on the same pool.
            let eval = l.evaluate_on(&*sinusoid(), Split::Test, 12, "").unwrap();
            (losses, l.params().clone(), eval)
        };
        let (one, p1, e1) = run(1);
        let (two, p2, e2) = run(2);
        assert_eq!(one, two, "{}: meta-losses differ", method.name());
        assert!(p1 == p2, "{}: parameters differ", method.name());
        assert_eq!(e1, e2, "{}: evaluation differs", method.name());
        assert_eq!(e1.get("eval_tasks"), Some(&12.0));
    }
}

#[test]
fn the_meta_step_follows_the_mean_meta_gradient_of_the_batch() {
    use autodidact_core::optim::values;
    use autodidact_core::{CreateGraph, Tape};
    use autodidact_gradient::maml::maml_meta_loss;
    // One meta-step with plain Adam from fresh state moves each parameter by ≈ lr·sign(g)
    // for the gradient g of the whole batch's mean loss taken on one tape.
    let hp = MetaParams {
        meta_batch: 4,
        outer_lr: 1e-4,
        ..short(Method::Maml, 1)
    };
    let mut l = MetaLearner::with_distribution(
        Method::Maml,
        hp.clone().check().unwrap(),
        sinusoid(),
        Seed(11),
    )
    .unwrap();
    let before = l.params().clone();
    // The same tasks the learner draws at iteration 0 (train split, its derived seed).
    let tasks: Vec<_> = {
        use autodidact_core::TaskDistribution;
        let seed = Seed(11).derive("meta-train");
        (0..4)
            .map(|i| sinusoid().task(Split::Train, seed, i).unwrap())
            .collect()
    };
    let g = {
        let tape = Tape::<f32>::new();
        let theta = tape.params(&before);
        let loss = maml_meta_loss(l.model(), &theta, &tasks, hp.inner_lr, 1, false);
        values(&tape.grad(&loss, &theta, CreateGraph::No))
    };
    l.meta_step().unwrap();
    for ((old, new), g) in before.tensors().iter().zip(l.params().tensors()).zip(&g) {
        for ((o, n), gi) in old.iter().zip(new).zip(g) {
            if gi.abs() > 1e-3 {
                let step = (o - n) / 1e-4;
                assert!(
                    (step - gi.signum()).abs() < 1e-2,
                    "step {step} for gradient {gi}"
                );
            }
        }
    }
}
