//! The network a meta-learner adapts: an MLP or Conv4 body with a linear head, run
//! functionally on any parameter list (θ or adapted fast weights), and the task loss.

use autodidact_core::layers::{Backbone, BackboneKind, Init, Linear, Mlp};
use autodidact_core::{
    accuracy, cross_entropy, mse, BatchNormMode, Float, Params, Rng, Targets, TaskKind, Tensor, Var,
};
use serde::{Deserialize, Serialize};

use crate::errors::{GradientError, Result};
use crate::hyperparams::MetaParams;

/// The body of the network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Body {
    /// An MLP on flattened inputs; its last layer is the head.
    Mlp(Mlp),
    /// Conv4 or diagonal features, then a linear head.
    Features {
        /// The feature extractor.
        backbone: Backbone,
        /// The head.
        head: Linear,
    },
}

/// A functional model: architecture, the task's output, and where its head lives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The architecture.
    pub body: Body,
    /// Shape of one input example.
    pub input_shape: Vec<usize>,
    /// Regression (output width) or classification (ways).
    pub outputs: usize,
    /// Whether the task is classification.
    pub classification: bool,
}

impl Model {
    /// Builds the model for a task kind and input shape, adding its parameters to `params`.
    pub fn build<T: Float>(
        hp: &MetaParams,
        kind: TaskKind,
        input_shape: &[usize],
        params: &mut Params<T>,
        rng: &mut Rng,
    ) -> Result<Model> {
        let (outputs, classification) = match kind {
            TaskKind::Regression { output_dim } => (output_dim, false),
            TaskKind::Classification { ways } => (ways, true),
        };
        let prefix = match hp.backbone.resolve(input_shape) {
            BackboneKind::Mlp => "net",
            _ => "body",
        };
        let backbone =
            Backbone::build(&hp.backbone_spec(outputs), input_shape, prefix, params, rng)
                .map_err(|e| GradientError::Incompatible(e.to_string()))?;
        let body = match backbone {
            Backbone::Mlp { mlp, .. } => Body::Mlp(mlp),
            backbone => {
                let head = Linear::new(
                    params,
                    "head",
                    backbone.out_dim(),
                    outputs,
                    true,
                    Init::XavierUniform,
                    rng,
                );
                Body::Features { backbone, head }
            }
        };
        Ok(Model {
            body,
            input_shape: input_shape.to_vec(),
            outputs,
            classification,
        })
    }

    /// Indices of the head's parameters (what ANIL adapts).
    pub fn head_params(&self) -> Vec<usize> {
        match &self.body {
            Body::Mlp(m) => m.head_params(),
            Body::Features { head, .. } => std::iter::once(head.weight).chain(head.bias).collect(),
        }
    }

    /// Puts a batch of examples `[n, …input_shape]` in the layout the body expects.
    pub fn input<T: Float>(&self, x: &Tensor<f32>) -> Var<T> {
        let n = x.shape().first().copied().unwrap_or(0);
        let v = Var::constant(x.mapv(|e| T::of(e as f64)));
        match &self.body {
            Body::Features { backbone, .. } if backbone.is_conv() => v.reshape(&[
                n,
                self.input_shape[0],
                self.input_shape[1],
                self.input_shape[2],
            ]),
            _ => v.reshape(&[n, self.input_shape.iter().product()]),
        }
    }

    /// Body features (everything before the head).
    pub fn features<T: Float>(&self, p: &[Var<T>], x: Var<T>) -> Var<T> {
        match &self.body {
            Body::Mlp(m) => m.features(p, x),
            // Batch statistics at every call, as MAML does (transductive batch norm).
            Body::Features { backbone, .. } => {
                backbone.forward(p, x, BatchNormMode::BatchStats, None)
            }
        }
    }

    /// The head on features.
    pub fn head<T: Float>(&self, p: &[Var<T>], h: Var<T>) -> Var<T> {
        match &self.body {
            Body::Mlp(m) => match m.layers.last() {
                Some(l) => l.forward(p, h),
                None => h,
            },
            Body::Features { head, .. } => head.forward(p, h),
        }
    }

    /// Predictions (regression values or class logits).
    pub fn forward<T: Float>(&self, p: &[Var<T>], x: Var<T>) -> Var<T> {
        self.head(p, self.features(p, x))
    }

    /// The task loss of predictions against targets: MSE or cross-entropy.
    pub fn loss<T: Float>(&self, pred: Var<T>, y: &Targets) -> Var<T> {
        match y {
            Targets::Values(v) => mse(pred, Var::constant(v.mapv(|e| T::of(e as f64)))),
            Targets::Labels(l) => cross_entropy(pred, l),
        }
    }

    /// The evaluation score: MSE for regression, accuracy for classification.
    pub fn score<T: Float>(&self, pred: Var<T>, y: &Targets) -> f64 {
        match y {
            Targets::Values(_) => self.loss(pred, y).item(),
            Targets::Labels(l) => accuracy(pred, l),
        }
    }
}
