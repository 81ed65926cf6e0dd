//! The HTTP API (axum): routes, bearer-token extractors, JSON bodies whose every rejection is
//! a JSON error naming the field.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::AgentConfig;
use crate::error::{AgentError, Result};
use crate::learn::Strategy;
use crate::service::{Agent, Role};
use crate::store::Store;

/// Marks a response as a storage fault, so the logging layer (which knows the database
/// file) can name it.
#[derive(Clone, Debug)]
struct StorageFault(String);

/// Seconds a client is told to wait before retrying a write the storage refused.
const RETRY_AFTER_SECONDS: &str = "30";

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        if let Some(reason) = self.storage_fault() {
            let body = Json(serde_json::json!({
                "error": "the agent cannot store this now (its database refuses writes); \
                          reads keep working; retry later",
                "field": serde_json::Value::Null,
                "status": 503,
            }));
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
            response.extensions_mut().insert(StorageFault(reason));
            return response;
        }
        let (status, field) = match &self {
            AgentError::BadRequest {
                field, semantic, ..
            } => (
                if *semantic {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::BAD_REQUEST
                },
                Some(field.clone()),
            ),
            AgentError::NotFound { field, .. } => (StatusCode::NOT_FOUND, Some(field.clone())),
            AgentError::Conflict { field, .. } => (StatusCode::CONFLICT, Some(field.clone())),
            AgentError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, Some("body".into())),
            AgentError::NotJson => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("content-type".into()),
            ),
            AgentError::Unauthorized => (StatusCode::UNAUTHORIZED, Some("authorization".into())),
            AgentError::Forbidden => (StatusCode::FORBIDDEN, Some("authorization".into())),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, None),
        };
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The operator sees the cause; the client a generic message.
            eprintln!("autodidact-agent: internal error: {self}");
            "internal error".to_string()
        } else {
            self.to_string()
        };
        let body = Json(serde_json::json!({
            "error": message,
            "field": field,
            "status": status.as_u16(),
        }));
        let mut response = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// A request authorised by a client or admin token.
struct ClientAuth;
/// A request authorised by the admin token.
struct AdminAuth;

fn role<S: Store>(parts: &Parts, agent: &Agent<S>) -> Result<Role> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(AgentError::Unauthorized)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(AgentError::Unauthorized)?;
    agent
        .authorize(token.trim())
        .ok_or(AgentError::Unauthorized)
}

impl<S: Store> FromRequestParts<Arc<Agent<S>>> for ClientAuth {
    type Rejection = AgentError;
    async fn from_request_parts(parts: &mut Parts, agent: &Arc<Agent<S>>) -> Result<Self> {
        role(parts, agent).map(|_| ClientAuth)
    }
}

impl<S: Store> FromRequestParts<Arc<Agent<S>>> for AdminAuth {
    type Rejection = AgentError;
    async fn from_request_parts(parts: &mut Parts, agent: &Arc<Agent<S>>) -> Result<Self> {
        match role(parts, agent)? {
            Role::Admin => Ok(AdminAuth),
            Role::Client => Err(AgentError::Forbidden),
        }
    }
}

/// A JSON body: declared as JSON, within the size limit, valid UTF-8, well-formed, and of the
/// expected shape (unknown fields refused); each failure names the field.
struct Body<T>(T);

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// The field a deserialisation error is about.
pub(crate) fn field_of(path: &str, message: &str) -> String {
    if !path.is_empty() && path != "." {
        return path.to_string();
    }
    message
        .split('`')
        .nth(1)
        .filter(|f| !f.is_empty())
        .unwrap_or("body")
        .to_string()
}

impl<T: DeserializeOwned, S: Store> FromRequest<Arc<Agent<S>>> for Body<T> {
    type Rejection = AgentError;
    async fn from_request(req: Request, agent: &Arc<Agent<S>>) -> Result<Self> {
        if !is_json(&req) {
            return Err(AgentError::NotJson);
        }
        let bytes = Bytes::from_request(req, agent).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AgentError::TooLarge {
                    limit: agent.config().max_body_bytes,
                }
            } else {
                AgentError::BadRequest {
                    field: "body".into(),
                    reason: r.body_text(),
                    semantic: false,
                }
            }
        })?;
        if let Err(e) = std::str::from_utf8(&bytes) {
            return Err(AgentError::BadRequest {
                field: "body".into(),
                reason: format!("not valid UTF-8 (at byte {})", e.valid_up_to()),
                semantic: false,
            });
        }
        // Every body is an object (serde would also take a struct from an array).
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(
                match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                    Ok(_) => AgentError::invalid("body", "must be a JSON object"),
                    Err(e) => AgentError::BadRequest {
                        field: "body".into(),
                        reason: format!("malformed JSON: {e}"),
                        semantic: false,
                    },
                },
            );
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.to_string();
            if inner.classify() == serde_json::error::Category::Data {
                AgentError::invalid(field_of(&path, &message), message)
            } else {
                AgentError::BadRequest {
                    field: "body".into(),
                    reason: format!("malformed JSON: {message}"),
                    semantic: false,
                }
            }
        })?;
        de.end().map_err(|e| AgentError::BadRequest {
            field: "body".into(),
            reason: format!("malformed JSON: {e}"),
            semantic: false,
        })?;
        Ok(Body(value))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    text: String,
    #[serde(default)]
    session: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    resolved: bool,
    #[serde(default)]
    correct_intent: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentBody {
    name: String,
    examples: Vec<String>,
    answer: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentPatch {
    #[serde(default)]
    answer: Option<String>,
    #[serde(default)]
    active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsolidateBody {
    #[serde(default)]
    strategy: Option<Strategy>,
    #[serde(default)]
    from_scratch: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictBody {
    texts: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    version: i64,
}

async fn post_consolidate<S: Store>(
    State(agent): State<Arc<Agent<S>>>,
    _: AdminAuth,
    Body(b): Body<ConsolidateBody>,
) -> Result<Response> {
    Ok(Json(agent.consolidate(b.strategy, b.from_scratch).await?).into_response())
}

async fn post_predict<S: Store>(
    State(agent): State<Arc<Agent<S>>>,
    _: AdminAuth,
    Body(b): Body<PredictBody>,
) -> Result<Response> {
    let version = agent.served_version();
    let predictions: Vec<serde_json::Value> = agent
        .predict_many(&b.texts)
        .await?
        .iter()
        .map(|p| serde_json::json!({"intent": p.intent(), "confidence": p.confidence()}))
        .collect();
    Ok(
        Json(serde_json::json!({"model_version": version, "predictions": predictions}))
            .into_response(),
    )
}

async fn post_rollback<S: Store>(
    State(agent): State<Arc<Agent<S>>>,
    _: AdminAuth,
    Body(b): Body<RollbackBody>,
) -> Result<Response> {
    let version = agent.rollback(b.version).await?;
    Ok(Json(serde_json::json!({"model_version": version})).into_response())
}

async fn get_models<S: Store>(
    State(agent): State<Arc<Agent<S>>>,
    _: AdminAuth,
) -> Result<Response> {
    let (versions, events) = agent.models().await?;
    let served = agent.health().await?;
    let versions: Vec<serde_json::Value> = versions
        .into_iter()
        .map(|v| {
            serde_json::json!({
                "version": v.version,
                "status": v.status,
                "reason": v.reason,
                "served": v.version == served,
                "created_ms": v.created_ms,
                "metrics": serde_json::from_str::<serde_json::Value>(&v.metrics)
                    .unwrap_or(serde_json::Value::Null),
            })
        })
        .collect();
    Ok(
        Json(serde_json::json!({"served": served, "versions": versions, "events": events}))
            .into_response(),
    )
}

async fn get_export<S: Store>(
    State(agent): State<Arc<Agent<S>>>,
    _: AdminAuth,
) -> Result<Response> {
    let export = crate::export::Export::start(agent.store()).await?;
    let body = axum::body::Body::from_stream(export.into_stream());
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson; charset=utf-8")],
        body,
    )
        .into_response())
}

async fn post_message<S: Store>(
    State(agent): State<Arc<Agent<S>>>,
    _: ClientAuth,
    Body(b): Body<MessageBody>,
) -> Result<Response> {
    Ok(Json(agent.message(&b.text, &b.session).await?).into_response())
}

async fn post_feedback<S: Store>(
    State(agent): State<Arc<Agent<S>>>,
    _: ClientAuth,
    id: std::result::Result<Path<i64>, PathRejection>,
    Body(b): Body<FeedbackBody>,
) -> Result<Response> {
    let Path(id) = id.map_err(|_| AgentError::BadRequest {
        field: "id".into(),
        reason: "must be a message id (an integer)".into(),
        semantic: false,
    })?;
    // On a task of its own: a client that hangs up must not cancel a group commit that other
    // clients' feedback rides in.
    let reply = tokio::spawn(async move {
        agent
            .feedback(id, b.resolved, b.correct_intent.as_deref())
            .await
    })
    .await
    .map_err(|e| AgentError::Internal(format!("feedback task: {e}")))??;
    Ok(Json(reply).into_response())
}

async fn post_intent<S: Store>(
    State(agent): State<Arc<Agent<S>>>,
    _: AdminAuth,
    Body(b): Body<IntentBody>,
) -> Result<Response> {
    let reply = agent.create_intent(&b.name, &b.examples, &b.answer).await?;
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}

async fn put_intent<S: Store>(
    State(agent): State<Arc<Agent<S>>>,
    _: AdminAuth,
    name: std::result::Result<Path<String>, PathRejection>,
    Body(b): Body<IntentPatch>,
) -> Result<Response> {
    let Path(name) = name.map_err(|_| AgentError::BadRequest {
        field: "name".into(),
        reason: "not a valid intent name".into(),
        semantic: false,
    })?;
    let reply = agent
        .update_intent(&name, b.answer.as_deref(), b.active)
        .await?;
    Ok(Json(reply).into_response())
}

async fn get_intents<S: Store>(
    State(agent): State<Arc<Agent<S>>>,
    _: AdminAuth,
) -> Result<Response> {
    Ok(Json(agent.intent_listing().await?).into_response())
}

/// A query string of known keys with integer values in range; anything else is an error
/// naming the key.
struct Params(HashMap<String, String>);

impl Params {
    fn parse(raw: Option<&str>, known: &[&str]) -> Result<Params> {
        let mut map = HashMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if !known.contains(&k) {
                return Err(AgentError::BadRequest {
                    field: k.to_string(),
                    reason: format!("unknown query parameter (known: {})", known.join(", ")),
                    semantic: false,
                });
            }
            map.insert(k.to_string(), v.to_string());
        }
        Ok(Params(map))
    }

    fn count(&self, key: &str, default: usize, max: usize) -> Result<usize> {
        let Some(v) = self.0.get(key) else {
            return Ok(default);
        };
        match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(AgentError::BadRequest {
                field: key.to_string(),
                reason: format!("{v:?} is not an integer in 1..={max}"),
                semantic: false,
            }),
        }
    }
}

async fn get_timeline<S: Store>(
    State(agent): State<Arc<Agent<S>>>,
    _: AdminAuth,
    uri: Uri,
) -> Result<Response> {
    let q = Params::parse(uri.query(), &["points", "window"])?;
    let points = q.count("points", 120, crate::timeline::MAX_POINTS)?;
    let window = q.count("window", 100, crate::timeline::MAX_WINDOW)?;
    Ok(Json(agent.timeline(points, window).await?).into_response())
}

/// The most messages one conversations page lists.
const MAX_CONVERSATIONS: usize = 500;

async fn get_conversations<S: Store>(
    State(agent): State<Arc<Agent<S>>>,
    _: AdminAuth,
    uri: Uri,
) -> Result<Response> {
    let q = Params::parse(uri.query(), &["limit"])?;
    let limit = q.count("limit", 50, MAX_CONVERSATIONS)?;
    Ok(Json(agent.conversations(limit).await?).into_response())
}

async fn get_stats<S: Store>(State(agent): State<Arc<Agent<S>>>, _: AdminAuth) -> Result<Response> {
    Ok(Json(agent.stats().await?).into_response())
}

async fn get_metrics<S: Store>(State(agent): State<Arc<Agent<S>>>, _: AdminAuth) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        agent.metrics_text(),
    )
        .into_response()
}

async fn get_health<S: Store>(State(agent): State<Arc<Agent<S>>>) -> Result<Response> {
    let version = agent.health().await?;
    Ok(Json(serde_json::json!({"status": "ok", "model_version": version})).into_response())
}

async fn not_found() -> AgentError {
    AgentError::not_found("path", "no such route")
}

async fn method_not_allowed() -> Response {
    let body = Json(serde_json::json!({
        "error": "method not allowed on this route",
        "field": "method",
        "status": 405,
    }));
    (StatusCode::METHOD_NOT_ALLOWED, body).into_response()
}

/// Logs each storage fault with the database file it concerns (at most one line a second,
/// with the count of those left out, so a full disk does not also flood the log).
async fn log_storage_faults<S: Store>(
    State(agent): State<Arc<Agent<S>>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
    static LAST_SECOND: AtomicI64 = AtomicI64::new(0);
    static SKIPPED: AtomicU64 = AtomicU64::new(0);
    let response = next.run(req).await;
    if let Some(StorageFault(reason)) = response.extensions().get::<StorageFault>() {
        let now = crate::store::now_ms() / 1000;
        if LAST_SECOND.swap(now, Ordering::Relaxed) != now {
            let skipped = SKIPPED.swap(0, Ordering::Relaxed);
            eprintln!(
                "autodidact-agent: cannot write to the database {}: {reason}; writes answer 503, \
                 reads keep working{}",
                agent.config().db.display(),
                if skipped > 0 {
                    format!(" ({skipped} more since the last line)")
                } else {
                    String::new()
                }
            );
        } else {
            SKIPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
    response
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    AgentError::Internal("a request handler panicked".into()).into_response()
}

/// The agent's routes, with the body limit and panic guard, over a shared agent.
pub fn router<S: Store>(agent: Arc<Agent<S>>) -> Router {
    let limit = agent.config().max_body_bytes;
    Router::new()
        .route("/v1/messages", post(post_message::<S>))
        .route("/v1/messages/{id}/feedback", post(post_feedback::<S>))
        .route("/v1/intents", post(post_intent::<S>).get(get_intents::<S>))
        .route("/v1/intents/{name}", put(put_intent::<S>))
        .route("/v1/stats", get(get_stats::<S>))
        .route("/v1/admin/consolidate", post(post_consolidate::<S>))
        .route("/v1/admin/rollback", post(post_rollback::<S>))
        .route("/v1/admin/predict", post(post_predict::<S>))
        .route("/v1/admin/models", get(get_models::<S>))
        .route("/v1/admin/export", get(get_export::<S>))
        .route("/v1/admin/timeline", get(get_timeline::<S>))
        .route("/v1/admin/messages", get(get_conversations::<S>))
        .route("/metrics", get(get_metrics::<S>))
        .route("/healthz", get(get_health::<S>))
        .merge(crate::page::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&agent),
            log_storage_faults::<S>,
        ))
        .with_state(agent)
}

/// Serves the agent on `listener` until `shutdown` resolves (then finishes open requests).
pub async fn serve<S: Store>(
    agent: Arc<Agent<S>>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr = listener
        .local_addr()
        .map_err(|e| AgentError::io("listener", e))?;
    let worker = agent
        .config()
        .consolidation
        .enabled
        .then(|| agent.spawn_worker());
    let sync = agent.spawn_sync();
    let served = axum::serve(listener, router(agent))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| AgentError::io(addr.to_string(), e));
    for task in worker.into_iter().chain(sync) {
        task.abort();
        // Gone before the caller closes the store: a consolidation polled on another thread
        // at the abort would otherwise reach a closed pool and report a failure.
        let _ = task.await;
    }
    served
}

/// The first start's progress on stderr: a bar for embedding, a spinner for the stages of
/// unknown length (nothing is drawn when stderr is not a terminal).
struct Bar(indicatif::ProgressBar);

fn progress_bar() -> Bar {
    Bar(indicatif::ProgressBar::with_draw_target(
        None,
        indicatif::ProgressDrawTarget::stderr(),
    ))
}

impl Bar {
    fn hook(&self) -> crate::service::ProgressFn {
        let bar = self.0.clone();
        Arc::new(move |p| match p {
            crate::service::Progress::Stage(name, total) => {
                let template = if total > 0 {
                    "bootstrap: {msg} [{bar:30}] {pos}/{len}  {elapsed} (ETA {eta})"
                } else {
                    "bootstrap: {msg} {spinner}  {elapsed}"
                };
                if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_length(total);
                bar.set_position(0);
                bar.set_message(name);
                if total == 0 {
                    bar.enable_steady_tick(std::time::Duration::from_millis(200));
                } else {
                    bar.disable_steady_tick();
                }
                if bar.is_hidden() {
                    eprintln!(
                        "bootstrap: {name}{}",
                        if total > 0 {
                            format!(" ({total})")
                        } else {
                            String::new()
                        }
                    );
                }
            }
            crate::service::Progress::Advance(n) => bar.inc(n),
        })
    }

    fn finish(&self) {
        if !self.0.is_hidden() && self.0.length().is_some() {
            self.0.finish_and_clear();
        }
    }
}

/// Resolves on Ctrl-C, or on SIGTERM on Unix (how service managers stop a process).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Opens the agent and serves it on `config.bind` until Ctrl-C or SIGTERM (open requests
/// finish first), on a runtime of its own. Prints tokens generated at this start (once) and
/// `listening on http://ADDR` on stdout.
pub fn run_blocking(config: AgentConfig) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AgentError::io("tokio runtime", e))?;
    runtime.block_on(async move {
        let bar = progress_bar();
        if crate::service::uses_postgres(&config) {
            let agent = Agent::open_postgres(config, Some(bar.hook())).await;
            bar.finish();
            announce_and_serve(Arc::new(agent?)).await
        } else {
            let agent = Agent::open_with_progress(config, Some(bar.hook())).await;
            bar.finish();
            announce_and_serve(Arc::new(agent?)).await
        }
    })
}

/// Prints the tokens generated at this start and the address, then serves until Ctrl-C or
/// SIGTERM.
async fn announce_and_serve<S: Store>(agent: Arc<Agent<S>>) -> Result<()> {
    for (role, token) in agent.generated_tokens() {
        println!(
            "generated {} token (shown once; only its hash is stored): {token}",
            role.as_str()
        );
    }
    let bind = agent.config().bind;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| AgentError::io(bind.to_string(), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| AgentError::io("listener", e))?;
    println!("listening on http://{addr}");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    serve(agent, listener, stop_signal()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_fields_come_from_the_path_or_the_message() {
        assert_eq!(field_of("text", "invalid type"), "text");
        assert_eq!(field_of(".", "missing field `session`"), "session");
        assert_eq!(field_of(".", "expected value"), "body");
    }
}
