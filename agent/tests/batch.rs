//! Batching concurrent messages into one encoder pass changes no prediction: N concurrent
//! messages get exactly the replies the same messages get one at a time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;

use autodidact_agent::featurizer::FeaturizerSpec;
use autodidact_agent::{Agent, AgentConfig, MessageReply};
use common::{config, TempDir, INTENTS};

/// Probe texts: the fixture's own texts and variations of them.
fn texts() -> Vec<String> {
    let mut out = Vec::new();
    for (_, examples) in INTENTS {
        for e in examples {
            out.push(e.to_string());
            out.push(format!("hello, {e} please"));
        }
    }
    out.push("something about nothing at all".into());
    out
}

/// Replies without their ids (which depend on arrival order).
fn comparable(r: &MessageReply) -> MessageReply {
    MessageReply { id: 0, ..r.clone() }
}

async fn same_replies_alone_and_together(mut cfg: AgentConfig) {
    // A long wait makes sure concurrent texts share passes.
    cfg.batch.max_wait_us = 50_000;
    cfg.consolidation.enabled = false;
    let agent = Arc::new(Agent::open(cfg).await.unwrap());
    let texts = texts();
    let mut alone = Vec::new();
    for t in &texts {
        alone.push(agent.message(t, "seq").await.unwrap());
    }
    let (p0, t0) = agent.encoder_passes();
    assert_eq!((p0, t0), (texts.len() as u64, texts.len() as u64));
    let handles: Vec<_> = texts
        .iter()
        .map(|t| {
            let (agent, t) = (Arc::clone(&agent), t.clone());
            tokio::spawn(async move { agent.message(&t, "conc").await })
        })
        .collect();
    let mut together = Vec::new();
    for h in handles {
        together.push(h.await.unwrap().unwrap());
    }
    let (p1, t1) = agent.encoder_passes();
    assert_eq!(t1 - t0, texts.len() as u64);
    assert!(
        p1 - p0 < texts.len() as u64,
        "{} passes for {} concurrent texts: nothing was batched",
        p1 - p0,
        texts.len()
    );
    for ((t, a), b) in texts.iter().zip(&alone).zip(&together) {
        assert_eq!(comparable(a), comparable(b), "{t}");
    }
    // predict() goes through the same queue.
    let p = agent.predict(&texts[0]).await.unwrap();
    assert_eq!(p.intent(), alone[0].intent);
    agent.store().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_messages_get_the_replies_of_sequential_ones_hashed() {
    let dir = TempDir::new("batch-hashed");
    same_replies_alone_and_together(config(dir.path())).await;
}

/// The same with MiniLM when the model is there (`shared/data/minilm` beside the workspace,
/// or beside a worktree's parent): padding a text with longer ones in its pass must not
/// change its embedding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_messages_get_the_replies_of_sequential_ones_minilm() {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(model) = ["../../shared/data/minilm", "../../../shared/data/minilm"]
        .iter()
        .map(|p| here.join(p))
        .find(|m| m.join("model.safetensors").is_file())
    else {
        eprintln!("skipped: no MiniLM model in shared/data/minilm");
        return;
    };
    let dir = TempDir::new("batch-minilm");
    let mut cfg = config(dir.path());
    cfg.featurizer = FeaturizerSpec::Minilm { dir: model };
    same_replies_alone_and_together(cfg).await;
}
