//! The one backbone builder every family uses: an MLP, Conv4 or a diagonal scale, chosen by a
//! typed [`BackboneKind`], checked against the input shape with one set of error messages.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::float::Float;
use crate::layers::{Activation, Conv4, Conv4Config, Init, Linear, Mlp};
use crate::ops::norm::{layer_norm, BatchNormMode, BatchNormStats};
use crate::params::Params;
use crate::rng::Rng;
use crate::tape::Var;
use crate::Tensor;

/// Which network body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, crate::Choice)]
#[serde(rename_all = "kebab-case")]
pub enum BackboneKind {
    /// Conv4 for `[C, H, W]` image inputs, an MLP otherwise.
    Auto,
    /// Linear layers on flattened inputs.
    Mlp,
    /// 4 × [3×3 conv, batch norm, ReLU, 2×2 max-pool] on square images.
    Conv4,
    /// A learned per-feature scale on flattened inputs (starts at 1).
    Diagonal,
}

impl BackboneKind {
    /// The concrete kind for examples of `input_shape` (`auto` becomes conv4 for
    /// `[C, H, W]` images, mlp otherwise).
    pub fn resolve(self, input_shape: &[usize]) -> BackboneKind {
        match self {
            BackboneKind::Auto if input_shape.len() == 3 => BackboneKind::Conv4,
            BackboneKind::Auto => BackboneKind::Mlp,
            k => k,
        }
    }
}

/// What to build: the kind and the sizes that apply to it.
#[derive(Clone, Debug, PartialEq)]
pub struct BackboneSpec {
    /// The body.
    pub kind: BackboneKind,
    /// MLP hidden widths.
    pub hidden: Vec<usize>,
    /// MLP hidden activation.
    pub activation: Activation,
    /// MLP weight initialiser.
    pub init: Init,
    /// Conv4 filters per block.
    pub filters: usize,
    /// The MLP's output layer width (no activation after it), or `None` for an MLP whose
    /// output is its last hidden layer, activation included.
    pub out_dim: Option<usize>,
    /// Layer-normalise every hidden layer before its activation.
    pub layer_norm: bool,
}

impl BackboneSpec {
    /// The number of parameters the body will hold for examples of `input_shape` (as a float:
    /// an absurd configuration must not overflow the estimate).
    pub fn param_count(&self, input_shape: &[usize]) -> f64 {
        let in_dim: f64 = input_shape.iter().map(|&d| d as f64).product();
        match self.kind.resolve(input_shape) {
            BackboneKind::Conv4 => {
                let c = input_shape.first().copied().unwrap_or(1) as f64;
                let f = self.filters as f64;
                // Four blocks of 3x3 kernels, bias, and batch-norm scale and shift.
                (c * f * 9.0 + 3.0 * f) + 3.0 * (f * f * 9.0 + 3.0 * f)
            }
            BackboneKind::Diagonal => in_dim,
            _ => {
                let mut widths = vec![in_dim];
                widths.extend(self.hidden.iter().map(|&h| h as f64));
                widths.extend(self.out_dim.map(|d| d as f64));
                widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
            }
        }
    }
}

impl BackboneSpec {
    /// Floats one example leaves on the tape through the body (the input, each layer's
    /// output, and each normalised or activated copy): a lower bound of what training keeps.
    pub fn activation_count(&self, input_shape: &[usize]) -> f64 {
        let in_dim: f64 = input_shape.iter().map(|&d| d as f64).product();
        let body = match self.kind.resolve(input_shape) {
            BackboneKind::Conv4 => {
                let f = self.filters as f64;
                let (mut h, mut w) = (
                    input_shape.get(1).copied().unwrap_or(1) as f64,
                    input_shape.get(2).copied().unwrap_or(1) as f64,
                );
                let mut sum = 0.0;
                for _ in 0..4 {
                    // Convolution, batch norm and ReLU at full size, then the pooled copy.
                    sum += 3.0 * f * h * w;
                    h = (h / 2.0).floor().max(1.0);
                    w = (w / 2.0).floor().max(1.0);
                    sum += f * h * w;
                }
                sum
            }
            BackboneKind::Diagonal => in_dim,
            _ => {
                let copies = if self.layer_norm { 3.0 } else { 2.0 };
                let hidden: f64 = self.hidden.iter().map(|&h| h as f64).sum();
                hidden * copies + self.out_dim.map_or(0.0, |d| d as f64)
            }
        };
        in_dim + body
    }

    /// Refuses an episode of `examples` examples whose activations, kept for `passes` passes
    /// through the body (and as many gradients), cannot fit in memory; the error names
    /// `env.shots`, the estimate and what is available.
    pub fn check_episode(&self, input_shape: &[usize], examples: usize, passes: f64) -> Result<()> {
        let floats = examples as f64 * self.activation_count(input_shape) * 2.0 * passes;
        crate::memory::check_fits(
            "env.shots",
            &format!(
                "one episode ({examples} examples through the network, {passes} pass(es) kept \
                 for the gradient)"
            ),
            floats * 4.0,
        )
    }
}

/// Bytes per parameter while training: the value, its gradient and Adam's two moments, each a
/// float, plus as much again for the tape's intermediate values (a rough but safe bound).
const BYTES_PER_PARAM: f64 = 8.0 * 4.0;

/// A built body, run functionally on a parameter list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Backbone {
    /// An MLP on flattened inputs.
    Mlp {
        /// The layers.
        mlp: Mlp,
        /// Layer-norm (scale, shift) indices per hidden layer, when normalised.
        norms: Vec<(usize, usize)>,
        /// Whether the last layer is followed by the activation (no separate output layer).
        activate_last: bool,
    },
    /// Conv4 on `[C, H, W]` images.
    Conv4(Conv4),
    /// `s ⊙ x` on flattened inputs.
    Diagonal {
        /// Index of the `[in_dim]` scale.
        scale: usize,
        /// Values in one input example.
        in_dim: usize,
    },
}

/// Layer norm's ε.
const LN_EPS: f64 = 1e-5;

impl Backbone {
    /// Builds the body for examples of `input_shape`, naming its parameters `prefix.…`.
    pub fn build<T: Float>(
        spec: &BackboneSpec,
        input_shape: &[usize],
        prefix: &str,
        params: &mut Params<T>,
        rng: &mut Rng,
    ) -> Result<Backbone> {
        let key = match spec.kind.resolve(input_shape) {
            BackboneKind::Conv4 => "filters",
            _ => "hidden",
        };
        let bytes = spec.param_count(input_shape) * BYTES_PER_PARAM;
        crate::memory::check_fits(key, "the network", bytes)?;
        let in_dim: usize = input_shape.iter().product();
        if in_dim == 0 {
            return Err(CoreError::Incompatible(format!(
                "examples of shape {input_shape:?} hold no values"
            )));
        }
        match spec.kind.resolve(input_shape) {
            BackboneKind::Conv4 => Self::conv4(spec, input_shape, prefix, params, rng),
            BackboneKind::Diagonal => {
                let ones = Tensor::from_elem(ndarray::IxDyn(&[in_dim]), T::one());
                let scale = params.insert(format!("{prefix}.scale"), ones);
                Ok(Backbone::Diagonal { scale, in_dim })
            }
            _ => Ok(Self::mlp(spec, in_dim, prefix, params, rng)),
        }
    }

    fn conv4<T: Float>(
        spec: &BackboneSpec,
        shape: &[usize],
        prefix: &str,
        params: &mut Params<T>,
        rng: &mut Rng,
    ) -> Result<Backbone> {
        if shape.len() != 3 || shape[1] != shape[2] {
            return Err(CoreError::Incompatible(format!(
                "the conv4 backbone needs square [C, H, W] image inputs; the examples have shape {shape:?}"
            )));
        }
        if shape[1] < 16 {
            return Err(CoreError::Incompatible(format!(
                "inputs of {}x{} are too small for four 2x2 poolings (at least 16x16)",
                shape[1], shape[2]
            )));
        }
        let cfg = Conv4Config {
            in_channels: shape[0],
            filters: spec.filters,
            input_size: shape[1],
            blocks: 4,
        };
        Ok(Backbone::Conv4(Conv4::new(params, prefix, cfg, rng)))
    }

    fn mlp<T: Float>(
        spec: &BackboneSpec,
        in_dim: usize,
        prefix: &str,
        params: &mut Params<T>,
        rng: &mut Rng,
    ) -> Backbone {
        let mut widths = vec![in_dim];
        widths.extend(&spec.hidden);
        widths.extend(spec.out_dim);
        let hidden = spec.hidden.len();
        let mut layers = Vec::new();
        let mut norms = Vec::new();
        // Each layer's norm is inserted right after it, so the store's order (and every
        // random draw) is the same as building the layers one by one.
        for (i, w) in widths.windows(2).enumerate() {
            let name = format!("{prefix}.{i}");
            layers.push(Linear::new(params, &name, w[0], w[1], true, spec.init, rng));
            if spec.layer_norm && i < hidden {
                let g = params.insert(
                    format!("{name}.ln.gamma"),
                    Tensor::from_elem(ndarray::IxDyn(&[w[1]]), T::one()),
                );
                let b = params.insert(
                    format!("{name}.ln.beta"),
                    Tensor::zeros(ndarray::IxDyn(&[w[1]])),
                );
                norms.push((g, b));
            }
        }
        Backbone::Mlp {
            mlp: Mlp {
                layers,
                activation: spec.activation,
            },
            norms,
            activate_last: spec.out_dim.is_none(),
        }
    }

    /// Width of the output features.
    pub fn out_dim(&self) -> usize {
        match self {
            Backbone::Mlp { mlp, .. } => mlp.out_dim(),
            Backbone::Conv4(c) => c.feature_dim(),
            Backbone::Diagonal { in_dim, .. } => *in_dim,
        }
    }

    /// Fresh batch-norm running statistics (none but Conv4's).
    pub fn new_stats<T: Float>(&self) -> Vec<BatchNormStats<T>> {
        match self {
            Backbone::Conv4(c) => c.new_stats(),
            _ => Vec::new(),
        }
    }

    /// Whether this is Conv4 (which takes `[N, C, H, W]` rather than flattened rows).
    pub fn is_conv(&self) -> bool {
        matches!(self, Backbone::Conv4(_))
    }

    /// `x → features`: `[N, …]` rows (flattened for the MLP and diagonal; `[N, C, H, W]` for
    /// Conv4, with `stats` updated in training mode and read in evaluation mode).
    pub fn forward<T: Float>(
        &self,
        p: &[Var<T>],
        x: Var<T>,
        mode: BatchNormMode,
        stats: Option<&mut [BatchNormStats<T>]>,
    ) -> Var<T> {
        match self {
            Backbone::Conv4(c) => c.forward(p, x, mode, stats),
            Backbone::Diagonal { scale, in_dim } => {
                let n = x.shape()[0];
                x.reshape(&[n, *in_dim]) * p[*scale]
            }
            Backbone::Mlp {
                mlp,
                norms,
                activate_last,
            } => {
                let n = x.shape()[0];
                let rows: usize = x.shape()[1..].iter().product();
                let last = mlp.layers.len().saturating_sub(1);
                let mut h = x.reshape(&[n, rows]);
                for (i, layer) in mlp.layers.iter().enumerate() {
                    h = layer.forward(p, h);
                    if let Some(&(g, b)) = norms.get(i) {
                        h = layer_norm(h, p[g], p[b], LN_EPS);
                    }
                    if i < last || *activate_last {
                        h = mlp.activation.apply(h);
                    }
                }
                h
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: BackboneKind, hidden: Vec<usize>) -> BackboneSpec {
        BackboneSpec {
            kind,
            hidden,
            activation: Activation::Relu,
            init: Init::KaimingUniform,
            filters: 4,
            out_dim: Some(1),
            layer_norm: false,
        }
    }

    #[test]
    fn activations_per_example_count_every_kept_layer() {
        // Input 1, two hidden layers of 40 (output and activation each), output 1.
        assert_eq!(
            spec(BackboneKind::Mlp, vec![40, 40]).activation_count(&[1]),
            162.0
        );
        // Conv4 on 1x8x8 with 4 filters: 3·4·(64 + 16 + 4 + 1) + 4·(16 + 4 + 1 + 1), plus the input.
        let conv = spec(BackboneKind::Conv4, vec![]).activation_count(&[1, 8, 8]);
        assert_eq!(conv, 64.0 + 3.0 * 4.0 * 85.0 + 4.0 * 22.0);
    }

    #[test]
    fn an_episode_that_cannot_fit_is_refused_naming_the_key() {
        let s = spec(BackboneKind::Mlp, vec![40, 40]);
        assert!(s.check_episode(&[1], 20, 2.0).is_ok());
        if crate::memory::available_bytes().is_some() {
            let e = s.check_episode(&[1], 1 << 50, 2.0).unwrap_err().to_string();
            assert!(
                e.contains("`env.shots`") && e.contains("one episode"),
                "{e}"
            );
        }
    }
}
