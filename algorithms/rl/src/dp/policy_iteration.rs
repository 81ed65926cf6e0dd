//! Policy iteration: evaluate the policy, make it greedy, until it no longer changes.

use autodidact_core::TabularModel;

use super::bellman::{q_backup, q_from_v};
use super::policy_evaluation::{policy_evaluation, policy_evaluation_exact};
use super::{check_gamma, validate_model, Policy, QTable};
use crate::errors::{Result, RlError};

/// How policy iteration evaluates each policy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EvaluationMethod {
    /// Exactly ([`policy_evaluation_exact`]: a direct linear solve).
    Exact,
    /// By sweeps from zero until `‖ΔV‖∞ < tol` (at most `max_sweeps`).
    Iterative {
        /// The tolerance.
        tol: f64,
        /// The sweep limit per evaluation.
        max_sweeps: usize,
    },
}

/// The result of policy iteration.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyIteration {
    /// The final policy.
    pub policy: Vec<usize>,
    /// Its value.
    pub v: Vec<f64>,
    /// Its action values.
    pub q: QTable,
    /// Improvement steps done.
    pub iterations: usize,
    /// Whether the last improvement changed nothing (the policy is optimal).
    pub stable: bool,
}

/// The greedy improvement of `current` with respect to `v`: an action changes only when
/// another is better by more than a relative 1e-12 (so ties never cycle). Returns the new
/// policy and whether anything changed.
pub fn policy_improvement<M: TabularModel + ?Sized>(
    model: &M,
    v: &[f64],
    gamma: f64,
    current: &[usize],
) -> (Vec<usize>, bool) {
    let mut changed = false;
    let new = (0..model.num_states())
        .map(|s| {
            let old = current[s];
            if model.is_terminal(s) {
                return old;
            }
            let q_old = q_backup(model, v, gamma, s, old);
            let (mut best, mut bv) = (old, q_old);
            for a in 0..model.num_actions() {
                let q = q_backup(model, v, gamma, s, a);
                if q > bv {
                    best = a;
                    bv = q;
                }
            }
            if best != old && bv - q_old > 1e-12 * (1.0 + q_old.abs()) {
                changed = true;
                best
            } else {
                old
            }
        })
        .collect();
    (new, changed)
}

/// Evaluates one deterministic policy with `method`.
pub fn evaluate_deterministic<M: TabularModel + ?Sized>(
    model: &M,
    actions: &[usize],
    gamma: f64,
    method: EvaluationMethod,
) -> Result<Vec<f64>> {
    let pi = Policy::deterministic(actions, model.num_actions())?;
    match method {
        EvaluationMethod::Exact => policy_evaluation_exact(model, &pi, gamma),
        EvaluationMethod::Iterative { tol, max_sweeps } => {
            Ok(policy_evaluation(model, &pi, gamma, tol, max_sweeps)?.v)
        }
    }
}

/// Policy iteration from `initial` (action 0 everywhere when `None`), at most
/// `max_iterations` improvements.
pub fn policy_iteration<M: TabularModel + ?Sized>(
    model: &M,
    gamma: f64,
    method: EvaluationMethod,
    max_iterations: usize,
    initial: Option<Vec<usize>>,
) -> Result<PolicyIteration> {
    validate_model(model)?;
    check_gamma(gamma)?;
    let mut policy = initial.unwrap_or_else(|| vec![0; model.num_states()]);
    if policy.len() != model.num_states() {
        return Err(RlError::InvalidPolicy(format!(
            "{} actions for {} states",
            policy.len(),
            model.num_states()
        )));
    }
    let mut v = evaluate_deterministic(model, &policy, gamma, method)?;
    let mut iterations = 0;
    let mut stable = false;
    while iterations < max_iterations {
        let (np, changed) = policy_improvement(model, &v, gamma, &policy);
        iterations += 1;
        if !changed {
            stable = true;
            break;
        }
        policy = np;
        v = evaluate_deterministic(model, &policy, gamma, method)?;
    }
    Ok(PolicyIteration {
        q: q_from_v(model, &v, gamma),
        policy,
        v,
        iterations,
        stable,
    })
}
