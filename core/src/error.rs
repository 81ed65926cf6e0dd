//! The core crate's error type.

use thiserror::Error;

/// Everything that can go wrong in `autodidact-core` that a caller can act on.
#[derive(Debug, Error)]
pub enum CoreError {
    /// Two tensors whose shapes do not fit an operation.
    #[error("shape error in {op}: {detail}")]
    Shape {
        /// The operation that refused the shapes.
        op: &'static str,
        /// Both shapes and what was expected.
        detail: String,
    },
    /// A hyperparameter or configuration value is invalid.
    #[error("invalid configuration: key `{key}`: {reason}")]
    Config {
        /// The key at fault (dotted path).
        key: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A named parameter is missing from a `Params` store.
    #[error("parameter `{0}` is not in the parameter store")]
    MissingParam(String),
    /// Two registry entries share a name.
    #[error("{kind} `{name}` is registered twice: by crate `{first}` and by crate `{second}`")]
    DuplicateName {
        /// "algorithm" or "environment".
        kind: &'static str,
        /// The shared name.
        name: String,
        /// Crate of the first entry.
        first: String,
        /// Crate of the second entry.
        second: String,
    },
    /// An algorithm was given an environment of a kind it does not train on.
    #[error("{algorithm} trains on {expected}; {env} is {actual}")]
    WrongEnvKind {
        /// The algorithm's name.
        algorithm: String,
        /// What it accepts, in words.
        expected: String,
        /// The environment's name.
        env: String,
        /// What the environment is, in words.
        actual: String,
    },
    /// A checkpoint could not be decoded or does not fit the model.
    #[error("checkpoint error: {0}")]
    Checkpoint(String),
    /// Serialisation failed.
    #[error("serialisation error: {0}")]
    Serde(String),
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The file at fault.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A model file (weights, configuration, tokenizer) that is unreadable or does not fit.
    #[error("{file}: {reason}")]
    ModelFile {
        /// The file at fault.
        file: String,
        /// What is wrong: the key or tensor, expected and found.
        reason: String,
    },
    /// A model cannot be built for the data it is given (shape, size).
    #[error("{0}")]
    Incompatible(String),
    /// An environment or data source refused an input.
    #[error("{0}")]
    Env(String),
    /// A numerical failure, such as a NaN loss.
    #[error("numerical error: {0}")]
    Numerical(String),
}

/// The core crate's `Result`.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
