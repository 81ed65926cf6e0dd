//! Reuse of value buffers across steps: when a tape scope ends, its nodes' buffers return to a
//! per-thread pool keyed by capacity, and the next step's ops draw from it instead of the
//! allocator. Training repeats the same shapes every step, so nearly every draw is a hit.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use ndarray::ArrayD;

use crate::float::Float;

/// A hasher for capacities: one multiply (SipHash would cost more than the allocation saved).
#[derive(Default)]
pub(crate) struct CapacityHasher(u64);

impl Hasher for CapacityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Free buffers of one length: whole arrays (reused as they are when the shape matches, which
/// skips building an array) and bare vectors.
struct Bucket<T> {
    arrays: Vec<ArrayD<T>>,
    vecs: Vec<Vec<T>>,
}

impl<T> Default for Bucket<T> {
    fn default() -> Self {
        Bucket {
            arrays: Vec::new(),
            vecs: Vec::new(),
        }
    }
}

/// Free buffers by length: short lengths index a vector directly, longer ones a hash map.
/// `pub` (in a private module) only because `Float::with_pool` names it.
#[doc(hidden)]
pub struct Pool<T> {
    short: Vec<Bucket<T>>,
    free: HashMap<usize, Bucket<T>, BuildHasherDefault<CapacityHasher>>,
    held: usize,
}

/// Lengths below this have a directly indexed bucket (the values of small networks).
const SHORT: usize = 4096;

/// Arrays (or vectors) kept per length; more are freed. One MAML meta-batch makes thousands of
/// same-shaped values before its tape drops, so the cap is high; `MAX_HELD` bounds the memory.
const PER_SIZE: usize = 1 << 14;
/// Elements kept in all (128 Mi elements: 512 MiB of f32).
const MAX_HELD: usize = 1 << 27;
/// Arrays of a bucket searched (from the most recent) for one of the wanted shape.
const SHAPE_SCAN: usize = 8;

impl<T> Pool<T> {
    pub(crate) fn new() -> Self {
        Pool {
            short: Vec::new(),
            free: HashMap::default(),
            held: 0,
        }
    }

    /// The bucket of `len`, if one was ever made.
    #[inline]
    fn get(&mut self, len: usize) -> Option<&mut Bucket<T>> {
        if len < SHORT {
            self.short.get_mut(len)
        } else {
            self.free.get_mut(&len)
        }
    }

    /// The bucket of `len`, made if needed.
    #[inline]
    fn entry(&mut self, len: usize) -> &mut Bucket<T> {
        if len < SHORT {
            if self.short.len() <= len {
                self.short.resize_with(len + 1, Bucket::default);
            }
            &mut self.short[len]
        } else {
            self.free.entry(len).or_default()
        }
    }
}

/// A buffer from bucket `len` (capacity at least `len`), its old contents kept.
#[inline]
fn pop<T: Float>(len: usize) -> Option<Vec<T>> {
    if len == 0 {
        return None;
    }
    T::with_pool(|p| {
        let b = p.get(len)?;
        let v = match b.vecs.pop() {
            Some(v) => v,
            None => b.arrays.pop()?.into_raw_vec_and_offset().0,
        };
        p.held -= len;
        Some(v)
    })
}

/// An empty vector with capacity for at least `len` elements, from the pool if possible.
#[inline]
pub(crate) fn take<T: Float>(len: usize) -> Vec<T> {
    match pop::<T>(len) {
        Some(mut v) => {
            v.clear();
            v
        }
        None => Vec::with_capacity(len),
    }
}

/// A vector of `len` elements from the pool, holding whatever its last user left there: for
/// scratch that the caller overwrites before reading (no clearing pass over many MB).
pub(crate) fn scratch_vec<T: Float>(len: usize) -> Vec<T> {
    match pop::<T>(len) {
        Some(mut v) => {
            v.resize(len, T::zero());
            v
        }
        None => vec![T::zero(); len],
    }
}

/// Returns a buffer to the pool (keyed by its capacity). Its contents stay: [`take`] clears,
/// and [`scratch_vec`] hands them out as scratch.
#[inline]
pub(crate) fn give<T: Float>(v: Vec<T>) {
    let cap = v.capacity();
    if cap == 0 {
        return;
    }
    T::with_pool(|p| {
        if p.held + cap > MAX_HELD {
            return;
        }
        let b = p.entry(cap);
        if b.vecs.len() < PER_SIZE {
            b.vecs.push(v);
            p.held += cap;
        }
    });
}

/// A vector of `len` zeros whose buffer comes from this thread's pool when one of that length is
/// free (the values of tape scopes that have ended go back there). For hand-fused ops that build
/// large outputs: a reused buffer is only cleared, where a fresh one of many MB is faulted in
/// page by page on every call.
pub(crate) fn zeroed<T: Float>(len: usize) -> Vec<T> {
    let mut v = take::<T>(len);
    v.resize(len, T::zero());
    v
}

/// Returns an array's buffer to the pool; a standard-layout array is kept whole, so the next
/// value of its shape reuses it without building an array.
#[inline]
pub(crate) fn recycle<T: Float>(a: ArrayD<T>) {
    let len = a.len();
    if len == 0 || !a.is_standard_layout() {
        let (v, _) = a.into_raw_vec_and_offset();
        give(v);
        return;
    }
    T::with_pool(|p| {
        if p.held + len > MAX_HELD {
            return;
        }
        let b = p.entry(len);
        if b.arrays.len() < PER_SIZE {
            b.arrays.push(a);
            p.held += len;
        }
    });
}

/// A standard-layout array of `shape` from the pool, its elements left as they were (the
/// caller overwrites every one, e.g. through [`slice_mut`]).
#[inline]
pub(crate) fn scratch<T: Float>(shape: &[usize]) -> ArrayD<T> {
    let len: usize = shape.iter().product();
    if len > 0 {
        let hit = T::with_pool(|p| {
            let b = p.get(len)?;
            let n = b.arrays.len();
            let found = (n.saturating_sub(SHAPE_SCAN)..n)
                .rev()
                .find(|&i| b.arrays[i].shape() == shape);
            let r = match found {
                Some(i) => Ok(b.arrays.swap_remove(i)),
                None => Err(match b.vecs.pop() {
                    Some(v) => v,
                    None => b.arrays.pop()?.into_raw_vec_and_offset().0,
                }),
            };
            p.held -= len;
            Some(r)
        });
        match hit {
            Some(Ok(a)) => return a,
            Some(Err(mut v)) => {
                v.clear();
                v.resize(len, T::zero());
                return crate::ops::from_vec(shape, v);
            }
            None => {}
        }
    }
    crate::ops::from_vec(shape, vec![T::zero(); len])
}

/// The elements of a standard-layout array, in order, for writing.
#[inline]
pub(crate) fn slice_mut<T: Float>(a: &mut ArrayD<T>) -> &mut [T] {
    match a.as_slice_mut() {
        Some(s) => s,
        None => panic!("autodidact internal error: scratch array is not in standard layout"),
    }
}

/// `f` applied element-wise into a pooled array (standard layout out); a contiguous input in a
/// loop compiled for the CPU's widest vectors (the same bits, see `ops::wide`).
#[inline]
pub(crate) fn map_array<T: Float>(a: &ArrayD<T>, f: impl Fn(T) -> T) -> ArrayD<T> {
    let mut out = scratch::<T>(a.shape());
    let o = slice_mut(&mut out);
    match a.as_slice() {
        Some(s) => crate::ops::wide::map(s, o, f),
        None => {
            for (o, &x) in o.iter_mut().zip(a.iter()) {
                *o = f(x);
            }
        }
    }
    out
}

/// A pooled array of `shape` filled with `value`.
#[inline]
pub(crate) fn filled<T: Float>(shape: &[usize], value: T) -> ArrayD<T> {
    let mut out = scratch::<T>(shape);
    slice_mut(&mut out).fill(value);
    out
}

#[cfg(test)]
mod tests {
    use crate::tape::{CreateGraph, Tape, Var};
    use crate::Float;

    /// Elements currently held by this thread's pool for `T`.
    fn held<T: Float>() -> usize {
        T::with_pool(|p| p.held)
    }

    #[test]
    fn value_buffers_return_to_the_pool_and_are_reused() {
        let step = || {
            let t = Tape::<f64>::new();
            let x = t.param(&ndarray::Array2::<f64>::ones((8, 8)).into_dyn());
            let y = (x.matmul(x).tanh() * 3.0).sum();
            let _ = t.grad(&y, &[x], CreateGraph::No);
            // A second-order step too (MAML's pattern), scalars and broadcasts included.
            let g = t.grad(&y, &[x], CreateGraph::Yes)[0];
            let z = (x - g * 0.1).relu().mean() + Var::scalar(1.0);
            let _ = t.grad(&z, &[x], CreateGraph::No);
        };
        step();
        assert!(held::<f64>() > 0, "a finished step returns its buffers");
        step();
        let steady = held::<f64>();
        for _ in 0..5 {
            step();
            // Later steps draw their buffers from the pool and give them back: no growth.
            assert_eq!(held::<f64>(), steady);
        }
    }

    #[test]
    fn scratch_vectors_come_back_with_their_length() {
        let v = super::scratch_vec::<f32>(1000);
        assert_eq!(v.len(), 1000);
        let before = held::<f32>();
        super::give(v);
        assert_eq!(held::<f32>(), before + 1000);
        let again = super::scratch_vec::<f32>(1000);
        assert_eq!((again.len(), held::<f32>()), (1000, before));
    }
}
