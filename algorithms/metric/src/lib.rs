//! # autodidact-metric
//!
//! Metric-based meta-learning on Autodidact's autodiff, registered as `matching-net`,
//! `proto-net` and `relation-net`:
//!
//! - [`matching`]: `P(ŷ | x, S) = Σᵢ a(x, xᵢ) yᵢ`, attention the softmax of cosine similarities
//!   over the support set, optionally with full-context embeddings ([`fce`]).
//! - [`proto`]: prototypes are mean support embeddings; softmax over negative squared
//!   Euclidean distances (or cosine similarities).
//! - [`relation`]: a learned relation module on concatenated (query, class) embeddings, MSE to
//!   one-hot targets.
//!
//! Embeddings come from Conv4 for images and an MLP for feature vectors ([`backbone`]);
//! training is episodic, one N-way K-shot Q-query episode per step ([`learner`]), optionally
//! with more ways than testing (`train_ways`). [`baseline`] is the untrained nearest-prototype
//! classifier on raw features.
//!
//! ```
//! use autodidact_core::{Algorithm, Hyperparams, Seed, Split};
//! use autodidact_envs::{GaussianClasses, GaussianClassesParams};
//! use autodidact_metric::{hyperparams::MetricParams, Method, MetricLearner};
//!
//! let hp = MetricParams { meta_iterations: 5, val_every: 0, hidden: vec![16], ..MetricParams::default() }
//!     .check()
//!     .unwrap();
//! let dist = GaussianClasses::new(GaussianClassesParams::default()).unwrap();
//! let mut proto = MetricLearner::with_distributions(Method::Proto, hp, Box::new(dist), None, Seed(0)).unwrap();
//! for _ in 0..5 {
//!     proto.train_step().unwrap();
//! }
//! let m = proto.evaluate_on(proto.distribution(), Split::Test, 20, "").unwrap();
//! assert!(m["query_accuracy"] > 0.2 && m["baseline_accuracy"] > 0.2);
//! ```
#![warn(missing_docs)]

pub mod backbone;
pub mod baseline;
pub mod episode;
pub mod errors;
pub mod evaluate;
pub mod fce;
pub mod hyperparams;
pub mod learner;
pub mod matching;
pub mod model;
pub mod proto;
pub mod relation;

pub use errors::{MetricError, Result};
pub use learner::MetricLearner;
pub use model::{Method, Model};

use autodidact_core::config::Checked;
use autodidact_core::{Algorithm, EnvKind, EnvSpec, Seed};
use hyperparams::{defaults_for, MetricParams};

const FEW_SHOT: &[EnvKind] = &[EnvKind::FewShotClassification];

/// A registry build function for one method.
fn builder(
    method: Method,
) -> impl Fn(Checked<MetricParams>, &EnvSpec, Seed) -> autodidact_core::Result<Box<dyn Algorithm>> {
    move |hp, env, seed| Ok(Box::new(MetricLearner::on_env(method, hp, env, seed)?))
}

autodidact_core::register_family! {
    family: "metric-based meta-learning",
    accepts: FEW_SHOT,
    params: MetricParams,
    algorithms: {
        "matching-net" => (
            "Matching Networks: attention over the support set by cosine similarity, optional full-context embeddings (Vinyals et al. 2016)",
            || defaults_for("matching-net"),
            builder(Method::Matching)
        ),
        "proto-net" => (
            "Prototypical Networks: softmax over distances to mean support embeddings (Snell et al. 2017)",
            || defaults_for("proto-net"),
            builder(Method::Proto)
        ),
        "relation-net" => (
            "Relation Networks: a learned relation module on embedding pairs, MSE to one-hot (Sung et al. 2018)",
            || defaults_for("relation-net"),
            builder(Method::Relation)
        ),
    }
}
