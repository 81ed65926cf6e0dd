//! Continual-learning streams: an ordered list of experiences.

use crate::Tensor;

/// How experiences differ and what the learner is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// New classes per experience, and the task id is given at test time.
    TaskIncremental,
    /// New classes per experience, no task id: one head over every class seen.
    ClassIncremental,
    /// The same classes, a new input distribution per experience.
    DomainIncremental,
}

/// One experience: its training and test data.
#[derive(Clone, Debug, PartialEq)]
pub struct Experience {
    /// Position in the stream.
    pub index: usize,
    /// Training inputs, `[n, …input_shape]`.
    pub train_x: Tensor<f32>,
    /// Training labels (global class ids).
    pub train_y: Vec<usize>,
    /// Test inputs.
    pub test_x: Tensor<f32>,
    /// Test labels (global class ids).
    pub test_y: Vec<usize>,
    /// The task id, when the scenario gives one.
    pub task_id: Option<usize>,
    /// The global class ids present in this experience.
    pub classes: Vec<usize>,
}

/// An ordered stream of experiences.
pub trait TaskStream: Send + Sync {
    /// The scenario.
    fn scenario(&self) -> Scenario;
    /// Shape of one input example.
    fn input_shape(&self) -> Vec<usize>;
    /// Number of distinct classes over the whole stream.
    fn num_classes(&self) -> usize;
    /// The experiences, in order.
    fn experiences(&self) -> &[Experience];

    /// Whether the stream is online (the online protocol): a learner takes one training
    /// example per step, each exactly once, in the stream's order, classes arriving in order.
    /// Default: not (a learner runs epochs over each experience).
    fn online(&self) -> bool {
        false
    }

    /// Labelled examples of classes kept out of the stream, on which a representation may be
    /// pretrained or meta-trained before the stream starts (the OML protocol's training
    /// classes): an experience whose labels number its own classes `0..k`, disjoint from the
    /// stream's. Default: none.
    fn pretraining(&self) -> Option<&Experience> {
        None
    }
}
