//! Hyperparameters shared by Matching, Prototypical and Relation Networks, validated, with the
//! papers' defaults per algorithm.

use autodidact_core::config::Checked;
use autodidact_core::layers::BackboneKind;
use autodidact_core::{Choice, Config, Hyperparams};

use crate::proto::Distance;
use serde::{Deserialize, Serialize};

/// How a class embedding pools its support embeddings (Relation Networks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    /// The sum (Sung et al.).
    Sum,
    /// The mean (the same input scale at every shot count).
    Mean,
}

/// How the relation module starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum RelationInit {
    /// Kaiming-uniform layers (Sung et al.).
    Kaiming,
    /// Hidden width 2·D, the first layer computing |a − b| per feature and the output a
    /// weighted L1 distance, so the untrained module already ranks classes.
    Difference,
    /// As `difference`, its output layer then scaled on the first training episode so the
    /// scores span (0, 1).
    DifferenceCalibrated,
}

/// The pair fed to the relation module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum RelationInput {
    /// `[a, b]` (Sung et al.).
    Concat,
    /// `[a, b, (a − b)²]`, the squared differences appended.
    ConcatSqdiff,
}

/// Hyperparameters of `matching-net`, `proto-net` and `relation-net`.
///
/// Defaults follow the papers where they apply (Adam 1e-3, learning rate halved every 2,000
/// episodes as Snell et al., Conv4 with 64 filters); `train_ways`, `train_shots` and
/// `train_queries` of 0 take the environment's own episode shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct MetricParams {
    /// Training length in episodes (one episode per step).
    #[param(min = 1, max = 1e9)]
    pub meta_iterations: u64,
    /// Adam learning rate.
    #[param(gt = 0, max = 10)]
    pub lr: f64,
    /// Multiply the learning rate by this every `lr_decay_every` episodes.
    #[param(gt = 0, max = 1)]
    pub lr_decay: f64,
    /// Episodes between learning-rate decays (0: never).
    pub lr_decay_every: u64,
    /// Decoupled (AdamW) weight decay.
    #[param(min = 0)]
    pub weight_decay: f64,
    /// Classes per training episode (0: the environment's `ways`).
    #[param(max = 100_000)]
    pub train_ways: usize,
    /// Support examples per class in training episodes (0: the environment's `shots`).
    #[param(max = 100_000)]
    pub train_shots: usize,
    /// Query examples per class in training episodes (0: the environment's `queries`).
    #[param(max = 100_000)]
    pub train_queries: usize,
    /// Embedding network; auto picks conv4 for images, mlp otherwise; diagonal is a learned
    /// per-feature scale of the raw input.
    pub backbone: BackboneKind,
    /// Hidden widths of the MLP embedding.
    #[param(min = 1, max = 65_536, max_len = 64)]
    pub hidden: Vec<usize>,
    /// Output width of the MLP embedding.
    #[param(min = 1, max = 65_536)]
    pub embedding_dim: usize,
    /// MLP embedding: concatenate the raw input scaled by this to the MLP's output (0: off).
    #[param(min = 0)]
    pub raw_skip: f64,
    /// Filters per Conv4 block.
    #[param(min = 1, max = 4_096)]
    pub filters: usize,
    /// Run each Conv4 block as one fused op (fast; exact) instead of core's composed ops.
    pub fused_conv: bool,
    /// Prototypical and Matching Networks: the distance between embeddings.
    pub distance: Distance,
    /// Multiplier of the logits (cosine similarities or negative distances).
    #[param(gt = 0)]
    pub logit_scale: f64,
    /// Matching Networks: full-context embeddings (bidirectional LSTM, attention LSTM).
    pub fce: bool,
    /// Matching Networks: processing steps of the attention LSTM.
    #[param(min = 1, max = 1_000)]
    pub fce_steps: usize,
    /// Relation Networks: hidden width of the relation module.
    #[param(min = 1, max = 65_536)]
    pub relation_hidden: usize,
    /// Relation Networks: how a class embedding pools its support embeddings.
    pub relation_pooling: Pooling,
    /// Relation Networks: the relation module's initialisation.
    pub relation_init: RelationInit,
    /// Relation Networks: the pair fed to the relation module.
    pub relation_input: RelationInput,
    /// Relation Networks: multiplier of `lr` for the relation module's parameters (below 1 the
    /// module moves slower than the embedding).
    #[param(gt = 0)]
    pub relation_lr_scale: f64,
    /// Global gradient-norm clip (0: off).
    #[param(min = 0)]
    pub grad_clip: f64,
    /// Test episodes in the final evaluation.
    #[param(min = 1, max = 10_000_000)]
    pub eval_episodes: usize,
    /// Validation episodes at each validation.
    #[param(min = 1, max = 10_000_000)]
    pub val_episodes: usize,
    /// Validate every this many episodes (0: never).
    pub val_every: u64,
    /// Keep the parameters of the best validation accuracy and restore them at the end.
    pub early_stopping: bool,
    /// Log the training loss every this many episodes.
    #[param(min = 1)]
    pub log_every: u64,
    /// Worker threads (0: every core) for the training episode's large products and the
    /// evaluation episodes; results do not depend on it.
    #[param(min = 0, max = 256)]
    pub threads: usize,
}

impl Default for MetricParams {
    fn default() -> Self {
        MetricParams {
            meta_iterations: 10_000,
            lr: 1e-3,
            lr_decay: 0.5,
            lr_decay_every: 2000,
            weight_decay: 0.0,
            train_ways: 0,
            train_shots: 0,
            train_queries: 0,
            backbone: BackboneKind::Auto,
            hidden: vec![256],
            embedding_dim: 64,
            raw_skip: 0.0,
            filters: 64,
            fused_conv: true,
            distance: Distance::Euclidean,
            logit_scale: 1.0,
            fce: false,
            fce_steps: 5,
            relation_hidden: 8,
            relation_pooling: Pooling::Sum,
            relation_init: RelationInit::Kaiming,
            relation_input: RelationInput::Concat,
            relation_lr_scale: 1.0,
            grad_clip: 0.0,
            eval_episodes: 1000,
            val_episodes: 200,
            val_every: 500,
            early_stopping: true,
            log_every: 100,
            threads: 0,
        }
    }
}

/// Defaults per algorithm (merged under the user's configuration).
pub fn defaults_for(algorithm: &str) -> MetricParams {
    let base = MetricParams::default();
    match algorithm {
        // Vinyals et al. attend with cosine similarity.
        "matching-net" => MetricParams {
            distance: Distance::Cosine,
            ..base
        },
        // Sung et al.: MSE on sigmoid relation scores; the relation module's hidden layer.
        "relation-net" => MetricParams {
            relation_hidden: 64,
            ..base
        },
        _ => base,
    }
}

/// `defaults_for(algorithm)` as a configuration.
pub fn default_config_for(algorithm: &str) -> Config {
    defaults_for(algorithm).to_config()
}

/// Reads a configuration over the algorithm's defaults and checks it.
pub fn resolve(algorithm: &str, config: &Config) -> autodidact_core::Result<Checked<MetricParams>> {
    defaults_for(algorithm).with_config(config)
}
