//! Few-row products against weights stored in panels: `out[n, m] += x[n, k] · W[k, m]` for
//! the handful of token rows of inference on one sentence.
//!
//! Why: with 15 rows, `gemm` packs each weight matrix on every call, reading it 32 floats of a
//! row at a time with a stride of a whole row, and the product waits on memory (MiniLM at
//! batch 1 streams 42 MB of weights per sentence that way at about 6 GB/s, while this machine
//! reads memory front to back at about 30 GB/s on one core). Stored once as panels of
//! [`PANEL`] output columns, `[m / PANEL][k][PANEL]`, a product reads the weights front to back
//! exactly once, and the AVX-512 kernel keeps up to [`GROUP`] rows × [`PANEL`] columns of sums
//! in registers.
//!
//! Each output row is summed over `k` in order into registers and then added to `out`, so its
//! bits depend on that row alone: how the rows are grouped, or cut into pieces for threads,
//! never changes them. Without AVX-512 [`product`] declines and the caller uses `gemm`.

use std::any::TypeId;

use crate::float::Float;

/// Output columns per panel (two 16-lane registers).
pub(crate) const PANEL: usize = 32;
/// Rows whose sums stay in registers together.
const GROUP: usize = 8;
/// Products of more rows than this are left to `gemm`, whose packing pays off there.
pub(crate) const MAX_ROWS: usize = 128;

/// `w` (`[k, m]` row-major) laid out as panels, or `None` when `m` is not a multiple of
/// [`PANEL`] (such a layer keeps `gemm`).
pub(crate) fn pack(w: &[f32], k: usize, m: usize) -> Option<Vec<f32>> {
    if m == 0 || !m.is_multiple_of(PANEL) || w.len() != k * m {
        return None;
    }
    let mut panels = Vec::with_capacity(k * m);
    for b in 0..m / PANEL {
        for p in 0..k {
            panels.extend_from_slice(&w[p * m + b * PANEL..][..PANEL]);
        }
    }
    Some(panels)
}

/// Whether this CPU runs the panel kernel.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The slice as `f32`s when `T` is `f32`.
#[allow(unsafe_code)]
pub(crate) fn as_f32<T: Float>(s: &[T]) -> Option<&[f32]> {
    if TypeId::of::<T>() != TypeId::of::<f32>() {
        return None;
    }
    // SAFETY: `T` is `f32` (checked above): same size, alignment and validity.
    Some(unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<f32>(), s.len()) })
}

/// The slice as `f32`s when `T` is `f32`.
#[allow(unsafe_code)]
pub(crate) fn as_f32_mut<T: Float>(s: &mut [T]) -> Option<&mut [f32]> {
    if TypeId::of::<T>() != TypeId::of::<f32>() {
        return None;
    }
    // SAFETY: `T` is `f32` (checked above); the borrow is moved into the result, so it stays
    // the only one.
    Some(unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<f32>(), s.len()) })
}

/// `out[i, j] += Σ_p x[i, p] · W[p, j]` for `x` `[n, k]` (row stride `k`), `W` as [`pack`]
/// laid it out, `out` with row stride `ld`. Returns `false`, touching nothing, when the
/// kernel cannot run here (no AVX-512, or more than [`MAX_ROWS`] rows).
///
/// # Panics
/// When a slice is shorter than the shapes say (an internal error).
#[allow(unsafe_code)]
pub(crate) fn product(
    (n, k, m): (usize, usize, usize),
    x: &[f32],
    panels: &[f32],
    out: &mut [f32],
    ld: usize,
) -> bool {
    if n == 0 || k == 0 || m == 0 {
        return true;
    }
    if n > MAX_ROWS || !available() {
        return false;
    }
    assert!(
        m % PANEL == 0
            && panels.len() == k * m
            && x.len() >= n * k
            && ld >= m
            && out.len() >= (n - 1) * ld + m,
        "autodidact internal error: panel product of [{n}, {k}] by [{k}, {m}] on slices of \
         {}, {} and {} (row stride {ld})",
        x.len(),
        panels.len(),
        out.len()
    );
    crate::flops::add(n, k, m);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F is present (checked by `available`), and the assert above proves
    // every read and write of `avx512::product` is inside its slice: x (i, p) at i·k + p <
    // n·k, panel b's (p, c) at b·k·PANEL + p·PANEL + c < m·k, out (i, j) at i·ld + j ≤
    // (n − 1)·ld + m − 1.
    unsafe {
        avx512::product(n, k, m, x, panels, out, ld);
    }
    true
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512 {
    use std::arch::x86_64::{
        __m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
        _mm512_storeu_ps,
    };

    use super::{GROUP, PANEL};

    /// The whole product: every panel, its rows in groups of [`GROUP`].
    ///
    /// # Safety
    /// AVX-512F must be present and the slices as long as [`super::product`] checks.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn product(
        n: usize,
        k: usize,
        m: usize,
        x: &[f32],
        panels: &[f32],
        out: &mut [f32],
        ld: usize,
    ) {
        for b in 0..m / PANEL {
            let panel = panels.as_ptr().add(b * k * PANEL);
            let mut i = 0;
            while i < n {
                let rows = (n - i).min(GROUP);
                let x = x.as_ptr().add(i * k);
                let out = out.as_mut_ptr().add(i * ld + b * PANEL);
                // One kernel per group size, so the row loop is unrolled in each.
                match rows {
                    8 => group::<8>(k, x, panel, out, ld),
                    7 => group::<7>(k, x, panel, out, ld),
                    6 => group::<6>(k, x, panel, out, ld),
                    5 => group::<5>(k, x, panel, out, ld),
                    4 => group::<4>(k, x, panel, out, ld),
                    3 => group::<3>(k, x, panel, out, ld),
                    2 => group::<2>(k, x, panel, out, ld),
                    _ => group::<1>(k, x, panel, out, ld),
                }
                i += rows;
            }
        }
    }

    /// `R` rows × one panel: sums over `k` in registers, then added to `out`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn group<const R: usize>(
        k: usize,
        x: *const f32,
        panel: *const f32,
        out: *mut f32,
        ld: usize,
    ) {
        let mut acc: [[__m512; 2]; R] = [[_mm512_setzero_ps(); 2]; R];
        for p in 0..k {
            let w0 = _mm512_loadu_ps(panel.add(p * PANEL));
            let w1 = _mm512_loadu_ps(panel.add(p * PANEL + 16));
            for (r, a) in acc.iter_mut().enumerate() {
                let xv = _mm512_set1_ps(*x.add(r * k + p));
                a[0] = _mm512_fmadd_ps(xv, w0, a[0]);
                a[1] = _mm512_fmadd_ps(xv, w1, a[1]);
            }
        }
        for (r, a) in acc.iter().enumerate() {
            let o = out.add(r * ld);
            _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), a[0]));
            _mm512_storeu_ps(o.add(16), _mm512_add_ps(_mm512_loadu_ps(o.add(16)), a[1]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let h = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8;
                (h % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn pack_lays_out_panels_of_32_columns() {
        let (k, m) = (3, 64);
        let w: Vec<f32> = (0..k * m).map(|i| i as f32).collect();
        let p = pack(&w, k, m).unwrap();
        // Panel 1, row 2, column 5 is W[2, 37].
        assert_eq!(p[k * PANEL + 2 * PANEL + 5], w[2 * m + 37]);
        assert_eq!(p.len(), w.len());
        assert!(pack(&w[..3 * 48], 3, 48).is_none());
    }

    #[test]
    fn the_panel_product_adds_the_product_to_out() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX-512F, the panel kernel never runs here");
            return;
        }
        for (n, k, m, ld) in [
            (1, 5, 32, 32),
            (15, 384, 96, 100),
            (9, 17, 64, 64),
            (128, 40, 32, 33),
        ] {
            let x = values(n * k, 1);
            let w = values(k * m, 2);
            let start = values(n * ld, 3);
            let mut out = start.clone();
            assert!(product(
                (n, k, m),
                &x,
                &pack(&w, k, m).unwrap(),
                &mut out,
                ld
            ));
            for i in 0..n {
                for j in 0..ld {
                    let want = if j < m {
                        start[i * ld + j]
                            + (0..k)
                                .map(|p| f64::from(x[i * k + p]) * f64::from(w[p * m + j]))
                                .sum::<f64>() as f32
                    } else {
                        start[i * ld + j]
                    };
                    let got = out[i * ld + j];
                    assert!(
                        (got - want).abs() <= 1e-5 * (1.0 + want.abs()) * (k as f32).sqrt(),
                        "[{n}, {k}] by [{k}, {m}]: out[{i}, {j}] = {got}, want {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_row_has_the_same_bits_in_any_group() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX-512F, the panel kernel never runs here");
            return;
        }
        let (k, m) = (77, 64);
        let x = values(13 * k, 4);
        let panels = pack(&values(k * m, 5), k, m).unwrap();
        let mut all = vec![0.0; 13 * m];
        product((13, k, m), &x, &panels, &mut all, m);
        for i in 0..13 {
            let mut one = vec![0.0; m];
            product((1, k, m), &x[i * k..][..k], &panels, &mut one, m);
            assert_eq!(one, all[i * m..][..m], "row {i}");
        }
    }

    #[test]
    fn more_rows_than_the_kernel_takes_are_declined() {
        let (k, m) = (2, 32);
        let mut out = vec![0.0; (MAX_ROWS + 1) * m];
        let panels = pack(&values(k * m, 6), k, m).unwrap();
        assert!(!product(
            (MAX_ROWS + 1, k, m),
            &values((MAX_ROWS + 1) * k, 7),
            &panels,
            &mut out,
            m
        ));
        assert!(out.iter().all(|&v| v == 0.0));
    }
}
