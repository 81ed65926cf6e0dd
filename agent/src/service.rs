//! The agent: opens (or bootstraps) its store, serves predictions from an immutable snapshot
//! and learns from feedback and new intents.
//!
//! Reads never wait on learning: a request loads the current [`Served`] snapshot (an `Arc`
//! behind an [`ArcSwap`]) and works on it. A write (feedback, a new or changed intent) takes
//! the learning lock, commits to the store first, then builds the next snapshot from the
//! current one and swaps it in; only what changed is copied (intents are shared `Arc`s).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use autodidact_envs::intents::{read_csv_bytes, TextRow};
use sha2::{Digest, Sha256};

use autodidact_core::rng::Seed;

use crate::batch::{Batcher, MessageWriter};
use crate::classifier::{Classifier, ModelSpec, Prediction, OUT_OF_SCOPE};
use crate::config::AgentConfig;
use crate::consolidate::{fit_ood, guard, score, split, Example};
use crate::error::{AgentError, Result};
use crate::features::Features;
use crate::featurizer::{self, Featurizer};
use crate::head::Head;
use crate::learn::{train, Labelled, Strategy};
use crate::model::ModelBlob;
use crate::policy::{self, Action, LinUcb, RecentAccuracy};
use crate::replica::{holder_id, Lease, Tail};
use crate::sample::ExampleSample;
use crate::store::{
    features_from_bytes, features_to_bytes, is_postgres_url, now_ms, IntentRow, MessageRow,
    ModelEvent, ModelInfo, ModelRecord, PgStore, RecentMessage, Source, SqliteStore, Stats, Store,
};
use crate::timeline::{self, Timeline};

/// Longest intent name.
const MAX_NAME_CHARS: usize = 100;
/// Longest session id.
const MAX_SESSION_CHARS: usize = 200;
/// Longest answer.
const MAX_ANSWER_CHARS: usize = 10_000;
/// Most examples in one new intent.
const MAX_EXAMPLES: usize = 1000;
/// Alternatives returned with a reply.
const ALTERNATIVES: usize = 3;

/// Most texts one `predict_many` call takes.
pub const MAX_PREDICT: usize = 1000;

/// Who a bearer token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Messages and feedback.
    Client,
    /// Everything.
    Admin,
}

impl Role {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Admin => "admin",
        }
    }
}

/// What the agent serves from: replaced whole, never changed in place.
#[derive(Clone, Debug)]
pub(crate) struct Served {
    pub(crate) classifier: Classifier,
    pub(crate) head: Arc<Head>,
    pub(crate) spec: ModelSpec,
    pub(crate) policy: LinUcb,
    pub(crate) accuracy: RecentAccuracy,
    pub(crate) version: i64,
}

/// A stored example with its raw features, kept in memory for consolidation and for
/// rebuilding prototypes under a new head.
#[derive(Clone, Debug)]
pub(crate) struct Cached {
    /// The example's id in the store.
    pub(crate) id: i64,
    /// Its intent.
    pub(crate) intent: String,
    /// Whether an operator gave it (the bootstrap's data, a new intent), not feedback.
    pub(crate) trusted: bool,
    /// Sparse for hashed n-grams, dense for MiniLM (the featurizer's
    /// [`Featurizer::compact`]): a hashed example costs bytes per set bucket, not 16 KiB.
    pub(crate) x: Features,
}

/// What one consolidation did.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ConsolidationReply {
    /// The candidate's stored version.
    pub version: i64,
    /// Whether it is now served.
    pub accepted: bool,
    /// Why it was refused.
    pub reason: Option<String>,
    /// Its metrics (the JSON stored with it).
    pub metrics: serde_json::Value,
}

/// One ranked alternative.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Alternative {
    /// Intent name.
    pub intent: String,
    /// Its probability.
    pub confidence: f64,
}

/// The reply to a message.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MessageReply {
    /// Message id (for feedback).
    pub id: i64,
    /// The predicted intent, or `out_of_scope`.
    pub intent: String,
    /// Probability of the most probable intent.
    pub confidence: f64,
    /// What the agent does.
    pub action: Action,
    /// The text to show the customer.
    pub answer: String,
    /// The most probable intents, most probable first.
    pub alternatives: Vec<Alternative>,
}

/// The reply to feedback.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeedbackReply {
    /// The message.
    pub id: i64,
    /// Whether the prediction was right.
    pub correct: bool,
    /// The policy's reward.
    pub reward: f64,
    /// Id of the labelled example the correction became.
    pub example_id: Option<i64>,
}

/// The reply to a new intent.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IntentReply {
    /// Name.
    pub name: String,
    /// Answer.
    pub answer: String,
    /// Active flag.
    pub active: bool,
    /// Stored examples.
    pub examples: usize,
}

/// `GET /v1/stats`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StatsReply {
    /// The served model version.
    pub model_version: i64,
    /// Active intents.
    pub active_intents: usize,
    /// Labelled examples behind the prototypes.
    pub examples: usize,
    /// Softmax temperature.
    pub temperature: f64,
    /// Out-of-scope threshold.
    pub ood_threshold: f64,
    /// Feedback observations per action (answer, clarify, handoff).
    pub policy_updates: [u64; 3],
    /// Aggregates from the store.
    #[serde(flatten)]
    pub store: Stats,
}

/// A recent message in the conversations list, with the answer it got.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Conversation {
    /// The message and its feedback.
    #[serde(flatten)]
    pub message: RecentMessage,
    /// What the customer was shown: the intent's current answer, the clarifying question or
    /// the hand-off text (answers are not stored per message; an edited answer shows edited).
    pub answer: String,
}

/// An intent in the intents list.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct IntentListing {
    /// The stored intent.
    #[serde(flatten)]
    pub intent: IntentRow,
    /// Its labelled examples in the store (memory keeps them all up to
    /// `consolidation.max_feedback_examples_per_intent` learnt from feedback, then a sample).
    pub examples: usize,
    /// Feedback in its recent window (predictions of it).
    pub recent_feedback: usize,
    /// Share of them that were right (`None` with none).
    pub recent_accuracy: Option<f64>,
}

#[derive(Debug, Default)]
struct Counters {
    actions: [AtomicU64; 3],
    out_of_scope: AtomicU64,
    feedback: AtomicU64,
    corrections: AtomicU64,
    intents_created: AtomicU64,
    message_micros: AtomicU64,
}

/// What the first start is doing, for a progress bar: a stage with its size in steps
/// (0 when unknown), then steps done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A stage starts: its name and its steps.
    Stage(&'static str, u64),
    /// Steps of the current stage done.
    Advance(u64),
}

/// Hears [`Progress`] from [`Agent::open_with_progress`].
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How many of the newest messages and feedback the learning curves read (bounds the work
/// of one page refresh on a database of millions).
pub const TIMELINE_ROWS: i64 = 100_000;

/// Texts embedded between two progress reports at the bootstrap.
const BOOTSTRAP_CHUNK: usize = 256;

/// [`Agent::consolidation_nice`] before any consolidation ran.
const NICE_UNKNOWN: i32 = i32::MIN;

/// Features of this many latest messages are kept for their feedback (which then needs no
/// second encoder pass); older messages' feedback embeds the text again.
pub const RECENT_FEATURES: usize = 2048;

/// The lease replicas on one database take to consolidate or roll back (one at a time).
const MODEL_LEASE: &str = "consolidation";

/// What a replica has read of the rows the other replicas write.
#[derive(Debug, Default)]
struct Replica {
    /// Labelled examples (new intents, corrections, confirmations).
    examples: Tail,
    /// Feedback, replayed onto this replica's policy and accuracy windows.
    feedback: Tail,
    /// Messages whose feedback this process recorded itself (already learnt from), until the
    /// feedback tail passes them.
    own_feedback: std::collections::HashSet<i64>,
    /// Examples this process stored itself (already offered to its sample), until the
    /// examples tail passes them.
    own_examples: std::collections::HashSet<i64>,
}

/// The customer-service agent over a [`Store`].
pub struct Agent<S: Store = SqliteStore> {
    store: S,
    config: AgentConfig,
    featurizer: Arc<dyn Featurizer>,
    batcher: Batcher,
    writer: MessageWriter,
    served: ArcSwap<Served>,
    learn: tokio::sync::Mutex<()>,
    cache: std::sync::Mutex<ExampleSample>,
    consolidating: tokio::sync::Mutex<()>,
    /// See [`Agent::consolidation_nice`] ([`NICE_UNKNOWN`] before the first).
    consolidation_nice: AtomicI32,
    pending: AtomicU64,
    wake: tokio::sync::Notify,
    counters: Counters,
    client_hash: [u8; 32],
    admin_hash: [u8; 32],
    generated: Vec<(Role, String)>,
    started: Instant,
    /// This process in lease rows.
    holder: String,
    replica: std::sync::Mutex<Replica>,
    /// The features of the latest [`RECENT_FEATURES`] messages, oldest first.
    recent: std::sync::Mutex<std::collections::VecDeque<(i64, Features)>>,
    /// Feedback waiting for its group commit ([`Agent::commit_feedback`]).
    feedback_queue: std::sync::Mutex<Vec<QueuedFeedback>>,
}

/// A feedback checked and embedded, waiting for the group commit that learns and stores it.
struct QueuedFeedback {
    /// The message.
    id: i64,
    /// The intent it was predicted as.
    intent: String,
    /// Its text.
    text: String,
    /// What the agent did.
    action: Action,
    /// The policy's context when it chose.
    ctx: [f64; policy::DIM],
    /// The policy's reward.
    reward: f64,
    /// Whether the prediction was right.
    correct: bool,
    /// Whether the customer's problem was resolved.
    resolved: bool,
    /// The intent the message really had, when given.
    correct_intent: Option<String>,
    /// The intent the new example gets (a correction or a confirmation).
    label: Option<String>,
    /// The message's features, when it becomes an example.
    features: Option<Vec<f32>>,
    /// Where the outcome goes.
    reply: tokio::sync::oneshot::Sender<Result<FeedbackReply>>,
}

impl<S: Store> std::fmt::Debug for Agent<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("db", &self.config.db)
            .field("version", &self.served.load().version)
            .finish_non_exhaustive()
    }
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Equality of two digests in time independent of where they differ.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A new random token: 32 bytes from the thread's CSPRNG (ChaCha, seeded by the OS), hex.
fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// Checks a text field: not blank, at most `max` characters.
pub(crate) fn check_text(field: &str, text: &str, max: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(AgentError::invalid(
            field,
            "must not be empty or whitespace",
        ));
    }
    let n = text.chars().count();
    if n > max {
        return Err(AgentError::invalid(
            field,
            format!("{n} characters; at most {max}"),
        ));
    }
    if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(AgentError::invalid(
            field,
            "must not hold control characters",
        ));
    }
    Ok(())
}

/// Checks an intent name: 1 to 100 characters, no whitespace, control characters or `/`
/// (BANKING77 has `reverted_card_payment?`), not `out_of_scope`.
pub(crate) fn check_name(field: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AgentError::invalid(
            field,
            format!("must have 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err(AgentError::invalid(
            field,
            "must not hold whitespace, control characters or `/`",
        ));
    }
    if name == OUT_OF_SCOPE {
        return Err(AgentError::invalid(field, "`out_of_scope` is reserved"));
    }
    Ok(())
}

/// Reads a data folder: training rows from every `.csv` but `answers.csv` and the excluded
/// names, and `answers.csv` (`intent,answer`) when present.
fn read_data(dir: &Path, exclude: &[String]) -> Result<(Vec<TextRow>, HashMap<String, String>)> {
    let entries = std::fs::read_dir(dir).map_err(|e| AgentError::io(dir, e))?;
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")))
        .collect();
    files.sort();
    let mut rows = Vec::new();
    let mut answers = HashMap::new();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let bytes = std::fs::read(&f).map_err(|e| AgentError::io(&f, e))?;
        let shown = f.display().to_string();
        if name.eq_ignore_ascii_case("answers.csv") {
            for r in read_csv_bytes(&bytes, &shown, "answer", "intent")? {
                answers.insert(r.label, r.text);
            }
        } else if !exclude.iter().any(|x| x.eq_ignore_ascii_case(&name)) {
            for r in read_csv_bytes(&bytes, &shown, "text", "")? {
                check_name("label", &r.label).map_err(|e| {
                    AgentError::config("data", format!("{shown} line {}: {e}", r.line))
                })?;
                rows.push(r);
            }
        }
    }
    if rows.is_empty() {
        return Err(AgentError::config(
            "data",
            format!(
                "{} holds no training rows (CSV files with text,label columns)",
                dir.display()
            ),
        ));
    }
    Ok((rows, answers))
}

/// Refuses a stored model built with other features than the configuration asks for.
fn check_featurizer(config: &AgentConfig, spec: &ModelSpec) -> Result<()> {
    if spec.featurizer != config.featurizer {
        return Err(AgentError::config(
            "featurizer",
            format!(
                "the database {} was built with {:?}, the configuration asks for {:?} (use the same featurizer or another --db)",
                config.db.display(),
                spec.featurizer,
                config.featurizer
            ),
        ));
    }
    Ok(())
}

/// The nearest-prototype classifier over every intent, its prototypes the stored examples
/// embedded by `head` (in id order, so a rebuild gives the very same prototypes).
fn build_classifier(
    head: &Head,
    intents: &[IntentRow],
    cache: &[Cached],
    temperature: f64,
    ood_threshold: f64,
) -> Classifier {
    let mut c = Classifier::new(head.dim(), temperature, ood_threshold);
    for i in intents {
        c.set_intent(&i.name, &i.answer, i.active);
    }
    // One row at a time: prototypes are running sums, so no embedding per example is held.
    head.for_each_embedded(cache.iter().map(|e| e.x.row()), |i, z| {
        c.add_example(&cache[i].intent, z);
    });
    c
}

/// A trained candidate: its head, its classifier over every stored example, its metrics,
/// and why the guard refuses it (if it does).
struct Fit {
    head: Head,
    classifier: Classifier,
    metrics: serde_json::Value,
    refused: Option<String>,
}

/// Trains a head from `start` on the stored examples (those with ids above `upto` are new),
/// scores it against `start` on the held-out slice, fits the out-of-scope threshold and the
/// temperature, and asks the guard.
#[allow(clippy::too_many_arguments)]
fn fit_model(
    config: &AgentConfig,
    intents: &[IntentRow],
    cache: &[Cached],
    start: &Head,
    upto: i64,
    strategy: Strategy,
    episodes: usize,
    keep_start: bool,
    rng: &mut autodidact_core::Rng,
) -> Result<Fit> {
    let names: Vec<String> = intents.iter().map(|i| i.name.clone()).collect();
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(k, n)| (n.as_str(), k))
        .collect();
    let active: Vec<bool> = intents.iter().map(|i| i.active).collect();
    let dim = start.dim();
    let mut old_class = vec![false; names.len()];
    let examples: Vec<Example<'_>> = cache
        .iter()
        .filter(|e| e.x.dim() == dim)
        .filter_map(|e| {
            let class = *index.get(e.intent.as_str())?;
            if e.id <= upto {
                old_class[class] = true;
            }
            Some(Example {
                id: e.id,
                class,
                trusted: e.trusted,
                x: e.x.row(),
            })
        })
        .collect();
    let parts = split(&examples, dim, config.guard.held_out_every);
    let (mut old, mut new) = (Labelled::new(dim), Labelled::new(dim));
    for (i, id) in parts.train_ids.iter().enumerate() {
        let target = if *id <= upto { &mut old } else { &mut new };
        target.push(parts.train.row(i), parts.train.y[i]);
    }
    let (head, report) = train(start, &old, &new, strategy, episodes, &config.learning, rng)?;
    let before = score(start, &parts, &active);
    let after = score(&head, &parts, &active);
    let mut refused = guard(&before, &after, &old_class, &names, &config.guard);
    // The bootstrap has no served model to fall back on: a trained head that scores worse
    // than the untrained one (too little data to learn from) gives way to it.
    let kept_start = keep_start && refused.is_some();
    let head = if kept_start {
        refused = None;
        start.clone()
    } else {
        head
    };
    let ood = fit_ood(&head, &parts, names.len(), config.ood_max_false_rate, rng);
    let threshold = config
        .ood_threshold
        .or(ood.threshold)
        .unwrap_or(f64::INFINITY);
    let mut classifier = build_classifier(&head, intents, cache, config.temperature, threshold);
    let quantile =
        (config.ood_threshold.is_none() && ood.threshold.is_none()).then_some(config.ood_quantile);
    // Only the calibration sample (at most 4,000 examples) is embedded, one at a time.
    let cached_intents: Vec<&str> = cache.iter().map(|e| e.intent.as_str()).collect();
    let calibration = classifier.fit_with(
        &cached_intents,
        |i, x| head.for_each_embedded([cache[i].x.row()], |_, z| x.extend_from_slice(z)),
        config.min_held_out,
        quantile,
    );
    if !classifier.ood_threshold.is_finite() {
        // Too few examples to fit a threshold and none configured: nothing is out of scope
        // by distance (featureless texts still are).
        classifier.ood_threshold = f64::MAX;
    }
    let per_intent: BTreeMap<&str, serde_json::Value> = before
        .per_class
        .keys()
        .chain(after.per_class.keys())
        .filter_map(|&c| {
            let (b, a) = (before.class(c), after.class(c));
            Some((
                names.get(c)?.as_str(),
                serde_json::json!({
                    "before": b.map(|x| x.0),
                    "after": a.map(|x| x.0),
                    "held_out": a.or(b).map_or(0, |x| x.1),
                    "old": old_class[c],
                }),
            ))
        })
        .collect();
    let metrics = serde_json::json!({
        "strategy": strategy,
        "training": report,
        "held_out": {
            "examples": after.scored,
            "before": before.accuracy(),
            "after": after.accuracy(),
            "per_intent": per_intent,
        },
        "ood": ood,
        "ood_threshold": classifier.ood_threshold,
        "calibration": calibration,
        "intents": active.iter().filter(|a| **a).count(),
        "examples": cache.len(),
        "guard": refused,
        "kept_untrained_head": kept_start,
    });
    Ok(Fit {
        head,
        classifier,
        metrics,
        refused,
    })
}

impl Agent<SqliteStore> {
    /// Opens the agent on the SQLite file `config.db`: bootstraps it from `config.data` on
    /// the first start, else resumes the stored state.
    pub async fn open(config: AgentConfig) -> Result<Agent<SqliteStore>> {
        Agent::open_with_progress(config, None).await
    }

    /// [`Agent::open`], telling `progress` how the first start's bootstrap advances.
    pub async fn open_with_progress(
        config: AgentConfig,
        progress: Option<ProgressFn>,
    ) -> Result<Agent<SqliteStore>> {
        config.validate()?;
        let store = SqliteStore::open(&config.db).await?;
        let spec_fz = config.featurizer.clone();
        let featurizer = tokio::task::spawn_blocking(move || featurizer::build(&spec_fz))
            .await
            .map_err(|e| AgentError::Internal(e.to_string()))??;
        Agent::start(config, store, featurizer, progress).await
    }
}

impl Agent<PgStore> {
    /// Opens the agent on the PostgreSQL database `config.db` (a `postgres://` URL), which
    /// other agent processes may share: bootstraps it from `config.data` when it is empty,
    /// else resumes the stored state.
    pub async fn open_postgres(
        config: AgentConfig,
        progress: Option<ProgressFn>,
    ) -> Result<Agent<PgStore>> {
        config.validate()?;
        let url = config.db.to_string_lossy().to_string();
        let store = PgStore::connect(&url).await?;
        let spec_fz = config.featurizer.clone();
        let featurizer = tokio::task::spawn_blocking(move || featurizer::build(&spec_fz))
            .await
            .map_err(|e| AgentError::Internal(e.to_string()))??;
        Agent::start(config, store, featurizer, progress).await
    }
}

/// Whether `config.db` names a PostgreSQL database rather than a SQLite file.
pub fn uses_postgres(config: &AgentConfig) -> bool {
    config.db.to_str().is_some_and(is_postgres_url)
}

impl<S: Store> Agent<S> {
    /// Opens the agent on any store (see [`Agent::open`]).
    pub async fn with_store(config: AgentConfig, store: S) -> Result<Agent<S>> {
        config.validate()?;
        let spec_fz = config.featurizer.clone();
        let featurizer = tokio::task::spawn_blocking(move || featurizer::build(&spec_fz))
            .await
            .map_err(|e| AgentError::Internal(e.to_string()))??;
        Self::with_featurizer(config, store, featurizer).await
    }

    /// Opens the agent on any store with a featurizer already built for `config.featurizer`
    /// (the replay benchmark shares one, memoised, between its agents).
    pub async fn with_featurizer(
        config: AgentConfig,
        store: S,
        featurizer: Arc<dyn Featurizer>,
    ) -> Result<Agent<S>> {
        Self::start(config, store, featurizer, None).await
    }

    async fn start(
        config: AgentConfig,
        store: S,
        featurizer: Arc<dyn Featurizer>,
        progress: Option<ProgressFn>,
    ) -> Result<Agent<S>> {
        config.validate()?;
        let (served, cache) = match store.served_model().await? {
            None => match Self::bootstrap(&config, &store, &featurizer, progress).await {
                Ok(state) => state,
                // Replicas started at once on an empty database: one bootstrap commits, the
                // others fail on its rows and resume what it stored.
                Err(e) => match (store.shared(), store.served_model().await?) {
                    (true, Some(model)) => {
                        Self::resume(&config, &store, &featurizer, model).await?
                    }
                    _ => return Err(e),
                },
            },
            Some(model) => Self::resume(&config, &store, &featurizer, model).await?,
        };
        let replica = if store.shared() {
            let feedback = store.feedback_after(0).await?;
            Replica {
                examples: Tail::starting_at(cache.newest()),
                feedback: Tail::starting_at(feedback.last().map_or(0, |f| f.seq)),
                own_feedback: Default::default(),
                own_examples: Default::default(),
            }
        } else {
            Replica::default()
        };
        let mut generated = Vec::new();
        let mut hashes = [[0u8; 32]; 2];
        for (slot, role, given) in [
            (0, Role::Client, &config.client_token),
            (1, Role::Admin, &config.admin_token),
        ] {
            hashes[slot] = match (given, store.token_hash(role.as_str()).await?) {
                (Some(t), _) => {
                    let h = sha256(t);
                    store.set_token_hash(role.as_str(), &hex(&h)).await?;
                    h
                }
                (None, Some(stored)) => unhex(&stored).ok_or_else(|| {
                    AgentError::State(format!(
                        "the stored {} token hash is malformed",
                        role.as_str()
                    ))
                })?,
                (None, None) => {
                    let t = new_token();
                    let h = sha256(&t);
                    store.set_token_hash(role.as_str(), &hex(&h)).await?;
                    generated.push((role, t));
                    h
                }
            };
        }
        if ct_eq(&hashes[0], &hashes[1]) {
            return Err(AgentError::config(
                "admin_token",
                "must differ from the client token",
            ));
        }
        let batcher = Batcher::start(Arc::clone(&featurizer), &config.batch);
        let writer = MessageWriter::start(store.clone());
        Ok(Agent {
            store,
            config,
            featurizer,
            batcher,
            writer,
            served: ArcSwap::from_pointee(served),
            learn: tokio::sync::Mutex::new(()),
            cache: std::sync::Mutex::new(cache),
            consolidating: tokio::sync::Mutex::new(()),
            consolidation_nice: AtomicI32::new(NICE_UNKNOWN),
            pending: AtomicU64::new(0),
            wake: tokio::sync::Notify::new(),
            counters: Counters::default(),
            client_hash: hashes[0],
            admin_hash: hashes[1],
            generated,
            started: Instant::now(),
            holder: holder_id(),
            replica: std::sync::Mutex::new(replica),
            recent: std::sync::Mutex::new(std::collections::VecDeque::with_capacity(
                RECENT_FEATURES,
            )),
            feedback_queue: std::sync::Mutex::new(Vec::new()),
        })
    }

    async fn embed_owned(
        featurizer: &Arc<dyn Featurizer>,
        texts: Vec<String>,
    ) -> Result<Vec<Vec<f32>>> {
        let f = Arc::clone(featurizer);
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            f.embed(&refs)
        })
        .await
        .map_err(|e| AgentError::Internal(format!("featurizer task: {e}")))?
    }

    /// [`Agent::embed_owned`] in the featurizer's compact form.
    async fn embed_compact_owned(
        featurizer: &Arc<dyn Featurizer>,
        texts: Vec<String>,
    ) -> Result<Vec<Features>> {
        let f = Arc::clone(featurizer);
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            f.embed_compact(&refs)
        })
        .await
        .map_err(|e| AgentError::Internal(format!("featurizer task: {e}")))?
    }

    async fn bootstrap(
        config: &AgentConfig,
        store: &S,
        featurizer: &Arc<dyn Featurizer>,
        progress: Option<ProgressFn>,
    ) -> Result<(Served, ExampleSample)> {
        let tell = |p: Progress| {
            if let Some(f) = &progress {
                f(p);
            }
        };
        let (dir, exclude) = (config.data.clone(), config.exclude.clone());
        let (rows, answers) = tokio::task::spawn_blocking(move || read_data(&dir, &exclude))
            .await
            .map_err(|e| AgentError::Internal(e.to_string()))??;
        let names: Vec<String> = rows
            .iter()
            .map(|r| r.label.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let intents: Vec<IntentRow> = names
            .iter()
            .map(|n| IntentRow {
                name: n.clone(),
                answer: answers
                    .get(n)
                    .cloned()
                    .unwrap_or_else(|| format!("[answer for `{n}` not configured yet]")),
                active: true,
                created_ms: 0,
            })
            .collect();
        tell(Progress::Stage("embedding", rows.len() as u64));
        // Only the compact cache holds the features while the head trains: a chunk's dense
        // rows are dropped as soon as they are compacted, and the stored bytes are written
        // from the cache after training (one dense copy at a time, never three).
        let mut cache: Vec<Cached> = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(BOOTSTRAP_CHUNK) {
            let texts = chunk.iter().map(|r| r.text.clone()).collect();
            let compact = Self::embed_compact_owned(featurizer, texts).await?;
            for (r, x) in chunk.iter().zip(compact) {
                cache.push(Cached {
                    id: cache.len() as i64 + 1,
                    intent: r.label.clone(),
                    trusted: true,
                    x,
                });
            }
            tell(Progress::Advance(chunk.len() as u64));
        }
        tell(Progress::Stage("training the embedding head", 0));
        let fit = {
            let (config, intents, cache, dim) = (
                config.clone(),
                intents.clone(),
                cache.clone(),
                featurizer.dim(),
            );
            tokio::task::spawn_blocking(move || {
                let seed = Seed(config.consolidation.seed);
                let start = Head::new(dim, config.learning.rank, &mut seed.rng("head"))?;
                fit_model(
                    &config,
                    &intents,
                    &cache,
                    &start,
                    0,
                    Strategy::Joint,
                    config.learning.bootstrap_episodes,
                    true,
                    &mut seed.rng("bootstrap"),
                )
            })
            .await
            .map_err(|e| AgentError::Internal(e.to_string()))??
        };
        let spec = ModelSpec {
            featurizer: config.featurizer.clone(),
            temperature: fit.classifier.temperature,
            ood_threshold: fit.classifier.ood_threshold,
            examples_upto: cache.len() as i64,
        };
        let model = ModelRecord {
            version: 1,
            blob: ModelBlob {
                spec: spec.clone(),
                head: fit.head.clone(),
            }
            .encode()?,
            metrics: fit.metrics.to_string(),
            status: "accepted".into(),
            reason: None,
        };
        let pairs: Vec<(String, String)> = intents
            .iter()
            .map(|i| (i.name.clone(), i.answer.clone()))
            .collect();
        // The dense bytes, written back bit for bit from the compact rows.
        let examples: Vec<(String, String, Vec<u8>)> = rows
            .into_iter()
            .zip(&cache)
            .map(|(r, c)| (r.label, r.text, features_to_bytes(&c.x.row().to_vec())))
            .collect();
        tell(Progress::Stage("storing", 0));
        let ids = store.bootstrap(&pairs, &examples, &model).await?;
        for (c, id) in cache.iter_mut().zip(ids) {
            c.id = id;
        }
        // The bootstrap's examples are the operator's: all kept.
        let cache = ExampleSample::configured(&config.consolidation, cache);
        let p = &config.policy;
        Ok((
            Served {
                classifier: fit.classifier,
                head: Arc::new(fit.head),
                spec,
                policy: LinUcb::new(p.alpha, p.prior_weight, &p.rewards),
                accuracy: RecentAccuracy::new(p.accuracy_window),
                version: 1,
            },
            cache,
        ))
    }

    async fn resume(
        config: &AgentConfig,
        store: &S,
        featurizer: &Arc<dyn Featurizer>,
        model: ModelRecord,
    ) -> Result<(Served, ExampleSample)> {
        let blob = ModelBlob::decode(&model.blob, model.version)?;
        check_featurizer(config, &blob.spec)?;
        let intents = store.intents().await?;
        let cache = ExampleSample::configured(
            &config.consolidation,
            Self::load_examples(store, featurizer).await?,
        );
        let classifier = {
            let (head, spec, intents, cache) = (
                blob.head.clone(),
                blob.spec.clone(),
                intents.clone(),
                cache.rows().to_vec(),
            );
            tokio::task::spawn_blocking(move || {
                build_classifier(
                    &head,
                    &intents,
                    &cache,
                    spec.temperature,
                    spec.ood_threshold,
                )
            })
            .await
            .map_err(|e| AgentError::Internal(e.to_string()))?
        };
        let p = &config.policy;
        let policy = match store.bandit_state().await? {
            Some(s) => LinUcb::from_json(&s, p.prior_weight, &p.rewards)?,
            None => LinUcb::new(p.alpha, p.prior_weight, &p.rewards),
        };
        let mut accuracy = RecentAccuracy::new(p.accuracy_window);
        for o in store.outcomes().await? {
            accuracy.record(&o.predicted, o.correct);
        }
        Ok((
            Served {
                classifier,
                head: Arc::new(blob.head),
                spec: blob.spec,
                policy,
                accuracy,
                version: model.version,
            },
            cache,
        ))
    }

    /// Every stored example with its features: cached ones read, missing ones computed and
    /// cached.
    async fn load_examples(store: &S, featurizer: &Arc<dyn Featurizer>) -> Result<Vec<Cached>> {
        let rows = store.examples().await?;
        let dim = featurizer.dim();
        let missing: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.features
                    .as_deref()
                    .and_then(|b| features_from_bytes(b, dim))
                    .is_none()
            })
            .map(|(i, _)| i)
            .collect();
        let computed = Self::embed_owned(
            featurizer,
            missing.iter().map(|&i| rows[i].text.clone()).collect(),
        )
        .await?;
        let updates: Vec<(i64, Vec<u8>)> = missing
            .iter()
            .zip(&computed)
            .map(|(&i, x)| (rows[i].id, features_to_bytes(x)))
            .collect();
        if !updates.is_empty() {
            store.set_features(&updates).await?;
        }
        let mut fresh: HashMap<usize, Features> = missing
            .into_iter()
            .zip(computed.iter().map(|x| featurizer.compact(x)))
            .collect();
        drop(computed);
        // Each row's stored bytes are dropped as soon as its compact form is made.
        Ok(rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let x = fresh.remove(&i).unwrap_or_else(|| {
                    featurizer.compact(
                        &r.features
                            .as_deref()
                            .and_then(|b| features_from_bytes(b, dim))
                            .unwrap_or_default(),
                    )
                });
                Cached {
                    id: r.id,
                    trusted: r.source != Source::Feedback.as_str(),
                    intent: r.intent,
                    x,
                }
            })
            .collect())
    }

    /// Tokens generated at this start (none were configured or stored); show them once.
    pub fn generated_tokens(&self) -> &[(Role, String)] {
        &self.generated
    }

    /// The served model's version.
    pub fn served_version(&self) -> i64 {
        self.served.load().version
    }

    /// The configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The role of a presented bearer token (compared as SHA-256 digests in constant time).
    pub fn authorize(&self, token: &str) -> Option<Role> {
        let h = sha256(token);
        let admin = ct_eq(&h, &self.admin_hash);
        let client = ct_eq(&h, &self.client_hash);
        if admin {
            Some(Role::Admin)
        } else if client {
            Some(Role::Client)
        } else {
            None
        }
    }

    /// Predicts without storing anything (for tests and tools).
    pub async fn predict(&self, text: &str) -> Result<Prediction> {
        let x = self.batcher.embed(text.to_string()).await?;
        let served = self.served.load_full();
        Ok(served.classifier.predict(&served.head.apply_one(&x)))
    }

    /// Predicts each text in one encoder pass, without storing anything (held-out scoring
    /// by the replay benchmark and `POST /v1/admin/predict`).
    pub async fn predict_many(&self, texts: &[String]) -> Result<Vec<Prediction>> {
        if texts.len() > MAX_PREDICT {
            return Err(AgentError::invalid(
                "texts",
                format!("{} texts; at most {MAX_PREDICT}", texts.len()),
            ));
        }
        for (i, t) in texts.iter().enumerate() {
            check_text(&format!("texts[{i}]"), t, self.config.max_text_chars)?;
        }
        let served = self.served.load_full();
        let x = Self::embed_owned(&self.featurizer, texts.to_vec()).await?;
        let rows: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
        Ok(served
            .head
            .apply(&rows)
            .iter()
            .map(|z| served.classifier.predict(z))
            .collect())
    }

    /// Answers a customer's message and stores it with the reply.
    pub async fn message(&self, text: &str, session: &str) -> Result<MessageReply> {
        let t0 = Instant::now();
        check_text("text", text, self.config.max_text_chars)?;
        if session.chars().count() > MAX_SESSION_CHARS {
            return Err(AgentError::invalid(
                "session",
                format!("at most {MAX_SESSION_CHARS} characters"),
            ));
        }
        let x = self.batcher.embed(text.to_string()).await?;
        let served = self.served.load_full();
        let pred = served.classifier.predict(&served.head.apply_one(&x));
        let intent = pred.intent().to_string();
        let offered: f64 = pred.ranked.iter().take(ALTERNATIVES).map(|(_, p)| p).sum();
        let ctx = policy::context(
            pred.confidence(),
            pred.margin(),
            served.accuracy.get(&intent),
            pred.ood_score,
            offered,
        );
        let allowed: &[Action] = if pred.out_of_scope() {
            &[Action::Clarify, Action::Handoff]
        } else {
            &Action::ALL
        };
        let (mut action, _) = served.policy.choose(&ctx, allowed);
        if action == Action::Clarify && pred.ranked.is_empty() {
            action = Action::Handoff;
        }
        let alternatives: Vec<Alternative> = pred
            .ranked
            .iter()
            .take(ALTERNATIVES)
            .map(|(i, p)| Alternative {
                intent: i.clone(),
                confidence: *p,
            })
            .collect();
        let answer = match action {
            Action::Answer => served
                .classifier
                .intent(&intent)
                .map(|(a, _)| a.to_string())
                .unwrap_or_default(),
            Action::Clarify => {
                let names: Vec<&str> = alternatives.iter().map(|a| a.intent.as_str()).collect();
                format!("{} {}", self.config.clarify_text, names.join(", "))
            }
            Action::Handoff => self.config.handoff_text.clone(),
        };
        let row = MessageRow {
            id: 0,
            session: session.to_string(),
            text: text.to_string(),
            intent: intent.clone(),
            confidence: pred.confidence(),
            ood_score: if pred.ood_score.is_finite() {
                pred.ood_score
            } else {
                f64::MAX
            },
            action: action.as_str().to_string(),
            context: serde_json::to_string(&ctx)
                .map_err(|e| AgentError::Internal(e.to_string()))?,
            model_version: served.version,
        };
        let id = self.writer.insert(row).await?;
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() == RECENT_FEATURES {
                recent.pop_front();
            }
            recent.push_back((id, self.featurizer.compact(&x)));
        }
        let c = &self.counters;
        c.actions[Action::ALL.iter().position(|a| *a == action).unwrap_or(2)]
            .fetch_add(1, Ordering::Relaxed);
        if pred.out_of_scope() {
            c.out_of_scope.fetch_add(1, Ordering::Relaxed);
        }
        c.message_micros.fetch_add(
            u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        Ok(MessageReply {
            id,
            intent,
            confidence: pred.confidence(),
            action,
            answer,
            alternatives,
        })
    }

    /// Records feedback on message `id`: durable in the store before this returns; a
    /// `correct_intent` becomes a labelled example and moves that intent's prototype at once
    /// (so does the predicted intent when the customer says it resolved the problem, unless
    /// `learn_from_confirmations` is off); the policy learns the reward. Concurrent feedback is
    /// committed in groups: a caller may store and answer the others queued with it, so
    /// dropping this future before it returns can fail theirs (the HTTP API runs each call on
    /// a task of its own).
    pub async fn feedback(
        &self,
        id: i64,
        resolved: bool,
        correct_intent: Option<&str>,
    ) -> Result<FeedbackReply> {
        let message = self
            .store
            .message(id)
            .await?
            .ok_or_else(|| AgentError::not_found("id", format!("no message with id {id}")))?;
        if let Some(c) = correct_intent {
            if self.store.shared() && self.served.load().classifier.intent(c).is_none() {
                // Perhaps another replica created it since the last sync.
                self.sync().await?;
            }
            match self.served.load().classifier.intent(c) {
                None => {
                    return Err(AgentError::invalid(
                        "correct_intent",
                        format!("no intent named {c:?}"),
                    ))
                }
                Some((_, false)) => {
                    return Err(AgentError::invalid(
                        "correct_intent",
                        format!("the intent {c:?} is retired"),
                    ))
                }
                Some(_) => {}
            }
        }
        let action = Action::parse(&message.action).ok_or_else(|| {
            AgentError::State(format!("message {id} has action {:?}", message.action))
        })?;
        // The intent this feedback labels the message with: a correction, or — when the
        // customer says an answer (or the top intent offered) resolved it — the predicted one.
        let confirmed = (self.config.learn_from_confirmations
            && correct_intent.is_none()
            && resolved
            && action != Action::Handoff
            && message.intent != OUT_OF_SCOPE
            && self
                .served
                .load()
                .classifier
                .intent(&message.intent)
                .is_some_and(|i| i.1))
        .then_some(message.intent.as_str());
        let label = correct_intent.or(confirmed);
        let features = match label {
            Some(_) => Some(match self.recent_features(id) {
                Some(x) => x,
                None => self.batcher.embed(message.text.clone()).await?,
            }),
            None => None,
        };
        let ctx = policy::parse_context(&message.context)
            .map_err(|e| AgentError::State(format!("message {id} context: {e}")))?;
        let correct = match correct_intent {
            Some(c) => c == message.intent,
            None => resolved,
        };
        let reward = self.config.policy.rewards.reward(action, resolved);
        let label = label.map(str::to_string);
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.feedback_queue()?.push(QueuedFeedback {
            id,
            intent: message.intent,
            text: message.text,
            action,
            ctx,
            reward,
            correct,
            resolved,
            correct_intent: correct_intent.map(str::to_string),
            label,
            features,
            reply,
        });
        {
            // Whoever holds the lock commits everything queued meanwhile: one transaction
            // (one fsync) for a group of concurrent feedback, learnt in queue order.
            let _guard = self.learn.lock().await;
            let group = std::mem::take(&mut *self.feedback_queue()?);
            if !group.is_empty() {
                self.commit_feedback(group).await;
            }
        }
        answer
            .await
            .map_err(|_| AgentError::Internal("the feedback's group commit was dropped".into()))?
    }

    /// What a feedback on a message predicted as `intent` reveals of the actions not taken
    /// (none unless `policy.counterfactual`).
    fn revealed(&self, action: Action, intent: &str, correct: bool) -> Vec<(Action, f64)> {
        let p = &self.config.policy;
        if p.counterfactual {
            policy::revealed(action, intent != OUT_OF_SCOPE, correct, &p.rewards)
        } else {
            Vec::new()
        }
    }

    fn feedback_queue(&self) -> Result<std::sync::MutexGuard<'_, Vec<QueuedFeedback>>> {
        self.feedback_queue
            .lock()
            .map_err(|_| AgentError::Internal("the feedback queue lock is poisoned".into()))
    }

    /// Learns a group of feedback in order (policy, accuracy windows, examples), stores it in
    /// one transaction, and only then serves what was learnt and answers each caller. A
    /// feedback on a message that already has some is answered with a conflict and the rest
    /// is committed without it. Called with the `learn` lock held.
    async fn commit_feedback(&self, mut group: Vec<QueuedFeedback>) {
        loop {
            let mut next = Served::clone(&self.served.load());
            let mut records = Vec::with_capacity(group.len());
            for q in &group {
                let revealed = self.revealed(q.action, &q.intent, q.correct);
                next.policy.learn(q.action, &q.ctx, q.reward, &revealed);
                next.accuracy.record(&q.intent, q.correct);
                records.push(crate::store::FeedbackRecord {
                    message_id: q.id,
                    resolved: q.resolved,
                    correct_intent: q.correct_intent.clone(),
                    reward: q.reward,
                    example: q
                        .label
                        .as_ref()
                        .zip(q.features.as_ref())
                        .map(|(c, x)| (c.clone(), q.text.clone(), features_to_bytes(x))),
                    // Only the last one's is stored (the state after the group).
                    bandit_state: String::new(),
                });
            }
            if let Some(last) = records.last_mut() {
                last.bandit_state = next.policy.to_json();
            }
            let ids = match self.store.record_feedback_group(&records).await {
                Ok(Ok(ids)) => ids,
                Ok(Err(i)) if i < group.len() => {
                    let q = group.remove(i);
                    let _ = q.reply.send(Err(AgentError::conflict(
                        "id",
                        format!("message {} already has feedback", q.id),
                    )));
                    if group.is_empty() {
                        return;
                    }
                    continue;
                }
                outcome => {
                    // Every waiter gets the error.
                    for q in group {
                        let e = match &outcome {
                            Err(e) => e.for_waiter("storing feedback"),
                            Ok(_) => AgentError::Internal(
                                "storing feedback: a conflict outside the group".into(),
                            ),
                        };
                        let _ = q.reply.send(Err(e));
                    }
                    return;
                }
            };
            if self.store.shared() {
                if let Ok(mut r) = self.replica.lock() {
                    r.own_feedback.extend(group.iter().map(|q| q.id));
                }
            }
            let mut rows = Vec::new();
            let mut embedded = Vec::new();
            for (q, eid) in group.iter().zip(&ids) {
                if let (Some(c), Some(x), Some(eid)) = (&q.label, &q.features, eid) {
                    embedded.push((c.clone(), next.head.apply_one(x)));
                    rows.push(Cached {
                        id: *eid,
                        intent: c.clone(),
                        trusted: false,
                        x: self.featurizer.compact(x),
                    });
                    if q.correct_intent.is_some() {
                        self.counters.corrections.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            // Stored: a failure past this point cannot undo the commit, so the examples the
            // sample could not take wait for the next restart (they are in the store).
            if let Ok(kept) = self.remember(rows, true) {
                for ((c, z), kept) in embedded.iter().zip(kept) {
                    if kept {
                        next.classifier.add_example(c, z);
                    }
                }
            }
            self.served.store(Arc::new(next));
            self.counters
                .feedback
                .fetch_add(group.len() as u64, Ordering::Relaxed);
            for (q, example_id) in group.into_iter().zip(ids) {
                let _ = q.reply.send(Ok(FeedbackReply {
                    id: q.id,
                    correct: q.correct,
                    reward: q.reward,
                    example_id,
                }));
            }
            return;
        }
    }

    /// Creates an intent from its first examples; the very next request can predict it.
    pub async fn create_intent(
        &self,
        name: &str,
        examples: &[String],
        answer: &str,
    ) -> Result<IntentReply> {
        check_name("name", name)?;
        check_text("answer", answer, MAX_ANSWER_CHARS)?;
        if examples.is_empty() || examples.len() > MAX_EXAMPLES {
            return Err(AgentError::invalid(
                "examples",
                format!("give 1 to {MAX_EXAMPLES} examples"),
            ));
        }
        for (i, e) in examples.iter().enumerate() {
            check_text(&format!("examples[{i}]"), e, self.config.max_text_chars)?;
        }
        if self.served.load().classifier.intent(name).is_some() {
            return Err(AgentError::conflict(
                "name",
                format!("an intent named {name:?} exists (retired intents keep their name)"),
            ));
        }
        let features = Self::embed_owned(&self.featurizer, examples.to_vec()).await?;
        let _guard = self.learn.lock().await;
        let rows: Vec<(String, Vec<u8>)> = examples
            .iter()
            .zip(&features)
            .map(|(t, x)| (t.clone(), features_to_bytes(x)))
            .collect();
        let ids = self.store.create_intent(name, answer, &rows).await?;
        let mut next = Served::clone(&self.served.load());
        next.classifier.set_intent(name, answer, true);
        let refs: Vec<&[f32]> = features.iter().map(Vec::as_slice).collect();
        for z in next.head.apply(&refs) {
            next.classifier.add_example(name, &z);
        }
        self.served.store(Arc::new(next));
        // An operator's examples: the sample keeps them all.
        self.remember(
            ids.into_iter()
                .zip(features)
                .map(|(id, x)| Cached {
                    id,
                    intent: name.to_string(),
                    trusted: true,
                    x: self.featurizer.compact(&x),
                })
                .collect(),
            true,
        )?;
        self.counters
            .intents_created
            .fetch_add(1, Ordering::Relaxed);
        Ok(IntentReply {
            name: name.to_string(),
            answer: answer.to_string(),
            active: true,
            examples: examples.len(),
        })
    }

    /// Changes an intent's answer and/or retires (`active = false`) or restores it.
    pub async fn update_intent(
        &self,
        name: &str,
        answer: Option<&str>,
        active: Option<bool>,
    ) -> Result<IntentReply> {
        if answer.is_none() && active.is_none() {
            return Err(AgentError::invalid("body", "give `answer` and/or `active`"));
        }
        if let Some(a) = answer {
            check_text("answer", a, MAX_ANSWER_CHARS)?;
        }
        let _guard = self.learn.lock().await;
        let row = self.store.update_intent(name, answer, active).await?;
        let mut next = Served::clone(&self.served.load());
        next.classifier
            .set_intent(&row.name, &row.answer, row.active);
        let examples = self.sample()?.seen(&row.name);
        self.served.store(Arc::new(next));
        Ok(IntentReply {
            name: row.name,
            answer: row.answer,
            active: row.active,
            examples,
        })
    }

    /// Offers new examples to the in-memory sample and wakes the worker when enough arrived;
    /// returns, for each, whether the sample keeps it (only kept ones join the prototypes).
    /// `own`: this process stored them (a replica's sync must not offer them again).
    fn remember(&self, rows: Vec<Cached>, own: bool) -> Result<Vec<bool>> {
        let n = rows.len() as u64;
        if own && self.store.shared() {
            self.replica_state()?
                .own_examples
                .extend(rows.iter().map(|r| r.id));
        }
        let kept = self.sample()?.offer(rows);
        let total = self.pending.fetch_add(n, Ordering::Relaxed) + n;
        if total >= self.config.consolidation.every_examples {
            self.wake.notify_one();
        }
        Ok(kept)
    }

    /// The features message `id` was answered with, if it is among the latest.
    fn recent_features(&self, id: i64) -> Option<Vec<f32>> {
        let recent = self.recent.lock().ok()?;
        recent
            .iter()
            .rev()
            .find(|(m, _)| *m == id)
            .map(|(_, x)| x.row().to_vec())
    }

    fn sample(&self) -> Result<std::sync::MutexGuard<'_, ExampleSample>> {
        self.cache
            .lock()
            .map_err(|_| AgentError::Internal("the example cache lock is poisoned".into()))
    }

    fn cached(&self) -> Result<Vec<Cached>> {
        Ok(self.sample()?.rows().to_vec())
    }

    /// Labelled examples added since the last consolidation started.
    pub fn pending_examples(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Trains a candidate head on the stored examples with `strategy` (the configured one
    /// when `None`), from the served head or, `from_scratch`, from a new one; scores it on the
    /// held-out slice; stores it as a new version, and serves it when the guard accepts it.
    /// Requests are answered by the served model meanwhile; one consolidation runs at a time.
    pub async fn consolidate(
        &self,
        strategy: Option<Strategy>,
        from_scratch: bool,
    ) -> Result<ConsolidationReply> {
        let _one = self.consolidating.lock().await;
        let lease = self.model_lease().await?;
        self.pending.store(0, Ordering::Relaxed);
        let served = self.served.load_full();
        let (cache, newest) = {
            let sample = self.sample()?;
            (sample.rows().to_vec(), sample.newest())
        };
        let intents = self.store.intents().await?;
        let upto = served.spec.examples_upto;
        let newest = newest.max(upto);
        let strategy = strategy.unwrap_or(self.config.consolidation.strategy);
        let attempt = self.store.models().await?.len() as u64;
        let config = self.config.clone();
        let start = Head::clone(&served.head);
        let nice = self.config.consolidation.nice;
        let fit = crate::priority::run_niced(nice, move || {
            let seed = Seed(config.consolidation.seed).index(attempt);
            let start = if from_scratch {
                Head::new(start.dim(), config.learning.rank, &mut seed.rng("head"))?
            } else {
                start
            };
            let episodes = if from_scratch {
                config.learning.bootstrap_episodes
            } else {
                config.learning.episodes
            };
            fit_model(
                &config,
                &intents,
                &cache,
                &start,
                upto,
                strategy,
                episodes,
                false,
                &mut seed.rng("consolidate"),
            )
            .map(|fit| (fit, crate::priority::this_thread_nice()))
        })
        .await??;
        let (fit, ran_at) = fit;
        self.consolidation_nice
            .store(ran_at.unwrap_or(NICE_UNKNOWN), Ordering::Relaxed);
        let accepted = fit.refused.is_none() || !self.config.guard.enabled;
        let spec = ModelSpec {
            featurizer: self.config.featurizer.clone(),
            temperature: fit.classifier.temperature,
            ood_threshold: fit.classifier.ood_threshold,
            examples_upto: if accepted { newest } else { upto },
        };
        let record = ModelRecord {
            version: 0,
            blob: ModelBlob {
                spec: spec.clone(),
                head: fit.head.clone(),
            }
            .encode()?,
            metrics: fit.metrics.to_string(),
            status: if accepted { "accepted" } else { "refused" }.into(),
            reason: fit.refused.clone(),
        };
        let version = if accepted {
            let _guard = self.learn.lock().await;
            // Examples may have arrived during training: the prototypes are rebuilt from
            // everything stored now, under the new head.
            let classifier = self.rebuild_classifier(&fit.head, &spec).await?;
            lease.check().await?;
            let version = self.store.insert_model(&record).await?;
            let mut next = Served::clone(&self.served.load());
            next.classifier = classifier;
            next.head = Arc::new(fit.head);
            next.spec = ModelBlob::decode(&record.blob, version)?.spec;
            next.version = version;
            self.served.store(Arc::new(next));
            version
        } else {
            lease.check().await?;
            self.store.insert_model(&record).await?
        };
        drop(lease);
        Ok(ConsolidationReply {
            version,
            accepted,
            reason: fit.refused,
            metrics: fit.metrics,
        })
    }

    /// The classifier over every example stored now, under `head` (built off the runtime's
    /// threads): what a new or restored head serves.
    async fn rebuild_classifier(&self, head: &Head, spec: &ModelSpec) -> Result<Classifier> {
        let (cache, intents) = (self.cached()?, self.store.intents().await?);
        let (head, t, ood) = (head.clone(), spec.temperature, spec.ood_threshold);
        crate::priority::run_niced(self.config.consolidation.nice, move || {
            build_classifier(&head, &intents, &cache, t, ood)
        })
        .await
    }

    /// The nice value the last consolidation's training thread ran at, as the kernel
    /// reported it there (`None` before the first, or off Linux): `consolidation.nice`, or
    /// the process's own when that is lower still.
    pub fn consolidation_nice(&self) -> Option<i32> {
        Some(self.consolidation_nice.load(Ordering::Relaxed)).filter(|&n| n != NICE_UNKNOWN)
    }

    /// Takes the model lease (replicas consolidate and roll back one at a time); a conflict
    /// when another replica has it.
    async fn model_lease(&self) -> Result<Lease<S>> {
        let ttl = std::time::Duration::from_secs(self.config.consolidation.lease_seconds);
        Lease::take(&self.store, MODEL_LEASE, &self.holder, ttl).await
    }

    /// Reads what other replicas on the same database wrote since the last call and serves
    /// it: new or changed intents, new labelled examples (their prototypes move), feedback
    /// (this replica's policy and accuracy windows learn it too) and a change of the served
    /// model (a consolidation or rollback elsewhere: the stored state is reloaded under its
    /// head, as at a restart). Nothing to do on a store only this process writes.
    pub async fn sync(&self) -> Result<()> {
        if !self.store.shared() {
            return Ok(());
        }
        let _guard = self.learn.lock().await;
        let now = Instant::now();
        let (examples_upto, feedback_upto) = {
            let r = self.replica_state()?;
            (r.examples.upto, r.feedback.upto)
        };
        // Examples before intents: an example's intent committed with it or before it, so
        // every example read has its intent in the list read next.
        let rows = self.store.examples_after(examples_upto).await?;
        let intents = self.store.intents().await?;
        let feedback = self.store.feedback_after(feedback_upto).await?;
        let version = self.store.served_version().await?;
        let (rows, feedback) = {
            let mut r = self.replica_state()?;
            let keys: Vec<i64> = rows.iter().map(|e| e.id).collect();
            let fresh = r.examples.read(&keys, now);
            let rows: Vec<_> = rows
                .into_iter()
                .zip(fresh)
                .filter(|(e, fresh)| *fresh && !r.own_examples.remove(&e.id))
                .map(|(e, _)| e)
                .collect();
            let keys: Vec<i64> = feedback.iter().map(|f| f.seq).collect();
            let fresh = r.feedback.read(&keys, now);
            let feedback: Vec<_> = feedback
                .into_iter()
                .zip(fresh)
                .filter(|(f, fresh)| *fresh && !r.own_feedback.remove(&f.message_id))
                .map(|(f, _)| f)
                .collect();
            (rows, feedback)
        };
        let current = self.served.load_full();
        let mut next = Served::clone(&current);
        let mut changed = false;
        for f in &feedback {
            let (Some(action), Ok(ctx)) =
                (Action::parse(&f.action), policy::parse_context(&f.context))
            else {
                return Err(AgentError::State(format!(
                    "message {} has action {:?} and context {:?}",
                    f.message_id, f.action, f.context
                )));
            };
            let revealed = self.revealed(action, &f.predicted, f.correct);
            next.policy.learn(action, &ctx, f.reward, &revealed);
            next.accuracy.record(&f.predicted, f.correct);
            changed = true;
        }
        match version {
            Some(v) if v != current.version => {
                // Another replica consolidated or rolled back: everything is reloaded under
                // the new head (which also heals any row a tail could have missed).
                let record = self.store.model(v).await?.ok_or_else(|| {
                    AgentError::State(format!("the served model version {v} is not stored"))
                })?;
                let blob = ModelBlob::decode(&record.blob, v)?;
                check_featurizer(&self.config, &blob.spec)?;
                let all = Self::load_examples(&self.store, &self.featurizer).await?;
                let newer = all
                    .iter()
                    .filter(|c| c.id > blob.spec.examples_upto)
                    .count() as u64;
                let cache = ExampleSample::configured(&self.config.consolidation, all);
                let (head, spec, listed, all) = (
                    blob.head.clone(),
                    blob.spec.clone(),
                    intents.clone(),
                    cache.rows().to_vec(),
                );
                // Rebuilding every prototype is a consolidation's work: at its priority.
                next.classifier =
                    crate::priority::run_niced(self.config.consolidation.nice, move || {
                        build_classifier(&head, &listed, &all, spec.temperature, spec.ood_threshold)
                    })
                    .await?;
                *self.sample()? = cache;
                self.pending.store(newer, Ordering::Relaxed);
                next.head = Arc::new(blob.head);
                next.spec = blob.spec;
                next.version = v;
                changed = true;
            }
            _ => {
                for i in &intents {
                    if next.classifier.intent(&i.name) != Some((i.answer.as_str(), i.active)) {
                        next.classifier.set_intent(&i.name, &i.answer, i.active);
                        changed = true;
                    }
                }
                if !rows.is_empty() {
                    let dim = self.featurizer.dim();
                    let missing: Vec<String> = rows
                        .iter()
                        .filter(|r| {
                            r.features
                                .as_deref()
                                .and_then(|b| features_from_bytes(b, dim))
                                .is_none()
                        })
                        .map(|r| r.text.clone())
                        .collect();
                    let mut computed = Self::embed_owned(&self.featurizer, missing)
                        .await?
                        .into_iter();
                    let mut added = Vec::with_capacity(rows.len());
                    let mut embedded = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let x = r
                            .features
                            .as_deref()
                            .and_then(|b| features_from_bytes(b, dim))
                            .unwrap_or_else(|| computed.next().unwrap_or_default());
                        embedded.push(next.head.apply_one(&x));
                        added.push(Cached {
                            id: r.id,
                            intent: r.intent.clone(),
                            trusted: r.source != Source::Feedback.as_str(),
                            x: self.featurizer.compact(&x),
                        });
                    }
                    let kept = self.remember(added, false)?;
                    for ((r, z), kept) in rows.iter().zip(&embedded).zip(kept) {
                        if kept {
                            next.classifier.add_example(&r.intent, z);
                        }
                    }
                    changed = true;
                }
            }
        }
        if changed {
            self.served.store(Arc::new(next));
        }
        Ok(())
    }

    fn replica_state(&self) -> Result<std::sync::MutexGuard<'_, Replica>> {
        self.replica
            .lock()
            .map_err(|_| AgentError::Internal("the replica state lock is poisoned".into()))
    }

    /// Runs [`Agent::sync`] every `sync_ms` until the returned handle is aborted (only on a
    /// shared database; `None` otherwise).
    pub fn spawn_sync(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        if !self.store.shared() {
            return None;
        }
        let agent = Arc::clone(self);
        Some(tokio::spawn(async move {
            let period = std::time::Duration::from_millis(agent.config.sync_ms);
            let mut failing = false;
            loop {
                tokio::time::sleep(period).await;
                match agent.sync().await {
                    Ok(()) => failing = false,
                    // Once per outage, not once per period.
                    Err(e) if !failing => {
                        failing = true;
                        eprintln!("autodidact agent: reading other replicas' changes failed: {e}");
                    }
                    Err(_) => {}
                }
            }
        }))
    }

    /// Serves a stored, accepted model version again; its head re-embeds every stored example.
    pub async fn rollback(&self, version: i64) -> Result<i64> {
        let _one = self.consolidating.lock().await;
        let lease = self.model_lease().await?;
        let _guard = self.learn.lock().await;
        let record = self.store.model(version).await?.ok_or_else(|| {
            AgentError::not_found("version", format!("no model version {version}"))
        })?;
        if record.status != "accepted" {
            return Err(AgentError::conflict(
                "version",
                format!(
                    "version {version} was refused ({}); only accepted versions can be served",
                    record.reason.as_deref().unwrap_or("no reason stored")
                ),
            ));
        }
        let blob = ModelBlob::decode(&record.blob, version)?;
        check_featurizer(&self.config, &blob.spec)?;
        let classifier = self.rebuild_classifier(&blob.head, &blob.spec).await?;
        lease.check().await?;
        self.store.set_served(version).await?;
        let mut next = Served::clone(&self.served.load());
        next.classifier = classifier;
        next.head = Arc::new(blob.head);
        next.spec = blob.spec;
        next.version = version;
        self.served.store(Arc::new(next));
        Ok(version)
    }

    /// Every stored model version (without blobs) and every change of the served one.
    pub async fn models(&self) -> Result<(Vec<ModelInfo>, Vec<ModelEvent>)> {
        Ok((self.store.models().await?, self.store.model_events().await?))
    }

    /// Runs the consolidation worker until the returned handle is aborted: it consolidates
    /// after `consolidation.every_examples` new labelled examples, or every
    /// `consolidation.every_seconds` when any arrived.
    pub fn spawn_worker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let agent = Arc::clone(self);
        tokio::spawn(async move {
            let c = &agent.config.consolidation;
            let period = std::time::Duration::from_secs(c.every_seconds);
            loop {
                let timed_out = tokio::time::timeout(period, agent.wake.notified())
                    .await
                    .is_err();
                let pending = agent.pending_examples();
                if pending == 0 || (!timed_out && pending < c.every_examples) {
                    continue;
                }
                match agent.consolidate(None, false).await {
                    Ok(_) => {}
                    // Another replica is consolidating: its model reaches this one by sync.
                    Err(AgentError::Conflict { field, .. }) if field == MODEL_LEASE => {}
                    Err(e) => eprintln!("autodidact agent: consolidation failed: {e}"),
                }
            }
        })
    }

    /// Every intent as stored.
    pub async fn intents(&self) -> Result<Vec<IntentRow>> {
        self.store.intents().await
    }

    /// Every intent with its example count and recent feedback accuracy.
    pub async fn intent_listing(&self) -> Result<Vec<IntentListing>> {
        let rows = self.store.intents().await?;
        let served = self.served.load_full();
        let sample = self.sample()?;
        Ok(rows
            .into_iter()
            .map(|intent| {
                let (right, seen) = served.accuracy.observed(&intent.name);
                IntentListing {
                    examples: sample.seen(&intent.name),
                    recent_feedback: seen,
                    recent_accuracy: (seen > 0).then(|| right as f64 / seen as f64),
                    intent,
                }
            })
            .collect())
    }

    /// The newest `limit` messages with their feedback and the answer they got.
    pub async fn conversations(&self, limit: usize) -> Result<Vec<Conversation>> {
        let rows = self
            .store
            .recent_messages(i64::try_from(limit).unwrap_or(i64::MAX))
            .await?;
        let served = self.served.load_full();
        Ok(rows
            .into_iter()
            .map(|message| {
                let answer = match Action::parse(&message.action) {
                    Some(Action::Answer) => served
                        .classifier
                        .intent(&message.intent)
                        .map(|(a, _)| a.to_string())
                        .unwrap_or_default(),
                    Some(Action::Clarify) => self.config.clarify_text.clone(),
                    _ => self.config.handoff_text.clone(),
                };
                Conversation { message, answer }
            })
            .collect())
    }

    /// The learning curves at `points` times over a trailing `window`, from the newest
    /// [`TIMELINE_ROWS`] messages and feedback.
    pub async fn timeline(&self, points: usize, window: usize) -> Result<Timeline> {
        let feedback = self.store.feedback_points(TIMELINE_ROWS).await?;
        let messages = self.store.message_points(TIMELINE_ROWS).await?;
        let intents = self.store.intents().await?;
        let events = self.store.model_events().await?;
        let inputs = timeline::Inputs {
            feedback: &feedback,
            messages: &messages,
            intents: &intents,
            events: &events,
            now_ms: now_ms(),
        };
        Ok(timeline::timeline(&inputs, points, window))
    }

    /// Statistics for `GET /v1/stats`.
    pub async fn stats(&self) -> Result<StatsReply> {
        let served = self.served.load_full();
        let c = &served.classifier;
        let active: Vec<&str> = c.active().collect();
        Ok(StatsReply {
            model_version: served.version,
            active_intents: active.len(),
            examples: active.iter().map(|n| c.count(n)).sum(),
            temperature: c.temperature,
            ood_threshold: c.ood_threshold,
            policy_updates: served.policy.counts(),
            store: self.store.stats().await?,
        })
    }

    /// Checks the store answers.
    pub async fn health(&self) -> Result<i64> {
        self.store.ping().await?;
        Ok(self.served.load().version)
    }

    /// The Prometheus text exposition of the agent's counters and gauges.
    pub fn metrics_text(&self) -> String {
        let served = self.served.load_full();
        let c = &self.counters;
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, v) in samples {
                out.push_str(&format!("{name}{labels} {v}\n"));
            }
        };
        let actions: Vec<(String, f64)> = Action::ALL
            .iter()
            .zip(&c.actions)
            .map(|(a, n)| {
                (
                    format!("{{action=\"{}\"}}", a.as_str()),
                    n.load(Ordering::Relaxed) as f64,
                )
            })
            .collect();
        let total: f64 = actions.iter().map(|a| a.1).sum();
        metric(
            "autodidact_messages_total",
            "counter",
            "Messages answered since start, by action.",
            &actions,
        );
        let plain = |v: f64| vec![(String::new(), v)];
        let b = &self.batcher.counters;
        for (name, help, count) in [
            (
                "autodidact_out_of_scope_total",
                "Messages predicted out of scope since start.",
                &c.out_of_scope,
            ),
            (
                "autodidact_feedback_total",
                "Feedback recorded since start.",
                &c.feedback,
            ),
            (
                "autodidact_corrections_total",
                "Feedback naming the correct intent since start.",
                &c.corrections,
            ),
            (
                "autodidact_intents_created_total",
                "Intents created since start.",
                &c.intents_created,
            ),
            (
                "autodidact_encoder_passes_total",
                "Featurizer passes that embedded messages (batched) since start.",
                &b.passes,
            ),
            (
                "autodidact_encoder_texts_total",
                "Texts those passes embedded since start.",
                &b.texts,
            ),
        ] {
            metric(
                name,
                "counter",
                help,
                &plain(count.load(Ordering::Relaxed) as f64),
            );
        }
        metric(
            "autodidact_message_seconds_sum",
            "counter",
            "Time spent answering messages since start.",
            &plain(c.message_micros.load(Ordering::Relaxed) as f64 / 1e6),
        );
        metric(
            "autodidact_message_seconds_count",
            "counter",
            "Messages timed since start.",
            &plain(total),
        );
        let cl = &served.classifier;
        let active: Vec<&str> = cl.active().collect();
        metric(
            "autodidact_active_intents",
            "gauge",
            "Active intents.",
            &plain(active.len() as f64),
        );
        metric(
            "autodidact_examples",
            "gauge",
            "Labelled examples behind the active prototypes.",
            &plain(active.iter().map(|n| cl.count(n)).sum::<usize>() as f64),
        );
        metric(
            "autodidact_model_version",
            "gauge",
            "The served model version.",
            &plain(served.version as f64),
        );
        metric(
            "autodidact_temperature",
            "gauge",
            "The classifier's softmax temperature.",
            &plain(cl.temperature),
        );
        metric(
            "autodidact_uptime_seconds",
            "gauge",
            "Seconds since the agent opened.",
            &plain(self.started.elapsed().as_secs_f64()),
        );
        out
    }

    /// Featurizer passes over batched texts and the texts they embedded, since start.
    pub fn encoder_passes(&self) -> (u64, u64) {
        let b = &self.batcher.counters;
        (
            b.passes.load(Ordering::Relaxed),
            b.texts.load(Ordering::Relaxed),
        )
    }

    /// The active intents and their example counts (for tools).
    pub fn active_intents(&self) -> BTreeMap<String, usize> {
        let served = self.served.load_full();
        served
            .classifier
            .active()
            .map(|n| (n.to_string(), served.classifier.count(n)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_compare_and_round_trip() {
        let a = sha256("token-one-0123456789");
        let b = sha256("token-two-0123456789");
        assert!(ct_eq(&a, &a));
        assert!(!ct_eq(&a, &b));
        assert_eq!(unhex(&hex(&a)), Some(a));
        assert_eq!(unhex("zz"), None);
        assert_ne!(new_token(), new_token());
    }

    #[test]
    fn names_and_texts_are_checked() {
        assert!(check_name("name", "card_arrival").is_ok());
        assert!(check_name("name", "").is_err());
        assert!(check_name("name", "has space").is_err());
        assert!(check_name("name", "a/b").is_err());
        assert!(check_name("name", "reverted_card_payment?").is_ok());
        assert!(check_name("name", OUT_OF_SCOPE).is_err());
        assert!(check_text("text", "  \n", 10).is_err());
        assert!(check_text("text", "hello", 4).is_err());
        assert!(check_text("text", "a\u{0}b", 10).is_err());
        assert!(check_text("text", "hello", 5).is_ok());
    }
}
