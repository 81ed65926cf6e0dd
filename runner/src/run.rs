//! The training loop: steps with a progress bar, `metrics.jsonl`, checkpoints every N steps
//! and on every stop, Ctrl-C / SIGTERM, NaN and failure handling, the final evaluation,
//! `summary.json` and the learning-curve plot.
//!
//! A run folder holds:
//!
//! | file | what |
//! | --- | --- |
//! | `config.toml` | the resolved configuration (reusable with `--config`) |
//! | `metrics.jsonl` | one line per logging step |
//! | `checkpoint.ckpt` | the last checkpoint (runner state + algorithm state) |
//! | `summary.json` | final metrics, iterations, seed, versions; wall-clock under `timing` |
//! | `learning_curve.svg`, `.png` | the learning curves |
//! | `accuracy_matrix.png`, `.svg` | a continual learner's accuracy matrix (`r_i_j` keys) as a heat-map |

use std::io::IsTerminal;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant, SystemTime};

use autodidact_core::plugin::{CORE_VERSION, RUSTC_VERSION};
use autodidact_core::{Algorithm, Metrics, Registry};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::atomic;
use crate::checkpoint::{Checkpoint, CheckpointHeader, CHECKPOINT_FILE};
use crate::config::{find_algorithm, RunSpec};
use crate::errors::{one_line, Result, RunnerError};
use crate::metrics::{self, fnv1a, METRICS_FILE};
use crate::plot;
use crate::summary::{self, SummaryInput, Timing, SUMMARY_FILE};
use crate::table::fmt_num;

/// The resolved configuration's file name.
pub const CONFIG_FILE: &str = "config.toml";
/// The learning-curve plot's base name (`.svg` and `.png`).
pub const CURVE_FILE: &str = "learning_curve";
/// Periodic checkpoints per run, by default.
pub const CHECKPOINTS_PER_RUN: u64 = 20;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C / SIGTERM handler (once per process): the first signal stops every run
/// after its current step with a checkpoint; a second one exits at once.
pub fn install_interrupt_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                eprintln!("autodidact: interrupted again: exiting without a checkpoint");
                std::process::exit(1);
            }
            eprintln!(
                "\nautodidact: stopping after the current step (interrupt again to exit at once)"
            );
        });
        if let Err(e) = installed {
            eprintln!("autodidact: warning: cannot catch Ctrl-C: {e}");
        }
    });
}

/// Whether Ctrl-C or SIGTERM was received.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// How a run reports progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar on stderr (iteration, rate, ETA, latest metric).
    Bar,
    /// A plain line on stderr at checkpoints (for logs of batch jobs).
    Lines,
    /// Nothing.
    Silent,
}

impl Progress {
    /// A bar on a terminal, lines otherwise.
    pub fn auto() -> Progress {
        if std::io::stderr().is_terminal() {
            Progress::Bar
        } else {
            Progress::Lines
        }
    }
}

/// Options of a run (not part of its configuration: they do not change its results).
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Steps between periodic checkpoints (default: a twentieth of the run).
    pub checkpoint_every: Option<u64>,
    /// Stop (as if interrupted) once this many steps are done.
    pub stop_after: Option<u64>,
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
    atomic::write_str(&dir.join(CONFIG_FILE), &spec.config_toml())?;
    let total = alg.total_steps();
    let mut session = Session {
        dir: dir.to_path_buf(),
        spec: spec.clone(),
        algorithm_crate: find_algorithm(registry, &spec.algorithm)?.crate_name,
        alg,
        log: Vec::new(),
        lines: 0,
        last_metrics: Metrics::new(),
        checkpoint_every: opts
            .checkpoint_every
            .unwrap_or((total / CHECKPOINTS_PER_RUN).max(1))
            .max(1),
        last_checkpoint: 0,
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

/// Reports progress.
enum Reporter {
    Bar(ProgressBar),
    Lines { last: Option<Instant> },
    Silent,
}

impl Reporter {
    fn new(progress: Progress, label: &str, done: u64, total: u64) -> Reporter {
        match progress {
            Progress::Bar => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                if let Ok(style) = ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} it  {rate}  ETA {eta}  {msg}",
                ) {
                    let style = style
                        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = write!(w, "{} it/s", fmt_num(s.per_sec()));
                        })
                        .progress_chars("=> ");
                    bar.set_style(style);
                }
                bar.set_prefix(label.to_string());
                bar.set_position(done);
                bar.reset_eta();
                Reporter::Bar(bar)
            }
            Progress::Lines => Reporter::Lines { last: None },
            Progress::Silent => Reporter::Silent,
        }
    }

    fn step(&mut self, step: u64, headline: &str, metrics: &Metrics) {
        if let Reporter::Bar(bar) = self {
            bar.set_position(step);
            if let Some(v) = metrics.get(headline) {
                bar.set_message(format!("{headline} {}", fmt_num(*v)));
            }
        }
    }

    /// A line at a checkpoint (at most one every five seconds, and the first).
    fn checkpoint(&mut self, session: &Session, headline: &str) {
        if let Reporter::Lines { last } = self {
            if last.is_some_and(|t| t.elapsed() < Duration::from_secs(5)) {
                return;
            }
            *last = Some(Instant::now());
            let step = session.alg.steps_done();
            let total = session.alg.total_steps().max(1);
            let secs = session.train_time.as_secs_f64();
            let rate = if secs > 0.0 {
                (step - session.start_step) as f64 / secs
            } else {
                0.0
            };
            let eta = if rate > 0.0 {
                format!(
                    ", ETA {}",
                    fmt_duration((total.saturating_sub(step)) as f64 / rate)
                )
            } else {
                String::new()
            };
            let metric = session
                .last_metrics
                .get(headline)
                .map_or(String::new(), |v| format!(", {headline} {}", fmt_num(*v)));
            eprintln!(
                "[{}] iteration {step}/{total} ({:.0}%){metric}, {} it/s{eta}",
                session.dir.display(),
                100.0 * step as f64 / total as f64,
                fmt_num(rate)
            );
        }
    }

    fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish();
        }
    }

    fn abandon(&self) {
        if let Reporter::Bar(bar) = self {
            bar.abandon();
        }
    }
}

/// `1h02m`, `3m05s`, `12s`.
fn fmt_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

impl Session {
    fn checkpoint_path(&self) -> PathBuf {
        self.dir.join(CHECKPOINT_FILE)
    }

    pub(crate) fn write_metrics(&self) -> Result<()> {
        atomic::write(&self.dir.join(METRICS_FILE), &self.log)
    }

    /// Writes the metrics so far and a checkpoint of the current state.
    fn checkpoint(&mut self) -> Result<()> {
        let spec_toml = self.spec.to_toml()?;
        let algorithm = catch_unwind(AssertUnwindSafe(|| self.alg.save()))
            .map_err(|p| {
                RunnerError::Failed(format!(
                    "saving the algorithm's state panicked: {}",
                    panic_message(p.as_ref())
                ))
            })?
            .map_err(|e| {
                RunnerError::Failed(format!(
                    "cannot save the algorithm's state: {}",
                    one_line(&e.to_string())
                ))
            })?;
        let step = self.alg.steps_done();
        let ckpt = Checkpoint {
            header: CheckpointHeader {
                spec_toml,
                step,
                total_steps: self.alg.total_steps(),
                checkpoint_every: self.checkpoint_every,
                metrics_bytes: self.log.len() as u64,
                metrics_lines: self.lines,
                metrics_fnv1a: format!("{:016x}", fnv1a(&self.log)),
                last_metrics: self.last_metrics.clone(),
                train_seconds: self.earlier_train_seconds + self.train_time.as_secs_f64(),
                sessions: self.sessions,
                core_version: CORE_VERSION.to_string(),
                rustc_version: RUSTC_VERSION.to_string(),
            },
            algorithm,
        };
        // Metrics first: a crash between the two leaves a longer metrics file, which resume
        // cuts back to the checkpoint's length.
        self.write_metrics()?;
        ckpt.write(&self.dir)?;
        self.last_checkpoint = step;
        Ok(())
    }

    /// "the last good checkpoint is … (iteration N)".
    fn last_good(&self) -> String {
        format!(
            "the last good checkpoint is {} (iteration {})",
            self.checkpoint_path().display(),
            self.last_checkpoint
        )
    }

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
                    step,
                    total,
                });
            }
            let t0 = Instant::now();
            let result = catch_unwind(AssertUnwindSafe(|| self.alg.train_step()));
            self.train_time += t0.elapsed();
            let metrics = match result {
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
            if let Some((key, value)) = metrics.iter().find(|(_, v)| !v.is_finite()) {
                // Keep the good lines for inspection; resume cuts back to the checkpoint.
                let _ = self.write_metrics();
                return Err(RunnerError::Failed(format!(
                    "training stopped at iteration {after}: `{key}` is {value}; {}",
                    self.last_good()
                )));
            }
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

    /// Writes the learning curves; `None` when nothing was logged.
    fn plot(&self, headline: &str) -> Result<Option<PathBuf>> {
        let path = self.dir.join(METRICS_FILE);
        let text = String::from_utf8_lossy(&self.log);
        let log = metrics::parse_log(&path, &text)?;
        let panels = plot::learning_curve_panels(&log, headline);
        if panels.is_empty() {
            return Ok(None);
        }
        let title = format!(
            "{} on {} (seed {})",
            self.spec.algorithm, self.spec.env, self.spec.seed
        );
        let svg = self.dir.join(format!("{CURVE_FILE}.svg"));
        let png = self.dir.join(format!("{CURVE_FILE}.png"));
        plot::write_plot(&svg, &title, &panels)?;
        plot::write_plot(&png, &title, &panels)?;
        Ok(Some(png))
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
        let timing = Timing {
            started: self.started,
            finished: SystemTime::now(),
            train_seconds: self.earlier_train_seconds + self.train_time.as_secs_f64(),
            eval_seconds,
            session_steps: iterations - self.start_step,
            sessions: self.sessions,
        };
        let summary_value = summary::summary_json(&SummaryInput {
            spec: &self.spec,
            algorithm_crate: self.algorithm_crate,
            headline,
            iterations,
            evaluation: &evaluation,
            last_training: &self.last_metrics,
            timing,
        });
        let summary_path = summary::write_summary(&self.dir, &summary_value)?;
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
        let final_metrics = summary::final_metrics(&evaluation, &self.last_metrics);
        // A continual learner's accuracy matrix (`r_i_j` keys) as a heat-map picture.
        let heatmap = if final_metrics
            .keys()
            .any(|k| k.starts_with("r_") && plot::is_per_cell_key(k))
        {
            match autodidact_continual::heatmap::draw_from_summary(&summary_path, &self.dir) {
                Ok((png, _)) => Some(png),
                Err(e) => {
                    eprintln!("autodidact: warning: no accuracy-matrix heat-map: {e}");
                    None
                }
            }
        } else {
            None
        };
        if opts.print {
            outln!(
                "{} on {} (seed {}): {iterations} iterations done.",
                self.spec.algorithm,
                self.spec.env,
                self.spec.seed
            );
            outln!("Final metrics:");
            out!("{}", summary::final_table(&final_metrics));
            outln!("Summary: {}", summary_path.display());
            match &plot {
                Some(p) => outln!("Plot:    {} (and {CURVE_FILE}.svg)", p.display()),
                None => outln!("Plot:    none (no metrics were logged)"),
            }
            if let Some(p) = &heatmap {
                outln!("Heat-map: {} (and accuracy_matrix.svg)", p.display());
            }
        }
        Ok(RunOutcome {
            dir: self.dir,
            final_metrics,
            summary: summary_path,
            plot,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(5.2), "5s");
        assert_eq!(fmt_duration(185.0), "3m05s");
        assert_eq!(fmt_duration(3720.0), "1h02m");
    }
}
