//! `--keep-best`: ranks the evaluations made during training by the algorithm's
//! [`selection_metric`](Algorithm::selection_metric), keeps the best state in `best.ckpt`,
//! restores it at the end and evaluates it again, so a run reports both its final and its
//! best evaluation (Stable-Baselines3's evaluation callback, for every family). A greedy
//! policy that solved CartPole and then oscillated is the case it is for.

use std::panic::{catch_unwind, AssertUnwindSafe};

use autodidact_core::{Algorithm, Better, Metrics};

use super::{panic_message, Session};
use crate::checkpoint::{BestRecord, Checkpoint, BEST_FILE};
use crate::errors::{one_line, Result, RunnerError};

/// The best evaluation of a run, made again on the restored state at the end.
#[derive(Clone, Debug, PartialEq)]
pub struct BestEvaluation {
    /// The step whose state was best.
    pub step: u64,
    /// The metric that ranked the evaluations.
    pub metric: String,
    /// Which way it is better.
    pub better: Better,
    /// The restored state's evaluation.
    pub evaluation: Metrics,
}

/// The metric `--keep-best` ranks by, or `None` without `--keep-best`; an algorithm that
/// names none is refused before any work starts.
pub(crate) fn selection(
    alg: &dyn Algorithm,
    algorithm: &str,
    keep_best: bool,
) -> Result<Option<(String, Better)>> {
    if !keep_best {
        return Ok(None);
    }
    let chosen = catch_unwind(AssertUnwindSafe(|| alg.selection_metric())).map_err(|p| {
        RunnerError::Failed(format!(
            "{algorithm} panicked naming its selection metric: {}",
            one_line(&panic_message(p.as_ref()))
        ))
    })?;
    chosen.map(Some).ok_or_else(|| {
        RunnerError::Config(format!(
            "--keep-best: {algorithm} names no evaluation metric to rank its states by \
             (its `Algorithm::selection_metric` returns None)"
        ))
    })
}

impl Session {
    /// Ranks the evaluation made after `step`; a better one replaces `best.ckpt`.
    pub(crate) fn consider_best(&mut self, step: u64, evaluation: &Metrics) -> Result<()> {
        let Some((key, better)) = self.keep_best.clone() else {
            return Ok(());
        };
        let Some(&value) = evaluation.get(&key) else {
            let reported: Vec<&str> = evaluation.keys().map(String::as_str).collect();
            return Err(RunnerError::Failed(format!(
                "--keep-best ranks by `{key}`, which the evaluation after iteration {step} did \
                 not report (it reported: {})",
                reported.join(", ")
            )));
        };
        // A non-finite value stops the run right after (the NaN check); never keep it, nor
        // parameters that already diverged.
        if !value.is_finite()
            || self
                .best
                .as_ref()
                .is_some_and(|b| !better.improves(value, b.value))
            || !catch_unwind(AssertUnwindSafe(|| self.alg.is_finite())).unwrap_or(true)
        {
            return Ok(());
        }
        let record = BestRecord {
            step,
            metric: key,
            value,
        };
        let previous = self.best.replace(record);
        let written = self
            .snapshot()
            .and_then(|c| c.write_file(&self.dir, BEST_FILE));
        if written.is_err() {
            self.best = previous;
        }
        written
    }

    /// At the end of a run with `--keep-best`: the best state restored from `best.ckpt` and
    /// evaluated (the final evaluation itself when the final state is the best).
    pub(crate) fn evaluate_best(
        &mut self,
        iterations: u64,
        final_evaluation: &Metrics,
    ) -> Result<Option<BestEvaluation>> {
        let (Some((metric, better)), Some(record)) = (self.keep_best.clone(), self.best.clone())
        else {
            return Ok(None);
        };
        let evaluation = if record.step == iterations {
            final_evaluation.clone()
        } else {
            let path = self.dir.join(BEST_FILE);
            let ckpt = Checkpoint::read_file(&self.dir, BEST_FILE)?;
            if ckpt.header.step != record.step {
                return Err(RunnerError::parse(
                    &path,
                    format!(
                        "holds iteration {}, but the run's best is iteration {}",
                        ckpt.header.step, record.step
                    ),
                ));
            }
            ckpt.restore(&path, self.alg.as_mut())?;
            catch_unwind(AssertUnwindSafe(|| self.alg.evaluate(None)))
                .map_err(|p| {
                    RunnerError::Failed(format!(
                        "{} panicked evaluating its best state: {}",
                        self.spec.algorithm,
                        one_line(&panic_message(p.as_ref()))
                    ))
                })?
                .map_err(|e| {
                    RunnerError::Failed(format!(
                        "evaluating the best state ({}) failed: {}",
                        path.display(),
                        one_line(&e.to_string())
                    ))
                })?
        };
        Ok(Some(BestEvaluation {
            step: record.step,
            metric,
            better,
            evaluation,
        }))
    }
}
