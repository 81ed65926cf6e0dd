//! BERT's position-wise feed-forward block: `intermediate.dense`, GELU, `output.dense`, then
//! the residual and layer norm.

use serde::{Deserialize, Serialize};

use super::{add_layer_norm, add_linear, BertConfig, LayerNorm, ParamKind};
use crate::error::Result;
use crate::float::Float;
use crate::layers::Linear;
use crate::params::Params;
use crate::tape::Var;
use crate::Tensor;

/// `LayerNorm(x + W₂ gelu(W₁ x + b₁) + b₂)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedForward {
    /// `intermediate.dense`, hidden → intermediate.
    pub intermediate: Linear,
    /// `output.dense`, intermediate → hidden.
    pub output: Linear,
    /// `output.LayerNorm`.
    pub norm: LayerNorm,
}

impl FeedForward {
    pub(crate) fn build<T: Float>(
        params: &mut Params<T>,
        c: &BertConfig,
        name: &str,
        init: &mut dyn FnMut(&str, &[usize], ParamKind) -> Result<Tensor<T>>,
    ) -> Result<FeedForward> {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let intermediate = add_linear(params, &format!("{name}.intermediate.dense"), h, i, init)?;
        let output = add_linear(params, &format!("{name}.output.dense"), i, h, init)?;
        let norm = add_layer_norm(
            params,
            &format!("{name}.output.LayerNorm"),
            h,
            c.layer_norm_eps,
            init,
        )?;
        Ok(FeedForward {
            intermediate,
            output,
            norm,
        })
    }

    /// Applies the block to `x [batch, seq, hidden]`.
    pub fn forward<T: Float>(&self, p: &[Var<T>], x: Var<T>) -> Var<T> {
        let h = self.intermediate.forward(p, x).gelu();
        self.norm.forward(p, self.output.forward(p, h) + x)
    }

    /// Indices of every parameter of the block.
    pub fn param_indices(&self) -> Vec<usize> {
        let mut v = Vec::new();
        for l in [&self.intermediate, &self.output] {
            v.push(l.weight);
            v.extend(l.bias);
        }
        v.extend([self.norm.gamma, self.norm.beta]);
        v
    }
}
