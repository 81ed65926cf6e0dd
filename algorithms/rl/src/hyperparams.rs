//! Hyperparameters of the exact solvers and the tabular learners (DQN's are in
//! [`crate::dqn::hyperparams`]). Every struct reads from TOML with defaults for missing keys
//! and refuses unknown keys.

use autodidact_core::config::{check_one_of, check_positive, check_range};
use autodidact_core::{CoreError, Hyperparams, ParamDoc};
use serde::{Deserialize, Serialize};

/// An error unless `0 <= gamma <= 1`.
pub(crate) fn check_gamma_key(gamma: f64) -> autodidact_core::Result<()> {
    check_range("gamma", gamma, 0.0, 1.0)
}

/// An error unless `value >= 1`.
pub(crate) fn check_at_least_one(key: &str, value: u64) -> autodidact_core::Result<()> {
    if value >= 1 {
        Ok(())
    } else {
        Err(CoreError::Config {
            key: key.into(),
            reason: format!("{value} must be >= 1"),
        })
    }
}

const GAMMA_DOC: ParamDoc = ParamDoc {
    key: "gamma",
    ty: "float",
    range: "0 ..= 1",
    doc: "discount factor γ (with 1, evaluated policies must terminate)",
};

/// The policies `policy-evaluation` can evaluate.
pub const EVALUATED_POLICIES: &[&str] = &["uniform", "optimal", "constant", "actions"];

/// Parameters of `policy-evaluation`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyEvaluationParams {
    /// Sweep limit (one step = one sweep; a direct solve is one step).
    pub total_steps: u64,
    /// Discount factor.
    pub gamma: f64,
    /// Which policy: `uniform`, `optimal`, `constant` (always `action`) or `actions`.
    pub policy: String,
    /// The action of the `constant` policy.
    pub action: usize,
    /// One action per state, for the `actions` policy.
    pub actions: Vec<usize>,
    /// `iterative` (sweeps) or `direct` (one linear solve).
    pub method: String,
    /// Stop sweeping when `‖ΔV‖∞` falls below this.
    pub tolerance: f64,
    /// Log every this many sweeps.
    pub log_every: u64,
}

impl Default for PolicyEvaluationParams {
    fn default() -> Self {
        PolicyEvaluationParams {
            total_steps: 100_000,
            gamma: 0.99,
            policy: "uniform".into(),
            action: 0,
            actions: Vec::new(),
            method: "iterative".into(),
            tolerance: 1e-10,
            log_every: 10,
        }
    }
}

impl Hyperparams for PolicyEvaluationParams {
    fn docs() -> Vec<ParamDoc> {
        vec![
            ParamDoc {
                key: "total_steps",
                ty: "integer",
                range: ">= 1",
                doc: "sweep limit (a step is one sweep; the direct solve is one step)",
            },
            GAMMA_DOC,
            ParamDoc {
                key: "policy",
                ty: "string",
                range: "one of: uniform, optimal, constant, actions",
                doc: "the policy evaluated (uniformly random by default)",
            },
            ParamDoc {
                key: "action",
                ty: "integer",
                range: ">= 0, below the number of actions",
                doc: "the action of the `constant` policy",
            },
            ParamDoc {
                key: "actions",
                ty: "list of integers",
                range: "one action per state",
                doc: "the deterministic policy of `policy = \"actions\"`",
            },
            ParamDoc {
                key: "method",
                ty: "string",
                range: "one of: iterative, direct",
                doc: "synchronous sweeps, or one direct linear solve of (I - γP)V = R",
            },
            ParamDoc {
                key: "tolerance",
                ty: "float",
                range: "> 0",
                doc: "stop when the largest change of a sweep is below this",
            },
            ParamDoc {
                key: "log_every",
                ty: "integer",
                range: ">= 1",
                doc: "log every this many sweeps",
            },
        ]
    }
    fn validate(&self) -> autodidact_core::Result<()> {
        check_at_least_one("total_steps", self.total_steps)?;
        check_gamma_key(self.gamma)?;
        check_one_of("policy", &self.policy, EVALUATED_POLICIES)?;
        if self.policy == "actions" && self.actions.is_empty() {
            return Err(CoreError::Config {
                key: "actions".into(),
                reason: "`policy = \"actions\"` needs one action per state".into(),
            });
        }
        check_one_of("method", &self.method, &["iterative", "direct"])?;
        check_positive("tolerance", self.tolerance)?;
        check_at_least_one("log_every", self.log_every)?;
        Ok(())
    }
}

/// Parameters of `value-iteration`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValueIterationParams {
    /// Sweep limit (one step = one sweep).
    pub total_steps: u64,
    /// Discount factor.
    pub gamma: f64,
    /// Stop when `‖ΔV‖∞` falls below this.
    pub tolerance: f64,
    /// Log every this many sweeps.
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

impl Hyperparams for ValueIterationParams {
    fn docs() -> Vec<ParamDoc> {
        vec![
            ParamDoc {
                key: "total_steps",
                ty: "integer",
                range: ">= 1",
                doc: "sweep limit (a step is one sweep)",
            },
            GAMMA_DOC,
            ParamDoc {
                key: "tolerance",
                ty: "float",
                range: "> 0",
                doc: "stop when the largest change of a sweep is below this",
            },
            ParamDoc {
                key: "log_every",
                ty: "integer",
                range: ">= 1",
                doc: "log every this many sweeps",
            },
        ]
    }
    fn validate(&self) -> autodidact_core::Result<()> {
        check_at_least_one("total_steps", self.total_steps)?;
        check_gamma_key(self.gamma)?;
        check_positive("tolerance", self.tolerance)?;
        check_at_least_one("log_every", self.log_every)?;
        Ok(())
    }
}

/// Parameters of `policy-iteration`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyIterationParams {
    /// Limit on improvement steps (one step = one evaluation and one improvement).
    pub total_steps: u64,
    /// Discount factor.
    pub gamma: f64,
    /// `exact` (a linear solve) or `iterative` (sweeps to `tolerance`).
    pub evaluation: String,
    /// Tolerance of iterative evaluation.
    pub tolerance: f64,
    /// Sweep limit of one iterative evaluation.
    pub eval_max_sweeps: u64,
    /// Log every this many improvement steps.
    pub log_every: u64,
}

impl Default for PolicyIterationParams {
    fn default() -> Self {
        PolicyIterationParams {
            total_steps: 1000,
            gamma: 0.99,
            evaluation: "exact".into(),
            tolerance: 1e-10,
            eval_max_sweeps: 100_000,
            log_every: 1,
        }
    }
}

impl Hyperparams for PolicyIterationParams {
    fn docs() -> Vec<ParamDoc> {
        vec![
            ParamDoc { key: "total_steps", ty: "integer", range: ">= 1", doc: "limit on improvement steps (a step is one evaluation and one greedy improvement)" },
            GAMMA_DOC,
            ParamDoc { key: "evaluation", ty: "string", range: "one of: exact, iterative", doc: "evaluate each policy by a linear solve, or by sweeps to `tolerance`" },
            ParamDoc { key: "tolerance", ty: "float", range: "> 0", doc: "tolerance of iterative evaluation" },
            ParamDoc { key: "eval_max_sweeps", ty: "integer", range: ">= 1", doc: "sweep limit of one iterative evaluation" },
            ParamDoc { key: "log_every", ty: "integer", range: ">= 1", doc: "log every this many improvement steps" },
        ]
    }
    fn validate(&self) -> autodidact_core::Result<()> {
        check_at_least_one("total_steps", self.total_steps)?;
        check_gamma_key(self.gamma)?;
        check_one_of("evaluation", &self.evaluation, &["exact", "iterative"])?;
        check_positive("tolerance", self.tolerance)?;
        check_at_least_one("eval_max_sweeps", self.eval_max_sweeps)?;
        check_at_least_one("log_every", self.log_every)?;
        Ok(())
    }
}

/// The ε schedules by name.
pub const EPSILON_SCHEDULES: &[&str] = &["linear", "exponential", "constant"];

/// Parameters of `q-learning`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QLearningParams {
    /// Environment steps to train for.
    pub total_steps: u64,
    /// Discount factor.
    pub gamma: f64,
    /// Step size α (at the start).
    pub learning_rate: f64,
    /// Step size at the end of training (linear decay; equal to `learning_rate`: constant).
    pub learning_rate_final: f64,
    /// `linear`, `exponential` or `constant` ε.
    pub epsilon_schedule: String,
    /// ε at the start.
    pub epsilon_start: f64,
    /// ε at the end of the schedule.
    pub epsilon_end: f64,
    /// Share of training over which ε goes from start to end.
    pub exploration_fraction: f64,
    /// Initial value of every `Q(s, a)` (optimism explores).
    pub q_init: f64,
    /// Log every this many environment steps.
    pub log_every: u64,
    /// Greedy evaluation episodes.
    pub eval_episodes: u64,
    /// Step cap of one evaluation episode (for environments without a time limit).
    pub eval_max_steps: u64,
}

impl Default for QLearningParams {
    fn default() -> Self {
        QLearningParams {
            total_steps: 100_000,
            gamma: 0.99,
            learning_rate: 0.1,
            learning_rate_final: 0.1,
            epsilon_schedule: "linear".into(),
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SarsaParams {
    /// Environment steps to train for.
    pub total_steps: u64,
    /// Discount factor.
    pub gamma: f64,
    /// Step size α (at the start).
    pub learning_rate: f64,
    /// Step size at the end of training (linear decay; equal to `learning_rate`: constant).
    pub learning_rate_final: f64,
    /// `linear`, `exponential` or `constant` ε.
    pub epsilon_schedule: String,
    /// ε at the start.
    pub epsilon_start: f64,
    /// ε at the end of the schedule.
    pub epsilon_end: f64,
    /// Share of training over which ε goes from start to end.
    pub exploration_fraction: f64,
    /// Initial value of every `Q(s, a)`.
    pub q_init: f64,
    /// Expected SARSA: bootstrap on `Σ_a' π(a'|s') Q(s', a')` instead of the sampled `a'`.
    pub expected: bool,
    /// Log every this many environment steps.
    pub log_every: u64,
    /// Greedy evaluation episodes.
    pub eval_episodes: u64,
    /// Step cap of one evaluation episode.
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
    /// ε schedule name.
    pub epsilon_schedule: String,
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
            epsilon_schedule: p.epsilon_schedule.clone(),
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
            epsilon_schedule: p.epsilon_schedule.clone(),
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

fn tabular_docs(sarsa: bool) -> Vec<ParamDoc> {
    let mut d = vec![
        ParamDoc {
            key: "total_steps",
            ty: "integer",
            range: ">= 1",
            doc: "environment steps to train for",
        },
        GAMMA_DOC,
        ParamDoc {
            key: "learning_rate",
            ty: "float",
            range: "0 < α <= 1",
            doc: "step size α at the start",
        },
        ParamDoc {
            key: "learning_rate_final",
            ty: "float",
            range: "0 < α <= 1",
            doc: "step size at the end, reached linearly (equal to learning_rate: constant)",
        },
        ParamDoc {
            key: "epsilon_schedule",
            ty: "string",
            range: "one of: linear, exponential, constant",
            doc: "how ε goes from epsilon_start to epsilon_end",
        },
        ParamDoc {
            key: "epsilon_start",
            ty: "float",
            range: "0 ..= 1",
            doc: "ε at the start",
        },
        ParamDoc {
            key: "epsilon_end",
            ty: "float",
            range: "0 ..= 1",
            doc: "ε at the end of the schedule",
        },
        ParamDoc {
            key: "exploration_fraction",
            ty: "float",
            range: "0 < f <= 1",
            doc: "share of training over which ε decays",
        },
        ParamDoc {
            key: "q_init",
            ty: "float",
            range: "finite",
            doc: "initial value of every Q(s, a) (optimistic values explore)",
        },
    ];
    if sarsa {
        d.push(ParamDoc {
            key: "expected",
            ty: "bool",
            range: "true or false",
            doc: "Expected SARSA: bootstrap on the ε-greedy expectation of Q(s', ·)",
        });
    }
    d.extend([
        ParamDoc {
            key: "log_every",
            ty: "integer",
            range: ">= 1",
            doc: "log every this many environment steps",
        },
        ParamDoc {
            key: "eval_episodes",
            ty: "integer",
            range: ">= 1",
            doc: "greedy evaluation episodes",
        },
        ParamDoc {
            key: "eval_max_steps",
            ty: "integer",
            range: ">= 1",
            doc: "step cap of one evaluation episode (for environments without a time limit)",
        },
    ]);
    d
}

fn validate_tabular(s: &TabularSettings) -> autodidact_core::Result<()> {
    check_at_least_one("total_steps", s.total_steps)?;
    check_gamma_key(s.gamma)?;
    check_range("learning_rate", s.learning_rate, f64::MIN_POSITIVE, 1.0)?;
    check_range(
        "learning_rate_final",
        s.learning_rate_final,
        f64::MIN_POSITIVE,
        1.0,
    )?;
    check_one_of("epsilon_schedule", &s.epsilon_schedule, EPSILON_SCHEDULES)?;
    check_range("epsilon_start", s.epsilon_start, 0.0, 1.0)?;
    check_range("epsilon_end", s.epsilon_end, 0.0, 1.0)?;
    check_range(
        "exploration_fraction",
        s.exploration_fraction,
        f64::MIN_POSITIVE,
        1.0,
    )?;
    check_range("q_init", s.q_init, f64::MIN, f64::MAX)?;
    check_at_least_one("log_every", s.log_every)?;
    check_at_least_one("eval_episodes", s.eval_episodes)?;
    check_at_least_one("eval_max_steps", s.eval_max_steps)?;
    if s.epsilon_schedule == "exponential" {
        check_positive("epsilon_start", s.epsilon_start)?;
        check_positive("epsilon_end", s.epsilon_end)?;
    }
    Ok(())
}

impl Hyperparams for QLearningParams {
    fn docs() -> Vec<ParamDoc> {
        tabular_docs(false)
    }
    fn validate(&self) -> autodidact_core::Result<()> {
        validate_tabular(&self.into())
    }
}

impl Hyperparams for SarsaParams {
    fn docs() -> Vec<ParamDoc> {
        tabular_docs(true)
    }
    fn validate(&self) -> autodidact_core::Result<()> {
        validate_tabular(&self.into())
    }
}
