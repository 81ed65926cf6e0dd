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
//! - architecture: one head per task on task-incremental streams ([`model`]).
//!
//! One training step is one epoch on the current experience; after each experience the
//! learner evaluates on every experience's test set, filling a row of the accuracy matrix
//! ([`metrics`]), which the runner writes to `summary.json` and draws as a heat-map.
//!
//! ```
//! use autodidact_continual::{hyperparams::defaults_for, ContinualLearner, Method};
//! use autodidact_core::Seed;
//! use autodidact_envs::{GaussianClasses, GaussianClassesParams, Holdout, PermutedStream};
//!
//! let src = GaussianClassesParams { classes: 4, examples_per_class: 20, ..Default::default() };
//! let data = GaussianClasses::new(src).unwrap().dataset(Seed(1)).unwrap();
//! let stream = PermutedStream::new(&data, 2, Holdout::Random(0.25), 0, Seed(1)).unwrap();
//! let hp = autodidact_continual::hyperparams::ContinualParams {
//!     epochs: 2, hidden: vec![16], ..defaults_for("ewc")
//! };
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
pub mod metrics;
pub mod model;
pub mod naive;
pub mod replay;
pub mod si;
pub mod strategy;

pub use errors::{ContinualError, Result};
pub use learner::{ContinualLearner, Method};
pub use metrics::AccuracyMatrix;
pub use strategy::Strategy;

use autodidact_core::{Algorithm, Config, EnvKind, EnvSpec, Hyperparams, Seed};
use hyperparams::{default_config_for, ContinualParams};

const CONTINUAL: &[EnvKind] = &[EnvKind::Continual];
const FAMILY: &str = "continual learning";

fn build(
    method: Method,
    config: &Config,
    env: &EnvSpec,
    seed: Seed,
) -> autodidact_core::Result<Box<dyn Algorithm>> {
    Ok(Box::new(ContinualLearner::new(method, config, env, seed)?))
}

macro_rules! entry {
    ($name:literal, $method:expr, $summary:literal, $build:ident, $defaults:ident) => {
        fn $build(
            config: &Config,
            env: &EnvSpec,
            seed: Seed,
        ) -> autodidact_core::Result<Box<dyn Algorithm>> {
            build($method, config, env, seed)
        }
        fn $defaults() -> Config {
            default_config_for($name)
        }
        autodidact_core::register_algorithm! {
            name: $name,
            family: FAMILY,
            summary: $summary,
            accepts: CONTINUAL,
            params: ContinualParams::docs,
            default_config: $defaults,
            build: $build,
        }
    };
}

entry!(
    "naive",
    Method::Naive,
    "naive fine-tuning on each experience in turn (the lower bound)",
    build_naive,
    naive_defaults
);
entry!(
    "ewc",
    Method::Ewc,
    "Elastic Weight Consolidation: diagonal-Fisher penalty, separate or online (Kirkpatrick et al. 2017)",
    build_ewc,
    ewc_defaults
);
entry!(
    "si",
    Method::Si,
    "Synaptic Intelligence: path-integral importance penalty (Zenke et al. 2017)",
    build_si,
    si_defaults
);
entry!(
    "lwf",
    Method::Lwf,
    "Learning without Forgetting: distillation toward the previous model (Li and Hoiem 2016)",
    build_lwf,
    lwf_defaults
);
entry!(
    "replay",
    Method::Replay,
    "experience replay from a reservoir or class-balanced memory mixed into each minibatch",
    build_replay,
    replay_defaults
);
entry!(
    "agem",
    Method::Agem,
    "A-GEM: project the update so the memory's loss does not rise (Chaudhry et al. 2019)",
    build_agem,
    agem_defaults
);
entry!(
    "joint",
    Method::Joint,
    "joint training on every experience seen so far (the upper bound)",
    build_joint,
    joint_defaults
);

/// Makes sure this crate's registrations are linked in (call it once from a binary that
/// depends on the crate but uses nothing else from it).
pub fn link() {}
