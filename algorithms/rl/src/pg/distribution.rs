//! The policies' action distributions: categorical over logits (discrete actions), and a
//! diagonal Gaussian with a state-independent log standard deviation (continuous actions).
//!
//! Log-densities and entropies are built on the tape, generic over the float type, so the
//! losses differentiate through them and `gradcheck` can check them in `f64`. Sampling and
//! the deterministic action work on plain values: acting needs no gradient.

use autodidact_core::{Float, Rng, Var};
use rand::Rng as _;
use rand_distr::StandardNormal;

/// `½ ln 2π`.
pub const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// `log π(a|s)` of a batch: `logits [B, n]`, one action per row → `[B]`.
pub fn categorical_log_prob<T: Float>(logits: Var<T>, actions: &[usize]) -> Var<T> {
    logits.log_softmax(1).gather(actions)
}

/// `H = −Σ_a π(a) log π(a)` of each row of `logits [B, n]` → `[B]`.
pub fn categorical_entropy<T: Float>(logits: Var<T>) -> Var<T> {
    let logp = logits.log_softmax(1);
    -(logp.exp() * logp).sum_axes(&[1], false)
}

/// `log N(u; μ, diag σ²) = Σ_j −½((u_j − μ_j)/σ_j)² − log σ_j − ½ log 2π` of each row:
/// `mean [B, d]`, `log_std [d]`, `u [B, d]` → `[B]`.
pub fn gaussian_log_prob<T: Float>(mean: Var<T>, log_std: Var<T>, u: Var<T>) -> Var<T> {
    let z = (u - mean) * (-log_std).exp();
    (z.square() * -0.5 - log_std - HALF_LN_2PI).sum_axes(&[1], false)
}

/// The Gaussian's entropy `Σ_j ½ + ½ log 2π + log σ_j` (the same for every state): a scalar.
pub fn gaussian_entropy<T: Float>(log_std: Var<T>) -> Var<T> {
    (log_std + (0.5 + HALF_LN_2PI)).sum()
}

/// A draw from the categorical distribution with these logits (inverse CDF of one uniform).
pub fn sample_categorical(logits: &[f32], rng: &mut Rng) -> usize {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = logits.iter().map(|&l| f64::from(l - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (a, w) in weights.iter().enumerate() {
        if x < *w {
            return a;
        }
        x -= w;
    }
    // Rounding left `x` at the very top: the last action with weight.
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
}

/// `log π(a)` of one row of logits, in `f64` (for the rollout's stored log-probabilities).
pub fn categorical_log_prob_one(logits: &[f32], a: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse = logits
        .iter()
        .map(|&l| f64::from(l - max).exp())
        .sum::<f64>()
        .ln()
        + f64::from(max);
    f64::from(logits[a]) - lse
}

/// A draw `u = μ + σ ε` of the Gaussian, and its log-density.
pub fn sample_gaussian(mean: &[f32], log_std: &[f32], rng: &mut Rng) -> (Vec<f32>, f64) {
    let mut u = Vec::with_capacity(mean.len());
    let mut logp = 0.0;
    for (&m, &ls) in mean.iter().zip(log_std) {
        let eps: f64 = rng.sample(StandardNormal);
        let x = (f64::from(m) + f64::from(ls).exp() * eps) as f32;
        u.push(x);
        logp += gaussian_log_prob_one(m, ls, x);
    }
    (u, logp)
}

/// One coordinate's `log N(u; μ, σ²)`, in `f64`.
pub fn gaussian_log_prob_one(mean: f32, log_std: f32, u: f32) -> f64 {
    let z = (f64::from(u) - f64::from(mean)) / f64::from(log_std).exp();
    -0.5 * z * z - f64::from(log_std) - HALF_LN_2PI
}
