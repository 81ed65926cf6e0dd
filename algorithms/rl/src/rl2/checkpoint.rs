//! RL²'s checkpoint. A checkpoint is taken between iterations, when no trial is under way,
//! so it holds the network, the optimiser's moments, the three generators (tasks, actions,
//! minibatch order), the counters and the unlogged sums: a resumed run continues bit for bit.

use autodidact_core::Rng;
use serde::{Deserialize, Serialize};

use super::agent::{Rl2Agent, Rl2Log};
use super::network::RecurrentPolicy;
use crate::checkpoint::ParamsBits;
use crate::dqn::optimizer::DqnOptimizer;
use crate::errors::{Result, RlError};

#[derive(Serialize, Deserialize)]
struct Rl2Checkpoint {
    network: RecurrentPolicy,
    params: ParamsBits,
    optimizer: DqnOptimizer,
    rng_tasks: Rng,
    rng_act: Rng,
    rng_minibatch: Rng,
    steps_done: u64,
    iterations: u64,
    log: Rl2Log,
}

impl Rl2Agent {
    /// The checkpoint's bytes.
    pub(crate) fn save_bytes(&self) -> Result<Vec<u8>> {
        let ck = Rl2Checkpoint {
            network: self.net.clone(),
            params: ParamsBits::of(&self.params),
            optimizer: self.opt.clone(),
            rng_tasks: self.rng_tasks.clone(),
            rng_act: self.rng_act.clone(),
            rng_minibatch: self.rng_minibatch.clone(),
            steps_done: self.steps_done,
            iterations: self.iterations,
            log: self.log.clone(),
        };
        serde_json::to_vec(&ck).map_err(|e| RlError::Checkpoint(format!("cannot encode: {e}")))
    }

    /// Restores the state saved by [`Rl2Agent::save_bytes`], refusing another network's.
    pub(crate) fn load_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let ck: Rl2Checkpoint = serde_json::from_slice(bytes)
            .map_err(|e| RlError::Checkpoint(format!("cannot decode: {e}")))?;
        if ck.network != self.net {
            return Err(RlError::Checkpoint(format!(
                "the checkpoint's network ({} GRU units, {} actions, observation {:?}) is not \
                 this agent's on {} ({} units, {} actions, {:?})",
                ck.network.hidden(),
                ck.network.actions,
                ck.network.obs,
                self.env_name,
                self.net.hidden(),
                self.net.actions,
                self.net.obs
            )));
        }
        let mut params = self.params.clone();
        ck.params.restore(&mut params)?;
        self.params = params;
        self.opt = ck.optimizer;
        self.rng_tasks = ck.rng_tasks;
        self.rng_act = ck.rng_act;
        self.rng_minibatch = ck.rng_minibatch;
        self.steps_done = ck.steps_done;
        self.iterations = ck.iterations;
        self.log = ck.log;
        Ok(())
    }
}
