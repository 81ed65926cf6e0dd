//! # autodidact-gradient
//!
//! Gradient-based meta-learning on Autodidact's any-order autodiff, registered as `maml`,
//! `fomaml`, `reptile`, `meta-sgd` and `anil`:
//!
//! - [`maml`]: θ'ᵢ = θ − α∇θ L_Tᵢ(f_θ) on the support set; θ ← θ − β∇θ Σᵢ L_Tᵢ(f_θ'ᵢ) on the query
//!   sets, differentiating through the inner steps; first-order MAML drops the second-order terms.
//! - [`reptile`]: θ ← θ + ε · mean(φᵢ − θ).
//! - [`meta_sgd`]: a learned per-parameter inner learning rate.
//! - [`anil`]: only the head adapts.
//!
//! ```
//! use autodidact_core::{Seed, Split, TaskDistribution};
//! use autodidact_envs::{Sinusoid, SinusoidParams};
//! use autodidact_gradient::{hyperparams::MetaParams, MetaLearner, Method};
//!
//! let hp = MetaParams { meta_iterations: 5, meta_batch: 4, eval_tasks: 10, ..MetaParams::default() };
//! let dist = Sinusoid::new(SinusoidParams::default()).unwrap();
//! let mut maml = MetaLearner::with_distribution(Method::Maml, hp, Box::new(dist), Seed(0)).unwrap();
//! for _ in 0..5 {
//!     maml.meta_step().unwrap();
//! }
//! let m = maml.evaluate_on(&Sinusoid::new(SinusoidParams::default()).unwrap(), Split::Test, 10, "").unwrap();
//! assert!(m["query_mse_after"].is_finite());
//! ```
#![warn(missing_docs)]

pub mod adapt;
pub mod anil;
pub mod errors;
pub mod evaluate;
pub mod hyperparams;
pub mod learner;
pub mod maml;
pub mod meta_sgd;
pub mod model;
pub mod reptile;

pub use errors::{GradientError, Result};
pub use learner::{MetaLearner, Method};

use autodidact_core::{Algorithm, Config, EnvKind, EnvSpec, Hyperparams, Seed};
use hyperparams::{default_config_for, MetaParams};

const FEW_SHOT: &[EnvKind] = &[EnvKind::FewShotRegression, EnvKind::FewShotClassification];
const FAMILY: &str = "gradient-based meta-learning";

fn build(
    method: Method,
    config: &Config,
    env: &EnvSpec,
    seed: Seed,
) -> autodidact_core::Result<Box<dyn Algorithm>> {
    Ok(Box::new(MetaLearner::new(method, config, env, seed)?))
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
            accepts: FEW_SHOT,
            params: MetaParams::docs,
            default_config: $defaults,
            build: $build,
        }
    };
}

entry!(
    "maml",
    Method::Maml,
    "MAML: second-order meta-gradient through the inner SGD steps (Finn et al. 2017)",
    build_maml,
    maml_defaults
);
entry!(
    "fomaml",
    Method::FoMaml,
    "first-order MAML: the inner gradients are constants",
    build_fomaml,
    fomaml_defaults
);
entry!(
    "reptile",
    Method::Reptile,
    "Reptile: move θ toward the task-adapted weights (Nichol et al. 2018)",
    build_reptile,
    reptile_defaults
);
entry!(
    "meta-sgd",
    Method::MetaSgd,
    "Meta-SGD: MAML with a learned per-parameter inner learning rate (Li et al. 2017)",
    build_meta_sgd,
    meta_sgd_defaults
);
entry!(
    "anil",
    Method::Anil,
    "ANIL: adapt only the head in the inner loop (Raghu et al. 2020)",
    build_anil,
    anil_defaults
);
