//! Several copies of an environment stepped in lockstep, each with its own seeded stream of
//! episodes (Stable-Baselines3's `DummyVecEnv`, with exact checkpoints).
//!
//! Copy `i` starts its episode `k` with `reset(Some(seed.index(i).index(k)))`, so the copies
//! never share random numbers and adding a copy leaves the others' episodes unchanged. A copy
//! whose episode ends is reset at once: the step reports the true final observation (to
//! bootstrap a truncated episode from) and the first observation of the next episode.
//!
//! The [`Environment`] trait cannot save an environment's internal state, so a checkpoint
//! ([`VecEnv::save`]) holds each copy's episode number and the actions of its current
//! episode; [`VecEnv::restore`] resets with the same seed, replays them and checks that the
//! observation comes back bit for bit.

use serde::{Deserialize, Serialize};

use crate::env::{Action, Environment, Observation, Space};
use crate::error::{CoreError, Result};
use crate::rng::Seed;

/// The end of one episode of one copy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpisodeEnd {
    /// Undiscounted return.
    pub episode_return: f64,
    /// Steps.
    pub length: u64,
}

/// What one lockstep step gave, one entry per copy.
#[derive(Clone, Debug, PartialEq)]
pub struct VecStep {
    /// The observation to act on next (the next episode's first when one ended).
    pub obs: Vec<Observation>,
    /// Rewards.
    pub rewards: Vec<f64>,
    /// Episodes that ended in a terminal state (no bootstrapping past it).
    pub terminated: Vec<bool>,
    /// Episodes cut by a time limit (bootstrap from `final_obs`).
    pub truncated: Vec<bool>,
    /// The true last observation of each episode that ended.
    pub final_obs: Vec<Option<Observation>>,
    /// Return and length of each episode that ended.
    pub finished: Vec<Option<EpisodeEnd>>,
}

/// A [`VecEnv`]'s checkpointable state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VecEnvState {
    /// Each copy's current episode number.
    pub episodes: Vec<u64>,
    /// The actions of each copy's current episode so far.
    pub actions: Vec<Vec<Action>>,
    /// Each copy's return so far in its current episode.
    pub returns: Vec<f64>,
    /// Each copy's steps so far in its current episode.
    pub lengths: Vec<u64>,
    /// Each copy's current observation, as bit patterns (to check a replay exactly).
    pub obs_bits: Vec<Vec<u32>>,
}

/// Copies of one environment stepped together.
pub struct VecEnv {
    envs: Vec<Box<dyn Environment>>,
    seed: Seed,
    obs: Vec<Observation>,
    state: VecEnvState,
}

impl VecEnv {
    /// `n` copies of `env` (clones, so any parameters carry over), each starting episode 0.
    pub fn new(env: &dyn Environment, n: usize, seed: Seed) -> Result<VecEnv> {
        if n == 0 {
            return Err(CoreError::Config {
                key: "n_envs".into(),
                reason: "a vectorised environment needs at least one copy".into(),
            });
        }
        let mut envs: Vec<Box<dyn Environment>> = (0..n).map(|_| env.clone_box()).collect();
        let obs = envs
            .iter_mut()
            .enumerate()
            .map(|(i, e)| e.reset(Some(episode_seed(seed, i, 0))).0)
            .collect();
        Ok(VecEnv {
            envs,
            seed,
            obs,
            state: VecEnvState {
                episodes: vec![0; n],
                actions: vec![Vec::new(); n],
                returns: vec![0.0; n],
                lengths: vec![0; n],
                obs_bits: Vec::new(),
            },
        })
    }

    /// Number of copies.
    pub fn num_envs(&self) -> usize {
        self.envs.len()
    }

    /// The copies' observation space.
    pub fn observation_space(&self) -> Space {
        self.envs[0].observation_space()
    }

    /// The copies' action space.
    pub fn action_space(&self) -> Space {
        self.envs[0].action_space()
    }

    /// The observations to act on now, one per copy.
    pub fn obs(&self) -> &[Observation] {
        &self.obs
    }

    /// Copy `i` (for its state index or tabular model).
    pub fn env(&self, i: usize) -> Option<&dyn Environment> {
        self.envs.get(i).map(|e| e.as_ref())
    }

    /// Steps every copy with its action; copies whose episode ends are reset.
    pub fn step(&mut self, actions: &[Action]) -> Result<VecStep> {
        let n = self.envs.len();
        if actions.len() != n {
            return Err(CoreError::Env(format!(
                "a vectorised step needs one action per copy: {} actions for {n} copies",
                actions.len()
            )));
        }
        let mut out = VecStep {
            obs: Vec::with_capacity(n),
            rewards: Vec::with_capacity(n),
            terminated: Vec::with_capacity(n),
            truncated: Vec::with_capacity(n),
            final_obs: Vec::with_capacity(n),
            finished: Vec::with_capacity(n),
        };
        for (i, (env, a)) in self.envs.iter_mut().zip(actions).enumerate() {
            let r = env.step(a)?;
            let st = &mut self.state;
            st.actions[i].push(a.clone());
            st.returns[i] += r.reward;
            st.lengths[i] += 1;
            out.rewards.push(r.reward);
            out.terminated.push(r.terminated);
            out.truncated.push(r.truncated);
            if r.terminated || r.truncated {
                out.finished.push(Some(EpisodeEnd {
                    episode_return: st.returns[i],
                    length: st.lengths[i],
                }));
                st.episodes[i] += 1;
                st.actions[i].clear();
                st.returns[i] = 0.0;
                st.lengths[i] = 0;
                let (first, _) = env.reset(Some(episode_seed(self.seed, i, st.episodes[i])));
                self.obs[i].clone_from(&first);
                out.final_obs.push(Some(r.obs));
                out.obs.push(first);
            } else {
                out.finished.push(None);
                out.final_obs.push(None);
                self.obs[i].clone_from(&r.obs);
                out.obs.push(r.obs);
            }
        }
        Ok(out)
    }

    /// The state to checkpoint.
    pub fn save(&self) -> VecEnvState {
        let mut st = self.state.clone();
        st.obs_bits = self
            .obs
            .iter()
            .map(|o| o.iter().map(|x| x.to_bits()).collect())
            .collect();
        st
    }

    /// Restores a saved state: resets each copy to its saved episode and replays its actions.
    pub fn restore(&mut self, st: VecEnvState) -> Result<()> {
        let n = self.envs.len();
        let sizes = [
            st.episodes.len(),
            st.actions.len(),
            st.returns.len(),
            st.lengths.len(),
            st.obs_bits.len(),
        ];
        if sizes.iter().any(|&k| k != n) {
            return Err(CoreError::Checkpoint(format!(
                "the saved vectorised environment has {} copies, this one {n}",
                st.episodes.len()
            )));
        }
        let mut obs = Vec::with_capacity(n);
        for (i, env) in self.envs.iter_mut().enumerate() {
            let (mut o, _) = env.reset(Some(episode_seed(self.seed, i, st.episodes[i])));
            for (t, a) in st.actions[i].iter().enumerate() {
                let r = env.step(a)?;
                if r.terminated || r.truncated {
                    return Err(CoreError::Checkpoint(format!(
                        "replaying copy {i}'s episode {}: it ended at step {} of {}; the \
                         checkpoint does not belong to this environment and seed",
                        st.episodes[i],
                        t + 1,
                        st.actions[i].len()
                    )));
                }
                o = r.obs;
            }
            let bits: Vec<u32> = o.iter().map(|x| x.to_bits()).collect();
            if bits != st.obs_bits[i] {
                return Err(CoreError::Checkpoint(format!(
                    "replaying copy {i}'s episode {} did not reproduce the saved observation; \
                     the checkpoint does not belong to this environment and seed",
                    st.episodes[i]
                )));
            }
            obs.push(o);
        }
        self.obs = obs;
        self.state = st;
        Ok(())
    }
}

/// The reset seed of copy `i`'s episode `k`.
fn episode_seed(seed: Seed, i: usize, k: u64) -> u64 {
    seed.index(i as u64).index(k).0
}
