//! The agent over real HTTP: a server on an ephemeral localhost port, a temporary SQLite file
//! and a small CSV fixture.

use crate::common;

use common::{config, prob, send, Server, TempDir, ADMIN, CLIENT};
use serde_json::{json, Value};

#[tokio::test]
async fn answers_from_the_bootstrap_data_and_its_answers_file() {
    let dir = TempDir::new("answers");
    let s = Server::start(config(dir.path())).await;
    let r = s.ask("my new card has still not arrived").await;
    assert_eq!(r["intent"], "card_arrival", "{r}");
    assert!(r["id"].as_i64().unwrap() > 0);
    let conf = r["confidence"].as_f64().unwrap();
    assert!(conf > 0.25 && conf <= 1.0, "{r}");
    let alts = r["alternatives"].as_array().unwrap();
    assert_eq!(alts.len(), 3);
    assert_eq!(alts[0]["intent"], "card_arrival");
    assert!(["answer", "clarify", "handoff"].contains(&r["action"].as_str().unwrap()));
    if r["action"] == "answer" {
        assert_eq!(r["answer"], "Cards arrive within 5 working days.");
    }
    // test.csv is held out: its label never became an intent.
    let (status, intents) = s.get("/v1/intents", Some(ADMIN)).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = intents
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["card_arrival", "exchange_rate", "lost_card", "top_up"]
    );
    // An intent without a configured answer gets a placeholder naming it.
    let top_up = &intents[3];
    assert!(top_up["answer"].as_str().unwrap().contains("top_up"));
    s.stop().await;
}

#[tokio::test]
async fn a_new_intent_is_usable_by_the_very_next_request() {
    let dir = TempDir::new("new-intent");
    let s = Server::start(config(dir.path())).await;
    let q = "can I get a refund for this purchase";
    let before = s.ask(q).await;
    assert_ne!(before["intent"], "refund");
    let (status, body) = s
        .post(
            "/v1/intents",
            Some(ADMIN),
            &json!({"name": "refund", "answer": "Refunds take 3 days.",
                    "examples": ["I want a refund", "refund my purchase please",
                                 "how do I get a refund for an item"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["examples"], 3);
    let after = s.ask(q).await;
    assert_eq!(after["intent"], "refund", "{after}");
    // Editing the answer is seen at once too.
    let (status, body) = s
        .put(
            "/v1/intents/refund",
            Some(ADMIN),
            &json!({"answer": "Refunds take 5 days."}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["answer"], "Refunds take 5 days.");
    let r = s.ask("I want a refund").await;
    if r["action"] == "answer" {
        assert_eq!(r["answer"], "Refunds take 5 days.");
    }
    // Retired: never predicted again, and its name stays taken.
    let (status, body) = s
        .put("/v1/intents/refund", Some(ADMIN), &json!({"active": false}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], false);
    let r = s.ask("I want a refund").await;
    assert_ne!(r["intent"], "refund", "{r}");
    assert!(r["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["intent"] != "refund"));
    let (status, body) = s
        .post(
            "/v1/intents",
            Some(ADMIN),
            &json!({"name": "refund", "answer": "x", "examples": ["refund"]}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["field"], "name");
    s.stop().await;
}

#[tokio::test]
async fn a_correction_moves_the_prediction() {
    let dir = TempDir::new("feedback");
    let s = Server::start(config(dir.path())).await;
    // Ambiguous between card_arrival and lost_card; corrected towards lost_card.
    let q = "my card never came and now I cannot find it";
    let first = s.ask(q).await;
    let target = if first["intent"] == "lost_card" {
        "card_arrival"
    } else {
        "lost_card"
    };
    let mut reply = first.clone();
    let mut corrections = 0;
    while reply["intent"] != target {
        assert!(
            corrections < 10,
            "ten corrections did not move {q:?} to {target}: {reply}"
        );
        let p_before = prob(&reply, target);
        let id = reply["id"].as_i64().unwrap();
        let (status, body) = s
            .post(
                &format!("/v1/messages/{id}/feedback"),
                Some(CLIENT),
                &json!({"resolved": false, "correct_intent": target}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["correct"], false);
        assert!(body["example_id"].as_i64().is_some());
        corrections += 1;
        reply = s.ask(q).await;
        assert!(prob(&reply, target) > p_before, "{reply}");
    }
    assert!(corrections >= 1);
    let (status, stats) = s.get("/v1/stats", Some(ADMIN)).await;
    assert_eq!(status, 200);
    assert_eq!(stats["feedback"], corrections);
    assert_eq!(stats["accuracy"]["all"], 0.0);
    // A resolved answer earns the reward table's +1 (or the clarify/hand-off entry).
    let id = reply["id"].as_i64().unwrap();
    let (status, body) = s
        .post(
            &format!("/v1/messages/{id}/feedback"),
            Some(CLIENT),
            &json!({"resolved": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let expected = match reply["action"].as_str().unwrap() {
        "answer" => 1.0,
        "clarify" => 0.5,
        _ => -0.3,
    };
    assert_eq!(body["reward"], expected);
    s.stop().await;
}

#[tokio::test]
async fn a_restart_resumes_the_same_state_and_answers() {
    let dir = TempDir::new("restart");
    let s = Server::start(config(dir.path())).await;
    let (status, _) = s
        .post(
            "/v1/intents",
            Some(ADMIN),
            &json!({"name": "refund", "answer": "Refunds take 3 days.",
                    "examples": ["I want a refund", "refund my purchase"]}),
        )
        .await;
    assert_eq!(status, 201);
    for text in [
        "give me my money back",
        "the rate for dollars",
        "my card is lost",
    ] {
        let r = s.ask(text).await;
        let id = r["id"].as_i64().unwrap();
        let (status, _) = s
            .post(
                &format!("/v1/messages/{id}/feedback"),
                Some(CLIENT),
                &json!({"resolved": false, "correct_intent": "refund"}),
            )
            .await;
        assert_eq!(status, 200);
    }
    let probes = [
        "give me my money back please",
        "exchange rate for euros",
        "where is my card",
        "???",
    ];
    let mut before = Vec::new();
    for p in probes {
        before.push(s.ask(p).await);
    }
    let (_, stats_before) = s.get("/v1/stats", Some(ADMIN)).await;
    s.stop().await;

    // Same database, no tokens configured: the stored hashes keep the old tokens valid.
    let mut c = config(dir.path());
    c.client_token = None;
    c.admin_token = None;
    let s = Server::start(c).await;
    assert!(s.agent.generated_tokens().is_empty());
    for (p, b) in probes.iter().zip(&before) {
        let a = s.ask(p).await;
        for key in ["intent", "confidence", "action", "answer", "alternatives"] {
            assert_eq!(a[key], b[key], "{p:?} {key}: {a} vs {b}");
        }
    }
    let (_, stats_after) = s.get("/v1/stats", Some(ADMIN)).await;
    assert_eq!(stats_after["feedback"], stats_before["feedback"]);
    assert_eq!(stats_after["examples"], stats_before["examples"]);
    assert_eq!(
        stats_after["policy_updates"],
        stats_before["policy_updates"]
    );
    assert_eq!(stats_after["temperature"], stats_before["temperature"]);
    assert_eq!(
        stats_after["messages"].as_i64().unwrap(),
        stats_before["messages"].as_i64().unwrap() + probes.len() as i64
    );
    s.stop().await;

    // Another featurizer on the same database is refused, naming the field.
    let mut c = config(dir.path());
    c.featurizer = autodidact_agent::featurizer::FeaturizerSpec::Hashed { dim: 64 };
    let err = autodidact_agent::Agent::open(c).await.unwrap_err();
    assert!(err.to_string().contains("featurizer"), "{err}");
}

#[tokio::test]
async fn tokens_are_enforced() {
    let dir = TempDir::new("tokens");
    let s = Server::start(config(dir.path())).await;
    let msg = json!({"text": "where is my card", "session": "a"});
    let intent = json!({"name": "x", "answer": "y", "examples": ["z"]});
    let (st, body) = s.post("/v1/messages", None, &msg).await;
    assert_eq!((st, body["field"].as_str()), (401, Some("authorization")));
    let (st, _) = s
        .post("/v1/messages", Some("not-the-token-000000"), &msg)
        .await;
    assert_eq!(st, 401);
    let (st, _) = send(
        s.http
            .post(s.url("/v1/messages"))
            .header("authorization", format!("Basic {CLIENT}"))
            .json(&msg),
    )
    .await;
    assert_eq!(st, 401);
    let (st, _) = s.post("/v1/messages", Some(CLIENT), &msg).await;
    assert_eq!(st, 200);
    let (st, _) = s.post("/v1/messages", Some(ADMIN), &msg).await;
    assert_eq!(st, 200);
    let (st, body) = s.post("/v1/intents", Some(CLIENT), &intent).await;
    assert_eq!(st, 403, "{body}");
    let (st, _) = s
        .put(
            "/v1/intents/top_up",
            Some(CLIENT),
            &json!({"active": false}),
        )
        .await;
    assert_eq!(st, 403);
    for path in ["/v1/stats", "/v1/intents"] {
        assert_eq!(s.get(path, Some(CLIENT)).await.0, 403, "{path}");
        assert_eq!(s.get(path, None).await.0, 401, "{path}");
        assert_eq!(s.get(path, Some(ADMIN)).await.0, 200, "{path}");
    }
    let resp = s
        .http
        .get(s.url("/metrics"))
        .bearer_auth(CLIENT)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let resp = s
        .http
        .get(s.url("/metrics"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.contains("autodidact_messages_total{action="), "{text}");
    assert!(text.contains("autodidact_active_intents 4"), "{text}");
    let (st, body) = s.get("/healthz", None).await;
    assert_eq!((st, &body["status"]), (200, &json!("ok")));
    s.stop().await;
}

/// Sends raw bytes as the body of a POST with the client token.
async fn raw(s: &Server, path: &str, content_type: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut req = s.http.post(s.url(path)).bearer_auth(CLIENT).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    send(req).await
}

#[tokio::test]
async fn every_bad_input_gets_a_4xx_with_a_json_error_naming_the_field() {
    let dir = TempDir::new("bad");
    let s = Server::start(config(dir.path())).await;
    let json_ct = Some("application/json");
    let cases: Vec<(&str, (u16, Value), u16, &str)> = vec![
        (
            "no content type",
            raw(&s, "/v1/messages", None, br#"{"text":"hi"}"#.to_vec()).await,
            415,
            "content-type",
        ),
        (
            "malformed JSON",
            raw(&s, "/v1/messages", json_ct, br#"{"text": "hi""#.to_vec()).await,
            400,
            "body",
        ),
        (
            "trailing garbage",
            raw(&s, "/v1/messages", json_ct, br#"{"text": "hi"} x"#.to_vec()).await,
            400,
            "body",
        ),
        (
            "invalid UTF-8",
            raw(
                &s,
                "/v1/messages",
                json_ct,
                b"{\"text\": \"caf\xe9\"}".to_vec(),
            )
            .await,
            400,
            "body",
        ),
        (
            "missing text",
            s.post("/v1/messages", Some(CLIENT), &json!({"session": "a"}))
                .await,
            422,
            "text",
        ),
        (
            "text not a string",
            s.post("/v1/messages", Some(CLIENT), &json!({"text": 5}))
                .await,
            422,
            "text",
        ),
        (
            "empty text",
            s.post("/v1/messages", Some(CLIENT), &json!({"text": ""}))
                .await,
            422,
            "text",
        ),
        (
            "whitespace text",
            s.post("/v1/messages", Some(CLIENT), &json!({"text": " \n\t "}))
                .await,
            422,
            "text",
        ),
        (
            "text too long",
            s.post(
                "/v1/messages",
                Some(CLIENT),
                &json!({"text": "a".repeat(2001)}),
            )
            .await,
            422,
            "text",
        ),
        (
            "unknown field",
            s.post(
                "/v1/messages",
                Some(CLIENT),
                &json!({"text": "hi", "sesion": "a"}),
            )
            .await,
            422,
            "sesion",
        ),
        (
            "body not an object",
            s.post("/v1/messages", Some(CLIENT), &json!(["hi"])).await,
            422,
            "body",
        ),
        (
            "body over 64 KiB",
            raw(
                &s,
                "/v1/messages",
                json_ct,
                format!("{{\"text\": \"{}\"}}", "a".repeat(70_000)).into_bytes(),
            )
            .await,
            413,
            "body",
        ),
        (
            "unknown message id",
            s.post(
                "/v1/messages/999999/feedback",
                Some(CLIENT),
                &json!({"resolved": true}),
            )
            .await,
            404,
            "id",
        ),
        (
            "message id not a number",
            s.post(
                "/v1/messages/abc/feedback",
                Some(CLIENT),
                &json!({"resolved": true}),
            )
            .await,
            400,
            "id",
        ),
        (
            "feedback without resolved",
            s.post("/v1/messages/1/feedback", Some(CLIENT), &json!({}))
                .await,
            422,
            "resolved",
        ),
        (
            "unknown route",
            s.get("/v1/nothing", Some(CLIENT)).await,
            404,
            "path",
        ),
        (
            "duplicate intent",
            s.post(
                "/v1/intents",
                Some(ADMIN),
                &json!({"name": "top_up", "answer": "a", "examples": ["b"]}),
            )
            .await,
            409,
            "name",
        ),
        (
            "intent without examples",
            s.post(
                "/v1/intents",
                Some(ADMIN),
                &json!({"name": "new_one", "answer": "a", "examples": []}),
            )
            .await,
            422,
            "examples",
        ),
        (
            "blank example",
            s.post(
                "/v1/intents",
                Some(ADMIN),
                &json!({"name": "new_one", "answer": "a", "examples": ["ok", " "]}),
            )
            .await,
            422,
            "examples[1]",
        ),
        (
            "bad intent name",
            s.post(
                "/v1/intents",
                Some(ADMIN),
                &json!({"name": "has space", "answer": "a", "examples": ["b"]}),
            )
            .await,
            422,
            "name",
        ),
        (
            "reserved intent name",
            s.post(
                "/v1/intents",
                Some(ADMIN),
                &json!({"name": "out_of_scope", "answer": "a", "examples": ["b"]}),
            )
            .await,
            422,
            "name",
        ),
        (
            "empty answer",
            s.post(
                "/v1/intents",
                Some(ADMIN),
                &json!({"name": "new_one", "answer": "", "examples": ["b"]}),
            )
            .await,
            422,
            "answer",
        ),
        (
            "unknown intent",
            s.put("/v1/intents/nope", Some(ADMIN), &json!({"active": false}))
                .await,
            404,
            "name",
        ),
        (
            "empty update",
            s.put("/v1/intents/top_up", Some(ADMIN), &json!({})).await,
            422,
            "body",
        ),
        (
            "active not a bool",
            s.put("/v1/intents/top_up", Some(ADMIN), &json!({"active": "no"}))
                .await,
            422,
            "active",
        ),
    ];
    for (what, (status, body), want, field) in &cases {
        assert_eq!(status, want, "{what}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {body}"
        );
        assert_eq!(body["field"], *field, "{what}: {body}");
        assert_eq!(body["status"], *want, "{what}: {body}");
    }
    // Feedback: an unknown or retired correct intent, then a second feedback on one message.
    let r = s.ask("where is my card").await;
    let path = format!("/v1/messages/{}/feedback", r["id"]);
    let (st, body) = s
        .post(
            &path,
            Some(CLIENT),
            &json!({"resolved": false, "correct_intent": "nope"}),
        )
        .await;
    assert_eq!(
        (st, &body["field"]),
        (422, &json!("correct_intent")),
        "{body}"
    );
    let (st, _) = s
        .put("/v1/intents/top_up", Some(ADMIN), &json!({"active": false}))
        .await;
    assert_eq!(st, 200);
    let (st, body) = s
        .post(
            &path,
            Some(CLIENT),
            &json!({"resolved": false, "correct_intent": "top_up"}),
        )
        .await;
    assert_eq!(
        (st, &body["field"]),
        (422, &json!("correct_intent")),
        "{body}"
    );
    let (st, _) = s
        .post(&path, Some(CLIENT), &json!({"resolved": true}))
        .await;
    assert_eq!(st, 200);
    let (st, body) = s
        .post(&path, Some(CLIENT), &json!({"resolved": true}))
        .await;
    assert_eq!((st, &body["field"]), (409, &json!("id")), "{body}");
    // Nothing above was stored as a message but the one good request.
    let (_, stats) = s.get("/v1/stats", Some(ADMIN)).await;
    assert_eq!(stats["messages"], 1);
    assert_eq!(stats["feedback"], 1);
    s.stop().await;
}
