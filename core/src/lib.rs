//! # autodidact-core
//!
//! The foundation of Autodidact: a tensor on [`ndarray`], an eager reverse-mode autodiff that
//! differentiates its own gradients to any order, functional layers, optimisers, seeded
//! randomness, and the traits and registry that algorithms and environments plug into.
//!
//! ```
//! use autodidact_core::{grad, CreateGraph, Tape, Var};
//! use ndarray::arr1;
//!
//! let _tape = Tape::<f64>::new();
//! let x = Var::leaf(arr1(&[0.5]).into_dyn());
//! let y = x.tanh().sum();
//! // dy/dx, recorded so it can be differentiated again.
//! let dy = grad(&[y], &[x], CreateGraph::Yes)[0];
//! let d2y = grad(&[dy.sum()], &[x], CreateGraph::No)[0];
//! let t = 0.5f64.tanh();
//! assert!((dy.item() - (1.0 - t * t)).abs() < 1e-12);
//! assert!((d2y.item() - (-2.0 * t * (1.0 - t * t))).abs() < 1e-12);
//! ```
#![warn(missing_docs)]
#![allow(clippy::should_implement_trait)]

// The derives name `::autodidact_core`; this lets them expand inside core too.
extern crate self as autodidact_core;

pub mod adapt;
pub mod algorithm;
mod backward;
pub mod config;
pub mod env;
pub mod episodic;
pub mod error;
pub mod float;
pub mod flops;
pub mod layers;
pub mod memory;
pub mod ops;
pub mod optim;
pub mod parallel;
pub mod params;
pub mod plugin;
mod pool;
pub mod registry;
pub mod rng;
pub mod stats;
pub mod stream;
pub mod tape;
pub mod task;
#[cfg(feature = "testing")]
pub mod testing;
pub mod vec_env;

pub use error::{CoreError, Result};
pub use float::Float;
pub use layers::{Activation, Conv4, Conv4Config, GruCell, Init, Linear, LstmCell, Mlp};
pub use ops::index::{argmax, argmax_slice, one_hot};
pub use ops::losses::{
    accuracy, binary_cross_entropy_with_logits, cosine_similarity, cross_entropy,
    cross_entropy_soft, huber, mse, one_hot_var, pairwise_cosine_similarity, pairwise_sq_distance,
};
pub use ops::norm::{batch_norm, layer_norm, BatchNormMode, BatchNormStats};
pub use optim::{clip_grad_norm, sgd_step, Adam, Optimizer, RmsProp, Sgd};
pub use params::Params;
pub use rng::{Rng, Seed};
pub use stats::mean_ci95;
pub use tape::{
    grad, grad_with_seeds, is_grad_enabled, no_grad, ConvGeom, CreateGraph, CustomOp, Tape, Var,
};

/// A tensor: an n-dimensional array of `T` (dynamic rank).
pub type Tensor<T> = ndarray::ArrayD<T>;

pub use algorithm::{Algorithm, Better, Matrices, Matrix, Metrics};
pub use autodidact_derive::{Choice, Hyperparams};
pub use config::{Checked, Config, Hyperparams, ParamDoc, ParamType};
pub use env::{
    Action, EnvDistribution, Environment, Info, Observation, Space, StepResult, TabularModel,
    Transition,
};
pub use registry::{AlgorithmEntry, EnvEntry, EnvInstance, EnvKind, EnvSpec, Registry};
pub use stream::{Experience, Scenario, TaskStream};
pub use task::{Split, Targets, Task, TaskDistribution, TaskKind};
pub use vec_env::{EpisodeEnd, VecEnv, VecEnvState, VecStep};

pub use inventory;
pub use ndarray;
/// The `rand` core draws with: use its traits on core's [`Rng`] (a plugin must not bring another version).
pub use rand;
