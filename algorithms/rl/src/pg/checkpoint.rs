//! The policy-gradient checkpoint: every piece of state a resumed run needs to continue bit
//! for bit (network, optimiser moments, the copies' episodes, the rollout or the unfinished
//! episodes, both generators, the step count the schedules are functions of).

use autodidact_core::{Rng, VecEnvState};
use serde::{Deserialize, Serialize};

use super::agent::{PgAgent, Recent, UpdateLog};
use super::hyperparams::Method;
use super::network::ActorCritic;
use super::rollout::Rollout;
use crate::checkpoint::ParamsBits;
use crate::dqn::optimizer::DqnOptimizer;
use crate::errors::{Result, RlError};

#[derive(Serialize, Deserialize)]
struct PgCheckpoint {
    method: Method,
    network: ActorCritic,
    params: ParamsBits,
    optimizer: DqnOptimizer,
    envs: VecEnvState,
    rollout: Rollout,
    current: Vec<Rollout>,
    stale: Vec<bool>,
    finished: Vec<Rollout>,
    rng_act: Rng,
    rng_minibatch: Rng,
    steps_done: u64,
    updates: u64,
    log: UpdateLog,
    recent: Recent,
}

impl PgAgent {
    /// The checkpoint's bytes.
    pub(crate) fn save_bytes(&self) -> Result<Vec<u8>> {
        let ck = PgCheckpoint {
            method: self.method,
            network: self.net.clone(),
            params: ParamsBits::of(&self.params),
            optimizer: self.opt.clone(),
            envs: self.envs.save(),
            rollout: self.rollout.clone(),
            current: self.current.clone(),
            stale: self.stale.clone(),
            finished: self.finished.clone(),
            rng_act: self.rng_act.clone(),
            rng_minibatch: self.rng_minibatch.clone(),
            steps_done: self.steps_done,
            updates: self.updates,
            log: self.log.clone(),
            recent: self.recent.clone(),
        };
        serde_json::to_vec(&ck).map_err(|e| RlError::Checkpoint(format!("cannot encode: {e}")))
    }

    /// Restores the state saved by [`PgAgent::save_bytes`], refusing another agent's.
    pub(crate) fn load_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let ck: PgCheckpoint = serde_json::from_slice(bytes)
            .map_err(|e| RlError::Checkpoint(format!("cannot decode: {e}")))?;
        if ck.method != self.method || ck.network != self.net {
            return Err(RlError::Checkpoint(format!(
                "the checkpoint is {}'s with network {:?}; this agent is {} on {} with another \
                 network or action space",
                ck.method.name(),
                ck.network.action,
                self.method.name(),
                self.env_name
            )));
        }
        if ck.current.len() != self.current.len() || ck.stale.len() != self.stale.len() {
            return Err(RlError::Checkpoint(format!(
                "the checkpoint has {} environment copies, this agent {}",
                ck.current.len(),
                self.current.len()
            )));
        }
        let mut params = self.params.clone();
        ck.params.restore(&mut params)?;
        self.envs.restore(ck.envs)?;
        self.params = params;
        self.opt = ck.optimizer;
        self.rollout = ck.rollout;
        self.current = ck.current;
        self.stale = ck.stale;
        self.finished = ck.finished;
        self.rng_act = ck.rng_act;
        self.rng_minibatch = ck.rng_minibatch;
        self.steps_done = ck.steps_done;
        self.updates = ck.updates;
        self.log = ck.log;
        self.recent = ck.recent;
        Ok(())
    }
}
