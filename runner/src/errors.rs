//! The runner's one error type, and its exit codes: 1 for a run that failed, 2 for a usage or
//! input error.

use std::path::PathBuf;

use thiserror::Error;

/// Everything the `autodidact` command reports to its user. Each message is one line.
#[derive(Debug, Error)]
pub enum RunnerError {
    /// Malformed arguments (a `--set` without `=`, a bad `--shard`, a bad seed range).
    #[error("{0}")]
    Usage(String),

    /// An algorithm or environment that no crate registered.
    #[error("unknown {kind} `{name}`{}", did_you_mean(.suggestions))]
    UnknownName {
        /// "algorithm", "environment" or "algorithm or environment".
        kind: &'static str,
        /// The name given.
        name: String,
        /// The closest known names.
        suggestions: Vec<String>,
    },

    /// An invalid configuration: an unknown key, a value out of range, the wrong kind of
    /// environment, an algorithm that refused to build.
    #[error("{0}")]
    Config(String),

    /// A file that could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// A file that was read but is not what it should be (TOML, JSON, a checkpoint).
    #[error("{}: {message}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line when known.
        message: String,
    },

    /// A plugin that could not be loaded or was refused.
    #[error("plugin {}: {message}", .path.display())]
    Plugin {
        /// The library file.
        path: PathBuf,
        /// Why it was refused.
        message: String,
    },

    /// A file or folder that could not be written.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// Training or evaluation failed (an error or a panic in the algorithm, a NaN loss).
    #[error("{0}")]
    Failed(String),

    /// Ctrl-C or SIGTERM (or `--stop-after`) stopped a run after writing its checkpoint.
    #[error(
        "interrupted at iteration {step} of {total}; checkpoint and metrics saved in {}; \
         continue with: autodidact resume {}{plugin_args}",
        .dir.display(),
        .dir.display()
    )]
    Interrupted {
        /// The run folder.
        dir: PathBuf,
        /// ` --plugin FILE` for each plugin the run needs (empty when none).
        plugin_args: String,
        /// Steps done.
        step: u64,
        /// Steps in all.
        total: u64,
    },

    /// Some runs of a sweep failed (each was reported as it failed).
    #[error("{failed} of {total} runs failed{}", if *.interrupted { " or were interrupted; run the same sweep again to continue" } else { "" })]
    SweepFailed {
        /// Runs that failed.
        failed: usize,
        /// Runs this shard had.
        total: usize,
        /// Whether every failure was a usage or input error (exit code 2).
        input: bool,
        /// Whether a Ctrl-C stopped the sweep.
        interrupted: bool,
    },
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => "; `autodidact list` shows what is registered (a plugin's entries need --plugin LIB)"
            .to_string(),
        [one] => format!("; did you mean `{one}`?"),
        many => format!(
            "; did you mean one of: {}?",
            many.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl RunnerError {
    /// The process exit code: 1 for a run that failed, 2 for a usage or input error.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunnerError::Usage(_)
            | RunnerError::UnknownName { .. }
            | RunnerError::Config(_)
            | RunnerError::Read { .. }
            | RunnerError::Parse { .. }
            | RunnerError::Plugin { .. } => 2,
            RunnerError::SweepFailed { input: true, .. } => 2,
            RunnerError::Write { .. }
            | RunnerError::Failed(_)
            | RunnerError::Interrupted { .. }
            | RunnerError::SweepFailed { .. } => 1,
        }
    }

    /// The message on one line (multi-line messages from libraries are joined).
    pub fn one_line(&self) -> String {
        one_line(&self.to_string())
    }

    /// A reading error on `path`.
    pub fn read(path: impl Into<PathBuf>, source: std::io::Error) -> RunnerError {
        RunnerError::Read {
            path: path.into(),
            source,
        }
    }

    /// A writing error on `path`.
    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> RunnerError {
        RunnerError::Write {
            path: path.into(),
            source,
        }
    }

    /// A parse error in `path`.
    pub fn parse(path: impl Into<PathBuf>, message: impl Into<String>) -> RunnerError {
        RunnerError::Parse {
            path: path.into(),
            message: one_line(&message.into()),
        }
    }
}

/// Reads a text file: an error names the file, and bytes that are not UTF-8 are refused
/// naming the line and column of the first bad byte (rather than the standard library's
/// "stream did not contain valid UTF-8").
pub fn read_text(path: &std::path::Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| RunnerError::read(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&good[start..]).chars().count() + 1;
        RunnerError::parse(
            path,
            format!("line {line}, column {column}: not UTF-8 text (byte 0x{:02x}); expected a UTF-8 text file", e.as_bytes()[good.len()]),
        )
    })
}

/// Joins the lines of a message with spaces.
pub fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The runner's `Result`.
pub type Result<T, E = RunnerError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_suggestions() {
        let e = RunnerError::UnknownName {
            kind: "algorithm",
            name: "mamll".into(),
            suggestions: vec!["maml".into()],
        };
        assert_eq!(
            e.to_string(),
            "unknown algorithm `mamll`; did you mean `maml`?"
        );
        assert_eq!(e.exit_code(), 2);
        assert_eq!(RunnerError::Failed("x".into()).exit_code(), 1);
        assert_eq!(one_line("a\n  b\n\nc"), "a b c");
    }
}
