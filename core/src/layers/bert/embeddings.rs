//! BERT's input embeddings: word + position + segment, then layer norm.

use serde::{Deserialize, Serialize};

use super::{add_layer_norm, add_param, BertBatch, BertConfig, LayerNorm, ParamKind};
use crate::error::Result;
use crate::float::Float;
use crate::params::Params;
use crate::tape::Var;
use crate::Tensor;

/// The embedding tables and their layer norm (indices into a [`Params`] store).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BertEmbeddings {
    /// `embeddings.word_embeddings.weight`, `[vocab, hidden]`.
    pub word: usize,
    /// `embeddings.position_embeddings.weight`, `[positions, hidden]`.
    pub position: usize,
    /// `embeddings.token_type_embeddings.weight`, `[segments, hidden]`.
    pub token_type: usize,
    /// `embeddings.LayerNorm`.
    pub norm: LayerNorm,
    /// Width.
    pub hidden: usize,
}

impl BertEmbeddings {
    pub(crate) fn build<T: Float>(
        params: &mut Params<T>,
        c: &BertConfig,
        init: &mut dyn FnMut(&str, &[usize], ParamKind) -> Result<Tensor<T>>,
    ) -> Result<BertEmbeddings> {
        let h = c.hidden_size;
        let mut table = |name: &str, rows: usize, params: &mut Params<T>| {
            add_param(
                params,
                format!("embeddings.{name}.weight"),
                &[rows, h],
                ParamKind::Embedding,
                init,
            )
        };
        let word = table("word_embeddings", c.vocab_size, params)?;
        let position = table("position_embeddings", c.max_position_embeddings, params)?;
        let token_type = table("token_type_embeddings", c.type_vocab_size, params)?;
        let norm = add_layer_norm(params, "embeddings.LayerNorm", h, c.layer_norm_eps, init)?;
        Ok(BertEmbeddings {
            word,
            position,
            token_type,
            norm,
            hidden: h,
        })
    }

    /// The word-embedding rows of a batch, `[batch, seq, hidden]` (differentiable in the table).
    pub fn word_rows<T: Float>(&self, p: &[Var<T>], batch: &BertBatch) -> Var<T> {
        p[self.word]
            .index_select(&batch.ids)
            .reshape(&[batch.batch, batch.seq, self.hidden])
    }

    /// Adds the position and segment embeddings to the word rows and normalises.
    pub fn forward_from_words<T: Float>(
        &self,
        p: &[Var<T>],
        words: Var<T>,
        batch: &BertBatch,
    ) -> Var<T> {
        // Positions 0..seq, the same for every sequence: one [seq, hidden] block, broadcast.
        let pos = p[self.position].narrow(0, 0, batch.seq);
        let segments = match &batch.type_ids {
            Some(t) => {
                p[self.token_type]
                    .index_select(t)
                    .reshape(&[batch.batch, batch.seq, self.hidden])
            }
            // All segment 0: one row, broadcast.
            None => p[self.token_type].narrow(0, 0, 1),
        };
        self.norm.forward(p, words + pos + segments)
    }
}
