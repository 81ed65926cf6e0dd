//! Hyperparameters shared by every continual strategy, validated, with per-strategy defaults.

use autodidact_core::config::{check_one_of, check_positive, check_range};
use autodidact_core::{Config, CoreError, Hyperparams, ParamDoc};
use serde::{Deserialize, Serialize};

/// Hyperparameters of Naive, EWC, SI, LwF, Replay, A-GEM and Joint (keys a strategy does not
/// use are accepted and ignored, so one configuration can sweep every strategy).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContinualParams {
    /// Training length: epochs over each experience (one training step per epoch).
    pub epochs: usize,
    /// Minibatch size (current-experience examples per step).
    pub batch_size: usize,
    /// `adam` or `sgd`.
    pub optimizer: String,
    /// Learning rate.
    pub lr: f64,
    /// SGD momentum (0: none).
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Start each experience with fresh optimiser state (Adam moments, momentum).
    pub reset_optimizer: bool,
    /// Global gradient-norm clip (0: off).
    pub grad_clip: f64,
    /// Backbone: `auto` (conv4 for `[C, H, W]` images, mlp otherwise), `mlp` or `conv4`.
    pub backbone: String,
    /// Hidden widths of the MLP backbone.
    pub hidden: Vec<usize>,
    /// MLP hidden activation: relu, leaky-relu, tanh, elu.
    pub activation: String,
    /// MLP normalisation after each hidden linear layer: none or layer.
    pub norm: String,
    /// Filters per Conv4 block.
    pub filters: usize,
    /// Output heads: `auto` (one per task on task-incremental streams, else one), `single`,
    /// `multi`.
    pub head: String,
    /// Class-incremental: logits of classes not seen yet take no part in the loss or the
    /// prediction.
    pub mask_unseen: bool,
    /// EWC: penalty strength λ (penalty λ/2 · Σ F (θ − θ*)²).
    pub ewc_lambda: f64,
    /// EWC: `separate` (one Fisher and anchor per experience) or `online` (one decayed Fisher).
    pub ewc_mode: String,
    /// Online EWC: decay γ of the running Fisher.
    pub ewc_decay: f64,
    /// EWC: examples of the experience used to estimate the diagonal Fisher (0: all).
    pub fisher_samples: usize,
    /// SI: penalty strength c (penalty c · Σ Ω (θ − θ*)²).
    pub si_lambda: f64,
    /// SI: damping ξ of the importance denominator.
    pub si_epsilon: f64,
    /// LwF: weight α of the distillation term.
    pub lwf_alpha: f64,
    /// LwF: distillation temperature T.
    pub lwf_temperature: f64,
    /// Replay / A-GEM: memory size in examples.
    pub buffer_size: usize,
    /// Replay / A-GEM: `reservoir` or `class-balanced`.
    pub buffer_policy: String,
    /// Replay: memory examples mixed into each minibatch (0: as many as `batch_size`).
    pub replay_batch: usize,
    /// Class-incremental: the current experience's examples are scored over its own classes
    /// only (the "labels trick" of Zeno et al. 2018; with replay, ER-ACE of Caccia et al.
    /// 2022); memory examples over every class seen.
    pub labels_trick: bool,
    /// A-GEM: memory examples in the reference gradient.
    pub agem_sample: usize,
    /// Examples per evaluation batch.
    pub eval_batch: usize,
}

impl Default for ContinualParams {
    fn default() -> Self {
        ContinualParams {
            epochs: 5,
            batch_size: 32,
            optimizer: "adam".into(),
            lr: 1e-3,
            momentum: 0.0,
            weight_decay: 0.0,
            reset_optimizer: true,
            grad_clip: 0.0,
            backbone: "auto".into(),
            hidden: vec![256, 256],
            activation: "relu".into(),
            norm: "none".into(),
            filters: 32,
            head: "auto".into(),
            mask_unseen: true,
            ewc_lambda: 300.0,
            ewc_mode: "separate".into(),
            ewc_decay: 1.0,
            fisher_samples: 256,
            si_lambda: 10.0,
            si_epsilon: 0.1,
            lwf_alpha: 1.0,
            lwf_temperature: 2.0,
            buffer_size: 500,
            buffer_policy: "class-balanced".into(),
            replay_batch: 0,
            labels_trick: false,
            agem_sample: 256,
            eval_batch: 512,
        }
    }
}

const ACTIVATIONS: &[&str] = &["relu", "leaky-relu", "tanh", "elu"];

impl Hyperparams for ContinualParams {
    fn docs() -> Vec<ParamDoc> {
        let d = |key, ty, range, doc| ParamDoc {
            key,
            ty,
            range,
            doc,
        };
        vec![
            d(
                "epochs",
                "integer",
                ">= 1",
                "epochs per experience (training length: epochs × experiences steps)",
            ),
            d(
                "batch_size",
                "integer",
                ">= 1",
                "current-experience examples per minibatch",
            ),
            d("optimizer", "string", "one of: adam, sgd", "optimiser"),
            d("lr", "float", "> 0", "learning rate"),
            d("momentum", "float", "0 ..= 0.999", "SGD momentum"),
            d("weight_decay", "float", ">= 0", "L2 weight decay"),
            d(
                "reset_optimizer",
                "bool",
                "true or false",
                "fresh optimiser state at each experience",
            ),
            d(
                "grad_clip",
                "float",
                ">= 0",
                "global gradient-norm clip (0: off)",
            ),
            d(
                "backbone",
                "string",
                "one of: auto, mlp, conv4",
                "network body; auto picks conv4 for images",
            ),
            d(
                "hidden",
                "list of integers",
                "each >= 1",
                "hidden widths of the MLP backbone",
            ),
            d(
                "activation",
                "string",
                "one of: relu, leaky-relu, tanh, elu",
                "MLP hidden activation",
            ),
            d(
                "norm",
                "string",
                "one of: none, layer",
                "MLP normalisation after each hidden layer",
            ),
            d("filters", "integer", ">= 1", "filters per Conv4 block"),
            d(
                "head",
                "string",
                "one of: auto, single, multi",
                "one head, or one per task (task-incremental only)",
            ),
            d(
                "mask_unseen",
                "bool",
                "true or false",
                "class-incremental: classes not seen yet take no part in loss or prediction",
            ),
            d("ewc_lambda", "float", ">= 0", "EWC penalty strength λ"),
            d(
                "ewc_mode",
                "string",
                "one of: separate, online",
                "one Fisher per experience, or one decayed running Fisher",
            ),
            d(
                "ewc_decay",
                "float",
                "0 ..= 1",
                "online EWC: decay γ of the running Fisher",
            ),
            d(
                "fisher_samples",
                "integer",
                ">= 0",
                "examples per Fisher estimate (0: all)",
            ),
            d("si_lambda", "float", ">= 0", "SI penalty strength c"),
            d("si_epsilon", "float", "> 0", "SI damping ξ"),
            d("lwf_alpha", "float", ">= 0", "LwF distillation weight α"),
            d(
                "lwf_temperature",
                "float",
                "> 0",
                "LwF distillation temperature T",
            ),
            d(
                "buffer_size",
                "integer",
                ">= 1",
                "Replay / A-GEM memory size in examples",
            ),
            d(
                "buffer_policy",
                "string",
                "one of: reservoir, class-balanced",
                "memory policy",
            ),
            d(
                "replay_batch",
                "integer",
                ">= 0",
                "memory examples per minibatch (0: batch_size)",
            ),
            d(
                "labels_trick",
                "bool",
                "true or false",
                "class-incremental: current examples scored over their experience's classes only",
            ),
            d(
                "agem_sample",
                "integer",
                ">= 1",
                "A-GEM: memory examples in the reference gradient",
            ),
            d(
                "eval_batch",
                "integer",
                ">= 1",
                "examples per evaluation batch",
            ),
        ]
    }

    fn validate(&self) -> autodidact_core::Result<()> {
        let at_least_one = |key: &str, v: usize| {
            if v >= 1 {
                Ok(())
            } else {
                Err(CoreError::Config {
                    key: key.into(),
                    reason: format!("{v} must be >= 1"),
                })
            }
        };
        at_least_one("epochs", self.epochs)?;
        at_least_one("batch_size", self.batch_size)?;
        at_least_one("filters", self.filters)?;
        at_least_one("buffer_size", self.buffer_size)?;
        at_least_one("agem_sample", self.agem_sample)?;
        at_least_one("eval_batch", self.eval_batch)?;
        check_one_of("optimizer", &self.optimizer, &["adam", "sgd"])?;
        check_positive("lr", self.lr)?;
        check_range("momentum", self.momentum, 0.0, 0.999)?;
        check_range("weight_decay", self.weight_decay, 0.0, f64::MAX)?;
        check_range("grad_clip", self.grad_clip, 0.0, f64::MAX)?;
        check_one_of("backbone", &self.backbone, &["auto", "mlp", "conv4"])?;
        check_one_of("activation", &self.activation, ACTIVATIONS)?;
        check_one_of("norm", &self.norm, &["none", "layer"])?;
        check_one_of("head", &self.head, &["auto", "single", "multi"])?;
        if self.hidden.contains(&0) {
            return Err(CoreError::Config {
                key: "hidden".into(),
                reason: "widths must be >= 1".into(),
            });
        }
        check_range("ewc_lambda", self.ewc_lambda, 0.0, f64::MAX)?;
        check_one_of("ewc_mode", &self.ewc_mode, &["separate", "online"])?;
        check_range("ewc_decay", self.ewc_decay, 0.0, 1.0)?;
        check_range("si_lambda", self.si_lambda, 0.0, f64::MAX)?;
        check_positive("si_epsilon", self.si_epsilon)?;
        check_range("lwf_alpha", self.lwf_alpha, 0.0, f64::MAX)?;
        check_positive("lwf_temperature", self.lwf_temperature)?;
        check_one_of(
            "buffer_policy",
            &self.buffer_policy,
            &["reservoir", "class-balanced"],
        )?;
        Ok(())
    }
}

impl ContinualParams {
    /// Memory examples per minibatch (`replay_batch`, or `batch_size` when 0).
    pub fn replay_batch_size(&self) -> usize {
        if self.replay_batch == 0 {
            self.batch_size
        } else {
            self.replay_batch
        }
    }
}

/// Defaults per strategy (merged under the user's configuration).
pub fn defaults_for(algorithm: &str) -> ContinualParams {
    let base = ContinualParams::default();
    match algorithm {
        "replay" => ContinualParams {
            buffer_size: 1000,
            ..base
        },
        "agem" => ContinualParams {
            buffer_size: 1000,
            ..base
        },
        _ => base,
    }
}

/// `defaults_for(algorithm)` as a configuration.
pub fn default_config_for(algorithm: &str) -> Config {
    defaults_for(algorithm).to_config()
}

/// Reads a configuration over the strategy's defaults and validates it.
pub fn resolve(algorithm: &str, config: &Config) -> autodidact_core::Result<ContinualParams> {
    let mut merged = default_config_for(algorithm);
    for (k, v) in config {
        merged.insert(k.clone(), v.clone());
    }
    ContinualParams::from_config(&merged)
}
