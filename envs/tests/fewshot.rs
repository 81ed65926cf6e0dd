//! Sinusoid and gaussian-classes task distributions, and the shared episode sampler.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use autodidact_core::{Hyperparams, Seed, Split, TaskDistribution, TaskKind};
use autodidact_envs::classification::{ClassSplits, FewShotClassification, LabelledDataset};
use autodidact_envs::gaussian::{GaussianClasses, GaussianClassesParams};
use autodidact_envs::sinusoid::{Sinusoid, SinusoidParams};
use autodidact_envs::EnvsError;

#[test]
fn sinusoid_tasks_have_the_paper_ranges() {
    let s = Sinusoid::new(SinusoidParams {
        shots: 5,
        queries: 7,
        ..SinusoidParams::default()
    })
    .unwrap();
    assert_eq!(s.input_shape(), vec![1]);
    assert_eq!(s.kind(), TaskKind::Regression { output_dim: 1 });
    let mut rng = Seed(0).rng("t");
    for _ in 0..200 {
        let (task, wave) = s.sample_with_wave(&mut rng).unwrap();
        assert!((0.1..=5.0).contains(&wave.amplitude));
        assert!((0.0..=std::f64::consts::PI).contains(&wave.phase));
        assert_eq!(task.support_x.shape(), &[5, 1]);
        assert_eq!(task.query_x.shape(), &[7, 1]);
        let y = task.support_y.values().unwrap();
        assert_eq!(y.shape(), &[5, 1]);
        for (x, y) in task.support_x.iter().zip(y.iter()) {
            assert!((-5.0..=5.0).contains(x));
            assert!((wave.eval(f64::from(*x)) as f32 - y).abs() < 1e-4);
        }
    }
}

#[test]
fn sinusoid_is_seeded() {
    let s = Sinusoid::new(SinusoidParams::default()).unwrap();
    let a = s.task(Split::Train, Seed(1), 0).unwrap();
    assert_eq!(a, s.task(Split::Train, Seed(1), 0).unwrap());
    assert_ne!(a, s.task(Split::Train, Seed(1), 1).unwrap());
    assert_ne!(a, s.task(Split::Train, Seed(2), 0).unwrap());
    assert_ne!(a, s.task(Split::Test, Seed(1), 0).unwrap());
    assert!(SinusoidParams {
        amplitude_min: 2.0,
        amplitude_max: 1.0,
        ..SinusoidParams::default()
    }
    .validate()
    .is_err());
    assert!(SinusoidParams {
        shots: 0,
        ..SinusoidParams::default()
    }
    .validate()
    .is_err());
}

fn nearest_mean_accuracy(task: &autodidact_core::Task, ways: usize) -> f64 {
    let dim = task.support_x.shape()[1];
    let sy = task.support_y.labels().unwrap();
    let mut means = vec![vec![0.0f32; dim]; ways];
    let mut counts = vec![0usize; ways];
    for (row, &y) in task.support_x.outer_iter().zip(sy) {
        for (m, x) in means[y].iter_mut().zip(row.iter()) {
            *m += x;
        }
        counts[y] += 1;
    }
    for (m, c) in means.iter_mut().zip(&counts) {
        m.iter_mut().for_each(|v| *v /= *c as f32);
    }
    let qy = task.query_y.labels().unwrap();
    let correct = task
        .query_x
        .outer_iter()
        .zip(qy)
        .filter(|(row, &y)| {
            let d = |m: &Vec<f32>| {
                m.iter()
                    .zip(row.iter())
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f32>()
            };
            (0..ways)
                .min_by(|&a, &b| d(&means[a]).total_cmp(&d(&means[b])))
                .unwrap()
                == y
        })
        .count();
    correct as f64 / qy.len() as f64
}

#[test]
fn gaussian_classes_are_learnable_few_shot() {
    let p = GaussianClassesParams {
        ways: 5,
        shots: 5,
        queries: 10,
        dim: 16,
        mean_scale: 1.0,
        noise: 0.5,
        ..GaussianClassesParams::default()
    };
    let g = GaussianClasses::new(p).unwrap();
    assert_eq!(g.kind(), TaskKind::Classification { ways: 5 });
    let mut acc = 0.0;
    let n = 50;
    for i in 0..n {
        let task = g.task(Split::Train, Seed(3), i).unwrap();
        assert_eq!(task.support_x.shape(), &[25, 16]);
        assert_eq!(task.query_x.shape(), &[50, 16]);
        acc += nearest_mean_accuracy(&task, 5);
    }
    acc /= n as f64;
    assert!(acc > 0.85, "nearest class mean reaches {acc}");
    // Pure noise: chance level.
    let noisy = GaussianClasses::new(GaussianClassesParams {
        mean_scale: 1e-6,
        noise: 1.0,
        ways: 5,
        shots: 5,
        queries: 10,
        ..GaussianClassesParams::default()
    })
    .unwrap();
    let chance = (0..n)
        .map(|i| nearest_mean_accuracy(&noisy.task(Split::Train, Seed(3), i).unwrap(), 5))
        .sum::<f64>()
        / n as f64;
    assert!(chance < 0.35, "{chance}");
}

#[test]
fn gaussian_classes_are_seeded() {
    let g = GaussianClasses::new(GaussianClassesParams::default()).unwrap();
    assert_eq!(
        g.task(Split::Train, Seed(1), 4).unwrap(),
        g.task(Split::Train, Seed(1), 4).unwrap()
    );
    assert_ne!(
        g.task(Split::Train, Seed(1), 4).unwrap(),
        g.task(Split::Train, Seed(2), 4).unwrap()
    );
    let a = g.dataset(Seed(5)).unwrap();
    assert_eq!(a, g.dataset(Seed(5)).unwrap());
    assert_ne!(a, g.dataset(Seed(6)).unwrap());
    assert_eq!(a.num_classes(), 20);
    assert_eq!(a.class(0).len(), 60);
}

fn toy_dataset(classes: usize, per: usize) -> LabelledDataset {
    let mut d = LabelledDataset::new("toy", vec![2, 3]);
    for c in 0..classes {
        let data: Vec<f32> = (0..per * 6).map(|i| (c * 1000 + i / 6) as f32).collect();
        d.push_class(
            format!("alpha{}/c{c}", c % 3),
            format!("alpha{}/c{c}", c % 3),
            data,
        )
        .unwrap();
    }
    d
}

#[test]
fn episodes_have_n_way_k_shot_shapes_and_relabelled_classes() {
    let d = Arc::new(toy_dataset(30, 8));
    let splits = ClassSplits::by_seed(&d, 0.6, 0.2, Seed(0)).unwrap();
    let fs = FewShotClassification::new(d.clone(), splits.clone(), 4, 2, 3).unwrap();
    let mut rng = Seed(1).rng("e");
    for split in [Split::Train, Split::Validation, Split::Test] {
        for _ in 0..20 {
            let (task, classes) = fs.episode(split, &mut rng).unwrap();
            assert_eq!(task.support_x.shape(), &[8, 2, 3]);
            assert_eq!(task.query_x.shape(), &[12, 2, 3]);
            assert_eq!(task.support_y.labels().unwrap(), &[0, 0, 1, 1, 2, 2, 3, 3]);
            assert!(classes.iter().all(|c| splits.get(split).contains(c)));
            let mut distinct = classes.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), 4);
            // Every example comes from its episode class, and support and query do not overlap.
            let mut seen = std::collections::BTreeSet::new();
            for (x, &y) in task
                .support_x
                .outer_iter()
                .chain(task.query_x.outer_iter())
                .zip(
                    task.support_y
                        .labels()
                        .unwrap()
                        .iter()
                        .chain(task.query_y.labels().unwrap()),
                )
            {
                let v = x.iter().next().copied().unwrap() as usize;
                assert_eq!(v / 1000, classes[y]);
                assert!(seen.insert(v), "an example drawn twice");
            }
        }
    }
}

#[test]
fn class_splits_are_disjoint_deterministic_and_by_group() {
    let d = toy_dataset(30, 4);
    let a = ClassSplits::by_seed(&d, 0.5, 0.25, Seed(7)).unwrap();
    assert_eq!(a, ClassSplits::by_seed(&d, 0.5, 0.25, Seed(7)).unwrap());
    assert_ne!(a, ClassSplits::by_seed(&d, 0.5, 0.25, Seed(8)).unwrap());
    let mut all: Vec<usize> = a
        .train
        .iter()
        .chain(&a.validation)
        .chain(&a.test)
        .copied()
        .collect();
    all.sort();
    assert_eq!(all, (0..30).collect::<Vec<_>>());
    assert_eq!(
        (a.train.len(), a.validation.len(), a.test.len()),
        (15, 8, 7)
    );
    // Lists by prefix and by name.
    let l = ClassSplits::from_lists(
        &d,
        &["alpha0".into()],
        &["alpha1/c1".into()],
        &["alpha2".into()],
    )
    .unwrap();
    assert_eq!(l.train.len(), 10);
    assert_eq!(l.validation, vec![1]);
    assert_eq!(l.test.len(), 10);
    let err = ClassSplits::from_lists(&d, &["alpha0".into()], &["alpha0/c3".into()], &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("alpha0/c3") && err.contains("both"), "{err}");
    let err = ClassSplits::from_lists(&d, &["klingon".into()], &[], &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("klingon"), "{err}");
}

#[test]
fn too_many_ways_names_both_numbers() {
    let d = Arc::new(toy_dataset(10, 4));
    let splits = ClassSplits::by_seed(&d, 0.6, 0.2, Seed(0)).unwrap();
    match FewShotClassification::new(d.clone(), splits.clone(), 7, 1, 1) {
        Err(e @ EnvsError::NotEnoughClasses { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains('7') && msg.contains('6') && msg.contains("train"),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
    match FewShotClassification::new(d, splits, 2, 3, 2) {
        Err(e @ EnvsError::NotEnoughExamples { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains('4') && msg.contains('5'), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    let mut bad = LabelledDataset::new("x", vec![3]);
    assert!(bad.push_class("a", "a", vec![0.0; 4]).is_err());
}
