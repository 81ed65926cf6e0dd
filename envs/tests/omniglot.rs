//! Omniglot from tiny PNG folders and zips built in the test: layout, dedup, rotations,
//! splits, episodes, bad input and fuzzing of the image and zip loaders.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_core::{Seed, Split, TaskDistribution, TaskKind};
use autodidact_envs::omniglot::{
    decode_png, read_zip_bytes, resize_area, rotate90, Omniglot, OmniglotParams,
};
use autodidact_envs::EnvsError;
use common::*;
use proptest::prelude::*;

fn params(dirs: Vec<String>) -> OmniglotParams {
    OmniglotParams {
        data_dir: dirs.into(),
        image_size: 14,
        ways: 3,
        shots: 1,
        queries: 2,
        train_fraction: 0.5,
        validation_fraction: 0.25,
        ..OmniglotParams::default()
    }
}

#[test]
fn decodes_one_bit_105px_images_as_ink() {
    let png = glyph_png(105, 2, 1);
    let (w, h, lum) = decode_png(&png, "x.png").unwrap();
    assert_eq!((w, h), (105, 105));
    assert!(lum.iter().all(|&v| v == 0.0 || v == 1.0));
    let paper = lum.iter().filter(|&&v| v == 1.0).count();
    assert!(paper > lum.len() / 2, "mostly white paper");
    let small = resize_area(&lum, 105, 105, 28);
    assert_eq!(small.len(), 28 * 28);
    let mean_big = lum.iter().sum::<f32>() / lum.len() as f32;
    let mean_small = small.iter().sum::<f32>() / small.len() as f32;
    assert!(
        (mean_big - mean_small).abs() < 1e-4,
        "area averaging keeps the mean"
    );
    let img: Vec<f32> = (0..9).map(|v| v as f32).collect();
    assert_eq!(
        rotate90(&img, 3),
        vec![6.0, 3.0, 0.0, 7.0, 4.0, 1.0, 8.0, 5.0, 2.0]
    );
    assert_eq!(
        rotate90(&rotate90(&rotate90(&rotate90(&img, 3), 3), 3), 3),
        img
    );
}

#[test]
fn folder_and_zip_give_the_same_data_and_duplicates_count_once() {
    let root = temp_dir("omni-same");
    let files_a = omniglot_files(
        "images_background_small1/",
        &["Greek", "Balinese"],
        3,
        4,
        21,
    );
    let files_b = omniglot_files("images_background_small2/", &["Greek", "Tagalog"], 3, 4, 21);
    write_folder(
        &root.join("folder"),
        &omniglot_files("", &["Greek", "Balinese"], 3, 4, 21),
    );
    std::fs::write(root.join("a.zip"), zip_bytes(&files_a)).unwrap();
    std::fs::write(root.join("b.zip"), zip_bytes(&files_b)).unwrap();
    let from_folder =
        Omniglot::load_dataset(&params(vec![root.join("folder").display().to_string()])).unwrap();
    let from_zip =
        Omniglot::load_dataset(&params(vec![root.join("a.zip").display().to_string()])).unwrap();
    assert_eq!(from_folder.num_classes(), 6);
    assert_eq!(from_folder.classes(), from_zip.classes());
    assert_eq!(from_folder.input_shape(), &[1, 14, 14]);
    // Two zips sharing Greek: 3 + 3 + 3 characters; a folder holding both zips: the same.
    let both = Omniglot::load_dataset(&params(vec![
        root.join("a.zip").display().to_string(),
        root.join("b.zip").display().to_string(),
    ]))
    .unwrap();
    assert_eq!(both.num_classes(), 9);
    assert!(both.classes().iter().all(|c| c.len() == 4));
    assert!(both.classes().iter().any(|c| c.name == "Greek/character01"));
    let zips = root.join("zips");
    std::fs::create_dir_all(&zips).unwrap();
    std::fs::copy(
        root.join("a.zip"),
        zips.join("images_background_small1.zip"),
    )
    .unwrap();
    std::fs::copy(
        root.join("b.zip"),
        zips.join("images_background_small2.zip"),
    )
    .unwrap();
    let folder_of_zips = Omniglot::load_dataset(&params(vec![zips.display().to_string()])).unwrap();
    assert_eq!(folder_of_zips.classes(), both.classes());
    // Ink is 1: the glyph box is dark in the PNG, so the mean is well below one half.
    let mean = both.class(0).data().iter().sum::<f32>() / both.class(0).data().len() as f32;
    assert!(mean > 0.01 && mean < 0.5, "{mean}");
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn rotations_are_new_classes_in_their_characters_split() {
    let root = temp_dir("omni-rot");
    write_folder(&root, &omniglot_files("", &["A", "B"], 4, 3, 14));
    let p = OmniglotParams {
        rotations: true,
        ..params(vec![root.display().to_string()])
    };
    let om = Omniglot::load(&p, Seed(0)).unwrap();
    let d = om.dataset();
    assert_eq!(d.num_classes(), 32);
    assert_eq!(om.num_characters(), 8);
    assert_eq!(d.class(1).name, "A/character01@90");
    assert_eq!(d.example(1, 0), rotate90(d.example(0, 0), 14).as_slice());
    let s = om.sampler().splits();
    for (split, list) in [
        ("train", &s.train),
        ("validation", &s.validation),
        ("test", &s.test),
    ] {
        for &c in list.iter() {
            let group = &d.class(c).group;
            for &other in s.train.iter().chain(&s.validation).chain(&s.test) {
                if &d.class(other).group == group {
                    assert!(
                        list.contains(&other),
                        "{split}: rotations of {group} split apart"
                    );
                }
            }
        }
    }
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn jitter_moves_training_images_only() {
    let root = temp_dir("omni-jit");
    write_folder(&root, &omniglot_files("", &["A", "B", "C"], 4, 5, 14));
    let plain = params(vec![root.display().to_string()]);
    let jittered = OmniglotParams {
        max_shift: 2,
        max_angle: 15.0,
        ..plain.clone()
    };
    let (a, b) = (
        Omniglot::load(&plain, Seed(0)).unwrap(),
        Omniglot::load(&jittered, Seed(0)).unwrap(),
    );
    for split in [Split::Validation, Split::Test] {
        assert_eq!(
            a.task(split, Seed(1), 0).unwrap(),
            b.task(split, Seed(1), 0).unwrap(),
            "{split:?} images must not be altered"
        );
    }
    let (ta, tb) = (
        a.task(Split::Train, Seed(1), 0).unwrap(),
        b.task(Split::Train, Seed(1), 0).unwrap(),
    );
    // The same characters and labels, other pixels; the same seed gives the same pixels.
    assert_eq!(ta.support_y, tb.support_y);
    assert_eq!(ta.query_y, tb.query_y);
    assert_ne!(ta.support_x, tb.support_x);
    assert_eq!(tb, b.task(Split::Train, Seed(1), 0).unwrap());
    // A shift as large as the image is refused, naming the key.
    let err = Omniglot::load(
        &OmniglotParams {
            max_shift: 14,
            ..plain
        },
        Seed(0),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("max_shift"), "{err}");
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn episodes_are_seeded_disjoint_and_shaped() {
    let root = temp_dir("omni-ep");
    write_folder(&root, &omniglot_files("", &["A", "B", "C"], 4, 5, 14));
    let om = Omniglot::load(&params(vec![root.display().to_string()]), Seed(0)).unwrap();
    assert_eq!(om.kind(), TaskKind::Classification { ways: 3 });
    assert_eq!(om.input_shape(), vec![1, 14, 14]);
    let t = om.task(Split::Train, Seed(1), 0).unwrap();
    assert_eq!(t.support_x.shape(), &[3, 1, 14, 14]);
    assert_eq!(t.query_x.shape(), &[6, 1, 14, 14]);
    assert_eq!(t, om.task(Split::Train, Seed(1), 0).unwrap());
    assert_ne!(t, om.task(Split::Train, Seed(2), 0).unwrap());
    let s = om.sampler().splits();
    assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (6, 3, 3));
    for c in &s.train {
        assert!(!s.validation.contains(c) && !s.test.contains(c));
    }
    // The split follows the run seed unless split_seed is given.
    let other = Omniglot::load(&params(vec![root.display().to_string()]), Seed(99)).unwrap();
    assert_ne!(other.sampler().splits(), s);
    let fixed = OmniglotParams {
        split_seed: Some(5),
        ..params(vec![root.display().to_string()])
    };
    assert_eq!(
        Omniglot::load(&fixed, Seed(1)).unwrap().sampler().splits(),
        Omniglot::load(&fixed, Seed(2)).unwrap().sampler().splits()
    );
    // Given lists.
    let listed = OmniglotParams {
        train_classes: vec!["A".into(), "B".into()],
        validation_classes: vec![
            "C/character01".into(),
            "C/character02".into(),
            "C/character03".into(),
        ],
        test_classes: vec!["C/character04".into(), "A/character01".into()],
        ..params(vec![root.display().to_string()])
    };
    let err = Omniglot::load(&listed, Seed(0)).unwrap_err().to_string();
    assert!(
        err.contains("A/character01") && err.contains("both"),
        "{err}"
    );
    let listed = OmniglotParams {
        test_classes: vec![
            "C/character04".into(),
            "B/character04".into(),
            "A/character04".into(),
        ],
        train_classes: vec![
            "A/character01".into(),
            "A/character02".into(),
            "A/character03".into(),
        ],
        validation_classes: vec![
            "B/character01".into(),
            "B/character02".into(),
            "B/character03".into(),
        ],
        ..params(vec![root.display().to_string()])
    };
    let om2 = Omniglot::load(&listed, Seed(0)).unwrap();
    assert_eq!(om2.sampler().splits().train, vec![0, 1, 2]);
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn bad_input_names_the_path_or_file() {
    let msg = Omniglot::load(&params(vec!["/no/such/omniglot".into()]), Seed(0))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("/no/such/omniglot") && msg.contains("expected"),
        "{msg}"
    );
    let root = temp_dir("omni-bad");
    let mut files = omniglot_files("", &["A"], 3, 3, 14);
    files.push((
        "A/character02/broken.png".into(),
        b"this is not a png".to_vec(),
    ));
    write_folder(&root, &files);
    match Omniglot::load_dataset(&params(vec![root.display().to_string()])) {
        Err(e @ EnvsError::Image { .. }) => assert!(e.to_string().contains("broken.png"), "{e}"),
        other => panic!("{other:?}"),
    }
    let trunc = root.join("trunc");
    let mut png = glyph_png(14, 0, 0);
    png.truncate(png.len() / 2);
    write_folder(&trunc, &[("X/c1/cut.png".into(), png)]);
    let msg = Omniglot::load_dataset(&params(vec![trunc.display().to_string()]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("cut.png"), "{msg}");
    let zip = root.join("junk.zip");
    std::fs::write(&zip, b"PK\x03\x04 not really").unwrap();
    let msg = Omniglot::load_dataset(&params(vec![zip.display().to_string()]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("junk.zip"), "{msg}");
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let msg = Omniglot::load_dataset(&params(vec![empty.display().to_string()]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no PNG image"), "{msg}");
    // A bad image inside a zip names archive and entry.
    let z = zip_bytes(&[
        ("A/c1/ok.png".into(), glyph_png(14, 0, 0)),
        ("A/c1/bad.png".into(), vec![0x89, b'P', b'N', b'G']),
    ]);
    let msg = read_zip_bytes(&z, "mine.zip", 14).unwrap_err().to_string();
    assert!(msg.contains("mine.zip!A/c1/bad.png"), "{msg}");
    // Too many ways.
    let ok = root.join("ok");
    write_folder(&ok, &omniglot_files("", &["A"], 4, 3, 14));
    let p = OmniglotParams {
        ways: 5,
        ..params(vec![ok.display().to_string()])
    };
    let msg = Omniglot::load(&p, Seed(0)).unwrap_err().to_string();
    assert!(msg.contains("5 ways") && msg.contains("only 2"), "{msg}");
    std::fs::remove_dir_all(&root).ok();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn png_decoder_never_panics_on_junk(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut with_magic = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
        with_magic.extend_from_slice(&bytes);
        let _ = decode_png(&bytes, "junk.png");
        let _ = decode_png(&with_magic, "junk.png");
    }

    #[test]
    fn png_decoder_never_panics_on_truncated_or_flipped(cut in 0usize..400, flip in 0usize..400, bit in 0u8..8) {
        let mut png = glyph_png(21, 1, 1);
        let f = flip % png.len();
        png[f] ^= 1 << bit;
        png.truncate(cut.min(png.len()));
        if let Err(e) = decode_png(&png, "t.png") {
            prop_assert!(e.to_string().contains("t.png"));
        }
    }

    #[test]
    fn zip_loader_never_panics(cut in 0usize..2000, flip in 0usize..2000, bit in 0u8..8, junk in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = read_zip_bytes(&junk, "junk.zip", 8);
        let mut z = zip_bytes(&omniglot_files("", &["A"], 2, 2, 14));
        let f = flip % z.len();
        z[f] ^= 1 << bit;
        z.truncate(cut.min(z.len()));
        let _ = read_zip_bytes(&z, "t.zip", 8);
    }
}
