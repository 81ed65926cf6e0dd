//! Hyperparameters shared by Matching, Prototypical and Relation Networks, validated, with the
//! papers' defaults per algorithm.

use autodidact_core::config::{check_one_of, check_positive, check_range};
use autodidact_core::{Config, CoreError, Hyperparams, ParamDoc};
use serde::{Deserialize, Serialize};

/// Hyperparameters of `matching-net`, `proto-net` and `relation-net`.
///
/// Defaults follow the papers where they apply (Adam 1e-3, learning rate halved every 2,000
/// episodes as Snell et al., Conv4 with 64 filters); `train_ways`, `train_shots` and
/// `train_queries` of 0 take the environment's own episode shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricParams {
    /// Training length in episodes (one episode per step).
    pub meta_iterations: u64,
    /// Adam learning rate.
    pub lr: f64,
    /// Multiply the learning rate by this every `lr_decay_every` episodes.
    pub lr_decay: f64,
    /// Episodes between learning-rate decays (0: never).
    pub lr_decay_every: u64,
    /// Decoupled (AdamW) weight decay.
    pub weight_decay: f64,
    /// Classes per training episode (0: the environment's `ways`).
    pub train_ways: usize,
    /// Support examples per class in training episodes (0: the environment's `shots`).
    pub train_shots: usize,
    /// Query examples per class in training episodes (0: the environment's `queries`).
    pub train_queries: usize,
    /// Embedding network: "auto" (conv4 for images, mlp otherwise), "mlp", "conv4" or
    /// "diagonal" (a learned per-feature scale of the raw input).
    pub backbone: String,
    /// Hidden widths of the MLP embedding.
    pub hidden: Vec<usize>,
    /// Output width of the MLP embedding.
    pub embedding_dim: usize,
    /// MLP embedding: concatenate the raw input scaled by this to the MLP's output (0: off).
    pub raw_skip: f64,
    /// Filters per Conv4 block.
    pub filters: usize,
    /// Run each Conv4 block as one fused op (fast; exact) instead of core's composed ops.
    pub fused_conv: bool,
    /// Prototypical Networks: "euclidean" (squared distance) or "cosine".
    pub distance: String,
    /// Multiplier of the logits (cosine similarities or negative distances).
    pub logit_scale: f64,
    /// Matching Networks: full-context embeddings (bidirectional LSTM, attention LSTM).
    pub fce: bool,
    /// Matching Networks: processing steps of the attention LSTM.
    pub fce_steps: usize,
    /// Relation Networks: hidden width of the relation module.
    pub relation_hidden: usize,
    /// Relation Networks: a class embedding is the "sum" of its support embeddings (Sung et
    /// al.) or their "mean" (the same input scale at every shot count).
    pub relation_pooling: String,
    /// Relation Networks: the relation module's initialisation, "kaiming" (Sung et al.) or
    /// "difference" (hidden width 2·D, the first layer computing |a − b| per feature and the
    /// output layer a weighted L1 distance, so the untrained module already ranks classes),
    /// or "difference-calibrated" (the same, its output layer then scaled on the first
    /// training episode so the scores span (0, 1); see `RelationModule::calibrate`).
    pub relation_init: String,
    /// Relation Networks: the pair fed to the relation module, "concat" ([a, b], Sung et al.)
    /// or "concat-sqdiff" ([a, b, (a − b)²], the squared differences appended).
    pub relation_input: String,
    /// Relation Networks: multiplier of `lr` for the relation module's parameters (Adam
    /// parameter groups); below 1 the module moves slower than the embedding, so a
    /// "difference" start is reshaped gradually instead of being swamped by the first steps.
    pub relation_lr_scale: f64,
    /// Global gradient-norm clip (0: off).
    pub grad_clip: f64,
    /// Test episodes in the final evaluation.
    pub eval_episodes: usize,
    /// Validation episodes at each validation.
    pub val_episodes: usize,
    /// Validate every this many episodes (0: never).
    pub val_every: u64,
    /// Keep the parameters of the best validation accuracy and restore them at the end.
    pub early_stopping: bool,
    /// Log the training loss every this many episodes.
    pub log_every: u64,
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
            backbone: "auto".into(),
            hidden: vec![256],
            embedding_dim: 64,
            raw_skip: 0.0,
            filters: 64,
            fused_conv: true,
            distance: "euclidean".into(),
            logit_scale: 1.0,
            fce: false,
            fce_steps: 5,
            relation_hidden: 8,
            relation_pooling: "sum".into(),
            relation_init: "kaiming".into(),
            relation_input: "concat".into(),
            relation_lr_scale: 1.0,
            grad_clip: 0.0,
            eval_episodes: 1000,
            val_episodes: 200,
            val_every: 500,
            early_stopping: true,
            log_every: 100,
        }
    }
}

fn doc(key: &'static str, ty: &'static str, range: &'static str, doc: &'static str) -> ParamDoc {
    ParamDoc {
        key,
        ty,
        range,
        doc,
    }
}

impl Hyperparams for MetricParams {
    fn docs() -> Vec<ParamDoc> {
        vec![
            doc(
                "meta_iterations",
                "integer",
                ">= 1",
                "training length in episodes",
            ),
            doc("lr", "float", "> 0", "Adam learning rate"),
            doc(
                "lr_decay",
                "float",
                "0 < x <= 1",
                "learning-rate factor every lr_decay_every episodes",
            ),
            doc(
                "lr_decay_every",
                "integer",
                ">= 0",
                "episodes between learning-rate decays (0: never)",
            ),
            doc(
                "weight_decay",
                "float",
                ">= 0",
                "decoupled (AdamW) weight decay",
            ),
            doc(
                "train_ways",
                "integer",
                ">= 0",
                "classes per training episode (0: the environment's ways)",
            ),
            doc(
                "train_shots",
                "integer",
                ">= 0",
                "support examples per class in training (0: the environment's shots)",
            ),
            doc(
                "train_queries",
                "integer",
                ">= 0",
                "query examples per class in training (0: the environment's queries)",
            ),
            doc(
                "backbone",
                "string",
                "one of: auto, mlp, conv4, diagonal",
                "embedding; auto: conv4 for images, else mlp; diagonal: learned per-feature scale",
            ),
            doc(
                "hidden",
                "list of integers",
                "each >= 1",
                "hidden widths of the MLP embedding",
            ),
            doc(
                "embedding_dim",
                "integer",
                ">= 1",
                "output width of the MLP embedding",
            ),
            doc(
                "raw_skip",
                "float",
                ">= 0",
                "MLP embedding: [raw_skip * x, mlp(x)] (0: the MLP alone)",
            ),
            doc("filters", "integer", ">= 1", "filters per Conv4 block"),
            doc(
                "fused_conv",
                "bool",
                "true or false",
                "run Conv4 blocks as fused ops (same maths, faster)",
            ),
            doc(
                "distance",
                "string",
                "one of: euclidean, cosine",
                "proto-net: squared Euclidean distance or cosine similarity",
            ),
            doc(
                "logit_scale",
                "float",
                "> 0",
                "multiplier of the logits (similarities or negative distances)",
            ),
            doc(
                "fce",
                "bool",
                "true or false",
                "matching-net: full-context embeddings (BiLSTM + attention LSTM)",
            ),
            doc(
                "fce_steps",
                "integer",
                ">= 1",
                "matching-net: processing steps of the attention LSTM",
            ),
            doc(
                "relation_hidden",
                "integer",
                ">= 1",
                "relation-net: hidden width of the relation module",
            ),
            doc(
                "relation_pooling",
                "string",
                "sum | mean",
                "relation-net: class embedding as the sum (Sung et al.) or mean of its support embeddings",
            ),
            doc(
                "relation_init",
                "string",
                "kaiming | difference | difference-calibrated",
                "relation-net: relation module initialisation; difference starts as a distance (L1 on concat, hidden 2·D; squared L2 on concat-sqdiff, hidden D; relation_hidden unused); difference-calibrated also scales the output layer on the first training episode so the scores span (0, 1)",
            ),
            doc(
                "relation_input",
                "string",
                "concat | concat-sqdiff",
                "relation-net: the relation module's input, [a, b] (Sung et al.) or [a, b, (a - b)^2]",
            ),
            doc(
                "relation_lr_scale",
                "float",
                "> 0",
                "relation-net: multiplier of lr for the relation module (a slower module keeps a difference start)",
            ),
            doc(
                "grad_clip",
                "float",
                ">= 0",
                "global gradient-norm clip (0: off)",
            ),
            doc(
                "eval_episodes",
                "integer",
                ">= 1",
                "test episodes in the final evaluation",
            ),
            doc(
                "val_episodes",
                "integer",
                ">= 1",
                "validation episodes per validation",
            ),
            doc(
                "val_every",
                "integer",
                ">= 0",
                "validate every N episodes (0: never)",
            ),
            doc(
                "early_stopping",
                "bool",
                "true or false",
                "restore the best-validation parameters at the end",
            ),
            doc(
                "log_every",
                "integer",
                ">= 1",
                "log the training loss every N episodes",
            ),
        ]
    }

    fn validate(&self) -> autodidact_core::Result<()> {
        let at_least_one = |key: &str, v: u64| {
            if v >= 1 {
                Ok(())
            } else {
                Err(CoreError::Config {
                    key: key.into(),
                    reason: format!("{v} must be >= 1"),
                })
            }
        };
        at_least_one("meta_iterations", self.meta_iterations)?;
        at_least_one("embedding_dim", self.embedding_dim as u64)?;
        at_least_one("filters", self.filters as u64)?;
        at_least_one("fce_steps", self.fce_steps as u64)?;
        at_least_one("relation_hidden", self.relation_hidden as u64)?;
        at_least_one("eval_episodes", self.eval_episodes as u64)?;
        at_least_one("val_episodes", self.val_episodes as u64)?;
        at_least_one("log_every", self.log_every)?;
        check_positive("lr", self.lr)?;
        check_positive("logit_scale", self.logit_scale)?;
        check_positive("relation_lr_scale", self.relation_lr_scale)?;
        check_range("lr_decay", self.lr_decay, f64::MIN_POSITIVE, 1.0)?;
        check_range("weight_decay", self.weight_decay, 0.0, f64::MAX)?;
        check_range("raw_skip", self.raw_skip, 0.0, f64::MAX)?;
        check_range("grad_clip", self.grad_clip, 0.0, f64::MAX)?;
        check_one_of(
            "backbone",
            &self.backbone,
            &["auto", "mlp", "conv4", "diagonal"],
        )?;
        check_one_of("distance", &self.distance, &["euclidean", "cosine"])?;
        check_one_of("relation_pooling", &self.relation_pooling, &["sum", "mean"])?;
        check_one_of(
            "relation_init",
            &self.relation_init,
            &["kaiming", "difference", "difference-calibrated"],
        )?;
        check_one_of(
            "relation_input",
            &self.relation_input,
            &["concat", "concat-sqdiff"],
        )?;
        if self.hidden.contains(&0) {
            return Err(CoreError::Config {
                key: "hidden".into(),
                reason: "widths must be >= 1".into(),
            });
        }
        Ok(())
    }
}

/// Defaults per algorithm (merged under the user's configuration).
pub fn defaults_for(algorithm: &str) -> MetricParams {
    let base = MetricParams::default();
    match algorithm {
        // Vinyals et al. attend with cosine similarity.
        "matching-net" => MetricParams {
            distance: "cosine".into(),
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

/// Reads a configuration over the algorithm's defaults and validates it.
pub fn resolve(algorithm: &str, config: &Config) -> autodidact_core::Result<MetricParams> {
    let mut merged = default_config_for(algorithm);
    for (k, v) in config {
        merged.insert(k.clone(), v.clone());
    }
    MetricParams::from_config(&merged)
}
