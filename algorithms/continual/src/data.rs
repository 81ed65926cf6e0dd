//! A stream's experiences as flat buffers, and minibatches drawn from them.

use autodidact_core::{Scenario, TaskStream, Tensor};
use serde::{Deserialize, Serialize};

use crate::errors::{ContinualError, Result};

/// Examples back to back with their global labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Examples {
    /// Inputs, `len() * dim` values.
    pub x: Vec<f32>,
    /// Global class ids.
    pub y: Vec<usize>,
    /// Values per example.
    pub dim: usize,
}

impl Examples {
    /// Copies a `[n, …]` tensor and its labels.
    pub fn from_tensor(x: &Tensor<f32>, y: &[usize]) -> Result<Examples> {
        let n = x.shape().first().copied().unwrap_or(0);
        if n != y.len() {
            return Err(ContinualError::Incompatible(format!(
                "{n} examples with {} labels",
                y.len()
            )));
        }
        let dim = x.shape()[1..].iter().product();
        Ok(Examples {
            x: x.as_standard_layout().iter().copied().collect(),
            y: y.to_vec(),
            dim,
        })
    }
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.y.len()
    }
    /// Whether there is no example.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    /// Example `i`'s input.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }
}

/// One experience's data and identity.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperienceData {
    /// Position in the stream.
    pub index: usize,
    /// Training examples.
    pub train: Examples,
    /// Test examples.
    pub test: Examples,
    /// The task id, when the scenario gives one.
    pub task_id: Option<usize>,
    /// The global class ids of the experience.
    pub classes: Vec<usize>,
}

/// A stream copied into flat buffers.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamData {
    /// The scenario.
    pub scenario: Scenario,
    /// Shape of one example.
    pub input_shape: Vec<usize>,
    /// Values per example.
    pub dim: usize,
    /// Classes over the whole stream.
    pub num_classes: usize,
    /// The experiences, in order.
    pub experiences: Vec<ExperienceData>,
    /// The online protocol: one training example per step, each once, in order.
    pub online: bool,
    /// Classes kept out of the stream for pretraining / meta-training (labels `0..k`).
    pub pretraining: Option<ExperienceData>,
}

impl StreamData {
    /// Copies every experience of `stream`, checking labels and shapes.
    pub fn from_stream(stream: &dyn TaskStream) -> Result<StreamData> {
        let input_shape = stream.input_shape();
        let dim: usize = input_shape.iter().product();
        let num_classes = stream.num_classes();
        let mut experiences = Vec::new();
        for e in stream.experiences() {
            let train = Examples::from_tensor(&e.train_x, &e.train_y)?;
            let test = Examples::from_tensor(&e.test_x, &e.test_y)?;
            for ex in [&train, &test] {
                if ex.dim != dim {
                    return Err(ContinualError::Incompatible(format!(
                        "experience {}: examples of {} values, the stream's input shape {input_shape:?} has {dim}",
                        e.index, ex.dim
                    )));
                }
                if let Some(&bad) = ex.y.iter().find(|&&y| y >= num_classes) {
                    return Err(ContinualError::Incompatible(format!(
                        "experience {}: label {bad} is not below the stream's {num_classes} classes",
                        e.index
                    )));
                }
            }
            if train.is_empty() || test.is_empty() {
                return Err(ContinualError::Incompatible(format!(
                    "experience {} has {} training and {} test examples; it needs at least one of each",
                    e.index,
                    train.len(),
                    test.len()
                )));
            }
            experiences.push(ExperienceData {
                index: experiences.len(),
                train,
                test,
                task_id: e.task_id,
                classes: e.classes.clone(),
            });
        }
        if experiences.is_empty() {
            return Err(ContinualError::Incompatible(
                "the stream has no experience".into(),
            ));
        }
        let pretraining = match stream.pretraining() {
            Some(p) => {
                let train = Examples::from_tensor(&p.train_x, &p.train_y)?;
                let test = Examples::from_tensor(&p.test_x, &p.test_y)?;
                if train.dim != dim || (!test.is_empty() && test.dim != dim) {
                    return Err(ContinualError::Incompatible(format!(
                        "the pretraining examples have {} values, the stream's input shape {input_shape:?} has {dim}",
                        train.dim
                    )));
                }
                let k = p.classes.len();
                if let Some(&bad) = train.y.iter().chain(&test.y).find(|&&y| y >= k) {
                    return Err(ContinualError::Incompatible(format!(
                        "pretraining label {bad} is not below its {k} classes"
                    )));
                }
                if train.is_empty() {
                    return Err(ContinualError::Incompatible(
                        "the stream's pretraining set has no training example".into(),
                    ));
                }
                Some(ExperienceData {
                    index: 0,
                    train,
                    test,
                    task_id: None,
                    classes: p.classes.clone(),
                })
            }
            None => None,
        };
        Ok(StreamData {
            scenario: stream.scenario(),
            input_shape,
            dim,
            num_classes,
            experiences,
            online: stream.online(),
            pretraining,
        })
    }

    /// Training examples over the whole stream (the online protocol's steps).
    pub fn train_examples(&self) -> usize {
        self.experiences.iter().map(|e| e.train.len()).sum()
    }

    /// The experience and index of the `step`-th training example of the stream, in order.
    pub fn online_position(&self, step: u64) -> Option<(usize, usize)> {
        let mut s = step as usize;
        for (e, exp) in self.experiences.iter().enumerate() {
            if s < exp.train.len() {
                return Some((e, s));
            }
            s -= exp.train.len();
        }
        None
    }

    /// Number of experiences.
    pub fn len(&self) -> usize {
        self.experiences.len()
    }

    /// Whether the stream has no experience.
    pub fn is_empty(&self) -> bool {
        self.experiences.is_empty()
    }
}

/// A minibatch: inputs back to back, global labels, and each example's experience.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Inputs, `len() * dim` values.
    pub x: Vec<f32>,
    /// Global class ids.
    pub y: Vec<usize>,
    /// The experience each example came from (its task, for task-incremental heads).
    pub exp: Vec<usize>,
}

impl Batch {
    /// Adds one example.
    pub fn push(&mut self, x: &[f32], y: usize, exp: usize) {
        self.x.extend_from_slice(x);
        self.y.push(y);
        self.exp.push(exp);
    }
    /// Appends another batch.
    pub fn extend(&mut self, other: &Batch) {
        self.x.extend_from_slice(&other.x);
        self.y.extend_from_slice(&other.y);
        self.exp.extend_from_slice(&other.exp);
    }
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.y.len()
    }
    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    /// Examples `idx` of experience `e`'s training set.
    pub fn gather(data: &ExperienceData, idx: &[usize], test: bool) -> Batch {
        let ex = if test { &data.test } else { &data.train };
        let mut b = Batch::default();
        b.x.reserve(idx.len() * ex.dim);
        for &i in idx {
            b.push(ex.row(i), ex.y[i], data.index);
        }
        b
    }
}
