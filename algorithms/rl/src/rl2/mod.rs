//! RL² (Duan et al. 2016, "RL²: Fast Reinforcement Learning via Slow Reinforcement
//! Learning"): a recurrent policy whose hidden state persists across the episodes of a trial,
//! trained by an ordinary RL algorithm across trials, so that what it learns is a learning
//! algorithm: within a trial, the GRU's state is the agent's memory of what it has tried on
//! this environment.
//!
//! - A **trial** is one environment drawn from the task distribution (`EnvKind::MetaRl`),
//!   played for `episodes_per_trial` episodes. The hidden state starts at zero and is carried
//!   across the trial's episodes; it resets only when a new trial (a new environment) begins.
//! - The input at each step is `(s_t, a_{t−1}, r_{t−1}, d_{t−1})`: observation, previous
//!   action one-hot, previous reward, and whether the previous step ended an episode
//!   ([`network`]).
//! - The objective is the trial's return: advantages are GAE(λ) over the whole trial, an
//!   episode boundary inside it is not an end ([`update::advantages`]).
//! - Training is PPO (the policy-gradient family's clipped surrogate and value loss) on
//!   minibatches of whole trials, each unrolled from the zero state with gradients through
//!   every step (full backpropagation through time).
//!
//! One training step is one iteration: `trials_per_iteration` trials in lockstep, then the
//! update; `total_steps` and `steps_done` count environment steps. The paper trains with
//! TRPO; PPO's clipped surrogate is the first-order stand-in the policy-gradient issue built.

mod agent;
mod checkpoint;
pub mod hyperparams;
pub mod network;
mod trials;
pub mod update;

use autodidact_core::config::Checked;
use autodidact_core::{Algorithm, Better, CoreError, EnvInstance, EnvKind, EnvSpec, Metrics, Seed};

pub use agent::Rl2Agent;
pub use hyperparams::Rl2Params;
pub use network::{ObsEncoding, RecurrentPolicy};

impl Algorithm for Rl2Agent {
    fn is_finite(&self) -> bool {
        self.params.all_finite()
    }
    fn total_steps(&self) -> u64 {
        self.p.total_steps
    }
    fn steps_done(&self) -> u64 {
        self.steps_done
    }
    fn train_step(&mut self) -> autodidact_core::Result<Metrics> {
        self.iterate()?;
        if self.iterations.is_multiple_of(self.p.log_every) || self.steps_done >= self.p.total_steps
        {
            return Ok(self.log_metrics());
        }
        Ok(Metrics::new())
    }
    fn evaluate(&mut self, env: Option<&EnvInstance>) -> autodidact_core::Result<Metrics> {
        match env {
            None => Ok(self.evaluate_on(None)?),
            Some(EnvInstance::MetaRl(d)) => Ok(self.evaluate_on(Some(d.as_ref()))?),
            Some(other) => Err(CoreError::WrongEnvKind {
                algorithm: "rl2".into(),
                expected: EnvKind::MetaRl.describe().into(),
                env: "the evaluation environment".into(),
                actual: other.kind().describe().into(),
            }),
        }
    }
    fn save(&self) -> autodidact_core::Result<Vec<u8>> {
        Ok(self.save_bytes()?)
    }
    fn load(&mut self, bytes: &[u8]) -> autodidact_core::Result<()> {
        Ok(self.load_bytes(bytes)?)
    }
    fn selection_metric(&self) -> Option<(String, Better)> {
        Some(("eval_return_mean".into(), Better::Higher))
    }
    fn headline_metric(&self) -> &'static str {
        "trial_return_mean"
    }
}

fn build(
    hp: Checked<Rl2Params>,
    spec: &EnvSpec,
    seed: Seed,
) -> autodidact_core::Result<Box<dyn Algorithm>> {
    match spec.instantiate(seed.derive("env"))? {
        EnvInstance::MetaRl(dist) => Ok(Box::new(Rl2Agent::new(hp, dist, spec.name(), seed)?)),
        other => Err(CoreError::WrongEnvKind {
            algorithm: "rl2".into(),
            expected: EnvKind::MetaRl.describe().into(),
            env: spec.name().into(),
            actual: other.kind().describe().into(),
        }),
    }
}

autodidact_core::register_family! {
    family: "meta-reinforcement learning",
    accepts: &[EnvKind::MetaRl],
    params: Rl2Params,
    algorithms: {
        "rl2" => (
            "RL²: a GRU policy whose state persists across a trial's episodes, trained with PPO across trials (Duan et al. 2016)",
            Rl2Params::default,
            build
        ),
    }
}

#[cfg(test)]
mod tests;
