//! The model-based family's error type.

use autodidact_core::CoreError;
use thiserror::Error;

/// What can go wrong building or running a model-based meta-learner.
#[derive(Debug, Error)]
pub enum ModelBasedError {
    /// The environment does not fit the model (task kind, labels, too few examples).
    #[error("{0}")]
    Incompatible(String),
    /// A checkpoint could not be read.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A loss became NaN or infinite.
    #[error("iteration {iteration}: the episode loss is {value}")]
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

impl From<ModelBasedError> for CoreError {
    fn from(e: ModelBasedError) -> Self {
        match e {
            ModelBasedError::Core(c) => c,
            ModelBasedError::Checkpoint(m) => CoreError::Checkpoint(m),
            ModelBasedError::NonFinite { .. } => CoreError::Numerical(e.to_string()),
            ModelBasedError::Incompatible(m) => CoreError::Env(m),
        }
    }
}

/// The family's `Result`.
pub type Result<T, E = ModelBasedError> = std::result::Result<T, E>;
