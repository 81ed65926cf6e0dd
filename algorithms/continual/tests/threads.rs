//! The thread count changes no number: a strategy with replay, one with EWC, MER on an online
//! stream, a Conv4 strategy and OML trained at 1 and 2 threads give the same bits in every
//! logged metric, the evaluation, the accuracy matrix and the checkpoint. The MLP runs have
//! batches of 128 rows through a 256-wide layer, so core's products are cut into row pieces
//! that the second thread shares; each experience's test set is scored on the pool.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_continual::hyperparams::ContinualParams;
use autodidact_continual::oml_learner::{OmlLearner, OmlParams, Representation};
use autodidact_continual::{ContinualLearner, Method};
use autodidact_core::layers::BackboneKind;
use autodidact_core::{Algorithm, Hyperparams as _, Metrics, Scenario, Seed};
use autodidact_envs::{Holdout, SplitStream, StreamOptions};

/// Every metric as (key, bits), so a NaN compares equal to itself and -0 differs from 0.
fn bits(logs: &[Metrics]) -> Vec<Vec<(String, u64)>> {
    logs.iter()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect())
        .collect()
}

/// The logs of every step and the evaluation (as bits), the accuracy matrix (as bits) and the
/// checkpoint of a whole run.
type Outcome = (Vec<Vec<(String, u64)>>, Vec<Vec<Option<u64>>>, Vec<u8>);

fn train(mut a: Box<dyn Algorithm>) -> Outcome {
    let mut logs = Vec::new();
    while a.steps_done() < a.total_steps() {
        logs.push(a.train_step().unwrap());
    }
    logs.push(a.evaluate(None).unwrap());
    let matrix = a
        .matrices()
        .values()
        .flatten()
        .map(|row| row.iter().map(|c| c.map(f64::to_bits)).collect())
        .collect();
    (bits(&logs), matrix, a.save().unwrap())
}

/// Class-incremental: 4 classes of 400 examples in 2 experiences (600 training examples each).
fn large_stream() -> SplitStream {
    SplitStream::new(
        &common::gaussian(4, 400, 16, 1),
        2,
        Scenario::ClassIncremental,
        Holdout::Random(0.25),
        0,
        Seed(1),
    )
    .unwrap()
}

fn strategy(method: Method, threads: usize, stream: &SplitStream) -> Outcome {
    let hp = ContinualParams {
        epochs: 2,
        batch_size: 128,
        hidden: vec![256, 256],
        eval_batch: 256,
        threads,
        ..common::quick(method.name())
    };
    let l = ContinualLearner::with_stream(method, hp.check().unwrap(), stream, Seed(4)).unwrap();
    train(Box::new(l))
}

#[test]
fn replay_and_ewc_give_the_same_bits_on_one_and_two_threads() {
    let stream = large_stream();
    for method in [Method::Replay, Method::Ewc] {
        let one = strategy(method, 1, &stream);
        assert!(one.0.iter().any(|m| m.iter().any(|(k, _)| k == "acc")));
        assert_eq!(one.1.len(), 2);
        assert!(
            one.1.iter().flatten().all(Option::is_some),
            "every row filled"
        );
        let two = strategy(method, 2, &stream);
        assert!(one.0 == two.0, "{}: the logs differ", method.name());
        assert!(one.1 == two.1, "{}: the matrices differ", method.name());
        assert!(one.2 == two.2, "{}: the checkpoints differ", method.name());
    }
}

#[test]
fn mer_online_and_a_conv4_strategy_give_the_same_bits_on_one_and_two_threads() {
    let mut online = common::permuted(2);
    online.set_online(true);
    let images = common::ImageStream::new(2, 2, 12, 16, 3);
    let run = |threads: usize| {
        let mer = ContinualParams {
            hidden: vec![16],
            mer_batches: 2,
            mer_batch_size: 4,
            threads,
            ..common::quick("mer")
        };
        let mer =
            ContinualLearner::with_stream(Method::Mer, mer.check().unwrap(), &online, Seed(2));
        let conv = ContinualParams {
            backbone: BackboneKind::Conv4,
            filters: 4,
            epochs: 2,
            threads,
            ..common::quick("replay")
        };
        let conv =
            ContinualLearner::with_stream(Method::Replay, conv.check().unwrap(), &images, Seed(2));
        (
            train(Box::new(mer.unwrap())),
            train(Box::new(conv.unwrap())),
        )
    };
    let (mer1, conv1) = run(1);
    let (mer2, conv2) = run(2);
    assert!(mer1 == mer2, "mer differs");
    assert!(conv1 == conv2, "conv4 replay differs");
}

#[test]
fn oml_gives_the_same_bits_on_one_and_two_threads() {
    let stream = SplitStream::with_options(
        &common::gaussian(8, 12, 6, 2),
        4,
        Scenario::ClassIncremental,
        Holdout::Random(0.25),
        0,
        Seed(3),
        StreamOptions {
            online: true,
            pretrain_classes: 4,
            stream_classes: 4,
        },
    )
    .unwrap();
    for representation in [Representation::Oml, Representation::Pretrained] {
        let run = |threads: usize| {
            let hp = OmlParams {
                representation,
                rln_hidden: vec![12],
                pln_hidden: vec![8],
                meta_iterations: 6,
                traj_classes: 2,
                traj_shots: 2,
                remember: 4,
                pretrain_batch: 8,
                log_every: 2,
                threads,
                ..OmlParams::default()
            };
            train(Box::new(
                OmlLearner::with_stream(hp.check().unwrap(), &stream, Seed(5)).unwrap(),
            ))
        };
        let one = run(1);
        assert!(one.1.last().is_some_and(|r| r.iter().all(Option::is_some)));
        assert!(one == run(2), "{representation:?} differs");
    }
}

#[test]
fn threads_out_of_range_is_refused_with_the_key_named() {
    for threads in [257usize, 10_000] {
        let err = ContinualParams {
            threads,
            ..common::quick("naive")
        }
        .check()
        .unwrap_err()
        .to_string();
        assert!(err.contains("threads"), "{err}");
        let err = OmlParams {
            threads,
            ..OmlParams::default()
        }
        .check()
        .unwrap_err()
        .to_string();
        assert!(err.contains("threads"), "{err}");
    }
    let hp = ContinualParams::default();
    assert_eq!(hp.threads, 0, "every core by default");
}
