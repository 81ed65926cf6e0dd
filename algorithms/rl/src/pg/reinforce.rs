//! REINFORCE (Williams, 1992) with reward-to-go and a learned state-value baseline.
//!
//! After each batch of finished episodes, every step `t` of every episode contributes
//! `(G_t − b(s_t)) ∇ log π(a_t|s_t)` with `G_t = Σ_{k≥t} γ^{k−t} r_k` (only rewards after the
//! action: the earlier ones are independent of it and only add variance) and `b(s) = V(s)`,
//! regressed on `G` at the same time. Any baseline that depends on the state alone leaves the
//! expectation unchanged (`E_a[∇ log π(a|s)] = 0`), so the estimator stays unbiased and the
//! baseline only cuts its variance; `tests/policy_gradient_exact.rs` checks both facts against
//! the exact gradient of a tabular MDP. Optionally `G` is normalised over the batch.

use autodidact_core::{Float, Var};

use super::agent::{PgAgent, UpdateLog};
use super::objective::{column, evaluate_actions, gradient_step, obs_batch};
use super::rollout::{normalize, reward_to_go, Rollout};
use crate::errors::Result;

/// The REINFORCE loss of a batch: `−mean(A · log π) + c_v mean((V − G)²) − c_H H`, with
/// `A = G − V` (the baseline held constant) or `A = G` without a baseline.
pub fn reinforce_loss<T: Float>(
    log_prob: Var<T>,
    value: Var<T>,
    entropy: Var<T>,
    returns: &[f64],
    baseline: bool,
    vf_coef: f64,
    ent_coef: f64,
) -> Var<T> {
    let g = column::<T>(returns);
    let adv = if baseline {
        g - Var::constant(value.value())
    } else {
        g
    };
    let policy = -(adv * log_prob).mean();
    let value_loss = (value - g).square().mean();
    policy + value_loss * vf_coef - entropy * ent_coef
}

/// The reward-to-go of every step of the episodes, concatenated in order.
pub fn episode_returns(episodes: &[Rollout], gamma: f64) -> Vec<f64> {
    episodes
        .iter()
        .flat_map(|e| reward_to_go(&e.rewards, gamma))
        .collect()
}

/// One REINFORCE update on the agent's finished episodes.
pub(crate) fn update(agent: &mut PgAgent) -> Result<UpdateLog> {
    let episodes = std::mem::take(&mut agent.finished);
    let mut returns = episode_returns(&episodes, agent.p.gamma);
    if agent.p.normalize_returns {
        normalize(&mut returns);
    }
    let obs: Vec<f32> = episodes
        .iter()
        .flat_map(|e| e.obs.iter().copied())
        .collect();
    let actions: Vec<f32> = episodes
        .iter()
        .flat_map(|e| e.actions.iter().copied())
        .collect();
    let lr = agent.learning_rate();
    let (p, net) = (&agent.p, &agent.net);
    let mut log = UpdateLog::default();
    let report = gradient_step(
        &mut agent.params,
        &mut agent.opt,
        lr,
        p.max_grad_norm,
        |vars| {
            let x = obs_batch::<f32>(&obs, net.obs_dim, None)?;
            let t = evaluate_actions(net, vars, x, &actions)?;
            log.entropy = t.entropy.item();
            let loss = reinforce_loss(
                t.log_prob, t.value, t.entropy, &returns, p.baseline, p.vf_coef, p.ent_coef,
            );
            log.loss = loss.item();
            Ok((loss, true))
        },
    )?;
    log.grad_norm = report.grad_norm;
    log.n = 1;
    Ok(log)
}
