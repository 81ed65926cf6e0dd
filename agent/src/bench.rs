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
        }
    }
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

/// The texts of `data/test.csv` in a seeded order.
fn texts(data: &Path, seed: u64) -> Result<Vec<String>> {
    let file = data.join("test.csv");
    let bytes = std::fs::read(&file).map_err(|e| AgentError::io(&file, e))?;
    let mut texts: Vec<String> = read_csv_bytes(&bytes, &file.display().to_string(), "text", "")?
        .into_iter()
        .map(|r| r.text)
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

/// One load run's outcome.
struct Load {
    micros: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
    seconds: f64,
}

/// Sends `count` messages (texts from `start` on), `concurrency` at a time.
async fn load(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    texts: &Arc<Vec<String>>,
    start: usize,
    count: usize,
    concurrency: usize,
) -> Load {
    let next = Arc::new(AtomicUsize::new(0));
    let endpoint = format!("{url}/v1/messages");
    let t0 = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|w| {
            let (client, next, texts) = (client.clone(), Arc::clone(&next), Arc::clone(texts));
            let (endpoint, token) = (endpoint.clone(), token.to_string());
            tokio::spawn(async move {
                let mut out = Load {
                    micros: Vec::new(),
                    errors: 0,
                    first_error: None,
                    seconds: 0.0,
                };
                let session = format!("bench-{w}");
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let text = &texts[(start + i) % texts.len()];
                    let t = Instant::now();
                    let sent = client
                        .post(&endpoint)
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"text": text, "session": session}))
                        .send()
                        .await;
                    let outcome = match sent {
                        Ok(resp) => {
                            let status = resp.status();
                            match resp.bytes().await {
                                Ok(_) if status.is_success() => Ok(()),
                                Ok(body) => Err(format!(
                                    "status {status}: {}",
                                    String::from_utf8_lossy(&body)
                                )),
                                Err(e) => Err(format!("reading the reply: {e}")),
                            }
                        }
                        Err(e) => Err(format!("sending: {e}")),
                    };
                    match outcome {
                        Ok(()) => out.micros.push(t.elapsed().as_secs_f64() * 1e6),
                        Err(e) => {
                            out.errors += 1;
                            out.first_error.get_or_insert(e);
                        }
                    }
                }
                out
            })
        })
        .collect();
    let mut total = Load {
        micros: Vec::with_capacity(count),
        errors: 0,
        first_error: None,
        seconds: 0.0,
    };
    for w in workers {
        match w.await {
            Ok(l) => {
                total.micros.extend(l.micros);
                total.errors += l.errors;
                if total.first_error.is_none() {
                    total.first_error = l.first_error;
                }
            }
            Err(e) => {
                total.errors += 1;
                total.first_error.get_or_insert(format!("load task: {e}"));
            }
        }
    }
    total.seconds = t0.elapsed().as_secs_f64();
    total
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
            ..AgentConfig::default()
        };
        // Messages add no examples: the worker would have nothing to do.
        config.consolidation.enabled = false;
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

/// Runs the bench (on the current tokio runtime).
pub async fn run(o: &BenchOptions) -> Result<BenchReport> {
    if o.concurrency == 0 || o.concurrency > 4096 {
        return Err(AgentError::config("concurrency", "must be in 1..=4096"));
    }
    if o.requests == 0 {
        return Err(AgentError::config("requests", "must be at least 1"));
    }
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
    let (l, (consolidations, consolidation_errors, first_consolidation_error), passes) = outcome?;
    let answered = l.micros.len();
    Ok(BenchReport {
        url,
        own_server: o.url.is_none(),
        featurizer: o.url.is_none().then(|| o.featurizer.clone()),
        concurrency: o.concurrency,
        requests: o.requests,
        errors: l.errors,
        first_error: l.first_error,
        seconds: l.seconds,
        requests_per_s: answered as f64 / l.seconds.max(1e-9),
        latency_ms: latency(l.micros),
        consolidate: o.consolidate,
        consolidations,
        consolidation_errors,
        first_consolidation_error,
        startup_seconds,
        encoder_passes: passes,
    })
}

/// The warm-up, then the timed load with the consolidation loop beside it.
async fn drive(
    o: &BenchOptions,
    client: &reqwest::Client,
    url: &str,
    token: &str,
    admin: Option<&str>,
    texts: &Arc<Vec<String>>,
    own: Option<&OwnServer>,
) -> Result<(Load, (usize, usize, Option<String>), Option<(u64, u64)>)> {
    if o.warmup > 0 {
        let w = load(client, url, token, texts, 0, o.warmup, o.concurrency).await;
        if w.micros.is_empty() {
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
                    let r = client
                        .post(&endpoint)
                        .bearer_auth(&admin)
                        .json(&serde_json::json!({}))
                        .send()
                        .await;
                    match r {
                        Ok(resp) if resp.status().is_success() => done += 1,
                        Ok(resp) => {
                            failed += 1;
                            let status = resp.status();
                            let body = resp.text().await.unwrap_or_default();
                            first.get_or_insert(format!("status {status}: {body}"));
                        }
                        Err(e) => {
                            failed += 1;
                            first.get_or_insert(format!("sending: {e}"));
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
    let before = own.map(|s| s.agent.encoder_passes());
    let l = load(
        client,
        url,
        token,
        texts,
        o.warmup,
        o.requests,
        o.concurrency,
    )
    .await;
    let passes = own.zip(before).map(|(s, (p0, t0))| {
        let (p1, t1) = s.agent.encoder_passes();
        (p1 - p0, t1 - t0)
    });
    stop.store(true, Ordering::Relaxed);
    let consolidations = match consolidator {
        Some(task) => task
            .await
            .map_err(|e| AgentError::Internal(format!("consolidation task: {e}")))?,
        None => (0, 0, None),
    };
    Ok((l, consolidations, passes))
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
