//! The embedding network f_θ: Conv4 for images, an MLP for feature vectors.

use autodidact_core::layers::{self as core, Activation, BackboneSpec, Conv4, Init, Mlp};
use autodidact_core::{BatchNormMode, BatchNormStats, Params, Rng, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::errors::{MetricError, Result};
use crate::hyperparams::MetricParams;

/// An embedding network, run functionally on a parameter list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Backbone {
    /// Conv4 (4 × [3×3 conv, batch norm, ReLU, 2×2 max-pool]) on `[C, H, W]` images.
    Conv4 {
        /// The layers (core's Conv4 parameter layout).
        conv: Conv4,
        /// Run core's fused blocks ([`Conv4::forward`]) rather than its composition of ops
        /// ([`Conv4::forward_composed`]; same function, slower).
        fused: bool,
    },
    /// An MLP with ReLU hidden layers and a linear output on flattened inputs, optionally
    /// beside the (scaled) raw input: `[α·x, mlp(x)]`.
    Mlp {
        /// The layers.
        mlp: Mlp,
        /// Values in one input example.
        in_dim: usize,
        /// Weight of the raw input concatenated to the MLP's output (0: none).
        raw_skip: f64,
    },
    /// A learned per-feature scale `s ⊙ x` on flattened inputs, initialised at 1 (so it
    /// starts as the raw-feature metric): a diagonal metric, the smallest learned embedding.
    Diagonal {
        /// Index of the `[in_dim]` scale.
        scale: usize,
        /// Values in one input example.
        in_dim: usize,
    },
}

/// The body `hp` asks for, in core's terms.
pub(crate) fn spec(hp: &MetricParams) -> BackboneSpec {
    BackboneSpec {
        kind: hp.backbone,
        hidden: hp.hidden.clone(),
        activation: Activation::Relu,
        init: Init::KaimingUniform,
        filters: hp.filters,
        out_dim: Some(hp.embedding_dim),
        layer_norm: false,
    }
}

impl Backbone {
    /// Builds the backbone for an input shape with core's builder, adding its parameters to
    /// `params`.
    pub fn build(
        hp: &MetricParams,
        input_shape: &[usize],
        params: &mut Params<f32>,
        rng: &mut Rng,
    ) -> Result<Backbone> {
        let body = core::Backbone::build(&spec(hp), input_shape, "body", params, rng)
            .map_err(|e| MetricError::Incompatible(e.to_string()))?;
        Ok(match body {
            core::Backbone::Conv4(conv) => Backbone::Conv4 {
                conv,
                fused: hp.fused_conv,
            },
            core::Backbone::Mlp { mlp, .. } => Backbone::Mlp {
                mlp,
                in_dim: input_shape.iter().product(),
                raw_skip: hp.raw_skip,
            },
            core::Backbone::Diagonal { scale, in_dim } => Backbone::Diagonal { scale, in_dim },
        })
    }

    /// Width of the embedding.
    pub fn dim(&self) -> usize {
        match self {
            Backbone::Conv4 { conv, .. } => conv.feature_dim(),
            Backbone::Mlp {
                mlp,
                in_dim,
                raw_skip,
            } => mlp.out_dim() + if *raw_skip > 0.0 { *in_dim } else { 0 },
            Backbone::Diagonal { in_dim, .. } => *in_dim,
        }
    }

    /// Fresh batch-norm running statistics (none for the MLP).
    pub fn new_stats(&self) -> Vec<BatchNormStats<f32>> {
        match self {
            Backbone::Conv4 { conv, .. } => conv.new_stats(),
            Backbone::Mlp { .. } | Backbone::Diagonal { .. } => Vec::new(),
        }
    }

    /// Embeds `x [n, …input_shape]` into `[n, dim]`.
    ///
    /// Batch norm uses the batch's statistics and updates `stats` in
    /// [`BatchNormMode::Train`], and reads `stats` in [`BatchNormMode::Eval`].
    pub fn embed(
        &self,
        p: &[Var<f32>],
        x: &Tensor<f32>,
        mode: BatchNormMode,
        stats: &mut [BatchNormStats<f32>],
    ) -> Var<f32> {
        let n = x.shape().first().copied().unwrap_or(0);
        match self {
            Backbone::Conv4 { conv, fused } => {
                let c = &conv.config;
                let v =
                    Var::constant_from(x).reshape(&[n, c.in_channels, c.input_size, c.input_size]);
                let st = if stats.is_empty() { None } else { Some(stats) };
                if *fused {
                    conv.forward(p, v, mode, st)
                } else {
                    conv.forward_composed(p, v, mode, st)
                }
            }
            Backbone::Mlp {
                mlp,
                in_dim,
                raw_skip,
            } => {
                let v = Var::constant_from(x).reshape(&[n, *in_dim]);
                let z = mlp.forward(p, v);
                if *raw_skip > 0.0 {
                    Var::concat(&[v * *raw_skip, z], 1)
                } else {
                    z
                }
            }
            Backbone::Diagonal { scale, in_dim } => {
                Var::constant_from(x).reshape(&[n, *in_dim]) * p[*scale]
            }
        }
    }
}
