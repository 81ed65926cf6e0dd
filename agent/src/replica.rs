//! Several agent processes (replicas) on one PostgreSQL database: following the rows the
//! others append ([`Tail`]) and the consolidation lease ([`Lease`]).
//!
//! Why a lease row rather than PostgreSQL's advisory locks: a session-level advisory lock
//! belongs to one connection, so a consolidation would pin a pooled connection for minutes of
//! training and lose the lock silently if that connection broke (or never take it through a
//! transaction-pooling proxy such as PgBouncer); and a holder that hangs without its TCP
//! connection dropping would keep it for as long as the kernel's keepalive allows (hours by
//! default). A row `(name, holder, expires_ms)` taken and renewed by one atomic upsert on the
//! database's clock works through any pooler, shows who holds it (`SELECT * FROM leases`),
//! and bounds how long a dead or hung holder blocks the others: `consolidation.lease_seconds`.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{AgentError, Result};
use crate::store::Store;

/// How long a transaction of another replica may stay open between taking a key from a
/// sequence and committing (the agent's transactions take milliseconds). A [`Tail`] keeps
/// re-reading the rows this recent.
pub(crate) const SETTLE: Duration = Duration::from_secs(30);

/// Follows an append-only table whose keys come from a sequence, on a database other
/// processes write too. Keys are taken before commit, so a row with a smaller key may become
/// visible after one with a larger key: `upto` (every row at or below it has been read) only
/// passes the largest key seen at a read [`SETTLE`] ago, and the rows above it are read again
/// each time, those already seen skipped.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    /// Every row with a key at or below this has been read.
    pub(crate) upto: i64,
    /// Keys above `upto` already read.
    seen: HashSet<i64>,
    /// When each read happened and the largest key it saw, oldest first.
    marks: VecDeque<(Instant, i64)>,
}

impl Tail {
    /// A tail that has read every row up to `upto`.
    pub(crate) fn starting_at(upto: i64) -> Tail {
        Tail {
            upto,
            ..Tail::default()
        }
    }

    /// Notes a read at `now` of the rows with keys `keys` (all above `upto`); returns, in
    /// order, whether each is new (not seen before), and marks them seen.
    pub(crate) fn read(&mut self, keys: &[i64], now: Instant) -> Vec<bool> {
        let fresh = keys.iter().map(|k| self.seen.insert(*k)).collect();
        let largest = keys.iter().copied().max().unwrap_or(self.upto);
        self.marks.push_back((now, largest));
        while let Some(&(at, key)) = self.marks.front() {
            if now.duration_since(at) < SETTLE {
                break;
            }
            self.upto = self.upto.max(key);
            self.marks.pop_front();
        }
        let upto = self.upto;
        self.seen.retain(|k| *k > upto);
        fresh
    }
}

/// Who this process is, in lease rows: host, process id and a random part (a restarted
/// process with a recycled pid is someone else).
pub(crate) fn holder_id() -> String {
    use rand::RngCore;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "agent".into());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::rng().next_u32()
    )
}

/// A held lease: renewed every third of its time to live while it is held, given up when
/// dropped. [`Lease::check`] says whether it was kept all along.
#[derive(Debug)]
pub(crate) struct Lease<S: Store> {
    store: S,
    name: &'static str,
    holder: String,
    ttl_ms: i64,
    lost: Arc<AtomicBool>,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

impl<S: Store> Lease<S> {
    /// Takes the lease `name` for `holder`, or fails with a conflict naming the lease when
    /// another holder has it.
    pub(crate) async fn take(
        store: &S,
        name: &'static str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Lease<S>> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        if !store.acquire_lease(name, holder, ttl_ms).await? {
            return Err(AgentError::conflict(
                name,
                format!(
                    "another replica holds the `{name}` lease (it is consolidating or rolling \
                     back); try again later"
                ),
            ));
        }
        let lost = Arc::new(AtomicBool::new(false));
        // One process on a SQLite file: nobody to renew it against.
        let renewer = store.shared().then(|| {
            let (store, holder, lost) = (store.clone(), holder.to_string(), Arc::clone(&lost));
            tokio::spawn(async move {
                let period = ttl / 3;
                loop {
                    tokio::time::sleep(period).await;
                    match store.acquire_lease(name, &holder, ttl_ms).await {
                        Ok(true) => {}
                        Ok(false) | Err(_) => {
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                    }
                }
            })
        });
        Ok(Lease {
            store: store.clone(),
            name,
            holder: holder.to_string(),
            ttl_ms,
            lost,
            renewer,
        })
    }

    /// Renews the lease once more and fails when it was lost meanwhile (a renewal failed, or
    /// it expired and another replica took it): what it guards must then not be written.
    pub(crate) async fn check(&self) -> Result<()> {
        let kept = !self.lost.load(Ordering::SeqCst)
            && self
                .store
                .acquire_lease(self.name, &self.holder, self.ttl_ms)
                .await?;
        if kept {
            Ok(())
        } else {
            Err(AgentError::conflict(
                self.name,
                format!(
                    "the `{}` lease was lost while working (the database was unreachable for \
                     longer than the lease lasts, or this process stalled); nothing was stored",
                    self.name
                ),
            ))
        }
    }
}

impl<S: Store> Drop for Lease<S> {
    fn drop(&mut self) {
        if let Some(r) = self.renewer.take() {
            r.abort();
        }
        if self.store.shared() {
            let (store, name, holder) = (self.store.clone(), self.name, self.holder.clone());
            // Best effort: a lease that is not given up expires.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = store.release_lease(name, &holder).await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_skips_what_it_saw_and_passes_keys_only_after_they_settle() {
        let t0 = Instant::now();
        let mut tail = Tail::starting_at(10);
        assert_eq!(tail.read(&[11, 13], t0), [true, true]);
        // 12 commits late; 11 and 13 come again and are skipped.
        assert_eq!(
            tail.read(&[11, 12, 13], t0 + Duration::from_secs(1)),
            [false, true, false]
        );
        assert_eq!(tail.upto, 10);
        // After SETTLE the keys seen at the first read are behind `upto`.
        let later = t0 + SETTLE + Duration::from_millis(1);
        assert_eq!(tail.read(&[14], later), [true]);
        assert_eq!(tail.upto, 13);
        assert_eq!(tail.seen, HashSet::from([14]));
    }

    #[test]
    fn holders_differ() {
        assert_ne!(holder_id(), holder_id());
    }
}
