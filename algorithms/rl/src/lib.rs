//! # autodidact-rl
//!
//! Reinforcement learning on Autodidact's own autodiff: exact Bellman solvers, tabular
//! Q-learning and SARSA, the DQN family, and the policy-gradient family (REINFORCE, A2C, PPO).
//!
//! | registered name | what | module |
//! | --- | --- | --- |
//! | `policy-evaluation` | `V^π` of a policy (uniform by default), by sweeps or a linear solve | [`dp`] |
//! | `value-iteration` | `V*` by sweeps of the optimality operator | [`dp`] |
//! | `policy-iteration` | evaluate, improve, until stable | [`dp`] |
//! | `q-learning` | tabular Q-learning, ε-greedy | [`tabular`] |
//! | `sarsa` | tabular SARSA / Expected SARSA, ε-greedy | [`tabular`] |
//! | `dqn` | DQN with replay, target network, Double, dueling, n-step, prioritised replay | [`dqn`] |
//! | `reinforce` | Monte-Carlo policy gradient, reward-to-go, learned baseline | [`pg`] |
//! | `a2c` | synchronous advantage actor-critic, n-step / GAE(λ) | [`pg`] |
//! | `ppo` | proximal policy optimisation, clipped surrogate, GAE(λ) | [`pg`] |
//! | `maml-rl` | MAML with policy-gradient inner steps and the DiCE meta-gradient (meta-RL) | [`maml_rl`] |
//! | `rl2` | RL²: a GRU policy across a trial's episodes, PPO across trials (meta-RL) | [`rl2`] |
//!
//! The exact solvers need an environment with a [`TabularModel`](autodidact_core::TabularModel)
//! (every gridworld has one); the learners train on any RL environment with discrete actions
//! (the tabular ones also need discrete states); `rl2` trains on a distribution of them
//! (`EnvKind::MetaRl`). [`bandit_reference`] holds exact Bayes-optimal and index-policy
//! references for Bernoulli bandits. `total_steps` is the training length of every
//! learning agent, in environment steps; for the solvers a step is one sweep.
//!
//! Evaluation runs the greedy policy and reports `eval_return_mean`, `eval_return_std` and
//! `success_rate`; on an environment with a tabular model it adds `q_error`
//! (`‖Q − Q*‖∞`, against the exact optimum) and `value_gap` (`V*(s₀) − V^π(s₀)`, with `V^π`
//! computed exactly by policy evaluation of the greedy policy).
//!
//! Checkpoints ([`Algorithm::save`](autodidact_core::Algorithm::save)) hold every piece of
//! state (tables or networks, optimiser, replay buffer, generators, schedules, and the
//! training episode, replayed from its seed on load), so a resumed run continues bit for bit.
#![warn(missing_docs)]

pub mod bandit_reference;
pub mod checkpoint;
pub mod dp;
pub mod dqn;
pub mod episodes;
pub mod errors;
pub mod evaluate;
pub mod hyperparams;
pub mod maml_rl;
pub mod pg;
pub mod rl2;
pub mod schedule;
pub mod tabular;

pub use dp::{DpAlgorithm, DpKind, Optimal, Policy, QTable};
pub use dqn::{Dqn, DqnParams};
pub use errors::{Result, RlError};
pub use hyperparams::{
    PolicyEvaluationParams, PolicyIterationParams, QLearningParams, SarsaParams,
    ValueIterationParams,
};
pub use maml_rl::{MamlRl, MamlRlParams};
pub use pg::{Method, PgAgent, PgParams};
pub use rl2::{Rl2Agent, Rl2Params};
pub use schedule::Schedule;
pub use tabular::{TabularAgent, TabularKind};

/// Makes sure this crate's registrations are linked in (call it once from a binary that
/// depends on the crate but uses nothing else from it).
pub fn link() {}
