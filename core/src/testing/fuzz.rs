//! Fuzzing support: a counting global allocator and a guard that runs one parse under a memory
//! cap and a time limit, so a property can assert "no panic, no hang, no runaway allocation".
//!
//! A fuzz test binary installs the allocator, runs each property with [`run`] and wraps each
//! case's parse in [`guard`]:
//!
//! ```no_run
//! use autodidact_core::testing::fuzz::{self, CountingAllocator, Outcome};
//! use proptest::prelude::*;
//!
//! #[global_allocator]
//! static ALLOC: CountingAllocator = CountingAllocator;
//!
//! #[test]
//! fn utf8_never_panics() {
//!     let bytes = proptest::collection::vec(any::<u8>(), 0..1024);
//!     fuzz::run("utf-8", file!(), 256, bytes, |bytes| {
//!         let parsed = fuzz::guard("utf-8", move || String::from_utf8(bytes).map(drop))?;
//!         Ok(Outcome::from(&parsed))
//!     });
//! }
//! # fn main() {}
//! ```
//!
//! The memory cap is on what the parse's own thread allocates (the peak of its allocations
//! minus its frees), counted by [`CountingAllocator`]: an input of at most [`MAX_INPUT`]
//! bytes must not make a parser allocate more than [`MEMORY_CAP`]. An allocation that would
//! take a parse past [`HARD_LIMIT`] is refused outright (the process aborts with a message)
//! so a runaway parse cannot take the machine down before the property sees it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::any::Any;
use std::cell::Cell;
use std::fmt::Debug;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config as ProptestConfig, FileFailurePersistence, TestCaseError, TestError, TestRunner,
};

/// The largest input a fuzz case feeds a parser (64 KiB): big enough for every structure the
/// parsers know (maps, CSV rows, PNG chunks, zip directories, TOML tables), small enough that
/// thousands of cases fit in CI's budget.
pub const MAX_INPUT: usize = 64 << 10;

/// The most a parse may grow the bytes in use, 256 MiB. The largest legitimate need from a
/// [`MAX_INPUT`]-byte input is a PNG at the largest accepted side, 4096 x 4096 grayscale, which
/// deflate packs into about 16 KiB: decoding it grows memory by 80 MiB (a 16 MiB pixel buffer
/// and 64 MiB of luminance, measured by envs' `the_largest_accepted_png_fits_the_cap`), and
/// the Omniglot loader adds 64 MiB of ink before downscaling. Anything beyond is a parser
/// allocating what an input declares instead of what it holds.
pub const MEMORY_CAP: usize = 256 << 20;

/// An allocation that would take a guarded parse's allocations past this (1 GiB) is refused:
/// the process aborts, with a message, instead of exhausting the machine.
pub const HARD_LIMIT: usize = 1 << 30;

/// How long one guarded parse may run before it counts as a hang (60 s). It is no speed
/// assertion: a parse of [`MAX_INPUT`] bytes takes milliseconds, a few seconds at most on a
/// loaded machine, so only a parse that never ends reaches it.
pub const TIME_LIMIT: Duration = Duration::from_secs(60);

/// Stack of the thread a guarded parse runs on: the 8 MiB of a program's main thread, where the
/// command line parses its inputs.
const PARSE_STACK: usize = 8 << 20;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
/// Bytes the guarded parse's thread allocated minus those it freed (negative when it frees
/// what was allocated before, such as its input), and their peak.
static PARSE_IN_USE: AtomicIsize = AtomicIsize::new(0);
static PARSE_PEAK: AtomicIsize = AtomicIsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// Guarded parses run one at a time, so the parse counters are theirs.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

thread_local! {
    /// Whether this thread runs a guarded parse. Const-initialised and without a destructor,
    /// so the allocator may read it (reading it never allocates).
    static IN_PARSE: Cell<bool> = const { Cell::new(false) };
}

/// The system allocator, counting the bytes in use, and, on the thread of a guarded parse,
/// what that parse allocates and its peak. Install it with `#[global_allocator]` in a fuzz
/// test binary; [`guard`] refuses to run without it. Only the parse's own thread is counted
/// (the parsers fuzzed here start no threads), so other tests of the binary, generating
/// their inputs meanwhile, do not disturb the measure.
pub struct CountingAllocator;

impl CountingAllocator {
    fn grow(size: usize) -> bool {
        IN_USE.fetch_add(size, Ordering::Relaxed);
        if IN_PARSE.try_with(Cell::get).unwrap_or(false) {
            let delta = isize::try_from(size).unwrap_or(isize::MAX);
            let now = PARSE_IN_USE
                .fetch_add(delta, Ordering::Relaxed)
                .saturating_add(delta);
            if now > isize::try_from(HARD_LIMIT).unwrap_or(isize::MAX) {
                PARSE_IN_USE.fetch_sub(delta, Ordering::Relaxed);
                IN_USE.fetch_sub(size, Ordering::Relaxed);
                // Writing to stderr does not allocate (it is unbuffered).
                let _ = std::io::stderr().write_all(
                    b"fuzz guard: an allocation would take a guarded parse over the hard limit \
                      (autodidact_core::testing::fuzz::HARD_LIMIT); refusing it\n",
                );
                return false;
            }
            PARSE_PEAK.fetch_max(now, Ordering::Relaxed);
        }
        true
    }

    fn shrink(size: usize) {
        IN_USE.fetch_sub(size, Ordering::Relaxed);
        if IN_PARSE.try_with(Cell::get).unwrap_or(false) {
            PARSE_IN_USE.fetch_sub(
                isize::try_from(size).unwrap_or(isize::MAX),
                Ordering::Relaxed,
            );
        }
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe sizes, and
// a refused allocation returns null as the contract allows.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        INSTALLED.store(true, Ordering::Relaxed);
        if !Self::grow(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded from the caller.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            Self::shrink(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        INSTALLED.store(true, Ordering::Relaxed);
        if !Self::grow(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded from the caller.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            Self::shrink(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(ptr, layout) };
        Self::shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !Self::grow(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded from the caller.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            if new_size > old {
                Self::shrink(new_size - old);
            }
        } else if new_size < old {
            Self::shrink(old - new_size);
        }
        p
    }
}

/// Bytes in use now, as counted by [`CountingAllocator`].
pub fn bytes_in_use() -> usize {
    IN_USE.load(Ordering::Relaxed)
}

/// A proptest configuration running `default_cases` cases, or `PROPTEST_CASES` when that is
/// set (for longer runs); shrinking a failure stops after a minute, and a failing input is
/// kept in `tests/NAME.proptest-regressions` beside the test file, re-run first next time.
pub fn config(default_cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = default_cases;
    }
    c.max_shrink_time = 60_000;
    c.failure_persistence = Some(Box::new(FileFailurePersistence::WithSource(
        "proptest-regressions",
    )));
    c
}

/// The outcome of one guarded parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measured {
    /// The most the parse grew the bytes in use.
    pub peak_bytes: usize,
}

thread_local! {
    /// Largest growth of a guarded parse started from this thread since [`run`] began.
    static RUN_PEAK: Cell<usize> = const { Cell::new(0) };
}

/// What one fuzz case came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The parser returned a value (that the property then checked).
    Valid,
    /// The parser refused the input with an error (that the property then checked).
    Refused,
}

impl<T, E> From<&Result<T, E>> for Outcome {
    fn from(r: &Result<T, E>) -> Outcome {
        if r.is_ok() {
            Outcome::Valid
        } else {
            Outcome::Refused
        }
    }
}

/// Runs a fuzz property: `test` on [`config`]`(default_cases)` inputs drawn from `strategy`
/// (`source_file` is `file!()`, for the regression file). It prints one line of what was run
/// (cases, valid and refused, the largest growth of memory, the time), which
/// `--nocapture` shows; a failure panics with the reason and the shrunk input.
pub fn run<S>(
    name: &str,
    source_file: &'static str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<Outcome, TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let mut config = config(default_cases);
    config.source_file = Some(source_file);
    let cases = config.cases;
    let (valid, refused) = (Cell::new(0u64), Cell::new(0u64));
    RUN_PEAK.with(|p| p.set(0));
    let start = Instant::now();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |input| {
        match test(input)? {
            Outcome::Valid => valid.set(valid.get() + 1),
            Outcome::Refused => refused.set(refused.get() + 1),
        }
        Ok(())
    });
    match result {
        Ok(()) => eprintln!(
            "fuzz {name}: {cases} cases, {} valid, {} refused, largest memory growth {:.2} MiB, {:.1} s",
            valid.get(),
            refused.get(),
            RUN_PEAK.with(Cell::get) as f64 / f64::from(1u32 << 20),
            start.elapsed().as_secs_f64()
        ),
        Err(TestError::Fail(reason, input)) => {
            panic!("fuzz {name}: {reason}\nminimal failing input: {input:#?}")
        }
        Err(TestError::Abort(reason)) => panic!("fuzz {name}: aborted: {reason}"),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_string()
    }
}

/// Runs `parse` on a thread of its own with the program's main-thread stack and fails the case
/// if it panics, runs past [`TIME_LIMIT`] or grows the bytes in use past [`MEMORY_CAP`]; `what`
/// names the parser in the failure. Returns what `parse` returned.
pub fn guard<T, F>(what: &str, parse: F) -> Result<T, TestCaseError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    guard_with(what, MEMORY_CAP, TIME_LIMIT, parse).map(|(v, _)| v)
}

/// [`guard`] with a cap and a time limit of the caller's, also returning what was measured.
pub fn guard_with<T, F>(
    what: &str,
    memory_cap: usize,
    time_limit: Duration,
    parse: F,
) -> Result<(T, Measured), TestCaseError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    drop(std::hint::black_box(Box::new(0u64)));
    if !INSTALLED.load(Ordering::Relaxed) {
        return Err(TestCaseError::fail(
            "the fuzz guard needs `#[global_allocator] static A: CountingAllocator = CountingAllocator;` in the test binary",
        ));
    }
    let (tx, rx) = mpsc::channel();
    PARSE_IN_USE.store(0, Ordering::Relaxed);
    PARSE_PEAK.store(0, Ordering::Relaxed);
    let spawned = std::thread::Builder::new()
        .name(format!("fuzz: {what}"))
        .stack_size(PARSE_STACK)
        .spawn(move || {
            IN_PARSE.with(|p| p.set(true));
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse));
            IN_PARSE.with(|p| p.set(false));
            let _ = tx.send(out.map_err(|p| panic_message(&*p)));
        });
    let outcome = match spawned {
        Ok(_) => rx.recv_timeout(time_limit),
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "{what}: cannot start the parse thread: {e}"
            )))
        }
    };
    let peak = usize::try_from(PARSE_PEAK.load(Ordering::Relaxed)).unwrap_or(0);
    RUN_PEAK.with(|p| p.set(p.get().max(peak)));
    let value = match outcome {
        Ok(Ok(v)) => v,
        Ok(Err(message)) => return Err(TestCaseError::fail(format!("{what} panicked: {message}"))),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            return Err(TestCaseError::fail(format!(
                "{what} did not finish within {time_limit:?} (a hang)"
            )))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            return Err(TestCaseError::fail(format!(
                "{what}: the parse thread ended without a result"
            )))
        }
    };
    if peak > memory_cap {
        return Err(TestCaseError::fail(format!(
            "{what} grew the bytes in use by {peak} bytes, over the cap of {memory_cap}"
        )));
    }
    Ok((value, Measured { peak_bytes: peak }))
}

/// Structure-aware mutation of a valid input: the byte edits [`mutate`] applies.
#[derive(Clone, Debug)]
pub enum Edit {
    /// Replace the byte at (position modulo length) with a value.
    Set(usize, u8),
    /// XOR the byte at (position modulo length) with a mask.
    Flip(usize, u8),
    /// Insert bytes at (position modulo length + 1).
    Insert(usize, Vec<u8>),
    /// Remove up to `n` bytes from (position modulo length).
    Remove(usize, usize),
    /// Cut the input at (position modulo length + 1).
    Truncate(usize),
    /// Repeat the range (position, n) in place `times` times.
    Repeat(usize, usize, usize),
}

/// A strategy for one [`Edit`]: tokens from `dictionary` (numbers, keywords, delimiters of the
/// format) are inserted as often as random bytes.
pub fn arb_edit(
    dictionary: &'static [&'static [u8]],
) -> impl proptest::strategy::Strategy<Value = Edit> {
    use proptest::prelude::*;
    let token = if dictionary.is_empty() {
        proptest::collection::vec(any::<u8>(), 1..8).boxed()
    } else {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 1..8),
            proptest::sample::select(dictionary).prop_map(<[u8]>::to_vec),
        ]
        .boxed()
    };
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), 1..=255u8).prop_map(|(i, m)| Edit::Flip(i, m)),
        (any::<usize>(), token).prop_map(|(i, t)| Edit::Insert(i, t)),
        (any::<usize>(), 1..64usize).prop_map(|(i, n)| Edit::Remove(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), 1..32usize, 1..64usize).prop_map(|(i, n, k)| Edit::Repeat(i, n, k)),
    ]
}

/// Applies `edits` to `input` in order, keeping it at most [`MAX_INPUT`] bytes.
pub fn mutate(input: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = input.to_vec();
    for e in edits {
        let n = v.len();
        match e {
            Edit::Set(i, b) if n > 0 => v[i % n] = *b,
            Edit::Flip(i, m) if n > 0 => v[i % n] ^= *m,
            Edit::Insert(i, bytes) => {
                let at = i % (n + 1);
                v.splice(at..at, bytes.iter().copied());
            }
            Edit::Remove(i, k) if n > 0 => {
                let at = i % n;
                v.drain(at..(at + k).min(n));
            }
            Edit::Truncate(i) => v.truncate(i % (n + 1)),
            Edit::Repeat(i, k, times) if n > 0 => {
                let at = i % n;
                let piece = v[at..(at + k).min(n)].to_vec();
                for _ in 0..*times {
                    v.splice(at..at, piece.iter().copied());
                }
            }
            _ => {}
        }
        v.truncate(MAX_INPUT);
    }
    v
}

/// A strategy for inputs: arbitrary bytes (up to `max_len`) as often as edits of one of the
/// `seeds` (valid inputs of the format).
pub fn arb_input(
    seeds: Vec<Vec<u8>>,
    dictionary: &'static [&'static [u8]],
    max_len: usize,
) -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let max_len = max_len.min(MAX_INPUT);
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..=max_len),
        3 => (
            proptest::sample::select(seeds),
            proptest::collection::vec(arb_edit(dictionary), 0..8),
        )
            .prop_map(|(seed, edits)| mutate(&seed, &edits)),
    ]
}
