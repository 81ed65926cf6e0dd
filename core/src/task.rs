//! Few-shot tasks and the distributions that sample them (meta-learning).

use crate::error::Result;
use crate::rng::{Rng, Seed};
use crate::Tensor;

/// Which disjoint share of the classes (or task parameters) a task is drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Meta-training.
    Train,
    /// Model selection and early stopping.
    Validation,
    /// Final, held-out evaluation.
    Test,
}

impl Split {
    /// A short name ("train", "validation", "test").
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }
}

/// What a task asks the learner to predict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    /// Real-valued targets of `output_dim` values per example.
    Regression {
        /// Values per target.
        output_dim: usize,
    },
    /// N-way classification: labels in `0..ways`, relabelled per task.
    Classification {
        /// Classes per task.
        ways: usize,
    },
}

/// Targets of a support or query set.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// Regression targets, `[n, output_dim]`.
    Values(Tensor<f32>),
    /// Class labels in `0..ways`.
    Labels(Vec<usize>),
}

impl Targets {
    /// Number of examples.
    pub fn len(&self) -> usize {
        match self {
            Targets::Values(v) => v.shape().first().copied().unwrap_or(0),
            Targets::Labels(l) => l.len(),
        }
    }
    /// Whether there is no example.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The labels, if this is classification.
    pub fn labels(&self) -> Option<&[usize]> {
        match self {
            Targets::Labels(l) => Some(l),
            Targets::Values(_) => None,
        }
    }
    /// The values, if this is regression.
    pub fn values(&self) -> Option<&Tensor<f32>> {
        match self {
            Targets::Values(v) => Some(v),
            Targets::Labels(_) => None,
        }
    }
}

/// One few-shot task: a support set to adapt on and a query set to be scored on.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// Support inputs, `[n_support, …input_shape]`.
    pub support_x: Tensor<f32>,
    /// Support targets.
    pub support_y: Targets,
    /// Query inputs, `[n_query, …input_shape]`.
    pub query_x: Tensor<f32>,
    /// Query targets.
    pub query_y: Targets,
}

/// A distribution over few-shot tasks, with disjoint train / validation / test splits.
pub trait TaskDistribution: Send + Sync {
    /// Shape of one input example (`[1]` for sinusoid, `[1, 28, 28]` for Omniglot).
    fn input_shape(&self) -> Vec<usize>;

    /// Regression or N-way classification.
    fn kind(&self) -> TaskKind;

    /// Draws a task from `split` with the given generator.
    fn sample(&self, split: Split, rng: &mut Rng) -> Result<Task>;

    /// Task number `index` of `split` for `seed`: the same three give the same task.
    fn task(&self, split: Split, seed: Seed, index: u64) -> Result<Task> {
        let mut rng = seed.derive(split.name()).index(index).rng("task");
        self.sample(split, &mut rng)
    }
}
