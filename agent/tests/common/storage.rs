//! The storage tests both backends pass: the same calls and the same answers on a SQLite file
//! and on a PostgreSQL database.

use autodidact_agent::store::{FeedbackRecord, MessageRow, ModelRecord, Store};
use autodidact_agent::AgentError;

pub fn message(intent: &str, action: &str) -> MessageRow {
    MessageRow {
        id: 0,
        session: "s".into(),
        text: format!("a text about {intent}"),
        intent: intent.into(),
        confidence: 0.9,
        ood_score: 0.5,
        action: action.into(),
        context: "[1.0,0.9,0.5,0.5,0.5]".into(),
        model_version: 1,
    }
}

pub fn feedback(id: i64, resolved: bool, correct: Option<&str>, reward: f64) -> FeedbackRecord {
    FeedbackRecord {
        message_id: id,
        resolved,
        correct_intent: correct.map(str::to_string),
        reward,
        example: correct.map(|c| {
            (
                c.to_string(),
                "corrected text".to_string(),
                vec![0, 0, 128, 63],
            )
        }),
        bandit_state: format!("{{\"after\":{id}}}"),
    }
}

/// Transactions, conflicts, model versions and the stats aggregates, on an empty store.
pub async fn transactions_conflicts_and_stats<S: Store>(store: &S) {
    assert!(store.served_model().await.unwrap().is_none());
    let model = ModelRecord {
        version: 1,
        blob: b"{}".to_vec(),
        metrics: "{}".into(),
        status: "accepted".into(),
        reason: None,
    };
    let f = |v: f32| v.to_le_bytes().to_vec();
    let ids = store
        .bootstrap(
            &[("a".into(), "A".into()), ("b".into(), "B".into())],
            &[
                ("a".into(), "a1".into(), f(1.0)),
                ("b".into(), "b1".into(), f(2.0)),
            ],
            &model,
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(store.served_model().await.unwrap(), Some(model.clone()));
    let ids = store
        .create_intent("c", "C", &[("c1".into(), f(3.0)), ("c2".into(), f(4.0))])
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    let stored = store.examples().await.unwrap();
    assert_eq!(stored[3].features.as_deref(), Some(&f(4.0)[..]));
    store.set_features(&[(ids[1], f(5.0))]).await.unwrap();
    assert_eq!(
        store.examples().await.unwrap()[3].features.as_deref(),
        Some(&f(5.0)[..])
    );

    // Model versions: a refused candidate is kept but not served; a rollback serves an old
    // one; an unknown version is not found.
    let refused = ModelRecord {
        status: "refused".into(),
        reason: Some("worse".into()),
        ..model.clone()
    };
    assert_eq!(store.insert_model(&refused).await.unwrap(), 2);
    assert_eq!(store.served_model().await.unwrap().unwrap().version, 1);
    assert_eq!(store.insert_model(&model).await.unwrap(), 3);
    assert_eq!(store.served_model().await.unwrap().unwrap().version, 3);
    store.set_served(1).await.unwrap();
    assert_eq!(store.served_model().await.unwrap().unwrap().version, 1);
    match store.set_served(42).await {
        Err(AgentError::NotFound { field, .. }) => assert_eq!(field, "version"),
        other => panic!("{other:?}"),
    }
    let events: Vec<String> = store
        .model_events()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(events, ["bootstrap", "refused", "accepted", "rollback"]);
    let versions = store.models().await.unwrap();
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[1].reason.as_deref(), Some("worse"));

    match store
        .create_intent("c", "C again", &[("c3".into(), f(6.0))])
        .await
    {
        Err(AgentError::Conflict { field, .. }) => assert_eq!(field, "name"),
        other => panic!("{other:?}"),
    }
    // The refused intent left no example behind (one transaction).
    assert_eq!(store.examples().await.unwrap().len(), 4);
    match store.update_intent("zz", None, Some(false)).await {
        Err(AgentError::NotFound { field, .. }) => assert_eq!(field, "name"),
        other => panic!("{other:?}"),
    }
    let c = store.update_intent("c", None, Some(false)).await.unwrap();
    assert_eq!((c.answer.as_str(), c.active), ("C", false));

    // Four messages: answered a (right), answered a (wrong, corrected to b), clarify b
    // (resolved), handoff.
    let m1 = store.insert_message(&message("a", "answer")).await.unwrap();
    let m2 = store.insert_message(&message("a", "answer")).await.unwrap();
    let m3 = store
        .insert_message(&message("b", "clarify"))
        .await
        .unwrap();
    let _m4 = store
        .insert_message(&message("b", "handoff"))
        .await
        .unwrap();
    assert_eq!(store.message(m2).await.unwrap().unwrap().intent, "a");
    assert!(store.message(9999).await.unwrap().is_none());
    assert_eq!(
        store
            .record_feedback(&feedback(m1, true, None, 1.0))
            .await
            .unwrap(),
        None
    );
    let ex = store
        .record_feedback(&feedback(m2, false, Some("b"), -1.0))
        .await
        .unwrap();
    assert!(ex.is_some());
    store
        .record_feedback(&feedback(m3, true, None, 0.5))
        .await
        .unwrap();
    // A second feedback on m2 is refused and changes nothing (example, policy state).
    match store
        .record_feedback(&feedback(m2, true, Some("a"), 9.0))
        .await
    {
        Err(AgentError::Conflict { field, .. }) => assert_eq!(field, "id"),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.examples().await.unwrap().len(), 5);
    assert_eq!(
        store.bandit_state().await.unwrap().as_deref(),
        Some(format!("{{\"after\":{m3}}}").as_str())
    );
    let outcomes: Vec<(String, bool)> = store
        .outcomes()
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.predicted, o.correct))
        .collect();
    assert_eq!(
        outcomes,
        [("a".into(), true), ("a".into(), false), ("b".into(), true)]
    );
    let s = store.stats().await.unwrap();
    assert_eq!((s.messages, s.feedback), (4, 3));
    assert_eq!(s.accuracy.all, Some(2.0 / 3.0));
    assert_eq!(s.accuracy.last_100, Some(2.0 / 3.0));
    assert_eq!(s.handoff_rate.all, Some(0.25));
    assert_eq!(s.mean_reward.all, Some(0.5 / 3.0));
    assert_eq!(s.per_intent.len(), 2);
    assert_eq!(
        (s.per_intent[0].feedback, s.per_intent[0].accuracy),
        (2, 0.5)
    );
    assert_eq!(
        s.actions,
        [
            ("answer".into(), 2),
            ("clarify".into(), 1),
            ("handoff".into(), 1)
        ]
    );

    // What replicas follow each other with: the served version, the rows after a key.
    assert_eq!(store.served_version().await.unwrap(), Some(1));
    let examples = store.examples().await.unwrap();
    let after = store.examples_after(examples[2].id).await.unwrap();
    assert_eq!(after, examples[3..].to_vec());
    let entries = store.feedback_after(0).await.unwrap();
    let seen: Vec<(i64, &str, bool)> = entries
        .iter()
        .map(|e| (e.message_id, e.action.as_str(), e.correct))
        .collect();
    assert_eq!(
        seen,
        [
            (m1, "answer", true),
            (m2, "answer", false),
            (m3, "clarify", true)
        ]
    );
    assert_eq!(entries[1].predicted, "a");
    assert_eq!(entries[2].reward, 0.5);
    assert_eq!(entries[0].context, "[1.0,0.9,0.5,0.5,0.5]");
    assert!(entries.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        store.feedback_after(entries[1].seq).await.unwrap(),
        entries[2..].to_vec()
    );

    // Leases: one holder at a time on a shared database, taken over once expired; a store
    // only one process uses always grants them.
    assert!(store.acquire_lease("work", "a", 60_000).await.unwrap());
    assert!(
        store.acquire_lease("work", "a", 60_000).await.unwrap(),
        "renewal"
    );
    assert_eq!(
        store.acquire_lease("work", "b", 60_000).await.unwrap(),
        !store.shared()
    );
    store.release_lease("work", "a").await.unwrap();
    assert!(store.acquire_lease("work", "b", 1).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert!(
        store.acquire_lease("work", "a", 60_000).await.unwrap(),
        "expired"
    );
    store.release_lease("work", "b").await.unwrap();
    assert_eq!(
        store.acquire_lease("work", "b", 60_000).await.unwrap(),
        !store.shared(),
        "only the holder gives a lease up"
    );
    assert!(!store.is_empty().await.unwrap());
}
