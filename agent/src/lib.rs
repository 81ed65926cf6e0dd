//! Autodidact's customer-service agent: an HTTP service (axum on tokio) that answers
//! customers' messages with a nearest-prototype intent classifier, chooses between answering,
//! clarifying and handing off with a contextual bandit, learns from feedback and from new
//! intents given by a few examples at once, and keeps everything in a SQLite file, or in a
//! PostgreSQL database that several replicas share (sqlx).
//!
//! ```no_run
//! # async fn run() -> autodidact_agent::Result<()> {
//! use std::sync::Arc;
//! use autodidact_agent::{api, Agent, AgentConfig};
//!
//! let agent = Arc::new(Agent::open(AgentConfig::default().with_env_tokens()).await?);
//! let listener = tokio::net::TcpListener::bind(agent.config().bind)
//!     .await
//!     .map_err(|e| autodidact_agent::AgentError::io("bind", e))?;
//! api::serve(agent, listener, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! See `docs/agent.md` for the API, configuration, storage and security.

#![warn(missing_docs)]

pub mod api;
pub(crate) mod batch;
pub mod bench;
pub mod classifier;
pub mod config;
pub mod consolidate;
pub mod error;
pub mod export;
pub mod features;
pub mod featurizer;
pub mod head;
pub mod learn;
pub mod model;
pub mod page;
pub mod policy;
pub(crate) mod priority;
pub mod remote;
pub mod replay;
pub(crate) mod replica;
pub(crate) mod sample;
pub mod service;
pub mod store;
pub mod timeline;

pub use config::{AgentConfig, BatchConfig, ConsolidationConfig, PolicyConfig};
pub use error::{AgentError, Result};
pub use service::{Agent, MessageReply, Progress, ProgressFn, Role};
pub use store::{PgStore, SqliteStore, Store};
