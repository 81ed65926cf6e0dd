//! Reuse of value buffers across steps: when a tape scope ends, its nodes' buffers return to a
//! per-thread pool keyed by capacity, and the next step's ops draw from it instead of the
//! allocator. Training repeats the same shapes every step, so nearly every draw is a hit.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use ndarray::ArrayD;

use crate::float::Float;

/// A hasher for capacities: one multiply (SipHash would cost more than the allocation saved).
#[derive(Default)]
pub struct CapacityHasher(u64);

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

/// Free buffers by capacity.
#[doc(hidden)]
pub struct Pool<T> {
    free: HashMap<usize, Vec<Vec<T>>, BuildHasherDefault<CapacityHasher>>,
    held: usize,
}

/// Buffers kept per capacity; more are freed.
const PER_SIZE: usize = 256;
/// Elements kept in all (128 Mi elements: 512 MiB of f32).
const MAX_HELD: usize = 1 << 27;
/// Buffers shorter than this are left to the allocator (its small-size caches are fast).
const MIN_LEN: usize = 16;

impl<T> Pool<T> {
    pub(crate) fn new() -> Self {
        Pool {
            free: HashMap::default(),
            held: 0,
        }
    }
}

/// An empty vector with capacity for at least `len` elements, from the pool if possible.
#[inline]
pub(crate) fn take<T: Float>(len: usize) -> Vec<T> {
    if len >= MIN_LEN {
        if let Some(v) = T::with_pool(|p| {
            let v = p.free.get_mut(&len)?.pop()?;
            p.held -= v.capacity();
            Some(v)
        }) {
            return v;
        }
    }
    Vec::with_capacity(len)
}

/// Returns a buffer to the pool.
#[inline]
pub(crate) fn give<T: Float>(mut v: Vec<T>) {
    let cap = v.capacity();
    if cap < MIN_LEN {
        return;
    }
    v.clear();
    T::with_pool(|p| {
        if p.held + cap > MAX_HELD {
            return;
        }
        let list = p.free.entry(cap).or_default();
        if list.len() < PER_SIZE {
            p.held += cap;
            list.push(v);
        }
    });
}

/// Elements currently held by this thread's pool for `T` (for tests of reuse).
pub fn held<T: Float>() -> usize {
    T::with_pool(|p| p.held)
}

/// Returns an array's buffer to the pool.
#[inline]
pub(crate) fn recycle<T: Float>(a: ArrayD<T>) {
    let (v, _) = a.into_raw_vec_and_offset();
    give(v);
}

/// `f` applied element-wise into a pooled buffer (standard layout out).
#[inline]
pub(crate) fn map_array<T: Float>(a: &ArrayD<T>, f: impl Fn(T) -> T) -> ArrayD<T> {
    let mut out = take::<T>(a.len());
    match a.as_slice() {
        Some(s) => out.extend(s.iter().map(|&x| f(x))),
        None => out.extend(a.iter().map(|&x| f(x))),
    }
    crate::ops::from_vec(a.shape(), out)
}

/// A pooled array of `shape` filled with `value`.
#[inline]
pub(crate) fn filled<T: Float>(shape: &[usize], value: T) -> ArrayD<T> {
    let n = shape.iter().product();
    let mut out = take::<T>(n);
    out.resize(n, value);
    crate::ops::from_vec(shape, out)
}
