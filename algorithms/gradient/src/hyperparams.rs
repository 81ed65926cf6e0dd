//! Hyperparameters shared by the gradient-based meta-learners, validated, with the papers'
//! defaults per algorithm.

use autodidact_core::config::Checked;
use autodidact_core::layers::{Activation, BackboneKind, BackboneSpec, Init};
use autodidact_core::{Config, Hyperparams};
use serde::{Deserialize, Serialize};

/// Hyperparameters of MAML, first-order MAML, Reptile, Meta-SGD and ANIL.
///
/// The defaults are Finn et al.'s sinusoid setup (1-40-40-1 ReLU, K = 10, one inner step at
/// 0.01, meta-batch 25, Adam 1e-3); each algorithm's registry entry adjusts what its paper
/// changes (Reptile's step sizes, first-order for fomaml).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct MetaParams {
    /// Training length in meta-iterations.
    #[param(min = 1, max = 1e9)]
    pub meta_iterations: u64,
    /// Tasks per meta-iteration.
    #[param(min = 1, max = 10_000)]
    pub meta_batch: usize,
    /// Inner-loop learning rate α (Meta-SGD: the initial per-parameter rate).
    #[param(gt = 0, max = 1e3)]
    pub inner_lr: f64,
    /// Inner SGD steps during meta-training.
    #[param(min = 1, max = 1_000)]
    pub inner_steps: usize,
    /// Inner SGD steps at evaluation.
    #[param(min = 1, max = 10_000)]
    pub test_inner_steps: usize,
    /// Outer learning rate β (Adam); Reptile's meta step size ε.
    #[param(gt = 0, max = 1e3)]
    pub outer_lr: f64,
    /// Drop second-order terms (first-order MAML).
    pub first_order: bool,
    /// Reptile: anneal the meta step size linearly to 0.
    pub anneal: bool,
    /// Network body; auto picks conv4 for images, mlp otherwise.
    pub backbone: BackboneKind,
    /// Hidden widths of the MLP backbone.
    #[param(min = 1, max = 65_536, max_len = 64)]
    pub hidden: Vec<usize>,
    /// MLP hidden activation.
    pub activation: Activation,
    /// Initialiser of the MLP weights (torch-default: U(±1/√fan_in), as nn.Linear).
    pub init: Init,
    /// Filters per Conv4 block.
    #[param(min = 1, max = 4_096)]
    pub filters: usize,
    /// Global norm clip of the meta-gradient (0: off).
    #[param(min = 0)]
    pub grad_clip: f64,
    /// Held-out test tasks in the final evaluation.
    #[param(min = 1, max = 10_000_000)]
    pub eval_tasks: usize,
    /// Validation tasks per validation.
    #[param(min = 1, max = 10_000_000)]
    pub val_tasks: usize,
    /// Log the training loss every N meta-iterations.
    #[param(min = 1)]
    pub log_every: u64,
    /// Validate every N meta-iterations (0: never).
    #[param(min = 0)]
    pub val_every: u64,
    /// Worker threads (0: every core) for a meta-batch's tasks, the large products within
    /// them and an evaluation's tasks; results do not depend on it.
    #[param(min = 0, max = 256)]
    pub threads: usize,
}

impl Default for MetaParams {
    fn default() -> Self {
        MetaParams {
            meta_iterations: 10_000,
            meta_batch: 25,
            inner_lr: 0.01,
            inner_steps: 1,
            test_inner_steps: 10,
            outer_lr: 1e-3,
            first_order: false,
            anneal: false,
            backbone: BackboneKind::Auto,
            hidden: vec![40, 40],
            activation: Activation::Relu,
            init: Init::TorchDefault,
            filters: 64,
            grad_clip: 0.0,
            eval_tasks: 1000,
            val_tasks: 100,
            log_every: 100,
            val_every: 1000,
            threads: 0,
        }
    }
}

impl MetaParams {
    /// The backbone these parameters describe, with `outputs` units on the MLP's last layer
    /// (the head).
    pub fn backbone_spec(&self, outputs: usize) -> BackboneSpec {
        BackboneSpec {
            kind: self.backbone,
            hidden: self.hidden.clone(),
            activation: self.activation,
            init: self.init,
            filters: self.filters,
            out_dim: Some(outputs),
            layer_norm: false,
        }
    }
}

/// Defaults per algorithm, as their papers set them (merged under the user's configuration).
pub fn defaults_for(algorithm: &str) -> MetaParams {
    let base = MetaParams::default();
    match algorithm {
        "fomaml" => MetaParams {
            first_order: true,
            ..base
        },
        // Li et al. learn the step (size and direction) for the number of steps trained with;
        // more test steps than that overshoot, so the defaults match.
        "meta-sgd" => MetaParams {
            test_inner_steps: 1,
            ..base
        },
        // Nichol et al.: several inner SGD steps per task, a meta step size annealed linearly
        // to 0. (Their sinusoid runs start ε at 1 with one task per step; with a meta-batch,
        // 0.1 keeps the ReLU net stable at the sinusoid's gradient scale.)
        "reptile" => MetaParams {
            inner_steps: 5,
            meta_batch: 10,
            outer_lr: 0.1,
            anneal: true,
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
pub fn resolve(algorithm: &str, config: &Config) -> autodidact_core::Result<Checked<MetaParams>> {
    defaults_for(algorithm).with_config(config)
}
