//! Policy-gradient methods: REINFORCE, A2C and PPO, for discrete (categorical policy) and
//! continuous (diagonal Gaussian policy) actions, on copies of the environment stepped in
//! lockstep ([`autodidact_core::VecEnv`]).
//!
//! | registered name | method | module |
//! | --- | --- | --- |
//! | `reinforce` | Monte-Carlo policy gradient, reward-to-go, learned baseline | [`reinforce`] |
//! | `a2c` | synchronous advantage actor-critic, n-step / GAE(λ) | [`a2c`] |
//! | `ppo` | clipped surrogate, epochs of minibatches, GAE(λ) | [`ppo`] |
//!
//! One training step is one lockstep step of every copy (`n_envs` environment steps); when
//! the rollout (`n_steps` steps of each copy) or REINFORCE's batch of episodes is complete, the
//! method's update runs. The networks, the distributions and the rollout are shared
//! ([`network`], [`distribution`], [`rollout`], [`objective`]); each method's file holds its
//! loss and its update. Hyperparameters: [`PgParams`], with Stable-Baselines3's defaults per
//! method and rl-baselines3-zoo's tuned sets.

pub mod a2c;
pub mod activation;
mod agent;
mod checkpoint;
pub mod distribution;
mod evaluation;
pub mod hyperparams;
pub mod network;
pub mod objective;
pub mod ppo;
pub mod reinforce;
pub mod rollout;

use autodidact_core::config::Checked;
use autodidact_core::{Algorithm, Better, EnvInstance, EnvKind, EnvSpec, Metrics, Seed};

pub use agent::PgAgent;
pub use hyperparams::{Decay, Method, PgInit, PgParams, Squash};
pub use network::{ActionKind, ActorCritic};
pub use rollout::Rollout;

use crate::episodes::instantiate_rl;

impl Algorithm for PgAgent {
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
        let before = self.steps_done;
        self.env_step()?;
        let every = self.p.log_every;
        if self.steps_done / every > before / every || self.steps_done >= self.p.total_steps {
            return Ok(self.log_metrics());
        }
        Ok(Metrics::new())
    }
    fn evaluate(&mut self, env: Option<&EnvInstance>) -> autodidact_core::Result<Metrics> {
        match env {
            None => Ok(self.evaluate_on(None)?),
            Some(EnvInstance::Rl(e)) => Ok(self.evaluate_on(Some(e.as_ref()))?),
            Some(other) => Err(autodidact_core::CoreError::WrongEnvKind {
                algorithm: self.method.name().into(),
                expected: EnvKind::Rl.describe().into(),
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
        "episode_return_mean"
    }
}

/// A registry build function for one method.
fn builder(
    method: Method,
) -> impl Fn(Checked<PgParams>, &EnvSpec, Seed) -> autodidact_core::Result<Box<dyn Algorithm>> {
    move |hp, spec, seed| {
        let env = instantiate_rl(spec, seed.derive("env"), method.name())?;
        Ok(Box::new(PgAgent::new(method, hp, env, spec.name(), seed)?))
    }
}

autodidact_core::register_family! {
    family: "reinforcement learning",
    accepts: &[EnvKind::Rl],
    params: PgParams,
    algorithms: {
        "reinforce" => (
            "REINFORCE: Monte-Carlo policy gradient with reward-to-go and a learned baseline (Williams 1992)",
            PgParams::reinforce,
            builder(Method::Reinforce)
        ),
        "a2c" => (
            "A2C: synchronous advantage actor-critic, n-step or GAE(λ), copies in lockstep (Mnih et al. 2016)",
            PgParams::a2c,
            builder(Method::A2c)
        ),
        "ppo" => (
            "PPO: clipped surrogate, GAE(λ), epochs of minibatches, value clipping and KL stop as options (Schulman et al. 2017)",
            PgParams::ppo,
            builder(Method::Ppo)
        ),
    }
}
