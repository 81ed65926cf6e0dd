//! The Bayes-optimal value of an `n`-pull Bernoulli bandit with uniform priors.
//!
//! With `m` pulls left and posteriors `Beta(1 + s_a, 1 + f_a)`, the value satisfies
//!
//! ```text
//! V(state) = max_a  p_a (1 + V(state with s_a + 1)) + (1 − p_a) V(state with f_a + 1),
//! p_a = (1 + s_a) / (2 + s_a + f_a),          V = 0 once n pulls are made,
//! ```
//!
//! because the posterior mean is the probability that the next pull of `a` pays, and the
//! posterior after an outcome is the Beta with one count more. The recursion is memoised on
//! the canonical state (the sorted multiset of the arms' pairs: arms are exchangeable under
//! the prior, so permuting them does not change the value), and only one arm per distinct
//! pair is tried. The number of canonical states, not arithmetic, is what limits it.

use std::collections::HashMap;

use super::{bits_for, canonical_key, child, Counts};
use crate::errors::{Result, RlError};

/// Canonical states of `arms` arms with at most `max_pulls` pulls made in all: multisets of
/// `arms` pairs `(s, f)` with `Σ (s + f) ≤ max_pulls`. A generating-function count: the
/// number of pair types of weight `w` is `w + 1`, each may repeat.
pub fn canonical_state_count(arms: usize, max_pulls: usize) -> u128 {
    // ways[size][weight]: multisets of `size` pairs of total weight `weight`.
    let mut ways = vec![vec![0u128; max_pulls + 1]; arms + 1];
    ways[0][0] = 1;
    for w in 0..=max_pulls {
        for _type in 0..=w {
            // An unbounded-multiplicity item: ascending loops allow repeats.
            for size in 1..=arms {
                for weight in w..=max_pulls {
                    let add = ways[size - 1][weight - w];
                    ways[size][weight] = ways[size][weight].saturating_add(add);
                }
            }
        }
    }
    ways[arms]
        .iter()
        .fold(0u128, |acc, &x| acc.saturating_add(x))
}

/// The Bayes-optimal value and action values, memoised.
#[derive(Clone, Debug)]
pub struct BayesOptimal {
    arms: usize,
    pulls: usize,
    bits: u32,
    memo: HashMap<u128, f64>,
}

impl BayesOptimal {
    /// The solver for `arms` arms and `pulls` pulls, refused when its decision states
    /// (canonical states with fewer than `pulls` pulls made) would exceed `max_states`.
    pub fn new(arms: usize, pulls: usize, max_states: u128) -> Result<BayesOptimal> {
        if arms == 0 || pulls == 0 {
            return Err(RlError::Config {
                key: "arms".into(),
                reason: format!("a bandit needs arms >= 1 and pulls >= 1 ({arms}, {pulls})"),
            });
        }
        let bits = bits_for(pulls);
        let states = canonical_state_count(arms, pulls - 1);
        if states > max_states || 2 * arms as u32 * bits > 128 {
            return Err(RlError::Config {
                key: "pulls".into(),
                reason: format!(
                    "the Bayes-optimal dynamic programme of {arms} arms over {pulls} pulls has \
                     {states} canonical decision states, over the limit of {max_states}"
                ),
            });
        }
        Ok(BayesOptimal {
            arms,
            pulls,
            bits,
            memo: HashMap::with_capacity(states.min(1 << 24) as usize),
        })
    }

    /// Arms.
    pub fn arms(&self) -> usize {
        self.arms
    }
    /// Pulls per bandit.
    pub fn pulls(&self) -> usize {
        self.pulls
    }
    /// States memoised so far.
    pub fn states_stored(&self) -> usize {
        self.memo.len()
    }

    /// The Bayes-optimal expected return of the whole game (no pull made yet).
    pub fn value(&mut self) -> f64 {
        let start = vec![Counts::default(); self.arms];
        self.value_of(&start)
    }

    /// The optimal expected return of the remaining pulls from `state`.
    pub fn value_of(&mut self, state: &[Counts]) -> f64 {
        let made: usize = state.iter().map(|c| c.pulls() as usize).sum();
        if made >= self.pulls {
            return 0.0;
        }
        let key = canonical_key(state, self.bits);
        if let Some(&v) = self.memo.get(&key) {
            return v;
        }
        let mut best = f64::NEG_INFINITY;
        for a in 0..state.len() {
            // Arms with the same pair have the same action value: try the first only.
            if state[..a].contains(&state[a]) {
                continue;
            }
            best = best.max(self.q(state, a));
        }
        self.memo.insert(key, best);
        best
    }

    /// The expected return of pulling `a` now and playing optimally after.
    pub fn q(&mut self, state: &[Counts], a: usize) -> f64 {
        let p = state[a].posterior_mean();
        let win = self.value_of(&child(state, a, true));
        let lose = self.value_of(&child(state, a, false));
        p * (1.0 + win) + (1.0 - p) * lose
    }

    /// Every arm's action value.
    pub fn q_values(&mut self, state: &[Counts]) -> Vec<f64> {
        (0..state.len()).map(|a| self.q(state, a)).collect()
    }
}
