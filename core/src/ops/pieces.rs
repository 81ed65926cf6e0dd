//! Running pieces of one kernel's work on the caller's worker pool.
//!
//! The fused kernels (Conv4 blocks, the MiniLM inference path) cut their work into pieces fixed
//! by the data's shape alone — images of a batch, rows of a matrix — and combine the pieces'
//! results in the pieces' order. Whether the pieces then run on two threads or one changes
//! the time only, never the bits. They run in parallel when the caller is a thread of a rayon
//! pool (a learner's `threads` > 1 installs one; see [`crate::parallel`]), else one after
//! another on the calling thread, which starts no threads of its own.

use rayon::prelude::*;

/// Whether the caller is a worker of a rayon pool (its pieces may then run in parallel).
pub(crate) fn on_pool() -> bool {
    rayon::current_thread_index().is_some()
}

/// `f` of every item, results in the items' order (see the module docs for where it runs).
pub(crate) fn map<I, R, F>(items: Vec<I>, f: F) -> Vec<R>
where
    I: Send,
    R: Send,
    F: Fn(I) -> R + Sync + Send,
{
    if items.len() > 1 && on_pool() {
        // An indexed parallel iterator collects in index order, whichever piece ends first.
        items.into_par_iter().map(f).collect()
    } else {
        items.into_iter().map(f).collect()
    }
}

/// `f` of every item, for its effects (pieces writing disjoint parts of one output).
pub(crate) fn for_each<I, F>(items: Vec<I>, f: F)
where
    I: Send,
    F: Fn(I) + Sync + Send,
{
    if items.len() > 1 && on_pool() {
        items.into_par_iter().for_each(f);
    } else {
        items.into_iter().for_each(f);
    }
}

/// `data` (rows of `row_len` elements) cut into the row ranges `cut` (contiguous, in order,
/// starting at row 0), each with its mutable rows; the last range may end at a short row
/// (a block of columns of a wider matrix).
pub(crate) fn split_rows<'a, T>(
    data: &'a mut [T],
    row_len: usize,
    cut: &[std::ops::Range<usize>],
) -> Vec<(std::ops::Range<usize>, &'a mut [T])> {
    let mut rest = data;
    let mut out = Vec::with_capacity(cut.len());
    for r in cut {
        let len = (r.len() * row_len).min(rest.len());
        let (piece, tail) = std::mem::take(&mut rest).split_at_mut(len);
        out.push((r.clone(), piece));
        rest = tail;
    }
    out
}
