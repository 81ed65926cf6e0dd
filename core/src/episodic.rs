//! What every episodic few-shot learner shares between its steps: the iteration counter, the
//! training means since the last log, the validation schedule with early stopping (the best
//! validation point kept in memory and restored at the end), exact checkpoints, and the check
//! that an evaluation environment fits the trained model.
//!
//! A family implements [`EpisodicLearner`]'s few required methods (its meta-update, its
//! validation metrics, access to its weights) and its `Algorithm` methods call the provided
//! ones, so the loop a paper does not describe is written once.

use serde::{Deserialize, Serialize};

use crate::algorithm::Metrics;
use crate::error::{CoreError, Result};
use crate::ops::norm::BatchNormStats;
use crate::optim::Adam;
use crate::params::Params;
use crate::registry::EnvInstance;
use crate::task::TaskDistribution;

/// The best validation point so far (early stopping).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BestValidation {
    /// Iterations trained when it was reached.
    pub iteration: u64,
    /// Its validation accuracy.
    pub accuracy: f64,
    /// The parameters then.
    pub params: Params<f32>,
    /// The batch-norm running statistics then.
    pub stats: Vec<BatchNormStats<f32>>,
}

/// When a learner logs, validates and stops (from its hyperparameters).
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// Meta-iterations in the run.
    pub meta_iterations: u64,
    /// Log the training means every this many iterations.
    pub log_every: u64,
    /// Validate every this many iterations (0: never).
    pub val_every: u64,
    /// Keep the best validation point and restore it at the end.
    pub early_stopping: bool,
}

/// The bookkeeping between steps, saved in checkpoints so a resumed run continues exactly.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Progress {
    /// Meta-iterations done.
    pub iteration: u64,
    /// The best validation point so far.
    pub best: Option<BestValidation>,
    loss_sum: f64,
    acc_sum: f64,
    count: u64,
}

/// Read access to a learner's weights, optimiser and progress.
pub struct Parts<'a> {
    /// The parameters.
    pub params: &'a Params<f32>,
    /// The batch-norm running statistics.
    pub stats: &'a [BatchNormStats<f32>],
    /// The outer optimiser.
    pub opt: &'a Adam<f32>,
    /// The bookkeeping.
    pub progress: &'a Progress,
}

/// Write access to a learner's weights, optimiser and progress.
pub struct PartsMut<'a> {
    /// The parameters.
    pub params: &'a mut Params<f32>,
    /// The batch-norm running statistics.
    pub stats: &'a mut Vec<BatchNormStats<f32>>,
    /// The outer optimiser.
    pub opt: &'a mut Adam<f32>,
    /// The bookkeeping.
    pub progress: &'a mut Progress,
}

/// A checkpoint as written: borrowed, so saving copies nothing twice.
#[derive(Serialize)]
struct CheckpointOut<'a> {
    algorithm: &'a str,
    params: &'a Params<f32>,
    stats: &'a [BatchNormStats<f32>],
    opt: &'a Adam<f32>,
    progress: &'a Progress,
}

/// A checkpoint as read.
#[derive(Deserialize)]
struct CheckpointIn {
    algorithm: String,
    params: Params<f32>,
    stats: Vec<BatchNormStats<f32>>,
    opt: Adam<f32>,
    progress: Progress,
}

/// The three accessors of [`EpisodicLearner`] for a learner whose fields follow the convention
/// `hp` (with `meta_iterations`, `log_every`, `val_every`, `early_stopping`), `params`, `stats`,
/// `opt` and `progress`: write it inside the `impl EpisodicLearner for …` block.
#[macro_export]
macro_rules! episodic_parts {
    () => {
        fn schedule(&self) -> $crate::episodic::Schedule {
            $crate::episodic::Schedule {
                meta_iterations: self.hp.meta_iterations,
                log_every: self.hp.log_every,
                val_every: self.hp.val_every,
                early_stopping: self.hp.early_stopping,
            }
        }

        fn parts(&self) -> $crate::episodic::Parts<'_> {
            $crate::episodic::Parts {
                params: &self.params,
                stats: &self.stats,
                opt: &self.opt,
                progress: &self.progress,
            }
        }

        fn parts_mut(&mut self) -> $crate::episodic::PartsMut<'_> {
            $crate::episodic::PartsMut {
                params: &mut self.params,
                stats: &mut self.stats,
                opt: &mut self.opt,
                progress: &mut self.progress,
            }
        }
    };
}

/// An episodic meta-learner: one meta-update per step on episodes drawn by index from the run's
/// seed (so no generator state is needed beyond the iteration), validation on held-out episodes.
pub trait EpisodicLearner {
    /// The registry name; checkpoints carry it.
    fn algorithm_name(&self) -> &str;

    /// When to log, validate and stop.
    fn schedule(&self) -> Schedule;

    /// The weights, optimiser and progress.
    fn parts(&self) -> Parts<'_>;

    /// The weights, optimiser and progress, to change.
    fn parts_mut(&mut self) -> PartsMut<'_>;

    /// One meta-update; advances `Progress::iteration` and returns the loss and training
    /// accuracy.
    fn meta_update(&mut self) -> Result<(f64, f64)>;

    /// Metrics on the validation split, named with the prefix `val_`.
    fn validation_metrics(&mut self) -> Result<Metrics>;

    /// The validation metric early stopping maximises.
    fn validation_key(&self) -> &'static str {
        "val_accuracy"
    }

    /// Metrics logged beside the training means (a learning-rate schedule, say).
    fn log_extra(&self, _metrics: &mut Metrics) {}

    /// Validates, and keeps the weights if they are the best so far.
    fn validate(&mut self) -> Result<Metrics> {
        let mut m = self.validation_metrics()?;
        let acc = m.get(self.validation_key()).copied().unwrap_or(f64::NAN);
        let keep = self.schedule().early_stopping;
        let p = self.parts_mut();
        if keep && p.progress.best.as_ref().is_none_or(|b| acc > b.accuracy) {
            p.progress.best = Some(BestValidation {
                iteration: p.progress.iteration,
                accuracy: acc,
                params: p.params.clone(),
                stats: p.stats.clone(),
            });
        }
        if let Some(b) = &p.progress.best {
            m.insert("val_best_accuracy".into(), b.accuracy);
            m.insert("val_best_iteration".into(), b.iteration as f64);
        }
        Ok(m)
    }

    /// Replaces the weights with the best validation point's; returns its iteration, if any.
    fn restore_best(&mut self) -> Option<u64> {
        let p = self.parts_mut();
        let b = p.progress.best.as_ref()?;
        *p.params = b.params.clone();
        *p.stats = b.stats.clone();
        Some(b.iteration)
    }

    /// One training step as the runner drives it: the update, the training means when due,
    /// validation when due, and the best weights restored after the last step.
    fn episodic_step(&mut self) -> Result<Metrics> {
        let (loss, acc) = self.meta_update()?;
        let s = self.schedule();
        let mut m = Metrics::new();
        let (done, log) = {
            let p = self.parts_mut().progress;
            p.loss_sum += loss;
            p.acc_sum += acc;
            p.count += 1;
            let done = p.iteration == s.meta_iterations;
            let log = p.iteration.is_multiple_of(s.log_every.max(1)) || done;
            if log {
                let n = p.count.max(1) as f64;
                m.insert("loss".into(), p.loss_sum / n);
                m.insert("train_accuracy".into(), p.acc_sum / n);
                (p.loss_sum, p.acc_sum, p.count) = (0.0, 0.0, 0);
            }
            (done, log)
        };
        if log {
            self.log_extra(&mut m);
        }
        let iteration = self.parts().progress.iteration;
        if s.val_every > 0 && (iteration.is_multiple_of(s.val_every) || done) {
            m.extend(self.validate()?);
        }
        if done && s.early_stopping {
            if let Some(it) = self.restore_best() {
                m.insert("restored_iteration".into(), it as f64);
            }
        }
        Ok(m)
    }

    /// The checkpoint: weights, optimiser and progress, named by the algorithm.
    fn save_episodic(&self) -> Result<Vec<u8>> {
        let p = self.parts();
        let out = CheckpointOut {
            algorithm: self.algorithm_name(),
            params: p.params,
            stats: p.stats,
            opt: p.opt,
            progress: p.progress,
        };
        serde_json::to_vec(&out).map_err(|e| CoreError::Serde(e.to_string()))
    }

    /// Restores a checkpoint of [`EpisodicLearner::save_episodic`], after checking it is of
    /// this algorithm and of a model with the same parameters and batch-norm layers.
    fn load_episodic(&mut self, bytes: &[u8]) -> Result<()> {
        let name = self.algorithm_name().to_owned();
        let c: CheckpointIn = serde_json::from_slice(bytes)
            .map_err(|e| CoreError::Checkpoint(format!("not a {name} checkpoint: {e}")))?;
        if c.algorithm != name {
            return Err(CoreError::Checkpoint(format!(
                "the checkpoint is of {}, not {name}",
                c.algorithm
            )));
        }
        let p = self.parts_mut();
        p.params.check_compatible(&c.params)?;
        if c.stats.len() != p.stats.len() {
            return Err(CoreError::Checkpoint(format!(
                "{} batch-norm layers in the checkpoint, {} in the model",
                c.stats.len(),
                p.stats.len()
            )));
        }
        if let Some(b) = &c.progress.best {
            p.params.check_compatible(&b.params)?;
        }
        *p.params = c.params;
        *p.stats = c.stats;
        *p.opt = c.opt;
        *p.progress = c.progress;
        Ok(())
    }
}

/// The distribution to evaluate on: the learner's own (`env` is `None`) or a given one that
/// `fits` the trained model; `needs` says what fitting means, for the error.
pub fn evaluation_distribution<'a>(
    algorithm: &str,
    own: &'a dyn TaskDistribution,
    env: Option<&'a EnvInstance>,
    needs: &str,
    fits: impl FnOnce(&dyn TaskDistribution) -> bool,
) -> Result<&'a dyn TaskDistribution> {
    match env {
        None => Ok(own),
        Some(EnvInstance::Tasks(d)) if fits(d.as_ref()) => Ok(d.as_ref()),
        Some(EnvInstance::Tasks(d)) => Err(CoreError::Env(format!(
            "this {algorithm} checkpoint was trained on inputs {:?}, {:?}, and evaluates on {needs}; the evaluation environment has inputs {:?}, {:?}",
            own.input_shape(),
            own.kind(),
            d.input_shape(),
            d.kind()
        ))),
        Some(other) => Err(CoreError::Env(format!(
            "{algorithm} evaluates on few-shot task distributions, not on {}",
            other.kind().describe()
        ))),
    }
}
