//! Hyperparameters of `meta-net`, validated, with Munkhdalai & Yu's settings where they apply.

use autodidact_core::config::Checked;
use autodidact_core::layers::BackboneKind;
use autodidact_core::{Config, Hyperparams};
use serde::{Deserialize, Serialize};

/// Hyperparameters of `meta-net`.
///
/// Munkhdalai & Yu (2017) and their code: Adam at 1e-3, gradients clipped at 10, fast-weight
/// generators of 20 units on log-and-sign preprocessed gradients (p = 7), the task-level
/// generator an LSTM over the representation loss's gradients. Here the backbones' layers are
/// slow only and the fast weights augment the fully connected layers above them (see
/// `docs/model-based.md`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct MetaNetParams {
    /// Training length in updates (one batch of episodes per step).
    #[param(min = 1, max = 1e9)]
    pub meta_iterations: u64,
    /// Episodes per update.
    #[param(min = 1, max = 4_096)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[param(gt = 0, max = 10)]
    pub lr: f64,
    /// Global gradient-norm clip (0: off).
    #[param(min = 0)]
    pub grad_clip: f64,
    /// Differentiate through the support gradients fed to the generators (off: they are inputs;
    /// on by default: 94.0 % against 93.6 % on Omniglot-small 5-way 1-shot, docs/model-based.md).
    pub second_order: bool,
    /// Units of the base learner's fast-weighted hidden layer.
    #[param(min = 1, max = 65_536)]
    pub base_hidden: usize,
    /// Width of the dynamic representation (the memory's keys).
    #[param(min = 1, max = 65_536)]
    pub key_dim: usize,
    /// Hidden units of both fast-weight generators (coordinate-wise MLP and LSTM).
    #[param(min = 1, max = 4_096)]
    pub generator_hidden: usize,
    /// Support chunks whose representation-loss gradients the task-level LSTM reads in turn.
    #[param(min = 1, max = 1_000)]
    pub rep_chunks: usize,
    /// p of the log-and-sign gradient preprocessing (magnitudes below e^−p are kept linear).
    #[param(gt = 0, max = 30)]
    pub grad_preprocess_p: f64,
    /// Feature extractor below the fast-weighted layers; auto picks conv4 for images, mlp otherwise
    /// (diagonal: a learned per-feature scale of the raw vector).
    pub backbone: BackboneKind,
    /// Hidden widths of the MLP backbone (empty: one linear layer).
    #[param(min = 1, max = 65_536, max_len = 64)]
    pub hidden: Vec<usize>,
    /// Output width of the MLP backbone.
    #[param(min = 1, max = 65_536)]
    pub embedding_dim: usize,
    /// Filters per Conv4 block.
    #[param(min = 1, max = 4_096)]
    pub filters: usize,
    /// Test episodes in the final evaluation.
    #[param(min = 1, max = 10_000_000)]
    pub eval_episodes: usize,
    /// Validation episodes at each validation.
    #[param(min = 1, max = 10_000_000)]
    pub val_episodes: usize,
    /// Validate every this many updates (0: never).
    pub val_every: u64,
    /// Keep the parameters of the best validation accuracy and restore them at the end.
    pub early_stopping: bool,
    /// Log the training loss every this many updates.
    #[param(min = 1)]
    pub log_every: u64,
    /// Worker threads (0: every core) for the training episode's large products and the
    /// evaluation episodes; results do not depend on it.
    #[param(min = 0, max = 256)]
    pub threads: usize,
}

impl Default for MetaNetParams {
    fn default() -> Self {
        MetaNetParams {
            meta_iterations: 10_000,
            batch_size: 1,
            lr: 1e-3,
            grad_clip: 10.0,
            second_order: true,
            base_hidden: 64,
            key_dim: 64,
            generator_hidden: 20,
            rep_chunks: 5,
            grad_preprocess_p: 7.0,
            backbone: BackboneKind::Auto,
            hidden: vec![256],
            embedding_dim: 64,
            filters: 64,
            eval_episodes: 1000,
            val_episodes: 200,
            val_every: 500,
            early_stopping: true,
            log_every: 50,
            threads: 0,
        }
    }
}

/// Reads a configuration over `meta-net`'s defaults and checks it.
pub fn resolve_metanet(config: &Config) -> autodidact_core::Result<Checked<MetaNetParams>> {
    MetaNetParams::default().with_config(config)
}
