//! The labelled examples the agent keeps in memory for its consolidations and prototypes.
//!
//! Examples an operator gave (the bootstrap's data, intents created through the API) are all
//! kept: they grow only with what the operator does. Examples learnt from feedback grow with
//! traffic, so each intent keeps at most `consolidation.max_feedback_examples_per_intent` of
//! them in memory: all while there are fewer, then a uniform random sample of that size. Every
//! example stays in the store; only memory stops growing.
//!
//! The sample is a bottom-k sample: each feedback example gets a rank, a hash of its id and the
//! seed, and an intent keeps the `k` with the smallest ranks among all it ever had. That set
//! depends on the examples alone, not on the order they arrived in nor on when the process
//! restarted, so the live process, a restart and a replica keep the same ones; and since the
//! ranks are independent uniform draws, it is a uniform sample without replacement (reservoir
//! sampling with the hash as the random priority).
//!
//! Only kept examples join the served prototypes as they arrive. One the sample lets go of
//! later stays in them until the next accepted consolidation or a restart rebuilds them from
//! the sample (a running mean cannot drop an example exactly).

use std::collections::{BinaryHeap, HashMap, HashSet};

use autodidact_core::rng::Seed;

use crate::config::ConsolidationConfig;
use crate::service::Cached;

/// A kept feedback example's place in its intent's sample (smaller ranks stay).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    hash: u64,
    id: i64,
}

/// The examples kept in memory, with how many each intent has in all.
pub(crate) struct ExampleSample {
    /// Most feedback examples kept per intent.
    cap: usize,
    /// Seed of the ranks.
    seed: Seed,
    /// The kept examples, in the order they were offered (id order on one process).
    rows: Vec<Cached>,
    /// Per intent, the ranks of its kept feedback examples (largest on top).
    kept: HashMap<String, BinaryHeap<Rank>>,
    /// Per intent, the labelled examples offered in all (kept or not).
    seen: HashMap<String, usize>,
    /// The largest id offered.
    newest: i64,
}

impl ExampleSample {
    /// An empty sample keeping at most `cap` feedback examples per intent, ranked by `seed`.
    pub(crate) fn new(cap: usize, seed: u64) -> Self {
        ExampleSample {
            cap,
            seed: Seed(seed).derive("example sample"),
            rows: Vec::new(),
            kept: HashMap::new(),
            seen: HashMap::new(),
            newest: 0,
        }
    }

    /// The sample of `rows` (taken in id order).
    pub(crate) fn of(cap: usize, seed: u64, mut rows: Vec<Cached>) -> Self {
        rows.sort_by_key(|r| r.id);
        let mut s = Self::new(cap, seed);
        s.offer(rows);
        s
    }

    /// The sample of `rows` that `consolidation` asks for.
    pub(crate) fn configured(consolidation: &ConsolidationConfig, rows: Vec<Cached>) -> Self {
        Self::of(
            consolidation.max_feedback_examples_per_intent,
            consolidation.seed,
            rows,
        )
    }

    fn rank(&self, id: i64) -> Rank {
        Rank {
            hash: self.seed.index(id as u64).0,
            id,
        }
    }

    /// Offers new examples; returns, for each, whether it is kept. A kept feedback example
    /// may push out one of its intent's kept feedback examples (the one ranked last).
    pub(crate) fn offer(&mut self, rows: Vec<Cached>) -> Vec<bool> {
        let mut out = Vec::with_capacity(rows.len());
        let mut dropped = HashSet::new();
        for r in rows {
            self.newest = self.newest.max(r.id);
            *self.seen.entry(r.intent.clone()).or_default() += 1;
            let keep = r.trusted || {
                let rank = self.rank(r.id);
                let heap = self.kept.entry(r.intent.clone()).or_default();
                if heap.len() < self.cap {
                    heap.push(rank);
                    true
                } else if heap.peek().is_some_and(|last| rank < *last) {
                    if let Some(last) = heap.pop() {
                        dropped.insert(last.id);
                    }
                    heap.push(rank);
                    true
                } else {
                    false
                }
            };
            if keep {
                self.rows.push(r);
            }
            out.push(keep);
        }
        if !dropped.is_empty() {
            self.rows.retain(|r| !dropped.contains(&r.id));
        }
        out
    }

    /// The kept examples.
    pub(crate) fn rows(&self) -> &[Cached] {
        &self.rows
    }

    /// Labelled examples `intent` has in all (kept in memory or only stored).
    pub(crate) fn seen(&self, intent: &str) -> usize {
        self.seen.get(intent).copied().unwrap_or(0)
    }

    /// The largest example id offered (0 before any).
    pub(crate) fn newest(&self) -> i64 {
        self.newest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Features;

    fn row(id: i64, intent: &str, trusted: bool) -> Cached {
        Cached {
            id,
            intent: intent.to_string(),
            trusted,
            x: Features::Dense(vec![id as f32].into()),
        }
    }

    fn ids(s: &ExampleSample) -> Vec<i64> {
        let mut v: Vec<i64> = s.rows().iter().map(|r| r.id).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn operator_examples_are_all_kept_and_feedback_ones_are_capped_per_intent() {
        let mut s = ExampleSample::new(3, 7);
        let mut rows: Vec<Cached> = (1..=5).map(|i| row(i, "a", true)).collect();
        rows.extend((6..=50).map(|i| row(i, if i % 2 == 0 { "a" } else { "b" }, false)));
        let kept = s.offer(rows);
        assert_eq!(kept.len(), 50);
        let a = s.rows().iter().filter(|r| r.intent == "a").count();
        let b = s.rows().iter().filter(|r| r.intent == "b").count();
        assert_eq!((a, b), (5 + 3, 3));
        assert!((1..=5).all(|i| ids(&s).contains(&i)));
        assert_eq!((s.seen("a"), s.seen("b"), s.seen("c")), (5 + 23, 22, 0));
        assert_eq!(s.newest(), 50);
    }

    #[test]
    fn the_kept_set_does_not_depend_on_arrival_order_or_batching() {
        let all: Vec<Cached> = (1..=400).map(|i| row(i, "a", false)).collect();
        let whole = ExampleSample::of(20, 3, all.clone());
        let mut one_by_one = ExampleSample::new(20, 3);
        for r in all.iter().rev().cloned() {
            one_by_one.offer(vec![r]);
        }
        let mut halves = ExampleSample::new(20, 3);
        halves.offer(all[..123].to_vec());
        halves.offer(all[123..].to_vec());
        assert_eq!(ids(&whole), ids(&one_by_one));
        assert_eq!(ids(&whole), ids(&halves));
        assert_eq!(ids(&whole).len(), 20);
        // Another seed draws another sample.
        assert_ne!(ids(&whole), ids(&ExampleSample::of(20, 4, all)));
    }

    #[test]
    fn later_examples_enter_the_sample_at_the_rate_of_a_uniform_draw() {
        // With k kept of n seen, the n+1-th enters with probability k / (n + 1): over many
        // seeds, the examples 901..=1000 should hold about a tenth of a 50-example sample.
        let mut late = 0usize;
        let seeds = 200;
        for seed in 0..seeds {
            let s = ExampleSample::of(50, seed, (1..=1000).map(|i| row(i, "a", false)).collect());
            late += s.rows().iter().filter(|r| r.id > 900).count();
        }
        let mean = late as f64 / seeds as f64;
        // Hypergeometric: mean 5, sd about 2.1 per seed, so about 0.15 for the mean of 200.
        assert!((mean - 5.0).abs() < 0.6, "mean late examples kept {mean}");
    }
}
