//! Faults an operator meets, on a real server process: a damaged database file at start, two
//! servers on one file, a full disk (a file-size limit on the process), `kill -9` in the
//! middle of a consolidation and under concurrent write load.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{config, send, serve_args, spawn_listening, Server, TempDir, ADMIN, CLIENT, SERVE};
use serde_json::{json, Value};

/// A configuration file with hashed features (fast to start) and `extra` TOML appended.
fn write_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("agent.toml");
    std::fs::write(
        &path,
        format!("[featurizer]\nkind = \"hashed\"\ndim = 2048\n{extra}"),
    )
    .unwrap();
    path
}

/// Runs the server until it exits (60 s at most); returns its exit code and stderr.
fn run_to_exit(args: Vec<std::ffi::OsString>) -> (Option<i32>, String) {
    let mut child = Command::new(SERVE)
        .args(args)
        .env("AUTODIDACT_CLIENT_TOKEN", CLIENT)
        .env("AUTODIDACT_ADMIN_TOKEN", ADMIN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not exit (it should have refused to start)");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

/// Starts the server in-process once, so the database exists, then closes it.
async fn bootstrap(dir: &Path) {
    Server::start(config(dir)).await.stop().await;
}

#[tokio::test]
async fn a_damaged_database_file_is_refused_at_start_with_exit_code_2() {
    let dir = TempDir::new("corrupt");
    let c = config(dir.path());
    let toml = write_config(dir.path(), "");
    // Not a database at all.
    std::fs::write(&c.db, "this is not a SQLite database\n".repeat(400)).unwrap();
    let (code, err) = run_to_exit(serve_args(&toml, &c.data, &c.db));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&c.db.display().to_string()), "{err}");
    assert!(err.contains("not a valid SQLite database"), "{err}");
    assert!(err.contains("autodidact agent import"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // A real database with a page overwritten in the middle.
    let dir = TempDir::new("damaged");
    let c = config(dir.path());
    let toml = write_config(dir.path(), "");
    bootstrap(dir.path()).await;
    // Everything into the main file first (the last close may leave it in the WAL).
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", c.db.display()))
        .await
        .unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let mut bytes = std::fs::read(&c.db).unwrap();
    assert!(bytes.len() > 3 * 4096, "{} bytes", bytes.len());
    let page = bytes.len() / 4096 / 2;
    for b in &mut bytes[page * 4096..(page + 1) * 4096] {
        *b = 0xA5;
    }
    std::fs::write(&c.db, &bytes).unwrap();
    let (code, err) = run_to_exit(serve_args(&toml, &c.data, &c.db));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&c.db.display().to_string()), "{err}");
}

#[tokio::test]
async fn a_second_server_on_the_same_database_refuses_to_start() {
    let dir = TempDir::new("two");
    let c = config(dir.path());
    let toml = write_config(dir.path(), "");
    let (mut first, addr) = spawn_listening({
        let mut cmd = Command::new(SERVE);
        cmd.args(serve_args(&toml, &c.data, &c.db));
        cmd
    })
    .await;
    let (code, err) = run_to_exit(serve_args(&toml, &c.data, &c.db));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("in use by another agent process"), "{err}");
    assert!(err.contains(&c.db.display().to_string()), "{err}");
    // The first one is unharmed.
    let http = reqwest::Client::new();
    let (st, _) = send(
        http.post(format!("{addr}/v1/messages"))
            .bearer_auth(CLIENT)
            .json(&json!({"text": "where is my card"})),
    )
    .await;
    assert_eq!(st, 200);
    // Once it is gone (even by SIGKILL), the lock goes with it.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let s = Server::start(config(dir.path())).await;
    let (st, stats) = s.get("/v1/stats", Some(ADMIN)).await;
    assert_eq!(st, 200);
    assert_eq!(stats["messages"], 1);
    s.stop().await;
}

#[tokio::test]
async fn a_full_disk_fails_writes_with_503_while_reads_keep_working() {
    let dir = TempDir::new("full");
    let c = config(dir.path());
    let toml = write_config(dir.path(), "[consolidation]\nenabled = false\n");
    bootstrap(dir.path()).await;
    // Every file the process writes may grow to the limit: the WAL fills after a few dozen
    // commits, and the kernel refuses the write that would pass it (SIGXFSZ ignored: EFBIG).
    let db_kib = std::fs::metadata(&c.db).unwrap().len() / 1024;
    let limit_kib = db_kib.max(64) + 32;
    let log = dir.path().join("stderr.log");
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg("trap '' XFSZ; ulimit -f \"$LIMIT_KIB\"; exec \"$@\"")
        .arg("bash")
        .arg(SERVE)
        .args(serve_args(&toml, &c.data, &c.db))
        .env("LIMIT_KIB", limit_kib.to_string())
        .stderr(std::fs::File::create(&log).unwrap());
    let (mut child, addr) = spawn_listening(cmd).await;
    let http = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for i in 0..5000 {
        let resp = http
            .post(format!("{addr}/v1/messages"))
            .bearer_auth(CLIENT)
            .json(
                &json!({"text": format!("message {i}: {}", "my card has not arrived ".repeat(20))}),
            )
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let retry = resp.headers().get("retry-after").cloned();
        let body: Value = resp.json().await.unwrap();
        match status {
            200 => acknowledged.push(body["id"].as_i64().unwrap()),
            503 => {
                assert!(retry.is_some(), "a 503 says when to retry");
                refused = Some(body);
                break;
            }
            other => panic!("status {other}: {body}"),
        }
    }
    let refused = refused.expect("the size limit never refused a write");
    assert!(
        refused["error"].as_str().unwrap().contains("retry later"),
        "{refused}"
    );
    assert!(!acknowledged.is_empty());
    // Reads keep working.
    let get = |path: &str| {
        let req = http.get(format!("{addr}{path}")).bearer_auth(ADMIN);
        async move { send(req).await }
    };
    let (st, stats) = get("/v1/stats").await;
    assert_eq!(st, 200, "{stats}");
    assert_eq!(stats["messages"], acknowledged.len());
    assert_eq!(get("/healthz").await.0, 200);
    assert_eq!(get("/v1/intents").await.0, 200);
    let (st, p) = send(
        http.post(format!("{addr}/v1/admin/predict"))
            .bearer_auth(ADMIN)
            .json(&json!({"texts": ["where is my card"]})),
    )
    .await;
    assert_eq!(st, 200, "{p}");
    // Other writes fail the same clear way.
    let (st, body) = send(
        http.post(format!("{addr}/v1/intents"))
            .bearer_auth(ADMIN)
            .json(&json!({"name": "refund", "answer": "Refunds take 3 days.",
                          "examples": ["I want a refund"]})),
    )
    .await;
    if st != 503 {
        let _ = child.0.kill();
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        panic!("adding an intent on a full disk: status {st}, {body}; server log:\n{log}");
    }
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains(&format!("cannot write to the database {}", c.db.display())),
        "the log names the file: {log}"
    );

    // Without the limit: everything acknowledged is there, nothing else, nothing damaged
    // (opening runs SQLite's quick_check).
    let s = Server::start(config(dir.path())).await;
    let (st, stats) = s.get("/v1/stats", Some(ADMIN)).await;
    assert_eq!(st, 200);
    assert_eq!(stats["messages"], acknowledged.len());
    let (_, intents) = s.get("/v1/intents", Some(ADMIN)).await;
    assert!(intents
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["name"] != "refund"));
    s.stop().await;
}

#[tokio::test]
async fn kill_9_during_a_consolidation_keeps_the_old_model_serving() {
    let dir = TempDir::new("kill-consolidate");
    let c = config(dir.path());
    // Consolidations far longer than the test waits; none starts on its own.
    let toml = write_config(
        dir.path(),
        "[learning]\nepisodes = 1000000\nepochs = 1000000\n\
         [consolidation]\nevery_examples = 1000000\nevery_seconds = 1000000\n",
    );
    let (mut child, addr) = spawn_listening({
        let mut cmd = Command::new(SERVE);
        cmd.args(serve_args(&toml, &c.data, &c.db));
        cmd
    })
    .await;
    let http = reqwest::Client::new();
    let (_, models) = send(
        http.get(format!("{addr}/v1/admin/models"))
            .bearer_auth(ADMIN),
    )
    .await;
    let served = models["served"].as_i64().unwrap();
    let versions = models["versions"].as_array().unwrap().len();
    let (_, r) = send(
        http.post(format!("{addr}/v1/intents"))
            .bearer_auth(ADMIN)
            .json(&json!({"name": "refund", "answer": "Refunds take 3 days.",
                          "examples": ["I want a refund", "refund my purchase please"]})),
    )
    .await;
    assert_eq!(r["examples"], 2);
    let pending = tokio::spawn(
        http.post(format!("{addr}/v1/admin/consolidate"))
            .bearer_auth(ADMIN)
            .json(&json!({}))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !pending.is_finished(),
        "the consolidation ended too soon to be interrupted"
    );
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    assert!(
        pending.await.unwrap().is_err(),
        "no reply from a killed server"
    );

    let s = Server::start(config(dir.path())).await;
    let (_, models) = s.get("/v1/admin/models", Some(ADMIN)).await;
    assert_eq!(models["served"], served, "{models}");
    assert_eq!(
        models["versions"].as_array().unwrap().len(),
        versions,
        "no half-written version: {models}"
    );
    // It serves, the new intent included, and the next consolidation numbers on.
    let r = s.ask("I want a refund").await;
    assert_eq!(r["intent"], "refund", "{r}");
    let (st, done) = s
        .post("/v1/admin/consolidate", Some(ADMIN), &json!({}))
        .await;
    assert_eq!(st, 200, "{done}");
    assert_eq!(done["version"], versions as i64 + 1);
    s.stop().await;
}

#[tokio::test]
async fn kill_9_under_write_load_loses_nothing_acknowledged() {
    let dir = TempDir::new("kill-load");
    let c = config(dir.path());
    let toml = write_config(dir.path(), "[consolidation]\nenabled = false\n");
    let (mut child, addr) = spawn_listening({
        let mut cmd = Command::new(SERVE);
        cmd.args(serve_args(&toml, &c.data, &c.db));
        cmd
    })
    .await;
    let addr = Arc::new(addr);
    let http = reqwest::Client::new();
    let progress = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Four clients: each sends messages and feedback on them; one also creates intents.
    let mut tasks = Vec::new();
    for client in 0..4 {
        let (http, addr, progress) = (http.clone(), Arc::clone(&addr), Arc::clone(&progress));
        tasks.push(tokio::spawn(async move {
            let mut acked = (Vec::new(), Vec::new(), Vec::new());
            // At most 120 rounds each: every stored message fits one listing of 500.
            for i in 0..120 {
                let Ok(r) = http
                    .post(format!("{addr}/v1/messages"))
                    .bearer_auth(CLIENT)
                    .json(&json!({"text": format!("client {client} asks {i} about my card")}))
                    .send()
                    .await
                else {
                    break;
                };
                let Ok(body) = r.json::<Value>().await else {
                    break;
                };
                let id = body["id"].as_i64().unwrap();
                acked.0.push(id);
                let Ok(r) = http
                    .post(format!("{addr}/v1/messages/{id}/feedback"))
                    .bearer_auth(CLIENT)
                    .json(&json!({"resolved": i % 2 == 0, "correct_intent": "lost_card"}))
                    .send()
                    .await
                else {
                    break;
                };
                if r.status() == 200 {
                    acked.1.push(id);
                }
                progress.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if client == 0 && i % 5 == 0 {
                    let name = format!("intent_{i}");
                    let Ok(r) = http
                        .post(format!("{addr}/v1/intents"))
                        .bearer_auth(ADMIN)
                        .json(&json!({"name": name, "answer": "x", "examples": [format!("example {i}")]}))
                        .send()
                        .await
                    else {
                        break;
                    };
                    if r.status() == 201 {
                        acked.2.push(name);
                    }
                }
            }
            acked
        }));
    }
    // SIGKILL in the middle of the load (after 100 acknowledged rounds).
    let deadline = Instant::now() + Duration::from_secs(60);
    while progress.load(std::sync::atomic::Ordering::Relaxed) < 100 {
        assert!(Instant::now() < deadline, "the load did not get going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let (mut messages, mut feedback, mut intents) = (Vec::new(), Vec::new(), Vec::new());
    for t in tasks {
        let (m, f, i) = t.await.unwrap();
        messages.extend(m);
        feedback.extend(f);
        intents.extend(i);
    }
    assert!(messages.len() >= 100, "too little load: {}", messages.len());
    assert!(messages.len() < 480, "the clients finished before the kill");

    let s = Server::start(config(dir.path())).await;
    let (_, listed) = s.get("/v1/admin/messages?limit=500", Some(ADMIN)).await;
    let stored: std::collections::HashMap<i64, &Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_i64().unwrap(), m))
        .collect();
    assert!(messages.len() <= 500);
    for id in &messages {
        assert!(stored.contains_key(id), "acknowledged message {id} lost");
    }
    for id in &feedback {
        assert!(
            !stored[id]["resolved"].is_null(),
            "acknowledged feedback on {id} lost"
        );
    }
    let (_, all) = s.get("/v1/intents", Some(ADMIN)).await;
    for name in &intents {
        assert!(
            all.as_array().unwrap().iter().any(|i| i["name"] == *name),
            "acknowledged intent {name} lost"
        );
    }
    s.stop().await;
}
