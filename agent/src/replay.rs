//! The replay benchmark: simulated customers against the agent, wave after wave of new
//! intents, through the same calls the HTTP handlers make (`create_intent`, `message`,
//! `feedback`, `consolidate`).
//!
//! The protocol (every number configurable): the data's intents are shuffled by the seed and
//! cut into `waves` groups. The agent bootstraps on the first group with all its training
//! rows. In each later wave an operator adds the group's intents with `intro` examples each;
//! then `queries` customer messages, drawn from the training rows of every intent introduced
//! so far (never the introduction rows), arrive in random order; a share `feedback_rate` of
//! customers give feedback, a share `noise` of which names a wrong intent. Scored: online
//! accuracy (each message before its feedback) and held-out accuracy on `test.csv`, which is
//! never sent to the agent, right after each introduction and at the end of each wave.
//!
//! Each [`Variant`] replays the same stream on its own database: the configured agent and the
//! baselines (frozen prototypes, prototypes from feedback only, naive fine-tuning, joint
//! retraining from scratch).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use autodidact_core::rng::Seed;
use autodidact_envs::intents::{read_csv_bytes, TextRow};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::config::AgentConfig;
use crate::error::{AgentError, Result};
use crate::featurizer::{Featurizer, FeaturizerSpec};
use crate::learn::Strategy;
use crate::policy::{Action, RewardTable};
use crate::service::{Agent, MessageReply, MAX_PREDICT};
use crate::store::SqliteStore;

/// What a replayed agent does with feedback and when it retrains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// The bootstrap model, prototypes from the introduction examples only: feedback trains
    /// the policy but adds no example.
    Frozen,
    /// Corrections become examples (prototypes move), never a consolidation.
    Feedback,
    /// Consolidation by plain fine-tuning on the new examples (no guard).
    Naive,
    /// Consolidation with class-balanced replay (the agent's default), guarded.
    Replay,
    /// Consolidation with EWC, guarded.
    Ewc,
    /// Consolidation with LwF, guarded.
    Lwf,
    /// Retraining from scratch on every example at the end of every wave (the upper bound;
    /// no guard).
    Joint,
    /// The agent served at `--url`, consolidating with its own worker as configured there.
    Server,
}

impl Variant {
    /// Every variant, in report order.
    pub const ALL: [Variant; 8] = [
        Variant::Frozen,
        Variant::Feedback,
        Variant::Naive,
        Variant::Replay,
        Variant::Ewc,
        Variant::Lwf,
        Variant::Joint,
        Variant::Server,
    ];

    /// The name used in files and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Frozen => "frozen",
            Variant::Feedback => "feedback",
            Variant::Naive => "naive",
            Variant::Replay => "replay",
            Variant::Ewc => "ewc",
            Variant::Lwf => "lwf",
            Variant::Joint => "joint",
            Variant::Server => "server",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The strategy the worker consolidates with as new examples arrive (none: never).
    fn strategy(self) -> Option<Strategy> {
        match self {
            Variant::Naive => Some(Strategy::Naive),
            Variant::Replay => Some(Strategy::Replay),
            Variant::Ewc => Some(Strategy::Ewc),
            Variant::Lwf => Some(Strategy::Lwf),
            Variant::Frozen | Variant::Feedback | Variant::Joint | Variant::Server => None,
        }
    }

    /// Whether the guard judges candidates (baselines show their strategy unguarded).
    fn guarded(self) -> bool {
        matches!(self, Variant::Replay | Variant::Ewc | Variant::Lwf)
    }
}

/// The replay protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplayConfig {
    /// Folder with `train.csv` and `test.csv` (`text,label`).
    pub data: PathBuf,
    /// Groups the intents are cut into (the first bootstraps the agent).
    pub waves: usize,
    /// Examples an operator gives for each new intent.
    pub intro: usize,
    /// Customer messages per wave after the first.
    pub queries: usize,
    /// Share of customers who give feedback.
    pub feedback_rate: f64,
    /// Share of feedback that names a wrong intent.
    pub noise: f64,
    /// Seed of the intent order, the introduction examples, the messages and the feedback.
    pub seed: u64,
    /// The agents replayed, each on its own database.
    pub variants: Vec<Variant>,
    /// The agent's configuration (`data`, `db` and tokens are set per variant).
    pub agent: AgentConfig,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            data: PathBuf::from("../shared/data/banking77"),
            waves: 7,
            intro: 5,
            queries: 1000,
            feedback_rate: 0.5,
            noise: 0.05,
            seed: 0,
            variants: vec![
                Variant::Frozen,
                Variant::Feedback,
                Variant::Naive,
                Variant::Replay,
                Variant::Joint,
            ],
            agent: AgentConfig::default(),
        }
    }
}

impl ReplayConfig {
    /// Checks the protocol's numbers, naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.waves < 2 {
            return Err(AgentError::config("waves", "must be at least 2"));
        }
        if self.intro == 0 {
            return Err(AgentError::config("intro", "must be at least 1"));
        }
        if self.queries == 0 {
            return Err(AgentError::config("queries", "must be at least 1"));
        }
        for (field, v) in [("feedback_rate", self.feedback_rate), ("noise", self.noise)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(AgentError::config(field, format!("{v} is not in [0, 1]")));
            }
        }
        if self.variants.is_empty() {
            return Err(AgentError::config("variants", "name at least one"));
        }
        self.agent.validate()
    }
}

/// The data, cut into waves.
#[derive(Debug)]
struct Stream {
    /// Intent names of each wave.
    waves: Vec<Vec<String>>,
    /// Training rows of each intent.
    train: BTreeMap<String, Vec<String>>,
    /// Test rows of each intent.
    test: BTreeMap<String, Vec<String>>,
    /// Introduction examples of each intent of waves after the first.
    intro: HashMap<String, Vec<String>>,
    /// Customer messages of each wave after the first: `(text, intent)`.
    queries: Vec<Vec<(String, String)>>,
}

fn read_rows(path: &Path) -> Result<Vec<TextRow>> {
    let bytes = std::fs::read(path).map_err(|e| AgentError::io(path, e))?;
    Ok(read_csv_bytes(
        &bytes,
        &path.display().to_string(),
        "text",
        "",
    )?)
}

fn by_intent(rows: Vec<TextRow>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        out.entry(r.label).or_default().push(r.text);
    }
    out
}

impl Stream {
    fn new(c: &ReplayConfig) -> Result<Stream> {
        let train = by_intent(read_rows(&c.data.join("train.csv"))?);
        let test = by_intent(read_rows(&c.data.join("test.csv"))?);
        let seed = Seed(c.seed);
        let mut names: Vec<String> = train.keys().cloned().collect();
        if names.len() < c.waves {
            return Err(AgentError::config(
                "waves",
                format!(
                    "{} waves but {} holds only {} intents",
                    c.waves,
                    c.data.join("train.csv").display(),
                    names.len()
                ),
            ));
        }
        names.shuffle(&mut seed.rng("replay-order"));
        let (n, k) = (names.len(), c.waves);
        let waves: Vec<Vec<String>> = (0..k)
            .map(|w| names[w * n / k..(w + 1) * n / k].to_vec())
            .collect();
        let wave_of: HashMap<String, usize> = waves
            .iter()
            .enumerate()
            .flat_map(|(w, names)| names.iter().map(move |n| (n.clone(), w)))
            .collect();
        let mut rng = seed.rng("replay-intro");
        let mut intro = HashMap::new();
        let mut pool: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, rows) in &train {
            let mut rows = rows.clone();
            if wave_of.get(name).copied().unwrap_or(0) > 0 {
                if rows.len() <= c.intro {
                    return Err(AgentError::config(
                        "intro",
                        format!(
                            "intent {name:?} has {} training rows; it needs more than intro = {} to leave customer messages",
                            rows.len(),
                            c.intro
                        ),
                    ));
                }
                rows.shuffle(&mut rng);
                intro.insert(name.clone(), rows.drain(..c.intro).collect::<Vec<_>>());
            }
            pool.insert(name.clone(), rows);
        }
        let mut rng = seed.rng("replay-queries");
        let mut queries = vec![Vec::new()];
        for w in 1..k {
            let open: Vec<(String, String)> = waves[..=w]
                .iter()
                .flatten()
                .flat_map(|name| {
                    pool.get(name)
                        .into_iter()
                        .flatten()
                        .map(move |t| (t.clone(), name.clone()))
                })
                .collect();
            let draws: Vec<(String, String)> = if open.len() >= c.queries {
                open.choose_multiple(&mut rng, c.queries).cloned().collect()
            } else {
                (0..c.queries)
                    .filter_map(|_| open.choose(&mut rng).cloned())
                    .collect()
            };
            queries.push(draws);
        }
        Ok(Stream {
            waves,
            train,
            test,
            intro,
            queries,
        })
    }

    /// The bootstrap folder: the first wave's training rows as `train.csv`.
    fn write_bootstrap(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| AgentError::io(dir, e))?;
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut text = String::from("text,label\n");
        for name in &self.waves[0] {
            for t in self.train.get(name).into_iter().flatten() {
                text.push_str(&format!("{},{}\n", quote(t), quote(name)));
            }
        }
        let path = dir.join("train.csv");
        std::fs::write(&path, text).map_err(|e| AgentError::io(&path, e))
    }

    /// Every text the replay will embed.
    fn texts(&self) -> Vec<&str> {
        self.train
            .values()
            .chain(self.test.values())
            .flatten()
            .map(String::as_str)
            .collect()
    }
}

/// Held-out accuracy: micro-averaged over test rows, per wave's intents.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    /// Accuracy over every introduced intent's test rows.
    pub all: f64,
    /// Accuracy on each introduced wave's intents (index = wave).
    pub by_wave: Vec<f64>,
    /// Recall of each introduced intent.
    pub per_intent: BTreeMap<String, f64>,
}

/// One point of a variant's curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaveRecord {
    /// The variant.
    pub variant: Variant,
    /// The wave (0 = bootstrap).
    pub wave: usize,
    /// `introduced` (right after the new intents, before any message) or `end`.
    pub phase: String,
    /// Customer messages sent so far.
    pub messages: usize,
    /// Held-out accuracy.
    pub held_out: HeldOut,
    /// Online accuracy over this wave's messages (at `end`).
    pub online_accuracy: Option<f64>,
    /// Share of this wave's messages handed off.
    pub handoff_rate: Option<f64>,
    /// Share answered.
    pub answer_rate: Option<f64>,
    /// Mean reward of this wave's messages (the reward table on the simulated outcome).
    pub mean_reward: Option<f64>,
    /// Served model version.
    pub model_version: i64,
    /// Consolidations so far, and how many the guard refused.
    pub consolidations: usize,
    /// Refused consolidations so far.
    pub refused: usize,
    /// Seconds since this variant started.
    pub seconds: f64,
}

/// What a message's outcome was, for the policy comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Outcome {
    confidence: f64,
    out_of_scope: bool,
    correct: bool,
    in_alternatives: bool,
    reward: f64,
}

/// The best fixed-threshold policy in hindsight: answer at or above `answer_at`, clarify at
/// or above `clarify_at`, hand off below.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Lowest confidence answered.
    pub answer_at: f64,
    /// Lowest confidence clarified.
    pub clarify_at: f64,
    /// Its mean reward over the variant's messages.
    pub mean_reward: f64,
}

/// The mean reward the fixed-threshold policy (answer at or above `a`, clarify at or above `c`,
/// hand off below) would have earned on `outcomes` (the simulated customer's outcome does not
/// depend on the policy: an answer resolves when the intent is right, a clarification when the
/// right intent is offered).
fn threshold_reward(outcomes: &[Outcome], rewards: &RewardTable, a: f64, c: f64) -> f64 {
    let total: f64 = outcomes
        .iter()
        .map(|o| {
            if o.confidence >= a && !o.out_of_scope {
                rewards.reward(Action::Answer, o.correct)
            } else if o.confidence >= c {
                rewards.reward(Action::Clarify, o.in_alternatives)
            } else {
                rewards.reward(Action::Handoff, false)
            }
        })
        .sum();
    total / outcomes.len().max(1) as f64
}

/// The best fixed-threshold policy on `outcomes`, over a 41 × 41 grid of thresholds.
fn best_thresholds(outcomes: &[Outcome], rewards: &RewardTable) -> Option<Thresholds> {
    if outcomes.is_empty() {
        return None;
    }
    let grid: Vec<f64> = (0..=40).map(|i| f64::from(i) / 40.0).collect();
    let mut best: Option<Thresholds> = None;
    for &a in &grid {
        for &c in grid.iter().filter(|&&c| c <= a) {
            let mean = threshold_reward(outcomes, rewards, a, c);
            if best.as_ref().is_none_or(|b| mean > b.mean_reward) {
                best = Some(Thresholds {
                    answer_at: a,
                    clarify_at: c,
                    mean_reward: mean,
                });
            }
        }
    }
    best
}

/// Thresholds fixed in advance rather than in hindsight: the best on the earlier half of the
/// messages, scored with the learned policy on the later half.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixedInAdvance {
    /// The thresholds best on the earlier half (and their reward there).
    pub chosen: Thresholds,
    /// Their mean reward on the later half.
    pub later_reward: f64,
    /// The learned policy's mean reward on the later half.
    pub policy_later_reward: f64,
}

/// [`FixedInAdvance`] of a variant's messages in arrival order (`None` with fewer than two).
fn fixed_in_advance(outcomes: &[Outcome], rewards: &RewardTable) -> Option<FixedInAdvance> {
    let (earlier, later) = outcomes.split_at(outcomes.len() / 2);
    if later.is_empty() {
        return None;
    }
    let chosen = best_thresholds(earlier, rewards)?;
    Some(FixedInAdvance {
        later_reward: threshold_reward(later, rewards, chosen.answer_at, chosen.clarify_at),
        policy_later_reward: later.iter().map(|o| o.reward).sum::<f64>() / later.len() as f64,
        chosen,
    })
}

/// A variant's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantSummary {
    /// The variant.
    pub variant: Variant,
    /// Held-out accuracy on every intent after the last wave.
    pub final_all: f64,
    /// On the first wave's intents after the last wave.
    pub final_first_wave: f64,
    /// On the last wave's intents after the last wave.
    pub final_last_wave: f64,
    /// Points the first wave's intents lost between the end of their wave and the end.
    pub first_wave_drop: f64,
    /// Mean over waves of the new intents' held-out accuracy right after their introduction
    /// (before any message or consolidation).
    pub new_intent_recall: f64,
    /// Mean points each wave's intents lost between the end of their wave and the end
    /// (average forgetting over the waves before the last).
    pub mean_forgetting: f64,
    /// Online accuracy over every message.
    pub online_accuracy: f64,
    /// Share of messages handed off.
    pub handoff_rate: f64,
    /// Mean reward of the learned policy's actions.
    pub mean_reward: f64,
    /// The best fixed thresholds in hindsight on the same messages.
    pub best_fixed: Option<Thresholds>,
    /// The best thresholds on the earlier half of the messages against the learned policy on
    /// the later half.
    #[serde(default)]
    pub fixed_in_advance: Option<FixedInAdvance>,
    /// Consolidations run and refused.
    pub consolidations: usize,
    /// Refused by the guard.
    pub refused: usize,
    /// Seconds the bootstrap took.
    pub bootstrap_seconds: f64,
    /// Seconds in all.
    pub seconds: f64,
}

/// Everything a replay measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayReport {
    /// Each variant's curve points, in order.
    pub records: Vec<WaveRecord>,
    /// Each variant's summary.
    pub summaries: Vec<VariantSummary>,
    /// Intents of each wave.
    pub waves: Vec<Vec<String>>,
    /// Seconds embedding every text once.
    pub embed_seconds: f64,
}

/// What the replay drives: the agent in this process, or a server over HTTP.
#[allow(async_fn_in_trait)]
pub trait Target {
    /// `POST /v1/intents`.
    async fn create_intent(&self, name: &str, examples: &[String], answer: &str) -> Result<()>;
    /// `POST /v1/messages`.
    async fn message(&self, text: &str, session: &str) -> Result<MessageReply>;
    /// `POST /v1/messages/{id}/feedback`.
    async fn feedback(&self, id: i64, resolved: bool, correct_intent: Option<&str>) -> Result<()>;
    /// `POST /v1/admin/predict`: the predicted intent of each text, nothing stored.
    async fn predict(&self, texts: &[String]) -> Result<Vec<String>>;
    /// `POST /v1/admin/consolidate`: whether the candidate is now served.
    async fn consolidate(&self, strategy: Strategy, from_scratch: bool) -> Result<bool>;
    /// Labelled examples since the last consolidation started (what wakes the worker).
    fn pending(&self) -> u64;
    /// The served model version and the stored versions after the bootstrap: `(served,
    /// consolidations, refused)`.
    async fn versions(&self) -> Result<(i64, usize, usize)>;
}

impl Target for Agent {
    async fn create_intent(&self, name: &str, examples: &[String], answer: &str) -> Result<()> {
        Agent::create_intent(self, name, examples, answer)
            .await
            .map(|_| ())
    }
    async fn message(&self, text: &str, session: &str) -> Result<MessageReply> {
        Agent::message(self, text, session).await
    }
    async fn feedback(&self, id: i64, resolved: bool, correct_intent: Option<&str>) -> Result<()> {
        Agent::feedback(self, id, resolved, correct_intent)
            .await
            .map(|_| ())
    }
    async fn predict(&self, texts: &[String]) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(MAX_PREDICT) {
            out.extend(
                self.predict_many(chunk)
                    .await?
                    .iter()
                    .map(|p| p.intent().to_string()),
            );
        }
        Ok(out)
    }
    async fn consolidate(&self, strategy: Strategy, from_scratch: bool) -> Result<bool> {
        Ok(Agent::consolidate(self, Some(strategy), from_scratch)
            .await?
            .accepted)
    }
    fn pending(&self) -> u64 {
        self.pending_examples()
    }
    async fn versions(&self) -> Result<(i64, usize, usize)> {
        let (models, _) = self.models().await?;
        let refused = models.iter().filter(|m| m.status != "accepted").count();
        Ok((
            self.served_version(),
            models.len().saturating_sub(1),
            refused,
        ))
    }
}

/// Held-out accuracy of the served model on the test rows of the intents of waves `..=upto`.
async fn held_out(target: &impl Target, stream: &Stream, upto: usize) -> Result<HeldOut> {
    let names: Vec<(usize, &String)> = stream.waves[..=upto]
        .iter()
        .enumerate()
        .flat_map(|(w, names)| names.iter().map(move |n| (w, n)))
        .collect();
    let mut texts = Vec::new();
    let mut labels = Vec::new();
    for &(w, name) in &names {
        for t in stream.test.get(name).into_iter().flatten() {
            texts.push(t.clone());
            labels.push((w, name));
        }
    }
    let predicted = target.predict(&texts).await?;
    let mut by_wave = vec![(0usize, 0usize); upto + 1];
    let mut per_intent: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (p, (w, name)) in predicted.iter().zip(&labels) {
        let right = usize::from(p == *name);
        by_wave[*w].0 += right;
        by_wave[*w].1 += 1;
        let e = per_intent.entry((*name).clone()).or_default();
        e.0 += right;
        e.1 += 1;
    }
    let ratio = |(a, b): (usize, usize)| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let total = by_wave
        .iter()
        .fold((0, 0), |acc, x| (acc.0 + x.0, acc.1 + x.1));
    Ok(HeldOut {
        all: ratio(total),
        by_wave: by_wave.into_iter().map(ratio).collect(),
        per_intent: per_intent.into_iter().map(|(k, v)| (k, ratio(v))).collect(),
    })
}

/// Replays the stream against every configured variant, in this process; `progress` hears
/// each record as it is made (to print or log it).
pub async fn run(
    config: &ReplayConfig,
    work: &Path,
    featurizer: Arc<dyn Featurizer>,
    mut progress: impl FnMut(&WaveRecord),
) -> Result<ReplayReport> {
    config.validate()?;
    if config.variants.contains(&Variant::Server) {
        return Err(AgentError::config(
            "variants",
            "`server` names the agent at --url; in-process replays take the others",
        ));
    }
    let stream = Stream::new(config)?;
    let t0 = Instant::now();
    let texts = stream.texts();
    let memo = Arc::new(crate::featurizer::Memo::new(featurizer));
    {
        let memo = Arc::clone(&memo);
        let texts: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            memo.prefill(&refs)
        })
        .await
        .map_err(|e| AgentError::Internal(e.to_string()))??;
    }
    let embed_seconds = t0.elapsed().as_secs_f64();
    let bootstrap_dir = work.join("bootstrap");
    stream.write_bootstrap(&bootstrap_dir)?;
    let mut records = Vec::new();
    let mut summaries = Vec::new();
    for &variant in &config.variants {
        let t0 = Instant::now();
        let agent = open_variant(config, work, &bootstrap_dir, &memo, variant).await?;
        let bootstrap_seconds = t0.elapsed().as_secs_f64();
        let (recs, summary) = drive(
            config,
            &stream,
            &agent,
            variant,
            t0,
            bootstrap_seconds,
            &mut progress,
        )
        .await?;
        records.extend(recs);
        summaries.push(summary);
    }
    Ok(ReplayReport {
        records,
        summaries,
        waves: stream.waves.clone(),
        embed_seconds,
    })
}

/// Replays the stream against the agent served at `client.url` (variant `server`): the
/// server must have been started on a fresh database with `--data WORK/bootstrap` (written
/// here first), and consolidates with its own worker.
pub async fn run_remote(
    config: &ReplayConfig,
    work: &Path,
    client: &crate::remote::Client,
    mut progress: impl FnMut(&WaveRecord),
) -> Result<ReplayReport> {
    config.validate()?;
    let stream = Stream::new(config)?;
    let bootstrap_dir = work.join("bootstrap");
    stream.write_bootstrap(&bootstrap_dir)?;
    let mut served: Vec<String> = client
        .intents()
        .await?
        .into_iter()
        .filter(|i| i.active)
        .map(|i| i.name)
        .collect();
    served.sort();
    let mut first = stream.waves[0].clone();
    first.sort();
    if served != first {
        return Err(AgentError::config(
            "url",
            format!(
                "the server at {} serves {} intents, not this replay's first wave ({}); start it on a new --db with --data {}",
                client.url,
                served.len(),
                first.len(),
                bootstrap_dir.display()
            ),
        ));
    }
    let t0 = Instant::now();
    let (records, summary) = drive(
        config,
        &stream,
        client,
        Variant::Server,
        t0,
        0.0,
        &mut progress,
    )
    .await?;
    Ok(ReplayReport {
        records,
        summaries: vec![summary],
        waves: stream.waves.clone(),
        embed_seconds: 0.0,
    })
}

/// A variant's agent on a new database in `work`, bootstrapped on the first wave.
async fn open_variant(
    config: &ReplayConfig,
    work: &Path,
    bootstrap_dir: &Path,
    memo: &Arc<crate::featurizer::Memo>,
    variant: Variant,
) -> Result<Agent> {
    let mut agent_config = config.agent.clone();
    agent_config.data = bootstrap_dir.to_path_buf();
    agent_config.exclude = Vec::new();
    agent_config.db = work.join(format!("{}.db", variant.as_str()));
    agent_config.client_token = Some("replay-client-token-0000".into());
    agent_config.admin_token = Some("replay-admin-token-00000".into());
    agent_config.guard.enabled = config.agent.guard.enabled && variant.guarded();
    if variant == Variant::Frozen {
        agent_config.learn_from_confirmations = false;
    }
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", agent_config.db.display()));
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| AgentError::io(&p, e))?;
        }
    }
    let store = SqliteStore::open(&agent_config.db).await?;
    let featurizer: Arc<dyn Featurizer> = Arc::clone(memo) as Arc<dyn Featurizer>;
    Agent::with_featurizer(agent_config, store, featurizer).await
}

/// The stream against one target: introductions, customers, feedback, consolidations as
/// the variant makes them, and the scores.
async fn drive(
    config: &ReplayConfig,
    stream: &Stream,
    target: &impl Target,
    variant: Variant,
    t0: Instant,
    bootstrap_seconds: f64,
    progress: &mut impl FnMut(&WaveRecord),
) -> Result<(Vec<WaveRecord>, VariantSummary)> {
    let every = config.agent.consolidation.every_examples;
    let rewards = config.agent.policy.rewards.clone();
    let mut rng = Seed(config.seed).rng("replay-customers");
    let mut messages = 0usize;
    let mut records = Vec::new();
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut online = (0usize, 0usize);
    let point = |wave: usize,
                 phase: &str,
                 held_out: HeldOut,
                 wave_outcomes: &[Outcome],
                 actions: [usize; 3],
                 versions: (i64, usize, usize),
                 messages: usize| {
        let n = wave_outcomes.len();
        let share = |k: usize| (n > 0).then(|| k as f64 / n as f64);
        WaveRecord {
            variant,
            wave,
            phase: phase.to_string(),
            messages,
            held_out,
            online_accuracy: share(wave_outcomes.iter().filter(|o| o.correct).count()),
            handoff_rate: share(actions[2]),
            answer_rate: share(actions[0]),
            mean_reward: (n > 0)
                .then(|| wave_outcomes.iter().map(|o| o.reward).sum::<f64>() / n as f64),
            model_version: versions.0,
            consolidations: versions.1,
            refused: versions.2,
            seconds: t0.elapsed().as_secs_f64(),
        }
    };
    let mut emit = |r: WaveRecord, records: &mut Vec<WaveRecord>| {
        progress(&r);
        records.push(r);
    };
    emit(
        point(
            0,
            "end",
            held_out(target, stream, 0).await?,
            &[],
            [0; 3],
            target.versions().await?,
            0,
        ),
        &mut records,
    );
    let mut handoffs = 0usize;
    for w in 1..stream.waves.len() {
        for name in &stream.waves[w] {
            let examples = stream.intro.get(name).cloned().unwrap_or_default();
            target
                .create_intent(name, &examples, &format!("[answer for `{name}`]"))
                .await?;
        }
        emit(
            point(
                w,
                "introduced",
                held_out(target, stream, w).await?,
                &[],
                [0; 3],
                target.versions().await?,
                messages,
            ),
            &mut records,
        );
        let introduced: Vec<&String> = stream.waves[..=w].iter().flatten().collect();
        let mut wave_outcomes = Vec::new();
        let mut actions = [0usize; 3];
        for (i, (text, label)) in stream.queries[w].iter().enumerate() {
            let reply = target.message(text, &format!("replay-{w}-{i}")).await?;
            messages += 1;
            let correct = reply.intent == *label;
            let in_alternatives = reply.alternatives.iter().any(|a| a.intent == *label);
            // The simulated customer: an answer resolves when its intent is right, a
            // clarification when the right intent is offered; a hand-off goes to a human
            // (its reward does not depend on the outcome; `resolved` then says whether the
            // prediction was right, so the intent's recent accuracy stays true).
            let resolved = match reply.action {
                Action::Answer | Action::Handoff => correct,
                Action::Clarify => in_alternatives,
            };
            let k = Action::ALL
                .iter()
                .position(|a| *a == reply.action)
                .unwrap_or(2);
            actions[k] += 1;
            wave_outcomes.push(Outcome {
                confidence: reply.confidence,
                out_of_scope: reply.intent == crate::classifier::OUT_OF_SCOPE,
                correct,
                in_alternatives,
                reward: rewards.reward(reply.action, resolved),
            });
            online.0 += usize::from(correct);
            online.1 += 1;
            if rng.random::<f64>() < config.feedback_rate {
                let noisy = rng.random::<f64>() < config.noise;
                let (resolved, correct_intent) = if noisy {
                    let wrong: Vec<&&String> = introduced
                        .iter()
                        .filter(|n| ***n != *label && ***n != reply.intent)
                        .collect();
                    (false, wrong.choose(&mut rng).map(|n| n.as_str()))
                } else {
                    (resolved, (!correct).then_some(label.as_str()))
                };
                let correct_intent = correct_intent.filter(|_| variant != Variant::Frozen);
                target.feedback(reply.id, resolved, correct_intent).await?;
            }
            if let Some(strategy) = variant.strategy() {
                if target.pending() >= every {
                    target.consolidate(strategy, false).await?;
                }
            }
        }
        match (variant, variant.strategy()) {
            (Variant::Joint, _) => {
                target.consolidate(Strategy::Joint, true).await?;
            }
            (_, Some(strategy)) if target.pending() > 0 => {
                target.consolidate(strategy, false).await?;
            }
            _ => {}
        }
        handoffs += actions[2];
        let held = held_out(target, stream, w).await?;
        emit(
            point(
                w,
                "end",
                held,
                &wave_outcomes,
                actions,
                target.versions().await?,
                messages,
            ),
            &mut records,
        );
        outcomes.extend(wave_outcomes);
    }
    let summary = summarise(
        variant,
        stream.waves.len(),
        &records,
        &outcomes,
        (online, handoffs),
        &rewards,
        (bootstrap_seconds, t0.elapsed().as_secs_f64()),
    );
    Ok((records, summary))
}

/// A variant's summary from its records and message outcomes.
fn summarise(
    variant: Variant,
    waves: usize,
    records: &[WaveRecord],
    outcomes: &[Outcome],
    (online, handoffs): ((usize, usize), usize),
    rewards: &RewardTable,
    (bootstrap_seconds, seconds): (f64, f64),
) -> VariantSummary {
    let ends: Vec<&WaveRecord> = records.iter().filter(|r| r.phase == "end").collect();
    let last = ends
        .last()
        .map(|r| &r.held_out)
        .cloned()
        .unwrap_or_default();
    let at_own_end = |w: usize| {
        ends.iter()
            .find(|r| r.wave == w)
            .and_then(|r| r.held_out.by_wave.get(w).copied())
            .unwrap_or(0.0)
    };
    let forgetting: Vec<f64> = (0..waves - 1)
        .map(|w| 100.0 * (at_own_end(w) - last.by_wave.get(w).copied().unwrap_or(0.0)))
        .collect();
    let introduced: Vec<f64> = records
        .iter()
        .filter(|r| r.phase == "introduced")
        .filter_map(|r| r.held_out.by_wave.get(r.wave).copied())
        .collect();
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let n = outcomes.len().max(1) as f64;
    let last_record = records.last();
    VariantSummary {
        variant,
        final_all: last.all,
        final_first_wave: last.by_wave.first().copied().unwrap_or(0.0),
        final_last_wave: last.by_wave.last().copied().unwrap_or(0.0),
        first_wave_drop: forgetting.first().copied().unwrap_or(0.0),
        new_intent_recall: mean(&introduced),
        mean_forgetting: mean(&forgetting),
        online_accuracy: online.0 as f64 / online.1.max(1) as f64,
        handoff_rate: handoffs as f64 / n,
        mean_reward: outcomes.iter().map(|o| o.reward).sum::<f64>() / n,
        best_fixed: best_thresholds(outcomes, rewards),
        fixed_in_advance: fixed_in_advance(outcomes, rewards),
        consolidations: last_record.map_or(0, |r| r.consolidations),
        refused: last_record.map_or(0, |r| r.refused),
        bootstrap_seconds,
        seconds,
    }
}

/// [`run`] on a runtime of its own, with the featurizer `config.agent.featurizer` names.
pub fn run_blocking(
    config: &ReplayConfig,
    work: &Path,
    progress: impl FnMut(&WaveRecord),
) -> Result<ReplayReport> {
    config.validate()?;
    let featurizer = crate::featurizer::build(&config.agent.featurizer)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AgentError::io("tokio runtime", e))?;
    runtime.block_on(run(config, work, featurizer, progress))
}

/// [`run_remote`] on a runtime of its own.
pub fn run_remote_blocking(
    config: &ReplayConfig,
    work: &Path,
    url: &str,
    client_token: &str,
    admin_token: &str,
    progress: impl FnMut(&WaveRecord),
) -> Result<ReplayReport> {
    config.validate()?;
    let client = crate::remote::Client::new(url, client_token, admin_token)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AgentError::io("tokio runtime", e))?;
    runtime.block_on(run_remote(config, work, &client, progress))
}

/// The targets for a featurizer: final accuracy on all intents, most points the
/// first wave may lose, least immediate recall of a new intent.
pub fn targets(featurizer: &FeaturizerSpec) -> (f64, f64, f64) {
    match featurizer {
        FeaturizerSpec::Minilm { .. } => (0.90, 3.0, 0.70),
        FeaturizerSpec::Hashed { .. } => (0.85, 5.0, 0.60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(confidence: f64, correct: bool, in_alternatives: bool) -> Outcome {
        Outcome {
            confidence,
            out_of_scope: false,
            correct,
            in_alternatives,
            reward: 0.0,
        }
    }

    #[test]
    fn the_best_thresholds_answer_the_confident_and_hand_off_the_rest() {
        let rewards = RewardTable::default();
        // Confident messages are right, unconfident ones wrong and not among the offered
        // intents either: answer above 0.5, hand off below.
        let mut o = vec![outcome(0.9, true, true); 10];
        o.extend(vec![outcome(0.2, false, false); 10]);
        let best = best_thresholds(&o, &rewards).expect("messages");
        assert!(best.answer_at > 0.2 && best.answer_at <= 0.9, "{best:?}");
        assert!(best.clarify_at > 0.2, "{best:?}");
        assert!((best.mean_reward - (10.0 * 1.0 - 10.0 * 0.3) / 20.0).abs() < 1e-12);
        // When the right intent is always offered, clarifying the unconfident pays more.
        let mut o = vec![outcome(0.9, true, true); 10];
        o.extend(vec![outcome(0.2, false, true); 10]);
        let best = best_thresholds(&o, &rewards).expect("messages");
        assert!(best.clarify_at <= 0.2, "{best:?}");
        assert!((best.mean_reward - (10.0 + 5.0) / 20.0).abs() < 1e-12);
        assert!(best_thresholds(&[], &rewards).is_none());
    }

    #[test]
    fn thresholds_fixed_in_advance_are_chosen_on_the_earlier_half_and_scored_on_the_later() {
        let rewards = RewardTable::default();
        // Earlier half: confident answers are right, so answering pays. Later half: the same
        // confidences are wrong but offered, so those thresholds (answer) earn −1 each, while
        // the policy, which clarified, earned 0.5 each.
        let mut o = vec![outcome(0.9, true, true); 10];
        o.extend((0..10).map(|_| Outcome {
            reward: 0.5,
            ..outcome(0.9, false, true)
        }));
        let f = fixed_in_advance(&o, &rewards).expect("messages");
        assert!(f.chosen.answer_at <= 0.9, "{f:?}");
        assert!((f.chosen.mean_reward - 1.0).abs() < 1e-12);
        assert!((f.later_reward - -1.0).abs() < 1e-12, "{f:?}");
        assert!((f.policy_later_reward - 0.5).abs() < 1e-12);
        assert!(fixed_in_advance(&o[..2], &rewards).is_some());
        assert!(fixed_in_advance(&o[..1], &rewards).is_none());
        assert!(fixed_in_advance(&[], &rewards).is_none());
    }
}
