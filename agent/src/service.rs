//! The agent: opens (or bootstraps) its store, serves predictions from an immutable snapshot
//! and learns from feedback and new intents.
//!
//! Reads never wait on learning: a request loads the current [`Served`] snapshot (an `Arc`
//! behind an [`ArcSwap`]) and works on it. A write (feedback, a new or changed intent) takes
//! the learning lock, commits to the store first, then builds the next snapshot from the
//! current one and swaps it in; only what changed is copied (intents are shared `Arc`s).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use autodidact_envs::intents::{read_csv_bytes, TextRow};
use sha2::{Digest, Sha256};

use crate::classifier::{Calibration, Classifier, ModelSpec, Prediction, OUT_OF_SCOPE};
use crate::config::AgentConfig;
use crate::error::{AgentError, Result};
use crate::featurizer::{self, Featurizer};
use crate::policy::{self, Action, LinUcb, RecentAccuracy};
use crate::store::{IntentRow, MessageRow, ModelRecord, SqliteStore, Stats, Store};

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
    pub(crate) policy: LinUcb,
    pub(crate) accuracy: RecentAccuracy,
    pub(crate) version: i64,
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

#[derive(Debug, Default)]
struct Counters {
    actions: [AtomicU64; 3],
    out_of_scope: AtomicU64,
    feedback: AtomicU64,
    corrections: AtomicU64,
    intents_created: AtomicU64,
    message_micros: AtomicU64,
}

/// The customer-service agent over a [`Store`].
pub struct Agent<S: Store = SqliteStore> {
    store: S,
    config: AgentConfig,
    featurizer: Arc<dyn Featurizer>,
    served: ArcSwap<Served>,
    learn: tokio::sync::Mutex<()>,
    counters: Counters,
    client_hash: [u8; 32],
    admin_hash: [u8; 32],
    generated: Vec<(Role, String)>,
    started: Instant,
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

impl Agent<SqliteStore> {
    /// Opens the agent on the SQLite file `config.db`: bootstraps it from `config.data` on
    /// the first start, else resumes the stored state.
    pub async fn open(config: AgentConfig) -> Result<Agent<SqliteStore>> {
        config.validate()?;
        let store = SqliteStore::open(&config.db).await?;
        Agent::with_store(config, store).await
    }
}

impl<S: Store> Agent<S> {
    /// Opens the agent on any store (see [`Agent::open`]).
    pub async fn with_store(config: AgentConfig, store: S) -> Result<Agent<S>> {
        config.validate()?;
        let spec_fz = config.featurizer.clone();
        let featurizer = tokio::task::spawn_blocking(move || featurizer::build(&spec_fz))
            .await
            .map_err(|e| AgentError::Internal(e.to_string()))??;
        let served = match store.latest_model().await? {
            None => Self::bootstrap(&config, &store, &featurizer).await?,
            Some(model) => Self::resume(&config, &store, &featurizer, model).await?,
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
        Ok(Agent {
            store,
            config,
            featurizer,
            served: ArcSwap::from_pointee(served),
            learn: tokio::sync::Mutex::new(()),
            counters: Counters::default(),
            client_hash: hashes[0],
            admin_hash: hashes[1],
            generated,
            started: Instant::now(),
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

    async fn bootstrap(
        config: &AgentConfig,
        store: &S,
        featurizer: &Arc<dyn Featurizer>,
    ) -> Result<Served> {
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
        let intents: Vec<(String, String)> = names
            .iter()
            .map(|n| {
                let answer = answers
                    .get(n)
                    .cloned()
                    .unwrap_or_else(|| format!("[answer for `{n}` not configured yet]"));
                (n.clone(), answer)
            })
            .collect();
        let features =
            Self::embed_owned(featurizer, rows.iter().map(|r| r.text.clone()).collect()).await?;
        let mut classifier = Classifier::new(
            featurizer.dim(),
            config.temperature,
            config.ood_threshold.unwrap_or(f64::INFINITY),
        );
        for (n, a) in &intents {
            classifier.set_intent(n, a, true);
        }
        let labelled: Vec<(String, Vec<f32>)> =
            rows.iter().map(|r| r.label.clone()).zip(features).collect();
        for (label, x) in &labelled {
            classifier.add_example(label, x);
        }
        let calibration = Self::calibrate(config, &mut classifier, labelled).await?;
        let spec = ModelSpec {
            featurizer: config.featurizer.clone(),
            temperature: classifier.temperature,
            ood_threshold: classifier.ood_threshold,
        };
        let model = ModelRecord {
            version: 1,
            blob: serde_json::to_vec(&spec).map_err(|e| AgentError::Internal(e.to_string()))?,
            metrics: serde_json::json!({
                "calibration": calibration,
                "intents": intents.len(),
                "examples": rows.len(),
            })
            .to_string(),
        };
        let examples: Vec<(String, String)> = rows.into_iter().map(|r| (r.label, r.text)).collect();
        store.bootstrap(&intents, &examples, &model).await?;
        let p = &config.policy;
        Ok(Served {
            classifier,
            policy: LinUcb::new(p.alpha, p.prior_weight, &p.rewards),
            accuracy: RecentAccuracy::new(p.accuracy_window),
            version: 1,
        })
    }

    async fn calibrate(
        config: &AgentConfig,
        classifier: &mut Classifier,
        labelled: Vec<(String, Vec<f32>)>,
    ) -> Result<Calibration> {
        let mut c = classifier.clone();
        let (min, q) = (
            config.min_held_out,
            config
                .ood_threshold
                .is_none()
                .then_some(config.ood_quantile),
        );
        let (c, cal) = tokio::task::spawn_blocking(move || {
            let cal = c.fit(&labelled, min, q);
            (c, cal)
        })
        .await
        .map_err(|e| AgentError::Internal(e.to_string()))?;
        *classifier = c;
        if !classifier.ood_threshold.is_finite() {
            // Too few examples to fit a threshold and none configured: nothing is out of
            // scope by distance (featureless texts still are).
            classifier.ood_threshold = f64::MAX;
        }
        Ok(cal)
    }

    async fn resume(
        config: &AgentConfig,
        store: &S,
        featurizer: &Arc<dyn Featurizer>,
        model: ModelRecord,
    ) -> Result<Served> {
        let spec: ModelSpec = serde_json::from_slice(&model.blob)
            .map_err(|e| AgentError::State(format!("model version {}: {e}", model.version)))?;
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
        let mut classifier =
            Classifier::new(featurizer.dim(), spec.temperature, spec.ood_threshold);
        for IntentRow {
            name,
            answer,
            active,
            ..
        } in store.intents().await?
        {
            classifier.set_intent(&name, &answer, active);
        }
        let examples = store.examples().await?;
        let features = Self::embed_owned(
            featurizer,
            examples.iter().map(|e| e.text.clone()).collect(),
        )
        .await?;
        for (e, x) in examples.iter().zip(&features) {
            classifier.add_example(&e.intent, x);
        }
        let p = &config.policy;
        let policy = match store.bandit_state().await? {
            Some(s) => LinUcb::from_json(&s)?,
            None => LinUcb::new(p.alpha, p.prior_weight, &p.rewards),
        };
        let mut accuracy = RecentAccuracy::new(p.accuracy_window);
        for o in store.outcomes().await? {
            accuracy.record(&o.predicted, o.correct);
        }
        Ok(Served {
            classifier,
            policy,
            accuracy,
            version: model.version,
        })
    }

    /// Tokens generated at this start (none were configured or stored); show them once.
    pub fn generated_tokens(&self) -> &[(Role, String)] {
        &self.generated
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
        let served = self.served.load_full();
        let x = Self::embed_owned(&self.featurizer, vec![text.to_string()]).await?;
        Ok(served.classifier.predict(&x[0]))
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
        let served = self.served.load_full();
        let x = Self::embed_owned(&self.featurizer, vec![text.to_string()]).await?;
        let pred = served.classifier.predict(&x[0]);
        let intent = pred.intent().to_string();
        let ctx = policy::context(
            pred.confidence(),
            pred.margin(),
            served.accuracy.get(&intent),
            pred.ood_score,
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
        let id = self.store.insert_message(&row).await?;
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
    /// `correct_intent` becomes a labelled example and moves that intent's prototype at once;
    /// the policy learns the reward.
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
        let features = match correct_intent {
            Some(_) => Some(Self::embed_owned(&self.featurizer, vec![message.text.clone()]).await?),
            None => None,
        };
        let action = Action::parse(&message.action).ok_or_else(|| {
            AgentError::State(format!("message {id} has action {:?}", message.action))
        })?;
        let ctx: [f64; policy::DIM] = serde_json::from_str(&message.context)
            .map_err(|e| AgentError::State(format!("message {id} context: {e}")))?;
        let correct = match correct_intent {
            Some(c) => c == message.intent,
            None => resolved,
        };
        let reward = self.config.policy.rewards.reward(action, resolved);

        let _guard = self.learn.lock().await;
        let mut next = Served::clone(&self.served.load());
        next.policy.update(action, &ctx, reward);
        next.accuracy.record(&message.intent, correct);
        let record = crate::store::FeedbackRecord {
            message_id: id,
            resolved,
            correct_intent: correct_intent.map(str::to_string),
            reward,
            example: correct_intent.map(|c| (c.to_string(), message.text.clone())),
            bandit_state: next.policy.to_json(),
        };
        let example_id = self.store.record_feedback(&record).await?;
        if let (Some(c), Some(x)) = (correct_intent, features) {
            next.classifier.add_example(c, &x[0]);
            self.counters.corrections.fetch_add(1, Ordering::Relaxed);
        }
        self.served.store(Arc::new(next));
        self.counters.feedback.fetch_add(1, Ordering::Relaxed);
        Ok(FeedbackReply {
            id,
            correct,
            reward,
            example_id,
        })
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
        self.store.create_intent(name, answer, examples).await?;
        let mut next = Served::clone(&self.served.load());
        next.classifier.set_intent(name, answer, true);
        for x in &features {
            next.classifier.add_example(name, x);
        }
        self.served.store(Arc::new(next));
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
        let examples = next.classifier.count(&row.name);
        self.served.store(Arc::new(next));
        Ok(IntentReply {
            name: row.name,
            answer: row.answer,
            active: row.active,
            examples,
        })
    }

    /// Every intent as stored.
    pub async fn intents(&self) -> Result<Vec<IntentRow>> {
        self.store.intents().await
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
        metric(
            "autodidact_out_of_scope_total",
            "counter",
            "Messages predicted out of scope since start.",
            &plain(c.out_of_scope.load(Ordering::Relaxed) as f64),
        );
        metric(
            "autodidact_feedback_total",
            "counter",
            "Feedback recorded since start.",
            &plain(c.feedback.load(Ordering::Relaxed) as f64),
        );
        metric(
            "autodidact_corrections_total",
            "counter",
            "Feedback with a correct intent (new labelled examples) since start.",
            &plain(c.corrections.load(Ordering::Relaxed) as f64),
        );
        metric(
            "autodidact_intents_created_total",
            "counter",
            "Intents created since start.",
            &plain(c.intents_created.load(Ordering::Relaxed) as f64),
        );
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
