//! This machine's f32 peak, for the roofline in `docs/benchmarks.md`: fused multiply-adds on
//! registers only (no memory traffic), at one thread and at every core, for each vector width
//! the CPU has (AVX-512, AVX2+FMA, and scalar), then core's own large GEMM at 1 and 2 threads
//! as the best a real kernel reaches. GFLOP/s count an FMA as two FLOPs.
//!
//! ```text
//! cargo run --release -p autodidact-core --example peak_flops [-- --seconds 1] [--threads 2]
//! ```
//!
//! Each FMA loop keeps 16 independent accumulators, more than the pipes × latency product of
//! current cores (2 FMA pipes × 4 cycles on Zen 4, 2 × 4 on Skylake-X), so the loop is limited
//! by FMA throughput alone; the result is read at the end so nothing is optimised away.
#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code, missing_docs)]

use std::time::Instant;

use autodidact_core::ndarray::{ArrayD, IxDyn};
use autodidact_core::{no_grad, parallel, Tape, Var};

/// Accumulators per loop; each iteration does `ACC` vector FMAs.
const ACC: usize = 16;
/// Iterations per timing check.
const INNER: u64 = 1 << 16;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{ACC, INNER};
    use std::arch::x86_64::*;

    /// `INNER` rounds of `ACC` 16-lane FMAs; returns a value derived from every accumulator.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(rounds: u64, seed: f32) -> f32 {
        let a = _mm512_set1_ps(0.999_999);
        let b = _mm512_set1_ps(1e-7);
        let mut acc = [_mm512_set1_ps(seed); ACC];
        for _ in 0..rounds * INNER {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        let mut sum = _mm512_setzero_ps();
        for x in acc {
            sum = _mm512_add_ps(sum, x);
        }
        _mm512_reduce_add_ps(sum)
    }

    /// The same with 8-lane AVX2 FMAs.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(rounds: u64, seed: f32) -> f32 {
        let a = _mm256_set1_ps(0.999_999);
        let b = _mm256_set1_ps(1e-7);
        let mut acc = [_mm256_set1_ps(seed); ACC];
        for _ in 0..rounds * INNER {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut out = [0f32; 8];
        let mut sum = _mm256_setzero_ps();
        for x in acc {
            sum = _mm256_add_ps(sum, x);
        }
        _mm256_storeu_ps(out.as_mut_ptr(), sum);
        out.iter().sum()
    }
}

/// One-lane `mul_add`s (the scalar baseline; `mul_add` is a real FMA only with the feature).
fn scalar(rounds: u64, seed: f32) -> f32 {
    let mut acc = [seed; ACC];
    for _ in 0..rounds * INNER {
        for x in acc.iter_mut() {
            *x = x.mul_add(0.999_999, 1e-7);
        }
    }
    std::hint::black_box(acc).iter().sum()
}

/// A kernel: (name, lanes, function of (rounds, seed)).
type Kernel = (&'static str, u64, fn(u64, f32) -> f32);

fn kernels() -> Vec<Kernel> {
    let mut k: Vec<Kernel> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            k.push(("avx512 fma", 16, |r, s| unsafe { x86::avx512(r, s) }));
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            k.push(("avx2 fma", 8, |r, s| unsafe { x86::avx2(r, s) }));
        }
    }
    k.push(("scalar", 1, scalar));
    k
}

/// This thread's CPU seconds (user + system), from `/proc/thread-self/stat` (Linux; 10 ms
/// ticks), or NaN elsewhere.
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

/// GFLOP/s of `f` on `threads` threads at once, each running for about `seconds`: over the
/// wall time, and per CPU second of one thread (what a core gives when it is not shared, so it
/// moves less with other load on the machine).
fn gflops(f: fn(u64, f32) -> f32, lanes: u64, threads: usize, seconds: f64) -> (f64, f64) {
    // Calibrate the rounds on one thread so each timed run lasts about `seconds`.
    let t = Instant::now();
    std::hint::black_box(f(1, 1.0));
    let per_round = t.elapsed().as_secs_f64().max(1e-9);
    let rounds = ((seconds / per_round) as u64).max(1);
    let start = Instant::now();
    let cpu: f64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                s.spawn(move || {
                    let c = thread_cpu_seconds();
                    std::hint::black_box(f(rounds, 1.0 + i as f32));
                    thread_cpu_seconds() - c
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a peak thread"))
            .sum()
    });
    let secs = start.elapsed().as_secs_f64();
    let flops = 2.0 * (rounds * INNER * ACC as u64 * lanes * threads as u64) as f64;
    (flops / secs / 1e9, flops / cpu / 1e9)
}

/// GFLOP/s of core's `matmul` on an `n × n × n` product, median of `reps`, on `threads`.
fn gemm_gflops(n: usize, threads: usize, reps: usize) -> f64 {
    let pool = parallel::pool(threads).expect("a worker pool");
    let a = ArrayD::from_shape_fn(IxDyn(&[n, n]), |d| ((d[0] * 7 + d[1]) % 13) as f32 * 0.01);
    let b = ArrayD::from_shape_fn(IxDyn(&[n, n]), |d| ((d[0] + d[1] * 5) % 11) as f32 * 0.01);
    let mut times: Vec<f64> = pool.install(|| {
        let _tape = Tape::<f32>::new();
        no_grad(|| {
            let (va, vb) = (Var::constant(a.clone()), Var::constant(b.clone()));
            std::hint::black_box(va.matmul(vb).value());
            (0..reps)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(va.matmul(vb).value());
                    t.elapsed().as_secs_f64()
                })
                .collect()
        })
    });
    times.sort_by(|x, y| x.total_cmp(y));
    2.0 * (n * n * n) as f64 / times[reps / 2] / 1e9
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut seconds = 1.0;
    let mut all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).map(String::as_str).unwrap_or("");
        match args[i].as_str() {
            "--seconds" => seconds = value.parse().expect("--seconds takes a number"),
            "--threads" => all = value.parse().expect("--threads takes a count"),
            other => panic!("unknown argument {other} (use --seconds S, --threads N)"),
        }
        i += 2;
    }
    let mut counts = vec![1];
    if all > 1 {
        counts.push(all);
    }
    for (name, lanes, f) in kernels() {
        for &t in &counts {
            let (g, per_cpu) = gflops(f, lanes, t, seconds);
            println!(
                "{name:<12} threads {t}  {g:>8.1} GFLOP/s  ({per_cpu:.1} per CPU second of a thread)"
            );
            println!(
                "JSON {{\"bench\":\"peak\",\"kernel\":\"{name}\",\"threads\":{t},\"gflops\":{g:.3},\"gflops_per_cpu_second\":{per_cpu:.3}}}"
            );
        }
    }
    for n in [256, 1024] {
        for &t in &counts {
            let g = gemm_gflops(n, t, if n > 512 { 9 } else { 41 });
            println!("core matmul {n}^3 threads {t}  {g:>8.1} GFLOP/s");
            println!("JSON {{\"bench\":\"gemm\",\"n\":{n},\"threads\":{t},\"gflops\":{g:.3}}}");
        }
    }
}
