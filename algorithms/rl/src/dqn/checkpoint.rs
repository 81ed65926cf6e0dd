//! DQN's checkpoint: every piece of state a resumed run needs to continue bit for bit.

use std::sync::Arc;

use autodidact_core::Rng;
use serde::{Deserialize, Serialize};

use super::agent::{Dqn, LogAccum};
use super::network::QNetwork;
use super::optimizer::DqnOptimizer;
use super::replay::{NStep, Priorities, ReplayBuffer};
use crate::checkpoint::ParamsBits;
use crate::episodes::DriverState;
use crate::errors::{Result, RlError};
use crate::schedule::Schedule;

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

impl Dqn {
    /// The checkpoint's bytes.
    pub(crate) fn save_bytes(&self) -> Result<Vec<u8>> {
        let ck = DqnCheckpoint {
            network: self.net.clone(),
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
        serde_json::to_vec(&ck).map_err(|e| RlError::Checkpoint(format!("cannot encode: {e}")))
    }

    /// Restores the state saved by [`Dqn::save_bytes`], refusing another agent's checkpoint.
    pub(crate) fn load_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let ck: DqnCheckpoint = serde_json::from_slice(bytes)
            .map_err(|e| RlError::Checkpoint(format!("cannot decode: {e}")))?;
        if ck.network != self.net
            || ck.buffer.obs_dim() != self.buffer.obs_dim()
            || !(ck.state_obs.is_empty() || ck.state_obs.len() == self.n_states)
            || ck.priorities.is_some() != self.priorities.is_some()
        {
            return Err(RlError::Checkpoint(format!(
                "the checkpoint's network, observation size or replay kind differ from this \
                 agent's (environment {})",
                self.env_name
            )));
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
}
