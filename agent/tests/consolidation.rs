//! Consolidation over HTTP: a candidate is trained, scored, stored as a new version and
//! served when the guard accepts it; versions are listed with their events; a rollback
//! serves an old version again, and survives a restart.

mod common;

use common::{config, Server, TempDir, ADMIN, CLIENT};
use serde_json::json;

#[tokio::test]
async fn consolidate_list_and_roll_back() {
    let dir = TempDir::new("consolidate");
    let mut cfg = config(dir.path());
    cfg.consolidation.enabled = false;
    let s = Server::start(cfg.clone()).await;
    let (status, _) = s
        .post(
            "/v1/intents",
            Some(ADMIN),
            &json!({"name": "refund", "answer": "Refunds take 3 days.",
                    "examples": ["I want a refund", "refund my purchase", "give my money back",
                                 "can I get a refund", "return the money", "refund please"]}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(s.agent.pending_examples(), 6);
    let (status, body) = s
        .post("/v1/admin/consolidate", Some(CLIENT), &json!({}))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (403, Some("authorization"))
    );
    let (status, body) = s
        .post(
            "/v1/admin/consolidate",
            Some(ADMIN),
            &json!({"strategy": "replay"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
    assert_eq!(s.agent.pending_examples(), 0);
    let accepted = body["accepted"].as_bool().unwrap();
    assert_eq!(accepted, body["reason"].is_null(), "{body}");
    assert_eq!(body["metrics"]["strategy"], "replay");
    assert!(body["metrics"]["held_out"]["after"].is_number(), "{body}");
    let (status, body) = s
        .post(
            "/v1/admin/consolidate",
            Some(ADMIN),
            &json!({"strategy": "forget"}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("strategy")),
        "{body}"
    );

    let (status, models) = s.get("/v1/admin/models", Some(ADMIN)).await;
    assert_eq!(status, 200);
    assert_eq!(models["versions"].as_array().unwrap().len(), 2);
    assert_eq!(models["events"][0]["event"], "bootstrap");
    let served = if accepted { 2 } else { 1 };
    assert_eq!(models["served"], served);

    // Rollbacks: unknown version 404; back to 1.
    let (status, body) = s
        .post("/v1/admin/rollback", Some(ADMIN), &json!({"version": 99}))
        .await;
    assert_eq!((status, body["field"].as_str()), (404, Some("version")));
    let (status, body) = s
        .post("/v1/admin/rollback", Some(ADMIN), &json!({"version": 1}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, health) = s.get("/healthz", None).await;
    assert_eq!(health["model_version"], 1);
    let probe = s.ask("I want my money back").await;
    s.stop().await;

    // The served version and the answers survive a restart.
    let s = Server::start(cfg).await;
    let (_, health) = s.get("/healthz", None).await;
    assert_eq!(health["model_version"], 1);
    let again = s.ask("I want my money back").await;
    assert_eq!(again["intent"], probe["intent"]);
    assert_eq!(again["confidence"], probe["confidence"]);
    s.stop().await;
}
