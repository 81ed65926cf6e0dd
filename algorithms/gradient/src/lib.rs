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
//! use autodidact_core::{Hyperparams, Seed, Split, TaskDistribution};
//! use autodidact_envs::{Sinusoid, SinusoidParams};
//! use autodidact_gradient::{hyperparams::MetaParams, MetaLearner, Method};
//!
//! let hp = MetaParams { meta_iterations: 5, meta_batch: 4, eval_tasks: 10, ..MetaParams::default() }
//!     .check()
//!     .unwrap();
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

use autodidact_core::config::Checked;
use autodidact_core::{Algorithm, EnvKind, EnvSpec, Seed};
use hyperparams::{defaults_for, MetaParams};

const FEW_SHOT: &[EnvKind] = &[EnvKind::FewShotRegression, EnvKind::FewShotClassification];

/// A registry build function for one method.
fn builder(
    method: Method,
) -> impl Fn(Checked<MetaParams>, &EnvSpec, Seed) -> autodidact_core::Result<Box<dyn Algorithm>> {
    move |hp, env, seed| Ok(Box::new(MetaLearner::on_env(method, hp, env, seed)?))
}

autodidact_core::register_family! {
    family: "gradient-based meta-learning",
    accepts: FEW_SHOT,
    params: MetaParams,
    algorithms: {
        "maml" => (
            "MAML: second-order meta-gradient through the inner SGD steps (Finn et al. 2017)",
            || defaults_for("maml"),
            builder(Method::Maml)
        ),
        "fomaml" => (
            "first-order MAML: the inner gradients are constants",
            || defaults_for("fomaml"),
            builder(Method::FoMaml)
        ),
        "reptile" => (
            "Reptile: move θ toward the task-adapted weights (Nichol et al. 2018)",
            || defaults_for("reptile"),
            builder(Method::Reptile)
        ),
        "meta-sgd" => (
            "Meta-SGD: MAML with a learned per-parameter inner learning rate (Li et al. 2017)",
            || defaults_for("meta-sgd"),
            builder(Method::MetaSgd)
        ),
        "anil" => (
            "ANIL: adapt only the head in the inner loop (Raghu et al. 2020)",
            || defaults_for("anil"),
            builder(Method::Anil)
        ),
    }
}
