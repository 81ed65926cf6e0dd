//! The online protocol: the stream yields each example exactly once, classes in order,
//! deterministically; every strategy runs in it and learns each example once; a run interrupted
//! mid-stream and resumed equals a straight one, byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_continual::hyperparams::ContinualParams;
use autodidact_continual::{ContinualLearner, Method};
use autodidact_core::Hyperparams as _;
use autodidact_core::{Algorithm, Metrics, Scenario, Seed, TaskStream};
use autodidact_envs::{Holdout, LabelledDataset, SplitStream, StreamOptions};

/// 8 classes, 12 examples each (9 to train, 3 to test), in 4 experiences of 2 classes.
fn online_stream(data: &LabelledDataset, seed: u64, options: StreamOptions) -> SplitStream {
    SplitStream::with_options(
        data,
        4,
        Scenario::ClassIncremental,
        Holdout::Random(0.25),
        0,
        Seed(seed),
        StreamOptions {
            online: true,
            ..options
        },
    )
    .unwrap()
}

fn rows(x: &autodidact_core::Tensor<f32>) -> Vec<Vec<u32>> {
    let n = x.shape()[0];
    let d = x.len() / n.max(1);
    let flat: Vec<f32> = x.iter().copied().collect();
    flat.chunks(d)
        .map(|r| r.iter().map(|v| v.to_bits()).collect())
        .collect()
}

#[test]
fn the_online_stream_yields_each_example_once_in_class_order_deterministically() {
    let data = common::gaussian(8, 12, 6, 3);
    let s = online_stream(&data, 5, StreamOptions::default());
    assert!(s.online());
    // Every example of the source is in exactly one place: a training row or a test row.
    let mut all: Vec<Vec<u32>> = Vec::new();
    let mut labels = Vec::new();
    for e in s.experiences() {
        all.extend(rows(&e.train_x));
        all.extend(rows(&e.test_x));
        labels.extend(e.train_y.iter().copied());
    }
    let mut source: Vec<Vec<u32>> = (0..data.num_classes())
        .flat_map(|c| (0..data.class(c).len()).map(move |i| (c, i)))
        .map(|(c, i)| data.example(c, i).iter().map(|v| v.to_bits()).collect())
        .collect();
    assert_eq!(all.len(), source.len());
    all.sort();
    source.sort();
    assert_eq!(all, source, "every example exactly once");
    // Classes arrive in order: the training labels never go back.
    assert!(
        labels.windows(2).all(|w| w[0] <= w[1]),
        "labels out of class order: {labels:?}"
    );
    assert_eq!(labels.len(), 8 * 9);
    // Deterministic from the seed; another seed, another order.
    let again = online_stream(&data, 5, StreamOptions::default());
    for (a, b) in s.experiences().iter().zip(again.experiences()) {
        assert_eq!(a, b);
    }
    let other = online_stream(&data, 6, StreamOptions::default());
    assert_ne!(s.experiences()[0].train_x, other.experiences()[0].train_x);
    // The same examples as the epoch stream of the same seed, only in class order.
    let epoch = SplitStream::new(
        &data,
        4,
        Scenario::ClassIncremental,
        Holdout::Random(0.25),
        0,
        Seed(5),
    )
    .unwrap();
    assert!(!epoch.online());
    for (a, b) in s.experiences().iter().zip(epoch.experiences()) {
        let (mut ra, mut rb) = (rows(&a.train_x), rows(&b.train_x));
        ra.sort();
        rb.sort();
        assert_eq!(ra, rb);
        assert_eq!(a.test_x, b.test_x);
    }
}

#[test]
fn pretraining_classes_stay_out_of_the_stream_and_are_shared_across_stream_sizes() {
    let data = common::gaussian(10, 8, 5, 1);
    let opts = |n| StreamOptions {
        online: true,
        pretrain_classes: 4,
        stream_classes: n,
    };
    let small = online_stream(&data, 2, opts(4));
    let all = online_stream(&data, 2, opts(0));
    assert_eq!(small.num_classes(), 4);
    assert_eq!(all.num_classes(), 6);
    let (p, q) = (small.pretraining().unwrap(), all.pretraining().unwrap());
    assert_eq!(
        p, q,
        "the pretraining set does not depend on the stream's size"
    );
    assert_eq!(p.classes, vec![0, 1, 2, 3]);
    let pre: std::collections::BTreeSet<Vec<u32>> = rows(&p.train_x)
        .into_iter()
        .chain(rows(&p.test_x))
        .collect();
    for e in all.experiences() {
        for r in rows(&e.train_x).into_iter().chain(rows(&e.test_x)) {
            assert!(!pre.contains(&r), "a pretraining example is in the stream");
        }
    }
    assert!(SplitStream::with_options(
        &data,
        2,
        Scenario::ClassIncremental,
        Holdout::Random(0.25),
        0,
        Seed(0),
        opts(7),
    )
    .is_err());
}

fn quick(method: Method) -> ContinualParams {
    ContinualParams {
        lr: 0.01,
        replay_batch: 4,
        buffer_size: 16,
        agem_sample: 8,
        mer_batches: 2,
        mer_batch_size: 3,
        ..common::quick(method.name())
    }
}

const ONLINE: [Method; 8] = [
    Method::Naive,
    Method::Ewc,
    Method::Si,
    Method::Lwf,
    Method::Replay,
    Method::Agem,
    Method::Joint,
    Method::Mer,
];

#[test]
fn every_strategy_takes_one_step_per_example_and_reports_the_online_curve() {
    let data = common::gaussian(8, 12, 6, 3);
    let s = online_stream(&data, 5, StreamOptions::default());
    for method in ONLINE {
        let mut l =
            ContinualLearner::with_stream(method, quick(method).check().unwrap(), &s, Seed(1))
                .unwrap();
        assert_eq!(l.total_steps(), 72, "{}", method.name());
        let mut boundaries = 0;
        while l.steps_done() < l.total_steps() {
            let m = l.train_step().unwrap();
            if m.contains_key("classes_seen") {
                boundaries += 1;
                assert_eq!(m["classes_seen"], 2.0 * boundaries as f64);
                assert!((0.0..=1.0).contains(&m["seen_test_acc"]));
            }
        }
        assert!(l.train_step().is_err(), "the stream is done");
        assert_eq!(boundaries, 4);
        assert_eq!(l.matrix().trained(), 4);
        assert_eq!(l.online_progress().curve.len(), 4);
        let last = l.online_progress().curve.last().unwrap().clone();
        eprintln!(
            "{}: seen test {:.2} train {:.2} ACC {:.2} BWT {:.2}",
            method.name(),
            last.test_acc,
            last.train_acc,
            l.matrix().acc(),
            l.matrix().bwt()
        );
        // The pooled test accuracy over all 4 experiences agrees with ACC (equal test sizes).
        assert!((last.test_acc - l.matrix().acc()).abs() < 1e-9);
    }
}

#[test]
fn joint_online_is_given_every_example_exactly_once_in_stream_order() {
    let data = common::gaussian(8, 12, 6, 3);
    let s = online_stream(&data, 5, StreamOptions::default());
    let mut l = ContinualLearner::with_stream(
        Method::Joint,
        quick(Method::Joint).check().unwrap(),
        &s,
        Seed(1),
    )
    .unwrap();
    while l.steps_done() < l.total_steps() {
        l.train_step().unwrap();
    }
    // Joint's unbounded memory holds what it was given, in the order given.
    let state = l.strategy().save_state().unwrap();
    let given: Vec<usize> = serde_json::from_value(state["items"]["y"].clone()).unwrap();
    let x: Vec<f32> = serde_json::from_value(state["items"]["x"].clone()).unwrap();
    let stream_y: Vec<usize> = s
        .experiences()
        .iter()
        .flat_map(|e| e.train_y.clone())
        .collect();
    let stream_x: Vec<f32> = s
        .experiences()
        .iter()
        .flat_map(|e| e.train_x.iter().copied().collect::<Vec<_>>())
        .collect();
    assert_eq!(given, stream_y);
    assert_eq!(x, stream_x);
}

fn run_to_end(l: &mut ContinualLearner) -> Vec<Metrics> {
    let mut out = Vec::new();
    while l.steps_done() < l.total_steps() {
        out.push(l.train_step().unwrap());
    }
    out
}

#[test]
fn interrupted_mid_stream_then_resumed_equals_straight_through() {
    let data = common::gaussian(8, 12, 6, 3);
    let s = online_stream(&data, 5, StreamOptions::default());
    for method in ONLINE {
        let hp = || quick(method).check().unwrap();
        let mut straight = ContinualLearner::with_stream(method, hp(), &s, Seed(7)).unwrap();
        let all = run_to_end(&mut straight);
        // Stop mid-experience (step 23 of 72: experience 1, example 5) and at a boundary (36).
        for stop in [23usize, 36] {
            let mut first = ContinualLearner::with_stream(method, hp(), &s, Seed(7)).unwrap();
            for _ in 0..stop {
                first.train_step().unwrap();
            }
            let bytes = first.save().unwrap();
            drop(first);
            let mut resumed = ContinualLearner::with_stream(method, hp(), &s, Seed(7)).unwrap();
            resumed.load(&bytes).unwrap();
            let rest = run_to_end(&mut resumed);
            assert_eq!(rest, all[stop..], "{} resumed at {stop}", method.name());
            assert_eq!(
                resumed.save().unwrap(),
                straight.save().unwrap(),
                "{} resumed at {stop}: final state",
                method.name()
            );
        }
    }
}
