//! Persistence: a small async [`Store`] trait and its two implementations, on a SQLite file
//! ([`SqliteStore`], one agent process) and on a PostgreSQL database ([`PgStore`], several
//! agent processes behind a load balancer).
//!
//! Every method is one transaction: when it returns `Ok`, its writes are durable (see
//! [`SqliteStore::open`] and [`PgStore::connect`]). Both run the same SQL (`sql.rs`: numbered
//! placeholders `$1`, `RETURNING`, `ON CONFLICT`, booleans bound from Rust), each with its own
//! migrations folder (`agent/migrations/sqlite`, `agent/migrations/postgres`).

mod dump;
mod postgres;
mod sql;
mod sqlite;

use std::future::Future;

pub use dump::{
    base64_decode, base64_encode, BanditDump, Cursor, ExampleDump, FeedbackDump, IntentDump,
    MessageDump, ModelDump, Record, Restore, ServedDump, Snapshot, Table, TokenDump,
};
pub use postgres::{is_postgres_url, PgRestore, PgSnapshot, PgStore};
pub use sqlite::{SqliteRestore, SqliteSnapshot, SqliteStore};

use crate::error::Result;

/// Where a labelled example came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The data the agent started from.
    Bootstrap,
    /// An operator (admin API).
    Operator,
    /// A customer's corrected feedback.
    Feedback,
}

impl Source {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Bootstrap => "bootstrap",
            Source::Operator => "operator",
            Source::Feedback => "feedback",
        }
    }
}

/// An intent as stored.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct IntentRow {
    /// Unique name.
    pub name: String,
    /// The answer given for it.
    pub answer: String,
    /// False once retired (never deleted).
    pub active: bool,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

/// A labelled example as stored.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct ExampleRow {
    /// Row id (insertion order).
    pub id: i64,
    /// Its intent.
    pub intent: String,
    /// The text.
    pub text: String,
    /// Where it came from.
    pub source: String,
    /// Cached features (f32 little-endian), when computed.
    pub features: Option<Vec<u8>>,
}

/// A message and the agent's reply, as stored.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct MessageRow {
    /// Id (0 before insertion).
    pub id: i64,
    /// The client's session.
    pub session: String,
    /// The customer's text.
    pub text: String,
    /// The predicted intent (or `out_of_scope`).
    pub intent: String,
    /// Calibrated probability of the predicted intent.
    pub confidence: f64,
    /// Out-of-scope score (distance to the nearest prototype over the threshold).
    pub ood_score: f64,
    /// `answer`, `clarify` or `handoff`.
    pub action: String,
    /// The policy's context vector (JSON array).
    pub context: String,
    /// The model version that answered.
    pub model_version: i64,
}

/// A feedback record to store, with what it changes.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedbackRecord {
    /// The message it is about.
    pub message_id: i64,
    /// Whether the customer's problem was resolved.
    pub resolved: bool,
    /// The intent the message really had, when given.
    pub correct_intent: Option<String>,
    /// The policy's reward.
    pub reward: f64,
    /// A new labelled example `(intent, text, features)` it makes.
    pub example: Option<(String, String, Vec<u8>)>,
    /// The policy's state after the update (JSON).
    pub bandit_state: String,
}

/// One feedback outcome, for the per-intent accuracy windows.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The intent the agent predicted.
    pub predicted: String,
    /// Whether the prediction was right.
    pub correct: bool,
}

/// A stored model version.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct ModelRecord {
    /// Version number (1 is the bootstrap model).
    pub version: i64,
    /// Serialised model (JSON of [`crate::classifier::ModelSpec`]).
    pub blob: Vec<u8>,
    /// Its metrics (JSON).
    pub metrics: String,
    /// `accepted` or `refused`.
    pub status: String,
    /// Why it was refused.
    pub reason: Option<String>,
}

/// A stored model version without its blob (for listings).
#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct ModelInfo {
    /// Version number.
    pub version: i64,
    /// `accepted` or `refused`.
    pub status: String,
    /// Why it was refused.
    pub reason: Option<String>,
    /// Its metrics (JSON text).
    pub metrics: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

/// A change of the served model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct ModelEvent {
    /// Order of events.
    pub seq: i64,
    /// The version it concerns.
    pub version: i64,
    /// `bootstrap`, `accepted`, `refused` or `rollback`.
    pub event: String,
    /// Details (a refusal's reason).
    pub detail: Option<String>,
    /// When, ms since the epoch.
    pub created_ms: i64,
}

/// Aggregates for `GET /v1/stats`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Messages answered.
    pub messages: i64,
    /// Feedback received.
    pub feedback: i64,
    /// Share of feedback with a correct prediction, over all / the last 100 / the last 1000.
    pub accuracy: Window3,
    /// Share of messages handed off, over all / the last 100 / the last 1000 messages.
    pub handoff_rate: Window3,
    /// Mean reward over all / the last 100 / the last 1000 feedback.
    pub mean_reward: Window3,
    /// Per predicted intent: feedback count and accuracy.
    pub per_intent: Vec<IntentStats>,
    /// Messages per action.
    pub actions: Vec<(String, i64)>,
}

/// A figure over three windows (`None` with no data).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Window3 {
    /// Over everything.
    pub all: Option<f64>,
    /// Over the last 100.
    pub last_100: Option<f64>,
    /// Over the last 1000.
    pub last_1000: Option<f64>,
}

/// Feedback accuracy of one predicted intent.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct IntentStats {
    /// The predicted intent.
    pub intent: String,
    /// Feedback received on its predictions.
    pub feedback: i64,
    /// Share of them that were right.
    pub accuracy: f64,
}

/// One feedback, for the learning curves.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct FeedbackPoint {
    /// When it was received, ms since the epoch.
    pub created_ms: i64,
    /// The intent the agent predicted (or `out_of_scope`).
    pub predicted: String,
    /// The intent the customer said it was, when given.
    pub correct_intent: Option<String>,
    /// Whether the problem was resolved.
    pub resolved: bool,
    /// The policy's reward.
    pub reward: f64,
}

impl FeedbackPoint {
    /// Whether the prediction was right (the same rule as every accuracy the agent reports).
    pub fn correct(&self) -> bool {
        match &self.correct_intent {
            Some(c) => *c == self.predicted,
            None => self.resolved,
        }
    }

    /// The intent the message had as far as the feedback tells: the correction, else the
    /// prediction.
    pub fn labelled_intent(&self) -> &str {
        self.correct_intent.as_deref().unwrap_or(&self.predicted)
    }
}

/// One stored feedback with what the policy learnt from it: what a replica replays onto its
/// own policy when another replica recorded it.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedbackEntry {
    /// Arrival order.
    pub seq: i64,
    /// The message it is about.
    pub message_id: i64,
    /// The action the agent took on the message.
    pub action: String,
    /// The policy's context vector (JSON array).
    pub context: String,
    /// The policy's reward.
    pub reward: f64,
    /// The intent the agent predicted (or `out_of_scope`).
    pub predicted: String,
    /// Whether the prediction was right.
    pub correct: bool,
}

/// One message's time and action, for the hand-off curve.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct MessagePoint {
    /// When it was answered, ms since the epoch.
    pub created_ms: i64,
    /// `answer`, `clarify` or `handoff`.
    pub action: String,
}

/// A recent message with its feedback, for the conversations list.
#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct RecentMessage {
    /// Message id.
    pub id: i64,
    /// When it was answered, ms since the epoch.
    pub created_ms: i64,
    /// The client's session.
    pub session: String,
    /// The customer's text.
    pub text: String,
    /// The predicted intent (or `out_of_scope`).
    pub intent: String,
    /// Probability of the predicted intent.
    pub confidence: f64,
    /// `answer`, `clarify` or `handoff`.
    pub action: String,
    /// The model version that answered.
    pub model_version: i64,
    /// Whether the customer said it was resolved (`None`: no feedback yet).
    pub resolved: Option<bool>,
    /// The intent the customer said it was, when given.
    pub correct_intent: Option<String>,
}

/// The agent's storage. Each method is one transaction, durable when it returns `Ok`. A clone
/// is another handle on the same database (a connection pool).
pub trait Store: Clone + Send + Sync + 'static {
    /// A consistent read-only view for an export.
    type Snapshot: Snapshot;
    /// An all-or-nothing restore of an export.
    type Restore: Restore;
    /// Checks the database answers.
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;
    /// The served model version, if any (none before the first bootstrap).
    fn served_model(&self) -> impl Future<Output = Result<Option<ModelRecord>>> + Send;
    /// One model version.
    fn model(&self, version: i64) -> impl Future<Output = Result<Option<ModelRecord>>> + Send;
    /// Every model version, oldest first, without blobs.
    fn models(&self) -> impl Future<Output = Result<Vec<ModelInfo>>> + Send;
    /// Every change of the served model, oldest first.
    fn model_events(&self) -> impl Future<Output = Result<Vec<ModelEvent>>> + Send;
    /// Stores a new model version (numbered after the last) and, when it is `accepted`,
    /// serves it. Returns its version.
    fn insert_model(&self, model: &ModelRecord) -> impl Future<Output = Result<i64>> + Send;
    /// Serves a stored version again (a rollback); an unknown version is not found.
    fn set_served(&self, version: i64) -> impl Future<Output = Result<()>> + Send;
    /// Stores the bootstrap state at once: intents `(name, answer)`, examples `(intent, text,
    /// features)` and model version 1, served. Returns the example ids in order.
    fn bootstrap(
        &self,
        intents: &[(String, String)],
        examples: &[(String, String, Vec<u8>)],
        model: &ModelRecord,
    ) -> impl Future<Output = Result<Vec<i64>>> + Send;
    /// Caches features of stored examples `(id, features)`.
    fn set_features(&self, rows: &[(i64, Vec<u8>)]) -> impl Future<Output = Result<()>> + Send;
    /// Every intent, by name.
    fn intents(&self) -> impl Future<Output = Result<Vec<IntentRow>>> + Send;
    /// Every labelled example, in insertion order.
    fn examples(&self) -> impl Future<Output = Result<Vec<ExampleRow>>> + Send;
    /// Creates an intent with its first examples `(text, features)` (source `operator`); a
    /// taken name is a conflict on `name`. Returns the example ids.
    fn create_intent(
        &self,
        name: &str,
        answer: &str,
        examples: &[(String, Vec<u8>)],
    ) -> impl Future<Output = Result<Vec<i64>>> + Send;
    /// Changes an intent's answer and/or active flag; an unknown name is not found.
    fn update_intent(
        &self,
        name: &str,
        answer: Option<&str>,
        active: Option<bool>,
    ) -> impl Future<Output = Result<IntentRow>> + Send;
    /// Stores a message and the reply; returns its id.
    fn insert_message(&self, m: &MessageRow) -> impl Future<Output = Result<i64>> + Send;
    /// Stores messages in one transaction (one commit for all: a group commit); returns
    /// their ids in order.
    fn insert_messages(&self, m: &[&MessageRow]) -> impl Future<Output = Result<Vec<i64>>> + Send;
    /// One message by id.
    fn message(&self, id: i64) -> impl Future<Output = Result<Option<MessageRow>>> + Send;
    /// Stores feedback, the example it makes and the policy state; a second feedback on the
    /// same message is a conflict. Returns the new example's id.
    fn record_feedback(
        &self,
        f: &FeedbackRecord,
    ) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// Stores a group of feedback in one transaction (one commit for all: a group commit),
    /// each with the example it makes, and the policy state of the last; returns the new
    /// examples' ids in order. When a message already has feedback (stored, or earlier in the
    /// group) nothing is stored and its index in the group is returned as `Err`.
    #[allow(clippy::type_complexity)]
    fn record_feedback_group(
        &self,
        group: &[FeedbackRecord],
    ) -> impl Future<Output = Result<std::result::Result<Vec<Option<i64>>, usize>>> + Send;
    /// Every feedback outcome in arrival order.
    fn outcomes(&self) -> impl Future<Output = Result<Vec<Outcome>>> + Send;
    /// The newest `limit` feedback, oldest first.
    fn feedback_points(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<FeedbackPoint>>> + Send;
    /// The newest `limit` messages' times and actions, oldest first.
    fn message_points(&self, limit: i64) -> impl Future<Output = Result<Vec<MessagePoint>>> + Send;
    /// The newest `limit` messages with their feedback, newest first.
    fn recent_messages(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RecentMessage>>> + Send;
    /// The policy's stored state (JSON), if any feedback updated it.
    fn bandit_state(&self) -> impl Future<Output = Result<Option<String>>> + Send;
    /// The stored hash of a role's token.
    fn token_hash(&self, role: &str) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Stores (or replaces) a role's token hash.
    fn set_token_hash(&self, role: &str, sha256: &str) -> impl Future<Output = Result<()>> + Send;
    /// Aggregates for the stats route.
    fn stats(&self) -> impl Future<Output = Result<Stats>> + Send;
    /// The version of the newest schema migration applied.
    fn schema_version(&self) -> impl Future<Output = Result<i64>> + Send;
    /// True when no table holds a row (a database an import may fill).
    fn is_empty(&self) -> impl Future<Output = Result<bool>> + Send;
    /// Starts a read transaction over every table (for an export, read page by page).
    fn snapshot(&self) -> impl Future<Output = Result<Self::Snapshot>> + Send;
    /// Starts a write transaction that restores an export (ids kept).
    fn restore(&self) -> impl Future<Output = Result<Self::Restore>> + Send;
    /// The served model's version, if any (a cheap poll: replicas follow each other's
    /// consolidations and rollbacks with it).
    fn served_version(&self) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// Labelled examples with ids above `after`, in id order (what other replicas stored).
    fn examples_after(&self, after: i64) -> impl Future<Output = Result<Vec<ExampleRow>>> + Send;
    /// Feedback with sequence numbers above `after`, in order, with its message's action,
    /// context and prediction.
    fn feedback_after(&self, after: i64)
        -> impl Future<Output = Result<Vec<FeedbackEntry>>> + Send;
    /// Takes the lease `name` for `holder` for `ttl_ms` milliseconds, or renews it when
    /// `holder` has it already; false when another holder has it and it has not expired.
    fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_ms: i64,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Gives the lease `name` up if `holder` has it.
    fn release_lease(&self, name: &str, holder: &str) -> impl Future<Output = Result<()>> + Send;
    /// Whether other agent processes may write the same database (replicas), so this one
    /// must read what they wrote.
    fn shared(&self) -> bool;
}

/// Features as stored: f32 little-endian.
pub fn features_to_bytes(x: &[f32]) -> Vec<u8> {
    x.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Features from their stored bytes (`None` when the length is not `4 · dim`).
pub fn features_from_bytes(b: &[u8], dim: usize) -> Option<Vec<f32>> {
    (b.len() == 4 * dim).then(|| {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
