//! A meter of the floating-point work done by matrix products, for benchmarks' rooflines.
//!
//! Every GEMM core runs (`matmul`, the fused Conv4 blocks, the fused MiniLM path) adds its
//! `n · k · m` multiply-adds here while the meter is on, from whichever thread it runs on.
//! Benchmarks turn it on for one untimed step to learn that step's FLOPs (two per
//! multiply-add), then off for the timed steps: while off, the cost is one relaxed load per
//! product. Element-wise work (activations, norms, optimiser updates) is not counted; in the
//! benchmarks that are compute-bound it is a few per cent of the products' FLOPs.
//!
//! ```
//! use autodidact_core::{flops, Tape};
//! use autodidact_core::ndarray::{ArrayD, IxDyn};
//!
//! let tape = Tape::<f32>::new();
//! let a = tape.constant(ArrayD::from_elem(IxDyn(&[2, 3]), 1.0));
//! let b = tape.constant(ArrayD::from_elem(IxDyn(&[3, 4]), 1.0));
//! let meter = flops::Meter::start();
//! let _c = a.matmul(b);
//! assert_eq!(meter.stop(), 2 * 3 * 4);
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

static ON: AtomicBool = AtomicBool::new(false);
static MULTIPLY_ADDS: AtomicU64 = AtomicU64::new(0);
/// One meter at a time: two overlapping meters would count each other's work.
static OWNER: Mutex<()> = Mutex::new(());

/// Adds `n · k · m` multiply-adds when the meter is on.
#[inline]
pub(crate) fn add(n: usize, k: usize, m: usize) {
    if ON.load(Ordering::Relaxed) {
        let work = (n as u64).saturating_mul(k as u64).saturating_mul(m as u64);
        MULTIPLY_ADDS.fetch_add(work, Ordering::Relaxed);
    }
}

/// A running count of the multiply-adds of every matrix product since [`Meter::start`].
#[derive(Debug)]
pub struct Meter {
    _owner: std::sync::MutexGuard<'static, ()>,
}

impl Meter {
    /// Turns the meter on from zero; waits while another meter runs.
    pub fn start() -> Meter {
        // A meter dropped during a panic leaves the lock poisoned; the count is reset anyway.
        let owner = OWNER.lock().unwrap_or_else(|p| p.into_inner());
        MULTIPLY_ADDS.store(0, Ordering::Relaxed);
        ON.store(true, Ordering::SeqCst);
        Meter { _owner: owner }
    }

    /// Turns the meter off and returns the multiply-adds counted (FLOPs are twice that).
    pub fn stop(self) -> u64 {
        ON.store(false, Ordering::SeqCst);
        MULTIPLY_ADDS.load(Ordering::SeqCst)
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        ON.store(false, Ordering::SeqCst);
    }
}
