//! Bellman backups and residuals, greedy policies and start-state values.

use autodidact_core::TabularModel;

use super::{argmax, Policy, QTable};

/// `Σ_{s'} P(s'|s,a) (r + γ (1 − done) V(s'))`: the one-step lookahead of `(s, a)`.
#[inline]
pub fn q_backup<M: TabularModel + ?Sized>(
    model: &M,
    v: &[f64],
    gamma: f64,
    s: usize,
    a: usize,
) -> f64 {
    model
        .transitions(s, a)
        .iter()
        .map(|t| t.prob * (t.reward + if t.done { 0.0 } else { gamma * v[t.next] }))
        .sum()
}

/// `(T^π V)(s) = Σ_a π(a|s) q_backup(s, a)`; 0 in a terminal state.
#[inline]
pub fn expectation_backup<M: TabularModel + ?Sized>(
    model: &M,
    policy: &Policy,
    v: &[f64],
    gamma: f64,
    s: usize,
) -> f64 {
    if model.is_terminal(s) {
        return 0.0;
    }
    policy
        .probs(s)
        .iter()
        .enumerate()
        .filter(|(_, &p)| p > 0.0)
        .map(|(a, &p)| p * q_backup(model, v, gamma, s, a))
        .sum()
}

/// `(T* V)(s) = max_a q_backup(s, a)`; 0 in a terminal state.
#[inline]
pub fn optimality_backup<M: TabularModel + ?Sized>(
    model: &M,
    v: &[f64],
    gamma: f64,
    s: usize,
) -> f64 {
    if model.is_terminal(s) {
        return 0.0;
    }
    (0..model.num_actions())
        .map(|a| q_backup(model, v, gamma, s, a))
        .fold(f64::NEG_INFINITY, f64::max)
}

/// `Q(s, a) = q_backup(s, a)` for every pair (zeros in terminal states).
pub fn q_from_v<M: TabularModel + ?Sized>(model: &M, v: &[f64], gamma: f64) -> QTable {
    let (n, na) = (model.num_states(), model.num_actions());
    let mut q = QTable::filled(n, na, 0.0);
    for s in 0..n {
        if model.is_terminal(s) {
            continue;
        }
        for a in 0..na {
            q.set(s, a, q_backup(model, v, gamma, s, a));
        }
    }
    q
}

/// The Bellman optimality residual `‖T* V − V‖∞` (a terminal state contributes `|V(s)|`).
pub fn bellman_residual<M: TabularModel + ?Sized>(model: &M, v: &[f64], gamma: f64) -> f64 {
    (0..model.num_states())
        .map(|s| (optimality_backup(model, v, gamma, s) - v[s]).abs())
        .fold(0.0, f64::max)
}

/// The Bellman expectation residual `‖T^π V − V‖∞`.
pub fn bellman_expectation_residual<M: TabularModel + ?Sized>(
    model: &M,
    policy: &Policy,
    v: &[f64],
    gamma: f64,
) -> f64 {
    (0..model.num_states())
        .map(|s| (expectation_backup(model, policy, v, gamma, s) - v[s]).abs())
        .fold(0.0, f64::max)
}

/// The residual of Q's optimality equation,
/// `max_{s,a} |R(s,a) + γ Σ P(s'|s,a) max_a' Q(s',a') − Q(s,a)|` over non-terminal states.
pub fn q_bellman_residual<M: TabularModel + ?Sized>(model: &M, q: &QTable, gamma: f64) -> f64 {
    let v: Vec<f64> = (0..model.num_states())
        .map(|s| if model.is_terminal(s) { 0.0 } else { q.max(s) })
        .collect();
    let mut worst = 0.0f64;
    for s in 0..model.num_states() {
        if model.is_terminal(s) {
            continue;
        }
        for a in 0..model.num_actions() {
            worst = worst.max((q_backup(model, &v, gamma, s, a) - q.get(s, a)).abs());
        }
    }
    worst
}

/// The greedy policy with respect to `V` (first action on ties; action 0 in terminal states).
pub fn greedy_policy<M: TabularModel + ?Sized>(model: &M, v: &[f64], gamma: f64) -> Vec<usize> {
    let na = model.num_actions();
    let mut row = vec![0.0; na];
    (0..model.num_states())
        .map(|s| {
            if model.is_terminal(s) {
                return 0;
            }
            for (a, r) in row.iter_mut().enumerate() {
                *r = q_backup(model, v, gamma, s, a);
            }
            argmax(&row)
        })
        .collect()
}

/// `Σ_s μ₀(s) V(s)`: the value of the start, in expectation over the initial distribution.
pub fn start_value<M: TabularModel + ?Sized>(model: &M, v: &[f64]) -> f64 {
    model
        .initial_distribution()
        .iter()
        .map(|&(s, p)| p * v[s])
        .sum()
}
