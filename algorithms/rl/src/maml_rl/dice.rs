//! The DiCE estimator (Foerster et al. 2018, "DiCE: The Infinitely Differentiable Monte Carlo
//! Estimator") on the tape, with the baseline of Mao et al. 2019 ("A Baseline for Any Order
//! Gradient Estimation in Stochastic Computation Graphs"; Loaded DiCE, Farquhar et al. 2019,
//! at λ = 1).
//!
//! The MagicBox operator `□(x) = exp(x − ⊥x)` (`⊥` stops the gradient) evaluates to 1 and
//! differentiates as `∇□(x) = □(x) ∇x`, so every derivative of `□(τ) · r`, of any order, is
//! the score-function estimator of that order. For a trajectory with per-step
//! log-probabilities `l_t = log π(a_t|s_t)`, cumulative `τ_t = Σ_{k≤t} l_k`, discount `γ` and
//! a baseline `b_t = b(s_t)` that does not depend on the action or the parameters,
//!
//! ```text
//! L = Σ_t □(τ_t) γ^t r_t  +  Σ_t (1 − □(l_t)) □(τ_{t−1}) γ^t b_t
//!   = Σ_t (□(τ_t) − □(τ_{t−1})) A_t + const,   A_t = γ^t (G_t − b_t),  G_t = Σ_{k≥t} γ^{k−t} r_k
//!   = Σ_t □(τ_t) (A_t − A_{t+1}) + const.
//! ```
//!
//! `E[∇ⁿ L] = ∇ⁿ J` for every `n` (the baseline term has expectation 0 at every order, since
//! `E_a[∇ᵏ □(log π(a|s))] = ∇ᵏ Σ_a π(a|s) = 0`), so one inner step `θ' = θ + α ∇L(θ)` recorded
//! on the tape and differentiated again gives an unbiased estimate of `∇²J`, including the
//! term `E[R ∇log π ∇log π^T]` that the REINFORCE surrogate `Σ_t l_t A_t`
//! ([`surrogate_objective`]) loses: its first derivative is the same, its second is not
//! (Rothfuss et al. 2019, "ProMP", §4). `tests/maml_rl_exact.rs` proves both on a tabular MDP
//! against the exact meta-gradient.

use autodidact_core::{Float, Var};
use ndarray::{Array2, ArrayD, IxDyn};

/// `□(x) = exp(x − ⊥x)`: value 1, derivative `□(x) ∇x`, to any order.
pub fn magic_box<T: Float>(x: Var<T>) -> Var<T> {
    (x - x.detach()).exp()
}

/// The per-step weights of a batch of padded trajectories, `[n, H]`: the advantage
/// `A_t = γ^t (G_t − b_t)` (zero on padding), from rewards, baselines and a mask.
#[derive(Clone, Debug, PartialEq)]
pub struct Advantages {
    /// Trajectories.
    pub n: usize,
    /// Padded length.
    pub horizon: usize,
    /// `A_t`, row-major `[n, H]`.
    pub values: Vec<f64>,
}

impl Advantages {
    /// `A_t = γ^t (G_t − b_t)` of each step (0 where `mask` is 0); `rewards`, `baselines`
    /// and `mask` are row-major `[n, H]`. With `normalize`, the `G_t − b_t` of real steps are
    /// first scaled to mean 0 and standard deviation 1 (rllab's `center_adv`).
    pub fn new(
        n: usize,
        horizon: usize,
        rewards: &[f64],
        baselines: &[f64],
        mask: &[f64],
        gamma: f64,
        normalize: bool,
    ) -> Advantages {
        let returns = discounted_returns(n, horizon, rewards, mask, gamma);
        let mut adv: Vec<f64> = returns
            .iter()
            .zip(baselines)
            .zip(mask)
            .map(|((g, b), m)| if *m > 0.0 { g - b } else { 0.0 })
            .collect();
        if normalize {
            let real: Vec<f64> = adv
                .iter()
                .zip(mask)
                .filter(|(_, m)| **m > 0.0)
                .map(|(a, _)| *a)
                .collect();
            let k = real.len();
            if k > 1 {
                let mean = real.iter().sum::<f64>() / k as f64;
                let var = real.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
                let sd = var.sqrt() + 1e-8;
                for (a, m) in adv.iter_mut().zip(mask) {
                    if *m > 0.0 {
                        *a = (*a - mean) / sd;
                    }
                }
            }
        }
        for i in 0..n {
            let mut d = 1.0;
            for t in 0..horizon {
                adv[i * horizon + t] *= d;
                d *= gamma;
            }
        }
        Advantages {
            n,
            horizon,
            values: adv,
        }
    }

    /// The DiCE coefficients `c_t = A_t − A_{t+1}` (`A_H = 0`), `[n, H]`.
    pub fn dice_coefficients(&self) -> Vec<f64> {
        let h = self.horizon;
        let mut c = vec![0.0; self.values.len()];
        for i in 0..self.n {
            for t in 0..h {
                let next = if t + 1 < h {
                    self.values[i * h + t + 1]
                } else {
                    0.0
                };
                c[i * h + t] = self.values[i * h + t] - next;
            }
        }
        c
    }
}

/// The discounted reward-to-go `G_t = Σ_{k≥t} γ^{k−t} r_k` of each step, `[n, H]` (0 on
/// padding).
pub fn discounted_returns(
    n: usize,
    horizon: usize,
    rewards: &[f64],
    mask: &[f64],
    gamma: f64,
) -> Vec<f64> {
    let mut out = vec![0.0; n * horizon];
    for i in 0..n {
        let mut g = 0.0;
        for t in (0..horizon).rev() {
            let k = i * horizon + t;
            g = rewards[k] * mask[k] + gamma * g;
            out[k] = g * mask[k];
        }
    }
    out
}

/// The constant `[H, H]` upper-triangular matrix of ones: `l [n, H] · U` is the cumulative
/// sum along time, `τ_t = Σ_{k≤t} l_k`.
pub fn cumsum_matrix<T: Float>(horizon: usize) -> Var<T> {
    let u = Array2::from_shape_fn((horizon, horizon), |(k, t)| {
        if k <= t {
            T::one()
        } else {
            T::zero()
        }
    });
    Var::constant(u.into_dyn())
}

fn constant<T: Float>(shape: &[usize], x: &[f64]) -> Var<T> {
    let data: Vec<T> = x.iter().map(|&v| T::of(v)).collect();
    match ArrayD::from_shape_vec(IxDyn(shape), data) {
        Ok(a) => Var::constant(a),
        Err(e) => panic!(
            "dice: weights of {} values for shape {shape:?}: {e}",
            x.len()
        ),
    }
}

/// The DiCE objective of a batch, averaged over trajectories:
/// `(1/n) Σ_{i,t} □(τ_{i,t}) c_{i,t}` with `c = A_t − A_{t+1}` (see the module's
/// documentation); `log_probs` is `[n, H]` with zeros on padding (the mask applied).
///
/// Its value is `(1/n) Σ_i A_{i,0}` (the boxes are 1); its derivatives of every order are
/// unbiased estimates of those of the expected discounted return.
pub fn dice_objective<T: Float>(log_probs: Var<T>, adv: &Advantages) -> Var<T> {
    let (n, h) = (adv.n, adv.horizon);
    let tau = log_probs.matmul(cumsum_matrix::<T>(h));
    let c = constant::<T>(&[n, h], &adv.dice_coefficients());
    (magic_box(tau) * c).sum() * (1.0 / n.max(1) as f64)
}

/// The REINFORCE surrogate of the original MAML-RL implementation:
/// `(1/n) Σ_{i,t} l_{i,t} A_{i,t}`. Its gradient equals [`dice_objective`]'s; its Hessian
/// keeps only `Σ_t A_t ∇² l_t` and drops the score-function products — the biased
/// "dropped-term" estimator, kept for comparison.
pub fn surrogate_objective<T: Float>(log_probs: Var<T>, adv: &Advantages) -> Var<T> {
    let (n, h) = (adv.n, adv.horizon);
    let a = constant::<T>(&[n, h], &adv.values);
    (log_probs * a).sum() * (1.0 / n.max(1) as f64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use autodidact_core::{grad, CreateGraph, Tape};
    use ndarray::arr1;

    #[test]
    fn magic_box_is_one_with_the_derivatives_of_exp() {
        let _t = Tape::<f64>::new();
        let x: Var<f64> = Var::leaf(arr1(&[0.7, -1.3]).into_dyn());
        let b = magic_box(x * x);
        assert_eq!(
            b.value().iter().copied().collect::<Vec<_>>(),
            vec![1.0, 1.0]
        );
        // d/dx □(x²) = 2x; d²/dx² = 2 + 4x².
        let g = grad(&[b.sum()], &[x], CreateGraph::Yes)[0];
        let gv = g.value();
        assert!((gv[0] - 1.4).abs() < 1e-12 && (gv[1] + 2.6).abs() < 1e-12);
        let h = grad(&[g.sum()], &[x], CreateGraph::No)[0].value();
        assert!((h[0] - (2.0 + 4.0 * 0.49)).abs() < 1e-12);
        assert!((h[1] - (2.0 + 4.0 * 1.69)).abs() < 1e-12);
    }

    #[test]
    fn advantages_and_coefficients() {
        // Two steps then padding; γ = 0.5; baseline 1 on both real steps.
        let adv = Advantages::new(
            1,
            3,
            &[1.0, 2.0, 9.0],
            &[1.0, 1.0, 0.0],
            &[1.0, 1.0, 0.0],
            0.5,
            false,
        );
        // G = [2, 2, 0]; A = [1·(2−1), 0.5·(2−1), 0].
        assert_eq!(adv.values, vec![1.0, 0.5, 0.0]);
        assert_eq!(adv.dice_coefficients(), vec![0.5, 0.5, 0.0]);
    }

    #[test]
    fn dice_and_surrogate_share_the_first_derivative() {
        let _t = Tape::<f64>::new();
        let l: Var<f64> =
            Var::leaf(ndarray::arr2(&[[-0.5, -1.0, -0.2], [-0.3, -0.7, 0.0]]).into_dyn());
        let adv = Advantages::new(
            2,
            3,
            &[1.0, -2.0, 3.0, 0.5, 1.0, 0.0],
            &[0.2; 6],
            &[1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
            0.9,
            true,
        );
        let gd = grad(&[dice_objective(l, &adv)], &[l], CreateGraph::No)[0].value();
        let gs = grad(&[surrogate_objective(l, &adv)], &[l], CreateGraph::No)[0].value();
        for (a, b) in gd.iter().zip(gs.iter()) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }
}
