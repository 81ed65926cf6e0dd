//! One encoder layer: self-attention, then the feed-forward block (post-norm residuals).

use serde::{Deserialize, Serialize};

use super::{BertConfig, FeedForward, ParamKind, SelfAttention};
use crate::error::Result;
use crate::float::Float;
use crate::params::Params;
use crate::tape::Var;
use crate::Tensor;

/// `encoder.layer.{i}`: attention and feed-forward.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BertLayer {
    /// `encoder.layer.{i}.attention`.
    pub attention: SelfAttention,
    /// `encoder.layer.{i}.intermediate` and `.output`.
    pub feed_forward: FeedForward,
}

impl BertLayer {
    pub(crate) fn build<T: Float>(
        params: &mut Params<T>,
        c: &BertConfig,
        name: &str,
        init: &mut dyn FnMut(&str, &[usize], ParamKind) -> Result<Tensor<T>>,
    ) -> Result<BertLayer> {
        let attention = SelfAttention::build(params, c, &format!("{name}.attention"), init)?;
        let feed_forward = FeedForward::build(params, c, name, init)?;
        Ok(BertLayer {
            attention,
            feed_forward,
        })
    }

    /// `x [batch, seq, hidden]` through the layer; `mask` is the additive `[batch, 1, 1, seq]`.
    pub fn forward<T: Float>(&self, p: &[Var<T>], x: Var<T>, mask: Var<T>) -> Var<T> {
        let a = self.attention.forward(p, x, mask);
        self.feed_forward.forward(p, a)
    }

    /// Indices of every parameter of the layer.
    pub fn param_indices(&self) -> Vec<usize> {
        let mut v = self.attention.param_indices();
        v.extend(self.feed_forward.param_indices());
        v
    }
}
