//! Export over HTTP and import into a new database: the restored agent answers, counts and
//! lists model versions exactly like the original, its tokens work, and a damaged export
//! (truncated, a corrupted line, a wrong count or format) or a non-empty target is refused
//! with the line and field, leaving nothing behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;

use autodidact_agent::export::{import_into, ImportSummary};
use autodidact_agent::{AgentError, Role, SqliteStore, Store};
use common::{config, Server, TempDir, ADMIN, CLIENT};
use serde_json::{json, Value};

/// A server with an extra intent, messages, feedback (a correction among them) and a
/// consolidation behind it; returns it with its export.
async fn populated(dir: &Path) -> (Server, String) {
    let mut cfg = config(dir);
    cfg.consolidation.enabled = false;
    let s = Server::start(cfg).await;
    let (status, body) = s
        .post(
            "/v1/intents",
            Some(ADMIN),
            &json!({"name": "refund", "answer": "Refunds take 3 days.",
                    "examples": ["I want a refund", "refund my purchase", "give my money back",
                                 "can I get a refund", "return the money", "refund please"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let texts = [
        "my card has still not come",
        "what rate do you give for dollars",
        "someone took my card",
        "I need my money back",
        "how can I add money",
    ];
    let mut ids = Vec::new();
    for t in texts {
        ids.push(s.ask(t).await["id"].as_i64().unwrap());
    }
    for (id, body) in [
        (ids[0], json!({"resolved": true})),
        (
            ids[2],
            json!({"resolved": false, "correct_intent": "lost_card"}),
        ),
        (
            ids[3],
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
    let text = export(&s).await;
    (s, text)
}

/// `GET /v1/admin/export` with the admin token.
async fn export(s: &Server) -> String {
    let resp = s
        .http
        .get(s.url("/v1/admin/export"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("application/x-ndjson"), "{kind}");
    resp.text().await.unwrap()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The line and field of an import error.
fn refused(r: Result<ImportSummary, AgentError>) -> (u64, String) {
    match r {
        Err(AgentError::Import { line, field, .. }) => (line, field),
        other => panic!("expected an import error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_export_restores_the_same_agent_into_a_new_database() {
    let dir = TempDir::new("export");
    let (a, text) = populated(dir.path()).await;
    let all = lines(&text);
    // Header, rows, trailer with the count of every kind.
    assert_eq!(all[0]["kind"], "header");
    assert_eq!(all[0]["format"], 1);
    assert_eq!(all[0]["schema"], 20261206000002_i64);
    assert!(all[0]["exported_at"].as_i64().unwrap() > 0);
    let trailer = all.last().unwrap();
    assert_eq!(trailer["kind"], "trailer");
    let count = |kind: &str| all.iter().filter(|l| l["kind"] == kind).count() as u64;
    for (kind, n) in trailer["counts"].as_object().unwrap() {
        assert_eq!(n.as_u64(), Some(count(kind)), "{kind}");
    }
    assert_eq!(count("intent"), 5);
    assert_eq!(count("message"), 5);
    assert_eq!(count("feedback"), 3);
    // The fixture's 24, the new intent's 6, two corrections and one confirmation ("resolved"
    // without a correction labels the message with its predicted intent).
    assert_eq!(count("example"), 24 + 6 + 2 + 1);
    assert_eq!(count("model"), 2);
    assert_eq!(count("model_event"), 2);
    assert_eq!(count("served_model"), 1);
    assert_eq!(count("bandit_state"), 1);
    assert_eq!(count("token"), 2);
    let example = all.iter().find(|l| l["kind"] == "example").unwrap();
    assert_eq!(
        example["features"].as_str().unwrap().len(),
        (4 * 2048_usize).div_ceil(3) * 4,
        "{example}"
    );
    assert!(all
        .iter()
        .all(|l| l["kind"] != "token" || l.get("token").is_none()));
    // Admin only.
    let resp = a
        .http
        .get(a.url("/v1/admin/export"))
        .bearer_auth(CLIENT)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let (_, stats_a) = a.get("/v1/stats", Some(ADMIN)).await;
    let (_, models_a) = a.get("/v1/admin/models", Some(ADMIN)).await;

    // Restored into a new file, then served with no token configured: the stored hashes.
    let dir_b = TempDir::new("import");
    let mut cfg = config(dir_b.path());
    cfg.consolidation.enabled = false;
    cfg.client_token = None;
    cfg.admin_token = None;
    let summary = import_into(&cfg.db, text.as_bytes()).await.unwrap();
    assert_eq!(summary.lines, all.len() as u64);
    assert_eq!(summary.counts["example"], 33);
    let b = Server::start(cfg).await;
    assert!(b.agent.generated_tokens().is_empty());
    assert_eq!(b.agent.authorize(CLIENT), Some(Role::Client));
    assert_eq!(b.agent.authorize(ADMIN), Some(Role::Admin));
    // Exporting the restored database gives the same lines (but the header's time).
    let again = export(&b).await;
    assert_eq!(
        text.lines().skip(1).collect::<Vec<_>>(),
        again.lines().skip(1).collect::<Vec<_>>()
    );
    let (status, stats_b) = b.get("/v1/stats", Some(ADMIN)).await;
    assert_eq!(status, 200);
    assert_eq!(stats_a, stats_b);
    let (_, models_b) = b.get("/v1/admin/models", Some(ADMIN)).await;
    assert_eq!(models_a, models_b);
    // The same message gets the same reply (id, intent, confidence, action, answer, ...).
    for q in [
        "my card has still not come",
        "refund this please",
        "where can I see the exchange rate",
        "I cannot find my card",
    ] {
        let (ra, rb) = (a.ask(q).await, b.ask(q).await);
        assert_eq!(ra, rb, "{q}");
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn damaged_exports_and_non_empty_targets_are_refused() {
    let dir = TempDir::new("export-bad");
    let (a, text) = populated(dir.path()).await;
    a.stop().await;
    let all: Vec<&str> = text.lines().collect();
    let n = all.len() as u64;
    let target = TempDir::new("import-bad");
    // A new path for every attempt: a failed import removes the file it created, and SQLite
    // may still be closing the last handle on it in the background.
    let mut tried = Vec::new();
    let mut fresh = || {
        let p = target.path().join(format!("new-{}.db", tried.len()));
        tried.push(p.clone());
        p
    };
    let with = |i: usize, line: &str| -> String {
        let mut v: Vec<&str> = all.clone();
        v[i] = line;
        v.join("\n") + "\n"
    };
    let intent_line = all
        .iter()
        .position(|l| l.contains("\"kind\":\"intent\""))
        .unwrap();
    let message_line = all
        .iter()
        .position(|l| l.contains("\"kind\":\"message\""))
        .unwrap();

    // Truncated at a line boundary: no trailer.
    let cut = all[..all.len() - 1].join("\n") + "\n";
    assert_eq!(
        refused(import_into(&fresh(), cut.as_bytes()).await),
        (n, "kind".into())
    );
    // Truncated inside a line: that line is malformed.
    let at = text.len() / 2;
    let line = text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
        + 1;
    let (l, _) = refused(import_into(&fresh(), &text.as_bytes()[..at]).await);
    assert_eq!(l, line);
    // A corrupted field, broken JSON, an unknown kind, a missing kind.
    let bad = all[intent_line].replace("\"active\":true", "\"active\":\"yes\"");
    assert_ne!(bad, all[intent_line]);
    assert_eq!(
        refused(import_into(&fresh(), with(intent_line, &bad).as_bytes()).await),
        (intent_line as u64 + 1, "active".into())
    );
    assert_eq!(
        refused(
            import_into(
                &fresh(),
                with(message_line, "{\"kind\":\"message\",").as_bytes()
            )
            .await
        ),
        (message_line as u64 + 1, "json".into())
    );
    let widget = all[message_line].replace("\"kind\":\"message\"", "\"kind\":\"widget\"");
    assert_eq!(
        refused(import_into(&fresh(), with(message_line, &widget).as_bytes()).await),
        (message_line as u64 + 1, "kind".into())
    );
    let missing = all[message_line].replace("\"session\":", "\"sessions\":");
    let (l, _) = refused(import_into(&fresh(), with(message_line, &missing).as_bytes()).await);
    assert_eq!(l, message_line as u64 + 1);
    // A reference to a message that is not there: the database refuses it, on its line.
    let feedback_line = all
        .iter()
        .position(|l| l.contains("\"kind\":\"feedback\""))
        .unwrap();
    let mut fb: Value = serde_json::from_str(all[feedback_line]).unwrap();
    fb["message_id"] = json!(999);
    let (l, field) =
        refused(import_into(&fresh(), with(feedback_line, &fb.to_string()).as_bytes()).await);
    assert_eq!((l, field.as_str()), (feedback_line as u64 + 1, "feedback"));
    // A trailer that disagrees; a format this build does not read.
    let mut trailer: Value = serde_json::from_str(all[all.len() - 1]).unwrap();
    trailer["counts"]["message"] = json!(6);
    assert_eq!(
        refused(
            import_into(
                &fresh(),
                with(all.len() - 1, &trailer.to_string()).as_bytes()
            )
            .await
        ),
        (n, "counts.message".into())
    );
    let mut header: Value = serde_json::from_str(all[0]).unwrap();
    header["format"] = json!(2);
    assert_eq!(
        refused(import_into(&fresh(), with(0, &header.to_string()).as_bytes()).await),
        (1, "format".into())
    );
    assert_eq!(
        refused(import_into(&fresh(), &b""[..]).await),
        (1, "kind".into())
    );
    // All or nothing: every failed import removed the file it had created.
    assert!(tried.iter().all(|p| !p.exists()), "{tried:?}");
    let db = target.path().join("empty.db");
    // An existing empty database is kept empty by a failed import.
    SqliteStore::open(&db).await.unwrap().close().await;
    refused(import_into(&db, cut.as_bytes()).await);
    let store = SqliteStore::open(&db).await.unwrap();
    assert!(store.is_empty().await.unwrap());
    store.close().await;
    // Then the good export goes in; a second import into it is refused.
    import_into(&db, text.as_bytes()).await.unwrap();
    match import_into(&db, text.as_bytes()).await {
        Err(AgentError::Config { field, reason }) => {
            assert_eq!(field, "db");
            assert!(reason.contains("holds data"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
