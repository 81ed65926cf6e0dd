//! Consolidation over HTTP: a candidate is trained, scored, stored as a new version and
//! served when the guard accepts it; versions are listed with their events; a rollback
//! serves an old version again, and survives a restart. Examples kept sparse (hashed
//! features) give the very bits they gave kept dense.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_agent::featurizer::{self, Featurizer};
use autodidact_agent::learn::Strategy;
use autodidact_agent::{Agent, SqliteStore, Store};
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

/// The hashed featurizer with its examples kept dense (the trait's default compact form):
/// what the agent held before it kept hashed examples sparse.
#[derive(Debug)]
struct KeptDense(std::sync::Arc<dyn Featurizer>);

impl Featurizer for KeptDense {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn embed(&self, texts: &[&str]) -> autodidact_agent::Result<Vec<Vec<f32>>> {
        self.0.embed(texts)
    }
}

/// Everything a run computed, floats as bits.
#[derive(Debug, PartialEq)]
struct Run {
    metrics: Vec<serde_json::Value>,
    predictions: Vec<(Vec<(String, u64)>, u64, u64)>,
    blobs: Vec<Vec<u8>>,
}

const PROBES: [&str; 5] = [
    "I want my money back",
    "where is my new card",
    "someone took my card",
    "what rate do you use",
    "completely unrelated words here",
];

async fn predictions(agent: &Agent) -> Vec<(Vec<(String, u64)>, u64, u64)> {
    let mut out = Vec::new();
    for t in PROBES {
        let p = agent.predict(t).await.unwrap();
        out.push((
            p.ranked
                .iter()
                .map(|(n, c)| (n.clone(), c.to_bits()))
                .collect(),
            p.nearest.to_bits(),
            p.ood_score.to_bits(),
        ));
    }
    out
}

/// One agent's life: a bootstrap, a new intent, corrections, two consolidations (replay and
/// EWC), then a restart that reads the stored features back.
async fn run(dense: bool) -> (Run, Vec<(Vec<(String, u64)>, u64, u64)>) {
    let dir = TempDir::new(if dense { "bits-dense" } else { "bits-sparse" });
    let mut cfg = config(dir.path());
    cfg.consolidation.enabled = false;
    cfg.learning.bootstrap_episodes = 20;
    cfg.learning.episodes = 20;
    cfg.learning.rank = 8;
    let hashed = featurizer::build(&cfg.featurizer).unwrap();
    let f: std::sync::Arc<dyn Featurizer> = if dense {
        std::sync::Arc::new(KeptDense(hashed))
    } else {
        hashed
    };
    let store = SqliteStore::open(&cfg.db).await.unwrap();
    let agent = Agent::with_featurizer(cfg.clone(), store, f).await.unwrap();
    let refund: Vec<String> = [
        "I want a refund",
        "refund my purchase",
        "give my money back",
        "can I get a refund",
        "return the money",
        "refund please",
    ]
    .map(String::from)
    .to_vec();
    agent
        .create_intent("refund", &refund, "Refunds take 3 days.")
        .await
        .unwrap();
    for (text, label) in [
        ("I would like my money returned", "refund"),
        ("the card never came", "card_arrival"),
        ("my wallet was taken", "lost_card"),
        ("put money on my account", "top_up"),
        ("money back for this order", "refund"),
    ] {
        let m = agent.message(text, "session").await.unwrap();
        agent.feedback(m.id, false, Some(label)).await.unwrap();
    }
    let mut metrics = Vec::new();
    for s in [Strategy::Replay, Strategy::Ewc] {
        metrics.push(agent.consolidate(Some(s), false).await.unwrap().metrics);
    }
    let mut blobs = Vec::new();
    for v in 1..=3 {
        blobs.push(agent.store().model(v).await.unwrap().unwrap().blob);
    }
    let before = Run {
        metrics,
        predictions: predictions(&agent).await,
        blobs,
    };
    agent.store().close().await;
    drop(agent);
    let again = Agent::open(cfg).await.unwrap();
    let after = predictions(&again).await;
    again.store().close().await;
    (before, after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_and_dense_examples_give_the_same_bits() {
    let (sparse, sparse_restarted) = run(false).await;
    let (dense, dense_restarted) = run(true).await;
    // The consolidations were real: they trained, and their metrics and heads are compared.
    assert!(
        sparse.metrics[0]["training"]["episodes"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{:?}",
        sparse.metrics[0]
    );
    assert_eq!(sparse, dense);
    assert_eq!(sparse_restarted, dense_restarted);
    assert_eq!(sparse_restarted, sparse.predictions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consolidation_thread_runs_at_the_configured_nice_value() {
    let dir = TempDir::new("nice");
    let mut cfg = config(dir.path());
    cfg.consolidation.enabled = false;
    cfg.consolidation.nice = 17;
    cfg.learning.bootstrap_episodes = 2;
    cfg.learning.episodes = 2;
    let agent = Agent::open(cfg).await.unwrap();
    assert_eq!(agent.consolidation_nice(), None);
    agent.consolidate(None, false).await.unwrap();
    // The test process may itself run niced (`nice -n 10 cargo test`); above 17 it would keep
    // its own value, which an unprivileged process cannot lower.
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s[s.rfind(')')? + 1..].to_string();
            rest.split_whitespace().nth(16)?.parse::<i32>().ok()
        });
    if let Some(own) = own {
        assert_eq!(agent.consolidation_nice(), Some(17.max(own)));
    }
    agent.store().close().await;
}
