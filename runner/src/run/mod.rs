//! The training loop: steps with progress, `metrics.jsonl`, checkpoints every N steps and on
//! every stop, Ctrl-C / SIGTERM, NaN and failure handling, the final evaluation,
//! `summary.json` and the run's pictures. Each concept has its module: [`interrupt`] (signals),
//! [`progress`] (bar or lines), [`outputs`] (metrics, checkpoints, summary) and [`plots`]
//! (learning curves and heat-maps); this one is the loop.
//!
//! A run folder holds:
//!
//! | file | what |
//! | --- | --- |
//! | `config.toml` | the resolved configuration (reusable with `--config`) |
//! | `metrics.jsonl` | one line per logging step (with `--eval-every N`, `eval.KEY` every N steps) |
//! | `checkpoint.ckpt` | the last checkpoint (runner state + algorithm state) |
//! | `best.ckpt` | with `--keep-best`: the best-evaluated state, in the same format |
//! | `summary.json` | final metrics, matrices, iterations, seed, versions; wall-clock under `timing` |
//! | `learning_curve.svg`, `.png` | the learning curves |
//! | `<matrix>.png`, `.svg` | each matrix the algorithm reports as a heat-map (a continual learner's `accuracy_matrix`) |

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use autodidact_core::{Algorithm, Better, Metrics, Registry};

use crate::atomic;
use crate::checkpoint::{BestRecord, CHECKPOINT_FILE};
use crate::config::{find_algorithm, RunSpec};
use crate::errors::{one_line, Result, RunnerError};
use crate::metrics::{self, METRICS_FILE};
use crate::provenance::{self, PluginRecord};
use crate::summary::{self, SUMMARY_FILE};

pub mod best;
pub mod interrupt;
pub mod outputs;
pub mod plots;
pub mod progress;

pub use interrupt::{install_interrupt_handler, interrupted};
pub use plots::CURVE_FILE;
pub use progress::Progress;
use progress::Reporter;

/// The resolved configuration's file name.
pub const CONFIG_FILE: &str = "config.toml";
/// Periodic checkpoints per run, by default.
pub const CHECKPOINTS_PER_RUN: u64 = 20;

/// Options of a run (not part of its configuration: they do not change its results).
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Steps between periodic checkpoints (default: a twentieth of the run).
    pub checkpoint_every: Option<u64>,
    /// Stop (as if interrupted) once this many steps are done.
    pub stop_after: Option<u64>,
    /// Evaluate (`evaluate(None)`) every this many steps and at the end of training, logging
    /// the results as `eval.KEY` in `metrics.jsonl` (a resumed run keeps its checkpoint's).
    pub eval_every: Option<u64>,
    /// Keep the best-evaluated state (by the algorithm's
    /// [`selection_metric`](Algorithm::selection_metric)) in `best.ckpt`, restore it at the
    /// end, and report both the final and the best evaluation. Evaluates every
    /// `eval_every` steps, or at every checkpoint when that is not given.
    pub keep_best: bool,
    /// The plugin files the run needs (written to `plugins.json`, named in hints).
    pub plugins: Vec<PluginRecord>,
    /// Progress reporting.
    pub progress: Progress,
    /// Print the final metrics and the output paths.
    pub print: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            checkpoint_every: None,
            stop_after: None,
            eval_every: None,
            keep_best: false,
            plugins: Vec::new(),
            progress: Progress::Silent,
            print: false,
        }
    }
}

/// What a finished run produced.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// The run folder.
    pub dir: PathBuf,
    /// Final metrics (evaluation over last training metrics).
    pub final_metrics: Metrics,
    /// `summary.json`.
    pub summary: PathBuf,
    /// The PNG learning curve, when there was something to plot.
    pub plot: Option<PathBuf>,
    /// The PNG heat-maps, one per matrix the algorithm reported.
    pub heatmaps: Vec<PathBuf>,
}

/// The default folder of a new run: `runs/<algo>-<env>-<timestamp>` (made unique).
pub fn default_run_dir(spec: &RunSpec) -> PathBuf {
    let base = PathBuf::from("runs").join(format!(
        "{}-{}",
        spec.slug(),
        summary::compact_timestamp(SystemTime::now())
    ));
    let mut dir = base.clone();
    let mut n = 2;
    while dir.exists() {
        dir = PathBuf::from(format!("{}-{n}", base.display()));
        n += 1;
    }
    dir
}

/// Whether `dir` already holds a run (a checkpoint or a summary).
pub fn holds_run(dir: &Path) -> bool {
    dir.join(CHECKPOINT_FILE).exists() || dir.join(SUMMARY_FILE).exists()
}

/// Starts a new run of `spec` in `dir`.
pub fn start(
    registry: &Registry,
    spec: &RunSpec,
    dir: &Path,
    opts: &RunOptions,
) -> Result<RunOutcome> {
    if holds_run(dir) {
        return Err(RunnerError::Usage(format!(
            "{} already holds a run: continue it with `autodidact resume {}`, or choose another --out",
            dir.display(),
            dir.display()
        )));
    }
    spec.check_trainable()?;
    let alg = spec.build(registry)?;
    if opts.progress != Progress::Silent {
        outln!(
            "Training {} on {} (seed {}) in {}",
            spec.algorithm,
            spec.env,
            spec.seed,
            dir.display()
        );
    }
    atomic::create_dir(dir)?;
    let plugin_args = provenance::cli_args(&opts.plugins);
    atomic::write_str(&dir.join(CONFIG_FILE), &spec.config_toml(&plugin_args))?;
    provenance::write(dir, &opts.plugins)?;
    let total = alg.total_steps();
    let checkpoint_every = opts
        .checkpoint_every
        .unwrap_or((total / CHECKPOINTS_PER_RUN).max(1))
        .max(1);
    let keep_best = best::selection(alg.as_ref(), &spec.algorithm, opts.keep_best)?;
    // Keeping the best needs evaluations to rank: at every checkpoint unless asked otherwise.
    let eval_every = opts
        .eval_every
        .filter(|&n| n > 0)
        .or(keep_best.as_ref().map(|_| checkpoint_every));
    let mut session = Session {
        dir: dir.to_path_buf(),
        spec: spec.clone(),
        algorithm_crate: find_algorithm(registry, &spec.algorithm)?.crate_name,
        alg,
        log: Vec::new(),
        lines: 0,
        last_metrics: Metrics::new(),
        checkpoint_every,
        last_checkpoint: 0,
        eval_every,
        keep_best,
        best: None,
        plugin_args,
        earlier_train_seconds: 0.0,
        train_time: Duration::ZERO,
        sessions: 1,
        started: SystemTime::now(),
        start_step: 0,
    };
    session.checkpoint()?;
    session.train_and_finish(opts)
}

/// A run in progress (started here, or rebuilt from a checkpoint by [`crate::resume`]).
pub(crate) struct Session {
    pub(crate) dir: PathBuf,
    pub(crate) spec: RunSpec,
    pub(crate) algorithm_crate: &'static str,
    pub(crate) alg: Box<dyn Algorithm>,
    /// `metrics.jsonl`'s content.
    pub(crate) log: Vec<u8>,
    pub(crate) lines: u64,
    pub(crate) last_metrics: Metrics,
    pub(crate) checkpoint_every: u64,
    /// The step of the last checkpoint written.
    pub(crate) last_checkpoint: u64,
    /// Steps between evaluations during training.
    pub(crate) eval_every: Option<u64>,
    /// With `--keep-best`: the metric that ranks evaluations, and which way is better.
    pub(crate) keep_best: Option<(String, Better)>,
    /// The best evaluation so far (its state is in `best.ckpt`).
    pub(crate) best: Option<BestRecord>,
    /// ` --plugin FILE` for each plugin the run needs, for hints.
    pub(crate) plugin_args: String,
    /// Training seconds of earlier sessions.
    pub(crate) earlier_train_seconds: f64,
    pub(crate) train_time: Duration,
    pub(crate) sessions: u64,
    pub(crate) started: SystemTime,
    pub(crate) start_step: u64,
}

/// The text of a panic's payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

impl Session {
    pub(crate) fn train_and_finish(mut self, opts: &RunOptions) -> Result<RunOutcome> {
        let headline = self.alg.headline_metric();
        let label = format!("{} on {}", self.spec.algorithm, self.spec.env);
        let mut reporter = Reporter::new(
            opts.progress,
            &label,
            self.alg.steps_done(),
            self.alg.total_steps(),
        );
        match self.train(opts, headline, &mut reporter) {
            Ok(()) => reporter.finish(),
            Err(e) => {
                reporter.abandon();
                if matches!(e, RunnerError::Interrupted { .. }) {
                    // Best effort: the curve so far.
                    let _ = self.plot(headline);
                }
                return Err(e);
            }
        }
        self.finish(opts, headline)
    }

    fn train(
        &mut self,
        opts: &RunOptions,
        headline: &'static str,
        reporter: &mut Reporter,
    ) -> Result<()> {
        let total = self.alg.total_steps();
        loop {
            let step = self.alg.steps_done();
            if step >= total {
                break;
            }
            if interrupted() || opts.stop_after.is_some_and(|n| step >= n) {
                self.checkpoint()?;
                return Err(RunnerError::Interrupted {
                    dir: self.dir.clone(),
                    plugin_args: self.plugin_args.clone(),
                    step,
                    total,
                });
            }
            let t0 = Instant::now();
            let result = catch_unwind(AssertUnwindSafe(|| self.alg.train_step()));
            self.train_time += t0.elapsed();
            let mut metrics = match result {
                Ok(Ok(m)) => m,
                Ok(Err(e)) => {
                    return Err(RunnerError::Failed(format!(
                        "training failed at iteration {}: {}; {}",
                        step + 1,
                        one_line(&e.to_string()),
                        self.last_good()
                    )))
                }
                Err(payload) => {
                    return Err(RunnerError::Failed(format!(
                        "{} panicked at iteration {}: {}; {}",
                        self.spec.algorithm,
                        step + 1,
                        one_line(&panic_message(payload.as_ref())),
                        self.last_good()
                    )))
                }
            };
            let after = self.alg.steps_done();
            if after <= step {
                return Err(RunnerError::Failed(format!(
                    "{} did not advance: steps_done stayed at {step} after a training step",
                    self.spec.algorithm
                )));
            }
            // Before evaluating, so a NaN loss is named rather than what evaluating NaN
            // parameters does; and again after, since a NaN validation metric is divergence
            // too and must stop the run before it is checkpointed.
            self.check_finite(&metrics, after)?;
            if self
                .eval_every
                .is_some_and(|n| after.is_multiple_of(n) || after >= total)
            {
                // Logged beside the step's own metrics; its time is not training time.
                let evaluation = self.evaluate_during(after)?;
                self.consider_best(after, &evaluation)?;
                metrics.extend(
                    evaluation
                        .into_iter()
                        .map(|(k, v)| (format!("eval.{k}"), v)),
                );
            }
            self.check_finite(&metrics, after)?;
            if !metrics.is_empty() {
                self.log
                    .extend_from_slice(metrics::format_line(after, &metrics).as_bytes());
                self.lines += 1;
                // The latest value of every key (steps may log different keys).
                self.last_metrics.extend(metrics);
            }
            reporter.step(after, headline, &self.last_metrics);
            if after >= self.last_checkpoint + self.checkpoint_every || after >= total {
                self.checkpoint()?;
                reporter.checkpoint(self, headline);
            }
        }
        if self.last_checkpoint != self.alg.steps_done() {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Stops the run when a metric logged after iteration `after` is NaN or infinite.
    fn check_finite(&self, metrics: &Metrics, after: u64) -> Result<()> {
        match metrics.iter().find(|(_, v)| !v.is_finite()) {
            None => Ok(()),
            Some((key, value)) => {
                // Keep the good lines for inspection; resume cuts back to the checkpoint.
                let _ = self.write_metrics();
                Err(RunnerError::Failed(format!(
                    "training stopped at iteration {after}: `{key}` is {value}; {}",
                    self.last_good()
                )))
            }
        }
    }

    /// `evaluate(None)` during training, after step `step`; a failure stops the run like a
    /// failed step.
    fn evaluate_during(&mut self, step: u64) -> Result<Metrics> {
        match catch_unwind(AssertUnwindSafe(|| self.alg.evaluate(None))) {
            Ok(Ok(m)) => Ok(m),
            Ok(Err(e)) => Err(RunnerError::Failed(format!(
                "the evaluation after iteration {step} failed: {}; {}",
                one_line(&e.to_string()),
                self.last_good()
            ))),
            Err(p) => Err(RunnerError::Failed(format!(
                "{} panicked evaluating after iteration {step}: {}; {}",
                self.spec.algorithm,
                one_line(&panic_message(p.as_ref())),
                self.last_good()
            ))),
        }
    }

    /// Writes the learning curves so far; `None` when nothing was logged.
    fn plot(&self, headline: &str) -> Result<Option<PathBuf>> {
        let path = self.dir.join(METRICS_FILE);
        let text = String::from_utf8_lossy(&self.log);
        let log = metrics::parse_log(&path, &text)?;
        plots::draw_curves(&self.dir, &self.title(), &log, headline)
    }

    fn title(&self) -> String {
        plots::run_title(&self.spec.algorithm, &self.spec.env, self.spec.seed)
    }

    fn finish(mut self, opts: &RunOptions, headline: &'static str) -> Result<RunOutcome> {
        let t0 = Instant::now();
        let evaluation = catch_unwind(AssertUnwindSafe(|| self.alg.evaluate(None)))
            .map_err(|p| {
                RunnerError::Failed(format!(
                    "{} panicked in its final evaluation: {}; the trained state is in {}",
                    self.spec.algorithm,
                    one_line(&panic_message(p.as_ref())),
                    self.checkpoint_path().display()
                ))
            })?
            .map_err(|e| {
                RunnerError::Failed(format!(
                    "the final evaluation failed: {}; the trained state is in {}",
                    one_line(&e.to_string()),
                    self.checkpoint_path().display()
                ))
            })?;
        let eval_seconds = t0.elapsed().as_secs_f64();
        let iterations = self.alg.steps_done();
        // `evaluate` cannot be stopped from outside, so a signal during it is honoured as soon
        // as it returns: no summary, the trained checkpoint (already written) left intact, and
        // `resume` redoes the evaluation. Exiting 0 would tell a batch system the run finished.
        if interrupted() {
            return Err(RunnerError::Interrupted {
                dir: self.dir.clone(),
                plugin_args: self.plugin_args.clone(),
                step: iterations,
                total: self.alg.total_steps(),
            });
        }
        let matrices = self.matrices();
        // After the matrices, which describe the final state: restoring changes the state.
        let best = self.evaluate_best(iterations, &evaluation)?;
        // `iterations`, not `steps_done`: the restored best state may be at an earlier step.
        let summary_path = self.write_summary(
            headline,
            iterations,
            &evaluation,
            best.as_ref(),
            &matrices,
            eval_seconds,
        )?;
        let plot = match self.plot(headline) {
            Ok(p) => p,
            Err(e) => {
                eprintln!(
                    "autodidact: warning: no learning-curve plot: {}",
                    e.one_line()
                );
                None
            }
        };
        let heatmaps = match plots::draw_matrices(&self.dir, "", &self.title(), &matrices) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("autodidact: warning: no heat-map: {}", e.one_line());
                Vec::new()
            }
        };
        let mut final_metrics = summary::final_metrics(&evaluation, &self.last_metrics);
        if let Some(b) = &best {
            final_metrics.extend(summary::best_metrics(b));
        }
        if opts.print {
            outln!(
                "{} on {} (seed {}): {iterations} iterations done.",
                self.spec.algorithm,
                self.spec.env,
                self.spec.seed
            );
            outln!("Final metrics:");
            out!("{}", summary::final_table(&final_metrics));
            if let Some(b) = &best {
                outln!(
                    "Kept the best state, iteration {} by `{}` ({} is better), in {}; it is \
                     restored and `eval` evaluates it (`--last` for the final state). Its \
                     evaluation is under best.* above.",
                    b.step,
                    b.metric,
                    b.better.name(),
                    self.dir.join(crate::checkpoint::BEST_FILE).display()
                );
            }
            outln!("Summary: {}", summary_path.display());
            match &plot {
                Some(p) => outln!("Plot:    {} (and {CURVE_FILE}.svg)", p.display()),
                None => outln!("Plot:    none (no metrics were logged)"),
            }
            for p in &heatmaps {
                outln!("Heat-map: {} (and .svg)", p.display());
            }
        }
        Ok(RunOutcome {
            dir: self.dir,
            final_metrics,
            summary: summary_path,
            plot,
            heatmaps,
        })
    }
}
