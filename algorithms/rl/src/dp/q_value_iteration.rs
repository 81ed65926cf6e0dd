//! Q-value iteration: `Q(s,a) ← R(s,a) + γ Σ P(s'|s,a) max_a' Q(s',a')`.

use autodidact_core::TabularModel;

use super::bellman::q_backup;
use super::{check_gamma, validate_model, QTable};
use crate::errors::{Result, RlError};

/// The result of Q-value iteration.
#[derive(Clone, Debug, PartialEq)]
pub struct QValueIteration {
    /// The action-value estimate.
    pub q: QTable,
    /// Sweeps done.
    pub sweeps: usize,
    /// `‖Q_k − Q_{k−1}‖∞` of the last sweep.
    pub delta: f64,
    /// Whether `delta` fell below the tolerance.
    pub converged: bool,
}

/// One synchronous sweep of Q-value iteration; returns the new table and `‖ΔQ‖∞`.
pub fn q_value_iteration_sweep<M: TabularModel + ?Sized>(
    model: &M,
    gamma: f64,
    q: &QTable,
) -> (QTable, f64) {
    let (n, na) = (model.num_states(), model.num_actions());
    let v: Vec<f64> = (0..n)
        .map(|s| if model.is_terminal(s) { 0.0 } else { q.max(s) })
        .collect();
    let mut new = QTable::filled(n, na, 0.0);
    let mut delta = 0.0f64;
    for s in 0..n {
        if model.is_terminal(s) {
            continue;
        }
        for a in 0..na {
            let x = q_backup(model, &v, gamma, s, a);
            delta = delta.max((x - q.get(s, a)).abs());
            new.set(s, a, x);
        }
    }
    (new, delta)
}

/// Q-value iteration from `Q = 0`: sweeps until `‖ΔQ‖∞ < tol` or `max_sweeps`.
pub fn q_value_iteration<M: TabularModel + ?Sized>(
    model: &M,
    gamma: f64,
    tol: f64,
    max_sweeps: usize,
) -> Result<QValueIteration> {
    validate_model(model)?;
    check_gamma(gamma)?;
    let mut q = QTable::filled(model.num_states(), model.num_actions(), 0.0);
    let mut delta = f64::INFINITY;
    let mut sweeps = 0;
    while sweeps < max_sweeps {
        let (nq, d) = q_value_iteration_sweep(model, gamma, &q);
        q = nq;
        delta = d;
        sweeps += 1;
        if !delta.is_finite() {
            return Err(RlError::Numerical(format!(
                "Q-value iteration diverged after {sweeps} sweeps"
            )));
        }
        if delta < tol {
            break;
        }
    }
    Ok(QValueIteration {
        q,
        sweeps,
        delta,
        converged: delta < tol,
    })
}
