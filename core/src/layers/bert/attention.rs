//! Multi-head self-attention with an additive padding mask, batched as
//! `[batch, heads, seq, seq]` scores, and its output projection, residual and layer norm.

use serde::{Deserialize, Serialize};

use super::{add_layer_norm, add_linear, BertConfig, LayerNorm, ParamKind};
use crate::error::Result;
use crate::float::Float;
use crate::layers::Linear;
use crate::params::Params;
use crate::tape::Var;
use crate::Tensor;

/// BERT's attention block: `attention.self.{query,key,value}`, `attention.output.dense` and
/// `attention.output.LayerNorm`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelfAttention {
    /// Query projection.
    pub query: Linear,
    /// Key projection.
    pub key: Linear,
    /// Value projection.
    pub value: Linear,
    /// Output projection.
    pub output: Linear,
    /// Layer norm after the residual.
    pub norm: LayerNorm,
    /// Heads.
    pub heads: usize,
}

impl SelfAttention {
    pub(crate) fn build<T: Float>(
        params: &mut Params<T>,
        c: &BertConfig,
        name: &str,
        init: &mut dyn FnMut(&str, &[usize], ParamKind) -> Result<Tensor<T>>,
    ) -> Result<SelfAttention> {
        let h = c.hidden_size;
        let query = add_linear(params, &format!("{name}.self.query"), h, h, init)?;
        let key = add_linear(params, &format!("{name}.self.key"), h, h, init)?;
        let value = add_linear(params, &format!("{name}.self.value"), h, h, init)?;
        let output = add_linear(params, &format!("{name}.output.dense"), h, h, init)?;
        let norm = add_layer_norm(
            params,
            &format!("{name}.output.LayerNorm"),
            h,
            c.layer_norm_eps,
            init,
        )?;
        Ok(SelfAttention {
            query,
            key,
            value,
            output,
            norm,
            heads: c.num_attention_heads,
        })
    }

    /// The attended context `[batch, seq, hidden]` before the output projection:
    /// `softmax(Q Kᵀ / √d + mask) V` per head, heads concatenated.
    ///
    /// `x` is `[batch, seq, hidden]`, `mask` the additive `[batch, 1, 1, seq]` mask.
    pub fn context<T: Float>(&self, p: &[Var<T>], x: Var<T>, mask: Var<T>) -> Var<T> {
        let s = x.shape();
        let (b, n, h) = (s[0], s[1], s[2]);
        let d = h / self.heads;
        // [batch, seq, hidden] → [batch, heads, seq, d]
        let split = |t: Var<T>| t.reshape(&[b, n, self.heads, d]).permute(&[0, 2, 1, 3]);
        // Q scaled by 1/√d before the product (the same scores as scaling them, on a
        // [seq, d] block instead of [seq, seq]).
        let q = split(self.query.forward(p, x) * (1.0 / (d as f64).sqrt()));
        let k = split(self.key.forward(p, x));
        let v = split(self.value.forward(p, x));
        let scores = q.matmul_nt(k) + mask;
        let probs = scores.softmax(3);
        probs.matmul(v).permute(&[0, 2, 1, 3]).reshape(&[b, n, h])
    }

    /// `LayerNorm(x + context · W_o + b_o)`.
    pub fn forward<T: Float>(&self, p: &[Var<T>], x: Var<T>, mask: Var<T>) -> Var<T> {
        let ctx = self.context(p, x, mask);
        self.norm.forward(p, self.output.forward(p, ctx) + x)
    }

    /// Indices of every parameter of the block.
    pub fn param_indices(&self) -> Vec<usize> {
        let mut v = Vec::new();
        for l in [&self.query, &self.key, &self.value, &self.output] {
            v.push(l.weight);
            v.extend(l.bias);
        }
        v.extend([self.norm.gamma, self.norm.beta]);
        v
    }
}
