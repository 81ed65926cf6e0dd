//! Conv4, the few-shot backbone: 4 × [3×3 conv, batch norm, ReLU, 2×2 max-pool].
//!
//! On `f32` each block runs as one fused op with hand-written kernels (`fused.rs`); on `f64`
//! (gradient checks) and through [`Conv4::forward_composed`] it is the composition of core ops.
//! Both compute the same function, and the fused op's gradient is differentiable to any order
//! (it differentiates the composition when a gradient is recorded).

mod fused;
mod winograd;

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};
use serde::{Deserialize, Serialize};

use crate::float::Float;
use crate::layers::init::Init;
use crate::ops::norm::{batch_norm, update_running, BatchNormMode, BatchNormStats};
use crate::params::Params;
use crate::rng::Rng;
use crate::tape::Var;

/// Batch-norm momentum of the running statistics.
const MOMENTUM: f64 = 0.1;
/// Batch-norm ε.
const BN_EPS: f64 = 1e-5;

/// Conv4's shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conv4Config {
    /// Input channels (1 for Omniglot).
    pub in_channels: usize,
    /// Filters per block (64 in the papers).
    pub filters: usize,
    /// Input height and width (28 for Omniglot).
    pub input_size: usize,
    /// Number of blocks (4).
    pub blocks: usize,
}

impl Default for Conv4Config {
    fn default() -> Self {
        Conv4Config {
            in_channels: 1,
            filters: 64,
            input_size: 28,
            blocks: 4,
        }
    }
}

/// One block's parameter indices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvBlock {
    /// `[F, C, 3, 3]` kernel.
    pub weight: usize,
    /// `[F]` bias.
    pub bias: usize,
    /// `[F]` batch-norm scale.
    pub gamma: usize,
    /// `[F]` batch-norm shift.
    pub beta: usize,
}

/// The Conv4 backbone: parameter indices and shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conv4 {
    /// The blocks, input to output.
    pub blocks: Vec<ConvBlock>,
    /// Its configuration.
    pub config: Conv4Config,
}

impl Conv4 {
    /// Adds Conv4's parameters to `params` (`name.{i}.conv.weight`, …).
    pub fn new<T: Float>(
        params: &mut Params<T>,
        name: &str,
        config: Conv4Config,
        rng: &mut Rng,
    ) -> Conv4 {
        let mut blocks = Vec::new();
        let mut c = config.in_channels;
        for i in 0..config.blocks {
            let f = config.filters;
            let fan_in = c * 9;
            let weight = params.insert(
                format!("{name}.{i}.conv.weight"),
                Init::KaimingUniform.sample::<T>(&[f, c, 3, 3], fan_in, f * 9, rng),
            );
            let bias = params.insert(
                format!("{name}.{i}.conv.bias"),
                Init::Zeros.sample::<T>(&[f], fan_in, f, rng),
            );
            let gamma = params.insert(
                format!("{name}.{i}.bn.gamma"),
                Init::Ones.sample::<T>(&[f], f, f, rng),
            );
            let beta = params.insert(
                format!("{name}.{i}.bn.beta"),
                Init::Zeros.sample::<T>(&[f], f, f, rng),
            );
            blocks.push(ConvBlock {
                weight,
                bias,
                gamma,
                beta,
            });
            c = f;
        }
        Conv4 { blocks, config }
    }

    /// Spatial size after the blocks (each: padding 1, then a 2×2 pool, floor).
    pub fn out_size(&self) -> usize {
        (0..self.config.blocks).fold(self.config.input_size, |s, _| s / 2)
    }

    /// Length of the flattened feature vector.
    pub fn feature_dim(&self) -> usize {
        let s = self.out_size();
        self.config.filters * s * s
    }

    /// Fresh batch-norm statistics, one per block.
    pub fn new_stats<T: Float>(&self) -> Vec<BatchNormStats<T>> {
        (0..self.config.blocks)
            .map(|_| BatchNormStats::new(self.config.filters))
            .collect()
    }

    /// `x [N, C, H, W] → [N, feature_dim]` features.
    ///
    /// `stats` are updated in [`BatchNormMode::Train`] and read in [`BatchNormMode::Eval`].
    /// On `f32` each block is one fused op (the same function as [`Conv4::forward_composed`],
    /// up to float rounding, and faster); on `f64` this is `forward_composed`.
    pub fn forward<T: Float>(
        &self,
        p: &[Var<T>],
        x: Var<T>,
        mode: BatchNormMode,
        stats: Option<&mut [BatchNormStats<T>]>,
    ) -> Var<T> {
        self.run(p, x, mode, stats, true)
    }

    /// [`Conv4::forward`] composed of core ops (`conv2d`, `batch_norm`, `relu`, `max_pool2d`)
    /// on every type: the reference the fused blocks are tested against.
    pub fn forward_composed<T: Float>(
        &self,
        p: &[Var<T>],
        x: Var<T>,
        mode: BatchNormMode,
        stats: Option<&mut [BatchNormStats<T>]>,
    ) -> Var<T> {
        self.run(p, x, mode, stats, false)
    }

    /// The blocks in turn, each fused when `fuse` and the fused op applies, else composed.
    fn run<T: Float>(
        &self,
        p: &[Var<T>],
        x: Var<T>,
        mode: BatchNormMode,
        mut stats: Option<&mut [BatchNormStats<T>]>,
        fuse: bool,
    ) -> Var<T> {
        let mut h = x;
        for (i, b) in self.blocks.iter().enumerate() {
            let args = [h, p[b.weight], p[b.bias], p[b.gamma], p[b.beta]];
            let st = stats.as_deref_mut().and_then(|s| s.get_mut(i));
            // The fused kernels take [N, C, H, W] maps of at least 2×2; anything else goes to
            // the composition, whose errors name the shapes.
            let s = h.shape();
            let fast = if fuse && s.len() == 4 && s[2] >= 2 && s[3] >= 2 {
                fused::op::<T>(mode, st.as_deref())
            } else {
                None
            };
            h = match fast {
                Some((op, on_tape)) => {
                    let out = Var::custom(on_tape, &args);
                    if let (BatchNormMode::Train, Some(st), Some((mean, var))) =
                        (mode, st, op.batch_stats())
                    {
                        let of = |v: &f32| T::of(f64::from(*v));
                        let (mean, var) = (mean.iter().map(of), var.iter().map(of));
                        update_running(st, mean, var, s[0] * s[2] * s[3], MOMENTUM);
                    }
                    out
                }
                None => composed_block(args, mode, st),
            };
        }
        h.flatten()
    }
}

/// One block composed of core ops: `args` are the input, weight, bias, γ and β.
fn composed_block<T: Float>(
    args: [Var<T>; 5],
    mode: BatchNormMode,
    stats: Option<&mut BatchNormStats<T>>,
) -> Var<T> {
    let [x, w, b, gamma, beta] = args;
    let y = x.conv2d(w, Some(b), 1, 1);
    batch_norm(y, gamma, beta, stats, mode, MOMENTUM, BN_EPS)
        .relu()
        .max_pool2d(2, 2)
}

/// A `[r, c]` view of `s` with strides `(rs, cs)` (the fused kernels' GEMM operands).
pub(super) fn view<'a>(
    s: &'a [f32],
    (r, c): (usize, usize),
    (rs, cs): (usize, usize),
) -> ArrayView2<'a, f32> {
    let len = if r == 0 || c == 0 {
        0
    } else {
        (r - 1) * rs + (c - 1) * cs + 1
    };
    ArrayView2::from_shape((r, c).strides((rs, cs)), &s[..len])
        .unwrap_or_else(|e| panic!("autodidact internal error: conv4 view: {e}"))
}

/// A mutable `[r, c]` view of `s` with strides `(rs, cs)`.
pub(super) fn view_mut<'a>(
    s: &'a mut [f32],
    (r, c): (usize, usize),
    (rs, cs): (usize, usize),
) -> ArrayViewMut2<'a, f32> {
    let len = if r == 0 || c == 0 {
        0
    } else {
        (r - 1) * rs + (c - 1) * cs + 1
    };
    ArrayViewMut2::from_shape((r, c).strides((rs, cs)), &mut s[..len])
        .unwrap_or_else(|e| panic!("autodidact internal error: conv4 view: {e}"))
}
