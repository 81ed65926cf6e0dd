//! Hyperparameters shared by the gradient-based meta-learners, validated, with the papers'
//! defaults per algorithm.

use autodidact_core::config::{check_one_of, check_positive, check_range};
use autodidact_core::{Config, CoreError, Hyperparams, ParamDoc};
use serde::{Deserialize, Serialize};

/// Hyperparameters of MAML, first-order MAML, Reptile, Meta-SGD and ANIL.
///
/// The defaults are Finn et al.'s sinusoid setup (1-40-40-1 ReLU, K = 10, one inner step at
/// 0.01, meta-batch 25, Adam 1e-3); each algorithm's registry entry adjusts what its paper
/// changes (Reptile's step sizes, first-order for fomaml).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetaParams {
    /// Training length in meta-iterations.
    pub meta_iterations: u64,
    /// Tasks per meta-iteration.
    pub meta_batch: usize,
    /// Inner-loop (adaptation) learning rate α; Meta-SGD's initial per-parameter rate.
    pub inner_lr: f64,
    /// Inner SGD steps during meta-training.
    pub inner_steps: usize,
    /// Inner SGD steps at evaluation time.
    pub test_inner_steps: usize,
    /// Outer learning rate β (Adam); Reptile's meta step size ε.
    pub outer_lr: f64,
    /// Drop second-order terms (first-order MAML).
    pub first_order: bool,
    /// Reptile: anneal the meta step size linearly to 0.
    pub anneal: bool,
    /// Backbone: "auto" (conv4 for image inputs, mlp otherwise), "mlp" or "conv4".
    pub backbone: String,
    /// Hidden widths of the MLP backbone.
    pub hidden: Vec<usize>,
    /// Hidden activation of the MLP: relu, tanh, leaky-relu, elu.
    pub activation: String,
    /// Initialiser of the MLP's weights: torch-default, kaiming-uniform, xavier-uniform.
    pub init: String,
    /// Filters per Conv4 block.
    pub filters: usize,
    /// Global gradient-norm clip of the meta-gradient (0: off).
    pub grad_clip: f64,
    /// Held-out test tasks in the final evaluation.
    pub eval_tasks: usize,
    /// Validation tasks at each validation.
    pub val_tasks: usize,
    /// Log the training loss every this many meta-iterations.
    pub log_every: u64,
    /// Validate every this many meta-iterations (0: never).
    pub val_every: u64,
    /// Worker threads for the tasks of a meta-batch (1: this thread only). Each task's
    /// meta-gradient is summed in task order, so the numbers do not depend on this.
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
            backbone: "auto".into(),
            hidden: vec![40, 40],
            activation: "relu".into(),
            init: "torch-default".into(),
            filters: 64,
            grad_clip: 0.0,
            eval_tasks: 1000,
            val_tasks: 100,
            log_every: 100,
            val_every: 1000,
            threads: 1,
        }
    }
}

impl Hyperparams for MetaParams {
    fn docs() -> Vec<ParamDoc> {
        vec![
            ParamDoc {
                key: "meta_iterations",
                ty: "integer",
                range: ">= 1",
                doc: "training length in meta-iterations",
            },
            ParamDoc {
                key: "meta_batch",
                ty: "integer",
                range: ">= 1",
                doc: "tasks per meta-iteration",
            },
            ParamDoc {
                key: "inner_lr",
                ty: "float",
                range: "> 0",
                doc: "inner-loop learning rate α (Meta-SGD: initial per-parameter rate)",
            },
            ParamDoc {
                key: "inner_steps",
                ty: "integer",
                range: ">= 1",
                doc: "inner SGD steps during meta-training",
            },
            ParamDoc {
                key: "test_inner_steps",
                ty: "integer",
                range: ">= 1",
                doc: "inner SGD steps at evaluation",
            },
            ParamDoc {
                key: "outer_lr",
                ty: "float",
                range: "> 0",
                doc: "outer learning rate β (Adam); Reptile's meta step size ε",
            },
            ParamDoc {
                key: "first_order",
                ty: "bool",
                range: "true or false",
                doc: "drop second-order terms (first-order MAML)",
            },
            ParamDoc {
                key: "anneal",
                ty: "bool",
                range: "true or false",
                doc: "Reptile: anneal the meta step size linearly to 0",
            },
            ParamDoc {
                key: "backbone",
                ty: "string",
                range: "one of: auto, mlp, conv4",
                doc: "network body; auto picks conv4 for images",
            },
            ParamDoc {
                key: "hidden",
                ty: "list of integers",
                range: "each >= 1",
                doc: "hidden widths of the MLP backbone",
            },
            ParamDoc {
                key: "activation",
                ty: "string",
                range: "one of: relu, tanh, leaky-relu, elu",
                doc: "MLP hidden activation",
            },
            ParamDoc {
                key: "init",
                ty: "string",
                range: "one of: torch-default, kaiming-uniform, xavier-uniform",
                doc: "initialiser of the MLP weights (torch-default: U(±1/√fan_in), as nn.Linear)",
            },
            ParamDoc {
                key: "filters",
                ty: "integer",
                range: ">= 1",
                doc: "filters per Conv4 block",
            },
            ParamDoc {
                key: "grad_clip",
                ty: "float",
                range: ">= 0",
                doc: "global norm clip of the meta-gradient (0: off)",
            },
            ParamDoc {
                key: "eval_tasks",
                ty: "integer",
                range: ">= 1",
                doc: "held-out test tasks in the final evaluation",
            },
            ParamDoc {
                key: "val_tasks",
                ty: "integer",
                range: ">= 1",
                doc: "validation tasks per validation",
            },
            ParamDoc {
                key: "log_every",
                ty: "integer",
                range: ">= 1",
                doc: "log the training loss every N meta-iterations",
            },
            ParamDoc {
                key: "val_every",
                ty: "integer",
                range: ">= 0",
                doc: "validate every N meta-iterations (0: never)",
            },
            ParamDoc {
                key: "threads",
                ty: "integer",
                range: ">= 1",
                doc: "worker threads for a meta-batch's tasks (results do not depend on it)",
            },
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
        at_least_one("meta_batch", self.meta_batch as u64)?;
        at_least_one("inner_steps", self.inner_steps as u64)?;
        at_least_one("test_inner_steps", self.test_inner_steps as u64)?;
        at_least_one("filters", self.filters as u64)?;
        at_least_one("eval_tasks", self.eval_tasks as u64)?;
        at_least_one("val_tasks", self.val_tasks as u64)?;
        at_least_one("log_every", self.log_every)?;
        at_least_one("threads", self.threads as u64)?;
        check_positive("inner_lr", self.inner_lr)?;
        check_positive("outer_lr", self.outer_lr)?;
        check_range("grad_clip", self.grad_clip, 0.0, f64::MAX)?;
        check_one_of("backbone", &self.backbone, &["auto", "mlp", "conv4"])?;
        check_one_of(
            "init",
            &self.init,
            &["torch-default", "kaiming-uniform", "xavier-uniform"],
        )?;
        check_one_of(
            "activation",
            &self.activation,
            &["relu", "tanh", "leaky-relu", "elu"],
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

/// Reads a configuration over the algorithm's defaults and validates it.
pub fn resolve(algorithm: &str, config: &Config) -> autodidact_core::Result<MetaParams> {
    let mut merged = default_config_for(algorithm);
    for (k, v) in config {
        merged.insert(k.clone(), v.clone());
    }
    MetaParams::from_config(&merged)
}
