//! `kill -9` right after feedback is acknowledged loses none of it: a child server process is
//! killed (SIGKILL) the moment its last acknowledgement arrives, and the database reopened.

use crate::common;

use common::{config, send, serve_child, TempDir, ADMIN, CLIENT};
use serde_json::json;

#[tokio::test]
async fn feedback_acknowledged_before_a_kill_9_survives_it() {
    let dir = TempDir::new("crash");
    let c = config(dir.path());
    std::fs::write(
        dir.path().join("agent.toml"),
        "[featurizer]\nkind = \"hashed\"\ndim = 2048\n",
    )
    .unwrap();
    let (mut child, addr) = serve_child(&dir.path().join("agent.toml"), &c.data, &c.db).await;
    let http = reqwest::Client::new();
    let n = 12;
    let mut ids = Vec::new();
    for i in 0..n {
        let (st, r) = send(
            http.post(format!("{addr}/v1/messages"))
                .bearer_auth(CLIENT)
                .json(
                    &json!({"text": format!("question number {i} about my card"), "session": "k"}),
                ),
        )
        .await;
        assert_eq!(st, 200, "{r}");
        ids.push(r["id"].as_i64().unwrap());
    }
    for (i, id) in ids.iter().enumerate() {
        let correct = if i % 2 == 0 {
            "lost_card"
        } else {
            "card_arrival"
        };
        let (st, body) = send(
            http.post(format!("{addr}/v1/messages/{id}/feedback"))
                .bearer_auth(CLIENT)
                .json(&json!({"resolved": i % 3 == 0, "correct_intent": correct})),
        )
        .await;
        assert_eq!(st, 200, "{body}");
    }
    // SIGKILL the moment the last acknowledgement is in.
    child.0.kill().unwrap();
    child.0.wait().unwrap();

    let mut c = config(dir.path());
    c.client_token = None;
    c.admin_token = None;
    let s = common::Server::start(c).await;
    let (st, stats) = s.get("/v1/stats", Some(ADMIN)).await;
    assert_eq!(st, 200);
    assert_eq!(stats["messages"], n);
    assert_eq!(stats["feedback"], n);
    let sum: u64 = stats["policy_updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        sum, n as u64,
        "the policy state was stored with every feedback"
    );
    let counts = s.agent.active_intents();
    assert_eq!(counts["lost_card"], 6 + n as usize / 2);
    assert_eq!(counts["card_arrival"], 6 + n as usize / 2);
    s.stop().await;
}
