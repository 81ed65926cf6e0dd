//! Prototypical Networks (Snell et al. 2017): class prototypes are the mean support
//! embeddings; a query's logits are the negative squared Euclidean distances to them (or
//! their cosine similarities), and the loss is the cross-entropy of their softmax.

use autodidact_core::{cross_entropy, pairwise_cosine_similarity, pairwise_sq_distance, Var};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// How a query is compared with a prototype.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, autodidact_core::Choice)]
#[serde(rename_all = "kebab-case")]
pub enum Distance {
    /// Negative squared Euclidean distance.
    Euclidean,
    /// Cosine similarity.
    Cosine,
}

/// The `[ways, n]` matrix whose row `c` averages (`mean`) or sums the support rows of class `c`.
pub fn class_pooling(labels: &[usize], ways: usize, mean: bool) -> Var<f32> {
    let mut counts = vec![0usize; ways];
    for &y in labels {
        counts[y] += 1;
    }
    let mut m = Array2::<f32>::zeros((ways, labels.len()));
    for (i, &y) in labels.iter().enumerate() {
        m[[y, i]] = if mean { 1.0 / counts[y] as f32 } else { 1.0 };
    }
    Var::constant(m.into_dyn())
}

/// Class prototypes `[ways, D]`: the mean embedding of each class's support examples.
pub fn prototypes(support: Var<f32>, labels: &[usize], ways: usize) -> Var<f32> {
    class_pooling(labels, ways, true).matmul(support)
}

/// Logits `[n_query, ways]` of queries against prototypes.
pub fn proto_logits(query: Var<f32>, protos: Var<f32>, distance: Distance, scale: f64) -> Var<f32> {
    let l = match distance {
        Distance::Euclidean => -pairwise_sq_distance(query, protos),
        Distance::Cosine => pairwise_cosine_similarity(query, protos, 1e-8),
    };
    if scale == 1.0 {
        l
    } else {
        l * scale
    }
}

/// The episode loss and logits from support and query embeddings.
pub fn proto_loss(
    support: Var<f32>,
    support_labels: &[usize],
    query: Var<f32>,
    query_labels: &[usize],
    ways: usize,
    distance: Distance,
    scale: f64,
) -> (Var<f32>, Var<f32>) {
    let protos = prototypes(support, support_labels, ways);
    let logits = proto_logits(query, protos, distance, scale);
    (cross_entropy(logits, query_labels), logits)
}
