//! Hyperparameters shared by `mann` and `lstm-learner`, validated, with the paper's defaults
//! where they apply.

use autodidact_core::config::{invalid, Checked};
use autodidact_core::layers::BackboneKind;
use autodidact_core::{Choice, Config, Hyperparams};
use serde::{Deserialize, Serialize};

/// How sharply MANN's content-based reads focus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum KeyStrength {
    /// Softmax of the raw cosine similarities (Santoro et al.'s equations).
    None,
    /// Each head learns a strength β ≥ 1 multiplying its cosines (the NTM's key strength).
    Learned,
}

/// Hyperparameters of `mann` and `lstm-learner`.
///
/// Santoro et al. (2016): an LSTM controller of 200 units, a 128 × 40 memory, four read heads,
/// episodes of 10 instances per class, 16 episodes per update. We train with Adam rather than
/// their RMSProp (faster on a short budget) and embed images with Conv4 before the controller
/// (they fed raw 20 × 20 pixels), so `backbone = "mlp"` with `hidden = []` is their setting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
#[hyperparams(check = ModelBasedParams::relations)]
pub struct ModelBasedParams {
    /// Training length in updates (one batch of episodes per step).
    #[param(min = 1, max = 1e9)]
    pub meta_iterations: u64,
    /// Episodes (sequences) per update.
    #[param(min = 1, max = 4_096)]
    pub batch_size: usize,
    /// Presentations of each class in an episode (the sequence has ways × instances steps).
    #[param(min = 1, max = 10_000)]
    pub instances: usize,
    /// Adam learning rate.
    #[param(gt = 0, max = 10)]
    pub lr: f64,
    /// Global gradient-norm clip (0: off).
    #[param(min = 0)]
    pub grad_clip: f64,
    /// Hidden units of the LSTM controller.
    #[param(min = 1, max = 65_536)]
    pub controller_hidden: usize,
    /// MANN: memory slots.
    #[param(min = 1, max = 1_000_000)]
    pub memory_slots: usize,
    /// MANN: values per memory slot.
    #[param(min = 1, max = 65_536)]
    pub memory_width: usize,
    /// MANN: read heads (each also writes through its key).
    #[param(min = 1, max = 1_024)]
    pub read_heads: usize,
    /// MANN: usage decay γ of Least Recently Used Access.
    #[param(min = 0, max = 1)]
    pub gamma: f64,
    /// MANN: `learned` key strengths per head, or `none` (the paper's plain cosine softmax).
    pub key_strength: KeyStrength,
    /// Input embedding before the controller; auto picks conv4 for images, mlp otherwise.
    pub backbone: BackboneKind,
    /// Hidden widths of the MLP embedding (empty: one linear layer).
    #[param(min = 1, max = 65_536, max_len = 64)]
    pub hidden: Vec<usize>,
    /// Output width of the MLP embedding.
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
    /// Worker threads (0: every core) for the training batch's large products and the
    /// evaluation batches; results do not depend on it.
    #[param(min = 0, max = 256)]
    pub threads: usize,
}

impl Default for ModelBasedParams {
    fn default() -> Self {
        ModelBasedParams {
            meta_iterations: 10_000,
            batch_size: 16,
            instances: 10,
            lr: 1e-3,
            grad_clip: 10.0,
            controller_hidden: 200,
            memory_slots: 128,
            memory_width: 40,
            read_heads: 4,
            gamma: 0.95,
            key_strength: KeyStrength::Learned,
            backbone: BackboneKind::Auto,
            hidden: vec![256],
            embedding_dim: 64,
            filters: 32,
            eval_episodes: 1000,
            val_episodes: 100,
            val_every: 500,
            early_stopping: true,
            log_every: 50,
            threads: 0,
        }
    }
}

impl ModelBasedParams {
    /// Checks between fields; an error names the key.
    fn relations(&self) -> autodidact_core::Result<()> {
        if self.read_heads > self.memory_slots {
            return Err(invalid(
                "read_heads",
                format!(
                    "{} read heads need at least as many memory slots ({} given): LRUA writes to the {} least-used slots",
                    self.read_heads, self.memory_slots, self.read_heads
                ),
            ));
        }
        if self.backbone == BackboneKind::Diagonal {
            return Err(invalid(
                "backbone",
                "the model-based learners embed with auto, mlp or conv4, not diagonal",
            ));
        }
        Ok(())
    }
}

/// Defaults per algorithm (merged under the user's configuration).
pub fn defaults_for(algorithm: &str) -> ModelBasedParams {
    let _ = algorithm;
    // One set for both: the LSTM reference must differ from MANN only by the memory.
    ModelBasedParams::default()
}

/// Reads a configuration over the algorithm's defaults and checks it.
pub fn resolve(
    algorithm: &str,
    config: &Config,
) -> autodidact_core::Result<Checked<ModelBasedParams>> {
    defaults_for(algorithm).with_config(config)
}
