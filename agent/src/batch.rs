//! Micro-batching: the texts of concurrent messages are embedded in one featurizer call, and
//! their rows are stored in one transaction (group commit).
//!
//! Each caller puts its text on a queue and waits on a oneshot. One task takes the first
//! queued text, then everything else queued, then waits for more until `max_wait` has passed
//! since the first one was queued or `max_size` texts are taken, and embeds them in one
//! [`Featurizer::embed`] call on the blocking pool; while at most `passes` passes run, the next
//! batch waits. Every featurizer embeds each text
//! independently of the others in its call, so a reply is the one embedding alone would give.
//!
//! [`MessageWriter`] does the same for storing: every message row queued while one commit is
//! under way goes into the next transaction, so one fsync covers many messages; each caller
//! gets its id once the transaction holding its row is committed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::config::BatchConfig;
use crate::error::{AgentError, Result};
use crate::featurizer::Featurizer;
use crate::store::{MessageRow, Store};

/// Most message rows in one group commit.
const MAX_ROWS_PER_COMMIT: usize = 256;

/// One caller's text and where its features go.
struct Job {
    text: String,
    queued: Instant,
    reply: oneshot::Sender<Result<Vec<f32>>>,
}

/// Encoder passes and the texts they embedded.
#[derive(Debug, Default)]
pub(crate) struct BatchCounters {
    pub(crate) passes: AtomicU64,
    pub(crate) texts: AtomicU64,
}

/// The queue in front of the featurizer; the batching task ends when this is dropped.
#[derive(Debug)]
pub(crate) struct Batcher {
    tx: mpsc::Sender<Job>,
    pub(crate) counters: Arc<BatchCounters>,
}

impl Batcher {
    /// Starts the batching task on the current tokio runtime.
    pub(crate) fn start(featurizer: Arc<dyn Featurizer>, config: &BatchConfig) -> Batcher {
        let (tx, rx) = mpsc::channel(config.max_size.saturating_mul(64).max(64));
        let counters = Arc::new(BatchCounters::default());
        tokio::spawn(run(
            rx,
            featurizer,
            config.max_size.max(1),
            Duration::from_micros(config.max_wait_us),
            config.passes,
            Arc::clone(&counters),
        ));
        Batcher { tx, counters }
    }

    /// The features of `text`, embedded with whatever else is queued with it.
    pub(crate) async fn embed(&self, text: String) -> Result<Vec<f32>> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            text,
            queued: Instant::now(),
            reply,
        };
        self.tx
            .send(job)
            .await
            .map_err(|_| AgentError::Internal("the featurizer's batching task stopped".into()))?;
        answer.await.map_err(|_| {
            AgentError::Internal("the featurizer's batching task dropped a text".into())
        })?
    }
}

/// Embeds a batch; when the batch fails as a whole each text is tried alone, so one bad text
/// fails only its own request.
fn embed_batch(f: &dyn Featurizer, texts: &[String]) -> Vec<Result<Vec<f32>>> {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    match f.embed(&refs) {
        Ok(rows) if rows.len() == refs.len() => rows.into_iter().map(Ok).collect(),
        Ok(rows) => {
            let reason = format!(
                "the featurizer gave {} rows for {} texts",
                rows.len(),
                refs.len()
            );
            refs.iter()
                .map(|_| Err(AgentError::Internal(reason.clone())))
                .collect()
        }
        Err(e) if refs.len() == 1 => vec![Err(e)],
        Err(_) => refs
            .iter()
            .map(|t| {
                f.embed(&[t])?.pop().ok_or_else(|| {
                    AgentError::Internal("the featurizer gave no row for a text".into())
                })
            })
            .collect(),
    }
}

async fn run(
    mut rx: mpsc::Receiver<Job>,
    featurizer: Arc<dyn Featurizer>,
    max_size: usize,
    max_wait: Duration,
    passes: usize,
    counters: Arc<BatchCounters>,
) {
    let passes = Arc::new(tokio::sync::Semaphore::new(passes.max(1)));
    loop {
        // At most `passes` passes at once; texts queue up meanwhile and form the next batch.
        let Ok(permit) = Arc::clone(&passes).acquire_owned().await else {
            break;
        };
        let Some(first) = rx.recv().await else {
            break;
        };
        let deadline = first.queued + max_wait;
        let mut jobs = vec![first];
        while jobs.len() < max_size {
            // What is queued already joins at once; then wait for more until the deadline.
            match rx.try_recv() {
                Ok(job) => {
                    jobs.push(job);
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            if max_wait.is_zero() {
                break;
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(job)) => jobs.push(job),
                Ok(None) | Err(_) => break,
            }
        }
        let texts: Vec<String> = jobs
            .iter_mut()
            .map(|j| std::mem::take(&mut j.text))
            .collect();
        counters.passes.fetch_add(1, Ordering::Relaxed);
        counters
            .texts
            .fetch_add(texts.len() as u64, Ordering::Relaxed);
        let f = Arc::clone(&featurizer);
        let pass = tokio::task::spawn_blocking(move || embed_batch(&*f, &texts));
        tokio::spawn(async move {
            let results = pass.await;
            drop(permit);
            match results {
                Ok(results) => {
                    for (job, r) in jobs.into_iter().zip(results) {
                        // A caller that went away (client disconnected) needs no answer.
                        let _ = job.reply.send(r);
                    }
                }
                Err(e) => {
                    for job in jobs {
                        let _ = job
                            .reply
                            .send(Err(AgentError::Internal(format!("featurizer task: {e}"))));
                    }
                }
            }
        });
    }
}

/// A message row and where its id goes.
type RowJob = (MessageRow, oneshot::Sender<Result<i64>>);

/// The queue in front of the store's message inserts; its task ends when this is dropped.
#[derive(Debug)]
pub(crate) struct MessageWriter {
    tx: mpsc::Sender<RowJob>,
}

impl MessageWriter {
    /// Starts the writing task on the current tokio runtime, with its own handle on `store`.
    pub(crate) fn start<S: Store + Clone>(store: S) -> MessageWriter {
        let (tx, mut rx) = mpsc::channel::<RowJob>(4 * MAX_ROWS_PER_COMMIT);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                while jobs.len() < MAX_ROWS_PER_COMMIT {
                    match rx.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
                let rows: Vec<&MessageRow> = jobs.iter().map(|j| &j.0).collect();
                match store.insert_messages(&rows).await {
                    Ok(ids) if ids.len() == jobs.len() => {
                        for ((_, reply), id) in jobs.into_iter().zip(ids) {
                            let _ = reply.send(Ok(id));
                        }
                    }
                    Ok(ids) => {
                        let reason = format!("{} ids for {} messages", ids.len(), jobs.len());
                        for (_, reply) in jobs {
                            let _ = reply.send(Err(AgentError::Internal(reason.clone())));
                        }
                    }
                    Err(e) => {
                        // Every waiter gets the error.
                        for (_, reply) in jobs {
                            let _ = reply.send(Err(e.for_waiter("storing messages")));
                        }
                    }
                }
            }
        });
        MessageWriter { tx }
    }

    /// Stores `row` (with whatever else is queued, in one transaction); returns its id once
    /// committed.
    pub(crate) async fn insert(&self, row: MessageRow) -> Result<i64> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((row, reply))
            .await
            .map_err(|_| AgentError::Internal("the message writer stopped".into()))?;
        answer
            .await
            .map_err(|_| AgentError::Internal("the message writer dropped a message".into()))?
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Features `[len, first byte]`; records each call's size; fails on texts saying "bad".
    #[derive(Debug, Default)]
    struct Fake {
        calls: Mutex<Vec<usize>>,
    }

    impl Featurizer for Fake {
        fn dim(&self) -> usize {
            2
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            if let Ok(mut c) = self.calls.lock() {
                c.push(texts.len());
            }
            texts
                .iter()
                .map(|t| {
                    if t.contains("bad") {
                        Err(AgentError::invalid("text", "bad"))
                    } else {
                        Ok(vec![t.len() as f32, f32::from(t.as_bytes()[0])])
                    }
                })
                .collect()
        }
    }

    async fn send_all(b: &Arc<Batcher>, texts: &[String]) -> Vec<Result<Vec<f32>>> {
        let handles: Vec<_> = texts
            .iter()
            .map(|t| {
                let (b, t) = (Arc::clone(b), t.clone());
                tokio::spawn(async move { b.embed(t).await })
            })
            .collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(
                h.await
                    .unwrap_or_else(|e| Err(AgentError::Internal(e.to_string()))),
            );
        }
        out
    }

    #[tokio::test]
    async fn concurrent_texts_share_passes_of_at_most_max_size() {
        let fake = Arc::new(Fake::default());
        let config = BatchConfig {
            max_size: 8,
            max_wait_us: 200_000,
            passes: 2,
        };
        let b = Arc::new(Batcher::start(fake.clone(), &config));
        let texts: Vec<String> = (0..20).map(|i| format!("text {}", "x".repeat(i))).collect();
        let got = send_all(&b, &texts).await;
        for (t, r) in texts.iter().zip(&got) {
            assert_eq!(
                r.as_ref().ok(),
                Some(&vec![t.len() as f32, f32::from(b't')])
            );
        }
        let calls = fake.calls.lock().map(|c| c.clone()).unwrap_or_default();
        assert!(calls.iter().all(|&n| (1..=8).contains(&n)), "{calls:?}");
        assert_eq!(calls.iter().sum::<usize>(), 20);
        assert!(calls.len() < 20, "no batching happened: {calls:?}");
        assert_eq!(b.counters.texts.load(Ordering::Relaxed), 20);
    }

    #[tokio::test]
    async fn no_waiting_and_a_bad_text_fails_alone() {
        let fake = Arc::new(Fake::default());
        let config = BatchConfig {
            max_size: 32,
            max_wait_us: 0,
            passes: 1,
        };
        let b = Arc::new(Batcher::start(fake.clone(), &config));
        let texts: Vec<String> = ["good one", "bad one", "good two"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = send_all(&b, &texts).await;
        assert!(got[0].is_ok() && got[2].is_ok(), "{got:?}");
        assert!(
            matches!(got[1], Err(AgentError::BadRequest { .. })),
            "{got:?}"
        );
        // Alone, a text is one pass of one.
        assert_eq!(b.embed("solo".into()).await.ok(), Some(vec![4.0, 115.0]));
    }
}
