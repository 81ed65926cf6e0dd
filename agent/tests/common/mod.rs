//! Shared helpers of the agent's integration tests: a temporary folder, a small data fixture,
//! an in-process server on an ephemeral port and an HTTP client.

// Test helpers: a failed setup step is a failed test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use autodidact_agent::featurizer::FeaturizerSpec;
use autodidact_agent::{api, Agent, AgentConfig};
use serde_json::Value;

pub mod pg;
pub mod storage;

pub const CLIENT: &str = "client-token-0123456789abcdef";
pub const ADMIN: &str = "admin-token-0123456789abcdef";

/// A folder removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "autodidact-agent-{tag}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub const INTENTS: [(&str, [&str; 6]); 4] = [
    (
        "card_arrival",
        [
            "where is my card",
            "my card has not arrived yet",
            "when will my new card arrive",
            "my card is still not here",
            "how long until my card comes in the post",
            "I am still waiting for my card to be delivered",
        ],
    ),
    (
        "exchange_rate",
        [
            "what is the exchange rate",
            "how much is a euro in dollars",
            "what currency conversion rate do you use today",
            "exchange rate for pounds",
            "what rate do you use to convert currency",
            "how do you calculate exchange rates",
        ],
    ),
    (
        "lost_card",
        [
            "I lost my card",
            "my card was stolen",
            "someone stole my wallet with my card",
            "I cannot find my card anywhere",
            "report a lost card",
            "my card is missing",
        ],
    ),
    (
        "top_up",
        [
            "how do I top up my account",
            "add money to my account",
            "top up with a bank transfer",
            "my top up failed",
            "can I top up by card",
            "how to load money onto my account",
        ],
    ),
];

/// Writes `train.csv`, an excluded `test.csv` and `answers.csv` into `dir`.
pub fn write_fixture(dir: &Path) {
    let mut train = String::from("text,category\n");
    for (intent, texts) in INTENTS {
        for t in texts {
            train.push_str(&format!("\"{t}\",{intent}\n"));
        }
    }
    std::fs::write(dir.join("train.csv"), train).unwrap();
    // Never read: excluded by name (held-out data must not reach the agent).
    std::fs::write(
        dir.join("test.csv"),
        "text,category\nwhat is a test,never_seen\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("answers.csv"),
        "intent,answer\ncard_arrival,Cards arrive within 5 working days.\n",
    )
    .unwrap();
}

/// A configuration on `dir` (fixture in `dir/data`, database `dir/agent.db`), hashed
/// features, fixed tokens, an ephemeral localhost port.
pub fn config(dir: &Path) -> AgentConfig {
    let data = dir.join("data");
    if !data.exists() {
        std::fs::create_dir_all(&data).unwrap();
        write_fixture(&data);
    }
    AgentConfig {
        data,
        db: dir.join("agent.db"),
        bind: "127.0.0.1:0".parse().unwrap(),
        featurizer: FeaturizerSpec::Hashed { dim: 2048 },
        client_token: Some(CLIENT.into()),
        admin_token: Some(ADMIN.into()),
        min_held_out: 10,
        ..AgentConfig::default()
    }
}

/// A running in-process server.
pub struct Server {
    pub addr: SocketAddr,
    pub agent: Arc<Agent>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<autodidact_agent::Result<()>>>,
    pub http: reqwest::Client,
}

impl Server {
    pub async fn start(config: AgentConfig) -> Server {
        let agent = Arc::new(Agent::open(config).await.unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(api::serve(Arc::clone(&agent), listener, async move {
            let _ = rx.await;
        }));
        Server {
            addr,
            agent,
            stop: Some(tx),
            task: Some(task),
            http: reqwest::Client::new(),
        }
    }

    /// Stops the server and closes the database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        self.agent.store().close().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs JSON with a token; returns the status and the JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        send(req).await
    }

    /// PUTs JSON with the admin token.
    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = self.http.put(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        send(req).await
    }

    /// GETs with a token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        send(req).await
    }

    /// Sends a message with the client token; panics unless it is answered.
    pub async fn ask(&self, text: &str) -> Value {
        let (status, body) = self
            .post(
                "/v1/messages",
                Some(CLIENT),
                &serde_json::json!({"text": text, "session": "s1"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// Sends a request; returns the status and the body as JSON (a non-JSON body fails the test).
pub async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text:?}"));
    (status, body)
}

/// Probability of `intent` among a reply's alternatives (0 when absent).
pub fn prob(reply: &Value, intent: &str) -> f64 {
    reply["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["intent"] == intent)
        .map_or(0.0, |a| a["confidence"].as_f64().unwrap())
}

/// A server child process (the agent's own binary), killed when dropped.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server binary.
pub const SERVE: &str = env!("CARGO_BIN_EXE_autodidact-agent-serve");

/// `autodidact-agent-serve`'s arguments for the configuration file `config_toml` on `data` and
/// `db`, on an ephemeral port.
pub fn serve_args(config_toml: &Path, data: &Path, db: &Path) -> Vec<std::ffi::OsString> {
    vec![
        "--config".into(),
        config_toml.into(),
        "--data".into(),
        data.into(),
        "--db".into(),
        db.into(),
        "--bind".into(),
        "127.0.0.1:0".into(),
    ]
}

/// Starts `autodidact-agent-serve` with the configuration file `config_toml` on `data` and
/// `db`, the test tokens from the environment, an ephemeral port; returns it and its base URL
/// once it prints `listening on`.
pub async fn serve_child(config_toml: &Path, data: &Path, db: &Path) -> (Child, String) {
    let mut cmd = std::process::Command::new(SERVE);
    cmd.args(serve_args(config_toml, data, db))
        .stderr(std::process::Stdio::inherit());
    spawn_listening(cmd).await
}

/// Spawns `cmd` with the test tokens in its environment and its stdout piped; returns it and
/// its base URL once it prints `listening on`.
pub async fn spawn_listening(mut cmd: std::process::Command) -> (Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .env("AUTODIDACT_CLIENT_TOKEN", CLIENT)
        .env("AUTODIDACT_ADMIN_TOKEN", ADMIN)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Child(child);
    let addr = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines
                .next()
                .expect("the server exited before listening")
                .unwrap();
            if let Some(a) = line.strip_prefix("listening on ") {
                // Keep draining stdout so the child never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                return a.to_string();
            }
        }
    })
    .await
    .unwrap();
    (child, addr)
}
