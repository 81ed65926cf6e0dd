//! Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray 2016, "Fast algorithms for
//! convolutional neural networks") for the fused Conv4 block's 3×3 convolution, padding 1.
//!
//! Each 2×2 output tile comes from the 4×4 input tile around it: `Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`,
//! 16 products per tile and channel pair where the direct convolution does 36. Over a block the
//! products become 16 matrix products, one per position ξ of the 4×4 transformed tile:
//! `M[ξ] = V[ξ] · U[ξ]` with `V[ξ]` the transformed input tiles `[tiles, C]` and `U[ξ]` the
//! transformed filters `[C, F]`. The backward pass is the adjoint of the same linear maps:
//! `dV[ξ] = dM[ξ] · U[ξ]ᵀ`, `dU[ξ] = V[ξ]ᵀ · dM[ξ]`, with the transposed transforms on each side,
//! so the three products of a training step (forward, input and weight gradients) each do 2.25×
//! fewer multiply-adds than with im2col.
//!
//! The transforms run on pixel-major data (`[pixels, channels]`), one tile at a time with every
//! channel in a vector, so nothing is gathered; images arrive and leave channel-major
//! (`[C, H, W]`, the block's layout) through a blocked transpose. Tiles are laid out tile-major
//! (`[tiles, 16, channels]`): a tile's transform writes one contiguous run, and the GEMM for
//! position ξ reads every 16th row. Maps of odd size get a last row and column of tiles whose
//! outputs past the map are dropped (and whose gradients are zero).

use super::{view, view_mut};
use crate::ops::matmul::gemm_views;

/// Positions of a transformed 4×4 tile.
pub(super) const XI: usize = 16;

/// Channels handled at once by the transforms: one AVX-512 register (two AVX2 ones).
const L: usize = 16;

/// `L` channels.
type Lane = [f32; L];

#[inline(always)]
fn load(s: &[f32]) -> Lane {
    let mut v = [0.0; L];
    v.copy_from_slice(&s[..L]);
    v
}

#[inline(always)]
fn store(d: &mut [f32], v: Lane) {
    d[..L].copy_from_slice(&v);
}

// Element-wise lane arithmetic as plain loops over fixed arrays, which LLVM turns into one
// vector instruction each (`array::from_fn` here was left as calls, not unrolled).
#[inline(always)]
fn add(mut a: Lane, b: Lane) -> Lane {
    for l in 0..L {
        a[l] += b[l];
    }
    a
}

#[inline(always)]
fn sub(mut a: Lane, b: Lane) -> Lane {
    for l in 0..L {
        a[l] -= b[l];
    }
    a
}

#[inline(always)]
fn neg(mut a: Lane) -> Lane {
    for v in a.iter_mut() {
        *v = -*v;
    }
    a
}

/// Bᵀ on four values: [d0 − d2, d1 + d2, d2 − d1, d1 − d3].
#[inline(always)]
fn bt(d: [Lane; 4]) -> [Lane; 4] {
    [
        sub(d[0], d[2]),
        add(d[1], d[2]),
        sub(d[2], d[1]),
        sub(d[1], d[3]),
    ]
}

/// B (the adjoint of [`bt`]): [v0, v1 − v2 + v3, −v0 + v1 + v2, −v3].
#[inline(always)]
fn b(v: [Lane; 4]) -> [Lane; 4] {
    [
        v[0],
        add(sub(v[1], v[2]), v[3]),
        sub(add(v[1], v[2]), v[0]),
        neg(v[3]),
    ]
}

/// Aᵀ on four values: [m0 + m1 + m2, m1 − m2 − m3].
#[inline(always)]
fn at(m: [Lane; 4]) -> [Lane; 2] {
    [add(add(m[0], m[1]), m[2]), sub(sub(m[1], m[2]), m[3])]
}

/// A (the adjoint of [`at`]): [y0, y0 + y1, y0 − y1, −y1].
#[inline(always)]
fn a(y: [Lane; 2]) -> [Lane; 4] {
    [y[0], add(y[0], y[1]), sub(y[0], y[1]), neg(y[1])]
}

/// A 4×4 transform `t` applied to the rows, then to the columns, of a tile `[4][4]` of lanes.
#[inline(always)]
fn both4(x: [[Lane; 4]; 4], t: impl Fn([Lane; 4]) -> [Lane; 4]) -> [[Lane; 4]; 4] {
    let rows = [t(x[0]), t(x[1]), t(x[2]), t(x[3])];
    let mut out = [[[0.0; L]; 4]; 4];
    for j in 0..4 {
        let col = t([rows[0][j], rows[1][j], rows[2][j], rows[3][j]]);
        for i in 0..4 {
            out[i][j] = col[i];
        }
    }
    out
}

/// Whether a block with `c` input channels and `f` filters on `h × w` maps convolves in the
/// Winograd domain: enough channels for the 16 products to be worth their transforms, whole
/// lanes of channels for the transforms, and maps big enough that few computed outputs fall
/// outside them.
pub(super) fn applies(c: usize, f: usize, h: usize, w: usize) -> bool {
    c >= 16 && c.is_multiple_of(L) && f.is_multiple_of(L) && h >= 6 && w >= 6
}

/// Tiles of one `h × w` map.
#[derive(Clone, Copy)]
pub(super) struct Tiles {
    h: usize,
    w: usize,
    th: usize,
    tw: usize,
}

impl Tiles {
    /// The 2×2 output tiles covering an `h × w` map.
    pub(super) fn new(h: usize, w: usize) -> Self {
        Tiles {
            h,
            w,
            th: h.div_ceil(2),
            tw: w.div_ceil(2),
        }
    }

    /// Tiles per image.
    pub(super) fn per_image(&self) -> usize {
        self.th * self.tw
    }
}

/// `src` (`rows` rows of `cols`, rows `lds` apart) transposed into `dst` (`cols` rows of
/// `rows`, rows `ldd` apart): whole 8×8 blocks through registers (eight row loads, eight row
/// stores), the ragged edges one element at a time.
#[inline(always)]
pub(super) fn transpose(
    src: &[f32],
    rows: usize,
    cols: usize,
    lds: usize,
    dst: &mut [f32],
    ldd: usize,
) {
    let (rb, cb) = (rows / L * L, cols / L * L);
    for r0 in (0..rb).step_by(L) {
        for c0 in (0..cb).step_by(L) {
            let mut blk = [[0.0; L]; L];
            for (r, row) in blk.iter_mut().enumerate() {
                *row = load(&src[(r0 + r) * lds + c0..]);
            }
            for c in 0..L {
                let mut col = [0.0; L];
                for r in 0..L {
                    col[r] = blk[r][c];
                }
                store(&mut dst[(c0 + c) * ldd + r0..], col);
            }
        }
    }
    for r in 0..rows {
        let line = &src[r * lds..][..cols];
        let from = if r < rb { cb } else { 0 };
        for (c, &v) in line.iter().enumerate().skip(from) {
            dst[c * ldd + r] = v;
        }
    }
}

/// The filters `wt [F, C, 3, 3]` transformed, `U = G g Gᵀ`, laid out `[16, C, F]`.
pub(super) fn filters(wt: &[f32], f: usize, c: usize) -> Vec<f32> {
    let mut u = vec![0.0f32; XI * c * f];
    // G g for one column of three taps: [g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2].
    let g4 = |a: f32, b: f32, e: f32| [a, 0.5 * (a + b + e), 0.5 * (a - b + e), e];
    for fo in 0..f {
        for ci in 0..c {
            let g = &wt[(fo * c + ci) * 9..][..9];
            // Columns first (G g: 4 × 3), then rows (· Gᵀ: 4 × 4).
            let cols: [[f32; 4]; 3] = std::array::from_fn(|j| g4(g[j], g[3 + j], g[6 + j]));
            for i in 0..4 {
                let row = g4(cols[0][i], cols[1][i], cols[2][i]);
                for (j, &v) in row.iter().enumerate() {
                    u[((i * 4 + j) * c + ci) * f + fo] = v;
                }
            }
        }
    }
    u
}

/// The adjoint of [`filters`]: a gradient `du [16, C, F]` of the transformed filters as the
/// gradient of `wt [F, C, 3, 3]`, `Gᵀ dU G`.
pub(super) fn filter_grad(du: &[f32], f: usize, c: usize) -> Vec<f32> {
    let mut dw = vec![0.0f32; f * c * 9];
    // Gᵀ u for four values: [u0 + (u1 + u2)/2, (u1 − u2)/2, (u1 + u2)/2 + u3].
    let g3 = |u: [f32; 4]| {
        [
            u[0] + 0.5 * (u[1] + u[2]),
            0.5 * (u[1] - u[2]),
            0.5 * (u[1] + u[2]) + u[3],
        ]
    };
    for fo in 0..f {
        for ci in 0..c {
            let at = |i: usize, j: usize| du[((i * 4 + j) * c + ci) * f + fo];
            let rows: [[f32; 3]; 4] =
                std::array::from_fn(|i| g3([at(i, 0), at(i, 1), at(i, 2), at(i, 3)]));
            let g = &mut dw[(fo * c + ci) * 9..][..9];
            for j in 0..3 {
                let col = g3([rows[0][j], rows[1][j], rows[2][j], rows[3][j]]);
                for (i, &v) in col.iter().enumerate() {
                    g[i * 3 + j] = v;
                }
            }
        }
    }
    dw
}

/// `f(k0)` for each group of [`L`] channels `k0..k0 + L` of `c` (a multiple of `L`).
#[inline(always)]
fn groups(c: usize, mut f: impl FnMut(usize)) {
    for k0 in (0..c / L * L).step_by(L) {
        f(k0);
    }
}

/// Input tiles of one pixel-major image `xt [H·W, C]`, transformed (`Bᵀ d B`) into `v`, the
/// image's tiles `[tiles, 16, C]`. `zero` is at least `C` zeros (the padding).
#[inline(always)]
pub(super) fn input_tiles(t: Tiles, xt: &[f32], c: usize, zero: &[f32], v: &mut [f32]) {
    for ty in 0..t.th {
        for tx in 0..t.tw {
            // d[a][b] = x at (2ty + a − 1, 2tx + b − 1), zero outside the map.
            let d: [&[f32]; 16] = std::array::from_fn(|ab| {
                let (r, s) = (
                    (2 * ty + ab / 4) as isize - 1,
                    (2 * tx + ab % 4) as isize - 1,
                );
                if r < 0 || s < 0 || r as usize >= t.h || s as usize >= t.w {
                    &zero[..c]
                } else {
                    &xt[(r as usize * t.w + s as usize) * c..][..c]
                }
            });
            let out = &mut v[(ty * t.tw + tx) * XI * c..][..XI * c];
            groups(c, |k0| {
                let mut x = [[[0.0; L]; 4]; 4];
                for (ab, d) in d.iter().enumerate() {
                    x[ab / 4][ab % 4] = load(&d[k0..]);
                }
                let y = both4(x, bt);
                for (ij, lane) in y.iter().flatten().enumerate() {
                    store(&mut out[ij * c + k0..], *lane);
                }
            });
        }
    }
}

/// The adjoint of [`input_tiles`]: the gradients `dv [tiles, 16, C]` of one image's
/// transformed tiles added (`B dV Bᵀ`, overlapping tiles summed in tile order) into the
/// pixel-major image gradient `dxt [H·W, C]`. `tmp` is scratch of at least `16·C`.
#[inline(always)]
pub(super) fn input_tiles_grad(t: Tiles, dv: &[f32], c: usize, tmp: &mut [f32], dxt: &mut [f32]) {
    for ty in 0..t.th {
        for tx in 0..t.tw {
            let tile = &dv[(ty * t.tw + tx) * XI * c..][..XI * c];
            let dd = &mut tmp[..XI * c];
            groups(c, |k0| {
                let mut x = [[[0.0; L]; 4]; 4];
                for ij in 0..XI {
                    x[ij / 4][ij % 4] = load(&tile[ij * c + k0..]);
                }
                let y = both4(x, b);
                for (ab, lane) in y.iter().flatten().enumerate() {
                    store(&mut dd[ab * c + k0..], *lane);
                }
            });
            for ab in 0..XI {
                let (r, s) = (
                    (2 * ty + ab / 4) as isize - 1,
                    (2 * tx + ab % 4) as isize - 1,
                );
                if r < 0 || s < 0 || r as usize >= t.h || s as usize >= t.w {
                    continue;
                }
                let px = &mut dxt[(r as usize * t.w + s as usize) * c..][..c];
                px.iter_mut()
                    .zip(&dd[ab * c..(ab + 1) * c])
                    .for_each(|(p, &g)| *p += g);
            }
        }
    }
}

/// Output tiles `m [tiles, 16, F]` of one image transformed back (`Aᵀ M A`) into its
/// pixel-major outputs `yt [H·W, F]`, plus the bias. `tmp` is scratch of at least `4·F`.
#[inline(always)]
pub(super) fn output_tiles(
    t: Tiles,
    m: &[f32],
    f: usize,
    bias: &[f32],
    tmp: &mut [f32],
    yt: &mut [f32],
) {
    for ty in 0..t.th {
        for tx in 0..t.tw {
            let tile = &m[(ty * t.tw + tx) * XI * f..][..XI * f];
            let y4 = &mut tmp[..4 * f];
            groups(f, |k0| {
                let mut x = [[[0.0; L]; 4]; 4];
                for ij in 0..XI {
                    x[ij / 4][ij % 4] = load(&tile[ij * f + k0..]);
                }
                let bv = load(&bias[k0..]);
                // Aᵀ along each row, then along each column.
                let rows = [at(x[0]), at(x[1]), at(x[2]), at(x[3])];
                for bcol in 0..2 {
                    let col = at([rows[0][bcol], rows[1][bcol], rows[2][bcol], rows[3][bcol]]);
                    for (arow, lane) in col.iter().enumerate() {
                        store(&mut y4[(arow * 2 + bcol) * f + k0..], add(*lane, bv));
                    }
                }
            });
            for ab in 0..4 {
                let (r, s) = (2 * ty + ab / 2, 2 * tx + ab % 2);
                if r < t.h && s < t.w {
                    yt[(r * t.w + s) * f..][..f].copy_from_slice(&y4[ab * f..(ab + 1) * f]);
                }
            }
        }
    }
}

/// The adjoint of [`output_tiles`]: the pixel-major output gradient `gt [H·W, F]` of one image
/// as the gradients of its transformed output tiles, `dm [tiles, 16, F]` (`A dY Aᵀ`; outputs
/// past the map have none).
#[inline(always)]
pub(super) fn output_tiles_grad(t: Tiles, gt: &[f32], f: usize, zero: &[f32], dm: &mut [f32]) {
    for ty in 0..t.th {
        for tx in 0..t.tw {
            let g: [&[f32]; 4] = std::array::from_fn(|ab| {
                let (r, s) = (2 * ty + ab / 2, 2 * tx + ab % 2);
                if r >= t.h || s >= t.w {
                    &zero[..f]
                } else {
                    &gt[(r * t.w + s) * f..][..f]
                }
            });
            let out = &mut dm[(ty * t.tw + tx) * XI * f..][..XI * f];
            groups(f, |k0| {
                // A along each row (2 → 4), then along each column.
                let rows = [
                    a([load(&g[0][k0..]), load(&g[1][k0..])]),
                    a([load(&g[2][k0..]), load(&g[3][k0..])]),
                ];
                for j in 0..4 {
                    let col = a([rows[0][j], rows[1][j]]);
                    for (i, lane) in col.iter().enumerate() {
                        store(&mut out[(i * 4 + j) * f + k0..], *lane);
                    }
                }
            });
        }
    }
}

/// The 16 products `M[ξ] = V[ξ] · U[ξ]` for `tiles` tiles: `v [tiles, 16, C]`, `u [16, C, F]`,
/// into `m [tiles, 16, F]`.
#[inline(always)]
pub(super) fn products(v: &[f32], u: &[f32], tiles: usize, c: usize, f: usize, m: &mut [f32]) {
    for xi in 0..XI {
        gemm_views(
            1.0,
            &view(&v[xi * c..], (tiles, c), (XI * c, 1)),
            &view(&u[xi * c * f..], (c, f), (f, 1)),
            0.0,
            &mut view_mut(&mut m[xi * f..], (tiles, f), (XI * f, 1)),
        );
    }
}

/// The input side's adjoint of [`products`]: `dv[ξ] = dm[ξ] · U[ξ]ᵀ`.
#[inline(always)]
pub(super) fn products_grad_input(
    dm: &[f32],
    u: &[f32],
    tiles: usize,
    c: usize,
    f: usize,
    dv: &mut [f32],
) {
    for xi in 0..XI {
        gemm_views(
            1.0,
            &view(&dm[xi * f..], (tiles, f), (XI * f, 1)),
            &view(&u[xi * c * f..], (f, c), (1, f)),
            0.0,
            &mut view_mut(&mut dv[xi * c..], (tiles, c), (XI * c, 1)),
        );
    }
}

/// The filter side's adjoint of [`products`], accumulated: `du[ξ] += V[ξ]ᵀ · dm[ξ]`.
#[inline(always)]
pub(super) fn products_grad_filters(
    v: &[f32],
    dm: &[f32],
    tiles: usize,
    c: usize,
    f: usize,
    du: &mut [f32],
) {
    for xi in 0..XI {
        gemm_views(
            1.0,
            &view(&v[xi * c..], (c, tiles), (1, XI * c)),
            &view(&dm[xi * f..], (tiles, f), (XI * f, 1)),
            1.0,
            &mut view_mut(&mut du[xi * c * f..], (c, f), (f, 1)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Seed;
    use rand::Rng as _;

    /// 3×3 correlation with padding 1 of `x [C, H, W]` by `wt [F, C, 3, 3]`, plus `b`, in f64.
    fn direct(
        x: &[f32],
        wt: &[f32],
        b: &[f32],
        (c, h, w, f): (usize, usize, usize, usize),
    ) -> Vec<f64> {
        let mut y = vec![0.0f64; f * h * w];
        for fo in 0..f {
            for r in 0..h {
                for s in 0..w {
                    let mut acc = b[fo] as f64;
                    for ci in 0..c {
                        for i in 0..3 {
                            for j in 0..3 {
                                let (rr, ss) =
                                    (r as isize + i as isize - 1, s as isize + j as isize - 1);
                                if rr >= 0 && ss >= 0 && (rr as usize) < h && (ss as usize) < w {
                                    acc += wt[((fo * c + ci) * 3 + i) * 3 + j] as f64
                                        * x[(ci * h + rr as usize) * w + ss as usize] as f64;
                                }
                            }
                        }
                    }
                    y[(fo * h + r) * w + s] = acc;
                }
            }
        }
        y
    }

    fn close(got: &[f32], want: &[f64], what: &str) {
        let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (i, (&g, &e)) in got.iter().zip(want).enumerate() {
            assert!(
                (g as f64 - e).abs() < 1e-5 * scale,
                "{what}[{i}]: {g} vs {e}"
            );
        }
    }

    /// Forward, input gradient and filter gradient through the transforms and products, on
    /// two images of odd and even sizes, against
    /// the direct correlation and its adjoints (computed as sums over the same index pairs).
    #[test]
    fn winograd_matches_the_direct_convolution_and_its_adjoints() {
        let mut rng = Seed(5).rng("winograd");
        for (c, f, h, w) in [(16, 32, 7, 6), (32, 16, 6, 9), (16, 16, 2, 1)] {
            let m = 2;
            let hw = h * w;
            let mut rand = |n: usize| {
                (0..n)
                    .map(|_| rng.random::<f32>() - 0.5)
                    .collect::<Vec<f32>>()
            };
            let (x, wt, b, gy) = (rand(m * c * hw), rand(f * c * 9), rand(f), rand(m * f * hw));
            let t = Tiles::new(h, w);
            let tiles = m * t.per_image();
            let zero = vec![0.0f32; c.max(f)];
            let mut tmp = vec![0.0f32; XI * c.max(f)];
            let u = filters(&wt, f, c);
            // Forward.
            let mut v = vec![0.0f32; tiles * XI * c];
            let mut xt = vec![0.0f32; hw * c];
            for j in 0..m {
                transpose(&x[j * c * hw..], c, hw, hw, &mut xt, c);
                input_tiles(t, &xt, c, &zero, &mut v[j * t.per_image() * XI * c..]);
            }
            let mut mt = vec![0.0f32; tiles * XI * f];
            products(&v, &u, tiles, c, f, &mut mt);
            let mut yt = vec![0.0f32; hw * f];
            let mut y = vec![0.0f32; f * hw];
            for j in 0..m {
                output_tiles(
                    t,
                    &mt[j * t.per_image() * XI * f..],
                    f,
                    &b,
                    &mut tmp,
                    &mut yt,
                );
                transpose(&yt, hw, f, f, &mut y, hw);
                let want = direct(&x[j * c * hw..][..c * hw], &wt, &b, (c, h, w, f));
                close(
                    &y,
                    &want,
                    &format!("output of image {j}, {c}×{h}×{w} → {f}"),
                );
            }
            // Backward: the gradients of Σ gy · y.
            let mut dm = vec![0.0f32; tiles * XI * f];
            let mut gt = vec![0.0f32; hw * f];
            for j in 0..m {
                transpose(&gy[j * f * hw..], f, hw, hw, &mut gt, f);
                output_tiles_grad(t, &gt, f, &zero, &mut dm[j * t.per_image() * XI * f..]);
            }
            let mut du = vec![0.0f32; XI * c * f];
            products_grad_filters(&v, &dm, tiles, c, f, &mut du);
            let dw = filter_grad(&du, f, c);
            let mut dv = vec![0.0f32; tiles * XI * c];
            products_grad_input(&dm, &u, tiles, c, f, &mut dv);
            let mut want_dw = vec![0.0f64; f * c * 9];
            for j in 0..m {
                let mut dxt = vec![0.0f32; hw * c];
                input_tiles_grad(t, &dv[j * t.per_image() * XI * c..], c, &mut tmp, &mut dxt);
                let mut dx = vec![0.0f32; c * hw];
                transpose(&dxt, hw, c, c, &mut dx, hw);
                let mut want_dx = vec![0.0f64; c * hw];
                for fo in 0..f {
                    for r in 0..h {
                        for s in 0..w {
                            let g = gy[j * f * hw + (fo * h + r) * w + s] as f64;
                            for ci in 0..c {
                                for i in 0..3 {
                                    for jj in 0..3 {
                                        let (rr, ss) = (
                                            r as isize + i as isize - 1,
                                            s as isize + jj as isize - 1,
                                        );
                                        if rr < 0 || ss < 0 || rr as usize >= h || ss as usize >= w
                                        {
                                            continue;
                                        }
                                        let xi = (ci * h + rr as usize) * w + ss as usize;
                                        let wi = ((fo * c + ci) * 3 + i) * 3 + jj;
                                        want_dx[xi] += g * wt[wi] as f64;
                                        want_dw[wi] += g * x[j * c * hw + xi] as f64;
                                    }
                                }
                            }
                        }
                    }
                }
                close(
                    &dx,
                    &want_dx,
                    &format!("input gradient of image {j}, {c}×{h}×{w} → {f}"),
                );
            }
            close(
                &dw,
                &want_dw,
                &format!("filter gradient, {c}×{h}×{w} → {f}"),
            );
        }
    }
}
