//! A fully connected layer `y = x W + b`, with `W` stored `[in, out]` (no transpose per call).

use crate::float::Float;
use crate::layers::init::Init;
use crate::params::Params;
use crate::rng::Rng;
use crate::tape::Var;

/// A linear layer: indices of its weight and bias in a `Params` store.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Linear {
    /// Index of the `[in, out]` weight.
    pub weight: usize,
    /// Index of the `[out]` bias, if any.
    pub bias: Option<usize>,
    /// Input features.
    pub in_dim: usize,
    /// Output features.
    pub out_dim: usize,
}

impl Linear {
    /// Adds `name.weight` (and `name.bias`) to `params`, drawn with `init` (bias: PyTorch's
    /// uniform default).
    pub fn new<T: Float>(
        params: &mut Params<T>,
        name: &str,
        in_dim: usize,
        out_dim: usize,
        bias: bool,
        init: Init,
        rng: &mut Rng,
    ) -> Linear {
        let w = init.sample::<T>(&[in_dim, out_dim], in_dim, out_dim, rng);
        let weight = params.insert(format!("{name}.weight"), w);
        let bias = bias.then(|| {
            let b = Init::TorchDefault.sample::<T>(&[out_dim], in_dim, out_dim, rng);
            params.insert(format!("{name}.bias"), b)
        });
        Linear {
            weight,
            bias,
            in_dim,
            out_dim,
        }
    }

    /// `x [N, in] → [N, out]` with the parameters `p` (in the store's order).
    pub fn forward<T: Float>(&self, p: &[Var<T>], x: Var<T>) -> Var<T> {
        match self.bias {
            Some(b) => x.affine(p[self.weight], p[b]),
            None => x.matmul(p[self.weight]),
        }
    }
}
