//! The policy-gradient family's hyperparameters: one struct for `reinforce`, `a2c` and `ppo`,
//! with each method's defaults ([`PgParams::reinforce`], [`PgParams::a2c`], [`PgParams::ppo`]:
//! Stable-Baselines3's for A2C and PPO) and the rl-baselines3-zoo tuned sets the results use.
//! Keys a method does not read are named in their documentation ("ppo:").

use autodidact_core::layers::Activation;
use autodidact_core::{Choice, Hyperparams};
use serde::{Deserialize, Serialize};

use crate::dqn::hyperparams::DqnOptimizerKind;

/// Which policy-gradient method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Monte-Carlo policy gradient with a learned baseline (Williams, 1992).
    Reinforce,
    /// Synchronous advantage actor-critic (Mnih et al., 2016).
    A2c,
    /// Proximal policy optimisation, clipped surrogate (Schulman et al., 2017).
    Ppo,
}

impl Method {
    /// The registered name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Reinforce => "reinforce",
            Method::A2c => "a2c",
            Method::Ppo => "ppo",
        }
    }
}

/// How a value changes over training (progress `f = steps_done / total_steps`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum Decay {
    /// The start value throughout.
    Constant,
    /// `start · (1 − f)`: Stable-Baselines3's and rl-zoo's `lin_<start>`.
    Linear,
}

impl Decay {
    /// The value at progress `f` in `0..=1`.
    pub fn at(self, start: f64, f: f64) -> f64 {
        match self {
            Decay::Constant => start,
            Decay::Linear => start * (1.0 - f.clamp(0.0, 1.0)),
        }
    }
}

/// How a Gaussian sample `u` becomes an action within the box's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum Squash {
    /// The action is `clip(u, low, high)`; the log-density is `u`'s (Stable-Baselines3's
    /// default).
    Clip,
    /// The action is `low + (tanh(u) + 1)(high − low)/2`; its log-density differs from `u`'s by
    /// a term that does not depend on the parameters, so the gradients are `u`'s.
    Tanh,
}

/// The weights' initialisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum PgInit {
    /// Orthogonal, gain √2 on hidden layers, 0.01 on the policy head, 1 on the value head,
    /// zero biases (Stable-Baselines3 and CleanRL).
    Orthogonal,
    /// PyTorch's default uniform initialisation.
    TorchDefault,
}

/// Parameters of `reinforce`, `a2c` and `ppo`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct PgParams {
    /// Environment steps to train for (all copies together).
    #[param(min = 1, max = 1e12)]
    pub total_steps: u64,
    /// Copies of the environment stepped in lockstep.
    #[param(min = 1, max = 4096)]
    pub n_envs: usize,
    /// a2c, ppo: steps per copy in each rollout (a rollout is `n_steps · n_envs` steps).
    #[param(min = 1, max = 1_000_000)]
    pub n_steps: usize,
    /// reinforce: finished episodes per update.
    #[param(min = 1, max = 1_000_000)]
    pub episodes_per_update: usize,
    /// Discount factor.
    #[param(min = 0, max = 1)]
    pub gamma: f64,
    /// GAE's λ (1: n-step returns to the end of the rollout; 0: one-step TD).
    #[param(min = 0, max = 1)]
    pub gae_lambda: f64,
    /// Step size at the start.
    #[param(gt = 0, max = 10)]
    pub learning_rate: f64,
    /// How the step size decays.
    pub learning_rate_schedule: Decay,
    /// The optimiser (Adam for reinforce and ppo, RMSprop for a2c by default).
    pub optimizer: DqnOptimizerKind,
    /// Adam's or RMSprop's ε.
    #[param(gt = 0)]
    pub optimizer_eps: f64,
    /// ppo: passes over each rollout.
    #[param(min = 1, max = 10_000)]
    pub n_epochs: usize,
    /// ppo: minibatch size (a rollout is split into `n_steps · n_envs / batch_size` of them).
    #[param(min = 1, max = 100_000_000)]
    pub batch_size: usize,
    /// ppo: the probability ratio's clip range ε at the start.
    #[param(gt = 0, max = 10)]
    pub clip_range: f64,
    /// ppo: how the clip range decays.
    pub clip_range_schedule: Decay,
    /// ppo: clip the value change to this around the rollout's values (0: no clipping).
    #[param(min = 0)]
    pub clip_range_vf: f64,
    /// ppo: stop an update's epochs once the approximate KL passes 1.5 × this (0: never).
    #[param(min = 0)]
    pub target_kl: f64,
    /// Normalise advantages (per minibatch for ppo, per rollout for a2c; per update of
    /// returns for reinforce, see `normalize_returns`).
    pub normalize_advantage: bool,
    /// reinforce: normalise the reward-to-go of each update to mean 0, std 1.
    pub normalize_returns: bool,
    /// reinforce: subtract the learned state value from the reward-to-go.
    pub baseline: bool,
    /// Weight of the entropy bonus.
    #[param(min = 0)]
    pub ent_coef: f64,
    /// Weight of the value loss.
    #[param(min = 0)]
    pub vf_coef: f64,
    /// Clip the global gradient norm to this (0: no clipping).
    #[param(min = 0)]
    pub max_grad_norm: f64,
    /// Hidden layer widths of the policy and the value networks.
    #[param(min = 1, max = 65_536, max_len = 64)]
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
    /// One trunk for the policy and value heads, instead of two networks.
    pub shared_network: bool,
    /// Weight initialisation.
    pub init: PgInit,
    /// The Gaussian policy's initial log standard deviation.
    #[param(min = -20, max = 5)]
    pub log_std_init: f64,
    /// How a Gaussian sample becomes an action within the bounds.
    pub squash: Squash,
    /// Log every this many environment steps.
    #[param(min = 1)]
    pub log_every: u64,
    /// Deterministic evaluation episodes (the most likely action, or the mean).
    #[param(min = 1, max = 10_000_000)]
    pub eval_episodes: u64,
    /// Step cap of one evaluation episode.
    #[param(min = 1, max = 1e9)]
    pub eval_max_steps: u64,
    /// Worker threads (0: every core) for the updates' large products and the evaluation
    /// episodes; results do not depend on it.
    #[param(min = 0, max = 256)]
    pub threads: usize,
}

impl Default for PgParams {
    fn default() -> Self {
        PgParams::ppo()
    }
}

impl PgParams {
    /// Stable-Baselines3's PPO defaults: 1 copy, 2048 steps, 10 epochs of minibatches of 64,
    /// lr 3e-4, clip 0.2, γ 0.99, λ 0.95, value coefficient 0.5, gradient norm 0.5,
    /// advantages normalised, separate [64, 64] tanh networks, orthogonal initialisation.
    pub fn ppo() -> PgParams {
        PgParams {
            total_steps: 1_000_000,
            n_envs: 1,
            n_steps: 2048,
            episodes_per_update: 1,
            gamma: 0.99,
            gae_lambda: 0.95,
            learning_rate: 3e-4,
            learning_rate_schedule: Decay::Constant,
            optimizer: DqnOptimizerKind::Adam,
            optimizer_eps: 1e-5,
            n_epochs: 10,
            batch_size: 64,
            clip_range: 0.2,
            clip_range_schedule: Decay::Constant,
            clip_range_vf: 0.0,
            target_kl: 0.0,
            normalize_advantage: true,
            normalize_returns: false,
            baseline: true,
            ent_coef: 0.0,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            hidden: vec![64, 64],
            activation: Activation::Tanh,
            shared_network: false,
            init: PgInit::Orthogonal,
            log_std_init: 0.0,
            squash: Squash::Clip,
            log_every: 2048,
            eval_episodes: 10,
            eval_max_steps: 100_000,
            threads: 0,
        }
    }

    /// Stable-Baselines3's A2C defaults: 1 copy, 5 steps, RMSprop (lr 7e-4, ε 1e-5), λ 1
    /// (n-step returns), value coefficient 0.5, gradient norm 0.5, advantages not normalised.
    pub fn a2c() -> PgParams {
        PgParams {
            n_steps: 5,
            gae_lambda: 1.0,
            learning_rate: 7e-4,
            optimizer: DqnOptimizerKind::Rmsprop,
            normalize_advantage: false,
            log_every: 1000,
            ..PgParams::ppo()
        }
    }

    /// REINFORCE with a learned baseline: 1 copy, one episode per update, Adam lr 1e-3,
    /// reward-to-go, no gradient clipping.
    pub fn reinforce() -> PgParams {
        PgParams {
            learning_rate: 1e-3,
            normalize_advantage: false,
            max_grad_norm: 0.0,
            log_every: 1000,
            ..PgParams::ppo()
        }
    }

    /// rl-baselines3-zoo's tuned PPO for CartPole-v1 (`hyperparams/ppo.yml`): 8 copies,
    /// 32 steps, minibatches of 256, λ 0.8, γ 0.98, 20 epochs, no entropy bonus, lr and clip
    /// range linear from 1e-3 and 0.2, 100,000 steps.
    pub fn ppo_zoo_cartpole() -> PgParams {
        PgParams {
            total_steps: 100_000,
            n_envs: 8,
            n_steps: 32,
            batch_size: 256,
            gae_lambda: 0.8,
            gamma: 0.98,
            n_epochs: 20,
            ent_coef: 0.0,
            learning_rate: 1e-3,
            learning_rate_schedule: Decay::Linear,
            clip_range: 0.2,
            clip_range_schedule: Decay::Linear,
            log_every: 2048,
            ..PgParams::ppo()
        }
    }

    /// rl-baselines3-zoo's A2C for CartPole-v1 (`hyperparams/a2c.yml`): 8 copies, no entropy
    /// bonus, 500,000 steps, everything else A2C's defaults.
    pub fn a2c_zoo_cartpole() -> PgParams {
        PgParams {
            total_steps: 500_000,
            n_envs: 8,
            ent_coef: 0.0,
            log_every: 4000,
            ..PgParams::a2c()
        }
    }

    /// rl-baselines3-zoo's PPO for Pendulum-v1 (`hyperparams/ppo.yml`) without gSDE: 4 copies,
    /// 1024 steps, λ 0.95, γ 0.9, 10 epochs, lr 1e-3, clip 0.2, 100,000 steps.
    pub fn ppo_zoo_pendulum() -> PgParams {
        PgParams {
            total_steps: 100_000,
            n_envs: 4,
            n_steps: 1024,
            gae_lambda: 0.95,
            gamma: 0.9,
            n_epochs: 10,
            ent_coef: 0.0,
            learning_rate: 1e-3,
            clip_range: 0.2,
            log_every: 4096,
            ..PgParams::ppo()
        }
    }
}
