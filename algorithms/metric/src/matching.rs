//! Matching Networks (Vinyals et al. 2016): a query's label distribution is the attention-
//! weighted sum of the support labels, `P(ŷ | x, S) = Σᵢ a(x, xᵢ) yᵢ`, with
//! `a(x, xᵢ) = softmax over the support set of cos(f(x), g(xᵢ))`; the loss is the negative
//! log-likelihood of the true label. With full-context embeddings (see [`crate::fce`]) `g`
//! reads the whole support set and `f` attends to it; without, `f = g = f_θ`.

use autodidact_core::{one_hot_var, pairwise_cosine_similarity, Var};

/// Floor inside the logarithm of the NLL (the attention can put ~0 mass on the true class).
pub const PROB_EPS: f64 = 1e-8;

/// Attention `[n_query, n_support]`: the softmax over the support set of the scaled cosine
/// similarities.
pub fn attention(query: Var<f32>, support: Var<f32>, scale: f64) -> Var<f32> {
    let cos = pairwise_cosine_similarity(query, support, 1e-8);
    let cos = if scale == 1.0 { cos } else { cos * scale };
    cos.softmax(1)
}

/// Class probabilities `[n_query, ways]`: `Σᵢ a(x, xᵢ) yᵢ` with one-hot `yᵢ`.
pub fn matching_probs(
    query: Var<f32>,
    support: Var<f32>,
    support_labels: &[usize],
    ways: usize,
    scale: f64,
) -> Var<f32> {
    attention(query, support, scale).matmul(one_hot_var(support_labels, ways))
}

/// The episode loss (mean NLL of the true label) and the class probabilities.
pub fn matching_loss(
    query: Var<f32>,
    support: Var<f32>,
    support_labels: &[usize],
    query_labels: &[usize],
    ways: usize,
    scale: f64,
) -> (Var<f32>, Var<f32>) {
    let probs = matching_probs(query, support, support_labels, ways, scale);
    let nll = -(probs.gather(query_labels) + PROB_EPS).log().mean();
    (nll, probs)
}
