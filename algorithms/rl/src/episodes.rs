//! Driving a training environment episode by episode, with checkpointable state.
//!
//! The [`Environment`] trait has no way to save and restore an environment's internal state,
//! so the driver makes every episode reproducible instead: episode `k` starts with
//! `reset(Some(seed.index(k)))`, and the actions of the current episode are recorded. A
//! checkpoint stores the episode number and those actions; restoring resets the environment
//! with the same seed and replays them, then checks that the observation matches bit for bit.
//! This needs only what every environment here guarantees: `reset(Some(seed))` determines
//! the episode.

use std::collections::VecDeque;

use autodidact_core::{Action, CoreError, EnvInstance, EnvKind, EnvSpec, Environment, Seed};
use serde::{Deserialize, Serialize};

use crate::errors::{Result, RlError};

/// How many finished episodes the logged means cover (Stable-Baselines3's window).
pub const STATS_WINDOW: usize = 100;

/// Builds an RL environment from a spec, or explains that the spec is not one.
pub fn instantiate_rl(spec: &EnvSpec, seed: Seed, algorithm: &str) -> Result<Box<dyn Environment>> {
    match spec.instantiate(seed)? {
        EnvInstance::Rl(env) => Ok(env),
        other => Err(RlError::Core(CoreError::WrongEnvKind {
            algorithm: algorithm.into(),
            expected: EnvKind::Rl.describe().into(),
            env: spec.name().into(),
            actual: other.kind().describe().into(),
        })),
    }
}

/// The number of actions of a discrete action space, or an error naming the space.
pub fn discrete_actions(env: &dyn Environment, algorithm: &str, env_name: &str) -> Result<usize> {
    match env.action_space().n() {
        Some(n) if n > 0 => Ok(n),
        _ => Err(RlError::Incompatible {
            algorithm: algorithm.into(),
            env: env_name.into(),
            reason: format!(
                "it needs a discrete action space, the environment's is {:?}",
                env.action_space()
            ),
        }),
    }
}

/// What one environment step gave.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOutcome {
    /// The observation after the step (the true final one when the episode ended).
    pub next_obs: Vec<f32>,
    /// The state index after the step, when the environment has one.
    pub next_state: Option<usize>,
    /// The reward.
    pub reward: f64,
    /// The episode ended in a terminal state (no bootstrapping).
    pub terminated: bool,
    /// The episode was cut by a time limit (bootstrapping continues).
    pub truncated: bool,
}

impl StepOutcome {
    /// Whether the episode ended (either way).
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// The driver's checkpointable state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriverState {
    /// Index of the current episode (its reset seed is `seed.index(episode)`).
    pub episode: u64,
    /// The actions taken so far in the current episode.
    pub actions: Vec<u32>,
    /// The current observation, as bit patterns (to check a replay exactly).
    pub obs_bits: Vec<u32>,
    /// Return of the current episode so far.
    pub episode_return: f64,
    /// Length of the current episode so far.
    pub episode_length: u64,
    /// Finished episodes.
    pub episodes_done: u64,
    /// Returns of the last finished episodes (up to [`STATS_WINDOW`]).
    pub recent_returns: VecDeque<f64>,
    /// Lengths of the last finished episodes.
    pub recent_lengths: VecDeque<u64>,
}

/// Runs a training environment: steps, resets, episode statistics, checkpoints.
pub struct EpisodeDriver {
    env: Box<dyn Environment>,
    seed: Seed,
    obs: Vec<f32>,
    state: DriverState,
}

impl EpisodeDriver {
    /// Starts episode 0 of `env`; episode `k` is reset with `seed.index(k)`.
    pub fn new(mut env: Box<dyn Environment>, seed: Seed) -> EpisodeDriver {
        let (obs, _) = env.reset(Some(seed.index(0).0));
        let state = DriverState {
            episode: 0,
            actions: Vec::new(),
            obs_bits: Vec::new(),
            episode_return: 0.0,
            episode_length: 0,
            episodes_done: 0,
            recent_returns: VecDeque::new(),
            recent_lengths: VecDeque::new(),
        };
        EpisodeDriver {
            env,
            seed,
            obs,
            state,
        }
    }

    /// The environment.
    pub fn env(&self) -> &dyn Environment {
        self.env.as_ref()
    }

    /// The current observation.
    pub fn obs(&self) -> &[f32] {
        &self.obs
    }

    /// The current state index, when the environment has one.
    pub fn state_index(&self) -> Option<usize> {
        self.env.state_index()
    }

    /// Finished episodes.
    pub fn episodes_done(&self) -> u64 {
        self.state.episodes_done
    }

    /// Mean return of the last finished episodes (`None` before the first ends).
    pub fn mean_return(&self) -> Option<f64> {
        mean(self.state.recent_returns.iter().copied())
    }

    /// Mean length of the last finished episodes.
    pub fn mean_length(&self) -> Option<f64> {
        mean(self.state.recent_lengths.iter().map(|&l| l as f64))
    }

    /// Takes action `a`; at the end of an episode, records it and starts the next.
    pub fn step(&mut self, a: usize) -> Result<StepOutcome> {
        let r = self.env.step(&Action::Discrete(a))?;
        self.state.actions.push(a as u32);
        self.state.episode_return += r.reward;
        self.state.episode_length += 1;
        let out = StepOutcome {
            next_state: self.env.state_index(),
            next_obs: r.obs,
            reward: r.reward,
            terminated: r.terminated,
            truncated: r.truncated,
        };
        if out.done() {
            let st = &mut self.state;
            st.recent_returns.push_back(st.episode_return);
            st.recent_lengths.push_back(st.episode_length);
            if st.recent_returns.len() > STATS_WINDOW {
                st.recent_returns.pop_front();
                st.recent_lengths.pop_front();
            }
            st.episodes_done += 1;
            st.episode += 1;
            st.actions.clear();
            st.episode_return = 0.0;
            st.episode_length = 0;
            let (obs, _) = self.env.reset(Some(self.seed.index(st.episode).0));
            self.obs = obs;
        } else {
            self.obs.clone_from(&out.next_obs);
        }
        Ok(out)
    }

    /// The state to checkpoint.
    pub fn save(&self) -> DriverState {
        let mut st = self.state.clone();
        st.obs_bits = self.obs.iter().map(|x| x.to_bits()).collect();
        st
    }

    /// Restores a saved state: resets to the saved episode and replays its actions.
    pub fn restore(&mut self, st: DriverState) -> Result<()> {
        let (mut obs, _) = self.env.reset(Some(self.seed.index(st.episode).0));
        for (i, &a) in st.actions.iter().enumerate() {
            let r = self.env.step(&Action::Discrete(a as usize))?;
            if r.terminated || r.truncated {
                return Err(RlError::Checkpoint(format!(
                    "replaying episode {}: it ended at step {} of {}; the checkpoint does not \
                     belong to this environment and seed",
                    st.episode,
                    i + 1,
                    st.actions.len()
                )));
            }
            obs = r.obs;
        }
        let bits: Vec<u32> = obs.iter().map(|x| x.to_bits()).collect();
        if bits != st.obs_bits {
            return Err(RlError::Checkpoint(format!(
                "replaying episode {} did not reproduce the saved observation; the checkpoint \
                 does not belong to this environment and seed",
                st.episode
            )));
        }
        self.obs = obs;
        self.state = st;
        Ok(())
    }
}

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut s, mut n) = (0.0, 0usize);
    for x in xs {
        s += x;
        n += 1;
    }
    (n > 0).then(|| s / n as f64)
}
