//! Sentence features behind one trait: hashed n-grams (no model, the smallest deployments) or
//! the pretrained MiniLM sentence encoder.

use std::path::PathBuf;
use std::sync::Arc;

use autodidact_envs::minilm::SentenceEncoder;
use autodidact_envs::text::{TextFeaturiser, Weighting};

use crate::error::{AgentError, Result};
use crate::features::Features;

/// Which featurizer, with its settings; stored with each model version, so a database is
/// always served with the features it was built with.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum FeaturizerSpec {
    /// Hashed word and character n-grams (`autodidact_envs::text`), log-count weighted.
    Hashed {
        /// Number of hash buckets.
        dim: usize,
    },
    /// all-MiniLM-L6-v2 (`autodidact_envs::minilm`) from a model folder.
    Minilm {
        /// The model folder.
        dir: PathBuf,
    },
}

impl Default for FeaturizerSpec {
    fn default() -> Self {
        FeaturizerSpec::Minilm {
            dir: PathBuf::from("../shared/data/minilm"),
        }
    }
}

/// Texts to L2-normalised feature vectors (an empty text may give the zero vector).
pub trait Featurizer: Send + Sync + std::fmt::Debug {
    /// Width of a feature vector.
    fn dim(&self) -> usize;
    /// Features of each text, in order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// The form a stored example's features are kept in memory: dense unless the
    /// featurizer's rows are mostly zeros.
    fn compact(&self, x: &[f32]) -> Features {
        Features::dense(x.to_vec())
    }
    /// Features of each text in their [`Featurizer::compact`] form, never holding more than
    /// one dense row beyond what [`Featurizer::embed`] makes.
    fn embed_compact(&self, texts: &[&str]) -> Result<Vec<Features>> {
        Ok(self.embed(texts)?.iter().map(|x| self.compact(x)).collect())
    }
}

/// Hashed n-gram features.
#[derive(Debug)]
pub(crate) struct Hashed(TextFeaturiser);

impl Featurizer for Hashed {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.0.transform(t)).collect())
    }
    /// A message sets tens to hundreds of the thousands of buckets: kept sparse.
    fn compact(&self, x: &[f32]) -> Features {
        Features::sparse(x)
    }
    /// Each text into one reused dense row, kept sparse.
    fn embed_compact(&self, texts: &[&str]) -> Result<Vec<Features>> {
        let mut row = vec![0.0f32; self.0.dim()];
        Ok(texts
            .iter()
            .map(|t| {
                self.0.transform_into(t, &mut row);
                Features::sparse(&row)
            })
            .collect())
    }
}

/// MiniLM sentence embeddings.
#[derive(Debug)]
pub(crate) struct Minilm(SentenceEncoder);

/// Texts per encoder pass.
const MINILM_BATCH: usize = 32;

impl Featurizer for Minilm {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let e = self.0.encode(texts, MINILM_BATCH)?;
        Ok(e.outer_iter().map(|r| r.to_vec()).collect())
    }
}

/// A featurizer that remembers every text's features: the replay benchmark embeds each
/// message once for all its agents. Features are what the inner featurizer gives, so
/// answers are the same as without it.
#[derive(Debug)]
pub struct Memo {
    inner: Arc<dyn Featurizer>,
    seen: std::sync::Mutex<std::collections::HashMap<String, Arc<[f32]>>>,
}

impl Memo {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Featurizer>) -> Memo {
        Memo {
            inner,
            seen: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Embeds the texts not yet seen, in one call of the inner featurizer.
    pub fn prefill(&self, texts: &[&str]) -> Result<()> {
        let missing: Vec<&str> = {
            let seen = self.lock()?;
            let mut m: Vec<&str> = texts
                .iter()
                .copied()
                .filter(|t| !seen.contains_key(*t))
                .collect();
            m.sort_unstable();
            m.dedup();
            m
        };
        let features = self.inner.embed(&missing)?;
        let mut seen = self.lock()?;
        for (t, x) in missing.into_iter().zip(features) {
            seen.insert(t.to_string(), Arc::from(x));
        }
        Ok(())
    }

    fn lock(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, std::collections::HashMap<String, Arc<[f32]>>>> {
        self.seen
            .lock()
            .map_err(|_| AgentError::Internal("the feature memo's lock is poisoned".into()))
    }
}

impl Featurizer for Memo {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn compact(&self, x: &[f32]) -> Features {
        self.inner.compact(x)
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.prefill(texts)?;
        let seen = self.lock()?;
        texts
            .iter()
            .map(|t| {
                seen.get(*t)
                    .map(|x| x.to_vec())
                    .ok_or_else(|| AgentError::Internal(format!("no memoised features for {t:?}")))
            })
            .collect()
    }
}

/// Builds the featurizer a spec names (loads the model for MiniLM).
pub fn build(spec: &FeaturizerSpec) -> Result<Arc<dyn Featurizer>> {
    match spec {
        FeaturizerSpec::Hashed { dim } => {
            if *dim == 0 || *dim > 1 << 20 {
                return Err(AgentError::config(
                    "featurizer.dim",
                    format!("{dim} is outside 1..=1048576"),
                ));
            }
            Ok(Arc::new(Hashed(TextFeaturiser::new(
                *dim,
                Weighting::LogCount,
            )?)))
        }
        FeaturizerSpec::Minilm { dir } => Ok(Arc::new(Minilm(SentenceEncoder::load(dir)?))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_features_are_unit_vectors_and_deterministic() -> Result<()> {
        let f = build(&FeaturizerSpec::Hashed { dim: 256 })?;
        let a = f.embed(&["Where is my card?", "where is my card"])?;
        assert_eq!(a[0].len(), 256);
        let norm: f32 = a[0].iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert_eq!(a[0], a[1]);
        assert!(build(&FeaturizerSpec::Hashed { dim: 0 }).is_err());
        Ok(())
    }

    #[test]
    fn memo_gives_the_inner_features() -> Result<()> {
        let inner = build(&FeaturizerSpec::Hashed { dim: 128 })?;
        let memo = Memo::new(Arc::clone(&inner));
        memo.prefill(&["a card", "a card", "my pin"])?;
        let texts = ["my pin", "a new text", "a card"];
        assert_eq!(memo.embed(&texts)?, inner.embed(&texts)?);
        assert_eq!(memo.dim(), 128);
        Ok(())
    }

    #[test]
    fn hashed_features_are_kept_sparse_and_minilm_sized_ones_dense() -> Result<()> {
        let f = build(&FeaturizerSpec::Hashed { dim: 4096 })?;
        let texts = ["I still have not received my new card", ""];
        let dense = f.embed(&texts)?;
        let compact = f.embed_compact(&texts)?;
        for (d, c) in dense.iter().zip(&compact) {
            assert!(matches!(c, Features::Sparse { .. }), "{c:?}");
            assert_eq!(c.row().to_vec(), *d);
            assert_eq!(f.compact(d), *c);
            assert!(c.heap_bytes() < 4096 * 4 / 8, "{} B", c.heap_bytes());
        }
        let memo = Memo::new(Arc::clone(&f));
        assert_eq!(memo.embed_compact(&texts)?, compact);
        Ok(())
    }
}
