//! PPO with the clipped surrogate objective (Schulman et al., 2017).
//!
//! After every rollout, `n_epochs` passes over it in shuffled minibatches, each a gradient
//! step on `L = −mean(min(ρA, clip(ρ, 1 − ε, 1 + ε)A)) + c_v L_V − c_H H` with the ratio
//! `ρ = π(a|s)/π_old(a|s)` and GAE(λ) advantages, normalised per minibatch. The clip removes
//! the incentive to move `ρ` beyond `1 ± ε` in the direction the advantage favours, so many
//! steps on one rollout cannot push the policy far from the one that collected it. `L_V` is
//! `mean((V − R)²)`, or with value clipping `mean(max((V − R)², (V_old + clip(V − V_old, ±ε_V)
//! − R)²))` (OpenAI Baselines' PPO2). The step size and `ε` decay linearly when asked; with a
//! target KL, the update stops as soon as a minibatch's approximate KL
//! `mean((ρ − 1) − log ρ)` passes 1.5 × the target (Stable-Baselines3's rule), before its step.

use autodidact_core::{Float, Var};
use rand::seq::SliceRandom;

use super::agent::{PgAgent, UpdateLog};
use super::objective::{column, evaluate_actions, gradient_step, obs_batch};
use super::rollout::normalize;
use crate::errors::Result;

/// The clipped surrogate `−mean(min(ρA, clip(ρ, 1 − ε, 1 + ε)A))`, `ρ = exp(log π − log π_old)`.
pub fn clipped_surrogate<T: Float>(
    log_prob: Var<T>,
    old_log_prob: &[f64],
    advantages: &[f64],
    clip: f64,
) -> Var<T> {
    let ratio = (log_prob - column::<T>(old_log_prob)).exp();
    let adv = column::<T>(advantages);
    let unclipped = ratio * adv;
    let clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * adv;
    // min(a, b), choosing by value: the gradient flows through the smaller term only.
    let (u, c) = (unclipped.value(), clipped.value());
    let mask =
        ndarray::Zip::from(&u)
            .and(&c)
            .map_collect(|&u, &c| if u <= c { T::one() } else { T::zero() });
    -Var::where_mask(mask, unclipped, clipped).mean()
}

/// The value loss `mean((V − R)²)`, or with `clip > 0` PPO2's clipped form
/// `mean(max((V − R)², (V_old + clip(V − V_old, ±clip) − R)²))`.
pub fn value_loss<T: Float>(
    value: Var<T>,
    old_values: &[f64],
    returns: &[f64],
    clip: f64,
) -> Var<T> {
    let r = column::<T>(returns);
    let plain = (value - r).square();
    if clip <= 0.0 {
        return plain.mean();
    }
    let old = column::<T>(old_values);
    let clipped = ((value - old).clamp(-clip, clip) + old - r).square();
    let (a, b) = (plain.value(), clipped.value());
    let mask =
        ndarray::Zip::from(&a)
            .and(&b)
            .map_collect(|&a, &b| if a >= b { T::one() } else { T::zero() });
    Var::where_mask(mask, plain, clipped).mean()
}

/// One PPO update: epochs of minibatches over the rollout.
pub(crate) fn update(agent: &mut PgAgent, adv: Vec<f64>, returns: Vec<f64>) -> Result<UpdateLog> {
    let lr = agent.learning_rate();
    let clip = agent.clip_range();
    let rows = agent.rollout.len();
    let mut order: Vec<usize> = (0..rows).collect();
    let mut log = UpdateLog::default();
    'epochs: for _ in 0..agent.p.n_epochs {
        order.shuffle(&mut agent.rng_minibatch);
        for idx in order.chunks(agent.p.batch_size) {
            let mut mb_adv: Vec<f64> = idx.iter().map(|&r| adv[r]).collect();
            // One row has no spread to normalise by (Stable-Baselines3 skips it too).
            if agent.p.normalize_advantage && idx.len() > 1 {
                normalize(&mut mb_adv);
            }
            let mb_ret: Vec<f64> = idx.iter().map(|&r| returns[r]).collect();
            let (p, net, ro) = (&agent.p, &agent.net, &agent.rollout);
            let old_lp: Vec<f64> = idx.iter().map(|&r| ro.log_probs[r]).collect();
            let old_v: Vec<f64> = idx.iter().map(|&r| f64::from(ro.values[r])).collect();
            let actions: Vec<f32> = idx
                .iter()
                .flat_map(|&r| ro.actions[r * ro.act_dim..(r + 1) * ro.act_dim].iter())
                .copied()
                .collect();
            let mut stop = false;
            let mut mb = UpdateLog::default();
            let step = gradient_step(
                &mut agent.params,
                &mut agent.opt,
                lr,
                p.max_grad_norm,
                |vars| {
                    let x = obs_batch::<f32>(&ro.obs, ro.obs_dim, Some(idx))?;
                    let t = evaluate_actions(net, vars, x, &actions)?;
                    let (kl, clipped) = t.log_prob.with_value(|lp| {
                        let mut kl = 0.0;
                        let mut clipped = 0usize;
                        for (&l, &o) in lp.iter().zip(&old_lp) {
                            let log_ratio = f64::from(l) - o;
                            kl += log_ratio.exp_m1() - log_ratio;
                            clipped += usize::from((log_ratio.exp() - 1.0).abs() > clip);
                        }
                        let n = old_lp.len().max(1) as f64;
                        (kl / n, clipped as f64 / n)
                    });
                    mb.approx_kl = kl;
                    mb.clip_fraction = clipped;
                    stop = p.target_kl > 0.0 && kl > 1.5 * p.target_kl;
                    let pl = clipped_surrogate(t.log_prob, &old_lp, &mb_adv, clip);
                    let vl = value_loss(t.value, &old_v, &mb_ret, p.clip_range_vf);
                    let loss = pl + vl * p.vf_coef - t.entropy * p.ent_coef;
                    mb.policy_loss = pl.item();
                    mb.value_loss = vl.item();
                    mb.entropy = t.entropy.item();
                    mb.loss = loss.item();
                    Ok((loss, !stop))
                },
            )?;
            mb.grad_norm = step.grad_norm;
            if stop {
                log.early_stops += 1;
                log.approx_kl += mb.approx_kl;
                log.n_kl += 1;
                break 'epochs;
            }
            log.add(&mb);
        }
    }
    Ok(log)
}
