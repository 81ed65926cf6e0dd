//! Few-shot intent classification from CSV files with a text column and a label column
//! (BANKING77's `text,category`; any CSV of that shape). Texts become fixed-size vectors with
//! the [`crate::text`] featuriser (hashed n-grams) or a pretrained sentence encoder
//! ([`crate::minilm`], cached on disk); intents are split into disjoint train / validation /
//! test classes; episodes are N-way K-shot.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use autodidact_core::config::{check_range, OneOrMany};
use autodidact_core::{
    Config, EnvInstance, EnvKind, Hyperparams, Rng, Seed, Split, Task, TaskDistribution, TaskKind,
};
use serde::{Deserialize, Serialize};

use crate::classification::{ClassSplits, FewShotClassification, LabelledDataset, SplitMode};
use crate::error::{EnvsError, Result};
use crate::text::{TextFeaturiser, Weighting};

/// How texts become vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, autodidact_core::Choice)]
#[serde(rename_all = "kebab-case")]
pub enum Featurizer {
    /// Hashed word and character n-grams ([`crate::text`]; `dim` and `weighting` apply).
    HashedNgrams,
    /// all-MiniLM-L6-v2 sentence embeddings (384 wide, L2-normalised) from `encoder_dir`.
    Minilm,
}

/// Parameters of [`Intents`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
#[hyperparams(check = IntentsParams::relations)]
pub struct IntentsParams {
    /// CSV files and/or folders of CSV files (a string or a list); rows of all are pooled.
    #[param(min_len = 1)]
    pub data_dir: OneOrMany<String>,
    /// The text column's header.
    pub text_column: String,
    /// The label column's header (empty: `label`, else `category`, else the last column).
    pub label_column: String,
    /// How texts become vectors.
    pub featurizer: Featurizer,
    /// The sentence encoder's folder (featurizer = minilm).
    pub encoder_dir: String,
    /// Folder of cached sentence embeddings, keyed by the model's and the texts' hashes
    /// (featurizer = minilm; empty: no cache).
    pub cache_dir: String,
    /// Texts per encoder batch (featurizer = minilm).
    #[param(min = 1, max = 4096)]
    pub encoder_batch_size: usize,
    /// Feature buckets (featurizer = hashed-ngrams).
    #[param(min = 1, max = 1_048_576)]
    pub dim: usize,
    /// How bucket counts are weighted.
    pub weighting: Weighting,
    /// Classes per episode (N).
    #[param(min = 1, max = 100_000)]
    pub ways: usize,
    /// Support examples per class (K).
    #[param(min = 1, max = 100_000)]
    pub shots: usize,
    /// Query examples per class.
    #[param(min = 1, max = 100_000)]
    pub queries: usize,
    /// Share of intents for meta-training (when no lists are given).
    #[param(min = 0, max = 1)]
    pub train_fraction: f64,
    /// Share of intents for validation (the rest is test; at most 1 − train_fraction).
    #[param(min = 0, max = 1)]
    pub validation_fraction: f64,
    /// Seed of the intent split (unset: derived from the run's seed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,
    /// How the intents are divided: `train-validation-test`, or `test-only` (every class a
    /// test class, to evaluate a trained model on new data with `autodidact eval`).
    pub split: SplitMode,
    /// Training intents (replaces the seeded split, with the other two lists).
    pub train_classes: Vec<String>,
    /// Validation intents.
    pub validation_classes: Vec<String>,
    /// Test intents.
    pub test_classes: Vec<String>,
    /// File names (case-insensitive) whose rows are the data's own test examples, kept apart
    /// for the continual streams' `holdout = "source"` (BANKING77: `test.csv`).
    pub test_files: OneOrMany<String>,
}

impl Default for IntentsParams {
    fn default() -> Self {
        IntentsParams {
            data_dir: vec!["../shared/data/banking77".to_string()].into(),
            text_column: "text".into(),
            label_column: String::new(),
            featurizer: Featurizer::HashedNgrams,
            encoder_dir: "../shared/data/minilm".to_string(),
            cache_dir: "target/autodidact-cache/embeddings".to_string(),
            encoder_batch_size: 32,
            dim: 1024,
            weighting: Weighting::LogCount,
            ways: 5,
            shots: 5,
            queries: 10,
            train_fraction: 0.6,
            validation_fraction: 0.2,
            split_seed: None,
            split: SplitMode::TrainValidationTest,
            train_classes: Vec::new(),
            validation_classes: Vec::new(),
            test_classes: Vec::new(),
            test_files: vec!["test.csv".to_string()].into(),
        }
    }
}

impl IntentsParams {
    /// Checks the relations between fields that bounds cannot state.
    fn relations(&self) -> autodidact_core::Result<()> {
        check_range(
            "validation_fraction",
            self.validation_fraction,
            0.0,
            1.0 - self.train_fraction,
        )?;
        // Test files are matched by bare file name, so a path could never match.
        if let Some(bad) = self
            .test_files
            .iter()
            .find(|t| t.trim().is_empty() || t.contains('/') || t.contains('\\'))
        {
            return Err(EnvsError::param(
                "test_files",
                format!("`{bad}` must be a bare file name such as test.csv (matched against each CSV's name, case-insensitively)"),
            )
            .into());
        }
        Ok(())
    }
}

/// One labelled text and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextRow {
    /// The text.
    pub text: String,
    /// Its label.
    pub label: String,
    /// 1-based line in its file.
    pub line: u64,
}

/// Lines one CSV row may span before it is taken for a runaway (unterminated) quote.
pub const MAX_ROW_LINES: u64 = 10;

/// Characters one CSV field may hold before it is taken for a runaway (unterminated) quote.
pub const MAX_FIELD_CHARS: usize = 5_000;

/// Parses CSV bytes with a header row; `file` names the source in errors. A row without a
/// label (or without text) is an error naming its line, and so is a row spanning more than
/// [`MAX_ROW_LINES`] lines or a field longer than [`MAX_FIELD_CHARS`] (a runaway quote).
pub fn read_csv_bytes(
    bytes: &[u8],
    file: &str,
    text_column: &str,
    label_column: &str,
) -> Result<Vec<TextRow>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    // Lines are counted from byte offsets: the csv reader's own line count goes wrong after a
    // `\r\n` followed by a blank line (it reported a row on line 3 as line 1). A line ends at
    // `\n`, `\r\n` or a lone `\r`, as the reader's records do.
    let line_at = |byte: u64| -> u64 {
        let end = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
        let breaks = bytes[..end]
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
            .count();
        1 + breaks as u64
    };
    // A record's position may fall before the blank lines that precede it: its line is that
    // of its first byte.
    let record_line = |byte: u64| -> u64 {
        let start = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
        let blank = bytes[start..]
            .iter()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count();
        line_at((start + blank) as u64)
    };
    let csv_err = |e: csv::Error| EnvsError::Csv {
        file: file.to_string(),
        line: e.position().map(|p| line_at(p.byte())).unwrap_or(1),
        reason: match e.kind() {
            csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
            _ => e.to_string(),
        },
    };
    let headers = reader.headers().map_err(csv_err)?.clone();
    let names: Vec<&str> = headers.iter().map(str::trim).collect();
    if names.is_empty() || (names.len() == 1 && names[0].is_empty()) {
        return Err(EnvsError::Csv {
            file: file.to_string(),
            line: 1,
            reason: "no header row (expected columns like `text,label`)".into(),
        });
    }
    let find = |name: &str| names.iter().position(|h| h.eq_ignore_ascii_case(name));
    let text_idx = find(text_column).ok_or_else(|| EnvsError::Csv {
        file: file.to_string(),
        line: 1,
        reason: format!(
            "no `{text_column}` column in the header (columns: {})",
            names.join(", ")
        ),
    })?;
    let label_idx = if label_column.is_empty() {
        find("label")
            .or_else(|| find("category"))
            .unwrap_or(names.len() - 1)
    } else {
        find(label_column).ok_or_else(|| EnvsError::Csv {
            file: file.to_string(),
            line: 1,
            reason: format!(
                "no `{label_column}` column in the header (columns: {})",
                names.join(", ")
            ),
        })?
    };
    if label_idx == text_idx {
        return Err(EnvsError::Csv {
            file: file.to_string(),
            line: 1,
            reason: format!(
                "the label column and the text column are both `{}` (columns: {})",
                names[text_idx],
                names.join(", ")
            ),
        });
    }
    let label_name = names[label_idx].to_string();
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_err)? {
        let line = record
            .position()
            .map(|p| record_line(p.byte()))
            .unwrap_or(0);
        // An unterminated quote makes the csv reader swallow every row up to the next quote
        // into one field, and the damage shows much later (a class with too few examples):
        // catch the runaway field here, at the line where it began.
        let spanned = line_at(reader.position().byte()).saturating_sub(line);
        let longest = record.iter().map(str::len).max().unwrap_or(0);
        if spanned > MAX_ROW_LINES || longest > MAX_FIELD_CHARS {
            return Err(EnvsError::Csv {
                file: file.to_string(),
                line,
                reason: format!(
                    "a field starting on this row runs over {spanned} lines ({longest} characters): probably an unterminated quote `\"`"
                ),
            });
        }
        if record.len() == 1 && record.get(0).is_some_and(|f| f.trim().is_empty()) {
            continue;
        }
        let label = record.get(label_idx).map(str::trim).unwrap_or("");
        if label.is_empty() {
            return Err(EnvsError::Csv {
                file: file.to_string(),
                line,
                reason: format!("the row has no `{label_name}` (label) value"),
            });
        }
        let text = record.get(text_idx).map(str::trim).unwrap_or("");
        if text.is_empty() {
            return Err(EnvsError::Csv {
                file: file.to_string(),
                line,
                reason: format!("the row has no `{}` (text) value", names[text_idx]),
            });
        }
        rows.push(TextRow {
            text: text.to_string(),
            label: label.to_string(),
            line,
        });
    }
    Ok(rows)
}

fn csv_files(paths: &[String]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.trim().is_empty() {
            return Err(EnvsError::param(
                "data_dir",
                "an empty path: give a CSV file or a folder of them",
            ));
        }
        let path = Path::new(p);
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| EnvsError::io(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file() && f.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv"))
                })
                .collect();
            if found.is_empty() {
                return Err(EnvsError::MissingData { path: p.clone(), reason: "the folder holds no .csv file".into(), expected: "CSV files with a header row and a text and a label column (e.g. BANKING77's train.csv, test.csv)".into() });
            }
            found.sort();
            files.extend(found);
        } else if path.is_file() {
            files.push(path.to_path_buf());
        } else {
            return Err(EnvsError::MissingData { path: p.clone(), reason: "no such file or folder".into(), expected: "a CSV file with a header row and a text and a label column, or a folder of them".into() });
        }
    }
    Ok(files)
}

/// Intent few-shot episodes.
#[derive(Clone, Debug)]
pub struct Intents {
    sampler: FewShotClassification,
    featuriser: IntentFeatures,
}

/// How a data set's texts were featurised, to featurise new texts the same way.
#[derive(Clone, Debug, PartialEq)]
pub enum IntentFeatures {
    /// Hashed n-grams (IDF fitted on the training intents for `tf-idf`).
    HashedNgrams(TextFeaturiser),
    /// Sentence embeddings of the encoder in this folder
    /// ([`SentenceEncoder::load`](crate::minilm::SentenceEncoder::load) it).
    Encoder {
        /// The model folder.
        dir: PathBuf,
        /// Embedding width.
        dim: usize,
    },
}

impl IntentFeatures {
    /// Width of a feature vector.
    pub fn dim(&self) -> usize {
        match self {
            IntentFeatures::HashedNgrams(f) => f.dim(),
            IntentFeatures::Encoder { dim, .. } => *dim,
        }
    }
}

/// Loaded intents: the featurised dataset, its class splits and the featuriser.
#[derive(Clone, Debug)]
pub struct IntentData {
    /// One class per intent, one featurised vector per text.
    pub data: LabelledDataset,
    /// The intent splits.
    pub splits: ClassSplits,
    /// How the texts were featurised.
    pub featuriser: IntentFeatures,
}

impl Intents {
    /// Reads the CSV files, splits the intents and featurises the texts.
    pub fn load_data(p: &IntentsParams, seed: Seed) -> Result<IntentData> {
        p.validate()
            .map_err(|e| EnvsError::Invalid(e.to_string()))?;
        // Each label's texts in file order, each marked whether its file is one of the data's
        // own test files.
        let mut by_label: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
        let mut any_test_file = false;
        for f in csv_files(&p.data_dir)? {
            let is_test = f.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                p.test_files.iter().any(|t| t.eq_ignore_ascii_case(&n))
            });
            let bytes = std::fs::read(&f).map_err(|e| EnvsError::io(&f, e))?;
            let rows = read_csv_bytes(
                &bytes,
                &f.display().to_string(),
                &p.text_column,
                &p.label_column,
            )?;
            if is_test && rows.is_empty() {
                return Err(EnvsError::param(
                    "test_files",
                    format!(
                        "{} is one of the data's own test files but holds no data row",
                        f.display()
                    ),
                ));
            }
            any_test_file |= is_test;
            for row in rows {
                by_label
                    .entry(row.label)
                    .or_default()
                    .push((row.text, is_test));
            }
        }
        if by_label.is_empty() {
            return Err(EnvsError::MissingData {
                path: p.data_dir.join(", "),
                reason: "no data row".into(),
                expected: "CSV rows of text and label".into(),
            });
        }
        let labels: Vec<&str> = by_label.keys().map(String::as_str).collect();
        let split_seed = p
            .split_seed
            .map(Seed)
            .unwrap_or_else(|| seed.derive("intents-split"));
        let splits = ClassSplits::by_lists_or_seed(
            p.split,
            &labels,
            [&p.train_classes, &p.validation_classes, &p.test_classes],
            p.train_fraction,
            p.validation_fraction,
            split_seed,
        )?;
        let (featuriser, dim, vectors) = match p.featurizer {
            Featurizer::HashedNgrams => {
                let f = hashed_featuriser(p, &splits, &labels, &by_label)?;
                let vectors = by_label
                    .values()
                    .map(|texts| {
                        let mut buf = vec![0.0f32; texts.len() * p.dim];
                        for ((t, _), out) in texts.iter().zip(buf.chunks_exact_mut(p.dim)) {
                            f.transform_into(t, out);
                        }
                        buf
                    })
                    .collect::<Vec<_>>();
                (IntentFeatures::HashedNgrams(f), p.dim, vectors)
            }
            Featurizer::Minilm => {
                let dir = PathBuf::from(&p.encoder_dir);
                let texts: Vec<&str> = by_label
                    .values()
                    .flat_map(|ts| ts.iter().map(|(t, _)| t.as_str()))
                    .collect();
                let cache = (!p.cache_dir.is_empty()).then(|| Path::new(&p.cache_dir));
                let emb = crate::minilm::encode_cached(&dir, cache, &texts, p.encoder_batch_size)?;
                let dim = emb.ncols();
                let flat: Vec<f32> = emb.iter().copied().collect();
                let mut at = 0;
                let vectors = by_label
                    .values()
                    .map(|ts| {
                        let n = ts.len() * dim;
                        at += n;
                        flat[at - n..at].to_vec()
                    })
                    .collect::<Vec<_>>();
                (IntentFeatures::Encoder { dir, dim }, dim, vectors)
            }
        };
        let mut data = LabelledDataset::new("intents", vec![dim]);
        for ((label, texts), buf) in by_label.iter().zip(vectors) {
            if any_test_file {
                let is_test = texts.iter().map(|&(_, test)| test).collect();
                data.push_class_with_test(label.clone(), label.clone(), buf, is_test)?;
            } else {
                data.push_class(label.clone(), label.clone(), buf)?;
            }
        }
        Ok(IntentData {
            data,
            splits,
            featuriser,
        })
    }

    /// Loads and builds the episode sampler.
    pub fn load(p: &IntentsParams, seed: Seed) -> Result<Intents> {
        let d = Self::load_data(p, seed)?;
        Ok(Intents {
            sampler: FewShotClassification::new(
                Arc::new(d.data),
                d.splits,
                p.ways,
                p.shots,
                p.queries,
            )?,
            featuriser: d.featuriser,
        })
    }

    /// The featurised dataset.
    pub fn dataset(&self) -> &Arc<LabelledDataset> {
        self.sampler.data()
    }
    /// The episode sampler (and its splits).
    pub fn sampler(&self) -> &FewShotClassification {
        &self.sampler
    }
    /// How the texts were featurised, to featurise new texts the same way.
    pub fn featuriser(&self) -> &IntentFeatures {
        &self.featuriser
    }
}

impl TaskDistribution for Intents {
    fn input_shape(&self) -> Vec<usize> {
        self.sampler.input_shape()
    }
    fn kind(&self) -> TaskKind {
        self.sampler.kind()
    }
    fn sample(&self, split: Split, rng: &mut Rng) -> autodidact_core::Result<Task> {
        self.sampler.sample(split, rng)
    }
}

/// The hashed n-gram featuriser, its IDF fitted on the training intents' rows outside the
/// data's own test files for `tf-idf`.
fn hashed_featuriser(
    p: &IntentsParams,
    splits: &ClassSplits,
    labels: &[&str],
    by_label: &BTreeMap<String, Vec<(String, bool)>>,
) -> Result<TextFeaturiser> {
    let mut featuriser = TextFeaturiser::new(p.dim, p.weighting)?;
    if p.weighting == Weighting::TfIdf {
        // Test-only data has no training classes: its own rows give the weights.
        let fit_on = if splits.is_test_only() {
            &splits.test
        } else {
            &splits.train
        };
        let texts: Vec<&str> = fit_on
            .iter()
            // The data's own test rows stay unseen, even unlabelled.
            .flat_map(|&c| {
                by_label[labels[c]]
                    .iter()
                    .filter(|(_, test)| !test)
                    .map(|(t, _)| t.as_str())
            })
            .collect();
        featuriser.fit_idf(texts);
    }
    Ok(featuriser)
}

fn build_intents(config: &Config, seed: Seed) -> autodidact_core::Result<EnvInstance> {
    let p = IntentsParams::from_config(config)?;
    Ok(EnvInstance::Tasks(Box::new(Intents::load(&p, seed)?)))
}

autodidact_core::register_env! {
    name: "intents",
    kind: EnvKind::FewShotClassification,
    summary: "few-shot intent classification from a text,label CSV (BANKING77) with hashed n-gram or MiniLM sentence features",
    params: IntentsParams::docs,
    default_config: IntentsParams::default_config,
    build: build_intents,
}
