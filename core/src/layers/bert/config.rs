//! A BERT model's sizes, read from a Hugging Face `config.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{CoreError, Result};

/// The sizes and constants of a BERT encoder (the keys of Hugging Face's `config.json`; other
/// keys in the file are ignored).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// Word-piece vocabulary size.
    pub vocab_size: usize,
    /// Width of every hidden state.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer (`hidden_size` must be a multiple).
    pub num_attention_heads: usize,
    /// Width of the feed-forward block.
    pub intermediate_size: usize,
    /// Rows of the position table: the longest sequence.
    pub max_position_embeddings: usize,
    /// Rows of the segment (token type) table.
    pub type_vocab_size: usize,
    /// Layer norm's ε.
    pub layer_norm_eps: f64,
    /// The padding token's id.
    pub pad_token_id: usize,
}

impl BertConfig {
    /// A small configuration for tests: `layers` layers of width `hidden` with `heads` heads,
    /// a feed-forward block `2 × hidden` wide, a vocabulary of `vocab`, 16 positions, 2
    /// segments, ε = 1e-12.
    pub fn tiny(layers: usize, hidden: usize, heads: usize, vocab: usize) -> BertConfig {
        BertConfig {
            vocab_size: vocab,
            hidden_size: hidden,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            intermediate_size: 2 * hidden,
            max_position_embeddings: 16,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            pad_token_id: 0,
        }
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads.max(1)
    }

    /// Reads a `config.json` file.
    pub fn from_file(path: &Path) -> Result<BertConfig> {
        let text = std::fs::read_to_string(path).map_err(|source| CoreError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// Parses the text of a `config.json`; `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<BertConfig> {
        let err = |reason: String| CoreError::ModelFile {
            file: file.to_string(),
            reason,
        };
        let value: Value =
            serde_json::from_str(text).map_err(|e| err(format!("not valid JSON: {e}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| err("expected a JSON object of model settings".into()))?;
        let size = |key: &str, default: Option<usize>| -> Result<usize> {
            match obj.get(key) {
                None => default.ok_or_else(|| err(format!("key `{key}` is missing"))),
                Some(v) => v
                    .as_u64()
                    .and_then(|x| usize::try_from(x).ok())
                    .ok_or_else(|| {
                        err(format!("key `{key}` must be a whole number >= 0, got {v}"))
                    }),
            }
        };
        let text_key = |key: &str, default: &str| -> Result<String> {
            match obj.get(key) {
                None => Ok(default.to_string()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(v) => Err(err(format!("key `{key}` must be a string, got {v}"))),
            }
        };
        check_model_type(obj, &err)?;
        let config = BertConfig {
            vocab_size: size("vocab_size", None)?,
            hidden_size: size("hidden_size", None)?,
            num_hidden_layers: size("num_hidden_layers", None)?,
            num_attention_heads: size("num_attention_heads", None)?,
            intermediate_size: size("intermediate_size", None)?,
            max_position_embeddings: size("max_position_embeddings", Some(512))?,
            type_vocab_size: size("type_vocab_size", Some(2))?,
            layer_norm_eps: match obj.get("layer_norm_eps") {
                None => 1e-12,
                Some(v) => v
                    .as_f64()
                    .filter(|e| *e > 0.0 && e.is_finite())
                    .ok_or_else(|| {
                        err(format!(
                            "key `layer_norm_eps` must be a number > 0, got {v}"
                        ))
                    })?,
            },
            pad_token_id: size("pad_token_id", Some(0))?,
        };
        let act = text_key("hidden_act", "gelu")?;
        if act != "gelu" {
            return Err(err(format!(
                "key `hidden_act` is `{act}`; only BERT's exact `gelu` (the erf form) is supported"
            )));
        }
        let pos = text_key("position_embedding_type", "absolute")?;
        if pos != "absolute" {
            return Err(err(format!(
                "key `position_embedding_type` is `{pos}`; only `absolute` is supported"
            )));
        }
        config.validate().map_err(|e| match e {
            CoreError::Config { key, reason } => err(format!("key `{key}` {reason}")),
            other => other,
        })?;
        Ok(config)
    }

    /// Checks that the sizes fit together.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, reason: String| {
            Err(CoreError::Config {
                key: key.to_string(),
                reason,
            })
        };
        for (key, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1".into());
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(
                "hidden_size",
                format!(
                    "({}) must be a multiple of num_attention_heads ({})",
                    self.hidden_size, self.num_attention_heads
                ),
            );
        }
        if !(self.layer_norm_eps > 0.0 && self.layer_norm_eps.is_finite()) {
            return bad("layer_norm_eps", "must be a number > 0".into());
        }
        if self.pad_token_id >= self.vocab_size {
            return bad(
                "pad_token_id",
                format!(
                    "({}) must be below vocab_size ({})",
                    self.pad_token_id, self.vocab_size
                ),
            );
        }
        Ok(())
    }
}

fn check_model_type(obj: &Map<String, Value>, err: &dyn Fn(String) -> CoreError) -> Result<()> {
    match obj.get("model_type") {
        None => Ok(()),
        Some(Value::String(t)) if t == "bert" => Ok(()),
        Some(v) => Err(err(format!(
            "key `model_type` is {v}; only `bert` models are supported"
        ))),
    }
}
