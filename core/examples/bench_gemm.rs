//! Raw GEMM shapes, ndarray's `matrixmultiply` against the `gemm` crate, single thread, f32,
//! interleaved (A B A B …) so both see the same machine load. `n x k x m` means
//! `[n, k] @ [k, m]`; every product is timed on its own, medians in µs.
//!
//! ```text
//! cargo run --release -p autodidact-core --example bench_gemm [-- --rounds 4] [--scale 1] [--layout nn|nt|tn]
//!     [--shapes 10x1x40,10x40x1]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code, missing_docs)]

use std::time::Instant;

use autodidact_core::ndarray::linalg::general_mat_mul;
use autodidact_core::ndarray::Array2;

const SHAPES: [(usize, usize, usize, usize); 6] = [
    (10, 40, 40, 20_000),
    (64, 784, 256, 200),
    (64, 256, 128, 2_000),
    (64, 256, 256, 1_000),
    (64, 576, 196, 500),
    (64, 576, 49, 2_000),
];

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(|a, b| a.total_cmp(b));
    let r = t.len();
    if r % 2 == 1 {
        t[r / 2]
    } else {
        0.5 * (t[r / 2 - 1] + t[r / 2])
    }
}

fn run(reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..reps / 10 + 1 {
        f();
    }
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let s = Instant::now();
        f();
        t.push(s.elapsed().as_secs_f64() * 1e6);
    }
    median(t)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .map(|i| args[i + 1].parse().unwrap())
        .unwrap_or(4usize);
    let scale: f64 = args
        .iter()
        .position(|a| a == "--scale")
        .map(|i| args[i + 1].parse().unwrap())
        .unwrap_or(1.0);
    // --layout nt: b is stored [m, k] and read transposed (backward dA = dC @ Bᵀ); tn: a is
    // stored [k, n] (backward dB = Aᵀ @ dC); nn (default): both row-major as logical.
    let layout = args
        .iter()
        .position(|a| a == "--layout")
        .map(|i| args[i + 1].clone())
        .unwrap_or_else(|| "nn".into());
    let (ta, tb) = (layout == "tn", layout == "nt");
    println!("layout {layout}");
    println!(
        "{:<14} {:>12} {:>12} {:>8} {:>10}",
        "n x k x m", "ndarray µs", "gemm µs", "ratio", "gemm GF/s"
    );
    // --shapes 10x1x40,10x40x1,...: other shapes (20,000 repetitions each before --scale).
    let custom: Vec<(usize, usize, usize, usize)> = args
        .iter()
        .position(|a| a == "--shapes")
        .map(|i| {
            args[i + 1]
                .split(',')
                .map(|t| {
                    let d: Vec<usize> = t.split('x').map(|x| x.parse().unwrap()).collect();
                    (d[0], d[1], d[2], 20_000)
                })
                .collect()
        })
        .unwrap_or_else(|| SHAPES.to_vec());
    for &(n, k, m, reps) in &custom {
        let reps = ((reps as f64 * scale) as usize).max(5);
        let a0 = Array2::<f32>::from_shape_fn((n, k), |(i, j)| {
            ((i * 7 + j * 3) % 11) as f32 * 0.1 - 0.5
        });
        let b0 = Array2::<f32>::from_shape_fn((k, m), |(i, j)| {
            ((i * 5 + j * 13) % 17) as f32 * 0.05 - 0.4
        });
        // Owned, standard-layout storage of each operand, and a logical view over it.
        let a_st = if ta {
            a0.t().as_standard_layout().into_owned()
        } else {
            a0.clone()
        };
        let b_st = if tb {
            b0.t().as_standard_layout().into_owned()
        } else {
            b0.clone()
        };
        let a = if ta { a_st.t() } else { a_st.view() };
        let b = if tb { b_st.t() } else { b_st.view() };
        let (a_rs, a_cs) = (a.strides()[0], a.strides()[1]);
        let (b_rs, b_cs) = (b.strides()[0], b.strides()[1]);
        let mut c1 = Array2::<f32>::zeros((n, m));
        let mut c2 = Array2::<f32>::zeros((n, m));
        let (mut t_nd, mut t_gemm) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            t_nd.push(run(reps, || general_mat_mul(1.0, &a, &b, 0.0, &mut c1)));
            t_gemm.push(run(reps, || unsafe {
                gemm::gemm(
                    n,
                    m,
                    k,
                    c2.as_mut_ptr(),
                    1,
                    m as isize,
                    false,
                    a_st.as_ptr(),
                    a_cs,
                    a_rs,
                    b_st.as_ptr(),
                    b_cs,
                    b_rs,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            }));
        }
        let diff = c1
            .iter()
            .zip(c2.iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-3 * k as f32, "mismatch {diff}");
        let (ma, mb) = (median(t_nd.clone()), median(t_gemm.clone()));
        let gf = 2.0 * (n * k * m) as f64 / (mb * 1e-6) / 1e9;
        println!(
            "{:<14} {:>12.2} {:>12.2} {:>8.2} {:>10.1}   rounds nd {:?} gemm {:?}",
            format!("{n}x{k}x{m}"),
            ma,
            mb,
            ma / mb,
            gf,
            t_nd.iter()
                .map(|x| (x * 100.0).round() / 100.0)
                .collect::<Vec<_>>(),
            t_gemm
                .iter()
                .map(|x| (x * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        );
    }
}
