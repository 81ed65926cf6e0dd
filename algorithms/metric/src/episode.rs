//! One N-way K-shot Q-query episode as the learners see it: the task, its labels and ways, and
//! the support and query inputs stacked into one batch (one backbone pass per episode).

use autodidact_core::{Task, Tensor};
use ndarray::{concatenate, Axis};

use crate::errors::{MetricError, Result};

/// A classification episode.
#[derive(Clone, Debug)]
pub struct Episode<'a> {
    /// The task.
    pub task: &'a Task,
    /// Support labels in `0..ways`.
    pub support_labels: &'a [usize],
    /// Query labels in `0..ways`.
    pub query_labels: &'a [usize],
    /// Classes in the episode (the largest support label + 1).
    pub ways: usize,
}

impl<'a> Episode<'a> {
    /// Reads a classification task; every class must have at least one support example and
    /// every query label must be one of the support classes.
    pub fn new(task: &'a Task) -> Result<Episode<'a>> {
        let (Some(sy), Some(qy)) = (task.support_y.labels(), task.query_y.labels()) else {
            return Err(MetricError::Incompatible(
                "metric-based learners need classification tasks (class labels)".into(),
            ));
        };
        let ways = sy.iter().copied().max().map(|m| m + 1).unwrap_or(0);
        let mut seen = vec![false; ways];
        for &y in sy {
            seen[y] = true;
        }
        if ways == 0 || seen.iter().any(|s| !s) {
            return Err(MetricError::Incompatible(format!(
                "the support set's labels {sy:?} do not cover 0..ways"
            )));
        }
        if let Some(&bad) = qy.iter().find(|&&y| y >= ways) {
            return Err(MetricError::Incompatible(format!(
                "query label {bad} has no support example (ways = {ways})"
            )));
        }
        let n_s = task.support_x.shape().first().copied().unwrap_or(0);
        let n_q = task.query_x.shape().first().copied().unwrap_or(0);
        if n_s != sy.len() || n_q != qy.len() {
            return Err(MetricError::Incompatible(format!(
                "{n_s} support inputs with {} labels, {n_q} query inputs with {} labels",
                sy.len(),
                qy.len()
            )));
        }
        Ok(Episode {
            task,
            support_labels: sy,
            query_labels: qy,
            ways,
        })
    }

    /// Support examples.
    pub fn n_support(&self) -> usize {
        self.support_labels.len()
    }

    /// Query examples.
    pub fn n_query(&self) -> usize {
        self.query_labels.len()
    }

    /// Support then query inputs, `[n_support + n_query, …input_shape]`.
    pub fn inputs(&self) -> Result<Tensor<f32>> {
        concatenate(
            Axis(0),
            &[self.task.support_x.view(), self.task.query_x.view()],
        )
        .map_err(|e| {
            MetricError::Incompatible(format!(
                "support {:?} and query {:?} inputs do not stack: {e}",
                self.task.support_x.shape(),
                self.task.query_x.shape()
            ))
        })
    }
}
