//! Short runs on tiny streams: replay and EWC beat naive fine-tuning, every strategy learns
//! each new experience, multi-head and Conv4 models train, and a checkpoint resumes exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_continual::hyperparams::ContinualParams;
use autodidact_continual::{ContinualLearner, Method};
use autodidact_core::Hyperparams as _;
use autodidact_core::{Algorithm, Seed, TaskStream};

fn run(
    method: Method,
    hp: ContinualParams,
    stream: &dyn TaskStream,
    seed: u64,
) -> ContinualLearner {
    let mut l =
        ContinualLearner::with_stream(method, hp.check().unwrap(), stream, Seed(seed)).unwrap();
    while l.steps_done() < l.total_steps() {
        l.train_step().unwrap();
    }
    assert_eq!(l.matrix().trained(), stream.experiences().len());
    l
}

#[test]
fn replay_beats_naive_and_every_strategy_learns_each_experience_class_incremental() {
    let stream = common::class_incremental(0);
    let mut acc = std::collections::BTreeMap::new();
    for method in Method::ALL {
        let l = run(method, common::quick(method.name()), &stream, 0);
        let m = l.matrix();
        eprintln!(
            "{}: ACC {:.2} BWT {:.2} R[i][i] {:?}",
            method.name(),
            m.acc(),
            m.bwt(),
            m.diagonal()
        );
        for (i, d) in m.diagonal().iter().enumerate() {
            assert!(*d >= 0.75, "{}: R[{i}][{i}] = {d}", method.name());
        }
        acc.insert(method.name(), (m.acc(), m.bwt()));
    }
    let (naive, naive_bwt) = acc["naive"];
    let (replay, replay_bwt) = acc["replay"];
    assert!(
        naive < 0.4 && naive_bwt < -0.6,
        "naive {naive} {naive_bwt}: it should forget"
    );
    assert!(replay > naive + 0.3, "replay {replay} vs naive {naive}");
    assert!(
        replay_bwt > naive_bwt + 0.3,
        "replay BWT {replay_bwt} vs naive {naive_bwt}"
    );
    assert!(acc["joint"].0 > naive + 0.4, "{acc:?}");
}

#[test]
fn ewc_beats_naive_on_the_permuted_stream() {
    let stream = common::permuted(0);
    let base = |m: &str| ContinualParams {
        epochs: 5,
        hidden: vec![64],
        ..common::quick(m)
    };
    let naive = run(Method::Naive, base("naive"), &stream, 0);
    let ewc = run(
        Method::Ewc,
        ContinualParams {
            ewc_lambda: 1e3,
            ..base("ewc")
        },
        &stream,
        0,
    );
    let (n, e) = (naive.matrix(), ewc.matrix());
    assert!(
        e.acc() > n.acc() + 0.05,
        "EWC {} vs naive {}",
        e.acc(),
        n.acc()
    );
    assert!(
        e.bwt() > n.bwt() + 0.05,
        "EWC BWT {} vs naive {}",
        e.bwt(),
        n.bwt()
    );
}

#[test]
fn multi_head_task_incremental_keeps_old_tasks() {
    let stream = common::task_incremental(1);
    let l = run(Method::Naive, common::quick("naive"), &stream, 1);
    assert!(l.model().multi_head);
    assert_eq!(l.model().heads.len(), 4);
    // With a head per task, even fine-tuning keeps most of each old task.
    assert!(l.matrix().acc() > 0.8, "{:?}", l.matrix().rows);
    let metrics = ContinualLearner::with_stream(
        Method::Naive,
        common::quick("naive").check().unwrap(),
        &stream,
        Seed(1),
    )
    .unwrap()
    .evaluate(None)
    .unwrap();
    assert_eq!(metrics["experiences_trained"], 0.0);
    // A single head on a task-incremental stream masks to the task's classes.
    let single = ContinualParams {
        head: autodidact_continual::hyperparams::Head::Single,
        ..common::quick("naive")
    };
    let l = run(Method::Naive, single, &stream, 1);
    assert!(!l.model().multi_head);
    assert!(l.matrix().acc() > 0.6, "{:?}", l.matrix().rows);
}

#[test]
fn multi_head_needs_task_ids() {
    let stream = common::class_incremental(0);
    let hp = ContinualParams {
        head: autodidact_continual::hyperparams::Head::Multi,
        ..common::quick("naive")
    };
    let err = ContinualLearner::with_stream(Method::Naive, hp.check().unwrap(), &stream, Seed(0))
        .err()
        .unwrap();
    assert!(err.to_string().contains("task ids"), "{err}");
}

#[test]
fn conv4_trains_on_images() {
    let stream = common::ImageStream::new(2, 2, 12, 16, 4);
    let hp = ContinualParams {
        filters: 8,
        epochs: 8,
        batch_size: 8,
        buffer_size: 16,
        ..common::quick("replay")
    };
    let l = run(Method::Replay, hp, &stream, 0);
    assert!(matches!(
        l.model().body,
        autodidact_continual::model::Body::Conv4(_)
    ));
    let m = l.matrix();
    assert!(m.get(1, 1) > 0.8 && m.get(1, 0) > 0.6, "{:?}", m.rows);
}

fn bits(l: &ContinualLearner) -> Vec<u32> {
    l.params()
        .tensors()
        .iter()
        .flat_map(|t| t.iter().map(|x| x.to_bits()))
        .collect()
}

/// Trains `k` epochs, checkpoints, restores into a fresh learner, finishes; the result must
/// equal a straight run bit for bit.
fn resumes_exactly(method: Method, hp: ContinualParams, stream: &dyn TaskStream, k: u64) {
    let straight = run(method, hp.clone(), stream, 7);
    let mut first =
        ContinualLearner::with_stream(method, hp.clone().check().unwrap(), stream, Seed(7))
            .unwrap();
    for _ in 0..k {
        first.train_step().unwrap();
    }
    let ckpt = first.save().unwrap();
    drop(first);
    let mut resumed =
        ContinualLearner::with_stream(method, hp.check().unwrap(), stream, Seed(7)).unwrap();
    resumed.load(&ckpt).unwrap();
    assert_eq!(resumed.steps_done(), k);
    while resumed.steps_done() < resumed.total_steps() {
        resumed.train_step().unwrap();
    }
    assert_eq!(
        bits(&straight),
        bits(&resumed),
        "{}: parameters differ",
        method.name()
    );
    assert_eq!(straight.matrix(), resumed.matrix(), "{}", method.name());
    assert_eq!(
        straight.save().unwrap(),
        resumed.save().unwrap(),
        "{}",
        method.name()
    );
}

#[test]
fn interrupted_then_resumed_equals_straight_through() {
    let stream = common::class_incremental(3);
    for method in Method::ALL {
        let hp = ContinualParams {
            epochs: 2,
            ..common::quick(method.name())
        };
        // Mid-experience (after 3 of 8 epochs) and at an experience boundary (after 4).
        resumes_exactly(method, hp.clone(), &stream, 3);
        resumes_exactly(method, hp, &stream, 4);
    }
    let images = common::ImageStream::new(2, 2, 6, 16, 1);
    let hp = ContinualParams {
        filters: 4,
        epochs: 2,
        batch_size: 8,
        ..common::quick("lwf")
    };
    resumes_exactly(Method::Lwf, hp, &images, 3);
}

#[test]
fn a_checkpoint_of_another_method_is_refused() {
    let stream = common::class_incremental(0);
    let naive = ContinualLearner::with_stream(
        Method::Naive,
        common::quick("naive").check().unwrap(),
        &stream,
        Seed(0),
    )
    .unwrap();
    let mut ewc = ContinualLearner::with_stream(
        Method::Ewc,
        common::quick("ewc").check().unwrap(),
        &stream,
        Seed(0),
    )
    .unwrap();
    let err = ewc.load(&naive.save().unwrap()).unwrap_err().to_string();
    assert!(err.contains("naive"), "{err}");
    assert!(ewc.load(b"not json").is_err());
}
