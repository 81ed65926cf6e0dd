//! The agent's configuration: typed fields with defaults, read from TOML, checked by
//! [`AgentConfig::validate`] (errors name the field).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::consolidate::GuardConfig;
use crate::error::{AgentError, Result};
use crate::featurizer::FeaturizerSpec;
use crate::learn::{LearnConfig, Strategy};
use crate::policy::RewardTable;

/// Everything the agent can be configured with.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// Folder of `text,label` CSV files to bootstrap from (read on the first start only).
    pub data: PathBuf,
    /// CSV file names in `data` that are not training data (matched case-insensitively);
    /// `answers.csv` is always read as answers, never as examples.
    pub exclude: Vec<String>,
    /// The SQLite database file, or a PostgreSQL database's URL (`postgres://user@host/db`):
    /// several agent processes (replicas) may share a PostgreSQL database.
    pub db: PathBuf,
    /// How often, in milliseconds, a replica on a shared (PostgreSQL) database reads what the
    /// others wrote: new intents and examples, feedback for its policy, the served model.
    /// Unused with SQLite (one process).
    pub sync_ms: u64,
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Sentence features.
    pub featurizer: FeaturizerSpec,
    /// Longest accepted text, in characters (messages and examples).
    pub max_text_chars: usize,
    /// Longest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Softmax temperature used until there are enough held-out examples to fit one.
    pub temperature: f64,
    /// Held-out examples needed to fit the temperature.
    pub min_held_out: usize,
    /// A fixed out-of-scope threshold (on the scaled squared distance to the nearest
    /// prototype, `consolidate::ood_distance`); when
    /// unset it is fitted as `ood_quantile` of the held-out nearest distances (+10 %).
    pub ood_threshold: Option<f64>,
    /// Quantile of in-scope held-out nearest distances the fitted threshold sits at.
    pub ood_quantile: f64,
    /// The dialogue policy.
    pub policy: PolicyConfig,
    /// Whether feedback saying an answer (or a clarification) resolved the problem, without a
    /// correction, makes the message an example of the predicted intent (as a correction makes
    /// it one of the corrected intent). Such examples are untrusted: never held out, and
    /// judged by the guard like corrections.
    pub learn_from_confirmations: bool,
    /// Out-of-scope threshold fit on held-out intents: the largest share of known texts it
    /// may flag (used unless `ood_threshold` is set).
    pub ood_max_false_rate: f64,
    /// Training the embedding head (bootstrap and consolidation).
    pub learning: LearnConfig,
    /// When and how the background worker consolidates.
    pub consolidation: ConsolidationConfig,
    /// When a consolidated candidate may replace the served model.
    pub guard: GuardConfig,
    /// Batching concurrent messages into one encoder pass.
    pub batch: BatchConfig,
    /// The reply text with `clarify` (followed by the offered intents' names).
    pub clarify_text: String,
    /// The reply text with `handoff`.
    pub handoff_text: String,
    /// The client token (messages and feedback); `AUTODIDACT_CLIENT_TOKEN` when read with
    /// [`AgentConfig::with_env_tokens`]; never written to a file.
    #[serde(skip)]
    pub client_token: Option<String>,
    /// The admin token (everything else); `AUTODIDACT_ADMIN_TOKEN`.
    #[serde(skip)]
    pub admin_token: Option<String>,
}

/// The background consolidation worker.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsolidationConfig {
    /// Whether the server runs the worker (`POST /v1/admin/consolidate` works either way).
    pub enabled: bool,
    /// The continual-learning strategy.
    pub strategy: Strategy,
    /// Consolidate after this many new labelled examples (corrections, new intents).
    pub every_examples: u64,
    /// Or after this many seconds, when there is any new labelled example.
    pub every_seconds: u64,
    /// Seed of the head's initialisation, episodes and memory draws.
    pub seed: u64,
    /// With replicas on one PostgreSQL database: how long a replica's consolidation lease
    /// lasts without renewal (it renews it every third of that while it trains). Another
    /// replica takes over this long after the holder died.
    pub lease_seconds: u64,
    /// Nice value (0–19, Linux) of the thread a consolidation trains and rebuilds on, so it
    /// takes the cores only when requests leave them idle (never below the process's own).
    pub nice: i32,
    /// Most examples learnt from feedback kept in memory per intent (then a seeded uniform
    /// sample of that size; every example stays in the store). The operator's examples are
    /// all kept. Bounds memory and consolidation time under endless feedback.
    pub max_feedback_examples_per_intent: usize,
}

impl Default for ConsolidationConfig {
    fn default() -> Self {
        ConsolidationConfig {
            enabled: true,
            strategy: Strategy::Replay,
            every_examples: 50,
            every_seconds: 600,
            seed: 0,
            lease_seconds: 30,
            nice: 10,
            max_feedback_examples_per_intent: 500,
        }
    }
}

/// Micro-batching of concurrent messages: their texts are embedded in one featurizer call.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// Most texts in one encoder pass.
    pub max_size: usize,
    /// Longest wait for more texts after the first one is queued, in microseconds (0: take
    /// only what is queued already, never wait).
    pub max_wait_us: u64,
    /// Encoder passes running at once (each on a thread of the blocking pool); texts arriving
    /// meanwhile queue up for the next one.
    pub passes: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_size: 32,
            max_wait_us: 2000,
            passes: 1,
        }
    }
}

/// Settings of the contextual bandit.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// LinUCB exploration weight.
    pub alpha: f64,
    /// Weight (in observations) of the prior each action starts from.
    pub prior_weight: f64,
    /// Feedback outcomes per intent in its recent-accuracy window.
    pub accuracy_window: usize,
    /// Rewards from feedback.
    pub rewards: RewardTable,
    /// Also learn what each feedback reveals of the actions not taken (a hand-off's fixed
    /// reward; after a clarification, whether answering would have been right).
    pub counterfactual: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            alpha: 0.2,
            prior_weight: 2.0,
            accuracy_window: 50,
            rewards: RewardTable::default(),
            counterfactual: true,
        }
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            data: PathBuf::from("../shared/data/banking77"),
            exclude: vec!["test.csv".into()],
            db: PathBuf::from("autodidact-agent.db"),
            sync_ms: 1000,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            featurizer: FeaturizerSpec::default(),
            max_text_chars: 2000,
            max_body_bytes: 64 * 1024,
            temperature: 0.1,
            min_held_out: 20,
            ood_threshold: None,
            ood_quantile: 0.99,
            ood_max_false_rate: 0.05,
            learning: LearnConfig::default(),
            consolidation: ConsolidationConfig::default(),
            guard: GuardConfig::default(),
            batch: BatchConfig::default(),
            policy: PolicyConfig::default(),
            learn_from_confirmations: true,
            clarify_text: "Which of these is it about?".into(),
            handoff_text: "Let me pass you to a colleague who can help.".into(),
            client_token: None,
            admin_token: None,
        }
    }
}

impl AgentConfig {
    /// Reads a TOML file (fields not in it keep their defaults) and validates it.
    pub fn from_file(path: &Path) -> Result<AgentConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| AgentError::io(path, e))?;
        let config: AgentConfig = toml::from_str(&text)
            .map_err(|e| AgentError::config(path.display().to_string(), e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Takes the tokens from `AUTODIDACT_CLIENT_TOKEN` and `AUTODIDACT_ADMIN_TOKEN` when set.
    pub fn with_env_tokens(mut self) -> AgentConfig {
        if let Ok(t) = std::env::var("AUTODIDACT_CLIENT_TOKEN") {
            self.client_token = Some(t);
        }
        if let Ok(t) = std::env::var("AUTODIDACT_ADMIN_TOKEN") {
            self.admin_token = Some(t);
        }
        self
    }

    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        let positive = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(AgentError::config(
                    field,
                    format!("{v} must be a positive number"),
                ))
            }
        };
        if !(1..=100_000).contains(&self.max_text_chars) {
            return Err(AgentError::config(
                "max_text_chars",
                "must be in 1..=100000",
            ));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.max_body_bytes) {
            return Err(AgentError::config(
                "max_body_bytes",
                "must be in 1024..=67108864",
            ));
        }
        positive("temperature", self.temperature)?;
        if let Some(t) = self.ood_threshold {
            positive("ood_threshold", t)?;
        }
        if !(self.ood_quantile > 0.0 && self.ood_quantile <= 1.0) {
            return Err(AgentError::config("ood_quantile", "must be in (0, 1]"));
        }
        if self.policy.alpha.is_nan() || self.policy.alpha < 0.0 || self.policy.alpha.is_infinite()
        {
            return Err(AgentError::config(
                "policy.alpha",
                "must be a finite number >= 0",
            ));
        }
        positive("policy.prior_weight", self.policy.prior_weight)?;
        if self.policy.accuracy_window == 0 {
            return Err(AgentError::config(
                "policy.accuracy_window",
                "must be at least 1",
            ));
        }
        self.policy.rewards.validate("policy.rewards")?;
        if !(self.ood_max_false_rate > 0.0 && self.ood_max_false_rate < 1.0) {
            return Err(AgentError::config(
                "ood_max_false_rate",
                format!("{} is not in (0, 1)", self.ood_max_false_rate),
            ));
        }
        self.learning.validate("learning")?;
        self.guard.validate("guard")?;
        if self.consolidation.every_examples == 0 {
            return Err(AgentError::config(
                "consolidation.every_examples",
                "must be at least 1",
            ));
        }
        if !(1..=365 * 86_400).contains(&self.consolidation.every_seconds) {
            return Err(AgentError::config(
                "consolidation.every_seconds",
                "must be in 1..=31536000",
            ));
        }
        if !(1..=86_400).contains(&self.consolidation.lease_seconds) {
            return Err(AgentError::config(
                "consolidation.lease_seconds",
                format!("{} is not in 1..=86400", self.consolidation.lease_seconds),
            ));
        }
        if self.consolidation.max_feedback_examples_per_intent == 0 {
            return Err(AgentError::config(
                "consolidation.max_feedback_examples_per_intent",
                "must be at least 1 (0 would learn nothing from feedback)",
            ));
        }
        if !(0..=19).contains(&self.consolidation.nice) {
            return Err(AgentError::config(
                "consolidation.nice",
                format!(
                    "{} is not in 0..=19 (a nice value: 0 is the request threads' priority, 19 the lowest)",
                    self.consolidation.nice
                ),
            ));
        }
        if !(10..=3_600_000).contains(&self.sync_ms) {
            return Err(AgentError::config(
                "sync_ms",
                format!("{} is not in 10..=3600000", self.sync_ms),
            ));
        }
        if !(1..=1024).contains(&self.batch.max_size) {
            return Err(AgentError::config(
                "batch.max_size",
                format!("{} is not in 1..=1024", self.batch.max_size),
            ));
        }
        if self.batch.max_wait_us > 1_000_000 {
            return Err(AgentError::config(
                "batch.max_wait_us",
                format!(
                    "{} is not in 0..=1000000 (at most one second)",
                    self.batch.max_wait_us
                ),
            ));
        }
        if !(1..=64).contains(&self.batch.passes) {
            return Err(AgentError::config(
                "batch.passes",
                format!("{} is not in 1..=64", self.batch.passes),
            ));
        }
        for (field, token) in [
            ("client_token", &self.client_token),
            ("admin_token", &self.admin_token),
        ] {
            if let Some(t) = token {
                if t.len() < 16 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(AgentError::config(
                        field,
                        "a token needs at least 16 characters and no whitespace",
                    ));
                }
            }
        }
        if self.client_token.is_some() && self.client_token == self.admin_token {
            return Err(AgentError::config(
                "admin_token",
                "must differ from the client token",
            ));
        }
        if let FeaturizerSpec::Hashed { dim } = self.featurizer {
            if dim == 0 || dim > 1 << 20 {
                return Err(AgentError::config(
                    "featurizer.dim",
                    "must be in 1..=1048576",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_fields_are_named() {
        AgentConfig::default().validate().unwrap();
        let bad = |c: AgentConfig| match c.validate() {
            Err(AgentError::Config { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            bad(AgentConfig {
                temperature: 0.0,
                ..AgentConfig::default()
            }),
            "temperature"
        );
        let mut c = AgentConfig::default();
        c.policy.rewards.handoff = f64::INFINITY;
        assert_eq!(bad(c), "policy.rewards.handoff");
        let mut c = AgentConfig::default();
        c.batch.max_size = 0;
        assert_eq!(bad(c), "batch.max_size");
        let mut c = AgentConfig::default();
        c.batch.max_wait_us = 2_000_000;
        assert_eq!(bad(c), "batch.max_wait_us");
        assert_eq!(
            bad(AgentConfig {
                client_token: Some("short".into()),
                ..AgentConfig::default()
            }),
            "client_token"
        );
    }

    #[test]
    fn toml_overrides_keep_the_other_defaults_and_reject_unknown_keys() {
        let c: AgentConfig = toml::from_str(
            "bind = \"0.0.0.0:9000\"\n[featurizer]\nkind = \"hashed\"\ndim = 512\n[policy.rewards]\nhandoff = -0.5\n",
        )
        .unwrap();
        assert_eq!(c.featurizer, FeaturizerSpec::Hashed { dim: 512 });
        assert_eq!(c.policy.rewards.handoff, -0.5);
        assert_eq!(c.policy.rewards.answer_resolved, 1.0);
        assert_eq!(c.max_body_bytes, 65536);
        assert!(toml::from_str::<AgentConfig>("temprature = 1.0").is_err());
        let c: AgentConfig = toml::from_str("[batch]\nmax_wait_us = 0\n").unwrap();
        assert_eq!(c.batch.max_wait_us, 0);
        assert_eq!(c.batch.max_size, 32);
        assert!(toml::from_str::<AgentConfig>("[batch]\nmax_sise = 4\n").is_err());
    }

    #[test]
    fn a_nice_value_outside_0_to_19_is_refused_naming_the_key() {
        assert_eq!(AgentConfig::default().consolidation.nice, 10);
        for ok in [0, 19] {
            let c: AgentConfig =
                toml::from_str(&format!("[consolidation]\nnice = {ok}\n")).unwrap();
            c.validate().unwrap();
        }
        for bad in [-1, 20, 40] {
            let c: AgentConfig =
                toml::from_str(&format!("[consolidation]\nnice = {bad}\n")).unwrap();
            let e = c.validate().unwrap_err();
            assert!(
                matches!(&e, AgentError::Config { field, .. } if field == "consolidation.nice"),
                "{e:?}"
            );
            assert!(e.to_string().contains(&bad.to_string()), "{e}");
        }
    }
}
