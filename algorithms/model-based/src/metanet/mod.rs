//! Meta Networks (Munkhdalai & Yu 2017), registered as `meta-net`: a base learner whose
//! weights are slow plus example-level fast weights, and a meta learner — a dynamic
//! representation function with task-level fast weights, and two fast-weight generators fed
//! with loss gradients — that writes fast weights to a memory keyed by the support examples'
//! representations and reads them back for each query by attention.
//!
//! - [`baseline`]: the raw-feature nearest prototype, reported beside MetaNet on vector inputs.
//! - [`episode`]: a support/query task as one input tensor and its labels.
//! - [`meta_info`]: per-example loss gradients and their log-and-sign preprocessing.
//! - [`generators`]: `m` (coordinate-wise MLP) and `d` (coordinate-wise LSTM).
//! - [`model`]: one episode of the paper's training procedure.
//! - [`learner`]: the runner's training loop, evaluation and checkpoints.
//! - [`params`]: the typed hyperparameters.

pub mod baseline;
pub mod episode;
pub mod generators;
pub mod learner;
pub mod meta_info;
pub mod model;
pub mod params;

pub use learner::MetaNetLearner;
pub use model::MetaNet;
pub use params::MetaNetParams;
