//! Continual streams: split (class- and task-incremental) and permuted (domain-incremental)
//! over the gaussian, omniglot and intents sources.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use autodidact_core::{Config, Scenario, Seed, TaskStream};
use autodidact_envs::gaussian::{GaussianClasses, GaussianClassesParams};
use autodidact_envs::streams::{
    permuted_stream_from_config, split_stream_from_config, PermutedStream, SplitStream,
};
use common::*;

fn gaussian(classes: usize, per: usize) -> autodidact_envs::LabelledDataset {
    GaussianClasses::new(GaussianClassesParams {
        classes,
        examples_per_class: per,
        dim: 6,
        ..GaussianClassesParams::default()
    })
    .unwrap()
    .dataset(Seed(0))
    .unwrap()
}

#[test]
fn split_stream_partitions_the_classes() {
    let d = gaussian(11, 10);
    let s = SplitStream::new(&d, 4, Scenario::ClassIncremental, 0.3, 0, Seed(1)).unwrap();
    assert_eq!(s.scenario(), Scenario::ClassIncremental);
    assert_eq!(s.num_classes(), 11);
    assert_eq!(s.input_shape(), vec![6]);
    let ex = s.experiences();
    assert_eq!(ex.len(), 4);
    assert_eq!(
        ex.iter().map(|e| e.classes.len()).collect::<Vec<_>>(),
        vec![3, 3, 3, 2]
    );
    let mut seen = BTreeSet::new();
    for (i, e) in ex.iter().enumerate() {
        assert_eq!(e.index, i);
        assert_eq!(e.task_id, None);
        for c in &e.classes {
            assert!(seen.insert(*c), "class {c} in two experiences");
        }
        let cls: BTreeSet<usize> = e.classes.iter().copied().collect();
        assert!(e.train_y.iter().chain(&e.test_y).all(|y| cls.contains(y)));
        assert_eq!(e.train_x.shape(), &[e.train_y.len(), 6]);
        assert_eq!(e.test_x.shape(), &[e.test_y.len(), 6]);
        assert_eq!(e.train_y.len(), 7 * e.classes.len());
        assert_eq!(e.test_y.len(), 3 * e.classes.len());
    }
    assert_eq!(seen, (0..11).collect());
    // Global ids number the classes in arrival order.
    assert_eq!(ex[0].classes, vec![0, 1, 2]);
    // Train and test examples are disjoint.
    for e in ex {
        let train: BTreeSet<Vec<u32>> = e
            .train_x
            .outer_iter()
            .map(|r| r.iter().map(|v| v.to_bits()).collect())
            .collect();
        assert!(e
            .test_x
            .outer_iter()
            .all(|r| !train.contains(&r.iter().map(|v| v.to_bits()).collect::<Vec<_>>())));
    }
    let t = SplitStream::new(&d, 4, Scenario::TaskIncremental, 0.3, 0, Seed(1)).unwrap();
    assert_eq!(
        t.experiences()
            .iter()
            .map(|e| e.task_id)
            .collect::<Vec<_>>(),
        vec![Some(0), Some(1), Some(2), Some(3)]
    );
}

#[test]
fn streams_are_seeded() {
    let d = gaussian(10, 6);
    let a = SplitStream::new(&d, 5, Scenario::ClassIncremental, 0.5, 0, Seed(1)).unwrap();
    let b = SplitStream::new(&d, 5, Scenario::ClassIncremental, 0.5, 0, Seed(1)).unwrap();
    let c = SplitStream::new(&d, 5, Scenario::ClassIncremental, 0.5, 0, Seed(2)).unwrap();
    assert_eq!(a.experiences(), b.experiences());
    assert_ne!(
        a.class_names(),
        c.class_names(),
        "the class order follows the seed"
    );
    let p = PermutedStream::new(&d, 3, 0.5, 0, Seed(1)).unwrap();
    let q = PermutedStream::new(&d, 3, 0.5, 0, Seed(1)).unwrap();
    assert_eq!(p.experiences(), q.experiences());
    assert_ne!(
        p.permutations(),
        PermutedStream::new(&d, 3, 0.5, 0, Seed(2))
            .unwrap()
            .permutations()
    );
}

#[test]
fn permuted_stream_permutes_features_of_the_same_examples() {
    let d = gaussian(4, 10);
    let s = PermutedStream::new(&d, 3, 0.2, 5, Seed(3)).unwrap();
    assert_eq!(s.scenario(), Scenario::DomainIncremental);
    assert_eq!(s.num_classes(), 4);
    let ex = s.experiences();
    assert_eq!(s.permutations()[0], (0..6).collect::<Vec<_>>());
    assert_ne!(s.permutations()[1], s.permutations()[2]);
    for e in ex {
        assert_eq!(e.classes, vec![0, 1, 2, 3]);
        assert_eq!(e.task_id, None);
        assert_eq!(e.train_y, ex[0].train_y);
        assert_eq!(e.train_y.len(), 4 * 4, "max_per_class 5, one held out");
    }
    for (e, perm) in ex.iter().zip(s.permutations()) {
        for (row, row0) in e.train_x.outer_iter().zip(ex[0].train_x.outer_iter()) {
            for (j, &pj) in perm.iter().enumerate() {
                assert_eq!(row[j], row0[pj]);
            }
        }
    }
}

#[test]
fn stream_errors_name_both_numbers() {
    let d = gaussian(3, 4);
    let m = SplitStream::new(&d, 5, Scenario::ClassIncremental, 0.2, 0, Seed(0))
        .unwrap_err()
        .to_string();
    assert!(m.contains('5') && m.contains('3'), "{m}");
    let tiny = gaussian(3, 2);
    assert!(SplitStream::new(&tiny, 3, Scenario::ClassIncremental, 0.2, 1, Seed(0)).is_err());
}

fn cfg(pairs: &[(&str, toml::Value)]) -> Config {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn streams_from_config_over_every_source() {
    let s = split_stream_from_config(
        &cfg(&[
            ("experiences", 2.into()),
            ("classes", 6.into()),
            ("dim", 3.into()),
        ]),
        Seed(0),
    )
    .unwrap();
    assert_eq!((s.num_classes(), s.input_shape()), (6, vec![3]));
    let m = split_stream_from_config(&cfg(&[("bogus", 1.into())]), Seed(0))
        .unwrap_err()
        .to_string();
    assert!(m.contains("bogus"), "{m}");
    let m = split_stream_from_config(&cfg(&[("source", "mnist".into())]), Seed(0))
        .unwrap_err()
        .to_string();
    assert!(m.contains("mnist") && m.contains("omniglot"), "{m}");

    let root = temp_dir("stream-src");
    write_folder(
        &root.join("omni"),
        &omniglot_files("", &["A", "B"], 3, 4, 14),
    );
    let s = split_stream_from_config(
        &cfg(&[
            ("source", "omniglot".into()),
            ("experiences", 3.into()),
            ("data_dir", root.join("omni").display().to_string().into()),
            ("image_size", 7.into()),
        ]),
        Seed(0),
    )
    .unwrap();
    assert_eq!((s.num_classes(), s.input_shape()), (6, vec![1, 7, 7]));
    assert_eq!(s.experiences()[0].train_y.len(), 2 * 3);
    std::fs::write(root.join("intents.csv"), intents_csv(8, 5, "category")).unwrap();
    let s = split_stream_from_config(
        &cfg(&[
            ("source", "intents".into()),
            ("experiences", 4.into()),
            (
                "data_dir",
                root.join("intents.csv").display().to_string().into(),
            ),
            ("dim", 64.into()),
        ]),
        Seed(0),
    )
    .unwrap();
    assert_eq!((s.num_classes(), s.input_shape()), (8, vec![64]));
    assert!(s.class_names().iter().all(|n| n.starts_with("intent_")));
    let p = permuted_stream_from_config(
        &cfg(&[
            ("source", "intents".into()),
            ("experiences", 2.into()),
            (
                "data_dir",
                root.join("intents.csv").display().to_string().into(),
            ),
            ("dim", 64.into()),
        ]),
        Seed(0),
    )
    .unwrap();
    assert_eq!(p.experiences().len(), 2);
    std::fs::remove_dir_all(&root).ok();
}
