//! BERT (Devlin et al., 2019) as functional layers on core's tape: token, position and segment
//! embeddings, multi-head self-attention with the padding mask, GELU feed-forward blocks,
//! post-norm residuals, and sentence pooling (mean over the mask, L2 normalisation), as
//! sentence-transformers' all-MiniLM-L6-v2 runs it.
//!
//! The parameters live in a [`Params`] store under the Hugging Face names
//! (`embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.weight`, …),
//! so the whole model is differentiable: fine-tune it, freeze all but the last layer, or
//! meta-learn on it. One difference from the file: linear weights are stored `[in, out]`, as
//! every [`Linear`](crate::Linear) layer here, transposed from PyTorch's `[out, in]` when
//! loaded ([`load`]).
//!
//! [`Bert::forward`] records like any other layer; [`Bert::encode`] is the inference path:
//! no tape, only the real tokens (no padding), fused kernels on reused buffers (`fast.rs`).
//! [`Bert::hidden_states`] and [`Bert::forward_from_layer`] split a forward between the two,
//! to fine-tune the last layers on the tape over frozen ones run once.
//!
//! ```
//! use autodidact_core::layers::bert::{Bert, BertBatch, BertConfig};
//! use autodidact_core::{no_grad, Params, Seed, Tape};
//!
//! let config = BertConfig::tiny(2, 8, 2, 20);
//! let mut params = Params::<f64>::new();
//! let bert = Bert::new(&mut params, &config, &mut Seed(1).rng("init"));
//! let batch = BertBatch::new(&[vec![1, 5, 7, 2], vec![1, 9, 2]], &config).unwrap();
//! let tape = Tape::<f64>::new();
//! let p = tape.params(&params);
//! let emb = bert.sentence_embeddings(&p, &batch, true); // [2, 8], unit rows
//! assert_eq!(emb.shape(), vec![2, 8]);
//! let fast = bert.encode(&params, &[batch], true);
//! assert!((&fast[0] - &emb.value()).iter().all(|d| d.abs() < 1e-12));
//! ```

pub mod attention;
pub mod config;
pub mod embeddings;
pub mod encoder;
mod fast;
pub mod feed_forward;
pub mod load;
mod packed;
pub mod pooling;

use serde::{Deserialize, Serialize};

pub use attention::SelfAttention;
pub use config::BertConfig;
pub use embeddings::BertEmbeddings;
pub use encoder::BertLayer;
pub use feed_forward::FeedForward;
pub use packed::PackedWeights;
pub use pooling::{l2_normalize, mean_pool};

use crate::error::{CoreError, Result};
use crate::float::Float;
use crate::ops::norm::layer_norm;
use crate::params::Params;
use crate::rng::Rng;
use crate::tape::Var;
use crate::Tensor;

/// A layer norm's parameters: indices of `gamma` (`.weight`) and `beta` (`.bias`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerNorm {
    /// Index of the scale.
    pub gamma: usize,
    /// Index of the shift.
    pub beta: usize,
    /// ε added to the variance.
    pub eps: f64,
}

impl LayerNorm {
    /// Normalises over the last axis.
    pub fn forward<T: Float>(&self, p: &[Var<T>], x: Var<T>) -> Var<T> {
        layer_norm(x, p[self.gamma], p[self.beta], self.eps)
    }
}

/// Token ids of a batch of sequences, padded to one length, with their attention mask.
#[derive(Clone, Debug, PartialEq)]
pub struct BertBatch {
    /// Sequences.
    pub batch: usize,
    /// Padded length.
    pub seq: usize,
    /// `batch × seq` token ids, row-major (padding: the config's `pad_token_id`).
    pub ids: Vec<usize>,
    /// `batch × seq` segment ids, or `None` for all zeros.
    pub type_ids: Option<Vec<usize>>,
    /// `batch × seq` ones for real tokens and zeros for padding.
    pub mask: Vec<u8>,
}

impl BertBatch {
    /// Pads `sequences` (token ids) to the longest one; segment ids all 0.
    ///
    /// # Errors
    /// An id outside the vocabulary, or a sequence longer than the position table, named.
    pub fn new(sequences: &[Vec<u32>], config: &BertConfig) -> Result<BertBatch> {
        let seq = sequences.iter().map(Vec::len).max().unwrap_or(0);
        if seq > config.max_position_embeddings {
            return Err(CoreError::Incompatible(format!(
                "a sequence of {seq} tokens is longer than the model's {} positions (truncate it)",
                config.max_position_embeddings
            )));
        }
        let batch = sequences.len();
        let mut ids = vec![config.pad_token_id; batch * seq];
        let mut mask = vec![0u8; batch * seq];
        for (i, s) in sequences.iter().enumerate() {
            for (j, &t) in s.iter().enumerate() {
                let t = t as usize;
                if t >= config.vocab_size {
                    return Err(CoreError::Incompatible(format!(
                        "token id {t} (sequence {i}, position {j}) is outside the model's vocabulary of {}",
                        config.vocab_size
                    )));
                }
                ids[i * seq + j] = t;
                mask[i * seq + j] = 1;
            }
        }
        Ok(BertBatch {
            batch,
            seq,
            ids,
            type_ids: None,
            mask,
        })
    }

    /// The mask as a `[batch, seq, 1]` constant of ones and zeros (for pooling).
    pub fn mask_var<T: Float>(&self) -> Var<T> {
        let v: Vec<T> = self.mask.iter().map(|&m| T::of(f64::from(m))).collect();
        Var::constant(crate::ops::from_vec(&[self.batch, self.seq, 1], v))
    }

    /// The additive attention mask, `[batch, 1, 1, seq]`: 0 where a key is a real token and
    /// the lowest `f32` where it is padding (as Hugging Face's BERT), so a padded key gets no
    /// attention.
    pub fn additive_mask<T: Float>(&self) -> Var<T> {
        let low = T::of(f64::from(f32::MIN));
        let v: Vec<T> = self
            .mask
            .iter()
            .map(|&m| if m != 0 { T::zero() } else { low })
            .collect();
        Var::constant(crate::ops::from_vec(&[self.batch, 1, 1, self.seq], v))
    }
}

/// A BERT encoder: embeddings and a stack of layers (indices into a [`Params`] store).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bert {
    /// The sizes.
    pub config: BertConfig,
    /// Token, position and segment embeddings with their layer norm.
    pub embeddings: BertEmbeddings,
    /// The encoder layers, input to output.
    pub layers: Vec<BertLayer>,
}

impl Bert {
    /// Adds a randomly initialised BERT to `params` (weights `N(0, 0.02²)` as BERT's
    /// `initializer_range`, biases 0, layer norms `γ = 1`, `β = 0`).
    pub fn new<T: Float>(params: &mut Params<T>, config: &BertConfig, rng: &mut Rng) -> Bert {
        let mut init = |_: &str, shape: &[usize], kind: ParamKind| -> Result<Tensor<T>> {
            Ok(match kind {
                ParamKind::Weight | ParamKind::Embedding => normal_002(shape, rng),
                ParamKind::Bias | ParamKind::NormShift => Tensor::zeros(shape),
                ParamKind::NormScale => Tensor::ones(shape),
            })
        };
        match Self::build(params, config, &mut init) {
            Ok(b) => b,
            Err(e) => panic!("autodidact internal error: building a random BERT: {e}"),
        }
    }

    /// Adds every parameter, in a fixed order, with values from `init(name, shape, kind)`
    /// (`shape` as stored here: linear weights `[in, out]`).
    pub(crate) fn build<T: Float>(
        params: &mut Params<T>,
        config: &BertConfig,
        init: &mut dyn FnMut(&str, &[usize], ParamKind) -> Result<Tensor<T>>,
    ) -> Result<Bert> {
        config.validate()?;
        let embeddings = BertEmbeddings::build(params, config, init)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| BertLayer::build(params, config, &format!("encoder.layer.{i}"), init))
            .collect::<Result<Vec<_>>>()?;
        Ok(Bert {
            config: config.clone(),
            embeddings,
            layers,
        })
    }

    /// The last hidden states `[batch, seq, hidden]`.
    pub fn forward<T: Float>(&self, p: &[Var<T>], batch: &BertBatch) -> Var<T> {
        let words = self.embeddings.word_rows(p, batch);
        self.forward_from_words(p, words, batch)
    }

    /// [`Bert::forward`] from the word-embedding rows `[batch, seq, hidden]` already looked up.
    pub fn forward_from_words<T: Float>(
        &self,
        p: &[Var<T>],
        words: Var<T>,
        batch: &BertBatch,
    ) -> Var<T> {
        let mask = batch.additive_mask::<T>();
        let h = self.embeddings.forward_from_words(p, words, batch);
        self.layers
            .iter()
            .fold(h, |h, layer| layer.forward(p, h, mask))
    }

    /// Sentence embeddings `[batch, hidden]`: the mean of the last hidden states over the
    /// real tokens, L2-normalised when `normalize`.
    pub fn sentence_embeddings<T: Float>(
        &self,
        p: &[Var<T>],
        batch: &BertBatch,
        normalize: bool,
    ) -> Var<T> {
        let h = self.forward(p, batch);
        let pooled = mean_pool(h, batch.mask_var());
        if normalize {
            l2_normalize(pooled)
        } else {
            pooled
        }
    }

    /// Inference: the sentence embeddings of every batch (`[batch, hidden]` each), with
    /// nothing recorded. A dedicated path (`fast.rs`) computes the same function as
    /// [`Bert::sentence_embeddings`] on the real tokens only (no padding), with Q, K and V in
    /// one buffer, bias and residual folded into the GEMMs, fused softmax, GELU and layer norm,
    /// and buffers reused from layer to layer and batch to batch.
    pub fn encode<T: Float>(
        &self,
        params: &Params<T>,
        batches: &[BertBatch],
        normalize: bool,
    ) -> Vec<Tensor<T>> {
        let mut ws = fast::Workspace::new();
        batches
            .iter()
            .map(|b| fast::encode_batch(self, (params, None), b, normalize, &mut ws))
            .collect()
    }

    /// [`Bert::encode`] with the linear weights in panels ([`Bert::pack`] of these `params`):
    /// the same function, its products of few token rows summed in another order (within
    /// float rounding of [`Bert::encode`]). Refuses `packed` when it was not made from
    /// `params` as they are now.
    pub fn encode_packed(
        &self,
        params: &Params<f32>,
        packed: &PackedWeights,
        batches: &[BertBatch],
        normalize: bool,
    ) -> Result<Vec<Tensor<f32>>> {
        packed.check(params)?;
        let mut ws = fast::Workspace::new();
        Ok(batches
            .iter()
            .map(|b| fast::encode_batch(self, (params, Some(packed)), b, normalize, &mut ws))
            .collect())
    }

    /// The hidden states after the embeddings and the first `layers` encoder layers
    /// (`[batch, seq, hidden]`, zeros at padded positions), computed on the inference path with
    /// nothing recorded: the frozen part of a model whose last layers are fine-tuned runs once
    /// here, and [`Bert::forward_from_layer`] continues from it on the tape.
    pub fn hidden_states<T: Float>(
        &self,
        params: &Params<T>,
        batch: &BertBatch,
        layers: usize,
    ) -> Tensor<T> {
        let mut ws = fast::Workspace::new();
        let layers = layers.min(self.layers.len());
        fast::hidden_states(self, (params, None), batch, layers, &mut ws)
    }

    /// The last hidden states `[batch, seq, hidden]` from the states `h` after the first
    /// `layers` layers (as [`Bert::hidden_states`] returns them): the remaining layers on the
    /// tape.
    pub fn forward_from_layer<T: Float>(
        &self,
        p: &[Var<T>],
        h: Var<T>,
        batch: &BertBatch,
        layers: usize,
    ) -> Var<T> {
        let mask = batch.additive_mask::<T>();
        self.layers
            .iter()
            .skip(layers)
            .fold(h, |h, layer| layer.forward(p, h, mask))
    }

    /// Indices of the parameters of the last `n` encoder layers (to fine-tune only those).
    pub fn last_layers_params(&self, n: usize) -> Vec<usize> {
        let k = self.layers.len().saturating_sub(n);
        self.layers[k..]
            .iter()
            .flat_map(BertLayer::param_indices)
            .collect()
    }
}

/// `N(0, 0.02²)` values of `shape`.
fn normal_002<T: Float>(shape: &[usize], rng: &mut Rng) -> Tensor<T> {
    use ndarray_rand::rand_distr::Normal;
    use ndarray_rand::RandomExt;
    match Normal::new(0.0, 0.02) {
        Ok(n) => ndarray::ArrayD::<f64>::random_using(ndarray::IxDyn(shape), n, rng).mapv(T::of),
        Err(_) => Tensor::zeros(shape),
    }
}

/// What a parameter is, for initialisers and loaders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParamKind {
    /// A linear layer's weight, `[in, out]` here (`[out, in]` in PyTorch files).
    Weight,
    /// A linear layer's bias.
    Bias,
    /// An embedding table `[rows, hidden]`.
    Embedding,
    /// A layer norm's γ.
    NormScale,
    /// A layer norm's β.
    NormShift,
}

/// Adds one parameter, shaped and named, with its value from `init`.
pub(crate) fn add_param<T: Float>(
    params: &mut Params<T>,
    name: String,
    shape: &[usize],
    kind: ParamKind,
    init: &mut dyn FnMut(&str, &[usize], ParamKind) -> Result<Tensor<T>>,
) -> Result<usize> {
    let value = init(&name, shape, kind)?;
    Ok(params.insert(name, value))
}

/// Adds a linear layer `name.weight` `[in, out]` and `name.bias` `[out]`.
pub(crate) fn add_linear<T: Float>(
    params: &mut Params<T>,
    name: &str,
    in_dim: usize,
    out_dim: usize,
    init: &mut dyn FnMut(&str, &[usize], ParamKind) -> Result<Tensor<T>>,
) -> Result<crate::Linear> {
    let weight = add_param(
        params,
        format!("{name}.weight"),
        &[in_dim, out_dim],
        ParamKind::Weight,
        init,
    )?;
    let bias = add_param(
        params,
        format!("{name}.bias"),
        &[out_dim],
        ParamKind::Bias,
        init,
    )?;
    Ok(crate::Linear {
        weight,
        bias: Some(bias),
        in_dim,
        out_dim,
    })
}

/// Adds a layer norm `name.weight` (γ) and `name.bias` (β) over `dim` features.
pub(crate) fn add_layer_norm<T: Float>(
    params: &mut Params<T>,
    name: &str,
    dim: usize,
    eps: f64,
    init: &mut dyn FnMut(&str, &[usize], ParamKind) -> Result<Tensor<T>>,
) -> Result<LayerNorm> {
    let gamma = add_param(
        params,
        format!("{name}.weight"),
        &[dim],
        ParamKind::NormScale,
        init,
    )?;
    let beta = add_param(
        params,
        format!("{name}.bias"),
        &[dim],
        ParamKind::NormShift,
        init,
    )?;
    Ok(LayerNorm { gamma, beta, eps })
}
