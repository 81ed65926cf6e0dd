//! A documented, deterministic text featuriser: hashed n-grams into a fixed-size vector.
//!
//! 1. Lower-case the text (Unicode).
//! 2. Words are the maximal runs of alphanumeric characters.
//! 3. Features: every word (unigram), every pair of neighbouring words (bigram), and every
//!    character 3-, 4- and 5-gram of the words joined by single spaces with a space added at
//!    both ends (so word boundaries show).
//! 4. Each feature is hashed with 64-bit FNV-1a (a fixed hash: the same on every machine and
//!    build), after a one-byte tag (`w`, `b`, `c`) so a word and a character n-gram with the
//!    same letters differ, into one of `dim` buckets (`hash % dim`); counts add up.
//! 5. Weighting: `log-count` maps a count `n > 0` to `1 + ln n`; `tf-idf` multiplies the count
//!    by `idf = ln((1 + N) / (1 + df)) + 1`, fitted on N training documents (df: documents
//!    with the bucket).
//! 6. The vector is L2-normalised (an empty text gives the zero vector).

use std::collections::HashMap;

use crate::error::{EnvsError, Result};

/// How bucket counts are weighted.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, autodidact_core::Choice,
)]
#[serde(rename_all = "kebab-case")]
pub enum Weighting {
    /// `1 + ln(count)`.
    LogCount,
    /// `count * idf` (fit with [`TextFeaturiser::fit_idf`]).
    TfIdf,
}

/// Hashed n-gram features of a fixed size.
#[derive(Clone, Debug, PartialEq)]
pub struct TextFeaturiser {
    dim: usize,
    weighting: Weighting,
    idf: Option<Vec<f32>>,
}

fn fnv1a(tag: u8, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in std::iter::once(&tag).chain(bytes) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The words of a text: lower-cased maximal alphanumeric runs.
pub fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

impl TextFeaturiser {
    /// A featuriser with `dim` buckets (for `tf-idf`, call [`TextFeaturiser::fit_idf`]).
    pub fn new(dim: usize, weighting: Weighting) -> Result<Self> {
        if dim == 0 {
            return Err(EnvsError::param("dim", "must be at least 1"));
        }
        Ok(TextFeaturiser {
            dim,
            weighting,
            idf: None,
        })
    }

    /// Buckets per vector.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// The weighting.
    pub fn weighting(&self) -> Weighting {
        self.weighting
    }

    /// Bucket counts of a text, sorted by bucket.
    pub fn counts(&self, text: &str) -> Vec<(usize, f32)> {
        let ws = words(text);
        let mut counts: HashMap<usize, f32> = HashMap::new();
        let dim = self.dim as u64;
        let mut add = |tag: u8, s: &[u8]| {
            *counts.entry((fnv1a(tag, s) % dim) as usize).or_insert(0.0) += 1.0;
        };
        for w in &ws {
            add(b'w', w.as_bytes());
        }
        for pair in ws.windows(2) {
            let b = format!("{} {}", pair[0], pair[1]);
            add(b'b', b.as_bytes());
        }
        if !ws.is_empty() {
            let joined: Vec<char> = format!(" {} ", ws.join(" ")).chars().collect();
            let mut buf = String::new();
            for n in 3..=5 {
                for gram in joined.windows(n) {
                    buf.clear();
                    buf.extend(gram.iter());
                    add(b'c', buf.as_bytes());
                }
            }
        }
        let mut v: Vec<(usize, f32)> = counts.into_iter().collect();
        v.sort_by_key(|&(b, _)| b);
        v
    }

    /// Fits the inverse document frequencies on training texts.
    pub fn fit_idf<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) {
        let mut df = vec![0u32; self.dim];
        let mut n = 0u32;
        for t in texts {
            n += 1;
            for (b, _) in self.counts(t) {
                df[b] += 1;
            }
        }
        let idf = df
            .iter()
            .map(|&d| ((1.0 + f64::from(n)) / (1.0 + f64::from(d))).ln() as f32 + 1.0)
            .collect();
        self.idf = Some(idf);
    }

    /// The feature vector of a text (`dim` values, L2 norm 1 unless empty).
    pub fn transform(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dim];
        self.transform_into(text, &mut v);
        v
    }

    /// [`TextFeaturiser::transform`] into `out` (`dim` values, overwritten).
    pub fn transform_into(&self, text: &str, out: &mut [f32]) {
        out.iter_mut().for_each(|x| *x = 0.0);
        for (b, c) in self.counts(text) {
            out[b] = match (self.weighting, &self.idf) {
                (Weighting::LogCount, _) => 1.0 + c.ln(),
                (Weighting::TfIdf, Some(idf)) => c * idf[b],
                (Weighting::TfIdf, None) => c,
            };
        }
        let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|x| *x /= norm);
        }
    }
}
