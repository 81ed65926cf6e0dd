//! # autodidact-runner
//!
//! The `autodidact` command: `list`, `describe`, `run`, `eval`, `resume`, `sweep`, `compare`,
//! `plot`, `bench`, `serve` and `agent` (the customer-service agent's `import` and `bench`),
//! over every algorithm and environment linked into the binary or loaded from a plugin
//! (`--plugin`). `docs/runner.md` describes the commands and the run folder.
//!
//! A third party that links its algorithm crate statically makes its own binary:
//!
//! ```no_run
//! // use my_algorithm as _; // keeps the crate's registrations
//! fn main() -> std::process::ExitCode {
//!     autodidact_runner::main()
//! }
//! ```
#![warn(missing_docs)]

/// `println!` that ignores a closed stdout (`autodidact list | head` must not panic).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that ignores a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

// Every algorithm and environment crate, so the linker keeps their registrations.
use autodidact_continual as _;
use autodidact_envs as _;
use autodidact_gradient as _;
use autodidact_metric as _;
use autodidact_model_based as _;
use autodidact_rl as _;

pub mod agent;
pub mod atomic;
pub mod bench;
pub mod catalog;
pub mod checkpoint;
pub mod cli;
pub mod columns;
pub mod compare;
pub mod config;
pub mod errors;
pub mod eval;
pub mod export;
pub mod heatmap;
pub mod metrics;
pub mod plot;
pub mod plugin;
pub mod provenance;
pub mod replay;
pub mod replot;
pub mod resume;
pub mod run;
pub mod summary;
pub mod sweep;
pub mod table;
#[cfg(feature = "test-algorithms")]
pub mod testing;

pub use cli::{execute, execute_args, main};
pub use errors::{Result, RunnerError};
