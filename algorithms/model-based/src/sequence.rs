//! The episode protocol of Santoro et al.: a sequence of `(x_t, y_{t−1})` over N classes with
//! labels shuffled per episode, built from a few-shot task's support and query examples.
//!
//! The label of step t arrives with the input of step t + 1 (the first step sees no label), so
//! the model must hold an input until its label comes and bind the two.

use autodidact_core::{Rng, Task, Tensor};
use ndarray::{Axis, IxDyn};
use rand::seq::SliceRandom;

use crate::errors::{ModelBasedError, Result};

/// One late-label episode.
#[derive(Clone, Debug, PartialEq)]
pub struct Sequence {
    /// Inputs in presentation order, `[steps, …input_shape]`.
    pub x: Tensor<f32>,
    /// The label to predict at each step, in `0..ways` (shuffled per episode).
    pub labels: Vec<usize>,
    /// The label fed in with each step: the previous step's label (`None` at the first step).
    pub prev_labels: Vec<Option<usize>>,
    /// Which presentation of its class each step is (1 for the first time a class is seen).
    pub instance: Vec<usize>,
    /// Classes in the episode.
    pub ways: usize,
}

impl Sequence {
    /// Steps in the episode.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the episode has no step.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Builds an episode from `task`: `instances` examples of each of its classes (support
    /// first, then query examples), the class labels permuted and the steps shuffled with `rng`.
    pub fn from_task(task: &Task, instances: usize, rng: &mut Rng) -> Result<Sequence> {
        let (Some(sy), Some(qy)) = (task.support_y.labels(), task.query_y.labels()) else {
            return Err(ModelBasedError::Incompatible(
                "model-based learners need classification tasks (class labels)".into(),
            ));
        };
        let n_s = task.support_x.shape().first().copied().unwrap_or(0);
        let n_q = task.query_x.shape().first().copied().unwrap_or(0);
        if n_s != sy.len() || n_q != qy.len() {
            return Err(ModelBasedError::Incompatible(format!(
                "{n_s} support inputs with {} labels, {n_q} query inputs with {} labels",
                sy.len(),
                qy.len()
            )));
        }
        let ways = sy.iter().chain(qy).copied().max().map_or(0, |m| m + 1);
        // Row `r` of the pooled examples: support rows first, then query rows.
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); ways];
        for (r, &y) in sy.iter().chain(qy).enumerate() {
            by_class[y].push(r);
        }
        if let Some((c, rows)) = by_class
            .iter()
            .enumerate()
            .find(|(_, rows)| rows.len() < instances)
        {
            return Err(ModelBasedError::Incompatible(format!(
                "an episode presents each class {instances} times (`instances`), but class {c} has only {} examples in the task; raise the environment's `shots` or `queries` so shots + queries ≥ {instances}",
                rows.len()
            )));
        }
        // A fresh class-to-label map per episode: labels carry no meaning across episodes, so
        // the model cannot learn classes in its weights and must use what the episode shows.
        let mut relabel: Vec<usize> = (0..ways).collect();
        relabel.shuffle(rng);
        let mut steps: Vec<(usize, usize)> = Vec::with_capacity(ways * instances);
        for (c, rows) in by_class.iter().enumerate() {
            steps.extend(rows.iter().take(instances).map(|&r| (r, relabel[c])));
        }
        steps.shuffle(rng);
        let pooled = ndarray::concatenate(Axis(0), &[task.support_x.view(), task.query_x.view()])
            .map_err(|e| {
            ModelBasedError::Incompatible(format!(
                "support {:?} and query {:?} inputs do not stack: {e}",
                task.support_x.shape(),
                task.query_x.shape()
            ))
        })?;
        let rows: Vec<usize> = steps.iter().map(|&(r, _)| r).collect();
        let x = pooled.select(Axis(0), &rows);
        let labels: Vec<usize> = steps.iter().map(|&(_, y)| y).collect();
        let prev_labels = std::iter::once(None)
            .chain(labels.iter().map(|&y| Some(y)))
            .take(labels.len())
            .collect();
        let mut seen = vec![0usize; ways];
        let instance = labels
            .iter()
            .map(|&y| {
                seen[y] += 1;
                seen[y]
            })
            .collect();
        Ok(Sequence {
            x,
            labels,
            prev_labels,
            instance,
            ways,
        })
    }
}

/// A batch of equally long episodes laid out step-major, as the recurrent models read them.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceBatch {
    /// Inputs `[steps · batch, …input_shape]`: row `t · batch + b` is step t of episode b.
    pub x: Tensor<f32>,
    /// Targets in the same order.
    pub labels: Vec<usize>,
    /// Fed-in previous labels, one-hot, `[steps · batch, ways]` (a zero row at step 0).
    pub prev_one_hot: Tensor<f32>,
    /// Presentation index of each row's class.
    pub instance: Vec<usize>,
    /// Episodes.
    pub batch: usize,
    /// Steps per episode.
    pub steps: usize,
    /// Classes (the width of the label inputs and of the output).
    pub ways: usize,
}

impl SequenceBatch {
    /// Interleaves episodes of one length and one class count.
    pub fn new(episodes: &[Sequence]) -> Result<SequenceBatch> {
        let Some(first) = episodes.first() else {
            return Err(ModelBasedError::Incompatible(
                "an empty batch of episodes".into(),
            ));
        };
        let (steps, ways, batch) = (first.len(), first.ways, episodes.len());
        if let Some(e) = episodes
            .iter()
            .find(|e| e.len() != steps || e.ways != ways || e.x.shape() != first.x.shape())
        {
            return Err(ModelBasedError::Incompatible(format!(
                "episodes of {} steps over {} classes (inputs {:?}) batched with {steps} steps over {ways} (inputs {:?})",
                e.len(),
                e.ways,
                e.x.shape(),
                first.x.shape()
            )));
        }
        let mut views = Vec::with_capacity(steps * batch);
        let mut labels = Vec::with_capacity(steps * batch);
        let mut instance = Vec::with_capacity(steps * batch);
        let mut prev = Tensor::<f32>::zeros(IxDyn(&[steps * batch, ways]));
        for t in 0..steps {
            for (b, e) in episodes.iter().enumerate() {
                views.push(e.x.index_axis(Axis(0), t).insert_axis(Axis(0)));
                labels.push(e.labels[t]);
                instance.push(e.instance[t]);
                if let Some(y) = e.prev_labels[t] {
                    prev[[t * batch + b, y]] = 1.0;
                }
            }
        }
        let x = ndarray::concatenate(Axis(0), &views)
            .map_err(|err| ModelBasedError::Incompatible(format!("inputs do not stack: {err}")))?;
        Ok(SequenceBatch {
            x,
            labels,
            prev_one_hot: prev,
            instance,
            batch,
            steps,
            ways,
        })
    }
}
