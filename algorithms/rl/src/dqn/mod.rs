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
//!
//! Minibatch gradients and target batches run in row blocks on `threads` threads (see
//! [`parallel`]); the blocks depend on the data only, so the thread count never changes a
//! result.

mod agent;
mod checkpoint;
mod evaluation;
pub mod hyperparams;
mod learning;
pub mod network;
pub mod optimizer;
pub mod parallel;
pub mod replay;
pub mod td;

use autodidact_core::{
    Algorithm, Better, Config, EnvInstance, EnvSpec, Hyperparams, Metrics, Seed,
};

pub use agent::Dqn;
pub use hyperparams::DqnParams;
pub use network::QNetwork;
pub use optimizer::DqnOptimizer;
pub use parallel::Shards;
pub use replay::{Batch, NStep, Priorities, ReplayBuffer, SumTree, Transition};
pub use td::{TdGradient, TdLoss, TdRows};

use crate::episodes::instantiate_rl;

impl Algorithm for Dqn {
    fn is_finite(&self) -> bool {
        self.online.all_finite()
    }

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
        Ok(self.save_bytes()?)
    }
    fn load(&mut self, bytes: &[u8]) -> autodidact_core::Result<()> {
        Ok(self.load_bytes(bytes)?)
    }
    fn selection_metric(&self) -> Option<(String, Better)> {
        Some(("eval_return_mean".into(), Better::Higher))
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
    let env = instantiate_rl(spec, seed.derive("env"), "dqn")?;
    Ok(Box::new(Dqn::new(params, env, spec.name(), seed)?))
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
