//! A2C: synchronous advantage actor-critic (Mnih et al., 2016, with the copies stepped in
//! lockstep instead of asynchronous workers).
//!
//! After every rollout of `n_steps` steps of each copy, one gradient step on
//! `−mean(A · log π(a|s)) + c_v mean((V(s) − R)²) − c_H H(π)` over the whole rollout, where
//! `A` is GAE(λ) (λ = 1: the n-step return to the end of the rollout, bootstrapped from
//! `V`, minus `V`) and `R = A + V` the value target; the gradient norm is clipped and the
//! step is RMSprop's by default (Stable-Baselines3's A2C).

use autodidact_core::{Float, Var};

use super::agent::{PgAgent, UpdateLog};
use super::objective::{column, evaluate_actions, gradient_step, obs_batch};
use super::rollout::normalize;
use crate::errors::Result;

/// The A2C loss: `−mean(A · log π) + c_v mean((V − R)²) − c_H H`; returns it with its
/// policy and value parts.
pub fn a2c_loss<T: Float>(
    log_prob: Var<T>,
    value: Var<T>,
    entropy: Var<T>,
    advantages: &[f64],
    returns: &[f64],
    vf_coef: f64,
    ent_coef: f64,
) -> (Var<T>, Var<T>, Var<T>) {
    let policy = -(column::<T>(advantages) * log_prob).mean();
    let value_loss = (value - column::<T>(returns)).square().mean();
    let loss = policy + value_loss * vf_coef - entropy * ent_coef;
    (loss, policy, value_loss)
}

/// One A2C update on the rollout with its advantages and returns.
pub(crate) fn update(
    agent: &mut PgAgent,
    mut adv: Vec<f64>,
    returns: Vec<f64>,
) -> Result<UpdateLog> {
    if agent.p.normalize_advantage {
        normalize(&mut adv);
    }
    let lr = agent.learning_rate();
    let (p, net, ro) = (&agent.p, &agent.net, &agent.rollout);
    let mut log = UpdateLog::default();
    let report = gradient_step(
        &mut agent.params,
        &mut agent.opt,
        lr,
        p.max_grad_norm,
        |vars| {
            let x = obs_batch::<f32>(&ro.obs, ro.obs_dim, None)?;
            let t = evaluate_actions(net, vars, x, &ro.actions)?;
            let (loss, pl, vl) = a2c_loss(
                t.log_prob, t.value, t.entropy, &adv, &returns, p.vf_coef, p.ent_coef,
            );
            log.loss = loss.item();
            log.policy_loss = pl.item();
            log.value_loss = vl.item();
            log.entropy = t.entropy.item();
            Ok((loss, true))
        },
    )?;
    log.grad_norm = report.grad_norm;
    log.n = 1;
    Ok(log)
}
