//! A load generator for the HTTP API (`autodidact agent bench`): `POST /v1/messages` from
//! localhost with bounded concurrency, against a running agent (`url`) or a server of its own
//! on a temporary database, optionally while `POST /v1/admin/consolidate` runs again and
//! again. Reports requests per second and latency percentiles.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use autodidact_core::rng::Seed;
use autodidact_envs::intents::read_csv_bytes;
use rand::seq::SliceRandom;

use crate::config::{AgentConfig, BatchConfig};
use crate::error::{AgentError, Result};
use crate::featurizer::FeaturizerSpec;
use crate::service::Agent;

/// What to load and how hard.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchOptions {
    /// A running agent (`http://127.0.0.1:8080`); `None` starts a server of its own.
    pub url: Option<String>,
    /// The client token for `url`.
    pub token: Option<String>,
    /// The admin token for `url` (needed with `consolidate`).
    pub admin_token: Option<String>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests timed.
    pub requests: usize,
    /// Untimed requests sent first.
    pub warmup: usize,
    /// The data folder: texts come from its `test.csv`; the own server bootstraps from the
    /// other CSV files.
    pub data: PathBuf,
    /// The own server's featurizer.
    pub featurizer: FeaturizerSpec,
    /// The own server's batching (its default when `None`).
    pub batch: Option<BatchConfig>,
    /// Trigger consolidations one after the other while the load runs.
    pub consolidate: bool,
    /// Seed of the order the texts are sent in.
    pub seed: u64,
    /// Soak: run the load for this many seconds (`requests` is then ignored).
    pub seconds: Option<f64>,
    /// Send feedback on every n-th answered message (0: none): resolved when the predicted
    /// intent is the text's label, else a correction to it, so consolidation has real work.
    pub feedback_every: usize,
    /// Length of one interval of the report's time series, seconds.
    pub sample_seconds: f64,
    /// The server process whose memory the time series follows when loading `url` (the own
    /// server's is this process).
    pub server_pid: Option<u32>,
    /// The own server's settings (an `agent.toml`'s); its data, database, address,
    /// featurizer, tokens and (when `batch` is set) batching are the bench's. `None`: the
    /// defaults.
    pub config: Option<AgentConfig>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            url: None,
            token: None,
            admin_token: None,
            concurrency: 16,
            requests: 2000,
            warmup: 32,
            data: PathBuf::from("../shared/data/banking77"),
            featurizer: FeaturizerSpec::default(),
            batch: None,
            consolidate: false,
            seed: 0,
            seconds: None,
            feedback_every: 0,
            sample_seconds: 10.0,
            server_pid: None,
            config: None,
        }
    }
}

/// One interval of a run, for the time series.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Interval {
    /// Its end, seconds from the start of the timed load.
    pub t_s: f64,
    /// Messages answered in it.
    pub messages: usize,
    /// Feedback acknowledged in it.
    pub feedback: usize,
    /// Failed requests in it.
    pub errors: usize,
    /// Median message latency in it, ms.
    pub p50_ms: f64,
    /// 99th percentile message latency in it, ms.
    pub p99_ms: f64,
    /// The server's resident memory at its end, MiB (`None` where it cannot be read).
    pub rss_mib: Option<f64>,
}

/// Latency percentiles of the answered requests, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Latency {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

/// What a bench measured.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BenchReport {
    /// The server loaded.
    pub url: String,
    /// Whether it was the bench's own in-process server.
    pub own_server: bool,
    /// The own server's featurizer.
    pub featurizer: Option<FeaturizerSpec>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests timed.
    pub requests: usize,
    /// Requests that failed (transport error or a status other than 200).
    pub errors: usize,
    /// The first failure, if any.
    pub first_error: Option<String>,
    /// Wall time of the timed requests, seconds.
    pub seconds: f64,
    /// Answered requests per second.
    pub requests_per_s: f64,
    /// Latency of the answered requests.
    pub latency_ms: Latency,
    /// Whether consolidations ran during the load.
    pub consolidate: bool,
    /// Consolidations that finished (accepted or refused) during the load.
    pub consolidations: usize,
    /// Consolidation requests that failed.
    pub consolidation_errors: usize,
    /// The first consolidation failure, if any.
    pub first_consolidation_error: Option<String>,
    /// The own server's start (bootstrap included), seconds.
    pub startup_seconds: Option<f64>,
    /// The own server's encoder passes and texts over the timed requests (mean batch size =
    /// texts / passes).
    pub encoder_passes: Option<(u64, u64)>,
    /// The soak's length, seconds (`None`: a fixed number of requests).
    pub soak_seconds: Option<f64>,
    /// Feedback sent on every n-th message (0: none).
    pub feedback_every: usize,
    /// Feedback acknowledged.
    pub feedback: usize,
    /// Latency of the acknowledged feedback.
    pub feedback_latency_ms: Latency,
    /// Throughput, latency, errors and memory per interval.
    pub intervals: Vec<Interval>,
}

impl BenchReport {
    /// A few human-readable lines.
    pub fn summary(&self) -> String {
        let l = &self.latency_ms;
        let mut s = format!(
            "{} requests ({} errors), concurrency {}, {:.2} s: {:.1} requests/s\n\
             latency ms: mean {:.2}, p50 {:.2}, p90 {:.2}, p99 {:.2}, max {:.2}\n",
            self.requests,
            self.errors,
            self.concurrency,
            self.seconds,
            self.requests_per_s,
            l.mean,
            l.p50,
            l.p90,
            l.p99,
            l.max
        );
        if self.consolidate {
            s.push_str(&format!(
                "consolidations during the load: {} ({} failed)\n",
                self.consolidations, self.consolidation_errors
            ));
        }
        if let Some((passes, texts)) = self.encoder_passes {
            s.push_str(&format!(
                "encoder passes: {passes} for {texts} texts ({:.1} per pass)\n",
                texts as f64 / passes.max(1) as f64
            ));
        }
        if self.feedback_every > 0 {
            let f = &self.feedback_latency_ms;
            s.push_str(&format!(
                "feedback: {} acknowledged; latency ms: p50 {:.2}, p99 {:.2}, max {:.2}\n",
                self.feedback, f.p50, f.p99, f.max
            ));
        }
        if !self.intervals.is_empty() {
            s.push_str("    t s  messages  feedback  errors  p50 ms  p99 ms  RSS MiB\n");
            for i in &self.intervals {
                s.push_str(&format!(
                    "{:7.1} {:9} {:9} {:7} {:7.2} {:7.2} {:8}\n",
                    i.t_s,
                    i.messages,
                    i.feedback,
                    i.errors,
                    i.p50_ms,
                    i.p99_ms,
                    i.rss_mib.map_or("-".into(), |m| format!("{m:.1}"))
                ));
            }
        }
        if let Some(e) = &self.first_error {
            s.push_str(&format!("first error: {e}\n"));
        }
        if let Some(e) = &self.first_consolidation_error {
            s.push_str(&format!("first consolidation error: {e}\n"));
        }
        s
    }
}

/// The value at quantile `q` of sorted values (nearest rank); 0 when empty.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Percentiles of latencies in microseconds.
fn latency(mut micros: Vec<f64>) -> Latency {
    micros.sort_by(f64::total_cmp);
    let ms = |v: f64| v / 1000.0;
    Latency {
        mean: ms(micros.iter().sum::<f64>() / micros.len().max(1) as f64),
        p50: ms(quantile(&micros, 0.50)),
        p90: ms(quantile(&micros, 0.90)),
        p99: ms(quantile(&micros, 0.99)),
        max: ms(micros.last().copied().unwrap_or(0.0)),
    }
}

/// The texts of `data/test.csv` with their labels, in a seeded order.
fn texts(data: &Path, seed: u64) -> Result<Vec<(String, String)>> {
    let file = data.join("test.csv");
    let bytes = std::fs::read(&file).map_err(|e| AgentError::io(&file, e))?;
    let mut texts: Vec<(String, String)> =
        read_csv_bytes(&bytes, &file.display().to_string(), "text", "")?
            .into_iter()
            .map(|r| (r.text, r.label))
            .collect();
    if texts.is_empty() {
        return Err(AgentError::config(
            "data",
            format!("{} holds no texts", file.display()),
        ));
    }
    texts.shuffle(&mut Seed(seed).rng("bench"));
    Ok(texts)
}

/// A random token (hex).
fn token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 24];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One request's outcome: when it ended (seconds from the start) and its latency.
#[derive(Clone, Copy, Debug)]
struct Done {
    at: f64,
    micros: f64,
}

/// One load run's outcome.
#[derive(Default)]
struct Load {
    messages: Vec<Done>,
    feedback: Vec<Done>,
    /// When each failure happened.
    errors: Vec<f64>,
    /// Messages that failed.
    message_failures: usize,
    first_error: Option<String>,
    seconds: f64,
}

/// When a load ends.
#[derive(Clone, Copy, Debug)]
enum Until {
    /// After this many messages.
    Count(usize),
    /// At this instant.
    Deadline(Instant),
}

/// What the clients send.
struct Plan {
    url: String,
    token: String,
    texts: Arc<Vec<(String, String)>>,
    start: usize,
    until: Until,
    feedback_every: usize,
    /// Intents a correction may name (others are sent as `resolved: false` only).
    known: Arc<std::collections::HashSet<String>>,
}

/// POSTs `body`; the reply's JSON, or why it failed.
async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> std::result::Result<serde_json::Value, String> {
    let resp = client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("sending: {e}"))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("reading the reply: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "status {status}: {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("reply is not JSON: {e}"))
}

/// Sends messages (and feedback on some) from `concurrency` clients until `plan.until`.
async fn load(client: &reqwest::Client, plan: Plan, concurrency: usize) -> Load {
    let next = Arc::new(AtomicUsize::new(0));
    let plan = Arc::new(plan);
    let t0 = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|w| {
            let (client, next, plan) = (client.clone(), Arc::clone(&next), Arc::clone(&plan));
            tokio::spawn(async move {
                let mut out = Load::default();
                let session = format!("bench-{w}");
                let messages = format!("{}/v1/messages", plan.url);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let over = match plan.until {
                        Until::Count(n) => i >= n,
                        Until::Deadline(d) => Instant::now() >= d,
                    };
                    if over {
                        break;
                    }
                    let (text, label) = &plan.texts[(plan.start + i) % plan.texts.len()];
                    let t = Instant::now();
                    let body = serde_json::json!({"text": text, "session": session});
                    let reply = match post(&client, &messages, &plan.token, &body).await {
                        Ok(r) => r,
                        Err(e) => {
                            out.errors.push(t0.elapsed().as_secs_f64());
                            out.message_failures += 1;
                            out.first_error.get_or_insert(e);
                            continue;
                        }
                    };
                    out.messages.push(Done {
                        at: t0.elapsed().as_secs_f64(),
                        micros: t.elapsed().as_secs_f64() * 1e6,
                    });
                    if plan.feedback_every == 0 || i % plan.feedback_every != 0 {
                        continue;
                    }
                    let (Some(id), Some(intent)) = (reply["id"].as_i64(), reply["intent"].as_str())
                    else {
                        out.errors.push(t0.elapsed().as_secs_f64());
                        out.first_error
                            .get_or_insert(format!("a reply without id or intent: {reply}"));
                        continue;
                    };
                    let right = intent == label;
                    let body = if right || !plan.known.contains(label) {
                        serde_json::json!({"resolved": right})
                    } else {
                        serde_json::json!({"resolved": false, "correct_intent": label})
                    };
                    let t = Instant::now();
                    let url = format!("{}/v1/messages/{id}/feedback", plan.url);
                    match post(&client, &url, &plan.token, &body).await {
                        Ok(_) => out.feedback.push(Done {
                            at: t0.elapsed().as_secs_f64(),
                            micros: t.elapsed().as_secs_f64() * 1e6,
                        }),
                        Err(e) => {
                            out.errors.push(t0.elapsed().as_secs_f64());
                            out.first_error.get_or_insert(e);
                        }
                    }
                }
                out
            })
        })
        .collect();
    let mut total = Load::default();
    for w in workers {
        match w.await {
            Ok(l) => {
                total.messages.extend(l.messages);
                total.feedback.extend(l.feedback);
                total.errors.extend(l.errors);
                total.message_failures += l.message_failures;
                if total.first_error.is_none() {
                    total.first_error = l.first_error;
                }
            }
            Err(e) => {
                total.errors.push(t0.elapsed().as_secs_f64());
                total.first_error.get_or_insert(format!("load task: {e}"));
            }
        }
    }
    total.seconds = t0.elapsed().as_secs_f64();
    total
}

/// Resident memory of a process (this one when `pid` is `None`), MiB, from `/proc`.
fn rss_mib(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// The time series: requests, errors and latency per interval of `width` seconds, with the
/// memory sampled at each interval's end.
fn intervals(l: &Load, width: f64, memory: &[(f64, Option<f64>)]) -> Vec<Interval> {
    let n = (l.seconds / width).ceil().max(1.0) as usize;
    (0..n)
        .map(|k| {
            let (lo, hi) = (k as f64 * width, (k + 1) as f64 * width);
            let inside = |d: &&Done| d.at >= lo && d.at < hi;
            let lat = latency(l.messages.iter().filter(inside).map(|d| d.micros).collect());
            Interval {
                t_s: hi.min(l.seconds),
                messages: l.messages.iter().filter(inside).count(),
                feedback: l.feedback.iter().filter(inside).count(),
                errors: l.errors.iter().filter(|&&t| t >= lo && t < hi).count(),
                p50_ms: lat.p50,
                p99_ms: lat.p99,
                // The last sample taken within the interval.
                rss_mib: memory
                    .iter()
                    .rfind(|(t, _)| *t < hi + 1e-9)
                    .and_then(|m| m.1),
            }
        })
        .collect()
}

/// The bench's own server: a temporary folder, the agent and its HTTP task.
struct OwnServer {
    dir: PathBuf,
    agent: Arc<Agent>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<()>>,
    url: String,
    client: String,
    admin: String,
}

impl OwnServer {
    async fn start(o: &BenchOptions) -> Result<OwnServer> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "autodidact-agent-bench-{}-{}-{}",
            std::process::id(),
            crate::store::now_ms(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| AgentError::io(&dir, e))?;
        let (client, admin) = (token(), token());
        let mut config = AgentConfig {
            data: o.data.clone(),
            db: dir.join("agent.db"),
            bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            featurizer: o.featurizer.clone(),
            client_token: Some(client.clone()),
            admin_token: Some(admin.clone()),
            ..o.config.clone().unwrap_or_default()
        };
        // Messages alone add no examples: the worker runs when feedback brings some.
        config.consolidation.enabled = o.feedback_every > 0;
        if let Some(b) = &o.batch {
            config.batch = b.clone();
        }
        let started = async {
            let agent = Arc::new(Agent::open(config).await?);
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|e| AgentError::io("127.0.0.1:0", e))?;
            let addr = listener
                .local_addr()
                .map_err(|e| AgentError::io("listener", e))?;
            Ok::<_, AgentError>((agent, listener, addr))
        }
        .await;
        let (agent, listener, addr) = match started {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(crate::api::serve(
            Arc::clone(&agent),
            listener,
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(OwnServer {
            dir,
            agent,
            stop,
            task,
            url: format!("http://{addr}"),
            client,
            admin,
        })
    }

    async fn stop(self) -> Result<()> {
        let _ = self.stop.send(());
        let served = self
            .task
            .await
            .map_err(|e| AgentError::Internal(format!("server task: {e}")));
        self.agent.store().close().await;
        drop(self.agent);
        let _ = std::fs::remove_dir_all(&self.dir);
        served?
    }
}

/// Checks the options, naming the first bad one.
fn check(o: &BenchOptions) -> Result<()> {
    if o.concurrency == 0 || o.concurrency > 4096 {
        return Err(AgentError::config("concurrency", "must be in 1..=4096"));
    }
    if o.seconds.is_none() && o.requests == 0 {
        return Err(AgentError::config("requests", "must be at least 1"));
    }
    if let Some(s) = o.seconds {
        if !(s.is_finite() && s > 0.0 && s <= 7.0 * 86_400.0) {
            return Err(AgentError::config(
                "seconds",
                format!("{s} is not in (0, 604800]"),
            ));
        }
    }
    if !(o.sample_seconds.is_finite() && o.sample_seconds >= 0.1) {
        return Err(AgentError::config(
            "sample_seconds",
            format!("{} must be at least 0.1", o.sample_seconds),
        ));
    }
    Ok(())
}

/// The active intents a correction may name, read with the admin token (none without it).
async fn known_intents(
    client: &reqwest::Client,
    url: &str,
    admin: Option<&str>,
) -> Result<std::collections::HashSet<String>> {
    let Some(admin) = admin else {
        return Ok(Default::default());
    };
    let resp = client
        .get(format!("{url}/v1/intents"))
        .bearer_auth(admin)
        .send()
        .await
        .map_err(|e| AgentError::Remote(format!("{url}/v1/intents: {e}")))?;
    let status = resp.status();
    let body: serde_json::Value = resp
        .json()
        .await
        .map_err(|e| AgentError::Remote(format!("{url}/v1/intents: {e}")))?;
    if !status.is_success() {
        return Err(AgentError::Remote(format!(
            "{url}/v1/intents: status {status}: {body}"
        )));
    }
    Ok(body
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["active"].as_bool() == Some(true))
        .filter_map(|i| i["name"].as_str().map(str::to_string))
        .collect())
}

/// Runs the bench (on the current tokio runtime).
pub async fn run(o: &BenchOptions) -> Result<BenchReport> {
    check(o)?;
    let texts = Arc::new(texts(&o.data, o.seed)?);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(o.concurrency)
        .build()
        .map_err(|e| AgentError::config("http client", e.to_string()))?;
    let t0 = Instant::now();
    let (own, url, token, admin) = match &o.url {
        Some(url) => {
            let token = o.token.clone().ok_or_else(|| {
                AgentError::config("token", "a bench against --url needs the client token")
            })?;
            if o.consolidate && o.admin_token.is_none() {
                return Err(AgentError::config(
                    "admin_token",
                    "--consolidate against --url needs the admin token",
                ));
            }
            let url = url.trim_end_matches('/').to_string();
            (None, url, token, o.admin_token.clone())
        }
        None => {
            let s = OwnServer::start(o).await?;
            let (url, token, admin) = (s.url.clone(), s.client.clone(), Some(s.admin.clone()));
            (Some(s), url, token, admin)
        }
    };
    let startup_seconds = own.as_ref().map(|_| t0.elapsed().as_secs_f64());
    let outcome = drive(
        o,
        &client,
        &url,
        &token,
        admin.as_deref(),
        &texts,
        own.as_ref(),
    )
    .await;
    if let Some(s) = own {
        s.stop().await?;
    }
    let (l, (consolidations, consolidation_errors, first_consolidation_error), passes, memory) =
        outcome?;
    let answered = l.messages.len();
    Ok(BenchReport {
        url,
        own_server: o.url.is_none(),
        featurizer: o.url.is_none().then(|| o.featurizer.clone()),
        concurrency: o.concurrency,
        requests: answered + l.message_failures,
        errors: l.errors.len(),
        first_error: l.first_error.clone(),
        seconds: l.seconds,
        requests_per_s: answered as f64 / l.seconds.max(1e-9),
        latency_ms: latency(l.messages.iter().map(|d| d.micros).collect()),
        consolidate: o.consolidate,
        consolidations,
        consolidation_errors,
        first_consolidation_error,
        startup_seconds,
        encoder_passes: passes,
        soak_seconds: o.seconds,
        feedback_every: o.feedback_every,
        feedback: l.feedback.len(),
        feedback_latency_ms: latency(l.feedback.iter().map(|d| d.micros).collect()),
        intervals: if o.seconds.is_some() {
            intervals(&l, o.sample_seconds, &memory)
        } else {
            Vec::new()
        },
    })
}

/// What [`drive`] measured: the load, the consolidations (done, failed, first failure), the
/// encoder passes and the memory samples.
type Driven = (
    Load,
    (usize, usize, Option<String>),
    Option<(u64, u64)>,
    Vec<(f64, Option<f64>)>,
);

/// The warm-up, then the timed load with the consolidation loop and the memory sampler
/// beside it.
async fn drive(
    o: &BenchOptions,
    client: &reqwest::Client,
    url: &str,
    token: &str,
    admin: Option<&str>,
    texts: &Arc<Vec<(String, String)>>,
    own: Option<&OwnServer>,
) -> Result<Driven> {
    let known = Arc::new(known_intents(client, url, admin).await?);
    let plan = |start: usize, until: Until, feedback_every: usize| Plan {
        url: url.to_string(),
        token: token.to_string(),
        texts: Arc::clone(texts),
        start,
        until,
        feedback_every,
        known: Arc::clone(&known),
    };
    if o.warmup > 0 {
        let w = load(client, plan(0, Until::Count(o.warmup), 0), o.concurrency).await;
        if w.messages.is_empty() {
            return Err(AgentError::Internal(format!(
                "every warm-up request failed: {}",
                w.first_error.unwrap_or_default()
            )));
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let consolidator = match (o.consolidate, admin) {
        (true, Some(admin)) => {
            let (client, stop) = (client.clone(), Arc::clone(&stop));
            let (endpoint, admin) = (format!("{url}/v1/admin/consolidate"), admin.to_string());
            Some(tokio::spawn(async move {
                let (mut done, mut failed, mut first) = (0usize, 0usize, None);
                // At least one, then again until the load is over.
                loop {
                    match post(&client, &endpoint, &admin, &serde_json::json!({})).await {
                        Ok(_) => done += 1,
                        Err(e) => {
                            failed += 1;
                            first.get_or_insert(e);
                        }
                    }
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                (done, failed, first)
            }))
        }
        _ => None,
    };
    let pid = if own.is_some() { None } else { o.server_pid };
    let sampler = {
        let (stop, every) = (Arc::clone(&stop), o.sample_seconds);
        let watch = own.is_some() || pid.is_some();
        tokio::spawn(async move {
            let t0 = Instant::now();
            let mut samples = Vec::new();
            while watch && !stop.load(Ordering::Relaxed) {
                samples.push((t0.elapsed().as_secs_f64(), rss_mib(pid)));
                // Short sleeps, so the sampler ends soon after the load.
                let next = t0 + std::time::Duration::from_secs_f64(every * samples.len() as f64);
                while Instant::now() < next && !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
            samples
        })
    };
    let before = own.map(|s| s.agent.encoder_passes());
    let until = match o.seconds {
        Some(s) => Until::Deadline(Instant::now() + std::time::Duration::from_secs_f64(s)),
        None => Until::Count(o.requests),
    };
    let l = load(
        client,
        plan(o.warmup, until, o.feedback_every),
        o.concurrency,
    )
    .await;
    let passes = own.zip(before).map(|(s, (p0, t0))| {
        let (p1, t1) = s.agent.encoder_passes();
        (p1 - p0, t1 - t0)
    });
    let mut memory = Vec::new();
    if own.is_some() || pid.is_some() {
        // The memory at the very end of the load, before the sampler stops.
        memory.push((l.seconds, rss_mib(pid)));
    }
    stop.store(true, Ordering::Relaxed);
    let consolidations = match consolidator {
        Some(task) => task
            .await
            .map_err(|e| AgentError::Internal(format!("consolidation task: {e}")))?,
        None => (0, 0, None),
    };
    let mut sampled = sampler
        .await
        .map_err(|e| AgentError::Internal(format!("memory sampler: {e}")))?;
    sampled.extend(memory);
    sampled.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok((l, consolidations, passes, sampled))
}

/// Runs the bench on a runtime of its own; writes the report as JSON to `out` when given.
pub fn run_blocking(o: &BenchOptions, out: Option<&Path>) -> Result<BenchReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AgentError::io("tokio runtime", e))?;
    let report = runtime.block_on(run(o))?;
    if let Some(path) = out {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| AgentError::Internal(e.to_string()))?;
        std::fs::write(path, json + "\n").map_err(|e| AgentError::io(path, e))?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
        assert_eq!(quantile(&[7.0], 0.01), 7.0);
        let l = latency(vec![3000.0, 1000.0, 2000.0]);
        assert_eq!((l.p50, l.max, l.mean), (2.0, 3.0, 2.0));
    }
}
