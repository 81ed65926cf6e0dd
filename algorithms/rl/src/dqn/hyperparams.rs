//! DQN's hyperparameters. Defaults are Stable-Baselines3's (which follow Mnih et al., 2015,
//! scaled to small problems); the rl-baselines3-zoo CartPole values are
//! [`DqnParams::rl_zoo_cartpole`].

use autodidact_core::config::{check_one_of, check_positive, check_range};
use autodidact_core::{CoreError, Hyperparams, ParamDoc};
use serde::{Deserialize, Serialize};

use crate::hyperparams::{check_at_least_one, check_gamma_key, EPSILON_SCHEDULES};

/// Activation names accepted by `activation`.
pub const ACTIVATIONS: &[&str] = &["relu", "tanh", "sigmoid", "leaky-relu", "elu", "identity"];
/// Initialiser names accepted by `init`.
pub const INITS: &[&str] = &[
    "torch-default",
    "kaiming-uniform",
    "kaiming-normal",
    "xavier-uniform",
    "xavier-normal",
];

/// Parameters of `dqn`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DqnParams {
    /// Environment steps to train for.
    pub total_steps: u64,
    /// Discount factor.
    pub gamma: f64,
    /// Optimiser step size (at the start).
    pub learning_rate: f64,
    /// `constant`, or `linear` from `learning_rate` to `learning_rate_final` over training.
    pub learning_rate_schedule: String,
    /// The step size at the end of a `linear` schedule.
    pub learning_rate_final: f64,
    /// `adam`, `rmsprop` or `sgd`.
    pub optimizer: String,
    /// Adam's (and RMSprop's) ε.
    pub adam_eps: f64,
    /// Transitions per gradient step.
    pub batch_size: usize,
    /// Replay buffer capacity (oldest transitions are overwritten).
    pub buffer_size: usize,
    /// Environment steps of uniformly random actions before learning starts.
    pub learning_starts: u64,
    /// Train every this many environment steps.
    pub train_freq: u64,
    /// Gradient steps per training round.
    pub gradient_steps: u64,
    /// Update the target network every this many environment steps.
    pub target_update_interval: u64,
    /// Target update rate: `θ⁻ ← τθ + (1−τ)θ⁻` (1: hard copy).
    pub tau: f64,
    /// `linear`, `exponential` or `constant` ε.
    pub epsilon_schedule: String,
    /// Share of training over which ε decays.
    pub exploration_fraction: f64,
    /// ε at the start.
    pub exploration_initial_eps: f64,
    /// ε at the end of the schedule.
    pub exploration_final_eps: f64,
    /// `huber` (smooth L1) or `mse`.
    pub loss: String,
    /// Huber threshold δ.
    pub huber_delta: f64,
    /// Clip the global gradient norm to this (0: no clipping).
    pub max_grad_norm: f64,
    /// Hidden layer widths of the Q-network.
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: String,
    /// Weight initialiser.
    pub init: String,
    /// Double DQN: the online network picks `a'`, the target network values it.
    pub double_dqn: bool,
    /// Dueling head: `Q = V + A − mean(A)`.
    pub dueling: bool,
    /// Steps of the return before bootstrapping (1: one-step TD).
    pub n_step: usize,
    /// Prioritised replay (proportional, with importance weights).
    pub prioritized: bool,
    /// Priority exponent α.
    pub priority_alpha: f64,
    /// Importance-weight exponent β at the start (annealed linearly to `priority_beta_final`).
    pub priority_beta0: f64,
    /// β at the end of training.
    pub priority_beta_final: f64,
    /// Added to |TD error| so no transition has priority 0.
    pub priority_eps: f64,
    /// Threads sharing the row blocks of each minibatch and target batch (speed only: the
    /// results are the same bits whatever the value).
    pub threads: usize,
    /// Log every this many environment steps.
    pub log_every: u64,
    /// Greedy evaluation episodes.
    pub eval_episodes: u64,
    /// Step cap of one evaluation episode.
    pub eval_max_steps: u64,
}

impl Default for DqnParams {
    fn default() -> Self {
        DqnParams {
            total_steps: 100_000,
            gamma: 0.99,
            learning_rate: 1e-4,
            learning_rate_schedule: "constant".into(),
            learning_rate_final: 0.0,
            optimizer: "adam".into(),
            adam_eps: 1e-8,
            batch_size: 32,
            buffer_size: 1_000_000,
            learning_starts: 100,
            train_freq: 4,
            gradient_steps: 1,
            target_update_interval: 10_000,
            tau: 1.0,
            epsilon_schedule: "linear".into(),
            exploration_fraction: 0.1,
            exploration_initial_eps: 1.0,
            exploration_final_eps: 0.05,
            loss: "huber".into(),
            huber_delta: 1.0,
            max_grad_norm: 10.0,
            hidden: vec![64, 64],
            activation: "relu".into(),
            init: "torch-default".into(),
            double_dqn: false,
            dueling: false,
            n_step: 1,
            prioritized: false,
            priority_alpha: 0.6,
            priority_beta0: 0.4,
            priority_beta_final: 1.0,
            priority_eps: 1e-6,
            threads: 1,
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

impl Hyperparams for DqnParams {
    fn docs() -> Vec<ParamDoc> {
        vec![
            ParamDoc { key: "total_steps", ty: "integer", range: ">= 1", doc: "environment steps to train for" },
            ParamDoc { key: "gamma", ty: "float", range: "0 ..= 1", doc: "discount factor γ" },
            ParamDoc { key: "learning_rate", ty: "float", range: "> 0", doc: "optimiser step size" },
            ParamDoc { key: "learning_rate_schedule", ty: "string", range: "one of: constant, linear", doc: "keep the step size, or decay it linearly to learning_rate_final over training" },
            ParamDoc { key: "learning_rate_final", ty: "float", range: ">= 0", doc: "the step size at the end of a linear schedule" },
            ParamDoc { key: "optimizer", ty: "string", range: "one of: adam, rmsprop, sgd", doc: "the optimiser" },
            ParamDoc { key: "adam_eps", ty: "float", range: "> 0", doc: "ε in Adam's (and RMSprop's) denominator" },
            ParamDoc { key: "batch_size", ty: "integer", range: ">= 1", doc: "transitions per gradient step" },
            ParamDoc { key: "buffer_size", ty: "integer", range: ">= 1", doc: "replay capacity; the oldest transitions are overwritten" },
            ParamDoc { key: "learning_starts", ty: "integer", range: ">= 0", doc: "environment steps of uniformly random actions before training starts" },
            ParamDoc { key: "train_freq", ty: "integer", range: ">= 1", doc: "train every this many environment steps" },
            ParamDoc { key: "gradient_steps", ty: "integer", range: ">= 1", doc: "gradient steps per training round" },
            ParamDoc { key: "target_update_interval", ty: "integer", range: ">= 1", doc: "update the target network every this many environment steps (as Stable-Baselines3 counts)" },
            ParamDoc { key: "tau", ty: "float", range: "0 < τ <= 1", doc: "target update θ⁻ ← τθ + (1−τ)θ⁻ (1: hard copy; < 1: Polyak averaging)" },
            ParamDoc { key: "epsilon_schedule", ty: "string", range: "one of: linear, exponential, constant", doc: "how ε goes from the initial to the final value" },
            ParamDoc { key: "exploration_fraction", ty: "float", range: "0 < f <= 1", doc: "share of training over which ε decays" },
            ParamDoc { key: "exploration_initial_eps", ty: "float", range: "0 ..= 1", doc: "ε at the start" },
            ParamDoc { key: "exploration_final_eps", ty: "float", range: "0 ..= 1", doc: "ε at the end of the schedule" },
            ParamDoc { key: "loss", ty: "string", range: "one of: huber, mse", doc: "TD loss: Huber (smooth L1) or squared error" },
            ParamDoc { key: "huber_delta", ty: "float", range: "> 0", doc: "Huber threshold δ" },
            ParamDoc { key: "max_grad_norm", ty: "float", range: ">= 0", doc: "clip the global gradient norm to this (0: off)" },
            ParamDoc { key: "hidden", ty: "list of integers", range: "each >= 1", doc: "hidden layer widths of the Q-network" },
            ParamDoc { key: "activation", ty: "string", range: "one of: relu, tanh, sigmoid, leaky-relu, elu, identity", doc: "hidden activation" },
            ParamDoc { key: "init", ty: "string", range: "one of: torch-default, kaiming-uniform, kaiming-normal, xavier-uniform, xavier-normal", doc: "weight initialiser (biases: PyTorch's default)" },
            ParamDoc { key: "double_dqn", ty: "bool", range: "true or false", doc: "Double DQN (van Hasselt et al., 2016): the online network picks a', the target network values it" },
            ParamDoc { key: "dueling", ty: "bool", range: "true or false", doc: "dueling head Q = V + A − mean(A) (Wang et al., 2016)" },
            ParamDoc { key: "n_step", ty: "integer", range: "1 ..= 100", doc: "n-step returns before bootstrapping (1: one-step TD)" },
            ParamDoc { key: "prioritized", ty: "bool", range: "true or false", doc: "proportional prioritised replay with importance weights (Schaul et al., 2016)" },
            ParamDoc { key: "priority_alpha", ty: "float", range: "0 ..= 1", doc: "priority exponent α" },
            ParamDoc { key: "priority_beta0", ty: "float", range: "0 ..= 1", doc: "importance-weight exponent β at the start" },
            ParamDoc { key: "priority_beta_final", ty: "float", range: "0 ..= 1", doc: "β at the end of training (linear anneal)" },
            ParamDoc { key: "priority_eps", ty: "float", range: "> 0", doc: "added to |TD error| so every transition can be drawn" },
            ParamDoc { key: "threads", ty: "integer", range: "1 ..= 16", doc: "threads sharing the row blocks of each minibatch (blocks of up to 64 rows) and target batch (up to 512 rows); blocks are fixed by the data and summed in order, so every value gives the same bits" },
            ParamDoc { key: "log_every", ty: "integer", range: ">= 1", doc: "log every this many environment steps" },
            ParamDoc { key: "eval_episodes", ty: "integer", range: ">= 1", doc: "greedy evaluation episodes" },
            ParamDoc { key: "eval_max_steps", ty: "integer", range: ">= 1", doc: "step cap of one evaluation episode" },
        ]
    }

    fn validate(&self) -> autodidact_core::Result<()> {
        check_at_least_one("total_steps", self.total_steps)?;
        check_gamma_key(self.gamma)?;
        check_positive("learning_rate", self.learning_rate)?;
        check_one_of(
            "learning_rate_schedule",
            &self.learning_rate_schedule,
            &["constant", "linear"],
        )?;
        check_range(
            "learning_rate_final",
            self.learning_rate_final,
            0.0,
            f64::MAX,
        )?;
        check_one_of("optimizer", &self.optimizer, &["adam", "rmsprop", "sgd"])?;
        check_positive("adam_eps", self.adam_eps)?;
        check_at_least_one("batch_size", self.batch_size as u64)?;
        check_at_least_one("buffer_size", self.buffer_size as u64)?;
        check_at_least_one("train_freq", self.train_freq)?;
        check_at_least_one("gradient_steps", self.gradient_steps)?;
        check_at_least_one("target_update_interval", self.target_update_interval)?;
        check_range("tau", self.tau, f64::MIN_POSITIVE, 1.0)?;
        check_one_of(
            "epsilon_schedule",
            &self.epsilon_schedule,
            EPSILON_SCHEDULES,
        )?;
        check_range(
            "exploration_fraction",
            self.exploration_fraction,
            f64::MIN_POSITIVE,
            1.0,
        )?;
        check_range(
            "exploration_initial_eps",
            self.exploration_initial_eps,
            0.0,
            1.0,
        )?;
        check_range(
            "exploration_final_eps",
            self.exploration_final_eps,
            0.0,
            1.0,
        )?;
        if self.epsilon_schedule == "exponential" {
            check_positive("exploration_initial_eps", self.exploration_initial_eps)?;
            check_positive("exploration_final_eps", self.exploration_final_eps)?;
        }
        check_one_of("loss", &self.loss, &["huber", "mse"])?;
        check_positive("huber_delta", self.huber_delta)?;
        check_range("max_grad_norm", self.max_grad_norm, 0.0, f64::MAX)?;
        if let Some(i) = self.hidden.iter().position(|&h| h == 0) {
            return Err(CoreError::Config {
                key: "hidden".into(),
                reason: format!("width {i} is 0; every hidden width must be >= 1"),
            });
        }
        check_one_of("activation", &self.activation, ACTIVATIONS)?;
        check_one_of("init", &self.init, INITS)?;
        check_range("n_step", self.n_step as f64, 1.0, 100.0)?;
        check_range("priority_alpha", self.priority_alpha, 0.0, 1.0)?;
        check_range("priority_beta0", self.priority_beta0, 0.0, 1.0)?;
        check_range("priority_beta_final", self.priority_beta_final, 0.0, 1.0)?;
        check_positive("priority_eps", self.priority_eps)?;
        check_range("threads", self.threads as f64, 1.0, 16.0)?;
        check_at_least_one("log_every", self.log_every)?;
        check_at_least_one("eval_episodes", self.eval_episodes)?;
        check_at_least_one("eval_max_steps", self.eval_max_steps)?;
        Ok(())
    }
}
