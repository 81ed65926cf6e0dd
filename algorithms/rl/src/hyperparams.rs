//! Hyperparameters of the exact solvers and the tabular learners (DQN's are in
//! [`crate::dqn::hyperparams`]). Every struct reads from TOML with defaults for missing keys
//! and refuses unknown keys.

use autodidact_core::config::{check_positive, check_range};
use autodidact_core::{Choice, CoreError, Hyperparams};
use serde::{Deserialize, Serialize};

/// The policy `policy-evaluation` evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum EvaluatedPolicy {
    /// Every action with equal probability.
    Uniform,
    /// The optimal policy (found by value iteration).
    Optimal,
    /// Always `action`.
    Constant,
    /// One action per state, from `actions`.
    Actions,
}

/// How `policy-evaluation` solves for V.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum SolveMethod {
    /// Sweeps to `tolerance`.
    Iterative,
    /// One linear solve.
    Direct,
}

/// How `policy-iteration` evaluates each policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum PiEvaluation {
    /// A linear solve.
    Exact,
    /// Sweeps to `tolerance`.
    Iterative,
}

/// The shape of a decaying value (ε, a learning rate) over training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    /// Linear from start to end over the decay's share of training.
    Linear,
    /// Geometric from start to end (both must be positive).
    Exponential,
    /// The start value throughout.
    Constant,
}

/// Parameters of `policy-evaluation`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
#[hyperparams(check = PolicyEvaluationParams::relations)]
pub struct PolicyEvaluationParams {
    /// Sweep limit (one step = one sweep; a direct solve is one step).
    #[param(min = 1, max = 1e12)]
    pub total_steps: u64,
    /// Discount factor.
    #[param(min = 0, max = 1)]
    pub gamma: f64,
    /// Which policy: uniform, optimal, constant (always `action`) or one action per state.
    pub policy: EvaluatedPolicy,
    /// The action of the `constant` policy.
    pub action: usize,
    /// One action per state, for the `actions` policy.
    pub actions: Vec<usize>,
    /// Sweeps to `tolerance`, or one linear solve.
    pub method: SolveMethod,
    /// Stop sweeping when `‖ΔV‖∞` falls below this.
    #[param(gt = 0)]
    pub tolerance: f64,
    /// Log every this many sweeps.
    #[param(min = 1)]
    pub log_every: u64,
}

impl Default for PolicyEvaluationParams {
    fn default() -> Self {
        PolicyEvaluationParams {
            total_steps: 100_000,
            gamma: 0.99,
            policy: EvaluatedPolicy::Uniform,
            action: 0,
            actions: Vec::new(),
            method: SolveMethod::Iterative,
            tolerance: 1e-10,
            log_every: 10,
        }
    }
}

impl PolicyEvaluationParams {
    /// Checks the relations between fields that bounds cannot state.
    fn relations(&self) -> autodidact_core::Result<()> {
        if self.policy == EvaluatedPolicy::Actions && self.actions.is_empty() {
            return Err(CoreError::Config {
                key: "actions".into(),
                reason: "`policy = \"actions\"` needs one action per state".into(),
            });
        }
        Ok(())
    }
}

/// Parameters of `value-iteration`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct ValueIterationParams {
    /// Sweep limit (one step = one sweep).
    #[param(min = 1, max = 1e12)]
    pub total_steps: u64,
    /// Discount factor.
    #[param(min = 0, max = 1)]
    pub gamma: f64,
    /// Stop when `‖ΔV‖∞` falls below this.
    #[param(gt = 0)]
    pub tolerance: f64,
    /// Log every this many sweeps.
    #[param(min = 1)]
    pub log_every: u64,
}

impl Default for ValueIterationParams {
    fn default() -> Self {
        ValueIterationParams {
            total_steps: 100_000,
            gamma: 0.99,
            tolerance: 1e-10,
            log_every: 10,
        }
    }
}

/// Parameters of `policy-iteration`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyIterationParams {
    /// Limit on improvement steps (one step = one evaluation and one improvement).
    #[param(min = 1, max = 1e12)]
    pub total_steps: u64,
    /// Discount factor.
    #[param(min = 0, max = 1)]
    pub gamma: f64,
    /// Evaluate each policy by a linear solve, or by sweeps to `tolerance`.
    pub evaluation: PiEvaluation,
    /// Tolerance of iterative evaluation.
    #[param(gt = 0)]
    pub tolerance: f64,
    /// Sweep limit of one iterative evaluation.
    #[param(min = 1)]
    pub eval_max_sweeps: u64,
    /// Log every this many improvement steps.
    #[param(min = 1)]
    pub log_every: u64,
}

impl Default for PolicyIterationParams {
    fn default() -> Self {
        PolicyIterationParams {
            total_steps: 1000,
            gamma: 0.99,
            evaluation: PiEvaluation::Exact,
            tolerance: 1e-10,
            eval_max_sweeps: 100_000,
            log_every: 1,
        }
    }
}

/// Parameters of `q-learning`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
#[hyperparams(check = QLearningParams::relations)]
pub struct QLearningParams {
    /// Environment steps to train for.
    #[param(min = 1, max = 1e12)]
    pub total_steps: u64,
    /// Discount factor.
    #[param(min = 0, max = 1)]
    pub gamma: f64,
    /// Step size α (at the start).
    #[param(gt = 0, max = 1)]
    pub learning_rate: f64,
    /// Step size at the end of training (linear decay; equal to `learning_rate`: constant).
    #[param(gt = 0, max = 1)]
    pub learning_rate_final: f64,
    /// How ε decays.
    pub epsilon_schedule: ScheduleKind,
    /// ε at the start.
    #[param(min = 0, max = 1)]
    pub epsilon_start: f64,
    /// ε at the end of the schedule.
    #[param(min = 0, max = 1)]
    pub epsilon_end: f64,
    /// Share of training over which ε goes from start to end.
    #[param(gt = 0, max = 1)]
    pub exploration_fraction: f64,
    /// Initial value of every `Q(s, a)` (optimism explores).
    pub q_init: f64,
    /// Log every this many environment steps.
    #[param(min = 1)]
    pub log_every: u64,
    /// Greedy evaluation episodes.
    #[param(min = 1, max = 10_000_000)]
    pub eval_episodes: u64,
    /// Step cap of one evaluation episode (for environments without a time limit).
    #[param(min = 1, max = 1e9)]
    pub eval_max_steps: u64,
}

impl Default for QLearningParams {
    fn default() -> Self {
        QLearningParams {
            total_steps: 100_000,
            gamma: 0.99,
            learning_rate: 0.1,
            learning_rate_final: 0.1,
            epsilon_schedule: ScheduleKind::Linear,
            epsilon_start: 1.0,
            epsilon_end: 0.05,
            exploration_fraction: 0.5,
            q_init: 0.0,
            log_every: 1000,
            eval_episodes: 20,
            eval_max_steps: 10_000,
        }
    }
}

/// Parameters of `sarsa` (Q-learning's, plus `expected`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
#[hyperparams(check = SarsaParams::relations)]
pub struct SarsaParams {
    /// Environment steps to train for.
    #[param(min = 1, max = 1e12)]
    pub total_steps: u64,
    /// Discount factor.
    #[param(min = 0, max = 1)]
    pub gamma: f64,
    /// Step size α (at the start).
    #[param(gt = 0, max = 1)]
    pub learning_rate: f64,
    /// Step size at the end of training (linear decay; equal to `learning_rate`: constant).
    #[param(gt = 0, max = 1)]
    pub learning_rate_final: f64,
    /// How ε decays.
    pub epsilon_schedule: ScheduleKind,
    /// ε at the start.
    #[param(min = 0, max = 1)]
    pub epsilon_start: f64,
    /// ε at the end of the schedule.
    #[param(min = 0, max = 1)]
    pub epsilon_end: f64,
    /// Share of training over which ε goes from start to end.
    #[param(gt = 0, max = 1)]
    pub exploration_fraction: f64,
    /// Initial value of every `Q(s, a)`.
    pub q_init: f64,
    /// Expected SARSA: bootstrap on `Σ_a' π(a'|s') Q(s', a')` instead of the sampled `a'`.
    pub expected: bool,
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

impl Default for SarsaParams {
    fn default() -> Self {
        let q = QLearningParams::default();
        SarsaParams {
            total_steps: q.total_steps,
            gamma: q.gamma,
            learning_rate: q.learning_rate,
            learning_rate_final: q.learning_rate_final,
            epsilon_schedule: q.epsilon_schedule,
            epsilon_start: q.epsilon_start,
            epsilon_end: q.epsilon_end,
            exploration_fraction: q.exploration_fraction,
            q_init: q.q_init,
            expected: false,
            log_every: q.log_every,
            eval_episodes: q.eval_episodes,
            eval_max_steps: q.eval_max_steps,
        }
    }
}

/// The settings the tabular learners share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TabularSettings {
    /// Environment steps to train for.
    pub total_steps: u64,
    /// Discount factor.
    pub gamma: f64,
    /// Step size at the start.
    pub learning_rate: f64,
    /// Step size at the end.
    pub learning_rate_final: f64,
    /// How ε decays.
    pub epsilon_schedule: ScheduleKind,
    /// ε at the start.
    pub epsilon_start: f64,
    /// ε at the end.
    pub epsilon_end: f64,
    /// Share of training over which ε decays.
    pub exploration_fraction: f64,
    /// Initial Q values.
    pub q_init: f64,
    /// Expected SARSA (SARSA only).
    pub expected: bool,
    /// Log period.
    pub log_every: u64,
    /// Evaluation episodes.
    pub eval_episodes: u64,
    /// Evaluation step cap.
    pub eval_max_steps: u64,
}

impl From<&QLearningParams> for TabularSettings {
    fn from(p: &QLearningParams) -> Self {
        TabularSettings {
            total_steps: p.total_steps,
            gamma: p.gamma,
            learning_rate: p.learning_rate,
            learning_rate_final: p.learning_rate_final,
            epsilon_schedule: p.epsilon_schedule,
            epsilon_start: p.epsilon_start,
            epsilon_end: p.epsilon_end,
            exploration_fraction: p.exploration_fraction,
            q_init: p.q_init,
            expected: false,
            log_every: p.log_every,
            eval_episodes: p.eval_episodes,
            eval_max_steps: p.eval_max_steps,
        }
    }
}

impl From<&SarsaParams> for TabularSettings {
    fn from(p: &SarsaParams) -> Self {
        TabularSettings {
            total_steps: p.total_steps,
            gamma: p.gamma,
            learning_rate: p.learning_rate,
            learning_rate_final: p.learning_rate_final,
            epsilon_schedule: p.epsilon_schedule,
            epsilon_start: p.epsilon_start,
            epsilon_end: p.epsilon_end,
            exploration_fraction: p.exploration_fraction,
            q_init: p.q_init,
            expected: p.expected,
            log_every: p.log_every,
            eval_episodes: p.eval_episodes,
            eval_max_steps: p.eval_max_steps,
        }
    }
}

fn validate_tabular(s: &TabularSettings) -> autodidact_core::Result<()> {
    check_range("q_init", s.q_init, f64::MIN, f64::MAX)?;
    if s.epsilon_schedule == ScheduleKind::Exponential {
        check_positive("epsilon_start", s.epsilon_start)?;
        check_positive("epsilon_end", s.epsilon_end)?;
    }
    Ok(())
}

impl QLearningParams {
    /// Checks the relations between fields that bounds cannot state.
    fn relations(&self) -> autodidact_core::Result<()> {
        validate_tabular(&self.into())
    }
}

impl SarsaParams {
    /// Checks the relations between fields that bounds cannot state.
    fn relations(&self) -> autodidact_core::Result<()> {
        validate_tabular(&self.into())
    }
}
