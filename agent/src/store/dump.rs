//! The rows of every table as an export writes them and an import reads them back
//! (`crate::export`), the order the tables are written in, and the traits a store implements
//! to be read page by page ([`Snapshot`]) and restored all or nothing ([`Restore`]).

use std::future::Future;

use super::ModelEvent;
use crate::error::Result;

/// An intent with everything stored about it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct IntentDump {
    /// Unique name.
    pub name: String,
    /// Its answer.
    pub answer: String,
    /// False once retired.
    pub active: bool,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// Last change, ms since the epoch.
    pub updated_ms: i64,
}

/// A customer's message with the agent's prediction and the policy's context.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct MessageDump {
    /// Id (kept on import: feedback and examples refer to it).
    pub id: i64,
    /// The client's session.
    pub session: String,
    /// The text.
    pub text: String,
    /// The predicted intent (or `out_of_scope`).
    pub intent: String,
    /// Probability of the predicted intent.
    pub confidence: f64,
    /// Out-of-scope score.
    pub ood_score: f64,
    /// `answer`, `clarify` or `handoff`.
    pub action: String,
    /// The policy's context vector (JSON text, kept verbatim).
    pub context: String,
    /// The model version that answered.
    pub model_version: i64,
    /// When, ms since the epoch.
    pub created_ms: i64,
}

/// A labelled example, with its cached features.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct ExampleDump {
    /// Id (the prototypes are built in id order).
    pub id: i64,
    /// Its intent.
    pub intent: String,
    /// The text.
    pub text: String,
    /// `bootstrap`, `operator` or `feedback`.
    pub source: String,
    /// The message a correction came from.
    pub message_id: Option<i64>,
    /// When, ms since the epoch.
    pub created_ms: i64,
    /// Cached features (f32 little-endian), base64; `null` when not computed.
    #[serde(with = "base64_opt", default)]
    pub features: Option<Vec<u8>>,
}

/// Feedback on a message.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct FeedbackDump {
    /// Arrival order.
    pub seq: i64,
    /// The message.
    pub message_id: i64,
    /// Whether the problem was resolved.
    pub resolved: bool,
    /// The right intent, when given.
    pub correct_intent: Option<String>,
    /// The policy's reward.
    pub reward: f64,
    /// When, ms since the epoch.
    pub created_ms: i64,
}

/// A model version with its serialised model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct ModelDump {
    /// Version number.
    pub version: i64,
    /// The serialised model, base64.
    #[serde(with = "base64_bytes")]
    pub blob: Vec<u8>,
    /// Its metrics (JSON text, kept verbatim).
    pub metrics: String,
    /// `accepted` or `refused`.
    pub status: String,
    /// Why it was refused.
    pub reason: Option<String>,
    /// When, ms since the epoch.
    pub created_ms: i64,
}

/// Which model version is served.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct ServedDump {
    /// The served version.
    pub version: i64,
    /// Last change, ms since the epoch.
    pub updated_ms: i64,
}

/// The dialogue policy's state.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct BanditDump {
    /// The state (JSON text, kept verbatim).
    pub state: String,
    /// Last change, ms since the epoch.
    pub updated_ms: i64,
}

/// A role's token hash (the tokens themselves are never stored).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct TokenDump {
    /// `client` or `admin`.
    pub role: String,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    /// When it was set, ms since the epoch.
    pub created_ms: i64,
}

/// One line of an export: a row of one table, tagged with its `kind`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// A row of `intents`.
    Intent(IntentDump),
    /// A row of `messages`.
    Message(MessageDump),
    /// A row of `examples`.
    Example(ExampleDump),
    /// A row of `feedback`.
    Feedback(FeedbackDump),
    /// A row of `model_versions`.
    Model(ModelDump),
    /// A row of `model_events`.
    ModelEvent(ModelEvent),
    /// The row of `served_model`.
    ServedModel(ServedDump),
    /// The row of `bandit_state`.
    BanditState(BanditDump),
    /// A row of `tokens`.
    Token(TokenDump),
}

impl Record {
    /// The table it belongs to.
    pub fn table(&self) -> Table {
        match self {
            Record::Intent(_) => Table::Intents,
            Record::Message(_) => Table::Messages,
            Record::Example(_) => Table::Examples,
            Record::Feedback(_) => Table::Feedback,
            Record::Model(_) => Table::Models,
            Record::ModelEvent(_) => Table::ModelEvents,
            Record::ServedModel(_) => Table::ServedModel,
            Record::BanditState(_) => Table::BanditState,
            Record::Token(_) => Table::Tokens,
        }
    }

    /// Its key in its table: where the next page starts after it.
    pub fn cursor(&self) -> Cursor {
        match self {
            Record::Intent(r) => Cursor::Text(r.name.clone()),
            Record::Message(r) => Cursor::Int(r.id),
            Record::Example(r) => Cursor::Int(r.id),
            Record::Feedback(r) => Cursor::Int(r.seq),
            Record::Model(r) => Cursor::Int(r.version),
            Record::ModelEvent(r) => Cursor::Int(r.seq),
            Record::ServedModel(_) | Record::BanditState(_) => Cursor::Int(1),
            Record::Token(r) => Cursor::Text(r.role.clone()),
        }
    }
}

/// Every table, in the order an export writes them (each after the tables it refers to).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// `intents`.
    Intents,
    /// `messages`.
    Messages,
    /// `examples` (refers to intents and messages).
    Examples,
    /// `feedback` (refers to messages and intents).
    Feedback,
    /// `model_versions`.
    Models,
    /// `model_events` (refers to model versions).
    ModelEvents,
    /// `served_model` (refers to a model version).
    ServedModel,
    /// `bandit_state`.
    BanditState,
    /// `tokens`.
    Tokens,
}

impl Table {
    /// Every table, in export order.
    pub const ALL: [Table; 9] = [
        Table::Intents,
        Table::Messages,
        Table::Examples,
        Table::Feedback,
        Table::Models,
        Table::ModelEvents,
        Table::ServedModel,
        Table::BanditState,
        Table::Tokens,
    ];

    /// The `kind` of its lines.
    pub fn kind(self) -> &'static str {
        match self {
            Table::Intents => "intent",
            Table::Messages => "message",
            Table::Examples => "example",
            Table::Feedback => "feedback",
            Table::Models => "model",
            Table::ModelEvents => "model_event",
            Table::ServedModel => "served_model",
            Table::BanditState => "bandit_state",
            Table::Tokens => "token",
        }
    }

    /// The table whose lines have this `kind`.
    pub fn from_kind(kind: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.kind() == kind)
    }
}

/// Where a page starts: after this key (an integer id or a text key, by table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// After this integer key.
    Int(i64),
    /// After this text key.
    Text(String),
}

/// A consistent read-only view of the whole database (one read transaction), read a page at
/// a time in key order. Dropping it ends the transaction.
pub trait Snapshot: Send + 'static {
    /// Up to `limit` rows of `table` with keys after `after` (from the first when `None`).
    fn page(
        &mut self,
        table: Table,
        after: Option<&Cursor>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Record>>> + Send;
}

/// An all-or-nothing restore (one write transaction): rows keep their ids; nothing is stored
/// unless [`Restore::commit`] succeeds. Dropping it rolls everything back.
pub trait Restore: Send {
    /// Inserts one row (its table's references must already be inserted).
    fn insert(&mut self, record: &Record) -> impl Future<Output = Result<()>> + Send;
    /// Commits every inserted row at once.
    fn commit(self) -> impl Future<Output = Result<()>> + Send;
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648, padded).
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard padded base64; the error says what is wrong and where.
pub fn base64_decode(text: &str) -> std::result::Result<Vec<u8>, String> {
    let s = text.as_bytes();
    if !s.len().is_multiple_of(4) {
        return Err(format!(
            "base64 of {} characters (not a multiple of 4)",
            s.len()
        ));
    }
    let value = |c: u8, at: usize| -> std::result::Result<u32, String> {
        match c {
            b'A'..=b'Z' => Ok(u32::from(c - b'A')),
            b'a'..=b'z' => Ok(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Ok(u32::from(c - b'0') + 52),
            b'+' => Ok(62),
            b'/' => Ok(63),
            _ => Err(format!("invalid base64 character at {at}")),
        }
    };
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let quads = s.len() / 4;
    for (q, chunk) in s.chunks_exact(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && q + 1 != quads) {
            return Err(format!("misplaced base64 padding at {}", 4 * q));
        }
        let mut n = 0u32;
        for (k, &c) in chunk.iter().enumerate() {
            let v = if k >= 4 - pad {
                0
            } else {
                value(c, 4 * q + k)?
            };
            n = (n << 6) | v;
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Ok(out)
}

mod base64_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::base64_encode(b))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        super::base64_decode(&text).map_err(serde::de::Error::custom)
    }
}

mod base64_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(b: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match b {
            Some(b) => s.serialize_str(&super::base64_encode(b)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => super::base64_decode(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_refuses_garbage() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(plain.as_bytes()), coded);
            assert_eq!(base64_decode(coded).as_deref(), Ok(plain.as_bytes()));
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&all)), Ok(all));
        assert!(base64_decode("Zm9").is_err());
        assert!(base64_decode("Zm9v!A==").is_err());
        assert!(base64_decode("Zg==Zm9v").is_err());
        assert!(base64_decode("Z===").is_err());
    }

    #[test]
    fn kinds_name_their_tables() {
        for t in Table::ALL {
            assert_eq!(Table::from_kind(t.kind()), Some(t));
        }
        assert_eq!(Table::from_kind("header"), None);
    }
}
