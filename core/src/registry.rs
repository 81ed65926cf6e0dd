//! The registry of algorithms and environments, filled at link time by `inventory` and at run
//! time by plugins.

use std::fmt;

use crate::algorithm::Algorithm;
use crate::config::{Config, ParamDoc};
use crate::env::{EnvDistribution, Environment};
use crate::error::{CoreError, Result};
use crate::rng::Seed;
use crate::stream::TaskStream;
use crate::task::{TaskDistribution, TaskKind};

/// What kind of environment something is, or an algorithm trains on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvKind {
    /// A few-shot regression task distribution (sinusoid).
    FewShotRegression,
    /// A few-shot N-way classification task distribution (Omniglot, intents).
    FewShotClassification,
    /// A single reinforcement-learning environment (gridworld, CartPole).
    Rl,
    /// A distribution of RL environments (meta-RL).
    MetaRl,
    /// A continual-learning stream of experiences.
    Continual,
}

impl EnvKind {
    /// The kind in words, with an article ("a few-shot regression task distribution").
    pub fn describe(self) -> &'static str {
        match self {
            EnvKind::FewShotRegression => "a few-shot regression task distribution",
            EnvKind::FewShotClassification => "a few-shot classification task distribution",
            EnvKind::Rl => "an RL environment",
            EnvKind::MetaRl => "a distribution of RL environments",
            EnvKind::Continual => "a continual-learning stream",
        }
    }
}

impl fmt::Display for EnvKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EnvKind::FewShotRegression => "few-shot-regression",
            EnvKind::FewShotClassification => "few-shot-classification",
            EnvKind::Rl => "rl",
            EnvKind::MetaRl => "meta-rl",
            EnvKind::Continual => "continual",
        })
    }
}

/// A built environment.
pub enum EnvInstance {
    /// Few-shot tasks.
    Tasks(Box<dyn TaskDistribution>),
    /// One RL environment.
    Rl(Box<dyn Environment>),
    /// A distribution of RL environments.
    MetaRl(Box<dyn EnvDistribution>),
    /// A continual-learning stream.
    Stream(Box<dyn TaskStream>),
}

impl EnvInstance {
    /// The instance's kind.
    pub fn kind(&self) -> EnvKind {
        match self {
            EnvInstance::Tasks(t) => match t.kind() {
                TaskKind::Regression { .. } => EnvKind::FewShotRegression,
                TaskKind::Classification { .. } => EnvKind::FewShotClassification,
            },
            EnvInstance::Rl(_) => EnvKind::Rl,
            EnvInstance::MetaRl(_) => EnvKind::MetaRl,
            EnvInstance::Stream(_) => EnvKind::Continual,
        }
    }
}

/// A registered environment.
pub struct EnvEntry {
    /// Its name on the command line ("sinusoid").
    pub name: &'static str,
    /// The crate that registered it (filled in by `register_env!`).
    pub crate_name: &'static str,
    /// What it is.
    pub kind: EnvKind,
    /// One line for `autodidact list`.
    pub summary: &'static str,
    /// Its parameters, documented.
    pub params: fn() -> Vec<ParamDoc>,
    /// Its default parameters.
    pub default_config: fn() -> Config,
    /// Builds it from (validated) parameters and a seed.
    pub build: fn(&Config, Seed) -> Result<EnvInstance>,
}

/// A registered algorithm.
pub struct AlgorithmEntry {
    /// Its name on the command line ("maml").
    pub name: &'static str,
    /// The crate that registered it (filled in by `register_algorithm!`).
    pub crate_name: &'static str,
    /// Its family ("gradient-based meta-learning").
    pub family: &'static str,
    /// One line for `autodidact list`.
    pub summary: &'static str,
    /// The environment kinds it trains on.
    pub accepts: &'static [EnvKind],
    /// Its hyperparameters, documented.
    pub params: fn() -> Vec<ParamDoc>,
    /// Its default hyperparameters.
    pub default_config: fn() -> Config,
    /// Builds it from hyperparameters, an environment and a seed.
    pub build: fn(&Config, &EnvSpec, Seed) -> Result<Box<dyn Algorithm>>,
}

inventory::collect!(AlgorithmEntry);
inventory::collect!(EnvEntry);

/// An environment by name with its resolved parameters: builds instances on demand.
#[derive(Clone)]
pub struct EnvSpec {
    /// The registry entry.
    pub entry: &'static EnvEntry,
    /// Its parameters (defaults merged with the user's).
    pub config: Config,
}

impl EnvSpec {
    /// Builds an instance with the given seed.
    pub fn instantiate(&self, seed: Seed) -> Result<EnvInstance> {
        (self.entry.build)(&self.config, seed)
    }
    /// The environment's name.
    pub fn name(&self) -> &'static str {
        self.entry.name
    }
}

/// Registers an algorithm (an [`AlgorithmEntry`] without `crate_name`, which is filled in).
///
/// A third-party crate needs no `inventory` dependency of its own.
#[macro_export]
macro_rules! register_algorithm {
    ($($field:ident : $value:expr),* $(,)?) => {
        $crate::inventory::submit! {
            $crate::registry::AlgorithmEntry {
                crate_name: ::core::env!("CARGO_PKG_NAME"),
                $($field: $value),*
            }
        }
    };
}

/// Registers the algorithms of a family that share one hyperparameter struct.
///
/// Each algorithm gives a summary, its defaults (a function returning the struct with its
/// paper's values) and a build function taking [`Checked`](crate::config::Checked)
/// parameters: the configuration is laid over the algorithm's defaults and checked before
/// `build` is called, so no learner ever sees unvalidated parameters.
///
/// ```ignore
/// autodidact_core::register_family! {
///     family: "gradient-based meta-learning",
///     accepts: FEW_SHOT,
///     params: MetaParams,
///     algorithms: {
///         "maml" => ("MAML (Finn et al. 2017)", maml_defaults, build_maml),
///         "reptile" => ("Reptile (Nichol et al. 2018)", reptile_defaults, build_reptile),
///     }
/// }
/// ```
#[macro_export]
macro_rules! register_family {
    (
        family: $family:expr,
        accepts: $accepts:expr,
        params: $params:ty,
        algorithms: { $($name:literal => ($summary:expr, $defaults:expr, $build:expr)),* $(,)? } $(,)?
    ) => {
        $(
            $crate::register_algorithm! {
                name: $name,
                family: $family,
                summary: $summary,
                accepts: $accepts,
                params: <$params as $crate::config::Hyperparams>::docs,
                default_config: || $crate::config::Hyperparams::to_config(&($defaults)()),
                build: |config, env, seed| {
                    let params: $params = ($defaults)();
                    let checked = $crate::config::Hyperparams::with_config(params, config)?;
                    ($build)(checked, env, seed)
                },
            }
        )*
    };
}

/// Registers an environment (an [`EnvEntry`] without `crate_name`, which is filled in).
#[macro_export]
macro_rules! register_env {
    ($($field:ident : $value:expr),* $(,)?) => {
        $crate::inventory::submit! {
            $crate::registry::EnvEntry {
                crate_name: ::core::env!("CARGO_PKG_NAME"),
                $($field: $value),*
            }
        }
    };
}

/// Every algorithm and environment known to this process.
#[derive(Default)]
pub struct Registry {
    algorithms: Vec<&'static AlgorithmEntry>,
    envs: Vec<&'static EnvEntry>,
}

impl Registry {
    /// The entries linked into this binary; two with one name are an error naming both crates.
    pub fn from_inventory() -> Result<Registry> {
        let mut r = Registry::default();
        for a in inventory::iter::<AlgorithmEntry> {
            r.add_algorithm(a)?;
        }
        for e in inventory::iter::<EnvEntry> {
            r.add_env(e)?;
        }
        r.algorithms.sort_by_key(|a| (a.family, a.name));
        r.envs.sort_by_key(|e| e.name);
        Ok(r)
    }

    /// Adds an algorithm; a taken name is an error naming both crates.
    pub fn add_algorithm(&mut self, entry: &'static AlgorithmEntry) -> Result<()> {
        if let Some(prev) = self.algorithms.iter().find(|a| a.name == entry.name) {
            return Err(CoreError::DuplicateName {
                kind: "algorithm",
                name: entry.name.to_string(),
                first: prev.crate_name.to_string(),
                second: entry.crate_name.to_string(),
            });
        }
        self.algorithms.push(entry);
        Ok(())
    }

    /// Adds an environment; a taken name is an error naming both crates.
    pub fn add_env(&mut self, entry: &'static EnvEntry) -> Result<()> {
        if let Some(prev) = self.envs.iter().find(|e| e.name == entry.name) {
            return Err(CoreError::DuplicateName {
                kind: "environment",
                name: entry.name.to_string(),
                first: prev.crate_name.to_string(),
                second: entry.crate_name.to_string(),
            });
        }
        self.envs.push(entry);
        Ok(())
    }

    /// Every algorithm.
    pub fn algorithms(&self) -> &[&'static AlgorithmEntry] {
        &self.algorithms
    }

    /// Every environment.
    pub fn envs(&self) -> &[&'static EnvEntry] {
        &self.envs
    }

    /// An algorithm by name.
    pub fn algorithm(&self, name: &str) -> Option<&'static AlgorithmEntry> {
        self.algorithms.iter().copied().find(|a| a.name == name)
    }

    /// An environment by name.
    pub fn env(&self, name: &str) -> Option<&'static EnvEntry> {
        self.envs.iter().copied().find(|e| e.name == name)
    }

    /// Up to three known names closest to `name` (for "did you mean").
    pub fn suggest(&self, name: &str) -> Vec<&'static str> {
        let names = self
            .algorithms
            .iter()
            .map(|a| a.name)
            .chain(self.envs.iter().map(|e| e.name));
        let mut scored: Vec<(usize, &'static str)> = names
            .map(|n| (edit_distance(name, n), n))
            .filter(|(d, n)| *d <= 3.max(n.len() / 2) || n.contains(name))
            .collect();
        scored.sort();
        scored.into_iter().take(3).map(|(_, n)| n).collect()
    }

    /// Checks that `algorithm` trains on `env`'s kind; the error is one clear sentence.
    pub fn check_kind(algorithm: &AlgorithmEntry, env_name: &str, kind: EnvKind) -> Result<()> {
        if algorithm.accepts.contains(&kind) {
            return Ok(());
        }
        let expected: Vec<&str> = algorithm.accepts.iter().map(|k| k.describe()).collect();
        Err(CoreError::WrongEnvKind {
            algorithm: algorithm.name.to_string(),
            expected: expected.join(" or "),
            env: env_name.to_string(),
            actual: kind.describe().to_string(),
        })
    }
}

/// Levenshtein distance (for name suggestions).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
