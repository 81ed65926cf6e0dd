//! The crate's error type and its `Result` alias.

use std::path::PathBuf;

/// Everything that can go wrong in the agent: configuration, data, storage and client mistakes.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A configuration value is out of range or inconsistent.
    #[error("config `{field}`: {reason}")]
    Config {
        /// The offending field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The bootstrap data could not be read.
    #[error("data: {0}")]
    Data(#[from] autodidact_envs::EnvsError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The database file is not a SQLite database, or is damaged.
    #[error(
        "the database file {} is not a valid SQLite database or is damaged ({reason}); restore \
         it from a backup or re-import an export (`autodidact agent import`), or move it aside \
         to start afresh",
        .path.display()
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },
    /// Another agent process has the database open.
    #[error(
        "the database file {} is in use by another agent process; stop that one first, or \
         give this one another database (--db)",
        .path.display()
    )]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// The storage refuses writes for now (read-only, full, failing): retry later (HTTP 503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A schema migration failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A remote agent (the replay benchmark over HTTP) answered with an error or not at all.
    #[error("remote agent: {0}")]
    Remote(String),
    /// Stored data is not what this build expects (e.g. another featurizer).
    #[error("stored state: {0}")]
    State(String),
    /// A client sent a request that is not acceptable (HTTP 400, or 422 for a well-formed body
    /// with a wrong field).
    #[error("`{field}`: {reason}")]
    BadRequest {
        /// The offending field (`body` for the body as a whole).
        field: String,
        /// What is wrong with it.
        reason: String,
        /// True for a syntactically valid body whose content is wrong (422).
        semantic: bool,
    },
    /// A referenced thing does not exist (HTTP 404).
    #[error("`{field}`: {reason}")]
    NotFound {
        /// The field that named it.
        field: String,
        /// What was not found.
        reason: String,
    },
    /// The request conflicts with stored state (HTTP 409).
    #[error("`{field}`: {reason}")]
    Conflict {
        /// The offending field.
        field: String,
        /// The conflict.
        reason: String,
    },
    /// The body is larger than the limit (HTTP 413).
    #[error("the body exceeds {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not declared as JSON (HTTP 415).
    #[error("expected `Content-Type: application/json`")]
    NotJson,
    /// No or a wrong bearer token (HTTP 401).
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// A valid token without the rights for this route (HTTP 403).
    #[error("this route needs the admin token")]
    Forbidden,
    /// An export file that cannot be imported: the line (1-based) and field at fault.
    #[error("line {line}: `{field}`: {reason}")]
    Import {
        /// The line of the export file (1-based; one past the last line for a missing one).
        line: u64,
        /// The offending field (`json` for a malformed line, `kind`, `counts.<kind>`, ...).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A background task failed (a bug, HTTP 500).
    #[error("internal: {0}")]
    Internal(String),
}

impl AgentError {
    /// A configuration error naming its field.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AgentError::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }
    /// A 422 client error naming its field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AgentError::BadRequest {
            field: field.into(),
            reason: reason.into(),
            semantic: true,
        }
    }
    /// A 404 naming the field that referred to the missing thing.
    pub fn not_found(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AgentError::NotFound {
            field: field.into(),
            reason: reason.into(),
        }
    }
    /// A 409 naming its field.
    pub fn conflict(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AgentError::Conflict {
            field: field.into(),
            reason: reason.into(),
        }
    }
    /// An import error at `line` naming its field.
    pub fn import(line: u64, field: impl Into<String>, reason: impl Into<String>) -> Self {
        AgentError::Import {
            line,
            field: field.into(),
            reason: reason.into(),
        }
    }
    /// The process exit code for this error at start: 2 when what the operator gave is at
    /// fault (configuration, data, a damaged or busy database file), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            AgentError::Config { .. }
            | AgentError::Data(_)
            | AgentError::Corrupt { .. }
            | AgentError::Locked { .. } => 2,
            _ => 1,
        }
    }

    /// Why the storage cannot take writes now (read-only, full, I/O error, busy past the
    /// timeout), when that is what this error is: a condition to retry later (HTTP 503), not
    /// a bug.
    pub fn storage_fault(&self) -> Option<String> {
        let e = match self {
            AgentError::Db(e) => e,
            AgentError::Unavailable(reason) => return Some(reason.clone()),
            _ => return None,
        };
        match e {
            sqlx::Error::Database(d) => {
                // SQLite reports extended codes; the primary code is the low byte.
                let code: i64 = d.code()?.parse().ok()?;
                matches!(code & 0xff, 5 | 6 | 8 | 10 | 13 | 14).then(|| d.message().to_string())
            }
            sqlx::Error::Io(io) => Some(io.to_string()),
            sqlx::Error::PoolTimedOut => Some("no database connection free in time".into()),
            _ => None,
        }
    }

    /// This error for one of the callers whose writes shared the failed group commit (it
    /// cannot be cloned): a storage fault stays one (HTTP 503, to retry), anything else is
    /// internal, described as `doing` failed.
    pub fn for_waiter(&self, doing: &str) -> AgentError {
        match self.storage_fault() {
            Some(reason) => AgentError::Unavailable(reason),
            None => AgentError::Internal(format!("{doing}: {self}")),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        AgentError::Io {
            path: path.into(),
            source,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = AgentError> = std::result::Result<T, E>;
