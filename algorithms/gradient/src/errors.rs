//! The gradient-based family's error type.

use autodidact_core::CoreError;
use thiserror::Error;

/// What can go wrong building or running a gradient-based meta-learner.
#[derive(Debug, Error)]
pub enum GradientError {
    /// The environment does not fit the model (shapes, task kind).
    #[error("{0}")]
    Incompatible(String),
    /// A checkpoint could not be read.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A loss became NaN or infinite.
    #[error("meta-iteration {iteration}: the meta-loss is {value}")]
    NonFinite {
        /// The iteration at which it happened, 1-based (the first step is iteration 1).
        iteration: u64,
        /// The value.
        value: f64,
    },
    /// An error from core or an environment.
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<GradientError> for CoreError {
    fn from(e: GradientError) -> Self {
        match e {
            GradientError::Core(c) => c,
            GradientError::Checkpoint(m) => CoreError::Checkpoint(m),
            GradientError::NonFinite { .. } => CoreError::Numerical(e.to_string()),
            GradientError::Incompatible(m) => CoreError::Env(m),
        }
    }
}

/// The family's `Result`.
pub type Result<T, E = GradientError> = std::result::Result<T, E>;
