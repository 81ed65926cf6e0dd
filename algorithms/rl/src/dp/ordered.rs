//! Exact solves at scale: in-place (Gauss–Seidel) sweeps over the model's sparse transition
//! lists, in an order that walks the transitions backwards from where episodes end.
//!
//! A synchronous sweep moves information one transition per sweep, so a goal 2,000 steps
//! away needs thousands of sweeps of a million states. Updating in place, in order of
//! distance to the end of an episode, carries it along a whole shortest path in one sweep;
//! what remains is the geometric convergence caused by slipping. Each sweep is linear in
//! the number of transitions.

use std::collections::VecDeque;

use autodidact_core::TabularModel;

use super::bellman::{expectation_backup, greedy_policy, optimality_backup};
use super::policy_evaluation::Evaluation;
use super::value_iteration::ValueIteration;
use super::{check_gamma, validate_model, Policy};
use crate::errors::{Result, RlError};

/// Called after each sweep with the sweep count and `‖ΔV‖∞`; returning `false` stops.
pub type SweepCallback<'a> = &'a mut dyn FnMut(usize, f64) -> bool;

/// The states in breadth-first order of distance (in transitions) to the best end of an
/// episode: first the states with an ending transition (`done`, or into a terminal state)
/// of the largest such reward (the goal), then their predecessors, and so on; then, the same
/// from every other ending (lava, holes); states that cannot end an episode come last, by
/// index.
///
/// Seeding from every ending at once would put the states next to a hazard first and break
/// the goal's shortest paths into pieces, one more sweep each.
pub fn backward_order<M: TabularModel + ?Sized>(model: &M) -> Vec<usize> {
    let (n, na) = (model.num_states(), model.num_actions());
    // Predecessor lists in compressed form: count, prefix-sum, fill.
    let mut start = vec![0usize; n + 1];
    // Each state's best ending reward, if it has an ending transition.
    let mut best_end: Vec<Option<f64>> = vec![None; n];
    for s in 0..n {
        if model.is_terminal(s) {
            continue;
        }
        for a in 0..na {
            for t in model.transitions(s, a) {
                if t.prob <= 0.0 {
                    continue;
                }
                if t.done || model.is_terminal(t.next) {
                    best_end[s] = Some(best_end[s].map_or(t.reward, |b: f64| b.max(t.reward)));
                } else if t.next != s {
                    start[t.next + 1] += 1;
                }
            }
        }
    }
    let top = best_end
        .iter()
        .flatten()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let goals: Vec<usize> = (0..n).filter(|&s| best_end[s] == Some(top)).collect();
    let others: Vec<usize> = (0..n)
        .filter(|&s| best_end[s].is_some_and(|r| r != top))
        .collect();
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut preds = vec![0usize; start[n]];
    for s in 0..n {
        if model.is_terminal(s) {
            continue;
        }
        for a in 0..na {
            for t in model.transitions(s, a) {
                if t.prob > 0.0 && !t.done && !model.is_terminal(t.next) && t.next != s {
                    preds[fill[t.next]] = s;
                    fill[t.next] += 1;
                }
            }
        }
    }
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut queue: VecDeque<usize> = VecDeque::new();
    for seeds in [goals, others] {
        for s in seeds {
            if !seen[s] {
                seen[s] = true;
                queue.push_back(s);
            }
        }
        while let Some(s) = queue.pop_front() {
            order.push(s);
            for &p in &preds[start[s]..start[s + 1]] {
                if !seen[p] {
                    seen[p] = true;
                    queue.push_back(p);
                }
            }
        }
    }
    order.extend((0..n).filter(|&s| !seen[s]));
    order
}

/// Whether `delta`, the last sweep's change, bounds the error below `tol`: in-place sweeps
/// are a γ-contraction with the same fixed point, so `‖V − V*‖∞ ≤ γ/(1−γ)·delta`; with
/// γ = 1 there is no such bound and `delta < tol` is used.
fn within(delta: f64, gamma: f64, tol: f64) -> bool {
    if gamma < 1.0 {
        delta * gamma / (1.0 - gamma) < tol
    } else {
        delta < tol
    }
}

/// Sweeps `backup` in place along `order`, alternately forwards and backwards (the backward
/// pass carries values along paths that move away from the end first), until
/// [`within`] the tolerance, `max_sweeps`, or the callback says stop.
fn sweep_in_place(
    n: usize,
    order: &[usize],
    gamma: f64,
    tol: f64,
    max_sweeps: usize,
    on_sweep: SweepCallback<'_>,
    backup: &dyn Fn(&[f64], usize) -> f64,
) -> Result<(Vec<f64>, usize, f64)> {
    let mut v = vec![0.0; n];
    let (mut sweeps, mut delta) = (0, f64::INFINITY);
    while sweeps < max_sweeps {
        let mut d = 0.0f64;
        let mut step = |s: usize, v: &mut Vec<f64>| {
            let new = backup(v, s);
            d = d.max((new - v[s]).abs());
            v[s] = new;
        };
        if sweeps % 2 == 0 {
            order.iter().for_each(|&s| step(s, &mut v));
        } else {
            order.iter().rev().for_each(|&s| step(s, &mut v));
        }
        delta = d;
        sweeps += 1;
        if !delta.is_finite() {
            return Err(RlError::Numerical(format!(
                "in-place sweeps diverged after {sweeps} sweeps"
            )));
        }
        if within(delta, gamma, tol) || !on_sweep(sweeps, delta) {
            break;
        }
    }
    Ok((v, sweeps, delta))
}

/// Value iteration by in-place sweeps in [`backward_order`], until the value error bound
/// `γ/(1−γ)·‖ΔV‖∞` is below `tol` (`‖ΔV‖∞ < tol` when γ = 1), `max_sweeps`, or `on_sweep`
/// returns `false`. `delta` of the result is the last sweep's change.
pub fn value_iteration_ordered<M: TabularModel + ?Sized>(
    model: &M,
    gamma: f64,
    tol: f64,
    max_sweeps: usize,
    on_sweep: SweepCallback<'_>,
) -> Result<ValueIteration> {
    validate_model(model)?;
    check_gamma(gamma)?;
    let order = backward_order(model);
    let backup = |v: &[f64], s: usize| optimality_backup(model, v, gamma, s);
    let (v, sweeps, delta) = sweep_in_place(
        model.num_states(),
        &order,
        gamma,
        tol,
        max_sweeps,
        on_sweep,
        &backup,
    )?;
    let policy = greedy_policy(model, &v, gamma);
    Ok(ValueIteration {
        v,
        policy,
        sweeps,
        delta,
        converged: within(delta, gamma, tol),
    })
}

/// Policy evaluation by in-place sweeps in [`backward_order`], with the stopping rule of
/// [`value_iteration_ordered`].
pub fn policy_evaluation_ordered<M: TabularModel + ?Sized>(
    model: &M,
    policy: &Policy,
    gamma: f64,
    tol: f64,
    max_sweeps: usize,
    on_sweep: SweepCallback<'_>,
) -> Result<Evaluation> {
    validate_model(model)?;
    check_gamma(gamma)?;
    policy.check_fits(model)?;
    let order = backward_order(model);
    let backup = |v: &[f64], s: usize| expectation_backup(model, policy, v, gamma, s);
    let (v, sweeps, delta) = sweep_in_place(
        model.num_states(),
        &order,
        gamma,
        tol,
        max_sweeps,
        on_sweep,
        &backup,
    )?;
    Ok(Evaluation {
        v,
        sweeps,
        delta,
        converged: within(delta, gamma, tol),
    })
}
