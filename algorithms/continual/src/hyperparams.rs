//! Hyperparameters shared by every continual strategy, validated, with per-strategy defaults.

use autodidact_core::config::Checked;
use autodidact_core::layers::{Activation, BackboneKind};
use autodidact_core::{Choice, Config, Hyperparams};

use crate::replay::Policy;
use serde::{Deserialize, Serialize};

/// The optimiser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// Adam (weight decay added to the gradient).
    Adam,
    /// SGD with optional momentum.
    Sgd,
}

/// Normalisation after each hidden linear layer of the MLP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum Norm {
    /// None.
    None,
    /// Layer normalisation.
    Layer,
}

/// The output heads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum Head {
    /// One per task on task-incremental streams, else one.
    Auto,
    /// One head over every class.
    Single,
    /// One head per task (task-incremental streams only).
    Multi,
}

/// How EWC keeps its penalties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum EwcMode {
    /// One Fisher and anchor per experience (Kirkpatrick et al.).
    Separate,
    /// One running Fisher, decayed by `ewc_decay` (Schwarz et al.).
    Online,
}

/// Hyperparameters of Naive, EWC, SI, LwF, Replay, A-GEM, Joint and MER (keys a strategy does not
/// use are accepted and ignored, so one configuration can sweep every strategy).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
#[hyperparams(check = ContinualParams::relations)]
pub struct ContinualParams {
    /// Training length: epochs over each experience (one training step per epoch).
    #[param(min = 1, max = 1_000_000)]
    pub epochs: usize,
    /// Minibatch size (current-experience examples per step).
    #[param(min = 1, max = 1_000_000)]
    pub batch_size: usize,
    /// The optimiser.
    pub optimizer: OptimizerKind,
    /// Learning rate.
    #[param(gt = 0, max = 10)]
    pub lr: f64,
    /// SGD momentum (0: none).
    #[param(min = 0, max = 0.999)]
    pub momentum: f64,
    /// L2 weight decay.
    #[param(min = 0)]
    pub weight_decay: f64,
    /// Start each experience with fresh optimiser state (Adam moments, momentum).
    pub reset_optimizer: bool,
    /// Global gradient-norm clip (0: off).
    #[param(min = 0)]
    pub grad_clip: f64,
    /// Network body; auto picks conv4 for [C, H, W] images, mlp otherwise.
    pub backbone: BackboneKind,
    /// Hidden widths of the MLP backbone.
    #[param(min = 1, max = 65_536, max_len = 64)]
    pub hidden: Vec<usize>,
    /// MLP hidden activation.
    pub activation: Activation,
    /// MLP normalisation after each hidden linear layer.
    pub norm: Norm,
    /// Filters per Conv4 block.
    #[param(min = 1, max = 4_096)]
    pub filters: usize,
    /// Output heads.
    pub head: Head,
    /// Class-incremental: logits of classes not seen yet take no part in the loss or the
    /// prediction.
    pub mask_unseen: bool,
    /// EWC: penalty strength λ (penalty λ/2 · Σ F (θ − θ*)²).
    #[param(min = 0)]
    pub ewc_lambda: f64,
    /// EWC: one Fisher and anchor per experience, or one decayed Fisher.
    pub ewc_mode: EwcMode,
    /// Online EWC: decay γ of the running Fisher.
    #[param(min = 0, max = 1)]
    pub ewc_decay: f64,
    /// EWC: examples of the experience used to estimate the diagonal Fisher (0: all).
    pub fisher_samples: usize,
    /// SI: penalty strength c (penalty c · Σ Ω (θ − θ*)²).
    #[param(min = 0)]
    pub si_lambda: f64,
    /// SI: damping ξ of the importance denominator.
    #[param(gt = 0)]
    pub si_epsilon: f64,
    /// LwF: weight α of the distillation term.
    #[param(min = 0)]
    pub lwf_alpha: f64,
    /// LwF: distillation temperature T.
    #[param(gt = 0)]
    pub lwf_temperature: f64,
    /// Replay / A-GEM: memory size in examples.
    #[param(min = 1, max = 100_000_000)]
    pub buffer_size: usize,
    /// Replay / A-GEM: what the memory keeps.
    pub buffer_policy: Policy,
    /// Replay: memory examples mixed into each minibatch (0: as many as `batch_size`).
    #[param(max = 1_000_000)]
    pub replay_batch: usize,
    /// Class-incremental: the current experience's examples are scored over its own classes
    /// only (the "labels trick" of Zeno et al. 2018; with replay, ER-ACE of Caccia et al.
    /// 2022); memory examples over every class seen.
    pub labels_trick: bool,
    /// A-GEM: memory examples in the reference gradient.
    #[param(min = 1, max = 1_000_000)]
    pub agem_sample: usize,
    /// MER: batches per incoming example, `s`.
    #[param(min = 1, max = 10_000)]
    pub mer_batches: usize,
    /// MER: examples per batch, `k` (the incoming one and `k − 1` from memory).
    #[param(min = 1, max = 100_000)]
    pub mer_batch_size: usize,
    /// MER: within-batch Reptile step β (the paper's β; 1: plain sequential SGD).
    #[param(gt = 0, max = 1)]
    pub mer_beta: f64,
    /// MER: across-batch Reptile step γ (the paper's γ).
    #[param(gt = 0, max = 1)]
    pub mer_gamma: f64,
    /// Examples per evaluation batch.
    #[param(min = 1, max = 1_000_000)]
    pub eval_batch: usize,
    /// Worker threads (0: every core) for the training batches' large products and the
    /// evaluation of each experience's test set; results do not depend on it.
    #[param(min = 0, max = 256)]
    pub threads: usize,
}

impl Default for ContinualParams {
    fn default() -> Self {
        ContinualParams {
            epochs: 5,
            batch_size: 32,
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            momentum: 0.0,
            weight_decay: 0.0,
            reset_optimizer: true,
            grad_clip: 0.0,
            backbone: BackboneKind::Auto,
            hidden: vec![256, 256],
            activation: Activation::Relu,
            norm: Norm::None,
            filters: 32,
            head: Head::Auto,
            mask_unseen: true,
            ewc_lambda: 300.0,
            ewc_mode: EwcMode::Separate,
            ewc_decay: 1.0,
            fisher_samples: 256,
            si_lambda: 10.0,
            si_epsilon: 0.1,
            lwf_alpha: 1.0,
            lwf_temperature: 2.0,
            buffer_size: 500,
            buffer_policy: Policy::ClassBalanced,
            replay_batch: 0,
            labels_trick: false,
            agem_sample: 256,
            mer_batches: 5,
            mer_batch_size: 10,
            mer_beta: 0.1,
            mer_gamma: 1.0,
            eval_batch: 512,
            threads: 0,
        }
    }
}

impl ContinualParams {
    /// The backbone must have hidden features for the heads (no diagonal scale).
    fn relations(&self) -> autodidact_core::Result<()> {
        if self.backbone == BackboneKind::Diagonal {
            return Err(autodidact_core::config::invalid(
                "backbone",
                "the continual strategies train auto, mlp or conv4, not diagonal",
            ));
        }
        Ok(())
    }

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
        "mer" => ContinualParams {
            buffer_size: 1000,
            buffer_policy: Policy::Reservoir,
            optimizer: OptimizerKind::Sgd,
            lr: 0.03,
            ..base
        },
        _ => base,
    }
}

/// `defaults_for(algorithm)` as a configuration.
pub fn default_config_for(algorithm: &str) -> Config {
    defaults_for(algorithm).to_config()
}

/// Reads a configuration over the strategy's defaults and checks it.
pub fn resolve(
    algorithm: &str,
    config: &Config,
) -> autodidact_core::Result<Checked<ContinualParams>> {
    defaults_for(algorithm).with_config(config)
}
