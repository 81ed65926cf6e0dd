//! RL²'s hyperparameters.

use autodidact_core::Hyperparams;
use serde::{Deserialize, Serialize};

use crate::dqn::hyperparams::DqnOptimizerKind;
use crate::pg::Decay;

/// Parameters of `rl2`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct Rl2Params {
    /// Environment steps to train for (all trials together).
    #[param(min = 1, max = 1e12)]
    pub total_steps: u64,
    /// Episodes of one environment in a trial; the hidden state persists across them.
    #[param(min = 1, max = 10_000)]
    pub episodes_per_trial: usize,
    /// Trials collected (in lockstep, each on its own sampled environment) per update.
    #[param(min = 1, max = 100_000)]
    pub trials_per_iteration: usize,
    /// Trials per minibatch of the update (whole trials: gradients flow back through each).
    #[param(min = 1, max = 100_000)]
    pub minibatch_trials: usize,
    /// Passes over each iteration's trials.
    #[param(min = 1, max = 1000)]
    pub n_epochs: usize,
    /// GRU units.
    #[param(min = 1, max = 8192)]
    pub hidden: usize,
    /// Discount within a trial (across its episodes).
    #[param(min = 0, max = 1)]
    pub gamma: f64,
    /// GAE's λ.
    #[param(min = 0, max = 1)]
    pub gae_lambda: f64,
    /// Step size at the start.
    #[param(gt = 0, max = 10)]
    pub learning_rate: f64,
    /// How the step size decays.
    pub learning_rate_schedule: Decay,
    /// The optimiser.
    pub optimizer: DqnOptimizerKind,
    /// Adam's or RMSprop's ε.
    #[param(gt = 0)]
    pub optimizer_eps: f64,
    /// PPO's probability-ratio clip range ε.
    #[param(gt = 0, max = 10)]
    pub clip_range: f64,
    /// Stop an update's epochs once a minibatch's approximate KL passes 1.5 × this (0: never).
    #[param(min = 0)]
    pub target_kl: f64,
    /// Normalise advantages per minibatch.
    pub normalize_advantage: bool,
    /// Weight of the entropy bonus.
    #[param(min = 0)]
    pub ent_coef: f64,
    /// Weight of the value loss.
    #[param(min = 0)]
    pub vf_coef: f64,
    /// Clip the global gradient norm to this (0: no clipping).
    #[param(min = 0)]
    pub max_grad_norm: f64,
    /// An episode still running after this many steps is cut (the trial goes on).
    #[param(min = 1, max = 1e9)]
    pub max_episode_steps: u64,
    /// Log every this many iterations.
    #[param(min = 1)]
    pub log_every: u64,
    /// Trials (on test-split environments) per evaluation.
    #[param(min = 1, max = 10_000_000)]
    pub eval_trials: u64,
    /// Evaluate with the most likely action instead of sampling the policy.
    pub eval_deterministic: bool,
    /// Worker threads (0: every core) for the update's large products and the evaluation
    /// trials; results do not depend on it.
    #[param(min = 0, max = 256)]
    pub threads: usize,
}

impl Default for Rl2Params {
    fn default() -> Self {
        Rl2Params {
            total_steps: 1_000_000,
            episodes_per_trial: 2,
            trials_per_iteration: 32,
            minibatch_trials: 8,
            n_epochs: 4,
            hidden: 64,
            gamma: 0.99,
            gae_lambda: 0.95,
            learning_rate: 1e-3,
            learning_rate_schedule: Decay::Constant,
            optimizer: DqnOptimizerKind::Adam,
            optimizer_eps: 1e-5,
            clip_range: 0.2,
            target_kl: 0.0,
            normalize_advantage: true,
            ent_coef: 0.01,
            vf_coef: 0.5,
            max_grad_norm: 1.0,
            max_episode_steps: 1000,
            log_every: 1,
            eval_trials: 100,
            eval_deterministic: false,
            threads: 0,
        }
    }
}
