//! The continual-learning family's error type.

use autodidact_core::CoreError;
use thiserror::Error;

/// What can go wrong building or running a continual learner.
#[derive(Debug, Error)]
pub enum ContinualError {
    /// The stream does not fit the model or the options (shapes, scenario, heads).
    #[error("{0}")]
    Incompatible(String),
    /// A checkpoint could not be read or does not fit this learner.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A loss became NaN or infinite.
    #[error("experience {experience}, epoch {epoch}: the training loss is {value}")]
    NonFinite {
        /// The experience being trained.
        experience: usize,
        /// The epoch within it.
        epoch: usize,
        /// The value.
        value: f64,
    },
    /// An error from core or an environment.
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<ContinualError> for CoreError {
    fn from(e: ContinualError) -> Self {
        match e {
            ContinualError::Core(c) => c,
            ContinualError::Checkpoint(m) => CoreError::Checkpoint(m),
            ContinualError::NonFinite { .. } => CoreError::Numerical(e.to_string()),
            ContinualError::Incompatible(m) => CoreError::Env(m),
        }
    }
}

impl From<serde_json::Error> for ContinualError {
    fn from(e: serde_json::Error) -> Self {
        ContinualError::Checkpoint(e.to_string())
    }
}

/// The family's `Result`.
pub type Result<T, E = ContinualError> = std::result::Result<T, E>;
