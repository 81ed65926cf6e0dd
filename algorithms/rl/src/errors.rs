//! The RL family's error type.

use autodidact_core::CoreError;
use thiserror::Error;

/// Everything that can go wrong building, training, evaluating or restoring an RL algorithm.
#[derive(Debug, Error)]
pub enum RlError {
    /// The algorithm needs the environment's exact model and the environment has none.
    #[error("{algorithm} needs an environment with an exact tabular model; {env} has none")]
    NoTabularModel {
        /// The algorithm's name.
        algorithm: String,
        /// The environment's name.
        env: String,
    },
    /// The environment does not fit the algorithm (action space, state indices, shapes).
    #[error("{algorithm} cannot train on {env}: {reason}")]
    Incompatible {
        /// The algorithm's name.
        algorithm: String,
        /// The environment's name.
        env: String,
        /// What does not fit.
        reason: String,
    },
    /// A tabular model is malformed (probabilities, state indices).
    #[error("invalid tabular model: {0}")]
    InvalidModel(String),
    /// A policy does not fit the model it is evaluated on.
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),
    /// The linear system of exact policy evaluation has no unique solution (γ = 1 with a
    /// policy that never terminates).
    #[error("policy evaluation: the linear system (I - γP)V = R is singular ({0})")]
    Singular(String),
    /// A hyperparameter is invalid.
    #[error("invalid configuration: key `{key}`: {reason}")]
    Config {
        /// The key at fault.
        key: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A checkpoint could not be written or read, or does not fit this algorithm.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A loss or a value became NaN or infinite.
    #[error("numerical error: {0}")]
    Numerical(String),
    /// An error from core or an environment.
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<RlError> for CoreError {
    fn from(e: RlError) -> Self {
        match e {
            RlError::Core(c) => c,
            RlError::Config { key, reason } => CoreError::Config { key, reason },
            RlError::Checkpoint(m) => CoreError::Checkpoint(m),
            RlError::Numerical(m) => CoreError::Numerical(m),
            RlError::NoTabularModel { algorithm, env } => CoreError::WrongEnvKind {
                algorithm,
                expected: "an RL environment with an exact tabular model".into(),
                env,
                actual: "an RL environment without one".into(),
            },
            other => CoreError::Env(other.to_string()),
        }
    }
}

/// The RL family's `Result`.
pub type Result<T, E = RlError> = std::result::Result<T, E>;
