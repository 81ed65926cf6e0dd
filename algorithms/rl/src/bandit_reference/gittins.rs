//! The finite-horizon Gittins index of a Beta posterior, by calibration.
//!
//! Gittins' index of an arm is the per-pull payment `λ` of a known arm that makes a player
//! indifferent between pulling the unknown arm (able to retire to the known one later) and
//! retiring now. The classical index is defined for an infinite horizon with discount `γ`,
//! where it is optimal. An `n`-pull game has no discount but a deadline, so here the
//! calibration is done against the remaining pulls `m` instead (the finite-horizon index,
//! Niño-Mora 2011; undiscounted, `γ = 1`): with `m` pulls left,
//!
//! ```text
//! W_λ(s, f, m) = max( λ m,  p (1 + W_λ(s + 1, f, m − 1)) + (1 − p) W_λ(s, f + 1, m − 1) ),
//! W_λ(·, ·, 0) = 0,      p = (1 + s) / (2 + s + f),
//! ```
//!
//! and the index `G(s, f, m)` is the `λ` where the two sides meet. The advantage of pulling
//! over retiring falls as `λ` rises, so one backward pass per `λ` of a grid over [0, 1] gives
//! the sign at every `(s, f, m)` at once; the crossing is then located by linear
//! interpolation between the two grid points around it (the advantage is piecewise linear in
//! `λ`, so this is exact unless a kink falls between them). `G(s, f, 1)` is the posterior
//! mean (one pull left: nothing to learn for); with more pulls left the index adds the value
//! of the information a pull brings. The index policy is not Bayes-optimal for a finite
//! horizon (the index of an arm ignores the others), but close to it.

use crate::errors::{Result, RlError};

/// `G(s, f, m)` for every `s + f + m ≤ n`, `m ≥ 1`.
#[derive(Clone, Debug)]
pub struct GittinsTable {
    pulls: usize,
    index: Vec<f64>,
}

impl GittinsTable {
    /// The table for `pulls` pulls, calibrated on a grid of `grid` + 1 values of `λ`.
    pub fn new(pulls: usize, grid: usize) -> Result<GittinsTable> {
        if pulls == 0 || pulls > 1000 || grid < 2 {
            return Err(RlError::Config {
                key: "pulls".into(),
                reason: format!(
                    "the Gittins table needs 1 <= pulls <= 1000 and a grid of >= 2 ({pulls}, \
                     {grid})"
                ),
            });
        }
        let n = pulls;
        let at = |s: usize, f: usize, m: usize| (s * (n + 1) + f) * (n + 1) + m;
        let cells = (n + 1) * (n + 1) * (n + 1);
        let mut w = vec![0.0f64; cells];
        // The advantage of pulling over retiring at the previous grid point, and the index.
        let mut prev = vec![f64::NAN; cells];
        let mut index = vec![f64::NAN; cells];
        for g in 0..=grid {
            let lambda = g as f64 / grid as f64;
            for m in 1..=n {
                for total in 0..=(n - m) {
                    for s in 0..=total {
                        let f = total - s;
                        let p = (s + 1) as f64 / (total + 2) as f64;
                        let pull =
                            p * (1.0 + w[at(s + 1, f, m - 1)]) + (1.0 - p) * w[at(s, f + 1, m - 1)];
                        let retire = lambda * m as f64;
                        w[at(s, f, m)] = pull.max(retire);
                        let adv = pull - retire;
                        let i = at(s, f, m);
                        if index[i].is_nan() {
                            if adv <= 0.0 {
                                index[i] = if g == 0 {
                                    0.0
                                } else {
                                    let l0 = (g - 1) as f64 / grid as f64;
                                    l0 + (lambda - l0) * prev[i] / (prev[i] - adv)
                                };
                            }
                            prev[i] = adv;
                        }
                    }
                }
            }
        }
        // λ = 1 always retires (no arm pays more than 1 per pull), so every cell is set.
        Ok(GittinsTable { pulls, index })
    }

    /// Pulls the table covers.
    pub fn pulls(&self) -> usize {
        self.pulls
    }

    /// `G(s, f, m)`: the index of an arm seen to pay `s` times and fail `f` times, with `m`
    /// pulls left (`None` outside `s + f + m ≤ n`, `m ≥ 1`).
    pub fn index(&self, successes: usize, failures: usize, remaining: usize) -> Option<f64> {
        let n = self.pulls;
        if remaining == 0 || successes + failures + remaining > n {
            return None;
        }
        self.index
            .get((successes * (n + 1) + failures) * (n + 1) + remaining)
            .copied()
    }
}
