//! PPO over whole trials: the clipped surrogate and value loss of PPO (the policy-gradient
//! family's, [`crate::pg::ppo`]), with minibatches of trials instead of steps, each trial's
//! GRU unrolled from a zero state over all its steps so gradients flow back through the whole
//! trial (full backpropagation through time, no truncation).

use autodidact_core::Var;
use ndarray::{Array2, ArrayD, IxDyn};
use rand::seq::SliceRandom;

use super::agent::{Rl2Agent, Rl2Log};
use super::trials::Trial;
use crate::errors::{Result, RlError};
use crate::pg::distribution::{categorical_entropy, categorical_log_prob};
use crate::pg::objective::gradient_step;
use crate::pg::ppo::{clipped_surrogate, value_loss};
use crate::pg::rollout::{gae, normalize};

/// GAE(λ) advantages and returns of one trial, the trial treated as one episode (its end is
/// terminal; an episode boundary inside it is not, since the trial's return is the objective).
pub(crate) fn advantages(trial: &Trial, gamma: f64, lambda: f64) -> (Vec<f64>, Vec<f64>) {
    let n = trial.len();
    let dones: Vec<bool> = (0..n).map(|t| t + 1 == n).collect();
    gae(
        &trial.rewards,
        &trial.values,
        &dones,
        &[0.0],
        1,
        gamma,
        lambda,
    )
}

/// A minibatch of trials laid out time-major with padding.
struct Batch {
    x: Array2<f32>,
    steps: usize,
    trials: usize,
    /// Rows `t·B + b` with `t` inside trial `b`.
    valid: Vec<usize>,
    actions: Vec<usize>,
    old_log_probs: Vec<f64>,
    old_values: Vec<f64>,
    advantages: Vec<f64>,
    returns: Vec<f64>,
}

fn batch(
    trials: &[Trial],
    adv: &[Vec<f64>],
    ret: &[Vec<f64>],
    idx: &[usize],
    in_dim: usize,
) -> Batch {
    let b = idx.len();
    let steps = idx.iter().map(|&i| trials[i].len()).max().unwrap_or(0);
    let mut x = Array2::<f32>::zeros((steps * b, in_dim));
    let mut out = Batch {
        x: Array2::zeros((0, 0)),
        steps,
        trials: b,
        valid: Vec::new(),
        actions: Vec::new(),
        old_log_probs: Vec::new(),
        old_values: Vec::new(),
        advantages: Vec::new(),
        returns: Vec::new(),
    };
    for t in 0..steps {
        for (j, &i) in idx.iter().enumerate() {
            let tr = &trials[i];
            if t >= tr.len() {
                continue;
            }
            let row = t * b + j;
            x.row_mut(row)
                .iter_mut()
                .zip(&tr.inputs[t * in_dim..(t + 1) * in_dim])
                .for_each(|(d, &s)| *d = s);
            out.valid.push(row);
            out.actions.push(tr.actions[t]);
            out.old_log_probs.push(tr.log_probs[t]);
            out.old_values.push(f64::from(tr.values[t]));
            out.advantages.push(adv[i][t]);
            out.returns.push(ret[i][t]);
        }
    }
    out.x = x;
    out
}

/// One PPO update on an iteration's trials.
pub(crate) fn update(agent: &mut Rl2Agent, trials: &[Trial]) -> Result<Rl2Log> {
    let (gamma, lambda) = (agent.p.gamma, agent.p.gae_lambda);
    let (adv, ret): (Vec<Vec<f64>>, Vec<Vec<f64>>) =
        trials.iter().map(|t| advantages(t, gamma, lambda)).unzip();
    let lr = agent.learning_rate();
    let clip = agent.p.clip_range;
    let mut order: Vec<usize> = (0..trials.len()).collect();
    let mut log = Rl2Log::default();
    let in_dim = agent.net.input_dim();
    let h_dim = agent.net.hidden();
    'epochs: for _ in 0..agent.p.n_epochs {
        order.shuffle(&mut agent.rng_minibatch);
        for idx in order.chunks(agent.p.minibatch_trials) {
            let mut mb = batch(trials, &adv, &ret, idx, in_dim);
            if agent.p.normalize_advantage && mb.advantages.len() > 1 {
                normalize(&mut mb.advantages);
            }
            let (p, net) = (&agent.p, &agent.net);
            let mut stop = false;
            let mut step_log = Rl2Log::default();
            let x = std::mem::replace(&mut mb.x, Array2::zeros((0, 0)));
            let report = gradient_step(
                &mut agent.params,
                &mut agent.opt,
                lr,
                p.max_grad_norm,
                |vars| {
                    let h0 = Var::constant(ArrayD::zeros(IxDyn(&[mb.trials, h_dim])));
                    let (logits, values) =
                        net.forward(vars, Var::constant(x.into_dyn()), h0, mb.steps, mb.trials);
                    let logits = logits.index_select(&mb.valid);
                    let values = values.index_select(&mb.valid);
                    let lp = categorical_log_prob(logits, &mb.actions);
                    let entropy = categorical_entropy(logits).mean();
                    let kl = lp.with_value(|l| {
                        let n = mb.old_log_probs.len().max(1) as f64;
                        let mut kl = 0.0;
                        let mut clipped = 0usize;
                        for (&l, &o) in l.iter().zip(&mb.old_log_probs) {
                            let r = f64::from(l) - o;
                            kl += r.exp_m1() - r;
                            clipped += usize::from((r.exp() - 1.0).abs() > clip);
                        }
                        step_log.clip_fraction = clipped as f64 / n;
                        kl / n
                    });
                    step_log.approx_kl = kl;
                    stop = p.target_kl > 0.0 && kl > 1.5 * p.target_kl;
                    let pl = clipped_surrogate(lp, &mb.old_log_probs, &mb.advantages, clip);
                    let vl = value_loss(values, &mb.old_values, &mb.returns, 0.0);
                    let loss = pl + vl * p.vf_coef - entropy * p.ent_coef;
                    step_log.policy_loss = pl.item();
                    step_log.value_loss = vl.item();
                    step_log.entropy = entropy.item();
                    step_log.loss = loss.item();
                    Ok((loss, !stop))
                },
            )?;
            if stop {
                log.early_stops += 1;
                break 'epochs;
            }
            step_log.grad_norm = report.grad_norm;
            step_log.steps = 1;
            log.add(&step_log);
        }
    }
    if !log.loss.is_finite() {
        return Err(RlError::Numerical(format!("the RL² loss is {}", log.loss)));
    }
    Ok(log)
}
