//! Intents: the CSV loader, the featuriser, splits and episodes, bad input and fuzzing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_core::{Seed, Split, TaskDistribution};
use autodidact_envs::intents::{read_csv_bytes, Intents, IntentsParams};
use autodidact_envs::text::{words, TextFeaturiser, Weighting};
use autodidact_envs::EnvsError;
use common::*;
use proptest::prelude::*;

fn write_csv(name: &str, text: &str) -> std::path::PathBuf {
    let dir = temp_dir(name);
    let p = dir.join("train.csv");
    std::fs::write(&p, text).unwrap();
    p
}

fn params(path: &std::path::Path) -> IntentsParams {
    IntentsParams {
        data_dir: vec![path.display().to_string()].into(),
        dim: 256,
        ways: 3,
        shots: 2,
        queries: 3,
        ..IntentsParams::default()
    }
}

#[test]
fn reads_quoted_csv_and_finds_the_label_column() {
    let csv = "text,category\n\"Hello, world\",greet\nwhere is my card?,card_arrival\n\"She said \"\"hi\"\"\",greet\n";
    let rows = read_csv_bytes(csv.as_bytes(), "b.csv", "text", "").unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].text, "Hello, world");
    assert_eq!(rows[0].label, "greet");
    assert_eq!(rows[2].text, "She said \"hi\"");
    assert_eq!(rows[1].line, 3);
    let csv = "id,text,label,extra\n1,hi there,a,x\n";
    assert_eq!(
        read_csv_bytes(csv.as_bytes(), "c.csv", "text", "").unwrap()[0].label,
        "a"
    );
    let csv = "text,intent\nhi,a\n";
    assert_eq!(
        read_csv_bytes(csv.as_bytes(), "c.csv", "text", "").unwrap()[0].label,
        "a",
        "last column"
    );
    let csv = "text,intent,note\nhi,a,n\n";
    assert_eq!(
        read_csv_bytes(csv.as_bytes(), "c.csv", "text", "intent").unwrap()[0].label,
        "a"
    );
}

#[test]
fn bad_rows_name_their_line() {
    let csv = "text,label\nfine,a\n\"multi\nline\",b\nno label here\n";
    match read_csv_bytes(csv.as_bytes(), "bad.csv", "text", "") {
        Err(e @ EnvsError::Csv { line: 5, .. }) => {
            let m = e.to_string();
            assert!(m.contains("bad.csv, line 5") && m.contains("label"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    let csv = "text,label\nfine,a\nempty label,\n";
    let m = read_csv_bytes(csv.as_bytes(), "e.csv", "text", "")
        .unwrap_err()
        .to_string();
    assert!(m.contains("line 3"), "{m}");
    let csv = "text,label\n,a\n";
    let m = read_csv_bytes(csv.as_bytes(), "t.csv", "text", "")
        .unwrap_err()
        .to_string();
    assert!(m.contains("line 2") && m.contains("text"), "{m}");
    let m = read_csv_bytes(b"words,label\nx,a\n", "h.csv", "text", "")
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("line 1") && m.contains("`text`") && m.contains("words"),
        "{m}"
    );
    let m = read_csv_bytes(b"text,label\nx,a\n", "h.csv", "text", "category")
        .unwrap_err()
        .to_string();
    assert!(m.contains("`category`"), "{m}");
    let m = read_csv_bytes(b"text,label\nx,a\n\xff\xfe,b\n", "u.csv", "text", "")
        .unwrap_err()
        .to_string();
    assert!(m.contains("u.csv, line 3"), "{m}");
    let m = Intents::load(
        &params(std::path::Path::new("/no/such/banking77.csv")),
        Seed(0),
    )
    .unwrap_err()
    .to_string();
    assert!(
        m.contains("/no/such/banking77.csv") && m.contains("expected"),
        "{m}"
    );
}

#[test]
fn featuriser_is_documented_and_deterministic() {
    assert_eq!(
        words("I can't FIND my Card!"),
        vec!["i", "can", "t", "find", "my", "card"]
    );
    let f = TextFeaturiser::new(128, Weighting::LogCount).unwrap();
    let a = f.transform("Where is my new card?");
    assert_eq!(a.len(), 128);
    assert_eq!(a, f.transform("where   IS my new card"));
    let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
    assert!(f.transform("!!!").iter().all(|&x| x == 0.0));
    // 5 words: 5 unigrams, 4 bigrams and the character 3-5-grams of " where is my new card ".
    let counts = f.counts("where is my new card");
    let total: f32 = counts.iter().map(|c| c.1).sum();
    let chars = " where is my new card ".chars().count();
    assert_eq!(
        total as usize,
        5 + 4 + (chars - 2) + (chars - 3) + (chars - 4)
    );
    // Fixed hash: the same buckets on every machine.
    assert_eq!(f.counts("card")[0].0, f.counts("card")[0].0);
    let similar = dot(
        &f.transform("my card has not arrived"),
        &f.transform("card not arrived yet"),
    );
    let different = dot(
        &f.transform("my card has not arrived"),
        &f.transform("exchange rate for euros"),
    );
    assert!(similar > different + 0.2, "{similar} vs {different}");
    let mut t = TextFeaturiser::new(64, Weighting::TfIdf).unwrap();
    t.fit_idf(["the card", "the refund", "the transfer"]);
    let v = t.transform("the card");
    assert!((v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
    assert!(TextFeaturiser::new(0, Weighting::LogCount).is_err());
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn episodes_split_intents_disjointly() {
    let p = write_csv("intents-ep", &intents_csv(15, 8, "category"));
    let it = Intents::load(&params(&p), Seed(0)).unwrap();
    assert_eq!(it.dataset().num_classes(), 15);
    assert_eq!(it.input_shape(), vec![256]);
    let s = it.sampler().splits();
    assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (9, 3, 3));
    for c in &s.train {
        assert!(!s.validation.contains(c) && !s.test.contains(c));
    }
    let t = it.task(Split::Test, Seed(3), 1).unwrap();
    assert_eq!(t.support_x.shape(), &[6, 256]);
    assert_eq!(t.query_x.shape(), &[9, 256]);
    assert_eq!(t, it.task(Split::Test, Seed(3), 1).unwrap());
    assert_ne!(t, it.task(Split::Test, Seed(4), 1).unwrap());
    // Seeded, or fixed by split_seed, or by lists.
    assert_eq!(
        Intents::load(&params(&p), Seed(0))
            .unwrap()
            .sampler()
            .splits(),
        s
    );
    let listed = IntentsParams {
        train_classes: (0..6).map(|c| format!("intent_{c:02}")).collect(),
        validation_classes: (6..9).map(|c| format!("intent_{c:02}")).collect(),
        test_classes: (9..15).map(|c| format!("intent_{c:02}")).collect(),
        ..params(&p)
    };
    let l = Intents::load(&listed, Seed(0)).unwrap();
    assert_eq!(l.sampler().splits().train, vec![0, 1, 2, 3, 4, 5]);
    // TF-IDF weighting works too, and a folder of CSVs pools its files.
    let tfidf = IntentsParams {
        weighting: autodidact_envs::Weighting::TfIdf,
        data_dir: vec![p.parent().unwrap().display().to_string()].into(),
        ..params(&p)
    };
    assert_eq!(
        Intents::load(&tfidf, Seed(0))
            .unwrap()
            .dataset()
            .num_examples(),
        120
    );
    // Too many ways: both numbers.
    let m = Intents::load(
        &IntentsParams {
            ways: 4,
            ..params(&p)
        },
        Seed(0),
    )
    .unwrap_err()
    .to_string();
    assert!(m.contains("4 ways") && m.contains("only 3"), "{m}");
    std::fs::remove_dir_all(p.parent().unwrap()).ok();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn csv_loader_never_panics_on_junk(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = read_csv_bytes(&bytes, "junk.csv", "text", "");
        let mut with_header = b"text,label\n".to_vec();
        with_header.extend_from_slice(&bytes);
        if let Err(e) = read_csv_bytes(&with_header, "junk.csv", "text", "") {
            prop_assert!(e.to_string().contains("junk.csv"));
        }
    }

    #[test]
    fn csv_loader_never_panics_on_truncated_text(cut in 0usize..600, text in "[a-z ,\"\n]{0,60}") {
        let mut csv = intents_csv(3, 4, "label");
        csv.push_str(&text);
        let cut = cut.min(csv.len());
        let _ = read_csv_bytes(&csv.as_bytes()[..cut], "t.csv", "text", "");
    }

    #[test]
    fn featuriser_never_panics(text in any::<String>()) {
        let f = TextFeaturiser::new(32, Weighting::LogCount).unwrap();
        let v = f.transform(&text);
        prop_assert_eq!(v.len(), 32);
        prop_assert!(v.iter().all(|x| x.is_finite()));
    }
}

#[test]
fn a_runaway_quote_is_reported_at_the_line_where_it_began() {
    // Row 3 (line 4) opens a quote it never closes: everything after it would become one
    // field and its class would look short of examples.
    let mut text =
        String::from("text,label\nhello there,greet\nhi,greet\n\"what is my balance,balance\n");
    for i in 0..30 {
        text.push_str(&format!("row number {i},other\n"));
    }
    let p = write_csv("runaway-quote", &text);
    let msg = Intents::load(&params(&p), Seed(0)).unwrap_err().to_string();
    assert!(msg.contains("train.csv"), "{msg}");
    assert!(msg.contains("line 4"), "{msg}");
    assert!(msg.contains("unterminated quote"), "{msg}");
    // One field of thousands of characters on one line is suspicious too.
    let long = format!("text,label\n{},x\n", "a".repeat(6_000));
    match read_csv_bytes(long.as_bytes(), "long.csv", "text", "") {
        Err(EnvsError::Csv {
            line: 2, reason, ..
        }) => assert!(reason.contains("6000")),
        other => panic!("{other:?}"),
    }
    // A quoted field over two lines is fine.
    let ok = "text,label\n\"two\nlines\",x\n";
    assert_eq!(
        read_csv_bytes(ok.as_bytes(), "ok.csv", "text", "")
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_test_only_split_takes_every_intent_as_a_test_class() {
    use autodidact_envs::SplitMode;
    // Fewer intents than a three-way split could ever use for 3-way episodes in each split.
    let p = write_csv("intents-test-only", &intents_csv(4, 8, "category"));
    let three_splits = Intents::load(&params(&p), Seed(0)).unwrap_err().to_string();
    assert!(three_splits.contains("classes"), "{three_splits}");
    let only = IntentsParams {
        split: SplitMode::TestOnly,
        ..params(&p)
    };
    let it = Intents::load(&only, Seed(0)).unwrap();
    let s = it.sampler().splits();
    assert!(s.train.is_empty() && s.validation.is_empty());
    assert_eq!(s.test, vec![0, 1, 2, 3]);
    let t = it.task(Split::Test, Seed(1), 0).unwrap();
    assert_eq!(t.support_x.shape(), &[6, 256]);
    // Training from it is refused, naming the key.
    let m = it.task(Split::Train, Seed(1), 0).unwrap_err().to_string();
    assert!(m.contains("split") && m.contains("test-only"), "{m}");
    // Lists contradict test-only.
    let m = Intents::load(
        &IntentsParams {
            test_classes: vec!["intent_00".into()],
            ..only.clone()
        },
        Seed(0),
    )
    .unwrap_err()
    .to_string();
    assert!(m.contains("split") && m.contains("leave"), "{m}");
    // TF-IDF weights come from the data's own rows.
    let tfidf = IntentsParams {
        weighting: autodidact_envs::Weighting::TfIdf,
        ..only
    };
    assert!(Intents::load(&tfidf, Seed(0)).is_ok());
}
