//! Exact dynamic programming on an environment's [`TabularModel`]: policy evaluation
//! (iterative and by a direct linear solve), value iteration, Q-value iteration, policy
//! iteration and Bellman residuals, plus the registered `policy-evaluation`,
//! `value-iteration` and `policy-iteration` algorithms.
//!
//! Conventions, used by every function here: values are `f64`; a terminal state
//! ([`TabularModel::is_terminal`]) has value 0 and is never backed up; a transition with
//! `done` set does not bootstrap (`r + γ·0`); the discount γ is in `0 ..= 1` (with γ = 1 the
//! policies evaluated must terminate with probability 1).
//!
//! ```
//! use autodidact_core::{TabularModel, Transition};
//! use autodidact_rl::dp::{value_iteration, Policy, policy_evaluation_direct};
//!
//! /// Two states: from 0, action 0 ends with reward 1, action 1 stays with reward 0.
//! struct Tiny([Transition; 1], [Transition; 1]);
//! impl TabularModel for Tiny {
//!     fn num_states(&self) -> usize { 2 }
//!     fn num_actions(&self) -> usize { 2 }
//!     fn transitions(&self, _s: usize, a: usize) -> &[Transition] {
//!         if a == 0 { &self.0 } else { &self.1 }
//!     }
//!     fn initial_distribution(&self) -> Vec<(usize, f64)> { vec![(0, 1.0)] }
//!     fn is_terminal(&self, s: usize) -> bool { s == 1 }
//! }
//! let m = Tiny(
//!     [Transition { prob: 1.0, next: 1, reward: 1.0, done: true }],
//!     [Transition { prob: 1.0, next: 0, reward: 0.0, done: false }],
//! );
//! let vi = value_iteration(&m, 0.9, 1e-12, 1000).unwrap();
//! assert!((vi.v[0] - 1.0).abs() < 1e-12 && vi.policy[0] == 0);
//! // The uniform policy: V = 0.5·1 + 0.5·0.9·V, so V = 0.5 / 0.55.
//! let v = policy_evaluation_direct(&m, &Policy::uniform(2, 2), 0.9).unwrap();
//! assert!((v[0] - 0.5 / 0.55).abs() < 1e-12);
//! ```

pub mod agents;
pub mod bellman;
pub mod linear_solve;
pub mod ordered;
pub mod policy_evaluation;
pub mod policy_iteration;
pub mod q_value_iteration;
pub mod value_iteration;

use autodidact_core::TabularModel;
use serde::{Deserialize, Serialize};

use crate::errors::{Result, RlError};

pub use agents::{DpAlgorithm, DpKind};
pub use bellman::{
    bellman_expectation_residual, bellman_residual, expectation_backup, greedy_policy,
    optimality_backup, q_backup, q_bellman_residual, q_from_v, start_value,
};
pub use linear_solve::Lu;
pub use ordered::{
    backward_order, policy_evaluation_ordered, value_iteration_ordered, SweepCallback,
};
pub use policy_evaluation::{
    policy_evaluation, policy_evaluation_direct, policy_evaluation_exact, policy_evaluation_sweep,
    q_policy_evaluation, Evaluation, DIRECT_SOLVE_MAX_STATES,
};
pub use policy_iteration::{
    policy_improvement, policy_iteration, EvaluationMethod, PolicyIteration,
};
pub use q_value_iteration::{q_value_iteration, q_value_iteration_sweep, QValueIteration};
pub use value_iteration::{value_iteration, value_iteration_sweep, ValueIteration};

/// A table of action values `Q(s, a)`, row-major `[num_states, num_actions]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QTable {
    /// The values, `values[s * num_actions + a]`.
    pub values: Vec<f64>,
    /// Number of actions (row length).
    pub num_actions: usize,
}

impl QTable {
    /// A table filled with `value`.
    pub fn filled(num_states: usize, num_actions: usize, value: f64) -> QTable {
        QTable {
            values: vec![value; num_states * num_actions],
            num_actions,
        }
    }
    /// Number of states.
    pub fn num_states(&self) -> usize {
        self.values.len() / self.num_actions.max(1)
    }
    /// `Q(s, a)`.
    #[inline]
    pub fn get(&self, s: usize, a: usize) -> f64 {
        self.values[s * self.num_actions + a]
    }
    /// Sets `Q(s, a)`.
    #[inline]
    pub fn set(&mut self, s: usize, a: usize, v: f64) {
        self.values[s * self.num_actions + a] = v;
    }
    /// The row of state `s`.
    #[inline]
    pub fn row(&self, s: usize) -> &[f64] {
        &self.values[s * self.num_actions..(s + 1) * self.num_actions]
    }
    /// `max_a Q(s, a)`.
    #[inline]
    pub fn max(&self, s: usize) -> f64 {
        self.row(s)
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }
    /// The first action with the largest value in state `s`.
    #[inline]
    pub fn argmax(&self, s: usize) -> usize {
        argmax(self.row(s))
    }
    /// The greedy policy (first action on ties), one action per state.
    pub fn greedy(&self) -> Vec<usize> {
        (0..self.num_states()).map(|s| self.argmax(s)).collect()
    }
    /// `V(s) = max_a Q(s, a)` for every state.
    pub fn values_max(&self) -> Vec<f64> {
        (0..self.num_states()).map(|s| self.max(s)).collect()
    }
}

/// Index of the first largest entry (NaN never wins).
#[inline]
pub fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    let mut bv = f64::NEG_INFINITY;
    for (i, &x) in row.iter().enumerate() {
        if x > bv {
            bv = x;
            best = i;
        }
    }
    best
}

/// A (possibly stochastic) policy: `π(a | s)` for every state, rows summing to 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    num_actions: usize,
    probs: Vec<f64>,
}

impl Policy {
    /// The uniformly random policy.
    pub fn uniform(num_states: usize, num_actions: usize) -> Policy {
        Policy {
            num_actions,
            probs: vec![1.0 / num_actions as f64; num_states * num_actions],
        }
    }

    /// A deterministic policy: action `actions[s]` in state `s`.
    pub fn deterministic(actions: &[usize], num_actions: usize) -> Result<Policy> {
        let mut probs = vec![0.0; actions.len() * num_actions];
        for (s, &a) in actions.iter().enumerate() {
            if a >= num_actions {
                return Err(RlError::InvalidPolicy(format!(
                    "state {s}: action {a} is not below {num_actions}"
                )));
            }
            probs[s * num_actions + a] = 1.0;
        }
        Ok(Policy { num_actions, probs })
    }

    /// A policy from its table `probs[s * num_actions + a]`; each row must sum to 1.
    pub fn from_probs(probs: Vec<f64>, num_actions: usize) -> Result<Policy> {
        if num_actions == 0 || !probs.len().is_multiple_of(num_actions) {
            return Err(RlError::InvalidPolicy(format!(
                "{} probabilities do not make rows of {num_actions} actions",
                probs.len()
            )));
        }
        for (s, row) in probs.chunks(num_actions).enumerate() {
            let sum: f64 = row.iter().sum();
            if row.iter().any(|&p| !(0.0..=1.0).contains(&p)) || (sum - 1.0).abs() > 1e-9 {
                return Err(RlError::InvalidPolicy(format!(
                    "state {s}: probabilities {row:?} are not a distribution"
                )));
            }
        }
        Ok(Policy { num_actions, probs })
    }

    /// Number of states.
    pub fn num_states(&self) -> usize {
        self.probs.len() / self.num_actions.max(1)
    }
    /// Number of actions.
    pub fn num_actions(&self) -> usize {
        self.num_actions
    }
    /// `π(· | s)`.
    #[inline]
    pub fn probs(&self, s: usize) -> &[f64] {
        &self.probs[s * self.num_actions..(s + 1) * self.num_actions]
    }

    /// Checks that the policy covers the model's states and actions.
    pub fn check_fits<M: TabularModel + ?Sized>(&self, model: &M) -> Result<()> {
        if self.num_states() != model.num_states() || self.num_actions != model.num_actions() {
            return Err(RlError::InvalidPolicy(format!(
                "the policy has {} states and {} actions, the model {} and {}",
                self.num_states(),
                self.num_actions,
                model.num_states(),
                model.num_actions()
            )));
        }
        Ok(())
    }
}

/// Checks a model: transitions of every non-terminal state and action are a distribution over
/// valid states with finite rewards, and the initial distribution is one too.
pub fn validate_model<M: TabularModel + ?Sized>(model: &M) -> Result<()> {
    let (n, na) = (model.num_states(), model.num_actions());
    if n == 0 || na == 0 {
        return Err(RlError::InvalidModel(format!(
            "{n} states and {na} actions: both must be at least 1"
        )));
    }
    for s in 0..n {
        if model.is_terminal(s) {
            continue;
        }
        for a in 0..na {
            let ts = model.transitions(s, a);
            let mut sum = 0.0;
            for t in ts {
                if t.next >= n {
                    return Err(RlError::InvalidModel(format!(
                        "state {s}, action {a}: next state {} is not below {n}",
                        t.next
                    )));
                }
                if t.prob.is_nan() || t.prob < 0.0 || !t.reward.is_finite() {
                    return Err(RlError::InvalidModel(format!(
                        "state {s}, action {a}: probability {} or reward {} is invalid",
                        t.prob, t.reward
                    )));
                }
                sum += t.prob;
            }
            if (sum - 1.0).abs() > 1e-6 {
                return Err(RlError::InvalidModel(format!(
                    "state {s}, action {a}: probabilities sum to {sum}, not 1"
                )));
            }
        }
    }
    let init = model.initial_distribution();
    let sum: f64 = init.iter().map(|&(_, p)| p).sum();
    if init.iter().any(|&(s, p)| s >= n || p < 0.0) || (sum - 1.0).abs() > 1e-6 {
        return Err(RlError::InvalidModel(format!(
            "the initial distribution {init:?} is not a distribution over 0..{n}"
        )));
    }
    Ok(())
}

/// Checks a discount factor.
pub fn check_gamma(gamma: f64) -> Result<()> {
    if (0.0..=1.0).contains(&gamma) {
        Ok(())
    } else {
        Err(RlError::Config {
            key: "gamma".into(),
            reason: format!("{gamma} is outside the valid range 0 ..= 1"),
        })
    }
}

/// The optimal solution of a model: `V*`, `Q*` and an optimal (greedy) policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Optimal {
    /// `V*(s)`.
    pub v: Vec<f64>,
    /// `Q*(s, a)`.
    pub q: QTable,
    /// An optimal deterministic policy.
    pub policy: Vec<usize>,
    /// `V*(s₀)`, the expectation over the initial distribution.
    pub start_value: f64,
}

/// Value error tolerated by the exact solves of models above [`DIRECT_SOLVE_MAX_STATES`]
/// states, which sweep instead of solving linear systems.
pub const LARGE_SOLVE_TOL: f64 = 1e-10;

/// Sweep limit of the exact solves of large models (a solve that needs more fails with
/// [`RlError::Numerical`] instead of running for hours).
pub const LARGE_SOLVE_MAX_SWEEPS: usize = 50_000;

/// Solves a model exactly: up to [`DIRECT_SOLVE_MAX_STATES`] states, a few hundred
/// value-iteration sweeps to get near, then policy iteration (exact evaluation by a linear
/// solve) from that greedy policy until it is stable; beyond, value iteration by ordered
/// in-place sweeps ([`value_iteration_ordered`]) to a value error below [`LARGE_SOLVE_TOL`].
pub fn solve_optimal<M: TabularModel + ?Sized>(model: &M, gamma: f64) -> Result<Optimal> {
    solve_optimal_with(model, gamma, &mut |_, _| true)
}

/// [`solve_optimal`], calling `on_sweep` after each sweep of a large model's solve
/// (returning `false` interrupts it with an error).
pub fn solve_optimal_with<M: TabularModel + ?Sized>(
    model: &M,
    gamma: f64,
    on_sweep: SweepCallback<'_>,
) -> Result<Optimal> {
    validate_model(model)?;
    check_gamma(gamma)?;
    let (v, policy) = if model.num_states() <= DIRECT_SOLVE_MAX_STATES {
        let vi = value_iteration(model, gamma, 1e-10, 300)?;
        let pi = policy_iteration(
            model,
            gamma,
            EvaluationMethod::Exact,
            10_000,
            Some(vi.policy),
        )?;
        (pi.v, pi.policy)
    } else {
        let vi = value_iteration_ordered(
            model,
            gamma,
            LARGE_SOLVE_TOL,
            LARGE_SOLVE_MAX_SWEEPS,
            on_sweep,
        )?;
        if !vi.converged {
            return Err(RlError::Numerical(format!(
                "the optimal values of {} states did not converge in {} sweeps (last change {:e})",
                model.num_states(),
                vi.sweeps,
                vi.delta
            )));
        }
        (vi.v, vi.policy)
    };
    let start = start_value(model, &v);
    Ok(Optimal {
        q: q_from_v(model, &v, gamma),
        v,
        policy,
        start_value: start,
    })
}
