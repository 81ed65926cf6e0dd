//! A GEMM for few rows: `out += a · b` with `a` a handful of rows (a sentence's tokens at
//! batch 1) and `b` a weight matrix packed once ([`Packed`]) and reused for every product.
//!
//! Why (perf, MiniLM at batch 1): two thirds of the time was the `gemm` crate's micro-kernel
//! waiting on loads of the weights. At batch 1 the weights (42 MB) come from memory for every
//! sentence, and `gemm` reads them in place: a 64-column slice of one row, then the same slice
//! of the next row, a row stride (1.5–6 KB) further on — a new page at every step, where the
//! hardware prefetchers (which stop at page boundaries) cannot run ahead. Packed into panels
//! of 32 columns, each `k × 32` contiguous, a panel is one sequential stream.
//!
//! The kernel: `a` is copied into tiles of up to `R` rows interleaved by column (`[k][R]`,
//! a few KB); for each panel, each tile keeps `R × 32` accumulators (two AVX-512 registers per
//! row) over all of `k`, broadcasting one element of each row against the panel's row. The
//! panel stays in L1/L2 while the next tile reuses it, so the weights are read from memory once.
//! Safe Rust over fixed-size arrays, compiled under `pulp`'s runtime dispatch for AVX-512 or
//! AVX2 + FMA. Each output element is one fused multiply-add chain over `p = 0..k` in order,
//! then added to `out`: its bits do not depend on the tile, on how the rows are cut into
//! pieces (threads) or on the instruction set. Without FMA (or off x86-64) [`few_rows_acc`]
//! declines and the caller uses `gemm`.

use crate::float::Float;

/// Columns per panel: two AVX-512 registers of `f32`.
const W: usize = 32;

/// Whether [`few_rows_acc`] runs on this CPU (x86-64 with AVX2 and FMA).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        pulp::x86::V3::is_available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Shapes and strides of one product: `out[i·out_rs + j] += Σ_p a[i·a_rs + p] · b[p, j]`
/// for `i < n`, `j < m`, `p < k`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    /// Rows of `a` and `out`.
    pub n: usize,
    /// Columns of `a`, rows of `b`.
    pub k: usize,
    /// Columns of `b` and `out`.
    pub m: usize,
    /// Row stride of `a` (≥ `k`).
    pub a_rs: usize,
    /// Row stride of `out` (≥ `m`).
    pub out_rs: usize,
}

/// A matrix `b [k, m]` in panels of [`W`] columns, each `k × W` contiguous (the last one
/// zero-padded), for [`few_rows_acc`].
#[derive(Clone, Debug)]
pub(crate) struct Packed<T> {
    k: usize,
    m: usize,
    data: Vec<T>,
}

impl<T: Float> Packed<T> {
    /// Packs `b [k, m]`, whose rows are `b_rs` apart.
    pub(crate) fn new(b: &[T], k: usize, m: usize, b_rs: usize) -> Packed<T> {
        let panels = m.div_ceil(W);
        let mut data = vec![T::zero(); panels * k * W];
        for (j, panel) in data
            .chunks_exact_mut((k * W).max(1))
            .enumerate()
            .take(panels)
        {
            let width = W.min(m - j * W);
            for (p, dst) in panel.chunks_exact_mut(W).enumerate() {
                dst[..width].copy_from_slice(&b[p * b_rs + j * W..][..width]);
            }
        }
        Packed { k, m, data }
    }

    /// `(k, m)`: the shape of the matrix it holds.
    pub(crate) fn shape(&self) -> (usize, usize) {
        (self.k, self.m)
    }
}

/// `out += a · b` (see [`Dims`]) with the few-rows kernel; returns `false` and leaves `out`
/// untouched when the CPU lacks it (see [`available`]).
///
/// # Panics
/// If a stride is smaller than its row, a slice is too short or `b` has another shape (an
/// internal error: the callers size their buffers).
pub(crate) fn few_rows_acc<T: Float>(d: Dims, a: &[T], b: &Packed<T>, out: &mut [T]) -> bool {
    if d.n == 0 || d.m == 0 {
        return true;
    }
    let need = |rows: usize, rs: usize, cols: usize| (rows - 1) * rs + cols;
    assert!(
        b.shape() == (d.k, d.m)
            && d.a_rs >= d.k
            && d.out_rs >= d.m
            && a.len() >= need(d.n, d.a_rs, d.k)
            && out.len() >= need(d.n, d.out_rs, d.m),
        "autodidact internal error: few_rows_acc shapes {d:?} with a {}, out {}",
        a.len(),
        out.len()
    );
    if d.k == 0 {
        return true;
    }
    if !available() {
        return false;
    }
    pulp::Arch::new().dispatch(Product { d, a, b, out });
    true
}

/// [`few_rows_acc`] for `pulp`'s dispatch: `with_simd` is inlined into a function compiled
/// for the best instruction set the CPU has, and everything below it is `#[inline(always)]`,
/// so `mul_add` is one FMA instruction and the tiles' arrays are vector registers. (A closure
/// handed to the dispatch is not reliably inlined; a fused multiply-add compiled outside it is
/// a call to the C library's `fmaf`.)
struct Product<'a, T> {
    d: Dims,
    a: &'a [T],
    b: &'a Packed<T>,
    out: &'a mut [T],
}

impl<T: Float> pulp::WithSimd for Product<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Product { d, a, b, out } = self;
        #[cfg(target_arch = "x86_64")]
        if pulp::x86::V4::is_available() {
            // 32 zmm registers: 8 rows × 2 of accumulators, 2 for the panel's row.
            product::<T, 8>(d, a, b, out);
            return;
        }
        // AVX2's 16 ymm registers: 3 rows × 4 of accumulators, 4 for the panel's row.
        product::<T, 3>(d, a, b, out);
    }
}

/// The whole product: `a` copied into tiles of up to `R` rows (`[k][rows]` each, one after
/// another), then panels outside and tiles inside.
#[inline(always)]
fn product<T: Float, const R: usize>(d: Dims, a: &[T], b: &Packed<T>, out: &mut [T]) {
    let (n, k) = (d.n, d.k);
    let mut tiles = vec![T::zero(); n * k];
    let mut i = 0;
    while i < n {
        let h = R.min(n - i);
        let t = &mut tiles[i * k..][..h * k];
        for r in 0..h {
            let row = &a[(i + r) * d.a_rs..][..k];
            for (p, &v) in row.iter().enumerate() {
                t[p * h + r] = v;
            }
        }
        i += h;
    }
    for (j, panel) in b.data.chunks_exact(k * W).enumerate() {
        let (col, width) = (j * W, W.min(d.m - j * W));
        let mut i = 0;
        while i < n {
            let h = R.min(n - i);
            let t = &tiles[i * k..][..h * k];
            let o = &mut out[i * d.out_rs..];
            // One instantiation per tile height, so every tile's accumulators are registers.
            macro_rules! heights {
                ($($r:literal)*) => {
                    match h {
                        $($r => tile::<T, $r>(t, panel, o, d.out_rs, col, width),)*
                        _ => unreachable!("tile height is 1..=8"),
                    }
                };
            }
            heights!(8 7 6 5 4 3 2 1);
            i += h;
        }
    }
}

/// Lanes of one accumulator array (one AVX-512 register of `f32`); a panel row is two.
const L: usize = W / 2;

/// One tile: `H` rows (`t`, `[k][H]`) times one panel (`[k][W]`), added to columns
/// `col..col + width` of `out` (a tail panel's padding is dropped).
///
/// The accumulators are `H × 2` arrays of 16 lanes, touched only at constant indices, so they
/// stay in registers and each 16-lane multiply-add is one vector FMA (one 32-lane array per
/// row, or an index computed at run time, makes the compiler keep them in memory or gather).
#[inline(always)]
fn tile<T: Float, const H: usize>(
    t: &[T],
    panel: &[T],
    out: &mut [T],
    out_rs: usize,
    col: usize,
    width: usize,
) {
    let mut acc = [[[T::zero(); L]; 2]; H];
    for (av, bv) in t.chunks_exact(H).zip(panel.chunks_exact(W)) {
        let b: [[T; L]; 2] = [
            std::array::from_fn(|l| bv[l]),
            std::array::from_fn(|l| bv[L + l]),
        ];
        for r in 0..H {
            let x = av[r];
            for q in 0..2 {
                for l in 0..L {
                    acc[r][q][l] = x.mul_add(b[q][l], acc[r][q][l]);
                }
            }
        }
    }
    for r in 0..H {
        let o = &mut out[r * out_rs + col..][..width];
        if width == W {
            for q in 0..2 {
                for l in 0..L {
                    o[q * L + l] += acc[r][q][l];
                }
            }
        } else {
            // Copies of the two arrays (constant indices) are what the loops walk.
            let (lo, hi) = o.split_at_mut(width.min(L));
            for (o, x) in lo.iter_mut().zip(acc[r][0]) {
                *o += x;
            }
            for (o, x) in hi.iter_mut().zip(acc[r][1]) {
                *o += x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (((i * 7 + seed * 13) % 23) as f32 - 11.0) / 8.0)
            .collect()
    }

    /// `out += a·b` by the naive triple loop, in f64 (`b`'s rows `b_rs` apart).
    fn naive(d: Dims, a: &[f32], (b, b_rs): (&[f32], usize), out: &mut [f64]) {
        for i in 0..d.n {
            for j in 0..d.m {
                let mut s = 0.0f64;
                for p in 0..d.k {
                    s += f64::from(a[i * d.a_rs + p]) * f64::from(b[p * b_rs + j]);
                }
                out[i * d.out_rs + j] += s;
            }
        }
    }

    #[test]
    fn few_rows_matches_the_naive_product_on_odd_shapes() {
        if !available() {
            eprintln!("skipped: no AVX2+FMA on this CPU (the kernel declines and gemm runs)");
            return;
        }
        // Rows below, at and above a tile; k not a multiple of 16; m below a panel, between
        // panels, an odd number of whole panels, and with a tail; strides wider than the rows.
        for &n in &[1, 3, 8, 9, 17] {
            for &k in &[1, 5, 37, 384] {
                for &m in &[1, 7, 16, 33, 48, 100] {
                    let d = Dims {
                        n,
                        k,
                        m,
                        a_rs: k + 2,
                        out_rs: m + 5,
                    };
                    let b_rs = m + 3;
                    let a = fill(n * d.a_rs, 1);
                    let b = fill(k * b_rs, 2);
                    let start = fill(n * d.out_rs, 3);
                    let mut want: Vec<f64> = start.iter().map(|&v| f64::from(v)).collect();
                    naive(d, &a, (&b, b_rs), &mut want);
                    let packed = Packed::new(&b, k, m, b_rs);
                    let mut got = start.clone();
                    assert!(few_rows_acc(d, &a, &packed, &mut got));
                    for i in 0..n {
                        for j in 0..d.out_rs {
                            let (g, w) = (got[i * d.out_rs + j], want[i * d.out_rs + j]);
                            if j < m {
                                let tol = 1e-5 * (1.0 + (k as f64).sqrt()) * (1.0 + w.abs());
                                assert!(
                                    (f64::from(g) - w).abs() <= tol,
                                    "{n}x{k}x{m} at ({i}, {j}): {g} vs {w}"
                                );
                            } else {
                                assert_eq!(g, start[i * d.out_rs + j], "wrote past column {m}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn few_rows_bits_do_not_depend_on_how_the_rows_are_cut() {
        if !available() {
            return;
        }
        let (n, k, m) = (17, 70, 40);
        let d = Dims {
            n,
            k,
            m,
            a_rs: k,
            out_rs: m,
        };
        let (a, b) = (fill(n * k, 4), fill(k * m, 5));
        let packed = Packed::new(&b, k, m, m);
        let mut whole = vec![0.0f32; n * m];
        assert!(few_rows_acc(d, &a, &packed, &mut whole));
        // Row by row, and in pieces of 5: the same bits.
        for step in [1, 5] {
            let mut cut = vec![0.0f32; n * m];
            let mut i = 0;
            while i < n {
                let r = step.min(n - i);
                let dd = Dims { n: r, ..d };
                assert!(few_rows_acc(dd, &a[i * k..], &packed, &mut cut[i * m..]));
                i += r;
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&whole), bits(&cut), "rows cut every {step}");
        }
    }
}
