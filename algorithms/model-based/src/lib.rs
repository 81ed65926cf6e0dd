//! # autodidact-model-based
//!
//! Model-based meta-learning on Autodidact's autodiff — a network that learns a new task by
//! carrying what it has just seen in its state — registered as `mann`, `lstm-learner` and
//! `meta-net`:
//!
//! - [`mann`]: a memory-augmented neural network (Santoro et al. 2016), an LSTM controller
//!   with an external memory read by content (cosine similarity, softmax) and written with
//!   Least Recently Used Access ([`memory`]).
//! - [`lstm`]: the same controller without memory, the paper's reference.
//! - [`metanet`]: Meta Networks (Munkhdalai & Yu 2017), fast weights generated from support
//!   loss gradients, stored in a memory and read back for each query by attention. It trains
//!   on support/query episodes rather than late-label sequences.
//!
//! Both train on the paper's episode protocol ([`sequence`]): a sequence of `(x_t, y_{t−1})`
//! over N classes, labels shuffled per episode, each class presented `instances` times; the
//! loss is the cross-entropy of every step and results are reported by presentation
//! ([`evaluate`]). Inputs are embedded by core's backbone (Conv4 for images, an MLP for
//! vectors) before the controller.
//!
//! ```
//! use autodidact_core::{Algorithm, Hyperparams, Seed, Split};
//! use autodidact_envs::{GaussianClasses, GaussianClassesParams};
//! use autodidact_model_based::{hyperparams::ModelBasedParams, Method, ModelBasedLearner};
//!
//! let hp = ModelBasedParams {
//!     meta_iterations: 2, batch_size: 2, instances: 3, val_every: 0,
//!     controller_hidden: 8, memory_slots: 8, memory_width: 4, read_heads: 2,
//!     hidden: vec![8], embedding_dim: 8,
//!     ..ModelBasedParams::default()
//! }
//! .check()
//! .unwrap();
//! let env = GaussianClasses::new(GaussianClassesParams { ways: 3, ..Default::default() }).unwrap();
//! let mut mann = ModelBasedLearner::with_distribution(Method::Mann, hp, Box::new(env), Seed(0)).unwrap();
//! mann.train_step().unwrap();
//! let m = mann.evaluate_on(mann.distribution(), Split::Test, 4, "").unwrap();
//! assert!(m.contains_key("instance_2_accuracy"));
//! ```
#![warn(missing_docs)]

pub mod errors;
pub mod evaluate;
pub mod hyperparams;
pub mod learner;
pub mod lstm;
pub mod mann;
pub mod memory;
pub mod metanet;
pub mod model;
pub mod sequence;

pub use errors::{ModelBasedError, Result};
pub use learner::ModelBasedLearner;
pub use metanet::MetaNetLearner;
pub use model::{Method, Model};

use autodidact_core::config::Checked;
use autodidact_core::{Algorithm, EnvKind, EnvSpec, Seed};
use hyperparams::{defaults_for, ModelBasedParams};
use metanet::MetaNetParams;

const FEW_SHOT: &[EnvKind] = &[EnvKind::FewShotClassification];

/// A registry build function for one method.
fn builder(
    method: Method,
) -> impl Fn(Checked<ModelBasedParams>, &EnvSpec, Seed) -> autodidact_core::Result<Box<dyn Algorithm>>
{
    move |hp, env, seed| Ok(Box::new(ModelBasedLearner::on_env(method, hp, env, seed)?))
}

autodidact_core::register_family! {
    family: "model-based meta-learning",
    accepts: FEW_SHOT,
    params: ModelBasedParams,
    algorithms: {
        "mann" => (
            "Memory-augmented neural network: LSTM controller, content-based reads, Least Recently Used Access writes (Santoro et al. 2016)",
            || defaults_for("mann"),
            builder(Method::Mann)
        ),
        "lstm-learner" => (
            "LSTM learner on late-label episodes, the memory-less reference of Santoro et al. 2016",
            || defaults_for("lstm-learner"),
            builder(Method::Lstm)
        ),
    }
}

autodidact_core::register_family! {
    family: "model-based meta-learning",
    accepts: FEW_SHOT,
    params: MetaNetParams,
    algorithms: {
        "meta-net" => (
            "Meta Networks: fast weights generated from support loss gradients, stored in a memory keyed by task-adapted representations, read by attention per query (Munkhdalai & Yu 2017)",
            MetaNetParams::default,
            |hp, env: &EnvSpec, seed| Ok(Box::new(MetaNetLearner::on_env(hp, env, seed)?) as Box<dyn Algorithm>)
        ),
    }
}
