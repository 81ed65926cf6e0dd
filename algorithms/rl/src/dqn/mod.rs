//! DQN (Mnih et al., 2015) and its common extensions, on Autodidact's autodiff.
//!
//! Each environment step: act ε-greedily (uniformly at random before `learning_starts`),
//! store the transition (n-step returns when `n_step > 1`; a time-limit truncation is stored
//! as not terminal, with the true final observation to bootstrap from), update the target
//! network every `target_update_interval` environment steps (`θ⁻ ← τθ + (1−τ)θ⁻`, a hard
//! copy with τ = 1), and every `train_freq` steps after `learning_starts` run
//! `gradient_steps` gradient steps on minibatches of the TD loss
//! `L(δ)`, `δ = Q(s,a) − (R + γ^k (1 − done) max_a' Q⁻(s', a'))`, with `L` Huber or squared,
//! clipped gradient norm and Adam. Options: Double DQN (`a'` picked by the online network),
//! dueling head, prioritised replay (proportional; importance weights annealed to
//! `priority_beta_final`). Step counting follows Stable-Baselines3, so its hyperparameters
//! carry over unchanged.
//!
//! Within one training round the target network is fixed (it only changes on environment
//! steps), so with uniform replay and no Double DQN every minibatch of the round is drawn
//! first and all their targets are computed in one batched forward pass (each distinct slot
//! once) — the same numbers as drawing them one by one, in a few large matrix products
//! instead of many small ones.

pub mod hyperparams;
pub mod network;
pub mod optimizer;
pub mod parallel;
pub mod replay;

use std::sync::Arc;

use autodidact_core::{
    Algorithm, Config, EnvInstance, EnvSpec, Environment, Hyperparams, Metrics, Params, Rng, Seed,
    Tensor,
};
use ndarray::Array2;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

pub use hyperparams::DqnParams;
pub use network::QNetwork;
pub use optimizer::{DqnOptimizer, SliceAdam};
pub use parallel::{Shards, TdLoss};
pub use replay::{Batch, NStep, Priorities, ReplayBuffer, SumTree, Transition};

use crate::checkpoint::ParamsBits;
use crate::dp::QTable;
use crate::episodes::{discrete_actions, instantiate_rl, DriverState, EpisodeDriver};
use crate::errors::{Result, RlError};
use crate::evaluate::{run_episodes, spec_state_observations, tabular_metrics, OptimalCache};
use crate::schedule::Schedule;

/// Running sums for the next log line.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct LogAccum {
    loss: f64,
    q: f64,
    grad_norm: f64,
    n: u64,
}

#[derive(Serialize, Deserialize)]
struct DqnCheckpoint {
    network: QNetwork,
    online: ParamsBits,
    target: ParamsBits,
    optimizer: DqnOptimizer,
    buffer: ReplayBuffer,
    priorities: Option<Priorities>,
    nstep: NStep,
    driver: DriverState,
    rng_explore: Rng,
    rng_replay: Rng,
    epsilon: Schedule,
    steps_done: u64,
    grad_steps: u64,
    log: LogAccum,
    state_obs: Vec<Option<Vec<u32>>>,
}

/// A DQN agent bound to its environment.
pub struct Dqn {
    p: DqnParams,
    env_name: String,
    net: Arc<QNetwork>,
    online: Arc<Params<f32>>,
    target: Arc<Params<f32>>,
    shards: Shards,
    opt: DqnOptimizer,
    buffer: ReplayBuffer,
    priorities: Option<Priorities>,
    nstep: NStep,
    driver: EpisodeDriver,
    eval_env: Box<dyn Environment>,
    eval_seed: Seed,
    rng_explore: Rng,
    rng_replay: Rng,
    epsilon: Schedule,
    steps_done: u64,
    grad_steps: u64,
    log: LogAccum,
    state_obs: Vec<Option<Vec<f32>>>,
    optimal: OptimalCache,
}

impl Dqn {
    /// A DQN agent on `env` (named `env_name` in messages); every generator derives from
    /// `seed` (`init`, `exploration`, `replay`, `episodes`, `eval`).
    pub fn new(
        params: DqnParams,
        env: Box<dyn Environment>,
        env_name: &str,
        seed: Seed,
    ) -> Result<Dqn> {
        params.validate()?;
        let n_actions = discrete_actions(env.as_ref(), "dqn", env_name)?;
        let obs_dim = env.observation_space().flat_dim();
        let activation = network::activation_by_name(&params.activation)?;
        let init = network::init_by_name(&params.init)?;
        let mut online = Params::new();
        let net = QNetwork::new(
            &mut online,
            obs_dim,
            &params.hidden,
            n_actions,
            params.dueling,
            activation,
            init,
            &mut seed.rng("init"),
        );
        let online = Arc::new(online);
        let target = Arc::clone(&online);
        let epsilon = Schedule::from_name(
            &params.epsilon_schedule,
            params.exploration_initial_eps,
            params.exploration_final_eps,
            params.exploration_fraction,
        )?;
        let n_states = env.tabular().map_or(0, |m| m.num_states());
        let eval_env = env.clone_box();
        Ok(Dqn {
            opt: DqnOptimizer::by_name(&params.optimizer, params.learning_rate, params.adam_eps),
            buffer: ReplayBuffer::new(params.buffer_size, obs_dim),
            priorities: params.prioritized.then(|| {
                Priorities::new(
                    params.buffer_size,
                    params.priority_alpha,
                    params.priority_eps,
                )
            }),
            nstep: NStep::new(params.n_step, params.gamma),
            driver: EpisodeDriver::new(env, seed.derive("episodes")),
            eval_env,
            eval_seed: seed.derive("eval"),
            rng_explore: seed.rng("exploration"),
            rng_replay: seed.rng("replay"),
            epsilon,
            steps_done: 0,
            grad_steps: 0,
            log: LogAccum::default(),
            state_obs: vec![None; n_states],
            optimal: OptimalCache::default(),
            env_name: env_name.into(),
            shards: Shards::new(params.threads)?,
            net: Arc::new(net),
            online,
            target,
            p: params,
        })
    }

    /// Declares the observation of every state (so `q_error` and `value_gap` cover every
    /// state, not only those seen in training).
    pub fn set_state_observations(&mut self, obs: Vec<Vec<f32>>) {
        if obs.len() == self.state_obs.len() {
            self.state_obs = obs.into_iter().map(Some).collect();
        }
    }

    /// The hyperparameters.
    pub fn params(&self) -> &DqnParams {
        &self.p
    }
    /// The Q-network's layout.
    pub fn network(&self) -> &QNetwork {
        &self.net
    }
    /// The online network's parameters.
    pub fn online_params(&self) -> &Params<f32> {
        &self.online
    }
    /// The target network's parameters.
    pub fn target_params(&self) -> &Params<f32> {
        &self.target
    }
    /// The replay buffer.
    pub fn buffer(&self) -> &ReplayBuffer {
        &self.buffer
    }
    /// Gradient steps done.
    pub fn gradient_steps(&self) -> u64 {
        self.grad_steps
    }
    /// ε now.
    pub fn epsilon(&self) -> f64 {
        self.epsilon.at(self.steps_done, self.p.total_steps)
    }
    /// The step size now.
    pub fn learning_rate(&self) -> f64 {
        if self.p.learning_rate_schedule == "linear" {
            let f = (self.steps_done as f64 / self.p.total_steps as f64).min(1.0);
            self.p.learning_rate + f * (self.p.learning_rate_final - self.p.learning_rate)
        } else {
            self.p.learning_rate
        }
    }

    /// β of prioritised replay now.
    pub fn beta(&self) -> f64 {
        let f = (self.steps_done as f64 / self.p.total_steps as f64).min(1.0);
        self.p.priority_beta0 + f * (self.p.priority_beta_final - self.p.priority_beta0)
    }

    /// The online network's Q-values of one observation.
    pub fn q_values(&self, obs: &[f32]) -> Result<Vec<f32>> {
        self.net.q_values_one(&self.online, obs)
    }

    /// The greedy action (first on ties).
    pub fn greedy_action(&self, obs: &[f32]) -> Result<usize> {
        Ok(argmax_f32(&self.q_values(obs)?))
    }

    fn act(&mut self, obs: &[f32]) -> Result<usize> {
        let na = self.net.n_actions;
        if self.steps_done < self.p.learning_starts {
            return Ok(self.rng_explore.random_range(0..na));
        }
        let eps = self.epsilon();
        if self.rng_explore.random::<f64>() < eps {
            return Ok(self.rng_explore.random_range(0..na));
        }
        self.greedy_action(obs)
    }

    /// One environment step, with the target update and training round it triggers.
    pub fn env_step(&mut self) -> Result<()> {
        let obs = self.driver.obs().to_vec();
        if let Some(s) = self.driver.state_index() {
            if let Some(slot @ None) = self.state_obs.get_mut(s) {
                *slot = Some(obs.clone());
            }
        }
        let a = self.act(&obs)?;
        let out = self.driver.step(a)?;
        self.steps_done += 1;
        let buffer = &mut self.buffer;
        let priorities = &mut self.priorities;
        self.nstep.push(
            &obs,
            a,
            out.reward,
            &out.next_obs,
            out.terminated,
            out.truncated,
            &mut |t| {
                let slot = buffer.push(&t);
                if let Some(p) = priorities.as_mut() {
                    p.insert(slot);
                }
            },
        );
        if self
            .steps_done
            .is_multiple_of(self.p.target_update_interval)
        {
            self.update_target();
        }
        if self.steps_done.is_multiple_of(self.p.train_freq)
            && self.steps_done > self.p.learning_starts
            && !self.buffer.is_empty()
        {
            self.train_round(self.p.gradient_steps as usize)?;
        }
        Ok(())
    }

    fn update_target(&mut self) {
        let tau = self.p.tau;
        if tau >= 1.0 {
            // Shared until the next update of the online network copies it on write.
            self.target = Arc::clone(&self.online);
            return;
        }
        let (t32, o32) = ((1.0 - tau) as f32, tau as f32);
        let target = Arc::make_mut(&mut self.target);
        for (t, o) in target.tensors_mut().iter_mut().zip(self.online.tensors()) {
            t.zip_mut_with(o, |t, &o| *t = *t * t32 + o * o32);
        }
    }

    /// TD targets `R + γ^k (1 − done) Q⁻(s', a')` of the given slots.
    fn targets(&self, slots: &[usize]) -> Result<Vec<f32>> {
        let next = self.buffer.next_obs_of(slots);
        let online = self.p.double_dqn.then_some(&self.online);
        let best = self
            .shards
            .bootstrap(&self.net, &self.target, online, next)?;
        let (r, d, g) = self.buffer.scalars_of(slots);
        Ok(best
            .iter()
            .enumerate()
            .map(|(i, &b)| r[i] + g[i] * (1.0 - d[i]) * b)
            .collect())
    }

    /// Runs `n` gradient steps.
    pub fn train_round(&mut self, n: usize) -> Result<()> {
        let bs = self.p.batch_size;
        if self.priorities.is_none() && !self.p.double_dqn {
            let all = self.buffer.sample_uniform(n * bs, &mut self.rng_replay);
            // A slot drawn twice has the same target: compute each distinct slot once.
            let mut distinct = all.clone();
            distinct.sort_unstable();
            distinct.dedup();
            let values = self.targets(&distinct)?;
            let targets: Vec<f32> = all
                .iter()
                .map(|s| match distinct.binary_search(s) {
                    Ok(i) => values[i],
                    Err(_) => f32::NAN,
                })
                .collect();
            for (slots, y) in all.chunks(bs).zip(targets.chunks(bs)) {
                let b = self.buffer.batch(slots);
                self.gradient_step(b.obs, &b.actions, y, None)?;
            }
            return Ok(());
        }
        for _ in 0..n {
            let (slots, weights) = match &self.priorities {
                Some(p) => {
                    let (s, w) = p.sample(bs, self.buffer.len(), self.beta(), &mut self.rng_replay);
                    (s, Some(w))
                }
                None => (self.buffer.sample_uniform(bs, &mut self.rng_replay), None),
            };
            let y = self.targets(&slots)?;
            let b = self.buffer.batch(&slots);
            let td = self.gradient_step(b.obs, &b.actions, &y, weights.as_deref())?;
            if let Some(p) = self.priorities.as_mut() {
                p.update(&slots, &td);
            }
        }
        Ok(())
    }

    /// One gradient step on a minibatch; returns the TD errors `Q(s,a) − y`.
    pub fn gradient_step(
        &mut self,
        obs: Array2<f32>,
        actions: &[usize],
        targets: &[f32],
        weights: Option<&[f32]>,
    ) -> Result<Vec<f32>> {
        let loss = if self.p.loss == "huber" {
            TdLoss::Huber(self.p.huber_delta)
        } else {
            TdLoss::Mse
        };
        let (mut g, loss_value, td, q_mean) = self.shards.gradient(
            &self.net,
            &self.online,
            obs,
            actions,
            targets,
            weights,
            loss,
        )?;
        if !loss_value.is_finite() {
            return Err(RlError::Numerical(format!(
                "gradient step {}: the TD loss is {loss_value}",
                self.grad_steps
            )));
        }
        let norm = if self.p.max_grad_norm > 0.0 {
            clip_global_norm(&mut g, self.p.max_grad_norm)
        } else {
            0.0
        };
        self.opt.set_lr(self.learning_rate());
        self.opt.step(Arc::make_mut(&mut self.online), &g)?;
        self.grad_steps += 1;
        self.log.loss += loss_value;
        self.log.q += q_mean;
        self.log.grad_norm += norm;
        self.log.n += 1;
        Ok(td)
    }

    fn log_metrics(&mut self) -> Metrics {
        let mut m = Metrics::new();
        m.insert("steps".into(), self.steps_done as f64);
        m.insert("epsilon".into(), self.epsilon());
        m.insert("learning_rate".into(), self.learning_rate());
        m.insert("episodes".into(), self.driver.episodes_done() as f64);
        m.insert("gradient_steps".into(), self.grad_steps as f64);
        m.insert("buffer_size".into(), self.buffer.len() as f64);
        if let Some(r) = self.driver.mean_return() {
            m.insert("episode_return_mean".into(), r);
        }
        if let Some(l) = self.driver.mean_length() {
            m.insert("episode_length_mean".into(), l);
        }
        if self.log.n > 0 {
            let n = self.log.n as f64;
            m.insert("loss".into(), self.log.loss / n);
            m.insert("q_mean".into(), self.log.q / n);
            if self.p.max_grad_norm > 0.0 {
                m.insert("grad_norm".into(), self.log.grad_norm / n);
            }
        }
        if self.priorities.is_some() {
            m.insert("priority_beta".into(), self.beta());
        }
        self.log = LogAccum::default();
        m
    }

    /// The learned Q-table at every state whose observation is known, which states those
    /// are, and the greedy policy (action 0 where unknown).
    pub fn q_table(&self) -> Result<(QTable, Vec<bool>, Vec<usize>)> {
        let na = self.net.n_actions;
        let mut q = QTable::filled(self.state_obs.len(), na, 0.0);
        let mut known = vec![false; self.state_obs.len()];
        let mut policy = vec![0; self.state_obs.len()];
        for (s, o) in self.state_obs.iter().enumerate() {
            if let Some(o) = o {
                let row = self.q_values(o)?;
                for (a, &v) in row.iter().enumerate() {
                    q.set(s, a, f64::from(v));
                }
                known[s] = true;
                policy[s] = argmax_f32(&row);
            }
        }
        Ok((q, known, policy))
    }

    /// `q_error`, `value_gap` and related exact metrics on the training environment's model
    /// (`None` without one).
    pub fn tabular_metrics(&mut self) -> Result<Option<Metrics>> {
        if self.driver.env().tabular().is_none() {
            return Ok(None);
        }
        let (q, known, policy) = self.q_table()?;
        let env = self.driver.env();
        let Some(model) = env.tabular() else {
            return Ok(None);
        };
        let optimal = self.optimal.get(model, self.p.gamma)?;
        Ok(Some(tabular_metrics(
            model,
            optimal,
            self.p.gamma,
            &q,
            &known,
            &policy,
        )?))
    }

    fn evaluate_on(&mut self, env: Option<&dyn Environment>) -> Result<Metrics> {
        let own = env.is_none();
        let mut env = match env {
            Some(e) => e.clone_box(),
            None => self.eval_env.clone_box(),
        };
        let na = self.net.n_actions;
        let (net, online) = (&self.net, &self.online);
        let mut act = |obs: &[f32], _s: Option<usize>| {
            net.q_values_one(online, obs)
                .map_or(0, |q| argmax_f32(&q[..na.min(q.len())]))
        };
        let stats = run_episodes(
            env.as_mut(),
            self.p.eval_episodes,
            self.eval_seed,
            self.p.eval_max_steps,
            &mut act,
        )?;
        let mut m = stats.metrics();
        if let Some(model) = env.tabular() {
            if model.num_states() == self.state_obs.len() {
                let (q, known, policy) = self.q_table()?;
                let mut fresh = OptimalCache::default();
                let cache = if own { &mut self.optimal } else { &mut fresh };
                let optimal = cache.get(model, self.p.gamma)?;
                m.extend(tabular_metrics(
                    model,
                    optimal,
                    self.p.gamma,
                    &q,
                    &known,
                    &policy,
                )?);
            }
        }
        Ok(m)
    }
}

/// Scales `grads` so their global L2 norm is at most `max_norm` (PyTorch's
/// `clip_grad_norm_`: factor `max_norm / (norm + 1e-6)` when above); returns the norm before.
/// Core's `clip_grad_norm` rule, summed over contiguous slices.
pub fn clip_global_norm(grads: &mut [Tensor<f32>], max_norm: f64) -> f64 {
    let total = grads
        .iter()
        .map(|g| match g.as_slice() {
            Some(s) => sum_of_squares(s),
            None => g.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>(),
        })
        .sum::<f64>()
        .sqrt();
    if total > max_norm && total > 0.0 {
        let scale = (max_norm / (total + 1e-6)) as f32;
        for g in grads.iter_mut() {
            g.mapv_inplace(|x| x * scale);
        }
    }
    total
}

/// `Σ x²` in `f64`, with eight independent accumulators (so it vectorises).
fn sum_of_squares(s: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = s.chunks_exact(8);
    let rest: f64 = chunks
        .remainder()
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f64::from(x) * f64::from(x);
        }
    }
    acc.iter().sum::<f64>() + rest
}

/// Index of the first largest entry.
pub fn argmax_f32(row: &[f32]) -> usize {
    let mut best = 0;
    let mut bv = f32::NEG_INFINITY;
    for (i, &x) in row.iter().enumerate() {
        if x > bv {
            bv = x;
            best = i;
        }
    }
    best
}

impl Algorithm for Dqn {
    fn total_steps(&self) -> u64 {
        self.p.total_steps
    }
    fn steps_done(&self) -> u64 {
        self.steps_done
    }
    fn train_step(&mut self) -> autodidact_core::Result<Metrics> {
        self.env_step()?;
        if self.steps_done.is_multiple_of(self.p.log_every) || self.steps_done == self.p.total_steps
        {
            return Ok(self.log_metrics());
        }
        Ok(Metrics::new())
    }
    fn evaluate(&mut self, env: Option<&EnvInstance>) -> autodidact_core::Result<Metrics> {
        match env {
            None => Ok(self.evaluate_on(None)?),
            Some(EnvInstance::Rl(e)) => Ok(self.evaluate_on(Some(e.as_ref()))?),
            Some(other) => Err(autodidact_core::CoreError::WrongEnvKind {
                algorithm: "dqn".into(),
                expected: "an RL environment".into(),
                env: "the evaluation environment".into(),
                actual: other.kind().describe().into(),
            }),
        }
    }
    fn save(&self) -> autodidact_core::Result<Vec<u8>> {
        let ck = DqnCheckpoint {
            network: self.net.as_ref().clone(),
            online: ParamsBits::of(&self.online),
            target: ParamsBits::of(&self.target),
            optimizer: self.opt.clone(),
            buffer: self.buffer.clone(),
            priorities: self.priorities.clone(),
            nstep: self.nstep.clone(),
            driver: self.driver.save(),
            rng_explore: self.rng_explore.clone(),
            rng_replay: self.rng_replay.clone(),
            epsilon: self.epsilon.clone(),
            steps_done: self.steps_done,
            grad_steps: self.grad_steps,
            log: self.log.clone(),
            state_obs: self
                .state_obs
                .iter()
                .map(|o| o.as_ref().map(|v| v.iter().map(|x| x.to_bits()).collect()))
                .collect(),
        };
        serde_json::to_vec(&ck)
            .map_err(|e| RlError::Checkpoint(format!("cannot encode: {e}")).into())
    }
    fn load(&mut self, bytes: &[u8]) -> autodidact_core::Result<()> {
        let ck: DqnCheckpoint = serde_json::from_slice(bytes)
            .map_err(|e| RlError::Checkpoint(format!("cannot decode: {e}")))?;
        if ck.network != *self.net
            || ck.buffer.obs_dim() != self.buffer.obs_dim()
            || ck.state_obs.len() != self.state_obs.len()
            || ck.priorities.is_some() != self.priorities.is_some()
        {
            return Err(RlError::Checkpoint(format!(
                "the checkpoint's network, observation size or replay kind differ from this \
                 agent's (environment {})",
                self.env_name
            ))
            .into());
        }
        let mut online = self.online.as_ref().clone();
        let mut target = self.target.as_ref().clone();
        ck.online.restore(&mut online)?;
        ck.target.restore(&mut target)?;
        self.driver.restore(ck.driver)?;
        self.online = Arc::new(online);
        self.target = Arc::new(target);
        self.opt = ck.optimizer;
        self.buffer = ck.buffer;
        self.priorities = ck.priorities;
        self.nstep = ck.nstep;
        self.rng_explore = ck.rng_explore;
        self.rng_replay = ck.rng_replay;
        self.epsilon = ck.epsilon;
        self.steps_done = ck.steps_done;
        self.grad_steps = ck.grad_steps;
        self.log = ck.log;
        self.state_obs = ck
            .state_obs
            .into_iter()
            .map(|o| o.map(|v| v.into_iter().map(f32::from_bits).collect()))
            .collect();
        Ok(())
    }
    fn headline_metric(&self) -> &'static str {
        "loss"
    }
}

fn build_dqn(
    config: &Config,
    spec: &EnvSpec,
    seed: Seed,
) -> autodidact_core::Result<Box<dyn Algorithm>> {
    let params = DqnParams::from_config(config)?;
    let env_seed = seed.derive("env");
    let env = instantiate_rl(spec, env_seed, "dqn")?;
    let mut agent = Dqn::new(params, env, spec.name(), seed)?;
    if let Some(obs) = spec_state_observations(spec, env_seed) {
        agent.set_state_observations(obs);
    }
    Ok(Box::new(agent))
}

autodidact_core::register_algorithm! {
    name: "dqn",
    family: "reinforcement learning",
    summary: "DQN with replay, target network, Huber loss and clipping; Double DQN, dueling, n-step and prioritised replay as options",
    accepts: &[autodidact_core::EnvKind::Rl],
    params: DqnParams::docs,
    default_config: DqnParams::default_config,
    build: build_dqn,
}
