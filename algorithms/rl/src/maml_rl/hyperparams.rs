//! MAML-RL's hyperparameters, with Finn et al.'s 2D-navigation setup as the defaults: 20
//! tasks per meta-iteration, 20 episodes per task and step, horizon 100, one inner step at
//! 0.1, γ 0.99, a 100-100 ReLU Gaussian/categorical policy, the linear feature baseline.
//! The outer step is Adam by default; `outer_step = "trpo"` takes it as Finn et al. did, with
//! a trust region on the adapted policies' KL ([`super::trpo`]).

use autodidact_core::layers::Activation;
use autodidact_core::{Choice, Hyperparams};
use serde::{Deserialize, Serialize};

use crate::pg::PgInit;

/// How the inner objective is built, hence what its second derivative is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum Estimator {
    /// DiCE with the baseline of Mao et al. 2019: unbiased derivatives of every order.
    Dice,
    /// The REINFORCE surrogate `Σ log π · A` of the original MAML-RL implementation: the
    /// same gradient, a Hessian missing the score-function products (biased meta-gradient).
    Surrogate,
}

/// The baseline subtracted from the returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum BaselineKind {
    /// The linear feature baseline (Duan et al. 2016), fitted on each batch of episodes.
    Linear,
    /// None.
    None,
}

/// How θ is moved with the meta-gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum OuterStep {
    /// Adam on the meta-gradient (`outer_lr`).
    Adam,
    /// A trust-region step (TRPO): conjugate gradient with the autodiff's Hessian-vector
    /// products of the adapted policies' KL, a step of KL `max_kl`, backtracking line search.
    Trpo,
}

/// Parameters of `maml-rl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct MamlRlParams {
    /// Training length in meta-iterations.
    #[param(min = 1, max = 1e9)]
    pub meta_iterations: u64,
    /// Tasks (environments of the training split) per meta-iteration.
    #[param(min = 1, max = 10_000)]
    pub meta_batch: usize,
    /// Episodes per task for each inner step and for the outer objective.
    #[param(min = 1, max = 100_000)]
    pub episodes_per_task: usize,
    /// Step cap of an episode (the environment may end it sooner).
    #[param(min = 1, max = 100_000)]
    pub horizon: usize,
    /// Inner policy-gradient steps during meta-training (0: no adaptation — the policy is
    /// trained on all training tasks jointly, the "pretrained" baseline).
    #[param(min = 0, max = 100)]
    pub inner_steps: usize,
    /// Inner learning rate α (`learn_inner_lr`: the initial per-parameter rate).
    #[param(gt = 0, max = 1e3)]
    pub inner_lr: f64,
    /// Learn one inner rate per parameter with the outer step (Meta-SGD, Li et al. 2017).
    pub learn_inner_lr: bool,
    /// Drop the second-order terms: the inner gradients are constants (first-order MAML).
    pub first_order: bool,
    /// The inner objective: dice (exact in expectation) or surrogate (the original
    /// implementation's, a term missing from its Hessian).
    pub estimator: Estimator,
    /// The baseline.
    pub baseline: BaselineKind,
    /// Scale `G − b` to mean 0, standard deviation 1 per task and batch (rllab's
    /// `center_adv`).
    pub normalize_advantages: bool,
    /// Discount factor.
    #[param(min = 0, max = 1)]
    pub gamma: f64,
    /// The outer step: adam or trpo.
    pub outer_step: OuterStep,
    /// Adam's learning rate for the outer step.
    #[param(gt = 0, max = 10)]
    pub outer_lr: f64,
    /// TRPO: the trust region, the largest mean KL between the old and new adapted policies.
    #[param(gt = 0, max = 10)]
    pub max_kl: f64,
    /// TRPO: conjugate-gradient iterations (Hessian-vector products) per step.
    #[param(min = 1, max = 1000)]
    pub cg_iterations: usize,
    /// TRPO: damping added to the KL's Hessian in the conjugate gradient.
    #[param(min = 0, max = 1e3)]
    pub cg_damping: f64,
    /// TRPO: line-search trials, each shrinking the step by `backtrack_ratio`.
    #[param(min = 1, max = 100)]
    pub line_search_steps: usize,
    /// TRPO: the line search's shrink factor.
    #[param(gt = 0, lt = 1)]
    pub backtrack_ratio: f64,
    /// Global norm clip of the meta-gradient (0: off).
    #[param(min = 0)]
    pub grad_clip: f64,
    /// Hidden layer widths of the policy.
    #[param(min = 1, max = 65_536, max_len = 64)]
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
    /// Weight initialisation.
    pub init: PgInit,
    /// The Gaussian policy's initial log standard deviation.
    #[param(min = -20, max = 5)]
    pub log_std_init: f64,
    /// Held-out (test-split) tasks in the final evaluation.
    #[param(min = 1, max = 1_000_000)]
    pub eval_tasks: usize,
    /// Inner steps at evaluation: returns are reported after 0, 1, …, this many.
    #[param(min = 0, max = 100)]
    pub eval_inner_steps: usize,
    /// Validation-split tasks per validation.
    #[param(min = 1, max = 1_000_000)]
    pub val_tasks: usize,
    /// Validate every this many meta-iterations (0: never).
    #[param(min = 0)]
    pub val_every: u64,
    /// Log every this many meta-iterations.
    #[param(min = 1)]
    pub log_every: u64,
    /// Worker threads (0: every core) for a meta-batch's tasks and the evaluation's tasks;
    /// results do not depend on it.
    #[param(min = 0, max = 256)]
    pub threads: usize,
}

impl Default for MamlRlParams {
    fn default() -> Self {
        MamlRlParams {
            meta_iterations: 500,
            meta_batch: 20,
            episodes_per_task: 20,
            horizon: 100,
            inner_steps: 1,
            inner_lr: 0.1,
            learn_inner_lr: false,
            first_order: false,
            estimator: Estimator::Dice,
            baseline: BaselineKind::Linear,
            normalize_advantages: true,
            gamma: 0.99,
            outer_step: OuterStep::Adam,
            outer_lr: 1e-3,
            max_kl: 0.01,
            cg_iterations: 10,
            cg_damping: 1e-5,
            line_search_steps: 15,
            backtrack_ratio: 0.8,
            grad_clip: 0.0,
            hidden: vec![100, 100],
            activation: Activation::Relu,
            init: PgInit::TorchDefault,
            log_std_init: 0.0,
            eval_tasks: 40,
            eval_inner_steps: 3,
            val_tasks: 20,
            val_every: 0,
            log_every: 10,
            threads: 0,
        }
    }
}
