//! The DQN agent: its state, acting ε-greedily, and the environment step that drives storing,
//! target updates and training rounds.

use std::sync::Arc;

use autodidact_core::{argmax_slice, Environment, Metrics, Params, Rng, Seed};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use super::hyperparams::DqnParams;
use super::hyperparams::LrSchedule;
use super::network::QNetwork;
use super::optimizer::DqnOptimizer;
use super::parallel::Shards;
use super::replay::{NStep, Priorities, ReplayBuffer};
use crate::episodes::{discrete_actions, EpisodeDriver};
use crate::errors::Result;
use crate::evaluate::OptimalCache;
use crate::schedule::Schedule;
use autodidact_core::config::Checked;

/// Running sums for the next log line.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct LogAccum {
    pub(crate) loss: f64,
    pub(crate) q: f64,
    pub(crate) grad_norm: f64,
    pub(crate) n: u64,
}

/// A DQN agent bound to its environment.
pub struct Dqn {
    pub(crate) p: DqnParams,
    pub(crate) env_name: String,
    pub(crate) net: QNetwork,
    /// Shared with `target` after a hard update, until the next gradient step copies it.
    pub(crate) online: Arc<Params<f32>>,
    pub(crate) target: Arc<Params<f32>>,
    pub(crate) shards: Shards,
    pub(crate) opt: DqnOptimizer,
    pub(crate) buffer: ReplayBuffer,
    pub(crate) priorities: Option<Priorities>,
    pub(crate) nstep: NStep,
    pub(crate) driver: EpisodeDriver,
    pub(crate) eval_env: Box<dyn Environment>,
    pub(crate) eval_seed: Seed,
    pub(crate) rng_explore: Rng,
    pub(crate) rng_replay: Rng,
    pub(crate) epsilon: Schedule,
    pub(crate) steps_done: u64,
    pub(crate) grad_steps: u64,
    pub(crate) log: LogAccum,
    /// States of the training environment's model.
    pub(crate) n_states: usize,
    /// Observations of states seen in training (or declared), kept only when the model cannot
    /// give them itself ([`autodidact_core::TabularModel::observation_of`]); else empty.
    pub(crate) state_obs: Vec<Option<Vec<f32>>>,
    pub(crate) optimal: OptimalCache,
}

impl Dqn {
    /// A DQN agent on `env` (named `env_name` in messages); every generator derives from
    /// `seed` (`init`, `exploration`, `replay`, `episodes`, `eval`).
    pub fn new(
        params: Checked<DqnParams>,
        env: Box<dyn Environment>,
        env_name: &str,
        seed: Seed,
    ) -> Result<Dqn> {
        let params = params.into_inner();
        let n_actions = discrete_actions(env.as_ref(), "dqn", env_name)?;
        let obs_dim = env.observation_space().flat_dim();
        check_memory(&params, obs_dim, n_actions)?;
        let (activation, init) = (params.activation, params.init);
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
        let epsilon = Schedule::new(
            params.epsilon_schedule,
            params.exploration_initial_eps,
            params.exploration_final_eps,
            params.exploration_fraction,
        )?;
        let n_states = env.tabular().map_or(0, |m| m.num_states());
        // Recording what training sees is the fallback for a model without observations; a
        // model with them is asked state by state, so nothing per state is kept.
        let records = env.tabular().is_some_and(|m| m.observation_of(0).is_none());
        let eval_env = env.clone_box();
        Ok(Dqn {
            opt: DqnOptimizer::new(params.optimizer, params.learning_rate, params.adam_eps),
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
            n_states,
            state_obs: if records {
                vec![None; n_states]
            } else {
                Vec::new()
            },
            optimal: OptimalCache::default(),
            env_name: env_name.into(),
            shards: Shards::new(params.threads)?,
            net,
            online,
            target,
            p: params,
        })
    }

    /// Declares the observation of every state, for an environment whose model cannot give
    /// them ([`autodidact_core::TabularModel::observation_of`]), so that `q_error` and
    /// `value_gap` cover every state, not only those seen in training. Ignored unless there
    /// is one per state.
    pub fn set_state_observations(&mut self, obs: Vec<Vec<f32>>) {
        if obs.len() == self.n_states {
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
        if self.p.learning_rate_schedule == LrSchedule::Linear {
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
        Ok(argmax_slice(&self.q_values(obs)?))
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

    /// The metrics of the log line due now; resets the running sums.
    pub(crate) fn log_metrics(&mut self) -> Metrics {
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
}

/// Refuses a configuration whose networks or replay buffer cannot fit in memory, before any of
/// it is allocated (the online and target networks with Adam's moments; the buffer's two
/// observations per transition), naming the key that drives the size.
fn check_memory(p: &DqnParams, obs_dim: usize, n_actions: usize) -> Result<()> {
    let mut widths = vec![obs_dim as f64];
    widths.extend(p.hidden.iter().map(|&h| h as f64));
    widths.push(n_actions as f64);
    let weights: f64 = widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
    // Value, gradient, target copy, two Adam moments, and the batch's activations.
    autodidact_core::memory::check_fits("hidden", "the Q-networks", weights * 4.0 * 8.0)?;
    let buffer = p.buffer_size as f64 * (2.0 * obs_dim as f64 + 4.0) * 4.0;
    autodidact_core::memory::check_fits("buffer_size", "the replay buffer", buffer)?;
    Ok(())
}
