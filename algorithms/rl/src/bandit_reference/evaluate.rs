//! A policy's expected return: by Monte Carlo on bandits drawn from the prior (any policy),
//! or exactly (a policy whose scores are a function of the state).

use std::collections::HashMap;

use autodidact_core::Seed;
use rand::Rng as _;

use super::policy::best_arms;
use super::{bits_for, canonical_key, child, Counts, Policy};
use crate::errors::{Result, RlError};

/// A Monte Carlo estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// The sample mean.
    pub mean: f64,
    /// Its standard error (sample standard deviation / √trials).
    pub std_error: f64,
    /// Bandits played.
    pub trials: usize,
}

impl Estimate {
    /// The half-width of the normal 95 % interval, `1.96 · std_error`.
    pub fn ci95(&self) -> f64 {
        1.96 * self.std_error
    }
    /// Mean and standard error of samples.
    pub fn of(xs: &[f64]) -> Estimate {
        let n = xs.len().max(1) as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = if xs.len() > 1 {
            xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        Estimate {
            mean,
            std_error: (var / n).sqrt(),
            trials: xs.len(),
        }
    }
}

/// The policy's return on `trials` bandits with `p_a ~ U[0, 1]`, `pulls` pulls each.
///
/// Trial `i` draws its arms and, for every arm, the outcome of its 1st, 2nd, … pull from
/// `seed.index(i)` ("bandit"), the policy's own randomness from another stream ("policy"):
/// every policy meets the same bandits and the same sequence of outcomes per arm (common
/// random numbers), so differences between policies are measured with less noise.
pub fn monte_carlo(
    policy: &mut Policy,
    arms: usize,
    pulls: usize,
    trials: usize,
    seed: Seed,
) -> Estimate {
    let mut returns = Vec::with_capacity(trials);
    for i in 0..trials {
        let trial = seed.index(i as u64);
        let mut world = trial.rng("bandit");
        let p: Vec<f64> = (0..arms).map(|_| world.random::<f64>()).collect();
        let outcomes: Vec<Vec<bool>> = p
            .iter()
            .map(|&pa| (0..pulls).map(|_| world.random::<f64>() < pa).collect())
            .collect();
        let mut rng = trial.rng("policy");
        let mut state = vec![Counts::default(); arms];
        let mut total = 0.0;
        for _ in 0..pulls {
            let a = policy.choose(&state, &mut rng);
            let success = outcomes[a][state[a].pulls() as usize];
            total += f64::from(u8::from(success));
            state[a] = state[a].after(success);
        }
        returns.push(total);
    }
    Estimate::of(&returns)
}

/// The exact expected return of a policy with deterministic scores (ties uniformly at
/// random) over the prior: the Bayes-optimal recursion with the policy's choice in place of
/// the maximum. The policy must treat arms alike (its scores permute with the arms), which
/// every [`Policy`] does; refused for Thompson sampling, or past `max_states` states.
pub fn exact_return(
    policy: &mut Policy,
    arms: usize,
    pulls: usize,
    max_states: u128,
) -> Result<f64> {
    if !policy.is_deterministic() {
        return Err(RlError::Config {
            key: "policy".into(),
            reason: format!(
                "{} draws its scores at random; estimate it by Monte Carlo",
                policy.kind().name()
            ),
        });
    }
    let states = super::canonical_state_count(arms, pulls.saturating_sub(1));
    if arms == 0 || pulls == 0 || states > max_states || 2 * arms as u32 * bits_for(pulls) > 128 {
        return Err(RlError::Config {
            key: "pulls".into(),
            reason: format!(
                "exact evaluation over {arms} arms and {pulls} pulls needs {states} states, \
                 over the limit of {max_states}"
            ),
        });
    }
    let mut memo = HashMap::new();
    let start = vec![Counts::default(); arms];
    Ok(follow(policy, &start, pulls, bits_for(pulls), &mut memo))
}

fn follow(
    policy: &mut Policy,
    state: &[Counts],
    pulls: usize,
    bits: u32,
    memo: &mut HashMap<u128, f64>,
) -> f64 {
    let made: usize = state.iter().map(|c| c.pulls() as usize).sum();
    if made >= pulls {
        return 0.0;
    }
    let key = canonical_key(state, bits);
    if let Some(&v) = memo.get(&key) {
        return v;
    }
    let scores = policy
        .scores(state)
        .unwrap_or_else(|| vec![0.0; state.len()]);
    let ties = best_arms(&scores);
    let mut v = 0.0;
    for &a in &ties {
        let p = state[a].posterior_mean();
        let win = follow(policy, &child(state, a, true), pulls, bits, memo);
        let lose = follow(policy, &child(state, a, false), pulls, bits, memo);
        v += p * (1.0 + win) + (1.0 - p) * lose;
    }
    v /= ties.len() as f64;
    memo.insert(key, v);
    v
}
