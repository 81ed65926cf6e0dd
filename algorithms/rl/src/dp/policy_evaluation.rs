//! Policy evaluation: `V^π` by synchronous sweeps or by a direct linear solve, and `Q^π`.

use autodidact_core::TabularModel;

use super::bellman::{expectation_backup, q_from_v};
use super::linear_solve::solve;
use super::ordered::policy_evaluation_ordered;
use super::{check_gamma, validate_model, Policy, QTable};
use crate::errors::{Result, RlError};

/// Above this many states [`policy_evaluation_exact`] iterates instead of solving densely.
pub const DIRECT_SOLVE_MAX_STATES: usize = 2048;

/// The result of iterative policy evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The value estimate.
    pub v: Vec<f64>,
    /// Sweeps done.
    pub sweeps: usize,
    /// `‖V_k − V_{k−1}‖∞` of the last sweep.
    pub delta: f64,
    /// Whether `delta` fell below the tolerance.
    pub converged: bool,
}

/// One synchronous sweep `V ← T^π V`; returns the new values and `‖ΔV‖∞`.
pub fn policy_evaluation_sweep<M: TabularModel + ?Sized>(
    model: &M,
    policy: &Policy,
    gamma: f64,
    v: &[f64],
) -> (Vec<f64>, f64) {
    let new: Vec<f64> = (0..model.num_states())
        .map(|s| expectation_backup(model, policy, v, gamma, s))
        .collect();
    let delta = new
        .iter()
        .zip(v)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    (new, delta)
}

/// Iterative policy evaluation from `V = 0`: sweeps until `‖ΔV‖∞ < tol` or `max_sweeps`.
///
/// The error of the result is at most `γ/(1−γ) · delta`.
pub fn policy_evaluation<M: TabularModel + ?Sized>(
    model: &M,
    policy: &Policy,
    gamma: f64,
    tol: f64,
    max_sweeps: usize,
) -> Result<Evaluation> {
    validate_model(model)?;
    check_gamma(gamma)?;
    policy.check_fits(model)?;
    let mut v = vec![0.0; model.num_states()];
    let mut delta = f64::INFINITY;
    let mut sweeps = 0;
    while sweeps < max_sweeps {
        let (nv, d) = policy_evaluation_sweep(model, policy, gamma, &v);
        v = nv;
        delta = d;
        sweeps += 1;
        if !delta.is_finite() {
            return Err(RlError::Numerical(format!(
                "policy evaluation diverged after {sweeps} sweeps"
            )));
        }
        if delta < tol {
            break;
        }
    }
    Ok(Evaluation {
        v,
        sweeps,
        delta,
        converged: delta < tol,
    })
}

/// `V^π` exactly: solves `(I − γ P_π) V = R_π` (terminal rows `V(s) = 0`) by LU with partial
/// pivoting and one round of iterative refinement.
pub fn policy_evaluation_direct<M: TabularModel + ?Sized>(
    model: &M,
    policy: &Policy,
    gamma: f64,
) -> Result<Vec<f64>> {
    validate_model(model)?;
    check_gamma(gamma)?;
    policy.check_fits(model)?;
    let n = model.num_states();
    let mut a = vec![0.0; n * n];
    let mut b = vec![0.0; n];
    for s in 0..n {
        a[s * n + s] = 1.0;
        if model.is_terminal(s) {
            continue;
        }
        for (act, &p) in policy.probs(s).iter().enumerate() {
            if p <= 0.0 {
                continue;
            }
            for t in model.transitions(s, act) {
                b[s] += p * t.prob * t.reward;
                if !t.done && !model.is_terminal(t.next) {
                    a[s * n + t.next] -= gamma * p * t.prob;
                }
            }
        }
    }
    solve(&a, &b, n)
}

/// `V^π` exactly: the direct solve up to [`DIRECT_SOLVE_MAX_STATES`] states; beyond, ordered
/// in-place sweeps ([`policy_evaluation_ordered`]) to a value error below
/// [`LARGE_SOLVE_TOL`](super::LARGE_SOLVE_TOL).
pub fn policy_evaluation_exact<M: TabularModel + ?Sized>(
    model: &M,
    policy: &Policy,
    gamma: f64,
) -> Result<Vec<f64>> {
    if model.num_states() <= DIRECT_SOLVE_MAX_STATES {
        return policy_evaluation_direct(model, policy, gamma);
    }
    let e = policy_evaluation_ordered(
        model,
        policy,
        gamma,
        super::LARGE_SOLVE_TOL,
        super::LARGE_SOLVE_MAX_SWEEPS,
        &mut |_, _| true,
    )?;
    if !e.converged {
        return Err(RlError::Numerical(format!(
            "policy evaluation did not converge in {} sweeps (last change {:e})",
            e.sweeps, e.delta
        )));
    }
    Ok(e.v)
}

/// `Q^π(s, a) = R(s, a) + γ Σ P(s'|s,a) V^π(s')`, from the exact `V^π`.
pub fn q_policy_evaluation<M: TabularModel + ?Sized>(
    model: &M,
    policy: &Policy,
    gamma: f64,
) -> Result<QTable> {
    let v = policy_evaluation_exact(model, policy, gamma)?;
    Ok(q_from_v(model, &v, gamma))
}
