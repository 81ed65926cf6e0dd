//! The policy-gradient agent: its state, acting in the copies of the environment, storing
//! what they give, and calling its method's update when a rollout (or a batch of episodes) is
//! complete.

use std::collections::VecDeque;
use std::sync::Arc;

use autodidact_core::config::Checked;
use autodidact_core::parallel::{self, ThreadPool};
use autodidact_core::{Action, Environment, Metrics, Params, Rng, Seed, Space, VecEnv};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::distribution::{categorical_log_prob_one, sample_categorical, sample_gaussian};
use super::hyperparams::{Method, PgParams, Squash};
use super::network::{ActionKind, ActorCritic};
use super::rollout::{gae, Rollout};
use super::{a2c, ppo, reinforce};
use crate::dqn::optimizer::DqnOptimizer;
use crate::episodes::STATS_WINDOW;
use crate::errors::{Result, RlError};
use crate::evaluate::OptimalCache;

/// Sums over the updates since the last log line.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct UpdateLog {
    pub(crate) loss: f64,
    pub(crate) policy_loss: f64,
    pub(crate) value_loss: f64,
    pub(crate) entropy: f64,
    pub(crate) grad_norm: f64,
    pub(crate) approx_kl: f64,
    pub(crate) clip_fraction: f64,
    /// Gradient steps summed.
    pub(crate) n: u64,
    /// Minibatches whose KL was measured.
    pub(crate) n_kl: u64,
    pub(crate) early_stops: u64,
    pub(crate) explained_variance: f64,
    pub(crate) n_ev: u64,
}

impl UpdateLog {
    /// Adds one gradient step's (or one update's) sums.
    pub(crate) fn add(&mut self, o: &UpdateLog) {
        self.loss += o.loss;
        self.policy_loss += o.policy_loss;
        self.value_loss += o.value_loss;
        self.entropy += o.entropy;
        self.grad_norm += o.grad_norm;
        self.approx_kl += o.approx_kl;
        self.clip_fraction += o.clip_fraction;
        self.n += o.n.max(1);
        self.n_kl += o.n_kl.max(1);
        self.early_stops += o.early_stops;
        self.explained_variance += o.explained_variance;
        self.n_ev += o.n_ev;
    }

    /// Adds a whole update's sums (already counted in `n`).
    fn merge(&mut self, o: &UpdateLog) {
        self.loss += o.loss;
        self.policy_loss += o.policy_loss;
        self.value_loss += o.value_loss;
        self.entropy += o.entropy;
        self.grad_norm += o.grad_norm;
        self.approx_kl += o.approx_kl;
        self.clip_fraction += o.clip_fraction;
        self.n += o.n;
        self.n_kl += o.n_kl;
        self.early_stops += o.early_stops;
        self.explained_variance += o.explained_variance;
        self.n_ev += o.n_ev;
    }
}

/// Returns and lengths of recent training episodes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Recent {
    pub(crate) returns: VecDeque<f64>,
    pub(crate) lengths: VecDeque<u64>,
    pub(crate) episodes: u64,
}

/// A policy-gradient agent (`reinforce`, `a2c` or `ppo`) bound to its environment.
pub struct PgAgent {
    pub(crate) method: Method,
    pub(crate) p: PgParams,
    pub(crate) env_name: String,
    pub(crate) net: ActorCritic,
    pub(crate) params: Params<f32>,
    pub(crate) opt: DqnOptimizer,
    pub(crate) envs: VecEnv,
    /// a2c, ppo: the rollout being collected.
    pub(crate) rollout: Rollout,
    /// reinforce: each copy's current episode so far.
    pub(crate) current: Vec<Rollout>,
    /// reinforce: the copy's episode began under an older policy (its steps are not used).
    pub(crate) stale: Vec<bool>,
    /// reinforce: finished episodes awaiting the next update.
    pub(crate) finished: Vec<Rollout>,
    pub(crate) rng_act: Rng,
    pub(crate) rng_minibatch: Rng,
    pub(crate) steps_done: u64,
    pub(crate) updates: u64,
    pub(crate) log: UpdateLog,
    pub(crate) recent: Recent,
    pub(crate) eval_env: Box<dyn Environment>,
    pub(crate) eval_seed: Seed,
    pub(crate) optimal: OptimalCache,
    /// Workers for the updates and the evaluation episodes (`threads` > 1).
    pub(crate) pool: Option<Arc<ThreadPool>>,
}

impl PgAgent {
    /// An agent of `method` on `env` (named `env_name` in messages); every generator derives
    /// from `seed` (`init`, `envs`, `act`, `minibatch`, `eval`).
    pub fn new(
        method: Method,
        params: Checked<PgParams>,
        env: Box<dyn Environment>,
        env_name: &str,
        seed: Seed,
    ) -> Result<PgAgent> {
        let p = params.into_inner();
        let name = method.name();
        let incompatible = |reason: String| RlError::Incompatible {
            algorithm: name.into(),
            env: env_name.into(),
            reason,
        };
        let action = match env.action_space() {
            Space::Discrete(n) if n > 0 => ActionKind::Discrete(n),
            Space::Box { low, high, .. } if !low.is_empty() && low.len() == high.len() => {
                if p.squash == Squash::Tanh && low.iter().chain(&high).any(|b| !b.is_finite()) {
                    return Err(incompatible(
                        "`squash = \"tanh\"` needs finite action bounds; use `clip`".into(),
                    ));
                }
                ActionKind::Continuous { low, high }
            }
            other => {
                return Err(incompatible(format!(
                    "it needs a discrete space or a box with bounds per element, the action \
                     space is {other:?}"
                )))
            }
        };
        if method == Method::Ppo && p.batch_size > p.n_steps.saturating_mul(p.n_envs) {
            return Err(RlError::Config {
                key: "batch_size".into(),
                reason: format!(
                    "a minibatch of {} is larger than a rollout of n_steps · n_envs = {}",
                    p.batch_size,
                    p.n_steps.saturating_mul(p.n_envs)
                ),
            });
        }
        let obs_dim = env.observation_space().flat_dim();
        let act_dim = match &action {
            ActionKind::Discrete(_) => 1,
            ActionKind::Continuous { low, .. } => low.len(),
        };
        // The rollout's observations dominate memory: refuse before allocating.
        let rollout_bytes =
            (p.n_steps as f64) * (p.n_envs as f64) * (obs_dim + act_dim + 6) as f64 * 4.0;
        autodidact_core::memory::check_fits("n_steps", "the rollout buffer", rollout_bytes)?;
        let mut params = Params::new();
        let net = ActorCritic::new(
            &mut params,
            obs_dim,
            action,
            &p.hidden,
            p.activation,
            p.shared_network,
            p.init,
            p.log_std_init,
            &mut seed.rng("init"),
        );
        let envs = VecEnv::new(env.as_ref(), p.n_envs, seed.derive("envs"))?;
        let pool = parallel::pool_for(p.threads)?.map(Arc::new);
        Ok(PgAgent {
            method,
            opt: DqnOptimizer::new(p.optimizer, p.learning_rate, p.optimizer_eps),
            rollout: Rollout::new(p.n_envs, obs_dim, act_dim),
            current: vec![Rollout::new(1, obs_dim, act_dim); p.n_envs],
            stale: vec![false; p.n_envs],
            finished: Vec::new(),
            rng_act: seed.rng("act"),
            rng_minibatch: seed.rng("minibatch"),
            steps_done: 0,
            updates: 0,
            log: UpdateLog::default(),
            recent: Recent::default(),
            eval_env: env,
            eval_seed: seed.derive("eval"),
            optimal: OptimalCache::default(),
            env_name: env_name.into(),
            pool,
            envs,
            net,
            params,
            p,
        })
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }
    /// The hyperparameters.
    pub fn params(&self) -> &PgParams {
        &self.p
    }
    /// The network's layout.
    pub fn network(&self) -> &ActorCritic {
        &self.net
    }
    /// The network's parameters.
    pub fn parameters(&self) -> &Params<f32> {
        &self.params
    }
    /// Updates done.
    pub fn updates(&self) -> u64 {
        self.updates
    }
    /// Environment steps done.
    pub fn steps(&self) -> u64 {
        self.steps_done
    }
    /// The step size now.
    pub fn learning_rate(&self) -> f64 {
        self.p
            .learning_rate_schedule
            .at(self.p.learning_rate, self.progress())
    }
    /// PPO's clip range now.
    pub fn clip_range(&self) -> f64 {
        self.p
            .clip_range_schedule
            .at(self.p.clip_range, self.progress())
    }
    fn progress(&self) -> f64 {
        self.steps_done as f64 / self.p.total_steps.max(1) as f64
    }

    /// The action to send to the environment for a policy output (`u`, or a choice).
    fn to_env_action(&self, u: &[f32]) -> Action {
        env_action(&self.net.action, self.p.squash, u)
    }

    /// The most likely action (discrete) or the mean (continuous) for one observation.
    pub fn deterministic_action(&self, obs: &[f32]) -> Result<Action> {
        greedy_action(&self.net, &self.params, self.p.squash, obs)
    }

    /// Runs `f` (an update) on the worker pool when there is one, so its large products split
    /// their rows across the workers.
    fn on_pool<R: Send>(&mut self, f: impl FnOnce(&mut PgAgent) -> R + Send) -> R {
        let pool = self.pool.clone();
        parallel::install(pool.as_deref(), || f(self))
    }

    /// `V(s)` of each row of `obs`.
    fn values_of(&self, obs: &[f32], rows: usize) -> Result<Vec<f32>> {
        let x = ArrayView2::from_shape((rows, self.net.obs_dim), obs)
            .map_err(|e| RlError::Numerical(format!("observations: {e}")))?;
        Ok(self.net.act_values(&self.params, x)?.1)
    }

    /// One lockstep step of every copy, and the update it completes, if any.
    pub fn env_step(&mut self) -> Result<()> {
        let n = self.envs.num_envs();
        let obs: Vec<f32> = self.envs.obs().iter().flatten().copied().collect();
        let x = ArrayView2::from_shape((n, self.net.obs_dim), &obs).map_err(|e| {
            RlError::Incompatible {
                algorithm: self.method.name().into(),
                env: self.env_name.clone(),
                reason: format!("observations do not have the declared size: {e}"),
            }
        })?;
        let (pi, values) = self.net.act_values(&self.params, x)?;
        let log_std = self.net.log_std_values(&self.params);
        let mut stored: Vec<Vec<f32>> = Vec::with_capacity(n);
        let mut log_probs = Vec::with_capacity(n);
        let mut actions = Vec::with_capacity(n);
        for row in pi.rows() {
            let row = row.to_vec();
            let (u, lp) = match self.net.action {
                ActionKind::Discrete(_) => {
                    let a = sample_categorical(&row, &mut self.rng_act);
                    (vec![a as f32], categorical_log_prob_one(&row, a))
                }
                ActionKind::Continuous { .. } => sample_gaussian(&row, &log_std, &mut self.rng_act),
            };
            actions.push(self.to_env_action(&u));
            stored.push(u);
            log_probs.push(lp);
        }
        let out = self.envs.step(&actions)?;
        self.steps_done += n as u64;
        let mut rewards = out.rewards.clone();
        // A time limit is not the task's end: bootstrap from the state it interrupted.
        let cut: Vec<usize> = (0..n)
            .filter(|&i| out.truncated[i] && !out.terminated[i])
            .collect();
        if !cut.is_empty() {
            let finals: Vec<f32> = cut
                .iter()
                .filter_map(|&i| out.final_obs[i].as_ref())
                .flatten()
                .copied()
                .collect();
            let v = self.values_of(&finals, cut.len())?;
            for (&i, vi) in cut.iter().zip(v) {
                rewards[i] += self.p.gamma * f64::from(vi);
            }
        }
        for end in out.finished.iter().flatten() {
            let r = &mut self.recent;
            r.returns.push_back(end.episode_return);
            r.lengths.push_back(end.length);
            if r.returns.len() > STATS_WINDOW {
                r.returns.pop_front();
                r.lengths.pop_front();
            }
            r.episodes += 1;
        }
        let d = self.net.obs_dim;
        let dones: Vec<bool> = (0..n)
            .map(|i| out.terminated[i] || out.truncated[i])
            .collect();
        match self.method {
            Method::Reinforce => {
                for i in 0..n {
                    if !self.stale[i] {
                        let e = &mut self.current[i];
                        push_row(
                            e,
                            &obs[i * d..(i + 1) * d],
                            &stored[i],
                            rewards[i],
                            dones[i],
                            values[i],
                            log_probs[i],
                        );
                    }
                    if dones[i] {
                        let e = std::mem::replace(
                            &mut self.current[i],
                            Rollout::new(1, d, self.rollout.act_dim),
                        );
                        if !self.stale[i] {
                            self.finished.push(e);
                        }
                        self.stale[i] = false;
                    }
                }
                if self.finished.len() >= self.p.episodes_per_update {
                    let log = self.on_pool(reinforce::update)?;
                    self.after_update(&log);
                    // Steps already taken in unfinished episodes came from the old policy:
                    // Monte-Carlo returns of those episodes would be off-policy.
                    for i in 0..n {
                        if !self.current[i].is_empty() {
                            self.current[i].clear();
                            self.stale[i] = true;
                        }
                    }
                }
            }
            Method::A2c | Method::Ppo => {
                for i in 0..n {
                    push_row(
                        &mut self.rollout,
                        &obs[i * d..(i + 1) * d],
                        &stored[i],
                        rewards[i],
                        dones[i],
                        values[i],
                        log_probs[i],
                    );
                }
                if self.rollout.steps() >= self.p.n_steps {
                    let next: Vec<f32> = self.envs.obs().iter().flatten().copied().collect();
                    let last = self.values_of(&next, n)?;
                    let ro = &self.rollout;
                    let (adv, ret) = gae(
                        &ro.rewards,
                        &ro.values,
                        &ro.dones,
                        &last,
                        n,
                        self.p.gamma,
                        self.p.gae_lambda,
                    );
                    // Undefined when every return is equal; then it is left out of the log.
                    let e = explained_variance(&ro.values, &ret);
                    let mut ev = UpdateLog {
                        explained_variance: if e.is_finite() { e } else { 0.0 },
                        n_ev: u64::from(e.is_finite()),
                        ..UpdateLog::default()
                    };
                    let log = match self.method {
                        Method::A2c => self.on_pool(|a| a2c::update(a, adv, ret))?,
                        _ => self.on_pool(|a| ppo::update(a, adv, ret))?,
                    };
                    ev.merge(&log);
                    self.after_update(&ev);
                    self.rollout.clear();
                }
            }
        }
        Ok(())
    }

    fn after_update(&mut self, log: &UpdateLog) {
        self.updates += 1;
        self.log.merge(log);
    }

    /// The metrics of the log line due now; resets the running sums.
    pub(crate) fn log_metrics(&mut self) -> Metrics {
        let mut m = Metrics::new();
        m.insert("steps".into(), self.steps_done as f64);
        m.insert("updates".into(), self.updates as f64);
        m.insert("learning_rate".into(), self.learning_rate());
        if self.method == Method::Ppo {
            m.insert("clip_range".into(), self.clip_range());
        }
        m.insert("episodes".into(), self.recent.episodes as f64);
        let mean = |xs: &mut dyn Iterator<Item = f64>| {
            let v: Vec<f64> = xs.collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        if let Some(r) = mean(&mut self.recent.returns.iter().copied()) {
            m.insert("episode_return_mean".into(), r);
        }
        if let Some(l) = mean(&mut self.recent.lengths.iter().map(|&l| l as f64)) {
            m.insert("episode_length_mean".into(), l);
        }
        let l = &self.log;
        if l.n > 0 {
            let n = l.n as f64;
            m.insert("loss".into(), l.loss / n);
            m.insert("entropy".into(), l.entropy / n);
            m.insert("grad_norm".into(), l.grad_norm / n);
            if self.method != Method::Reinforce {
                m.insert("policy_loss".into(), l.policy_loss / n);
                m.insert("value_loss".into(), l.value_loss / n);
            }
        }
        if self.method == Method::Ppo && l.n_kl > 0 {
            m.insert("approx_kl".into(), l.approx_kl / l.n_kl as f64);
            m.insert("clip_fraction".into(), l.clip_fraction / l.n.max(1) as f64);
            m.insert("early_stops".into(), l.early_stops as f64);
        }
        if l.n_ev > 0 {
            m.insert(
                "explained_variance".into(),
                l.explained_variance / l.n_ev as f64,
            );
        }
        let log_std = self.net.log_std_values(&self.params);
        if !log_std.is_empty() {
            let s = log_std.iter().map(|&x| f64::from(x).exp()).sum::<f64>();
            m.insert("std".into(), s / log_std.len() as f64);
        }
        self.log = UpdateLog::default();
        m
    }
}

/// The action to send to the environment for a policy output `u` (or a choice).
fn env_action(action: &ActionKind, squash: Squash, u: &[f32]) -> Action {
    match action {
        ActionKind::Discrete(_) => Action::Discrete(u[0] as usize),
        ActionKind::Continuous { low, high } => Action::Continuous(
            u.iter()
                .zip(low.iter().zip(high))
                .map(|(&x, (&l, &h))| match squash {
                    Squash::Clip => x.clamp(l, h),
                    Squash::Tanh => l + (x.tanh() + 1.0) * 0.5 * (h - l),
                })
                .collect(),
        ),
    }
}

/// The most likely action (discrete) or the mean (continuous) of `net` with `params` for one
/// observation: no random draw, so evaluation episodes can run on any thread.
pub(crate) fn greedy_action(
    net: &ActorCritic,
    params: &Params<f32>,
    squash: Squash,
    obs: &[f32],
) -> Result<Action> {
    let x = ArrayView2::from_shape((1, obs.len()), obs)
        .map_err(|e| RlError::Numerical(format!("observation: {e}")))?;
    let (pi, _) = net.act_values(params, x)?;
    let row: Vec<f32> = pi.row(0).to_vec();
    Ok(match net.action {
        ActionKind::Discrete(_) => Action::Discrete(autodidact_core::argmax_slice(&row)),
        ActionKind::Continuous { .. } => env_action(&net.action, squash, &row),
    })
}

fn push_row(
    r: &mut Rollout,
    obs: &[f32],
    action: &[f32],
    reward: f64,
    done: bool,
    value: f32,
    log_prob: f64,
) {
    r.obs.extend_from_slice(obs);
    r.actions.extend_from_slice(action);
    r.rewards.push(reward);
    r.dones.push(done);
    r.values.push(value);
    r.log_probs.push(log_prob);
}

/// `1 − Var(R − V) / Var(R)`: how much of the returns' variance the values explain.
fn explained_variance(values: &[f32], returns: &[f64]) -> f64 {
    let n = returns.len().max(1) as f64;
    let var = |x: &mut dyn Iterator<Item = f64>| {
        let v: Vec<f64> = x.collect();
        let m = v.iter().sum::<f64>() / n;
        v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / n
    };
    let vr = var(&mut returns.iter().copied());
    if vr == 0.0 {
        return f64::NAN;
    }
    1.0 - var(&mut returns.iter().zip(values).map(|(r, &v)| r - f64::from(v))) / vr
}
