//! The metric-based family's error type.

use autodidact_core::CoreError;
use thiserror::Error;

/// What can go wrong building or running a metric-based meta-learner.
#[derive(Debug, Error)]
pub enum MetricError {
    /// The environment does not fit the model (shapes, task kind, labels).
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

impl From<MetricError> for CoreError {
    fn from(e: MetricError) -> Self {
        match e {
            MetricError::Core(c) => c,
            MetricError::Checkpoint(m) => CoreError::Checkpoint(m),
            MetricError::NonFinite { .. } => CoreError::Numerical(e.to_string()),
            MetricError::Incompatible(m) => CoreError::Env(m),
        }
    }
}

/// The family's `Result`.
pub type Result<T, E = MetricError> = std::result::Result<T, E>;
