//! # autodidact-envs
//!
//! The shared environments of Autodidact, implementing core's traits and registered by name
//! (`autodidact list` shows them; parameters are set with `--set env.KEY=VALUE`):
//!
//! | name | kind | module |
//! | --- | --- | --- |
//! | `sinusoid` | few-shot regression | [`sinusoid`] |
//! | `omniglot` | few-shot classification | [`omniglot`] |
//! | `intents` | few-shot classification | [`intents`], [`text`], [`minilm`] |
//! | `gaussian-classes` | few-shot classification | [`gaussian`] |
//! | `gridworld` | RL, with the exact model | [`gridworld`] |
//! | `gridworld-goals` | meta-RL | [`gridworld_goals`] |
//! | `navigation-2d` | meta-RL, continuous actions | [`navigation`] |
//! | `cartpole` | RL | [`cartpole`] |
//! | `pendulum` | RL, continuous actions | [`pendulum`] |
//! | `bandit`, `bandit-distribution` | RL, meta-RL | [`bandit`] |
//! | `split`, `permuted` | continual streams | [`streams`] |
//!
//! Every environment takes a seed: the same seed gives the same tasks and episodes.
//!
//! ```
//! use autodidact_core::{Action, Environment, TabularModel};
//! use autodidact_envs::gridworld::Gridworld;
//!
//! let mut g = Gridworld::from_ascii("S.G\n").unwrap();
//! g.reset(Some(1));
//! let step = g.step(&Action::Discrete(3)).unwrap(); // right
//! assert_eq!(step.reward, 0.0);
//! let step = g.step(&Action::Discrete(3)).unwrap();
//! assert!(step.terminated && step.reward == 1.0);
//! assert_eq!(g.model().num_states(), 3);
//! ```
#![warn(missing_docs)]

pub mod bandit;
pub mod cartpole;
pub mod classification;
pub mod error;
pub mod gaussian;
pub mod gridworld;
pub mod gridworld_goals;
pub mod intents;
pub mod jitter;
pub mod minilm;
pub mod navigation;
pub mod omniglot;
pub mod pendulum;
pub mod sinusoid;
pub mod streams;
pub mod text;

pub use bandit::{BanditDistribution, BanditParams, BernoulliBandit};
pub use cartpole::{CartPole, CartPoleParams, Integrator};
pub use classification::{ClassSplits, FewShotClassification, LabelledDataset, Source, SplitMode};
pub use error::{EnvsError, Result};
pub use gaussian::{GaussianClasses, GaussianClassesParams};
pub use gridworld::{
    GridMap, GridModel, GridOptions, Gridworld, GridworldParams, ObservationName, PngOptions,
};
pub use gridworld_goals::{GridworldGoals, GridworldGoalsParams};
pub use intents::{Featurizer, IntentFeatures, Intents, IntentsParams};
pub use minilm::SentenceEncoder;
pub use navigation::{Navigation2d, NavigationGoals, NavigationParams};
pub use omniglot::{Omniglot, OmniglotParams};
pub use pendulum::{Pendulum, PendulumParams};
pub use sinusoid::{Sinusoid, SinusoidParams};
pub use streams::{
    Holdout, HoldoutKind, PermutedStream, PermutedStreamParams, SplitScenario, SplitStream,
    SplitStreamParams, StreamOptions,
};
pub use text::{TextFeaturiser, Weighting};

/// Makes sure this crate's registrations are linked in (call it once from a binary that
/// depends on the crate but uses nothing else from it).
pub fn link() {}
