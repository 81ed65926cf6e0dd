//! The reference policies, each "pull an arm of highest score; ties uniformly at random".

use autodidact_core::Rng;
use rand::Rng as _;
use rand_distr::{Beta, Distribution};

use super::{BayesOptimal, Counts, GittinsTable};
use crate::errors::{Result, RlError};

/// Which policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// The Bayes-optimal policy: the action values of [`BayesOptimal`].
    BayesOptimal,
    /// The finite-horizon Gittins index `G(s, f, m)` of each arm ([`GittinsTable`]).
    Gittins,
    /// Thompson sampling: one draw from each arm's posterior `Beta(1 + s, 1 + f)`.
    Thompson,
    /// UCB1 (Auer et al. 2002): each arm once, then `s/k + √(2 ln t / k)` (`k` pulls of the
    /// arm, `t` pulls in all).
    Ucb1,
    /// Greedy: the posterior mean `(1 + s)/(2 + s + f)`, no exploration.
    Greedy,
    /// Uniformly random arms.
    Random,
}

impl PolicyKind {
    /// Every policy, in table order.
    pub const ALL: [PolicyKind; 6] = [
        PolicyKind::BayesOptimal,
        PolicyKind::Gittins,
        PolicyKind::Thompson,
        PolicyKind::Ucb1,
        PolicyKind::Greedy,
        PolicyKind::Random,
    ];

    /// The name in tables.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::BayesOptimal => "Bayes-optimal",
            PolicyKind::Gittins => "Gittins (finite-horizon)",
            PolicyKind::Thompson => "Thompson sampling",
            PolicyKind::Ucb1 => "UCB1",
            PolicyKind::Greedy => "greedy",
            PolicyKind::Random => "random",
        }
    }
}

/// A policy for `arms`-armed bandits of `pulls` pulls, with the tables it needs.
#[derive(Clone, Debug)]
pub struct Policy {
    kind: PolicyKind,
    pulls: usize,
    bayes: Option<BayesOptimal>,
    gittins: Option<GittinsTable>,
}

/// The largest Bayes-optimal programme [`Policy::new`] builds (canonical decision states).
pub const MAX_BAYES_STATES: u128 = 20_000_000;

/// The Gittins calibration grid.
pub const GITTINS_GRID: usize = 2000;

impl Policy {
    /// The policy `kind` (the Bayes-optimal one only where its programme is tractable).
    pub fn new(kind: PolicyKind, arms: usize, pulls: usize) -> Result<Policy> {
        if arms == 0 || pulls == 0 {
            return Err(RlError::Config {
                key: "arms".into(),
                reason: format!("a bandit needs arms >= 1 and pulls >= 1 ({arms}, {pulls})"),
            });
        }
        Ok(Policy {
            kind,
            pulls,
            bayes: match kind {
                PolicyKind::BayesOptimal => Some(BayesOptimal::new(arms, pulls, MAX_BAYES_STATES)?),
                _ => None,
            },
            gittins: match kind {
                PolicyKind::Gittins => Some(GittinsTable::new(pulls, GITTINS_GRID)?),
                _ => None,
            },
        })
    }

    /// Which policy.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// Whether the scores are a function of the state (every policy but Thompson's).
    pub fn is_deterministic(&self) -> bool {
        self.kind != PolicyKind::Thompson
    }

    /// The arms' scores in `state`, `None` for Thompson sampling (whose scores are draws).
    pub fn scores(&mut self, state: &[Counts]) -> Option<Vec<f64>> {
        let made: u32 = state.iter().map(|c| c.pulls()).sum();
        let remaining = self.pulls.saturating_sub(made as usize);
        Some(match self.kind {
            PolicyKind::BayesOptimal => self.bayes.as_mut()?.q_values(state),
            PolicyKind::Gittins => {
                let table = self.gittins.as_ref()?;
                state
                    .iter()
                    .map(|c| {
                        table
                            .index(c.successes as usize, c.failures as usize, remaining)
                            .unwrap_or_else(|| c.posterior_mean())
                    })
                    .collect()
            }
            PolicyKind::Ucb1 => state
                .iter()
                .map(|c| match c.pulls() {
                    0 => f64::INFINITY,
                    k => {
                        let k = f64::from(k);
                        f64::from(c.successes) / k + (2.0 * f64::from(made).ln() / k).sqrt()
                    }
                })
                .collect(),
            PolicyKind::Greedy => state.iter().map(|c| c.posterior_mean()).collect(),
            PolicyKind::Random => vec![0.0; state.len()],
            PolicyKind::Thompson => return None,
        })
    }

    /// The arm to pull in `state`.
    pub fn choose(&mut self, state: &[Counts], rng: &mut Rng) -> usize {
        let scores = match self.scores(state) {
            Some(s) => s,
            None => state
                .iter()
                .map(|c| {
                    let (a, b) = (f64::from(c.successes + 1), f64::from(c.failures + 1));
                    // Both shapes are >= 1, so the distribution always exists.
                    Beta::new(a, b).map_or(0.5, |d| d.sample(rng))
                })
                .collect(),
        };
        let ties = best_arms(&scores);
        ties[rng.random_range(0..ties.len())]
    }
}

/// The arms whose score is the highest (within 1e-12, relatively).
pub(crate) fn best_arms(scores: &[f64]) -> Vec<usize> {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tol = if max.is_finite() {
        1e-12 * max.abs().max(1.0)
    } else {
        0.0
    };
    let best: Vec<usize> = (0..scores.len())
        .filter(|&a| scores[a] >= max - tol)
        .collect();
    if best.is_empty() {
        (0..scores.len()).collect()
    } else {
        best
    }
}
