//! What a run writes as it goes: `metrics.jsonl`, the checkpoint (runner state + algorithm
//! state) and, at the end, `summary.json`. Every file is written atomically; the metrics come
//! before the checkpoint so a crash between the two leaves a longer metrics file, which resume
//! cuts back.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::SystemTime;

use autodidact_core::plugin::{CORE_VERSION, RUSTC_VERSION};
use autodidact_core::{Matrices, Metrics};

use super::best::BestEvaluation;
use super::{panic_message, Session};
use crate::atomic;
use crate::checkpoint::{Checkpoint, CheckpointHeader, CHECKPOINT_FILE};
use crate::errors::{one_line, Result, RunnerError};
use crate::metrics::{fnv1a, METRICS_FILE};
use crate::summary::{self, SummaryInput, Timing};

impl Session {
    pub(crate) fn checkpoint_path(&self) -> PathBuf {
        self.dir.join(CHECKPOINT_FILE)
    }

    pub(crate) fn write_metrics(&self) -> Result<()> {
        atomic::write(&self.dir.join(METRICS_FILE), &self.log)
    }

    /// Writes the metrics so far and a checkpoint of the current state; refuses (a failed run)
    /// when the algorithm reports parameters that are not finite, so the last checkpoint on
    /// disk stays the last good one.
    pub(crate) fn checkpoint(&mut self) -> Result<()> {
        // A panic here is the plugin's bug, not divergence: treat it as "cannot tell".
        let finite = catch_unwind(AssertUnwindSafe(|| self.alg.is_finite())).unwrap_or(true);
        if !finite {
            // Keep the good lines for inspection; resume cuts back to the checkpoint.
            let _ = self.write_metrics();
            return Err(RunnerError::Failed(format!(
                "training stopped at iteration {}: the parameters are NaN or infinite; {}",
                self.alg.steps_done(),
                self.last_good()
            )));
        }
        let ckpt = self.snapshot()?;
        let step = ckpt.header.step;
        // Metrics first: a crash between the two leaves a longer metrics file, which resume
        // cuts back to the checkpoint's length.
        self.write_metrics()?;
        ckpt.write(&self.dir)?;
        self.last_checkpoint = step;
        Ok(())
    }

    /// The current state as a checkpoint (runner state + the algorithm's bytes).
    pub(crate) fn snapshot(&self) -> Result<Checkpoint> {
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
        Ok(Checkpoint {
            header: CheckpointHeader {
                spec_toml,
                step: self.alg.steps_done(),
                total_steps: self.alg.total_steps(),
                checkpoint_every: self.checkpoint_every,
                eval_every: self.eval_every,
                keep_best: self.keep_best.is_some(),
                best: self.best.clone(),
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
        })
    }

    /// "the last good checkpoint is … (iteration N)".
    pub(crate) fn last_good(&self) -> String {
        format!(
            "the last good checkpoint is {} (iteration {})",
            self.checkpoint_path().display(),
            self.last_checkpoint
        )
    }

    /// The algorithm's matrices; none (with a warning) when asking for them panics, so a
    /// faulty plugin cannot lose a finished run's summary.
    pub(crate) fn matrices(&self) -> Matrices {
        catch_unwind(AssertUnwindSafe(|| self.alg.matrices())).unwrap_or_else(|p| {
            eprintln!(
                "autodidact: warning: {} panicked reporting its matrices: {}",
                self.spec.algorithm,
                one_line(&panic_message(p.as_ref()))
            );
            Matrices::new()
        })
    }

    /// Writes `summary.json` for the finished run; returns its path.
    pub(crate) fn write_summary(
        &self,
        headline: &str,
        iterations: u64,
        evaluation: &Metrics,
        best: Option<&BestEvaluation>,
        matrices: &Matrices,
        eval_seconds: f64,
    ) -> Result<PathBuf> {
        let timing = Timing {
            started: self.started,
            finished: SystemTime::now(),
            train_seconds: self.earlier_train_seconds + self.train_time.as_secs_f64(),
            eval_seconds,
            session_steps: iterations - self.start_step,
            sessions: self.sessions,
        };
        let value = summary::summary_json(&SummaryInput {
            spec: &self.spec,
            algorithm_crate: self.algorithm_crate,
            headline,
            iterations,
            evaluation,
            best,
            last_training: &self.last_metrics,
            matrices,
            timing,
        });
        summary::write_summary(&self.dir, &value)
    }
}
