//! The `Algorithm` trait: what the runner drives.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::registry::EnvInstance;

/// Named scalar results (a logging step, an evaluation). Ordered, so output is deterministic.
pub type Metrics = BTreeMap<String, f64>;

/// A table of results: rows of cells, `None` where a cell is not (yet) known.
pub type Matrix = Vec<Vec<Option<f64>>>;

/// Named matrices an algorithm reports beside its scalar metrics (see
/// [`Algorithm::matrices`]). Ordered, so output is deterministic.
pub type Matrices = BTreeMap<String, Matrix>;

/// Which way a metric improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Larger is better (accuracy, return).
    Higher,
    /// Smaller is better (loss, error).
    Lower,
}

impl Better {
    /// Whether `candidate` is strictly better than `incumbent` (a NaN is never better).
    pub fn improves(self, candidate: f64, incumbent: f64) -> bool {
        match self {
            Better::Higher => candidate > incumbent,
            Better::Lower => candidate < incumbent,
        }
    }

    /// `"higher"` or `"lower"`.
    pub fn name(self) -> &'static str {
        match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
        }
    }
}

/// A learning algorithm bound to its environment, trained step by step by the runner.
///
/// The runner owns the loop: it calls [`Algorithm::train_step`] until
/// [`Algorithm::steps_done`] reaches [`Algorithm::total_steps`], logs what each step returns,
/// checkpoints with [`Algorithm::save`], and resumes with [`Algorithm::load`]. A resumed run
/// must continue exactly: the checkpoint holds every piece of state (parameters, optimiser,
/// generators, buffers, schedules).
pub trait Algorithm {
    /// The training length, in this algorithm's steps (meta-iterations, environment steps,
    /// epochs).
    fn total_steps(&self) -> u64;

    /// Steps done so far.
    fn steps_done(&self) -> u64;

    /// Runs one step; returns metrics to log (empty when this step logs nothing).
    fn train_step(&mut self) -> Result<Metrics>;

    /// Evaluates on `env` (another environment of the same kind), or on the training
    /// environment's held-out split when `None`.
    fn evaluate(&mut self, env: Option<&EnvInstance>) -> Result<Metrics>;

    /// Serialises the whole training state.
    fn save(&self) -> Result<Vec<u8>>;

    /// Restores a state written by [`Algorithm::save`].
    fn load(&mut self, bytes: &[u8]) -> Result<()>;

    /// Whether the trained parameters are all finite. The runner asks before writing each
    /// checkpoint, so a "last good checkpoint" never holds parameters that already diverged
    /// (a step that logs no metric shows nothing). `true` when the algorithm cannot tell.
    fn is_finite(&self) -> bool {
        true
    }

    /// The key of the metric to watch for NaN and to show on the progress bar.
    fn headline_metric(&self) -> &'static str {
        "loss"
    }

    /// The key of [`Algorithm::evaluate`]'s metric that ranks evaluations during training
    /// (what the runner's `--keep-best` keeps the best parameters by), and which way is
    /// better. `None` (the default) when the algorithm names none; `--keep-best` then refuses
    /// to start.
    fn selection_metric(&self) -> Option<(String, Better)> {
        None
    }

    /// Results that are tables rather than numbers, by name: the runner writes them into
    /// `summary.json` under `"matrices"` and draws each as a heat-map. A continual learner
    /// reports `accuracy_matrix` (row i: after training experience i; column j: accuracy on
    /// experience j). Kept out of [`Metrics`] so a table is not flattened into one key per
    /// cell. None by default.
    fn matrices(&self) -> Matrices {
        Matrices::new()
    }
}
