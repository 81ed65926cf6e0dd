//! A few-shot task as MetaNet reads it: support and query inputs in one tensor (both backbones
//! embed them in one pass) and their labels.

use autodidact_core::{Task, Tensor};

use crate::errors::{ModelBasedError, Result};

/// One support/query episode.
#[derive(Clone, Debug, PartialEq)]
pub struct Episode {
    /// Support rows then query rows, `[n_support + n_query, …input_shape]`.
    pub x: Tensor<f32>,
    /// Support labels in `0..ways`.
    pub support_labels: Vec<usize>,
    /// Query labels in `0..ways`.
    pub query_labels: Vec<usize>,
    /// Classes in the episode.
    pub ways: usize,
}

impl Episode {
    /// Builds an episode from a classification task of `ways` classes.
    pub fn new(task: &Task, ways: usize) -> Result<Episode> {
        let labels = |y: &autodidact_core::Targets, which: &str| -> Result<Vec<usize>> {
            let l = y.labels().ok_or_else(|| {
                ModelBasedError::Incompatible(format!(
                    "meta-net classifies; the task's {which} targets are real values"
                ))
            })?;
            if let Some(bad) = l.iter().find(|&&c| c >= ways) {
                return Err(ModelBasedError::Incompatible(format!(
                    "a {which} label is {bad} in an episode of {ways} classes"
                )));
            }
            Ok(l.to_vec())
        };
        let support_labels = labels(&task.support_y, "support")?;
        let query_labels = labels(&task.query_y, "query")?;
        if support_labels.is_empty() || query_labels.is_empty() {
            return Err(ModelBasedError::Incompatible(
                "meta-net needs at least one support and one query example per episode (env keys shots and queries)".into(),
            ));
        }
        let x = ndarray::concatenate(
            ndarray::Axis(0),
            &[task.support_x.view(), task.query_x.view()],
        )
        .map_err(|e| {
            ModelBasedError::Incompatible(format!(
                "support inputs {:?} and query inputs {:?} do not stack: {e}",
                task.support_x.shape(),
                task.query_x.shape()
            ))
        })?;
        Ok(Episode {
            x,
            support_labels,
            query_labels,
            ways,
        })
    }

    /// Support examples.
    pub fn n_support(&self) -> usize {
        self.support_labels.len()
    }
}
