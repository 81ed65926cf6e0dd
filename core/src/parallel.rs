//! Data parallelism whose results do not depend on the number of threads.
//!
//! Work is cut into pieces fixed by the data alone ([`chunks`]), never by the thread count;
//! the pieces run on a worker pool ([`pool`]) and come back in their own order
//! ([`ordered_map`]), so the caller combines them in one fixed order. One thread, two or
//! sixteen: the same pieces, the same sums, the same bits.

use std::ops::Range;

use rayon::prelude::*;
/// The pool type, re-exported so callers need no `rayon` dependency of their own.
pub use rayon::ThreadPool;

use crate::error::{CoreError, Result};

/// A pool of `threads` worker threads (at least one).
pub fn pool(threads: usize) -> Result<ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| CoreError::Config {
            key: "threads".into(),
            reason: format!("cannot start {threads} worker threads: {e}"),
        })
}

/// The worker count a `threads` setting asks for: itself, or every core this process may
/// use when it is 0 (every family's default).
pub fn worker_threads(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// A pool for `threads` threads (0: every core), or `None` for one thread (the work then runs
/// on the calling thread, with no hand-over).
pub fn pool_for(threads: usize) -> Result<Option<ThreadPool>> {
    let threads = worker_threads(threads);
    if threads > 1 {
        pool(threads).map(Some)
    } else {
        Ok(None)
    }
}

/// Runs `f` on one of `pool`'s threads when there is a pool, else on the calling thread.
///
/// A training step run this way can use every worker: what it calls finds the pool (large
/// products split their rows across it, [`ordered_map`] runs its items on it) instead of
/// running on a thread outside any pool.
pub fn install<R, F>(pool: Option<&ThreadPool>, f: F) -> R
where
    R: Send,
    F: FnOnce() -> R + Send,
{
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

/// `f` of every item, results in the items' order: on `pool`'s threads when there is one,
/// else one after another on the calling thread.
pub fn ordered_map<I, R, F>(pool: Option<&ThreadPool>, items: &[I], f: F) -> Vec<R>
where
    I: Sync,
    R: Send,
    F: Fn(&I) -> R + Sync + Send,
{
    match pool {
        // An indexed parallel iterator collects into a `Vec` in index order, whichever
        // thread finished first.
        Some(p) if items.len() > 1 => p.install(|| items.par_iter().map(&f).collect()),
        _ => items.iter().map(f).collect(),
    }
}

/// `0..len` cut into the fewest contiguous ranges of at most `max_len` items each, their
/// lengths differing by at most one (one empty range when `len` is 0).
///
/// The cut depends on `len` and `max_len` only, which is what makes a sum of per-range
/// results independent of the thread count.
pub fn chunks(len: usize, max_len: usize) -> Vec<Range<usize>> {
    let k = len.div_ceil(max_len.max(1)).max(1);
    (0..k).map(|i| i * len / k..(i + 1) * len / k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_range_in_balanced_pieces() {
        assert_eq!(chunks(0, 4), vec![0..0]);
        assert_eq!(chunks(3, 4), vec![0..3]);
        assert_eq!(chunks(8, 4), vec![0..4, 4..8]);
        assert_eq!(chunks(9, 4), vec![0..3, 3..6, 6..9]);
        assert_eq!(chunks(5, 0), chunks(5, 1));
        for len in 0..50 {
            for max_len in 1..12 {
                let c = chunks(len, max_len);
                assert_eq!(c.first().map(|r| r.start), Some(0));
                assert_eq!(c.last().map(|r| r.end), Some(len));
                assert!(c.windows(2).all(|w| w[0].end == w[1].start));
                assert!(c.iter().all(|r| r.len() <= max_len));
                let (lo, hi) = c.iter().fold((usize::MAX, 0), |(lo, hi), r| {
                    (lo.min(r.len()), hi.max(r.len()))
                });
                assert!(hi - lo <= 1, "{len} / {max_len}: {c:?}");
            }
        }
    }

    #[test]
    fn ordered_map_keeps_the_order_and_the_bits_whatever_the_threads() -> Result<()> {
        let items: Vec<Range<usize>> = chunks(10_000, 97);
        let sum = |r: &Range<usize>| r.clone().map(|i| (i as f32 * 0.37).sin()).sum::<f32>();
        let one = ordered_map(None, &items, sum);
        for threads in [1, 2, 3] {
            let p = pool(threads)?;
            assert_eq!(p.current_num_threads(), threads);
            let many = ordered_map(Some(&p), &items, sum);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&one), bits(&many));
        }
        assert!(pool_for(1)?.is_none());
        assert!(worker_threads(0) >= 1);
        assert_eq!(worker_threads(3), 3);
        assert_eq!(pool_for(2)?.map(|p| p.current_num_threads()), Some(2));
        let p = pool(2)?;
        assert!(install(Some(&p), rayon::current_thread_index).is_some());
        assert_eq!(install(None, || 7), 7);
        Ok(())
    }
}
