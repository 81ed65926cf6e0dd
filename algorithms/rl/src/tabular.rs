//! Tabular Q-learning and SARSA (and Expected SARSA) with ε-greedy exploration.
//!
//! States are the environment's state indices ([`Environment::state_index`]) or, failing
//! that, the value of a `Discrete` observation. Updates, with step size α:
//!
//! - Q-learning: `Q(s,a) += α (r + γ (1 − terminated) max_a' Q(s',a') − Q(s,a))`
//! - SARSA: `Q(s,a) += α (r + γ (1 − terminated) Q(s',a') − Q(s,a))` with `a'` the ε-greedy
//!   action taken next; Expected SARSA bootstraps on `Σ_a' π(a'|s') Q(s',a')`.
//!
//! A time-limit truncation bootstraps like any other step; only termination cuts it.

use autodidact_core::{
    Algorithm, Better, Config, EnvInstance, EnvSpec, Environment, Hyperparams, Metrics, Rng, Seed,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::dp::{argmax, QTable};
use crate::episodes::{discrete_actions, instantiate_rl, DriverState, EpisodeDriver};
use crate::errors::{Result, RlError};
use crate::evaluate::{run_episodes, tabular_metrics, OptimalCache};
use crate::hyperparams::{QLearningParams, SarsaParams, TabularSettings};
use crate::schedule::Schedule;

/// Which tabular update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TabularKind {
    /// Off-policy: bootstrap on `max_a' Q(s', a')`.
    QLearning,
    /// On-policy: bootstrap on the next action taken (or its expectation).
    Sarsa,
}

impl TabularKind {
    /// The registered name.
    pub fn name(self) -> &'static str {
        match self {
            TabularKind::QLearning => "q-learning",
            TabularKind::Sarsa => "sarsa",
        }
    }
}

/// The ε-greedy action in a row of action values: uniform with probability ε, else a greedy
/// action with ties broken uniformly at random.
pub fn epsilon_greedy(row: &[f64], epsilon: f64, rng: &mut Rng) -> usize {
    if rng.random::<f64>() < epsilon {
        return rng.random_range(0..row.len());
    }
    greedy_random_ties(row, rng)
}

/// A largest entry, ties broken uniformly at random.
pub fn greedy_random_ties(row: &[f64], rng: &mut Rng) -> usize {
    let best = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let ties = row.iter().filter(|&&x| x == best).count();
    if ties <= 1 {
        return argmax(row);
    }
    let pick = rng.random_range(0..ties);
    row.iter()
        .enumerate()
        .filter(|(_, &x)| x == best)
        .nth(pick)
        .map_or(0, |(i, _)| i)
}

/// `Σ_a π(a|s) Q(s, a)` for the ε-greedy policy (greedy mass split over tied maxima).
pub fn epsilon_greedy_expectation(row: &[f64], epsilon: f64) -> f64 {
    let n = row.len() as f64;
    let best = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = row.iter().sum::<f64>() / n;
    epsilon * mean + (1.0 - epsilon) * best
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct TabularCheckpoint {
    kind: TabularKind,
    q: QTable,
    driver: DriverState,
    rng: Rng,
    steps_done: u64,
    next_action: Option<usize>,
    td_sum: f64,
    td_count: u64,
    epsilon: Schedule,
}

/// A tabular Q-learning or SARSA agent bound to its environment.
pub struct TabularAgent {
    kind: TabularKind,
    settings: TabularSettings,
    env_name: String,
    q: QTable,
    driver: EpisodeDriver,
    eval_env: Box<dyn Environment>,
    eval_seed: Seed,
    rng: Rng,
    epsilon: Schedule,
    steps_done: u64,
    next_action: Option<usize>,
    td_sum: f64,
    td_count: u64,
    optimal: OptimalCache,
}

impl TabularAgent {
    /// An agent on `env` (named `env_name` in messages), with its generators from `seed`.
    pub fn new(
        kind: TabularKind,
        settings: TabularSettings,
        env: Box<dyn Environment>,
        env_name: &str,
        seed: Seed,
    ) -> Result<TabularAgent> {
        let name = kind.name();
        let na = discrete_actions(env.as_ref(), name, env_name)?;
        let ns =
            match (env.tabular(), env.observation_space().n()) {
                (Some(m), _) => m.num_states(),
                (None, Some(n)) => n,
                (None, None) => return Err(RlError::Incompatible {
                    algorithm: name.into(),
                    env: env_name.into(),
                    reason:
                        "it needs discrete states: a tabular model or a Discrete observation space"
                            .into(),
                }),
            };
        if env.state_index().is_none() && env.observation_space().n().is_none() {
            return Err(RlError::Incompatible {
                algorithm: name.into(),
                env: env_name.into(),
                reason: "the environment reports no state index".into(),
            });
        }
        let epsilon = Schedule::new(
            settings.epsilon_schedule,
            settings.epsilon_start,
            settings.epsilon_end,
            settings.exploration_fraction,
        )?;
        let eval_env = env.clone_box();
        Ok(TabularAgent {
            kind,
            q: QTable::filled(ns, na, settings.q_init),
            settings,
            env_name: env_name.into(),
            driver: EpisodeDriver::new(env, seed.derive("episodes")),
            eval_env,
            eval_seed: seed.derive("eval"),
            rng: seed.rng("exploration"),
            epsilon,
            steps_done: 0,
            next_action: None,
            td_sum: 0.0,
            td_count: 0,
            optimal: OptimalCache::default(),
        })
    }

    /// Q-learning from its hyperparameters.
    pub fn q_learning(
        params: &QLearningParams,
        env: Box<dyn Environment>,
        env_name: &str,
        seed: Seed,
    ) -> Result<TabularAgent> {
        TabularAgent::new(TabularKind::QLearning, params.into(), env, env_name, seed)
    }

    /// SARSA from its hyperparameters.
    pub fn sarsa(
        params: &SarsaParams,
        env: Box<dyn Environment>,
        env_name: &str,
        seed: Seed,
    ) -> Result<TabularAgent> {
        TabularAgent::new(TabularKind::Sarsa, params.into(), env, env_name, seed)
    }

    /// The action-value table.
    pub fn q(&self) -> &QTable {
        &self.q
    }

    /// ε now.
    pub fn epsilon(&self) -> f64 {
        self.epsilon.at(self.steps_done, self.settings.total_steps)
    }

    /// The step size now.
    pub fn learning_rate(&self) -> f64 {
        let s = &self.settings;
        let p = (self.steps_done as f64 / s.total_steps as f64).min(1.0);
        s.learning_rate + p * (s.learning_rate_final - s.learning_rate)
    }

    fn state_of(&self, index: Option<usize>, obs: &[f32]) -> Result<usize> {
        let s = match index {
            Some(s) => s,
            None => obs.first().map_or(usize::MAX, |&x| x as usize),
        };
        if s >= self.q.num_states() {
            return Err(RlError::Incompatible {
                algorithm: self.kind.name().into(),
                env: self.env_name.clone(),
                reason: format!("state {s} is not below {}", self.q.num_states()),
            });
        }
        Ok(s)
    }

    /// One environment step and one update.
    pub fn step(&mut self) -> Result<()> {
        let s = self.state_of(self.driver.state_index(), self.driver.obs())?;
        let eps = self.epsilon();
        let a = match self.next_action.take() {
            Some(a) => a,
            None => epsilon_greedy(self.q.row(s), eps, &mut self.rng),
        };
        let out = self.driver.step(a)?;
        let bootstrap = if out.terminated {
            0.0
        } else {
            let s2 = self.state_of(out.next_state, &out.next_obs)?;
            match self.kind {
                TabularKind::QLearning => self.q.max(s2),
                TabularKind::Sarsa if self.settings.expected => {
                    epsilon_greedy_expectation(self.q.row(s2), eps)
                }
                TabularKind::Sarsa => {
                    let a2 = epsilon_greedy(self.q.row(s2), eps, &mut self.rng);
                    if !out.truncated {
                        self.next_action = Some(a2);
                    }
                    self.q.get(s2, a2)
                }
            }
        };
        let target = out.reward + self.settings.gamma * bootstrap;
        let td = target - self.q.get(s, a);
        let alpha = self.learning_rate();
        self.q.set(s, a, self.q.get(s, a) + alpha * td);
        if !td.is_finite() {
            return Err(RlError::Numerical(format!(
                "step {}: the TD error is {td}",
                self.steps_done
            )));
        }
        self.td_sum += td.abs();
        self.td_count += 1;
        self.steps_done += 1;
        Ok(())
    }

    /// The greedy action of each state (first on ties).
    pub fn greedy_policy(&self) -> Vec<usize> {
        self.q.greedy()
    }

    /// `q_error`, `value_gap` and related exact metrics on the training environment's model
    /// (`None` without one).
    pub fn tabular_metrics(&mut self) -> Result<Option<Metrics>> {
        let env = self.driver.env();
        let Some(model) = env.tabular() else {
            return Ok(None);
        };
        let optimal = self.optimal.get(model, self.settings.gamma)?;
        let known = vec![true; self.q.num_states()];
        let m = tabular_metrics(
            model,
            optimal,
            self.settings.gamma,
            &self.q,
            &known,
            &self.q.greedy(),
        )?;
        Ok(Some(m))
    }

    fn log_metrics(&mut self) -> Metrics {
        let mut m = Metrics::new();
        m.insert("steps".into(), self.steps_done as f64);
        m.insert("epsilon".into(), self.epsilon());
        m.insert("learning_rate".into(), self.learning_rate());
        m.insert("td_error".into(), self.td_sum / self.td_count.max(1) as f64);
        m.insert("episodes".into(), self.driver.episodes_done() as f64);
        if let Some(r) = self.driver.mean_return() {
            m.insert("episode_return_mean".into(), r);
        }
        if let Some(l) = self.driver.mean_length() {
            m.insert("episode_length_mean".into(), l);
        }
        self.td_sum = 0.0;
        self.td_count = 0;
        m
    }

    fn evaluate_on(&mut self, env: Option<&dyn Environment>) -> Result<Metrics> {
        let use_cache = env.is_none();
        let mut env = match env {
            Some(e) => e.clone_box(),
            None => self.eval_env.clone_box(),
        };
        let gamma = self.settings.gamma;
        let q = &self.q;
        let ns = q.num_states();
        let mut act = |obs: &[f32], s: Option<usize>| {
            let s = s.unwrap_or_else(|| obs.first().map_or(0, |&x| x as usize));
            if s < ns {
                q.argmax(s)
            } else {
                0
            }
        };
        let stats = run_episodes(
            env.as_mut(),
            self.settings.eval_episodes,
            self.eval_seed,
            self.settings.eval_max_steps,
            &mut act,
        )?;
        let mut m = stats.metrics();
        if let Some(model) = env.tabular() {
            if model.num_states() == ns && model.num_actions() == q.num_actions {
                let mut fresh = OptimalCache::default();
                let cache = if use_cache {
                    &mut self.optimal
                } else {
                    &mut fresh
                };
                let optimal = cache.get(model, gamma)?;
                let known = vec![true; ns];
                m.extend(tabular_metrics(
                    model,
                    optimal,
                    gamma,
                    q,
                    &known,
                    &q.greedy(),
                )?);
            }
        }
        Ok(m)
    }
}

impl Algorithm for TabularAgent {
    fn total_steps(&self) -> u64 {
        self.settings.total_steps
    }
    fn steps_done(&self) -> u64 {
        self.steps_done
    }
    fn train_step(&mut self) -> autodidact_core::Result<Metrics> {
        self.step()?;
        if self.steps_done.is_multiple_of(self.settings.log_every)
            || self.steps_done == self.settings.total_steps
        {
            return Ok(self.log_metrics());
        }
        Ok(Metrics::new())
    }
    fn evaluate(&mut self, env: Option<&EnvInstance>) -> autodidact_core::Result<Metrics> {
        let m = match env {
            None => self.evaluate_on(None)?,
            Some(EnvInstance::Rl(e)) => self.evaluate_on(Some(e.as_ref()))?,
            Some(other) => {
                return Err(autodidact_core::CoreError::WrongEnvKind {
                    algorithm: self.kind.name().into(),
                    expected: "an RL environment".into(),
                    env: "the evaluation environment".into(),
                    actual: other.kind().describe().into(),
                })
            }
        };
        Ok(m)
    }
    fn save(&self) -> autodidact_core::Result<Vec<u8>> {
        let ck = TabularCheckpoint {
            kind: self.kind,
            q: self.q.clone(),
            driver: self.driver.save(),
            rng: self.rng.clone(),
            steps_done: self.steps_done,
            next_action: self.next_action,
            td_sum: self.td_sum,
            td_count: self.td_count,
            epsilon: self.epsilon.clone(),
        };
        serde_json::to_vec(&ck)
            .map_err(|e| RlError::Checkpoint(format!("cannot encode: {e}")).into())
    }
    fn load(&mut self, bytes: &[u8]) -> autodidact_core::Result<()> {
        let ck: TabularCheckpoint = serde_json::from_slice(bytes)
            .map_err(|e| RlError::Checkpoint(format!("cannot decode: {e}")))?;
        if ck.kind != self.kind
            || ck.q.num_actions != self.q.num_actions
            || ck.q.values.len() != self.q.values.len()
        {
            return Err(RlError::Checkpoint(format!(
                "the checkpoint is a {} table of {} values, this agent a {} table of {}",
                ck.kind.name(),
                ck.q.values.len(),
                self.kind.name(),
                self.q.values.len()
            ))
            .into());
        }
        self.driver.restore(ck.driver)?;
        self.q = ck.q;
        self.rng = ck.rng;
        self.steps_done = ck.steps_done;
        self.next_action = ck.next_action;
        self.td_sum = ck.td_sum;
        self.td_count = ck.td_count;
        self.epsilon = ck.epsilon;
        Ok(())
    }
    fn selection_metric(&self) -> Option<(String, Better)> {
        Some(("eval_return_mean".into(), Better::Higher))
    }
    fn headline_metric(&self) -> &'static str {
        "td_error"
    }
}

fn build_tabular(
    kind: TabularKind,
    settings: TabularSettings,
    spec: &EnvSpec,
    seed: Seed,
) -> Result<Box<dyn Algorithm>> {
    let env = instantiate_rl(spec, seed.derive("env"), kind.name())?;
    Ok(Box::new(TabularAgent::new(
        kind,
        settings,
        env,
        spec.name(),
        seed,
    )?))
}

fn build_q_learning(
    config: &Config,
    spec: &EnvSpec,
    seed: Seed,
) -> autodidact_core::Result<Box<dyn Algorithm>> {
    let p = QLearningParams::from_config(config)?;
    Ok(build_tabular(
        TabularKind::QLearning,
        (&*p).into(),
        spec,
        seed,
    )?)
}

fn build_sarsa(
    config: &Config,
    spec: &EnvSpec,
    seed: Seed,
) -> autodidact_core::Result<Box<dyn Algorithm>> {
    let p = SarsaParams::from_config(config)?;
    Ok(build_tabular(TabularKind::Sarsa, (&*p).into(), spec, seed)?)
}

autodidact_core::register_algorithm! {
    name: "q-learning",
    family: "reinforcement learning",
    summary: "tabular Q-learning with ε-greedy exploration (Watkins, 1989)",
    accepts: &[autodidact_core::EnvKind::Rl],
    params: QLearningParams::docs,
    default_config: QLearningParams::default_config,
    build: build_q_learning,
}

autodidact_core::register_algorithm! {
    name: "sarsa",
    family: "reinforcement learning",
    summary: "tabular SARSA and Expected SARSA with ε-greedy exploration (Rummery & Niranjan, 1994)",
    accepts: &[autodidact_core::EnvKind::Rl],
    params: SarsaParams::docs,
    default_config: SarsaParams::default_config,
    build: build_sarsa,
}
