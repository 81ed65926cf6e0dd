//! DQN's hyperparameters. Defaults are Stable-Baselines3's (which follow Mnih et al., 2015,
//! scaled to small problems); the rl-baselines3-zoo CartPole values are
//! [`DqnParams::rl_zoo_cartpole`].

use autodidact_core::config::check_positive;
use autodidact_core::layers::{Activation, Init};
use autodidact_core::{Choice, Hyperparams};
use serde::{Deserialize, Serialize};

use crate::hyperparams::ScheduleKind;

/// How the step size changes over training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// `learning_rate` throughout.
    Constant,
    /// Linear from `learning_rate` to `learning_rate_final`.
    Linear,
}

/// DQN's optimiser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum DqnOptimizerKind {
    /// Adam (ε = `adam_eps`).
    Adam,
    /// RMSprop (ε = `adam_eps`), as Mnih et al.
    Rmsprop,
    /// Plain SGD.
    Sgd,
}

/// The loss on TD errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// Smooth L1 with threshold `huber_delta`.
    Huber,
    /// Squared error.
    Mse,
}

/// Parameters of `dqn`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
#[hyperparams(check = DqnParams::relations)]
pub struct DqnParams {
    /// Environment steps to train for.
    #[param(min = 1, max = 1e12)]
    pub total_steps: u64,
    /// Discount factor.
    #[param(min = 0, max = 1)]
    pub gamma: f64,
    /// Optimiser step size (at the start).
    #[param(gt = 0, max = 10)]
    pub learning_rate: f64,
    /// Constant, or linear from `learning_rate` to `learning_rate_final` over training.
    pub learning_rate_schedule: LrSchedule,
    /// The step size at the end of a `linear` schedule.
    #[param(min = 0)]
    pub learning_rate_final: f64,
    /// The optimiser.
    pub optimizer: DqnOptimizerKind,
    /// Adam's (and RMSprop's) ε.
    #[param(gt = 0)]
    pub adam_eps: f64,
    /// Transitions per gradient step.
    #[param(min = 1, max = 1_000_000)]
    pub batch_size: usize,
    /// Replay buffer capacity (oldest transitions are overwritten).
    #[param(min = 1, max = 100_000_000)]
    pub buffer_size: usize,
    /// Environment steps of uniformly random actions before learning starts.
    pub learning_starts: u64,
    /// Train every this many environment steps.
    #[param(min = 1)]
    pub train_freq: u64,
    /// Gradient steps per training round.
    #[param(min = 1, max = 1_000_000)]
    pub gradient_steps: u64,
    /// Update the target network every this many environment steps.
    #[param(min = 1)]
    pub target_update_interval: u64,
    /// Target update rate: `θ⁻ ← τθ + (1−τ)θ⁻` (1: hard copy).
    #[param(gt = 0, max = 1)]
    pub tau: f64,
    /// How ε decays.
    pub epsilon_schedule: ScheduleKind,
    /// Share of training over which ε decays.
    #[param(gt = 0, max = 1)]
    pub exploration_fraction: f64,
    /// ε at the start.
    #[param(min = 0, max = 1)]
    pub exploration_initial_eps: f64,
    /// ε at the end of the schedule.
    #[param(min = 0, max = 1)]
    pub exploration_final_eps: f64,
    /// The TD loss.
    pub loss: LossKind,
    /// Huber threshold δ.
    #[param(gt = 0)]
    pub huber_delta: f64,
    /// Clip the global gradient norm to this (0: no clipping).
    #[param(min = 0)]
    pub max_grad_norm: f64,
    /// Hidden layer widths of the Q-network.
    #[param(min = 1, max = 65_536, max_len = 64)]
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
    /// Weight initialiser.
    pub init: Init,
    /// Double DQN: the online network picks `a'`, the target network values it.
    pub double_dqn: bool,
    /// Dueling head: `Q = V + A − mean(A)`.
    pub dueling: bool,
    /// Steps of the return before bootstrapping (1: one-step TD).
    #[param(min = 1, max = 100)]
    pub n_step: usize,
    /// Prioritised replay (proportional, with importance weights).
    pub prioritized: bool,
    /// Priority exponent α.
    #[param(min = 0, max = 1)]
    pub priority_alpha: f64,
    /// Importance-weight exponent β at the start (annealed linearly to `priority_beta_final`).
    #[param(min = 0, max = 1)]
    pub priority_beta0: f64,
    /// β at the end of training.
    #[param(min = 0, max = 1)]
    pub priority_beta_final: f64,
    /// Added to |TD error| so no transition has priority 0.
    #[param(gt = 0)]
    pub priority_eps: f64,
    /// Worker threads (0: every core) sharing the row blocks of each minibatch and target
    /// batch, and the evaluation episodes; results do not depend on it.
    #[param(min = 0, max = 256)]
    pub threads: usize,
    /// Log every this many environment steps.
    #[param(min = 1)]
    pub log_every: u64,
    /// Greedy evaluation episodes.
    #[param(min = 1, max = 10_000_000)]
    pub eval_episodes: u64,
    /// Step cap of one evaluation episode.
    #[param(min = 1, max = 1e9)]
    pub eval_max_steps: u64,
}

impl Default for DqnParams {
    fn default() -> Self {
        DqnParams {
            total_steps: 100_000,
            gamma: 0.99,
            learning_rate: 1e-4,
            learning_rate_schedule: LrSchedule::Constant,
            learning_rate_final: 0.0,
            optimizer: DqnOptimizerKind::Adam,
            adam_eps: 1e-8,
            batch_size: 32,
            buffer_size: 1_000_000,
            learning_starts: 100,
            train_freq: 4,
            gradient_steps: 1,
            target_update_interval: 10_000,
            tau: 1.0,
            epsilon_schedule: ScheduleKind::Linear,
            exploration_fraction: 0.1,
            exploration_initial_eps: 1.0,
            exploration_final_eps: 0.05,
            loss: LossKind::Huber,
            huber_delta: 1.0,
            max_grad_norm: 10.0,
            hidden: vec![64, 64],
            activation: Activation::Relu,
            init: Init::TorchDefault,
            double_dqn: false,
            dueling: false,
            n_step: 1,
            prioritized: false,
            priority_alpha: 0.6,
            priority_beta0: 0.4,
            priority_beta_final: 1.0,
            priority_eps: 1e-6,
            threads: 0,
            log_every: 1000,
            eval_episodes: 10,
            eval_max_steps: 10_000,
        }
    }
}

impl DqnParams {
    /// rl-baselines3-zoo's tuned DQN for CartPole-v1 (`hyperparams/dqn.yml`): lr 2.3e-3,
    /// batch 64, buffer 100,000, learning starts 1,000, γ 0.99, target update every 10
    /// steps, train frequency 256, 128 gradient steps, ε to 0.04 over the first 16 %,
    /// network [256, 256], 50,000 steps.
    pub fn rl_zoo_cartpole() -> DqnParams {
        DqnParams {
            total_steps: 50_000,
            learning_rate: 2.3e-3,
            batch_size: 64,
            buffer_size: 100_000,
            learning_starts: 1000,
            gamma: 0.99,
            target_update_interval: 10,
            train_freq: 256,
            gradient_steps: 128,
            exploration_fraction: 0.16,
            exploration_final_eps: 0.04,
            hidden: vec![256, 256],
            ..DqnParams::default()
        }
    }
}

impl DqnParams {
    /// Checks the relations between fields that bounds cannot state.
    fn relations(&self) -> autodidact_core::Result<()> {
        if self.epsilon_schedule == ScheduleKind::Exponential {
            check_positive("exploration_initial_eps", self.exploration_initial_eps)?;
            check_positive("exploration_final_eps", self.exploration_final_eps)?;
        }
        Ok(())
    }
}
