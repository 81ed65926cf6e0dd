//! Continual streams: split (class- and task-incremental) and permuted (domain-incremental)
//! over the gaussian, omniglot and intents sources.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeSet;

use autodidact_core::{Config, Scenario, Seed, TaskStream};
use autodidact_envs::gaussian::{GaussianClasses, GaussianClassesParams};
use autodidact_envs::streams::{
    permuted_stream_from_config, split_stream_from_config, Holdout, HoldoutKind, PermutedStream,
    SplitStream,
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
    let s = SplitStream::new(
        &d,
        4,
        Scenario::ClassIncremental,
        Holdout::Random(0.3),
        0,
        Seed(1),
    )
    .unwrap();
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
    let t = SplitStream::new(
        &d,
        4,
        Scenario::TaskIncremental,
        Holdout::Random(0.3),
        0,
        Seed(1),
    )
    .unwrap();
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
    let split = |seed| {
        SplitStream::new(
            &d,
            5,
            Scenario::ClassIncremental,
            Holdout::Random(0.5),
            0,
            Seed(seed),
        )
        .unwrap()
    };
    let (a, b, c) = (split(1), split(1), split(2));
    assert_eq!(a.experiences(), b.experiences());
    assert_ne!(
        a.class_names(),
        c.class_names(),
        "the class order follows the seed"
    );
    let p = PermutedStream::new(&d, 3, Holdout::Random(0.5), 0, Seed(1)).unwrap();
    let q = PermutedStream::new(&d, 3, Holdout::Random(0.5), 0, Seed(1)).unwrap();
    assert_eq!(p.experiences(), q.experiences());
    assert_ne!(
        p.permutations(),
        PermutedStream::new(&d, 3, Holdout::Random(0.5), 0, Seed(2))
            .unwrap()
            .permutations()
    );
}

#[test]
fn permuted_stream_permutes_features_of_the_same_examples() {
    let d = gaussian(4, 10);
    let s = PermutedStream::new(&d, 3, Holdout::Random(0.2), 5, Seed(3)).unwrap();
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
    let m = SplitStream::new(
        &d,
        5,
        Scenario::ClassIncremental,
        Holdout::Random(0.2),
        0,
        Seed(0),
    )
    .unwrap_err()
    .to_string();
    assert!(m.contains('5') && m.contains('3'), "{m}");
    let tiny = gaussian(3, 2);
    assert!(SplitStream::new(
        &tiny,
        3,
        Scenario::ClassIncremental,
        Holdout::Random(0.2),
        1,
        Seed(0)
    )
    .is_err());
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

/// The first `train_per` rows of each class of `intents_csv(classes, per)` go to one file, the rest
/// to another.
fn split_csv(classes: usize, per: usize, train_per: usize) -> (String, String) {
    let all = intents_csv(classes, per, "category");
    let mut lines = all.lines();
    let header = lines.next().unwrap().to_string();
    let (mut train, mut test) = (format!("{header}\n"), format!("{header}\n"));
    for (i, line) in lines.enumerate() {
        let out = if i % per < train_per {
            &mut train
        } else {
            &mut test
        };
        out.push_str(line);
        out.push('\n');
    }
    (train, test)
}

#[test]
fn source_holdout_keeps_the_datas_own_test_file() {
    let root = temp_dir("stream-holdout");
    let (train, test) = split_csv(6, 7, 5);
    std::fs::write(root.join("train.csv"), &train).unwrap();
    std::fs::write(root.join("test.csv"), &test).unwrap();
    let dir = root.display().to_string();
    let config = |holdout: &str, extra: &[(&str, toml::Value)]| {
        let mut c = cfg(&[
            ("source", "intents".into()),
            ("experiences", 3.into()),
            ("data_dir", dir.clone().into()),
            ("dim", 64.into()),
            ("holdout", holdout.into()),
        ]);
        c.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        c
    };
    // Every class: its 5 train.csv rows to train on, its 2 test.csv rows to test on, whatever
    // the seed (which only orders the training examples).
    for seed in [0, 1] {
        let s = split_stream_from_config(&config("source", &[]), Seed(seed)).unwrap();
        for e in s.experiences() {
            for &g in &e.classes {
                assert_eq!(e.train_y.iter().filter(|&&y| y == g).count(), 5);
                assert_eq!(e.test_y.iter().filter(|&&y| y == g).count(), 2);
            }
        }
    }
    // The test inputs are exactly test.csv's texts, featurised: compare with a stream over
    // test.csv alone, holding out nothing of it but featurised the same way.
    let s = split_stream_from_config(&config("source", &[]), Seed(3)).unwrap();
    let random = split_stream_from_config(&config("random", &[]), Seed(3)).unwrap();
    let n_test =
        |s: &SplitStream| -> usize { s.experiences().iter().map(|e| e.test_y.len()).sum() };
    assert_eq!(n_test(&s), 12);
    // 20 % of 7 examples rounds to one per class.
    assert_eq!(n_test(&random), 6);
    let only_test = std::fs::read_to_string(root.join("test.csv")).unwrap();
    let feats =
        autodidact_envs::text::TextFeaturiser::new(64, autodidact_envs::text::Weighting::LogCount)
            .unwrap();
    let mut expected: Vec<Vec<f32>> = only_test
        .lines()
        .skip(1)
        .map(|l| {
            let text = l.rsplit_once(',').unwrap().0.trim_matches('"');
            let mut v = vec![0.0f32; 64];
            feats.transform_into(text, &mut v);
            v
        })
        .collect();
    let mut got: Vec<Vec<f32>> = s
        .experiences()
        .iter()
        .flat_map(|e| {
            let x = e.test_x.as_slice().unwrap().to_vec();
            x.chunks(64).map(<[f32]>::to_vec).collect::<Vec<_>>()
        })
        .collect();
    let key = |v: &Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    expected.sort_by_key(key);
    got.sort_by_key(key);
    assert_eq!(got, expected);
    // `max_per_class` caps the training examples only.
    let s = split_stream_from_config(&config("source", &[("max_per_class", 3.into())]), Seed(0))
        .unwrap();
    assert_eq!(s.experiences()[0].train_y.len(), 2 * 3);
    assert_eq!(s.experiences()[0].test_y.len(), 2 * 2);
    // The permuted stream keeps the same split.
    let p = permuted_stream_from_config(&config("source", &[]), Seed(0)).unwrap();
    assert_eq!(p.experiences()[1].test_y.len(), 12);

    // A source without a split of its own is refused, naming the key and the source.
    let m = split_stream_from_config(
        &cfg(&[
            ("holdout", "source".into()),
            ("classes", 4.into()),
            ("experiences", 2.into()),
        ]),
        Seed(0),
    )
    .unwrap_err()
    .to_string();
    assert!(m.contains("holdout") && m.contains("gaussian"), "{m}");
    // Intents whose test files are renamed away have no split either.
    let m = split_stream_from_config(
        &config("source", &[("test_files", "held-out.csv".into())]),
        Seed(0),
    )
    .unwrap_err()
    .to_string();
    assert!(m.contains("holdout") && m.contains("test_files"), "{m}");
    // Writes train.csv and test.csv, each without one class's rows if asked, and returns the
    // error of a stream with the data's own split.
    let error_without = |train_drop: &str, test_drop: &str| {
        let (train, test) = split_csv(6, 7, 5);
        let keep = |text: &str, drop: &str| -> String {
            text.lines()
                .filter(|l| drop.is_empty() || !l.ends_with(drop))
                .map(|l| format!("{l}\n"))
                .collect()
        };
        std::fs::write(root.join("train.csv"), keep(&train, train_drop)).unwrap();
        std::fs::write(root.join("test.csv"), keep(&test, test_drop)).unwrap();
        split_stream_from_config(&config("source", &[]), Seed(0))
            .unwrap_err()
            .to_string()
    };
    // A class with no row in test.csv is named, with its counts and the key.
    let m = error_without("", "intent_04");
    assert!(
        m.contains("intent_04") && m.contains("holdout") && m.contains("0 test"),
        "{m}"
    );
    // A class with no row in train.csv too.
    let m = error_without("intent_02", "");
    assert!(m.contains("intent_02") && m.contains("0 training"), "{m}");
    // A test file with a header and no row is refused, naming the key and the file.
    let (train, _) = split_csv(6, 7, 5);
    std::fs::write(root.join("train.csv"), &train).unwrap();
    std::fs::write(root.join("test.csv"), "text,category\n").unwrap();
    let m = split_stream_from_config(&config("source", &[]), Seed(0))
        .unwrap_err()
        .to_string();
    assert!(m.contains("test_files") && m.contains("test.csv"), "{m}");
    // `test_files` as a list, matched case-insensitively: the second name picks HELD.CSV.
    let (train, test) = split_csv(6, 7, 4);
    std::fs::remove_file(root.join("test.csv")).unwrap();
    std::fs::write(root.join("train.csv"), &train).unwrap();
    std::fs::write(root.join("HELD.CSV"), &test).unwrap();
    let files = toml::Value::Array(vec!["test.csv".into(), "held.csv".into()]);
    let s = split_stream_from_config(&config("source", &[("test_files", files)]), Seed(0)).unwrap();
    let e = &s.experiences()[0];
    assert_eq!((e.train_y.len(), e.test_y.len()), (2 * 4, 2 * 3));
    // A path in `test_files` could never match a file name: refused, naming the key.
    let m = split_stream_from_config(
        &config("source", &[("test_files", "data/test.csv".into())]),
        Seed(0),
    )
    .unwrap_err()
    .to_string();
    assert!(
        m.contains("test_files") && m.contains("data/test.csv"),
        "{m}"
    );
    // An unknown holdout names the key and the choices.
    assert_eq!(
        Holdout::from_params(HoldoutKind::Source, 0.2),
        Holdout::Source
    );
    let m = split_stream_from_config(&config("by-file", &[]), Seed(0))
        .unwrap_err()
        .to_string();
    assert!(m.contains("holdout") && m.contains("source"), "{m}");
    std::fs::remove_dir_all(&root).ok();
}
