//! The agent on PostgreSQL, against a private cluster each test starts and stops itself
//! (`common/pg.rs`): the storage tests SQLite passes, an export moved from SQLite to
//! PostgreSQL and back byte for byte, and two replicas (server processes) on one database:
//! an intent added through one is answered by the other, feedback through both is stored once
//! and learnt by both, consolidations take turns under the lease, the other replica serves
//! the new model, and when the lease holder is killed the other takes over after expiry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use autodidact_agent::export::{import_into, Export};
use autodidact_agent::{Agent, PgStore, Store};
use common::pg::PgCluster;
use common::{config, send, serve_args, spawn_listening, Server, TempDir, ADMIN, CLIENT, SERVE};
use serde_json::{json, Value};

#[tokio::test]
async fn the_storage_tests_pass_on_postgres() {
    let Some(pg) = PgCluster::start() else { return };
    let url = pg.database("store").await;
    let store = PgStore::connect(&url).await.unwrap();
    assert!(store.shared());
    assert!(store.is_empty().await.unwrap());
    common::storage::transactions_conflicts_and_stats(&store).await;
    store.close().await;

    // Everything is still there after reconnecting; the schema numbers like SQLite's.
    let store = PgStore::connect(&url).await.unwrap();
    assert_eq!(store.stats().await.unwrap().feedback, 3);
    assert_eq!(store.intents().await.unwrap().len(), 3);
    assert_eq!(store.schema_version().await.unwrap(), 20261206000002);
    store.close().await;

    // A bad URL is a configuration error naming `db`, without the password.
    match PgStore::connect(&format!(
        "postgres://postgres:s3cret@127.0.0.1:{}/store",
        common::pg::free_port()
    ))
    .await
    {
        Err(autodidact_agent::AgentError::Config { field, reason }) => {
            assert_eq!(field, "db");
            assert!(reason.contains("cannot connect"), "{reason}");
            assert!(!reason.contains("s3cret"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// Every chunk of an export of `store`, as text.
async fn export_of<S: Store>(store: &S) -> String {
    let mut export = Export::start(store).await.unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = export.next_chunk().await.unwrap() {
        out.extend(chunk);
    }
    String::from_utf8(out).unwrap()
}

/// An export without its header's `exported_at`.
fn without_time(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["kind"] == "header" {
                v.as_object_mut().unwrap().remove("exported_at");
            }
            v
        })
        .collect()
}

#[tokio::test]
async fn an_export_moves_from_sqlite_to_postgres_and_back_unchanged() {
    let Some(pg) = PgCluster::start() else { return };
    let dir = TempDir::new("pg-export");
    let mut cfg = config(dir.path());
    cfg.consolidation.enabled = false;
    let s = Server::start(cfg).await;
    let (status, body) = s
        .post(
            "/v1/intents",
            Some(ADMIN),
            &json!({"name": "refund", "answer": "Refunds take 3 days.",
                    "examples": ["I want a refund", "refund my purchase", "give my money back"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut ids = Vec::new();
    for t in [
        "my card has still not come",
        "someone took my card",
        "I need my money back",
    ] {
        ids.push(s.ask(t).await["id"].as_i64().unwrap());
    }
    for (id, body) in [
        (ids[0], json!({"resolved": true})),
        (
            ids[2],
            json!({"resolved": false, "correct_intent": "refund"}),
        ),
    ] {
        let (status, reply) = s
            .post(&format!("/v1/messages/{id}/feedback"), Some(CLIENT), &body)
            .await;
        assert_eq!(status, 200, "{reply}");
    }
    let (status, body) = s
        .post("/v1/admin/consolidate", Some(ADMIN), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let original = export_of(s.agent.store()).await;
    let served = s.agent.served_version();
    s.stop().await;

    let url = pg.database("moved").await;
    import_into(Path::new(&url), original.as_bytes())
        .await
        .unwrap();
    let store = PgStore::connect(&url).await.unwrap();
    assert_eq!(
        without_time(&export_of(&store).await),
        without_time(&original)
    );
    store.close().await;

    // The agent resumes on it, serves what it learnt, and numbers new rows after the
    // imported ones (the identities were moved past them).
    let mut cfg = config(dir.path());
    cfg.db = PathBuf::from(&url);
    cfg.consolidation.enabled = false;
    let agent = Agent::open_postgres(cfg, None).await.unwrap();
    assert_eq!(agent.served_version(), served);
    let reply = agent.message("I want a refund", "s").await.unwrap();
    assert_eq!(reply.intent, "refund");
    assert!(reply.id > ids[2], "{} after {}", reply.id, ids[2]);
    agent.store().close().await;
}

/// A configuration file for a replica: hashed features, no consolidation of its own accord,
/// a quick sync and a short lease, and `extra` TOML.
fn replica_config(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "sync_ms = 100\n{extra}\n[featurizer]\nkind = \"hashed\"\ndim = 2048\n\
             [consolidation]\nenabled = false\nlease_seconds = 3\n\
             [guard]\nenabled = false\n"
        ),
    )
    .unwrap();
    path
}

/// Polls `check` every 100 ms until it gives `Some`, for at most `secs` seconds.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Replica {
    http: reqwest::Client,
    url: String,
}

impl Replica {
    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        send(
            self.http
                .post(format!("{}{path}", self.url))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }
    async fn get(&self, path: &str) -> Value {
        let (status, body) = send(
            self.http
                .get(format!("{}{path}", self.url))
                .bearer_auth(ADMIN),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body
    }
    async fn ask(&self, text: &str) -> Value {
        let (status, body) = self
            .post(
                "/v1/messages",
                CLIENT,
                json!({"text": text, "session": "s"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

#[tokio::test]
async fn two_replicas_share_one_database() {
    let Some(pg) = PgCluster::start() else { return };
    let url = pg.database("replicas").await;
    let dir = TempDir::new("replicas");
    let c = config(dir.path());
    let db = PathBuf::from(&url);
    // A trains for far longer than the test waits (it is killed in the middle of it); B
    // trains quickly.
    let slow = replica_config(
        dir.path(),
        "a",
        "[learning]\nepisodes = 1000000\nepochs = 1000000\n",
    );
    let quick = replica_config(dir.path(), "b", "");
    let (mut child_a, url_a) = spawn_listening({
        let mut cmd = std::process::Command::new(SERVE);
        cmd.args(serve_args(&slow, &c.data, &db));
        cmd
    })
    .await;
    let (_child_b, url_b) = spawn_listening({
        let mut cmd = std::process::Command::new(SERVE);
        cmd.args(serve_args(&quick, &c.data, &db));
        cmd
    })
    .await;
    let http = reqwest::Client::new();
    let a = Replica {
        http: http.clone(),
        url: url_a,
    };
    let b = Replica { http, url: url_b };
    let (a, b) = (&a, &b);
    let pool = &sqlx::PgPool::connect(&url).await.unwrap();

    // An intent added through A is answered by B.
    let (status, body) = a
        .post(
            "/v1/intents",
            ADMIN,
            json!({"name": "refund", "answer": "Refunds take 3 days.",
                   "examples": ["I want a refund", "refund my purchase please",
                                "give me my money back", "can I get a refund"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let reply = eventually(10, "B to answer with the new intent", || async move {
        let r = b.ask("I want a refund for my purchase").await;
        (r["intent"] == "refund").then_some(r)
    })
    .await;
    assert_eq!(reply["answer"], "Refunds take 3 days.", "{reply}");
    // Creating it again through B is a conflict, whichever replica made it.
    let (status, _) = b
        .post(
            "/v1/intents",
            ADMIN,
            json!({"name": "refund", "answer": "x", "examples": ["refund"]}),
        )
        .await;
    assert_eq!(status, 409);

    // Feedback through both, each on a message the other answered, is stored once, and both
    // replicas' policies learn all of it.
    let texts = [
        "where is my card",
        "what is the exchange rate",
        "I lost my card",
        "how do I top up my account",
        "my card has not arrived yet",
        "someone stole my wallet with my card",
    ];
    let mut ids = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let (asked, other) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let id = asked.ask(t).await["id"].as_i64().unwrap();
        let (status, body) = other
            .post(
                &format!("/v1/messages/{id}/feedback"),
                CLIENT,
                json!({"resolved": i % 3 != 0, "correct_intent": if i == 3 { json!("refund") } else { Value::Null }}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        ids.push(id);
    }
    // A second feedback on a message, through the other replica, is refused.
    let (status, _) = a
        .post(
            &format!("/v1/messages/{}/feedback", ids[1]),
            CLIENT,
            json!({"resolved": true}),
        )
        .await;
    assert_eq!(status, 409);
    let (rows, distinct): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT message_id) FROM feedback")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((rows, distinct), (texts.len() as i64, texts.len() as i64));
    for r in [&a, &b] {
        eventually(10, "both policies to learn every feedback", || async move {
            let stats = r.get("/v1/stats").await;
            let updates: i64 = stats["policy_updates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_i64().unwrap())
                .sum();
            assert_eq!(stats["feedback"], texts.len() as i64, "{stats}");
            (updates == texts.len() as i64).then_some(())
        })
        .await;
    }

    // B consolidates; A picks up the new model version.
    let (status, done) = b.post("/v1/admin/consolidate", ADMIN, json!({})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["accepted"], true, "{done}");
    let v2 = done["version"].as_i64().unwrap();
    eventually(10, "A to serve B's model", || async move {
        (a.get("/v1/stats").await["model_version"] == v2).then_some(())
    })
    .await;
    let r = a.ask("I want a refund for my purchase").await;
    assert_eq!(r["intent"], "refund", "{r}");

    // A consolidates (for longer than the test waits) and holds the lease meanwhile: B's
    // consolidation is refused.
    let pending = tokio::spawn({
        let (http, url) = (a.http.clone(), a.url.clone());
        async move {
            http.post(format!("{url}/v1/admin/consolidate"))
                .bearer_auth(ADMIN)
                .json(&json!({}))
                .send()
                .await
        }
    });
    let holder: String = eventually(10, "A to take the lease", || async move {
        sqlx::query_scalar("SELECT holder FROM leases WHERE name = 'consolidation'")
            .fetch_optional(pool)
            .await
            .unwrap()
    })
    .await;
    assert!(
        holder.contains(&format!(":{}:", child_a.0.id())),
        "{holder}"
    );
    let (status, body) = b.post("/v1/admin/consolidate", ADMIN, json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("lease"), "{body}");

    // kill -9 A: B is refused until the lease expires, then consolidates.
    child_a.0.kill().unwrap();
    child_a.0.wait().unwrap();
    let killed = Instant::now();
    assert!(
        pending.await.unwrap().is_err(),
        "no reply from a killed server"
    );
    let (status, _) = b.post("/v1/admin/consolidate", ADMIN, json!({})).await;
    assert_eq!(status, 409, "the dead holder's lease still runs");
    let done = eventually(20, "B to take the expired lease over", || async move {
        let (status, body) = b.post("/v1/admin/consolidate", ADMIN, json!({})).await;
        assert!(status == 200 || status == 409, "{status} {body}");
        (status == 200).then_some(body)
    })
    .await;
    let waited = killed.elapsed();
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    let v3 = done["version"].as_i64().unwrap();
    assert_eq!(
        v3,
        v2 + 1,
        "nothing of A's killed consolidation was stored: {done}"
    );
    assert_eq!(b.get("/v1/stats").await["model_version"], v3);
    let events: Vec<String> = sqlx::query_scalar("SELECT event FROM model_events ORDER BY seq")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(events, ["bootstrap", "accepted", "accepted"]);
    pool.close().await;
}
