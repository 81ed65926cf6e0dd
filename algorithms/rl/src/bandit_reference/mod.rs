//! Exact references for K-armed Bernoulli bandits with independent uniform priors
//! (`p_a ~ Beta(1, 1)`) played for `n` pulls: what RL² on `bandit-distribution` is measured
//! against (Duan et al. 2016, table 1).
//!
//! - [`BayesOptimal`]: the Bayes-optimal expected return, by dynamic programming over the
//!   Beta posteriors. The state is every arm's (successes, failures); arms are exchangeable
//!   under the prior, so a state is stored once as the sorted multiset of its pairs, and
//!   memoised. Its size, not time, is the limit: see [`canonical_state_count`].
//! - [`GittinsTable`]: the finite-horizon Gittins index, by calibration against a known arm.
//! - [`Policy`]: the Bayes-optimal policy, Gittins, Thompson sampling, UCB1, greedy and
//!   uniform random, all as "pull an arm of highest score, ties uniformly at random".
//! - [`monte_carlo`]: any policy's expected return with a 95 % interval, on bandits drawn from
//!   the prior; [`exact_return`]: the exact expected return of a policy whose scores are
//!   deterministic, by the same recursion as the Bayes-optimal value.
//!
//! Everything here is plain `f64` arithmetic, independent of the autodiff.

mod bayes;
mod evaluate;
mod gittins;
mod policy;

pub use bayes::{canonical_state_count, BayesOptimal};
pub use evaluate::{exact_return, monte_carlo, Estimate};
pub use gittins::GittinsTable;
pub use policy::{Policy, PolicyKind};

/// One arm's posterior: successes and failures seen (the posterior is
/// `Beta(1 + successes, 1 + failures)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Counts {
    /// Pulls that paid 1.
    pub successes: u32,
    /// Pulls that paid 0.
    pub failures: u32,
}

impl Counts {
    /// Pulls of this arm.
    pub fn pulls(self) -> u32 {
        self.successes + self.failures
    }
    /// The posterior mean `(1 + s) / (2 + s + f)`: the probability that the next pull pays.
    pub fn posterior_mean(self) -> f64 {
        f64::from(self.successes + 1) / f64::from(self.pulls() + 2)
    }
    /// After a pull that paid `reward` (1 or 0).
    pub fn after(self, success: bool) -> Counts {
        let mut c = self;
        if success {
            c.successes += 1;
        } else {
            c.failures += 1;
        }
        c
    }
}

/// The counts of every arm after pulling arm `a` with outcome `success`.
pub(crate) fn child(state: &[Counts], a: usize, success: bool) -> Vec<Counts> {
    let mut s = state.to_vec();
    s[a] = s[a].after(success);
    s
}

/// The memo key of a state: its pairs sorted (arms are exchangeable), packed `bits` bits per
/// count into a `u128`.
pub(crate) fn canonical_key(state: &[Counts], bits: u32) -> u128 {
    let mut sorted = state.to_vec();
    sorted.sort_unstable();
    sorted.iter().fold(0u128, |key, c| {
        (((key << bits) | u128::from(c.successes)) << bits) | u128::from(c.failures)
    })
}

/// Bits needed for counts up to `n`.
pub(crate) fn bits_for(n: usize) -> u32 {
    usize::BITS - n.leading_zeros()
}
