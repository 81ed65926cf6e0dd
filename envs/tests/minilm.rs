//! The sentence encoder: a tiny self-made model folder (tokenizer, config, weights) through
//! the encoder, the intents featurizer and its cache; and, when `../shared/data/minilm` is
//! present, all-MiniLM-L6-v2 against sentence-transformers' `reference.json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use autodidact_core::layers::bert::{load, Bert, BertConfig};
use autodidact_core::{Params, Seed};
use autodidact_envs::intents::{Featurizer, IntentFeatures, Intents, IntentsParams};
use autodidact_envs::minilm::{cache, encode_cached, fingerprint, SentenceEncoder};
use common::*;
use serde_json::{json, Value};

const WORDS: [&str; 16] = [
    "card", "lost", "my", "i", "new", "activate", "fee", "transfer", "why", "top", "up", "money",
    "where", "is", "##s", "the",
];

/// A tiny BERT folder: 4 special tokens + 16 words, 2 layers of width 8, max_seq_length 6.
fn tiny_model(dir: &Path) {
    let mut vocab = serde_json::Map::new();
    for (i, t) in ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
        .iter()
        .chain(WORDS.iter())
        .enumerate()
    {
        vocab.insert(t.to_string(), json!(i));
    }
    let special = |id: usize, s: &str| {
        json!({"id": id, "content": s, "single_word": false, "lstrip": false, "rstrip": false,
               "normalized": false, "special": true})
    };
    let tok = json!({
        "version": "1.0", "truncation": {"max_length": 128, "strategy": "LongestFirst", "stride": 0},
        "padding": null,
        "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"), special(3, "[SEP]")],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                               "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": null,
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}
    });
    std::fs::write(dir.join("tokenizer.json"), tok.to_string()).unwrap();
    let config = json!({"model_type": "bert", "vocab_size": 20, "hidden_size": 8,
        "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16,
        "max_position_embeddings": 16, "hidden_act": "gelu", "layer_norm_eps": 1e-12});
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(
        dir.join("sentence_bert_config.json"),
        r#"{"max_seq_length": 6}"#,
    )
    .unwrap();
    let c = BertConfig::from_json(&config.to_string(), "config.json").unwrap();
    let mut params = Params::<f32>::new();
    let bert = Bert::new(&mut params, &c, &mut Seed(5).rng("init"));
    // Larger weights than BERT's 0.02, so different texts give clearly different embeddings.
    for t in params.tensors_mut() {
        if t.ndim() == 2 {
            t.mapv_inplace(|x| x * 30.0);
        }
    }
    let bytes = load::to_safetensors_bytes(&bert, &params).unwrap();
    std::fs::write(dir.join("model.safetensors"), bytes).unwrap();
}

#[test]
fn tiny_encoder_tokenizes_truncates_pads_and_reports_missing_files() {
    let dir = temp_dir("tiny-encoder");
    // Missing files are named, one by one.
    let e = SentenceEncoder::load(&dir).unwrap_err().to_string();
    assert!(e.contains("config.json") && e.contains("has no"), "{e}");
    let e = SentenceEncoder::load(&dir.join("nope"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no such folder"), "{e}");
    tiny_model(&dir);
    std::fs::rename(dir.join("tokenizer.json"), dir.join("t.json")).unwrap();
    let e = SentenceEncoder::load(&dir).unwrap_err().to_string();
    assert!(e.contains("tokenizer.json"), "{e}");
    std::fs::rename(dir.join("t.json"), dir.join("tokenizer.json")).unwrap();

    let enc = SentenceEncoder::load(&dir).unwrap();
    assert_eq!((enc.dim(), enc.max_seq_length()), (8, 6));
    // [CLS]=2 my=6 card=4 [SEP]=3; upper case folded; unknown words are [UNK]=1; "tops" is
    // top ##s; truncated to 6 tokens with [SEP] kept last.
    assert_eq!(enc.tokenize("My CARD").unwrap(), vec![2, 6, 4, 3]);
    assert_eq!(enc.tokenize("zebra tops").unwrap(), vec![2, 1, 13, 18, 3]);
    assert_eq!(enc.tokenize("").unwrap(), vec![2, 3]);
    assert_eq!(
        enc.tokenize("i lost my new card money").unwrap(),
        vec![2, 7, 5, 6, 8, 3]
    );
    let texts = [
        "i lost my card",
        "fee",
        "where is my money",
        "",
        "why the transfer fee",
    ];
    let all = enc.encode(&texts, 32).unwrap();
    let ones = enc.encode(&texts, 1).unwrap();
    let twos = enc.encode(&texts, 2).unwrap();
    for (i, row) in all.rows().into_iter().enumerate() {
        let norm: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "row {i} norm {norm}");
        for j in 0..8 {
            // Padding, batch size and the longest-first order change nothing.
            assert!((row[j] - ones[[i, j]]).abs() < 1e-5 && (row[j] - twos[[i, j]]).abs() < 1e-5);
        }
    }
    // Different texts, different embeddings.
    let d: f32 = all
        .row(0)
        .iter()
        .zip(all.row(1).iter())
        .map(|(a, b)| (a - b).abs())
        .sum();
    assert!(d > 1e-2, "{d}");
    let pooled = enc.encode_pooled(&texts, 2).unwrap();
    let n0: f32 = pooled.row(0).iter().map(|x| x * x).sum::<f32>().sqrt();
    for j in 0..8 {
        assert!((pooled[[0, j]] / n0 - all[[0, j]]).abs() < 1e-5);
    }
    assert!(enc.encode(&texts, 0).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

fn intents_csv(dir: &Path) -> PathBuf {
    let mut s = String::from("text,category\n");
    let rows = [
        (
            "lost",
            [
                "i lost my card",
                "my card is lost",
                "lost card",
                "where is my card",
            ],
        ),
        (
            "fee",
            ["why the fee", "transfer fee", "the fee", "why is the fee"],
        ),
        (
            "topup",
            ["top up", "my top up", "top up money", "where is my top up"],
        ),
        (
            "activate",
            [
                "activate card",
                "activate my new card",
                "new card",
                "activate",
            ],
        ),
    ];
    for (label, texts) in rows {
        for t in texts {
            s.push_str(&format!("{t},{label}\n"));
        }
    }
    let p = dir.join("train.csv");
    std::fs::write(&p, s).unwrap();
    p
}

#[test]
fn intents_minilm_featurizer_caches_embeddings_and_recovers_from_corruption() {
    let dir = temp_dir("intents-minilm");
    let model = dir.join("model");
    std::fs::create_dir_all(&model).unwrap();
    tiny_model(&model);
    let csv = intents_csv(&dir);
    let cache_dir = dir.join("cache");
    let p = IntentsParams {
        data_dir: vec![csv.display().to_string()].into(),
        featurizer: Featurizer::Minilm,
        encoder_dir: model.display().to_string(),
        cache_dir: cache_dir.display().to_string(),
        ways: 2,
        shots: 1,
        queries: 2,
        train_fraction: 0.5,
        validation_fraction: 0.0,
        ..IntentsParams::default()
    };
    let first = Intents::load_data(&p, Seed(1)).unwrap();
    assert_eq!(first.data.input_shape(), &[8]);
    assert!(matches!(
        first.featuriser,
        IntentFeatures::Encoder { dim: 8, .. }
    ));
    // The class vectors are the encoder's embeddings of the texts, label by label.
    let enc = SentenceEncoder::load(&model).unwrap();
    let activate = [
        "activate card",
        "activate my new card",
        "new card",
        "activate",
    ];
    let want = enc.encode(&activate, 4).unwrap();
    let (class, _) = first
        .data
        .classes()
        .iter()
        .enumerate()
        .find(|(_, c)| c.name == "activate")
        .unwrap();
    let got = first.data.class(class).data();
    for (g, w) in got.iter().zip(want.iter()) {
        assert!((g - w).abs() < 1e-6);
    }
    // One cache file, for this model and these texts.
    let files: Vec<PathBuf> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    // A hit is read, not recomputed: plant other (valid) values under the same key.
    let bytes = std::fs::read(&files[0]).unwrap();
    let key: [u8; 32] = bytes[24..56].try_into().unwrap();
    let n = 16;
    let planted: Vec<f32> = (0..n * 8).map(|i| i as f32).collect();
    cache::EmbeddingCache::new(&cache_dir)
        .store(&key, 8, &planted)
        .unwrap();
    let second = Intents::load_data(&p, Seed(1)).unwrap();
    let all: Vec<f32> = (0..4)
        .flat_map(|c| second.data.class(c).data().to_vec())
        .collect();
    let mut sorted = all.clone();
    sorted.sort_by(f32::total_cmp);
    assert_eq!(sorted, planted, "the second load reads the cache");
    // A damaged file is detected and recomputed (and repaired).
    let mut damaged = std::fs::read(&files[0]).unwrap();
    let k = damaged.len() - 40;
    damaged[k] ^= 0xff;
    std::fs::write(&files[0], damaged).unwrap();
    let third = Intents::load_data(&p, Seed(1)).unwrap();
    assert_eq!(
        third.data.class(class).data(),
        first.data.class(class).data()
    );
    let fourth = Intents::load_data(&p, Seed(1)).unwrap();
    assert_eq!(
        fourth.data.class(class).data(),
        first.data.class(class).data()
    );
    // Another model (weights changed) is another key.
    let before = fingerprint(&model).unwrap();
    std::fs::write(
        model.join("pooling_config.json"),
        r#"{"pooling_mode_mean_tokens": true}"#,
    )
    .unwrap();
    assert_ne!(fingerprint(&model).unwrap(), before);
    // Without a cache folder nothing is written.
    let none = dir.join("none");
    encode_cached(&model, None, &["card"], 4).unwrap();
    assert!(!none.exists());
    // A missing encoder folder is named.
    let bad = IntentsParams {
        encoder_dir: dir.join("absent").display().to_string(),
        ..p.clone()
    };
    let e = Intents::load_data(&bad, Seed(1)).unwrap_err().to_string();
    assert!(e.contains("absent") && e.contains("fetch.sh"), "{e}");
    // pooling other than mean is refused, naming the key.
    std::fs::write(
        model.join("pooling_config.json"),
        r#"{"pooling_mode_cls_token": true}"#,
    )
    .unwrap();
    let e = SentenceEncoder::load(&model).unwrap_err().to_string();
    assert!(
        e.contains("pooling_config.json") && e.contains("pooling_mode_mean_tokens"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `../shared/data/minilm` (or `$AUTODIDACT_SHARED/data/minilm`), if present.
fn shared_minilm() -> Option<PathBuf> {
    let root = match std::env::var_os("AUTODIDACT_SHARED") {
        Some(s) => PathBuf::from(s),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    };
    let dir = root.join("data/minilm");
    if dir.join("reference.json").is_file() && dir.join("model.safetensors").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: {} is absent (all-MiniLM-L6-v2 and reference.json; set AUTODIDACT_SHARED or run bench/minilm/fetch.sh)",
            dir.display()
        );
        None
    }
}

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| f64::from(x) * y).sum();
    let na = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let nb = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn minilm_matches_sentence_transformers_reference() {
    let Some(dir) = shared_minilm() else { return };
    let t0 = Instant::now();
    let enc = SentenceEncoder::load(&dir).unwrap();
    eprintln!("loaded in {:.2} s", t0.elapsed().as_secs_f64());
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    assert_eq!(reference["max_seq_length"], json!(enc.max_seq_length()));
    let items = reference["items"].as_array().unwrap();
    assert_eq!(items.len(), 30);
    let texts: Vec<&str> = items.iter().map(|i| i["text"].as_str().unwrap()).collect();
    for (it, t) in items.iter().zip(&texts) {
        let want: Vec<u32> = it["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(enc.tokenize(t).unwrap(), want, "token ids of {t:?}");
    }
    let t1 = Instant::now();
    let emb = enc.encode(&texts, 8).unwrap();
    let pooled = enc.encode_pooled(&texts, 1).unwrap();
    eprintln!(
        "encoded 2 x 30 sentences in {:.2} s",
        t1.elapsed().as_secs_f64()
    );
    let mut worst: f64 = 0.0;
    for (i, it) in items.iter().enumerate() {
        let row = emb.row(i).to_vec();
        let before = pooled.row(i).to_vec();
        for field in ["embedding", "normalized"] {
            let want: Vec<f64> = it[field]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(want.len(), 384);
            for (j, (&g, &w)) in row.iter().zip(&want).enumerate() {
                let d = (f64::from(g) - w).abs();
                worst = worst.max(d);
                assert!(d < 1e-5, "{:?} {field}[{j}]: {g} vs {w}", texts[i]);
            }
            let c = cosine(&row, &want);
            assert!(c >= 0.99999, "{:?} {field}: cosine {c}", texts[i]);
            // Before normalisation: the same direction.
            let c = cosine(&before, &want);
            assert!(c >= 0.99999, "{:?} pooled vs {field}: cosine {c}", texts[i]);
        }
    }
    eprintln!("largest per-component difference: {worst:.2e}");
    // The published quick-start similarities.
    let pick = |s: &str| texts.iter().position(|t| *t == s).unwrap();
    let (a, b, c) = (
        pick("The weather is lovely today."),
        pick("It's so sunny outside!"),
        pick("He drove to the stadium."),
    );
    let sim = |i: usize, j: usize| -> f32 {
        emb.row(i)
            .iter()
            .zip(emb.row(j).iter())
            .map(|(x, y)| x * y)
            .sum()
    };
    let round = |x: f32| (f64::from(x) * 1e4).round() / 1e4;
    assert_eq!(round(sim(a, b)), 0.6660);
    assert_eq!(round(sim(a, c)), 0.1046);
    assert_eq!(round(sim(b, c)), 0.1411);
}
