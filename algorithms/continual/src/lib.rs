//! # autodidact-continual
//!
//! Continual learning on a stream of experiences without forgetting, registered as `naive`,
//! `ewc`, `si`, `lwf`, `replay`, `agem` and `joint` (family "continual learning"), training on
//! the `split` and `permuted` streams:
//!
//! - references: [`naive`] fine-tuning (lower bound), [`joint`] training on everything seen so
//!   far (upper bound);
//! - regularisation: [`ewc`] (diagonal Fisher, separate or online with decay), [`si`]
//!   (Synaptic Intelligence), [`lwf`] (Learning without Forgetting, distillation on the old
//!   classes or heads);
//! - replay: [`replay`] (reservoir or class-balanced memory mixed into every minibatch, with
//!   an optional asymmetric loss), [`agem`] (gradient projection on a memory sample);
//! - architecture: one head per task on task-incremental streams ([`model`]);
//! - meta-learnt for continual learning: [`mer`] (Meta-Experience Replay, a strategy) and
//!   [`oml`] (Online-aware Meta-Learning, its own learner: [`oml_learner`], registered `oml`).
//!
//! On an online stream (`--set env.online=true`) every strategy learns one example per step,
//! each once ([`online`]).
//!
//! One training step is one epoch on the current experience; after each experience the
//! learner evaluates on every experience's test set, filling a row of the accuracy matrix
//! ([`metrics`]), which the runner writes to `summary.json` and draws as a heat-map.
//!
//! ```
//! use autodidact_continual::{hyperparams::defaults_for, ContinualLearner, Method};
//! use autodidact_core::{Hyperparams, Seed};
//! use autodidact_envs::{GaussianClasses, GaussianClassesParams, Holdout, PermutedStream};
//!
//! let src = GaussianClassesParams { classes: 4, examples_per_class: 20, ..Default::default() };
//! let data = GaussianClasses::new(src).unwrap().dataset(Seed(1)).unwrap();
//! let stream = PermutedStream::new(&data, 2, Holdout::Random(0.25), 0, Seed(1)).unwrap();
//! let hp = autodidact_continual::hyperparams::ContinualParams {
//!     epochs: 2, hidden: vec![16], ..defaults_for("ewc")
//! }
//! .check()
//! .unwrap();
//! let mut ewc = ContinualLearner::with_stream(Method::Ewc, hp, &stream, Seed(0)).unwrap();
//! for _ in 0..4 {
//!     ewc.train_epoch().unwrap();
//! }
//! assert_eq!(ewc.matrix().trained(), 2);
//! assert!(ewc.matrix().acc() > 0.0);
//! ```
#![warn(missing_docs)]

pub mod agem;
pub mod data;
pub mod errors;
pub mod ewc;
pub mod hyperparams;
pub mod joint;
pub mod learner;
pub mod lwf;
pub mod mer;
pub mod metrics;
pub mod model;
pub mod naive;
pub mod oml;
pub mod oml_learner;
pub mod online;
pub mod replay;
pub mod si;
pub mod strategy;

pub use errors::{ContinualError, Result};
pub use learner::{ContinualLearner, Method};
pub use metrics::AccuracyMatrix;
pub use strategy::Strategy;

use autodidact_core::config::Checked;
use autodidact_core::{Algorithm, EnvKind, EnvSpec, Seed};
use hyperparams::{defaults_for, ContinualParams};

const CONTINUAL: &[EnvKind] = &[EnvKind::Continual];

/// A registry build function for one strategy.
fn builder(
    method: Method,
) -> impl Fn(Checked<ContinualParams>, &EnvSpec, Seed) -> autodidact_core::Result<Box<dyn Algorithm>>
{
    move |hp, env, seed| Ok(Box::new(ContinualLearner::on_env(method, hp, env, seed)?))
}

autodidact_core::register_family! {
    family: "continual learning",
    accepts: CONTINUAL,
    params: ContinualParams,
    algorithms: {
        "naive" => (
            "naive fine-tuning on each experience in turn (the lower bound)",
            || defaults_for("naive"),
            builder(Method::Naive)
        ),
        "ewc" => (
            "Elastic Weight Consolidation: diagonal-Fisher penalty, separate or online (Kirkpatrick et al. 2017)",
            || defaults_for("ewc"),
            builder(Method::Ewc)
        ),
        "si" => (
            "Synaptic Intelligence: path-integral importance penalty (Zenke et al. 2017)",
            || defaults_for("si"),
            builder(Method::Si)
        ),
        "lwf" => (
            "Learning without Forgetting: distillation toward the previous model (Li and Hoiem 2016)",
            || defaults_for("lwf"),
            builder(Method::Lwf)
        ),
        "replay" => (
            "experience replay from a reservoir or class-balanced memory mixed into each minibatch",
            || defaults_for("replay"),
            builder(Method::Replay)
        ),
        "agem" => (
            "A-GEM: project the update so the memory's loss does not rise (Chaudhry et al. 2019)",
            || defaults_for("agem"),
            builder(Method::Agem)
        ),
        "joint" => (
            "joint training on every experience seen so far (the upper bound)",
            || defaults_for("joint"),
            builder(Method::Joint)
        ),
        "mer" => (
            "Meta-Experience Replay: reservoir memory, Reptile meta-updates within and across batches (Riemer et al. 2019)",
            || defaults_for("mer"),
            builder(Method::Mer)
        ),
    }
}

/// Makes sure this crate's registrations are linked in (call it once from a binary that
/// depends on the crate but uses nothing else from it).
pub fn link() {}
