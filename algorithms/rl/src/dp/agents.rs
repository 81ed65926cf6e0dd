//! The registered exact solvers: `policy-evaluation`, `value-iteration` and
//! `policy-iteration`, run sweep by sweep on an environment's tabular model.
//!
//! A step is one sweep (policy iteration: one evaluation and one improvement; a direct
//! solve: one step). When the solver converges, `steps_done` jumps to `total_steps`, so the
//! runner stops. `evaluate` reports `start_value` (`V(s₀)`), `bellman_residual` (of the
//! optimality equation; for policy evaluation, of the evaluated policy's equation) and the
//! `value_gap` of the greedy policy with respect to the current values.

use autodidact_core::{
    Algorithm, Better, Config, EnvInstance, EnvSpec, Environment, Hyperparams, Metrics, Seed,
    TabularModel,
};
use serde::{Deserialize, Serialize};

use super::bellman::{bellman_expectation_residual, bellman_residual, greedy_policy, start_value};
use super::policy_evaluation::{policy_evaluation_direct, policy_evaluation_sweep};
use super::policy_iteration::{evaluate_deterministic, policy_improvement, EvaluationMethod};
use super::value_iteration::value_iteration_sweep;
use super::{solve_optimal, validate_model, Policy};
use crate::episodes::instantiate_rl;
use crate::errors::{Result, RlError};
use crate::evaluate::{tabular_metrics, OptimalCache};
use crate::hyperparams::{
    EvaluatedPolicy, PiEvaluation, PolicyEvaluationParams, PolicyIterationParams, SolveMethod,
    ValueIterationParams,
};

/// Which exact solver.
#[derive(Clone, Debug, PartialEq)]
pub enum DpKind {
    /// Evaluates a fixed policy.
    PolicyEvaluation {
        /// The policy.
        policy: Policy,
        /// One linear solve instead of sweeps.
        direct: bool,
    },
    /// Value iteration.
    ValueIteration,
    /// Policy iteration.
    PolicyIteration {
        /// How each policy is evaluated.
        evaluation: EvaluationMethod,
    },
}

impl DpKind {
    /// The registered name.
    pub fn name(&self) -> &'static str {
        match self {
            DpKind::PolicyEvaluation { .. } => "policy-evaluation",
            DpKind::ValueIteration => "value-iteration",
            DpKind::PolicyIteration { .. } => "policy-iteration",
        }
    }
}

/// The solver's checkpointable state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct DpState {
    name: String,
    v: Vec<f64>,
    policy: Vec<usize>,
    steps_done: u64,
    sweeps: u64,
    delta: f64,
    converged: bool,
}

/// An exact solver bound to an environment with a tabular model.
pub struct DpAlgorithm {
    kind: DpKind,
    env: Box<dyn Environment>,
    gamma: f64,
    total_steps: u64,
    tolerance: f64,
    log_every: u64,
    state: DpState,
    optimal: OptimalCache,
}

impl DpAlgorithm {
    /// A solver on `env`, which must have a tabular model.
    pub fn new(
        kind: DpKind,
        env: Box<dyn Environment>,
        env_name: &str,
        gamma: f64,
        total_steps: u64,
        tolerance: f64,
        log_every: u64,
    ) -> Result<DpAlgorithm> {
        let name = kind.name();
        let model = env.tabular().ok_or_else(|| RlError::NoTabularModel {
            algorithm: name.into(),
            env: env_name.into(),
        })?;
        validate_model(model)?;
        if let DpKind::PolicyEvaluation { policy, .. } = &kind {
            policy.check_fits(model)?;
        }
        let n = model.num_states();
        let policy = vec![0; n];
        let v = match &kind {
            DpKind::PolicyIteration { evaluation } => {
                evaluate_deterministic(model, &policy, gamma, *evaluation)?
            }
            _ => vec![0.0; n],
        };
        Ok(DpAlgorithm {
            state: DpState {
                name: name.into(),
                v,
                policy,
                steps_done: 0,
                sweeps: 0,
                delta: f64::MAX,
                converged: false,
            },
            kind,
            env,
            gamma,
            total_steps,
            tolerance,
            log_every,
            optimal: OptimalCache::default(),
        })
    }

    /// The current value estimate.
    pub fn values(&self) -> &[f64] {
        &self.state.v
    }

    /// Whether the solver has converged.
    pub fn converged(&self) -> bool {
        self.state.converged
    }

    /// The greedy policy (policy iteration: its current policy).
    pub fn policy(&self) -> Vec<usize> {
        match (&self.kind, self.env.tabular()) {
            (DpKind::PolicyIteration { .. }, _) => self.state.policy.clone(),
            (_, Some(m)) => greedy_policy(m, &self.state.v, self.gamma),
            (_, None) => self.state.policy.clone(),
        }
    }

    fn model(&self) -> Result<&dyn TabularModel> {
        self.env.tabular().ok_or_else(|| RlError::NoTabularModel {
            algorithm: self.kind.name().into(),
            env: "the environment".into(),
        })
    }

    /// One sweep (or improvement step); returns whether it converged.
    pub fn sweep(&mut self) -> Result<bool> {
        let model = self.env.tabular().ok_or_else(|| RlError::NoTabularModel {
            algorithm: self.kind.name().into(),
            env: "the environment".into(),
        })?;
        let st = &mut self.state;
        match &self.kind {
            DpKind::PolicyEvaluation {
                policy,
                direct: true,
            } => {
                st.v = policy_evaluation_direct(model, policy, self.gamma)?;
                st.delta = 0.0;
                st.converged = true;
            }
            DpKind::PolicyEvaluation { policy, .. } => {
                let (v, d) = policy_evaluation_sweep(model, policy, self.gamma, &st.v);
                st.v = v;
                st.delta = d;
                st.converged = d < self.tolerance;
            }
            DpKind::ValueIteration => {
                let (v, d) = value_iteration_sweep(model, self.gamma, &st.v);
                st.v = v;
                st.delta = d;
                st.converged = d < self.tolerance;
            }
            DpKind::PolicyIteration { evaluation } => {
                let (p, changed) = policy_improvement(model, &st.v, self.gamma, &st.policy);
                if changed {
                    let v = evaluate_deterministic(model, &p, self.gamma, *evaluation)?;
                    st.delta = v
                        .iter()
                        .zip(&st.v)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max);
                    st.v = v;
                    st.policy = p;
                } else {
                    st.delta = 0.0;
                    st.converged = true;
                }
            }
        }
        st.sweeps += 1;
        if !st.delta.is_finite() || st.v.iter().any(|x| !x.is_finite()) {
            return Err(RlError::Numerical(format!(
                "{}: the values diverged after {} sweeps (γ = {})",
                self.kind.name(),
                st.sweeps,
                self.gamma
            )));
        }
        Ok(st.converged)
    }

    fn residual(&self, model: &dyn TabularModel) -> f64 {
        match &self.kind {
            DpKind::PolicyEvaluation { policy, .. } => {
                bellman_expectation_residual(model, policy, &self.state.v, self.gamma)
            }
            _ => bellman_residual(model, &self.state.v, self.gamma),
        }
    }

    fn step_metrics(&self) -> Result<Metrics> {
        let model = self.model()?;
        let mut m = Metrics::new();
        m.insert("sweeps".into(), self.state.sweeps as f64);
        m.insert("delta".into(), self.state.delta);
        m.insert("start_value".into(), start_value(model, &self.state.v));
        m.insert("bellman_residual".into(), self.residual(model));
        m.insert(
            "converged".into(),
            f64::from(u8::from(self.state.converged)),
        );
        Ok(m)
    }

    fn evaluate_model(&mut self, model: &dyn TabularModel, cached: bool) -> Result<Metrics> {
        if model.num_states() != self.state.v.len() {
            return Err(RlError::Incompatible {
                algorithm: self.kind.name().into(),
                env: "the evaluation environment".into(),
                reason: format!(
                    "it has {} states, the solution {}",
                    model.num_states(),
                    self.state.v.len()
                ),
            });
        }
        let policy = match &self.kind {
            DpKind::PolicyIteration { .. } => self.state.policy.clone(),
            _ => greedy_policy(model, &self.state.v, self.gamma),
        };
        let q = super::q_from_v(model, &self.state.v, self.gamma);
        let known = vec![true; model.num_states()];
        let fresh;
        let optimal = if cached {
            self.optimal.get(model, self.gamma)?
        } else {
            fresh = solve_optimal(model, self.gamma)?;
            &fresh
        };
        let mut m = tabular_metrics(model, optimal, self.gamma, &q, &known, &policy)?;
        m.insert("start_value".into(), start_value(model, &self.state.v));
        m.insert("bellman_residual".into(), self.residual(model));
        m.insert("sweeps".into(), self.state.sweeps as f64);
        m.insert(
            "converged".into(),
            f64::from(u8::from(self.state.converged)),
        );
        Ok(m)
    }
}

impl Algorithm for DpAlgorithm {
    fn total_steps(&self) -> u64 {
        self.total_steps
    }
    fn steps_done(&self) -> u64 {
        self.state.steps_done
    }
    fn train_step(&mut self) -> autodidact_core::Result<Metrics> {
        if self.state.converged {
            self.state.steps_done = self.total_steps;
            return Ok(Metrics::new());
        }
        let converged = self.sweep()?;
        self.state.steps_done += 1;
        if converged {
            self.state.steps_done = self.total_steps;
        }
        if converged
            || self.state.steps_done.is_multiple_of(self.log_every)
            || self.state.steps_done >= self.total_steps
        {
            return Ok(self.step_metrics()?);
        }
        Ok(Metrics::new())
    }
    fn evaluate(&mut self, env: Option<&EnvInstance>) -> autodidact_core::Result<Metrics> {
        match env {
            None => {
                // A clone holds the model, so `self` can be borrowed mutably.
                let env = self.env.clone_box();
                let model = env.tabular().ok_or_else(|| RlError::NoTabularModel {
                    algorithm: self.kind.name().into(),
                    env: "the environment".into(),
                })?;
                Ok(self.evaluate_model(model, true)?)
            }
            Some(EnvInstance::Rl(e)) => {
                let model = e.tabular().ok_or_else(|| RlError::NoTabularModel {
                    algorithm: self.kind.name().into(),
                    env: "the evaluation environment".into(),
                })?;
                Ok(self.evaluate_model(model, false)?)
            }
            Some(other) => Err(autodidact_core::CoreError::WrongEnvKind {
                algorithm: self.kind.name().into(),
                expected: "an RL environment with an exact tabular model".into(),
                env: "the evaluation environment".into(),
                actual: other.kind().describe().into(),
            }),
        }
    }
    fn save(&self) -> autodidact_core::Result<Vec<u8>> {
        serde_json::to_vec(&self.state)
            .map_err(|e| RlError::Checkpoint(format!("cannot encode: {e}")).into())
    }
    fn load(&mut self, bytes: &[u8]) -> autodidact_core::Result<()> {
        let st: DpState = serde_json::from_slice(bytes)
            .map_err(|e| RlError::Checkpoint(format!("cannot decode: {e}")))?;
        if st.name != self.kind.name()
            || st.v.len() != self.state.v.len()
            || st.policy.len() != self.state.policy.len()
        {
            return Err(RlError::Checkpoint(format!(
                "the checkpoint is {} on {} states, this solver {} on {}",
                st.name,
                st.v.len(),
                self.kind.name(),
                self.state.v.len()
            ))
            .into());
        }
        self.state = st;
        Ok(())
    }
    fn selection_metric(&self) -> Option<(String, Better)> {
        Some(("start_value".into(), Better::Higher))
    }
    fn headline_metric(&self) -> &'static str {
        "bellman_residual"
    }
}

fn rl_env_with_model(spec: &EnvSpec, seed: Seed, name: &str) -> Result<Box<dyn Environment>> {
    let env = instantiate_rl(spec, seed.derive("env"), name)?;
    if env.tabular().is_none() {
        return Err(RlError::NoTabularModel {
            algorithm: name.into(),
            env: spec.name().into(),
        });
    }
    Ok(env)
}

/// The policy `policy-evaluation` evaluates, from its parameters.
pub fn evaluated_policy(p: &PolicyEvaluationParams, model: &dyn TabularModel) -> Result<Policy> {
    let (n, na) = (model.num_states(), model.num_actions());
    match p.policy {
        EvaluatedPolicy::Uniform => Ok(Policy::uniform(n, na)),
        EvaluatedPolicy::Optimal => {
            Policy::deterministic(&solve_optimal(model, p.gamma)?.policy, na)
        }
        EvaluatedPolicy::Constant => Policy::deterministic(&vec![p.action; n], na),
        EvaluatedPolicy::Actions => {
            if p.actions.len() != n {
                return Err(RlError::Config {
                    key: "actions".into(),
                    reason: format!("{} actions given for {n} states", p.actions.len()),
                });
            }
            Policy::deterministic(&p.actions, na)
        }
    }
}

fn build_policy_evaluation(
    config: &Config,
    spec: &EnvSpec,
    seed: Seed,
) -> autodidact_core::Result<Box<dyn Algorithm>> {
    let p = PolicyEvaluationParams::from_config(config)?;
    let env = rl_env_with_model(spec, seed, "policy-evaluation")?;
    let policy = evaluated_policy(
        &p,
        env.tabular().ok_or_else(|| RlError::NoTabularModel {
            algorithm: "policy-evaluation".into(),
            env: spec.name().into(),
        })?,
    )?;
    let kind = DpKind::PolicyEvaluation {
        policy,
        direct: p.method == SolveMethod::Direct,
    };
    Ok(Box::new(DpAlgorithm::new(
        kind,
        env,
        spec.name(),
        p.gamma,
        p.total_steps,
        p.tolerance,
        p.log_every,
    )?))
}

fn build_value_iteration(
    config: &Config,
    spec: &EnvSpec,
    seed: Seed,
) -> autodidact_core::Result<Box<dyn Algorithm>> {
    let p = ValueIterationParams::from_config(config)?;
    let env = rl_env_with_model(spec, seed, "value-iteration")?;
    Ok(Box::new(DpAlgorithm::new(
        DpKind::ValueIteration,
        env,
        spec.name(),
        p.gamma,
        p.total_steps,
        p.tolerance,
        p.log_every,
    )?))
}

fn build_policy_iteration(
    config: &Config,
    spec: &EnvSpec,
    seed: Seed,
) -> autodidact_core::Result<Box<dyn Algorithm>> {
    let p = PolicyIterationParams::from_config(config)?;
    let env = rl_env_with_model(spec, seed, "policy-iteration")?;
    let evaluation = if p.evaluation == PiEvaluation::Exact {
        EvaluationMethod::Exact
    } else {
        EvaluationMethod::Iterative {
            tol: p.tolerance,
            max_sweeps: p.eval_max_sweeps as usize,
        }
    };
    Ok(Box::new(DpAlgorithm::new(
        DpKind::PolicyIteration { evaluation },
        env,
        spec.name(),
        p.gamma,
        p.total_steps,
        p.tolerance,
        p.log_every,
    )?))
}

autodidact_core::register_algorithm! {
    name: "policy-evaluation",
    family: "reinforcement learning",
    summary: "exact evaluation of a policy (uniformly random by default) on a tabular model, by sweeps or a linear solve",
    accepts: &[autodidact_core::EnvKind::Rl],
    params: PolicyEvaluationParams::docs,
    default_config: PolicyEvaluationParams::default_config,
    build: build_policy_evaluation,
}

autodidact_core::register_algorithm! {
    name: "value-iteration",
    family: "reinforcement learning",
    summary: "value iteration on a tabular model (Bellman, 1957)",
    accepts: &[autodidact_core::EnvKind::Rl],
    params: ValueIterationParams::docs,
    default_config: ValueIterationParams::default_config,
    build: build_value_iteration,
}

autodidact_core::register_algorithm! {
    name: "policy-iteration",
    family: "reinforcement learning",
    summary: "policy iteration with exact or iterative evaluation on a tabular model (Howard, 1960)",
    accepts: &[autodidact_core::EnvKind::Rl],
    params: PolicyIterationParams::docs,
    default_config: PolicyIterationParams::default_config,
    build: build_policy_iteration,
}
