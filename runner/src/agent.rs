//! `autodidact agent <SUBCOMMAND>`: tools around the customer-service agent
//! (`docs/agent.md`). Flags are parsed here; the work is done by the agent crate.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use autodidact_agent::bench::{self, BenchOptions};
use autodidact_agent::featurizer::FeaturizerSpec;
use autodidact_agent::{AgentConfig, AgentError, BatchConfig};
use clap::{Args, Subcommand, ValueEnum};

use crate::errors::{Result, RunnerError};

/// The agent's tools.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Replay simulated customers against the agent, wave after wave of new intents, with
    /// the baselines; writes a run folder (docs/agent.md, "The replay benchmark").
    Replay(crate::replay::ReplayArgs),
    /// Restore an export (`GET /v1/admin/export`, JSON lines) into a new database, in one
    /// transaction, keeping every id.
    Import(ImportArgs),
    /// Load the HTTP API with `POST /v1/messages` and report requests/s and latency
    /// percentiles (against --url, or a server of its own on a temporary database).
    Bench(BenchArgs),
}

/// `autodidact agent import`'s arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The database to create (an existing one must be empty): a SQLite file, or a
    /// PostgreSQL database's URL (`postgres://user@host:5432/agent`).
    #[arg(long, value_name = "FILE|URL")]
    pub db: PathBuf,
    /// The export file; `-` reads standard input.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    pub from: PathBuf,
}

/// The own server's featurizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FeaturizerKind {
    /// all-MiniLM-L6-v2 from --model.
    Minilm,
    /// Hashed word and character n-grams (--dim buckets).
    Hashed,
}

/// `autodidact agent bench`'s arguments.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A running agent (e.g. http://127.0.0.1:8080); without it the bench starts its own
    /// server on a temporary database.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The client token for --url [default: $AUTODIDACT_CLIENT_TOKEN].
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// The admin token for --url with --consolidate [default: $AUTODIDACT_ADMIN_TOKEN].
    #[arg(long, value_name = "TOKEN")]
    pub admin_token: Option<String>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Requests timed.
    #[arg(long, default_value_t = 2000)]
    pub requests: usize,
    /// Untimed requests sent first.
    #[arg(long, default_value_t = 32)]
    pub warmup: usize,
    /// The data folder: texts from its test.csv; the own server bootstraps from the rest.
    #[arg(long, value_name = "DIR", default_value = "../shared/data/banking77")]
    pub data: PathBuf,
    /// The own server's featurizer.
    #[arg(long, value_enum, default_value_t = FeaturizerKind::Minilm)]
    pub featurizer: FeaturizerKind,
    /// The MiniLM model folder.
    #[arg(long, value_name = "DIR", default_value = "../shared/data/minilm")]
    pub model: PathBuf,
    /// Hash buckets of the hashed featurizer.
    #[arg(long, default_value_t = 4096)]
    pub dim: usize,
    /// The own server's `batch.max_size` [default: the agent's, 32].
    #[arg(long)]
    pub batch_max_size: Option<usize>,
    /// The own server's `batch.max_wait_us` [default: the agent's, 2000].
    #[arg(long)]
    pub batch_max_wait_us: Option<u64>,
    /// The own server's `batch.passes` [default: the agent's, 1].
    #[arg(long)]
    pub batch_passes: Option<usize>,
    /// The own server's settings from an `agent.toml` (`serve --config`'s format); the flags
    /// above override its batching, and its data, database, address, featurizer and tokens
    /// are the bench's.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Trigger `POST /v1/admin/consolidate` one after the other while the load runs.
    #[arg(long)]
    pub consolidate: bool,
    /// Seed of the order the texts are sent in.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Soak: load for this many seconds instead of --requests, and report throughput,
    /// latency, errors and memory per --sample-seconds.
    #[arg(long, value_name = "S")]
    pub seconds: Option<f64>,
    /// Send feedback on every n-th message (0: none): resolved when the prediction matches
    /// the text's label, else a correction to it.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub feedback_every: usize,
    /// Length of one interval of the soak's time series, seconds.
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    pub sample_seconds: f64,
    /// The --url server's process id, to follow its memory (the own server's is this process).
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Write the summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs one agent command.
pub fn run(command: &AgentCommand) -> Result<()> {
    match command {
        AgentCommand::Replay(a) => crate::replay::replay(a),
        AgentCommand::Import(a) => import(a),
        AgentCommand::Bench(a) => run_bench(a),
    }
}

/// An agent error as the runner's, `file` naming the input it concerns.
fn to_runner(e: AgentError, file: &Path) -> RunnerError {
    match e {
        AgentError::Import { .. } => RunnerError::Parse {
            path: file.to_path_buf(),
            message: e.to_string(),
        },
        AgentError::Config { .. } | AgentError::Data(_) => RunnerError::Config(e.to_string()),
        other => RunnerError::Failed(other.to_string()),
    }
}

fn import(a: &ImportArgs) -> Result<()> {
    let reader: Box<dyn BufRead + Send> = if a.from.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(&a.from).map_err(|source| RunnerError::Read {
            path: a.from.clone(),
            source,
        })?;
        Box::new(std::io::BufReader::new(file))
    };
    let summary =
        autodidact_agent::export::import_blocking(&a.db, reader).map_err(|e| match e {
            AgentError::Config { .. } => RunnerError::Config(format!("{}: {e}", a.db.display())),
            other => to_runner(other, &a.from),
        })?;
    let counts: Vec<String> = summary
        .counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    outln!(
        "Imported {} lines (format {}, schema {}) into {}: {}.",
        summary.lines,
        summary.header.format,
        summary.header.schema,
        a.db.display(),
        counts.join(", ")
    );
    Ok(())
}

fn run_bench(a: &BenchArgs) -> Result<()> {
    let env = |name: &str| std::env::var(name).ok();
    let config = a
        .config
        .as_deref()
        .map(|path| AgentConfig::from_file(path).map_err(|e| to_runner(e, path)))
        .transpose()?;
    let mut batch = config
        .as_ref()
        .map_or_else(BatchConfig::default, |c| c.batch.clone());
    if let Some(n) = a.batch_max_size {
        batch.max_size = n;
    }
    if let Some(us) = a.batch_max_wait_us {
        batch.max_wait_us = us;
    }
    if let Some(p) = a.batch_passes {
        batch.passes = p;
    }
    let options = BenchOptions {
        url: a.url.clone(),
        token: a.token.clone().or_else(|| env("AUTODIDACT_CLIENT_TOKEN")),
        admin_token: a
            .admin_token
            .clone()
            .or_else(|| env("AUTODIDACT_ADMIN_TOKEN")),
        concurrency: a.concurrency,
        requests: a.requests,
        warmup: a.warmup,
        data: a.data.clone(),
        featurizer: match a.featurizer {
            FeaturizerKind::Minilm => FeaturizerSpec::Minilm {
                dir: a.model.clone(),
            },
            FeaturizerKind::Hashed => FeaturizerSpec::Hashed { dim: a.dim },
        },
        batch: Some(batch),
        consolidate: a.consolidate,
        seed: a.seed,
        seconds: a.seconds,
        feedback_every: a.feedback_every,
        sample_seconds: a.sample_seconds,
        server_pid: a.server_pid,
        config,
    };
    let report = bench::run_blocking(&options, a.out.as_deref()).map_err(|e| match e {
        AgentError::Io { path, source } if a.out.as_deref() == Some(path.as_path()) => {
            RunnerError::Write { path, source }
        }
        AgentError::Io { path, source } => RunnerError::Read { path, source },
        other => to_runner(other, &a.data),
    })?;
    out!("{}", report.summary());
    if let Some(out) = &a.out {
        outln!("Summary written to {}.", out.display());
    }
    if report.errors > 0 {
        return Err(RunnerError::Failed(format!(
            "{} of {} requests failed",
            report.errors, report.requests
        )));
    }
    Ok(())
}
