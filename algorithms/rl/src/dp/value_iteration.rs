//! Value iteration: `V ← T* V` until the change is below a tolerance.

use autodidact_core::TabularModel;

use super::bellman::{greedy_policy, optimality_backup};
use super::{check_gamma, validate_model};
use crate::errors::{Result, RlError};

/// The result of value iteration.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueIteration {
    /// The value estimate.
    pub v: Vec<f64>,
    /// The greedy policy with respect to `v`.
    pub policy: Vec<usize>,
    /// Sweeps done.
    pub sweeps: usize,
    /// `‖V_k − V_{k−1}‖∞` of the last sweep.
    pub delta: f64,
    /// Whether `delta` fell below the tolerance.
    pub converged: bool,
}

/// One synchronous sweep `V ← T* V`; returns the new values and `‖ΔV‖∞`.
pub fn value_iteration_sweep<M: TabularModel + ?Sized>(
    model: &M,
    gamma: f64,
    v: &[f64],
) -> (Vec<f64>, f64) {
    let new: Vec<f64> = (0..model.num_states())
        .map(|s| optimality_backup(model, v, gamma, s))
        .collect();
    let delta = new
        .iter()
        .zip(v)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    (new, delta)
}

/// Value iteration from `V = 0`: sweeps until `‖ΔV‖∞ < tol` or `max_sweeps`.
///
/// The greedy policy of the result is optimal once `delta < (1−γ)/γ · gap / 2`, where `gap`
/// is the smallest difference between an optimal and a suboptimal action value.
pub fn value_iteration<M: TabularModel + ?Sized>(
    model: &M,
    gamma: f64,
    tol: f64,
    max_sweeps: usize,
) -> Result<ValueIteration> {
    validate_model(model)?;
    check_gamma(gamma)?;
    let mut v = vec![0.0; model.num_states()];
    let mut delta = f64::INFINITY;
    let mut sweeps = 0;
    while sweeps < max_sweeps {
        let (nv, d) = value_iteration_sweep(model, gamma, &v);
        v = nv;
        delta = d;
        sweeps += 1;
        if !delta.is_finite() {
            return Err(RlError::Numerical(format!(
                "value iteration diverged after {sweeps} sweeps"
            )));
        }
        if delta < tol {
            break;
        }
    }
    let policy = greedy_policy(model, &v, gamma);
    Ok(ValueIteration {
        v,
        policy,
        sweeps,
        delta,
        converged: delta < tol,
    })
}
