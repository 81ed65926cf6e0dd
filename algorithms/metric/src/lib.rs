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
//! use autodidact_core::{Algorithm, Seed, Split};
//! use autodidact_envs::{GaussianClasses, GaussianClassesParams};
//! use autodidact_metric::{hyperparams::MetricParams, Method, MetricLearner};
//!
//! let hp = MetricParams { meta_iterations: 5, val_every: 0, hidden: vec![16], ..MetricParams::default() };
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

use autodidact_core::{Algorithm, Config, EnvKind, EnvSpec, Hyperparams, Seed};
use hyperparams::{default_config_for, MetricParams};

const FEW_SHOT: &[EnvKind] = &[EnvKind::FewShotClassification];
const FAMILY: &str = "metric-based meta-learning";

fn build(
    method: Method,
    config: &Config,
    env: &EnvSpec,
    seed: Seed,
) -> autodidact_core::Result<Box<dyn Algorithm>> {
    Ok(Box::new(MetricLearner::new(method, config, env, seed)?))
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
            params: MetricParams::docs,
            default_config: $defaults,
            build: $build,
        }
    };
}

entry!(
    "matching-net",
    Method::Matching,
    "Matching Networks: attention over the support set by cosine similarity, optional full-context embeddings (Vinyals et al. 2016)",
    build_matching,
    matching_defaults
);
entry!(
    "proto-net",
    Method::Proto,
    "Prototypical Networks: softmax over distances to mean support embeddings (Snell et al. 2017)",
    build_proto,
    proto_defaults
);
entry!(
    "relation-net",
    Method::Relation,
    "Relation Networks: a learned relation module on embedding pairs, MSE to one-hot (Sung et al. 2018)",
    build_relation,
    relation_defaults
);
