//! The command line (clap): `autodidact list | describe | run | eval | resume | sweep | compare
//! | plot | bench | serve | agent`, and the dispatch to each command's module.

use std::ffi::OsString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::agent::{self, AgentCommand};
use crate::bench::{self, BenchRequest};
use crate::catalog;
use crate::columns::{Derived, First};
use crate::compare::{self, CompareRequest};
use crate::config::{read_config_file, ConfigFile, Override, RunSpec};
use crate::errors::{Result, RunnerError};
use crate::eval::{self, EvalRequest};
use crate::plugin::{plugin_paths, registry_with_plugins};
use crate::provenance::{self, Strictness};
use crate::replot;
use crate::resume;
use crate::run::{self, install_interrupt_handler, panic_message, Progress, RunOptions};
use crate::sweep::{self, GridAxis, Shard, SweepRequest};

/// Meta-learning, continual learning and reinforcement learning on Autodidact's own
/// any-order autodiff.
#[derive(Debug, Parser)]
#[command(
    name = "autodidact",
    version,
    propagate_version = true,
    after_help = "Exit codes: 0 success, 1 a run that failed (or was interrupted), 2 a usage or input error."
)]
pub struct Cli {
    /// Load a plugin (a cdylib built with `autodidact_core::declare_plugin!()`); repeatable.
    /// The AUTODIDACT_PLUGINS path list adds more. Nothing else is ever loaded.
    #[arg(long = "plugin", value_name = "LIB", global = true)]
    pub plugins: Vec<PathBuf>,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every algorithm and environment (built in and from plugins).
    List {
        /// Print JSON (an object with `algorithms` and `environments`, entries with `name`).
        #[arg(long)]
        json: bool,
    },
    /// Show an algorithm's hyperparameters or an environment's parameters, with defaults,
    /// types, ranges and meanings, as TOML ready to paste into a config file.
    Describe {
        /// An algorithm or environment name.
        name: String,
    },
    /// Train an algorithm on an environment, evaluate it, and write a run folder.
    Run(RunArgs),
    /// Evaluate a run's checkpoint (on its environment, or another of the same kind).
    Eval(EvalArgs),
    /// Continue a stopped run from its checkpoint.
    Resume(ResumeArgs),
    /// Run a grid of configurations × seeds in parallel (or one shard of it).
    Sweep(SweepArgs),
    /// Compare finished runs: mean ± 95% CI over seeds per configuration, curves overlaid.
    Compare(CompareArgs),
    /// Draw every picture again from raw results: run folders' learning curves and
    /// heat-maps, and the heat-maps of runs.jsonl exports.
    Plot(PlotArgs),
    /// Time an algorithm's training steps on an environment (steps per second).
    Bench(BenchArgs),
    /// Run the customer-service agent's HTTP service (docs/agent.md) until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// The customer-service agent's tools: replay simulated customers, import an export,
    /// load-test the HTTP API.
    #[command(subcommand)]
    Agent(AgentCommand),
}

/// Where the agent's data, database and address come from.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The agent's configuration (TOML, docs/agent.md); the flags below override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A folder of text,label CSV files (and an optional answers.csv of intent,answer), read
    /// on the first start [default: ../shared/data/banking77].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The SQLite database file [default: autodidact-agent.db], or a PostgreSQL database's
    /// URL (`postgres://user@host:5432/agent`) that several replicas may share.
    #[arg(long, value_name = "FILE|URL")]
    pub db: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<std::net::SocketAddr>,
}

/// `autodidact serve`: the agent's configuration from the file and flags, then its server.
fn serve(a: &ServeArgs) -> Result<()> {
    use autodidact_agent::{AgentConfig, AgentError};
    // What the operator gave (configuration, data, a damaged or busy database) exits 2.
    let to_runner = |e: AgentError| match e.exit_code() {
        2 => RunnerError::Config(e.to_string()),
        _ => RunnerError::Failed(e.to_string()),
    };
    let mut config = match &a.config {
        Some(path) => AgentConfig::from_file(path).map_err(to_runner)?,
        None => AgentConfig::default(),
    };
    if let Some(d) = &a.data {
        config.data = d.clone();
    }
    if let Some(d) = &a.db {
        config.db = d.clone();
    }
    if let Some(b) = a.bind {
        config.bind = b;
    }
    autodidact_agent::api::run_blocking(config.with_env_tokens()).map_err(to_runner)
}

/// What to train: algorithm, environment and configuration.
#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// The algorithm (`autodidact list` shows them).
    pub algorithm: String,
    /// The environment to train on.
    #[arg(long, value_name = "ENV")]
    pub env: String,
    /// A TOML file: hyperparameters at the top level, environment parameters in [env].
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Override one value (KEY=VALUE for a hyperparameter, env.KEY=VALUE for the
    /// environment); repeatable; wins over the file.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// `run`'s arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// What to train.
    #[command(flatten)]
    pub experiment: ExperimentArgs,
    /// The seed: the same command and seed give the same metrics, byte for byte.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    pub seed: u64,
    /// The run folder (default: runs/<algo>-<env>-<timestamp>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Steps between checkpoints (default: a twentieth of the run).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: Option<u64>,
    /// Also evaluate every N steps (and at the end of training), logging `eval.KEY` in
    /// metrics.jsonl (compare --first finds when a threshold was first reached).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub eval_every: Option<u64>,
    /// Keep the best-evaluated state in best.ckpt (ranked by the algorithm's selection
    /// metric), restore it at the end, and report both the final and the best evaluation
    /// (best.KEY); evaluates at every checkpoint unless --eval-every says otherwise.
    #[arg(long)]
    pub keep_best: bool,
    /// No progress bar or line.
    #[arg(long, short)]
    pub quiet: bool,
    /// Stop as if interrupted once N steps are done (for testing resume).
    #[arg(long, value_name = "N", hide = true)]
    pub stop_after: Option<u64>,
}

/// `eval`'s arguments.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The run folder.
    #[arg(long = "run", value_name = "DIR")]
    pub run: PathBuf,
    /// Evaluate on another environment of the same kind (default: the run's).
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Environment parameters (env.KEY=VALUE) over the run's; repeatable.
    #[arg(long = "set", value_name = "env.KEY=VALUE")]
    pub set: Vec<String>,
    /// Where to write the result (default: DIR/eval.json).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Evaluate the final state even when the run kept a best one (--keep-best).
    #[arg(long)]
    pub last: bool,
}

/// `resume`'s arguments.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run folder.
    pub dir: PathBuf,
    /// Steps between checkpoints (default: the run's).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: Option<u64>,
    /// No progress bar or line.
    #[arg(long, short)]
    pub quiet: bool,
    /// Stop as if interrupted once N steps are done (for testing resume).
    #[arg(long, value_name = "N", hide = true)]
    pub stop_after: Option<u64>,
}

/// `sweep`'s arguments.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// What to train.
    #[command(flatten)]
    pub experiment: ExperimentArgs,
    /// Seeds: A..B (B excluded), A..=B, N, or a list N,M,…
    #[arg(long, value_name = "RANGE")]
    pub seeds: String,
    /// One axis of the grid, KEY=V1,V2,… (env.KEY for the environment); repeatable.
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub grid: Vec<String>,
    /// Runs at once (default: the number of cores; at most 1024).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub jobs: Option<u64>,
    /// Run only the I-th (from 0) of N shares of the sweep, e.g. $SLURM_ARRAY_TASK_ID/8.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Run share I of N, I read from SLURM_ARRAY_TASK_ID (a Slurm array task) or
    /// JOB_COMPLETION_INDEX (a Kubernetes indexed Job).
    #[arg(long, value_name = "N")]
    pub shard_from_env: Option<String>,
    /// The sweep folder (default: runs/sweep-<algo>-<env>); one subfolder per run.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Steps between checkpoints (default: a twentieth of each run).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: Option<u64>,
    /// Also evaluate every N steps in every run (see `run --eval-every`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub eval_every: Option<u64>,
    /// Keep every run's best-evaluated state (see `run --keep-best`).
    #[arg(long)]
    pub keep_best: bool,
}

/// `compare`'s arguments.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Folders holding finished runs, at any depth (e.g. every shard's sweep folder), or
    /// runs.jsonl exports.
    #[arg(required = true, value_name = "DIR|FILE.jsonl")]
    pub dirs: Vec<PathBuf>,
    /// Draw the learning curves of every group overlaid (.svg or .png).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// The metric to plot (default: the runs' headline metric).
    #[arg(long, value_name = "KEY")]
    pub metric: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Print a Markdown table: a row per group, a column per metric (see --metrics).
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
    /// The Markdown table's columns, in order: KEY, or PREFIX* for every key with that
    /// prefix; timing.train_seconds for training seconds (default: every metric).
    #[arg(
        long,
        value_name = "KEY,...",
        value_delimiter = ',',
        requires = "markdown"
    )]
    pub metrics: Vec<String>,
    /// Show the Markdown table's values ×100 (accuracies in per cent).
    #[arg(long, requires = "markdown")]
    pub percent: bool,
    /// Add a per-run difference NAME=A-B (NAME=A - B when a key holds '-') before
    /// averaging: its interval is the paired one. Repeatable.
    #[arg(long, value_name = "NAME=A-B")]
    pub derive: Vec<String>,
    /// Add a per-run metric NAME: the first logged step at which KEY was <= T (or >= T),
    /// from the run's metrics.jsonl (e.g. solved=eval.eval_return_mean>=475). Repeatable.
    #[arg(long, value_name = "NAME=KEY<=T")]
    pub first: Vec<String>,
    /// Also write every run found, one summary per line, to this runs.jsonl (the form
    /// results are kept in; compare and plot read it back).
    #[arg(long, value_name = "FILE.jsonl")]
    pub export: Option<PathBuf>,
}

/// `plot`'s arguments.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Run folders (at any depth) and runs.jsonl exports.
    #[arg(required = true, value_name = "DIR|FILE.jsonl")]
    pub paths: Vec<PathBuf>,
}

/// `bench`'s arguments.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to train.
    #[command(flatten)]
    pub experiment: ExperimentArgs,
    /// The seed.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    pub seed: u64,
    /// Timed steps.
    #[arg(long, default_value_t = 50)]
    pub steps: u64,
    /// Untimed steps first.
    #[arg(long, default_value_t = 3)]
    pub warmup: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn overrides(sets: &[String]) -> Result<Vec<Override>> {
    sets.iter().map(|s| Override::parse(s)).collect()
}

fn config_file(path: Option<&PathBuf>) -> Result<Option<ConfigFile>> {
    path.map(|p| read_config_file(p)).transpose()
}

fn progress(quiet: bool) -> Progress {
    if quiet {
        Progress::Silent
    } else {
        Progress::auto()
    }
}

/// Runs a parsed command line.
pub fn execute(cli: Cli) -> Result<()> {
    let plugin_files = plugin_paths(&cli.plugins);
    if let Command::Compare(a) = &cli.command {
        compare::compare(&CompareRequest {
            dirs: a.dirs.clone(),
            plot: a.plot.clone(),
            metric: a.metric.clone(),
            json: a.json,
            markdown: a.markdown,
            columns: a.metrics.clone(),
            percent: a.percent,
            derive: a
                .derive
                .iter()
                .map(|d| Derived::parse(d))
                .collect::<Result<_>>()?,
            first: a
                .first
                .iter()
                .map(|f| First::parse(f))
                .collect::<Result<_>>()?,
            export: a.export.clone(),
        })?;
        return Ok(());
    }
    if let Command::Serve(a) = &cli.command {
        return serve(a);
    }
    if let Command::Agent(c) = &cli.command {
        return agent::run(c);
    }
    if let Command::Plot(a) = &cli.command {
        let drawn = replot::plot(&a.paths)?;
        outln!(
            "Drew {} pictures (each as .png and .svg) for {} run folders and {} runs.jsonl lines.",
            drawn.pictures.len(),
            drawn.runs,
            drawn.lines
        );
        return Ok(());
    }
    // A run trained with a plugin recorded it: load the same file again unless given.
    let recorded = match &cli.command {
        Command::Resume(a) => provenance::required(&a.dir, &plugin_files, Strictness::SameFile)?,
        Command::Eval(a) => provenance::required(&a.run, &plugin_files, Strictness::Warn)?,
        _ => Vec::new(),
    };
    for p in &recorded {
        eprintln!(
            "autodidact: loading {}, the plugin the run was trained with (recorded in {})",
            p.display(),
            provenance::PLUGINS_FILE
        );
    }
    let mut plugin_files = plugin_files;
    plugin_files.extend(recorded);
    let (registry, plugins) = registry_with_plugins(&plugin_files)?;
    match cli.command {
        Command::List { json } => {
            if json {
                let text = serde_json::to_string_pretty(&catalog::list_json(&registry, &plugins))
                    .map_err(|e| RunnerError::Failed(e.to_string()))?;
                outln!("{text}");
            } else {
                out!("{}", catalog::list_text(&registry, &plugins));
            }
        }
        Command::Describe { name } => outln!("{}", catalog::describe(&registry, &name)?),
        Command::Run(a) => {
            let e = &a.experiment;
            let spec = RunSpec::resolve(
                &registry,
                &e.algorithm,
                &e.env,
                config_file(e.config.as_ref())?.as_ref(),
                &overrides(&e.set)?,
                a.seed,
            )?;
            let dir = a.out.clone().unwrap_or_else(|| run::default_run_dir(&spec));
            let needed = provenance::records_for(&plugins, &spec.algorithm, &spec.env)?;
            run::start(
                &registry,
                &spec,
                &dir,
                &RunOptions {
                    checkpoint_every: a.checkpoint_every,
                    stop_after: a.stop_after,
                    eval_every: a.eval_every,
                    keep_best: a.keep_best,
                    plugins: needed,
                    progress: progress(a.quiet),
                    print: true,
                },
            )?;
        }
        Command::Eval(a) => {
            eval::evaluate(
                &registry,
                &EvalRequest {
                    dir: a.run,
                    env: a.env,
                    sets: overrides(&a.set)?,
                    output: a.output,
                    last: a.last,
                    print: true,
                },
            )?;
        }
        Command::Resume(a) => {
            if !a.quiet {
                outln!("Resuming {}", a.dir.display());
            }
            resume::resume(
                &registry,
                &a.dir,
                &RunOptions {
                    checkpoint_every: a.checkpoint_every,
                    stop_after: a.stop_after,
                    eval_every: None,
                    keep_best: false,
                    plugins: Vec::new(),
                    progress: progress(a.quiet),
                    print: true,
                },
            )?;
        }
        Command::Sweep(a) => {
            let e = &a.experiment;
            let shard = match (&a.shard, &a.shard_from_env) {
                (Some(_), Some(_)) => {
                    return Err(RunnerError::Usage(
                        "give `--shard I/N` or `--shard-from-env N`, not both".into(),
                    ))
                }
                (Some(text), None) => Shard::parse(text)?,
                (None, Some(count)) => Shard::from_env(count, |k| std::env::var(k).ok())?,
                (None, None) => Shard::ALL,
            };
            let out = a
                .out
                .clone()
                .unwrap_or_else(|| sweep::default_sweep_dir(&e.algorithm, &e.env));
            let jobs = a.jobs.map_or_else(
                || std::thread::available_parallelism().map_or(1, |n| n.get()),
                |j| usize::try_from(j).unwrap_or(usize::MAX),
            );
            let outcome = sweep::sweep(
                &registry,
                &SweepRequest {
                    algorithm: e.algorithm.clone(),
                    env: e.env.clone(),
                    config: config_file(e.config.as_ref())?,
                    sets: overrides(&e.set)?,
                    grid: a
                        .grid
                        .iter()
                        .map(|g| GridAxis::parse(g))
                        .collect::<Result<_>>()?,
                    seeds: sweep::parse_seeds(&a.seeds)?,
                    jobs,
                    shard,
                    out: out.clone(),
                    checkpoint_every: a.checkpoint_every,
                    eval_every: a.eval_every,
                    keep_best: a.keep_best,
                    plugins: provenance::records_for(&plugins, &e.algorithm, &e.env)?,
                    print: true,
                },
            )?;
            let done = outcome.results.len();
            outln!(
                "\n{done} runs of this shard are finished in {}.",
                out.display()
            );
            if shard.count == 1 {
                compare::compare(&CompareRequest {
                    dirs: vec![out.clone()],
                    ..CompareRequest::default()
                })?;
            } else {
                outln!(
                    "When every shard is done: autodidact compare {} --plot compare.png",
                    out.display()
                );
            }
        }
        Command::Bench(a) => {
            let e = &a.experiment;
            let spec = RunSpec::resolve(
                &registry,
                &e.algorithm,
                &e.env,
                config_file(e.config.as_ref())?.as_ref(),
                &overrides(&e.set)?,
                a.seed,
            )?;
            bench::bench(
                &registry,
                &BenchRequest {
                    spec,
                    steps: a.steps,
                    warmup: a.warmup,
                    json: a.json,
                },
            )?;
        }
        Command::Compare(_) | Command::Plot(_) | Command::Serve(_) | Command::Agent(_) => {}
    }
    Ok(())
}

/// Parses `args` (the first is the program name) and runs the command, in this process.
/// A parse error, `--help` or `--version` comes back as [`RunnerError::Usage`] with clap's
/// text.
pub fn execute_args<I, T>(args: I) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).map_err(|e| RunnerError::Usage(e.to_string()))?;
    execute(cli)
}

/// The `autodidact` program: parses the process's arguments, runs the command, prints an
/// error as one line on stderr, and returns the exit code (0, 1 or 2).
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = e.exit_code();
            let _ = e.print();
            return ExitCode::from(u8::try_from(code).unwrap_or(2));
        }
    };
    if std::env::var_os("RUST_BACKTRACE").is_none() {
        // Panics are caught and reported as one line; the default hook's text would repeat
        // them with a backtrace hint.
        std::panic::set_hook(Box::new(|_| {}));
    }
    if matches!(
        cli.command,
        Command::Run(_) | Command::Resume(_) | Command::Sweep(_) | Command::Bench(_)
    ) {
        install_interrupt_handler();
    }
    match catch_unwind(AssertUnwindSafe(|| execute(cli))) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            match &e {
                RunnerError::Interrupted { .. } => eprintln!("autodidact: {}", e.one_line()),
                _ => eprintln!("autodidact: error: {}", e.one_line()),
            }
            ExitCode::from(e.exit_code())
        }
        Err(p) => {
            eprintln!(
                "autodidact: error: internal error (please report it): {}",
                crate::errors::one_line(&panic_message(p.as_ref()))
            );
            ExitCode::from(1)
        }
    }
}
