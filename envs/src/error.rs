//! The crate's error type: every message names the thing at fault.

use autodidact_core::CoreError;
use thiserror::Error;

/// Everything that can go wrong while loading or building an environment.
#[derive(Debug, Error)]
pub enum EnvsError {
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder at fault.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A data path that does not exist or holds nothing usable.
    #[error("{path}: {reason}; expected {expected}")]
    MissingData {
        /// The path given.
        path: String,
        /// What is wrong ("no such file or folder").
        reason: String,
        /// What was expected there.
        expected: String,
    },
    /// A malformed gridworld map.
    #[error("map line {line}, column {column}: {reason}")]
    Map {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        reason: String,
    },
    /// An image that is unreadable or not a PNG.
    #[error("{file}: not a readable PNG image: {reason}")]
    Image {
        /// The file (or `archive.zip!entry`).
        file: String,
        /// What the decoder said.
        reason: String,
    },
    /// A zip archive that cannot be read.
    #[error("{file}: not a readable zip archive: {reason}")]
    Zip {
        /// The archive.
        file: String,
        /// What the reader said.
        reason: String,
    },
    /// A CSV problem, with its line.
    #[error("{file}, line {line}: {reason}")]
    Csv {
        /// The file.
        file: String,
        /// 1-based line in the file.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// More classes asked for than a split holds.
    #[error("asked for {ways} ways but the {split} split has only {available} classes")]
    NotEnoughClasses {
        /// Ways asked for.
        ways: usize,
        /// Classes available.
        available: usize,
        /// The split (or "stream").
        split: String,
    },
    /// A class with fewer examples than an episode needs.
    #[error("class `{class}` has {available} examples but {needed} are needed ({detail})")]
    NotEnoughExamples {
        /// The class name.
        class: String,
        /// Examples it has.
        available: usize,
        /// Examples needed.
        needed: usize,
        /// Where the need comes from ("shots + queries").
        detail: String,
    },
    /// An invalid parameter value.
    #[error("invalid configuration: key `{key}`: {reason}")]
    Param {
        /// The key.
        key: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// An action outside the action space.
    #[error("invalid action {action}: {reason}")]
    Action {
        /// The action, printed.
        action: String,
        /// What the space accepts.
        reason: String,
    },
    /// A model file (weights, tokenizer, configuration) that is unreadable or does not fit.
    #[error("{file}: {reason}")]
    ModelFile {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// An error from core (loading a model's weights or configuration, building a batch).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Anything else, in words.
    #[error("{0}")]
    Invalid(String),
}

/// The crate's `Result`.
pub type Result<T, E = EnvsError> = std::result::Result<T, E>;

impl EnvsError {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        EnvsError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    /// A parameter error.
    pub fn param(key: &str, reason: impl Into<String>) -> Self {
        EnvsError::Param {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

impl From<EnvsError> for CoreError {
    fn from(e: EnvsError) -> Self {
        match e {
            EnvsError::Io { path, source } => CoreError::Io { path, source },
            EnvsError::Param { key, reason } => CoreError::Config { key, reason },
            EnvsError::ModelFile { file, reason } => CoreError::ModelFile { file, reason },
            EnvsError::Core(e) => e,
            other => CoreError::Env(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_into_core_errors_keeping_the_kind() {
        let io = EnvsError::io(
            "/x/y.csv",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        match CoreError::from(io) {
            CoreError::Io { path, .. } => assert_eq!(path, "/x/y.csv"),
            other => panic!("{other:?}"),
        }
        match CoreError::from(EnvsError::param("ways", "must be >= 1")) {
            CoreError::Config { key, .. } => assert_eq!(key, "ways"),
            other => panic!("{other:?}"),
        }
        let m = EnvsError::Map {
            line: 3,
            column: 7,
            reason: "unknown cell".into(),
        };
        match CoreError::from(m) {
            CoreError::Env(msg) => assert_eq!(msg, "map line 3, column 7: unknown cell"),
            other => panic!("{other:?}"),
        }
    }
}
