//! One Conv4 block — 3×3 convolution (padding 1) + bias, batch norm, ReLU, 2×2 max-pool — as
//! one custom op with hand-written first-order kernels, for `f32`.
//!
//! The composed block unfolds the whole batch at once (a 400-image episode's second block is a
//! 180 MB im2col buffer), so a training step spends most of its time in page faults and memory
//! copies rather than in GEMM. Here im2col is done one chunk of images at a time into a buffer
//! that stays in cache. The GEMM writes straight into a channel-major `[F, N·H·W]` buffer (no
//! transposing copy; batch-norm statistics are taken per chunk while it is in cache), and
//! normalisation, ReLU and pooling run in one pass. Only that buffer, a one-byte window
//! position and x̂ per pooled output are kept for the backward pass, which builds each chunk's
//! output gradient directly in the GEMM layout. Large buffers come from core's per-thread pool.
//!
//! Two shapes get a different convolution. With 16 input channels or more on maps of 6 × 6
//! and larger (a training episode's second and third blocks) the convolution and both its
//! gradients run in the Winograd domain ([`winograd`], F(2×2, 3×3): 2.25× fewer
//! multiply-adds). With at most three input channels (the first block of an image network)
//! the convolution output is not kept: it is computed again, chunk by chunk, for the pooling
//! pass and the backward pass, which costs less than writing it to memory and reading it back.
//!
//! Threads: the batch is cut into at most eight pieces of whole im2col chunks
//! ([`image_pieces`], fixed by the batch size and map size alone), which run on the caller's
//! worker pool when it is one of its threads (else one after another). The convolution output
//! is kept as one `[F, images·H·W]` block per piece, so each piece writes its own memory; the
//! batch-norm statistics are combined chunk by chunk in batch order, and the backward pass's
//! weight and bias gradients are per-piece partial sums added in piece order. Outputs and
//! gradients therefore have the same bits on one thread, on two, and outside any pool.
//!
//! Differentiability: with recording off (plain training, `CreateGraph::No`) the backward pass
//! runs the fused kernels. When a gradient is itself recorded (`CreateGraph::Yes`), backward
//! instead differentiates the composition of core ops ([`super::composed_block`]), so the block
//! stays differentiable to any order, only slower.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use ndarray::ArrayD;

use super::{composed_block, view, view_mut, winograd, BN_EPS};
use crate::float::Float;
use crate::ops::matmul::gemm_views;
use crate::ops::norm::{BatchNormMode, BatchNormStats};
use crate::ops::pieces;
use crate::parallel::chunks;
use crate::pool::{give, scratch_vec, zeroed};
use crate::tape::{grad_with_seeds, is_grad_enabled, CreateGraph, CustomOp, Var};
use crate::Tensor;

/// `argmax` value of a pooled output whose window maximum is not positive (ReLU blocks it).
const NONE: u8 = u8::MAX;

/// The fused block on `T`'s tape, and the block itself (for its batch statistics), when `T` is
/// `f32` (the kernels' type); `None` otherwise. In [`BatchNormMode::Eval`] it normalises with
/// `stats` when there are some, as `batch_norm` does.
pub(super) fn op<T: Float>(
    mode: BatchNormMode,
    stats: Option<&BatchNormStats<T>>,
) -> Option<(Rc<FusedBlock>, Rc<dyn CustomOp<T>>)> {
    if TypeId::of::<T>() != TypeId::of::<f32>() {
        return None;
    }
    let running = match (mode, stats) {
        (BatchNormMode::Eval, Some(st)) => {
            let f32s = |v: &[T]| v.iter().map(|x| x.as_f64() as f32).collect::<Vec<f32>>();
            Some((f32s(&st.mean), f32s(&st.var)))
        }
        _ => None,
    };
    let block = Rc::new(FusedBlock::new(running));
    // `T` is f32: this only renames the op's type, which the compiler cannot see.
    let on_f32: Rc<dyn CustomOp<f32>> = block.clone();
    let boxed: Box<dyn Any> = Box::new(on_f32);
    let on_tape = boxed.downcast::<Rc<dyn CustomOp<T>>>().ok()?;
    Some((block, *on_tape))
}

/// What the forward pass keeps for the backward pass.
#[derive(Default)]
struct Saved {
    /// Convolution output (before batch norm), channel-major `[F, N·H·W]` (batch-statistics
    /// mode only: with running statistics the backward pass needs no dense activations).
    y: Vec<f32>,
    /// Per pooled output, the position of the window's maximum (0..4, row-major in the 2×2
    /// window), or [`NONE`] when the maximum is not positive.
    argmax: Vec<u8>,
    /// Per pooled output, the normalised pre-activation x̂ at the window's maximum.
    xhat_at: Vec<f32>,
    /// 1 / sqrt(var + ε) per channel (batch or running variance).
    inv_std: Vec<f32>,
    /// Mean per channel (batch or running).
    mean: Vec<f32>,
    /// Biased batch variance per channel (batch-statistics modes).
    var: Vec<f32>,
    /// The filters transformed for the Winograd form, when the block uses it (else empty).
    u: Vec<f32>,
}

impl Drop for Saved {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.y));
    }
}

/// The fused block; one instance per call.
pub(super) struct FusedBlock {
    /// Whether batch norm normalises with the batch's statistics.
    batch_stats: bool,
    /// Running mean and variance (used when `batch_stats` is false).
    running: Option<(Vec<f32>, Vec<f32>)>,
    saved: RefCell<Saved>,
}

fn slice(a: &ArrayD<f32>) -> Cow<'_, [f32]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().copied().collect()),
    }
}

fn tensor(shape: &[usize], v: Vec<f32>) -> Tensor<f32> {
    crate::ops::from_vec(shape, v)
}

/// Σ v, with eight f32 lanes (vectorisable) combined in f64. Inlined into the dispatched
/// passes, so compiled for AVX2/AVX-512 rather than the baseline.
#[inline(always)]
fn sum8(v: &[f32]) -> f64 {
    let mut acc = [0.0f32; 8];
    let it = v.chunks_exact(8);
    let rem = it.remainder();
    for c in it {
        for l in 0..8 {
            acc[l] += c[l];
        }
    }
    acc.iter().map(|&a| a as f64).sum::<f64>() + rem.iter().map(|&a| a as f64).sum::<f64>()
}

/// Σ (v − μ)², with eight f32 lanes combined in f64 (inlined as [`sum8`]).
#[inline(always)]
fn sqdev8(v: &[f32], mu: f32) -> f64 {
    let mut acc = [0.0f32; 8];
    let it = v.chunks_exact(8);
    let rem = it.remainder();
    for c in it {
        for l in 0..8 {
            let d = c[l] - mu;
            acc[l] += d * d;
        }
    }
    acc.iter().map(|&a| a as f64).sum::<f64>()
        + rem
            .iter()
            .map(|&a| ((a - mu) * (a - mu)) as f64)
            .sum::<f64>()
}
/// im2col of one `[C, H, W]` image for a 3×3 kernel with padding 1: `cols [C·9, H·W]`, rows
/// `ld` apart (`ld = H·W` for one image; a multiple of it to lay several images side by side).
#[inline(always)]
fn im2col3(x: &[f32], c: usize, h: usize, w: usize, cols: &mut [f32], ld: usize) {
    let hw = h * w;
    for ch in 0..c {
        let plane = &x[ch * hw..(ch + 1) * hw];
        for ki in 0..3 {
            // Output rows oh0..oh1 read input rows oh + ki − 1 inside the image.
            let (oh0, oh1) = (usize::from(ki == 0), if ki == 2 { h - 1 } else { h });
            for kj in 0..3 {
                let row = &mut cols[((ch * 3 + ki) * 3 + kj) * ld..][..hw];
                // Output p reads input p + off: one shifted copy of the whole plane (rather
                // than one short copy per image row), then the borders are zeroed.
                let off = (ki as isize - 1) * w as isize + kj as isize - 1;
                let p0 = (oh0 * w).max((-off).max(0) as usize);
                let p1 = (oh1 * w).min((hw as isize - off).max(0) as usize);
                row[..p0].fill(0.0);
                if p1 > p0 {
                    let s0 = (p0 as isize + off) as usize;
                    row[p0..p1].copy_from_slice(&plane[s0..s0 + (p1 - p0)]);
                }
                row[p1.max(p0)..].fill(0.0);
                // Columns that wrapped around to the neighbouring image row.
                match kj {
                    0 => (oh0..oh1).for_each(|oh| row[oh * w] = 0.0),
                    2 => (oh0..oh1).for_each(|oh| row[oh * w + w - 1] = 0.0),
                    _ => {}
                }
            }
        }
    }
}

/// col2im (the adjoint of [`im2col3`]): adds `cols [C·9, H·W]` (rows `ld` apart) into one
/// `[C, H, W]` image.
///
/// Row by row of the image, all nine kernel taps at once: each element is read and written
/// once instead of nine times, and the additions land in the taps' order (kernel row, then
/// column), the order of one pass per tap, so the sums have the same bits.
#[inline(always)]
fn col2im3(cols: &[f32], c: usize, h: usize, w: usize, x: &mut [f32], ld: usize) {
    let hw = h * w;
    for ch in 0..c {
        let plane = &mut x[ch * hw..(ch + 1) * hw];
        let tap =
            |ki: usize, kj: usize, oh: usize| &cols[((ch * 3 + ki) * 3 + kj) * ld + oh * w..][..w];
        for ih in 0..h {
            let line = &mut plane[ih * w..(ih + 1) * w];
            for ki in 0..3 {
                // Output row oh reads input row oh + ki − 1 through kernel row ki.
                let oh = ih + 1;
                if oh < ki || oh - ki >= h {
                    continue;
                }
                let oh = oh - ki;
                add_taps(line, tap(ki, 0, oh), tap(ki, 1, oh), tap(ki, 2, oh));
            }
        }
    }
}

/// One kernel row's three taps added into an image row, in column order:
/// `line[x] += s0[x + 1]` (x < w − 1), then `+= s1[x]`, then `+= s2[x − 1]` (x ≥ 1).
#[inline(always)]
fn add_taps(line: &mut [f32], s0: &[f32], s1: &[f32], s2: &[f32]) {
    let w = line.len();
    if w < 2 {
        line.iter_mut().zip(s1).for_each(|(d, s)| *d += s);
        return;
    }
    line[0] = line[0] + s0[1] + s1[0];
    for (((d, &a), &b), &c) in line[1..w - 1]
        .iter_mut()
        .zip(&s0[2..])
        .zip(&s1[1..w - 1])
        .zip(&s2[..w - 2])
    {
        *d = *d + a + b + c;
    }
    line[w - 1] = line[w - 1] + s1[w - 1] + s2[w - 2];
}

/// Largest im2col depth `C·9` at which a block computes its convolution again where it is
/// needed (pooling, backward) instead of keeping it: the first block of an image network
/// (`C` = 1 or 3) does 9 or 27 multiply-adds per output, less than the cost of writing the
/// output to memory and reading it back twice.
const RECOMPUTE_K: usize = 27;

/// Images per GEMM: enough columns (about 1,024) to amortise packing on small maps.
fn chunk_for(hw: usize) -> usize {
    (1024 / hw.max(1)).max(1)
}

// PIECE_DISPATCH: a piece runs on a pool thread, outside the caller's `pulp` dispatch, so it
// dispatches again. Its closure moves its arguments in, which makes it `FnOnce`: its body is
// then the function the dispatch inlines into the code compiled for AVX2/AVX-512. (An `Fn`
// closure is reached through a call shim that stays out of line, compiled for the baseline.)

/// Most pieces a batch is cut into for threads (see [`image_pieces`]).
const MAX_PIECES: usize = 8;

/// The batch's images `0..n` cut into at most [`MAX_PIECES`] pieces of whole chunks of
/// `chunk` images (the last chunk may be short): fixed by `n` and the chunk size alone, so
/// sums over pieces, added in piece order, have the same bits on any number of threads. A
/// piece boundary is always a chunk boundary, so the chunks are those of one sequential pass.
fn image_pieces(n: usize, chunk: usize) -> Vec<Range<usize>> {
    let units = n.div_ceil(chunk.max(1)).max(1);
    chunks(units, units.div_ceil(MAX_PIECES))
        .into_iter()
        .map(|u| (u.start * chunk).min(n)..(u.end * chunk).min(n))
        .collect()
}

/// The chunks `(first image, images)` of `chunk` images that make up the images `r`.
fn chunks_of(r: Range<usize>, chunk: usize) -> impl Iterator<Item = (usize, usize)> {
    r.clone()
        .step_by(chunk.max(1))
        .map(move |i0| (i0, chunk.min(r.end - i0)))
}

/// Per piece of `cut`: its images, and their pooled outputs, window positions and x̂ (each
/// image `row` elements, image-major).
fn piece_outputs<'a>(
    cut: &[Range<usize>],
    row: usize,
    out: &'a mut [f32],
    argmax: &'a mut [u8],
    xhat_at: &'a mut [f32],
) -> Vec<PieceOut<'a>> {
    let o = pieces::split_rows(out, row, cut);
    let a = pieces::split_rows(argmax, row, cut);
    let x = pieces::split_rows(xhat_at, row, cut);
    o.into_iter()
        .zip(a)
        .zip(x)
        .map(|(((r, o), (_, a)), (_, x))| (r, o, a, x))
        .collect()
}

/// Shapes of one block call.
#[derive(Clone, Copy)]
struct Dims {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    f: usize,
}

impl Dims {
    fn hw(&self) -> usize {
        self.h * self.w
    }
    fn k(&self) -> usize {
        self.c * 9
    }
    fn pooled(&self) -> usize {
        (self.h / 2) * (self.w / 2)
    }
}

/// im2col of images `i0..i0 + m` of `x [N, C, H, W]` side by side: `cols [C·9, m·H·W]`.
#[inline(always)]
fn im2col_chunk(d: Dims, x: &[f32], i0: usize, m: usize, cols: &mut [f32]) {
    let (hw, c) = (d.hw(), d.c);
    let ld = m * hw;
    for j in 0..m {
        let i = i0 + j;
        im2col3(
            &x[i * c * hw..(i + 1) * c * hw],
            c,
            d.h,
            d.w,
            &mut cols[j * hw..],
            ld,
        );
    }
}

/// The convolution (+ bias) of the `m` images unfolded in `cols` into `y`, channel-major:
/// channel `fo`'s `m·H·W` outputs are `y[fo·ld_y .. fo·ld_y + m·H·W]`.
#[inline(always)]
fn gemm_chunk(d: Dims, wt: &[f32], b: &[f32], m: usize, cols: &[f32], y: &mut [f32], ld_y: usize) {
    let ld = m * d.hw();
    for (fo, &bias) in b.iter().enumerate() {
        y[fo * ld_y..fo * ld_y + ld].fill(bias);
    }
    gemm_views(
        1.0,
        &view(wt, (d.f, d.k()), (d.k(), 1)),
        &view(cols, (d.k(), ld), (ld, 1)),
        1.0,
        &mut view_mut(y, (d.f, ld), (ld_y, 1)),
    );
}

/// How a block convolves: im2col and one GEMM (the weights `[F, C·9]`), or Winograd's
/// F(2×2, 3×3) (the transformed filters `[16, C, F]`, see [`winograd`]).
#[derive(Clone, Copy)]
enum Kernel<'a> {
    Im2col(&'a [f32]),
    Winograd(&'a [f32]),
}

impl<'a> Kernel<'a> {
    /// The filters transformed for the Winograd form when it applies to a block of shape `d`
    /// (kept from the forward pass for the backward pass), else nothing.
    fn transformed(d: Dims, wt: &[f32]) -> Vec<f32> {
        if winograd::applies(d.c, d.f, d.h, d.w) {
            winograd::filters(wt, d.f, d.c)
        } else {
            Vec::new()
        }
    }

    /// Winograd with the transformed filters `u` when there are some, else im2col on `wt`.
    fn of(wt: &'a [f32], u: &'a [f32]) -> Kernel<'a> {
        if u.is_empty() {
            Kernel::Im2col(wt)
        } else {
            Kernel::Winograd(u)
        }
    }
}

/// Per-piece scratch for convolving chunks of up to `chunk` images (and, for the backward
/// pass, their gradients), from core's pool.
struct Scratch {
    /// im2col columns `[C·9, chunk·H·W]`.
    cols: Vec<f32>,
    /// Winograd: one image pixel-major `[H·W, C]`.
    xt: Vec<f32>,
    /// Winograd: the chunk's transformed input tiles `[tiles, 16, C]`.
    v: Vec<f32>,
    /// Winograd: the chunk's output tiles, or their gradients, `[tiles, 16, F]`.
    m: Vec<f32>,
    /// Winograd: one image's outputs, or their gradients, pixel-major `[H·W, F]`.
    yt: Vec<f32>,
    /// Winograd backward: the gradients of the input tiles `[tiles, 16, C]`.
    dv: Vec<f32>,
    /// Winograd backward: one image's input gradient, pixel-major `[H·W, C]`.
    dxt: Vec<f32>,
    /// Winograd: one tile's worth of work, and zeros for the padding.
    tmp: Vec<f32>,
    zero: Vec<f32>,
}

impl Scratch {
    fn new(d: Dims, kernel: Kernel<'_>, chunk: usize, backward: bool) -> Self {
        let (hw, c, f) = (d.hw(), d.c, d.f);
        let none = Vec::new;
        match kernel {
            Kernel::Im2col(_) => Scratch {
                cols: scratch_vec(d.k() * hw * chunk),
                xt: none(),
                v: none(),
                m: none(),
                yt: none(),
                dv: none(),
                dxt: none(),
                tmp: none(),
                zero: none(),
            },
            Kernel::Winograd(_) => {
                let tiles = winograd::Tiles::new(d.h, d.w).per_image() * chunk;
                let cf = c.max(f);
                Scratch {
                    cols: none(),
                    xt: scratch_vec(hw * c),
                    v: scratch_vec(tiles * winograd::XI * c),
                    m: scratch_vec(tiles * winograd::XI * f),
                    yt: scratch_vec(hw * f),
                    dv: if backward {
                        scratch_vec(tiles * winograd::XI * c)
                    } else {
                        none()
                    },
                    dxt: if backward {
                        scratch_vec(hw * c)
                    } else {
                        none()
                    },
                    tmp: scratch_vec(winograd::XI * cf),
                    zero: vec![0.0; cf],
                }
            }
        }
    }

    /// The transformed input tiles of images `i0..i0 + m` of `x [N, C, H, W]` into `v`.
    #[inline(always)]
    fn input_tiles(&mut self, d: Dims, x: &[f32], i0: usize, m: usize) {
        let (hw, c) = (d.hw(), d.c);
        let t = winograd::Tiles::new(d.h, d.w);
        let per = t.per_image() * winograd::XI * c;
        for j in 0..m {
            winograd::transpose(&x[(i0 + j) * c * hw..], c, hw, hw, &mut self.xt, c);
            winograd::input_tiles(t, &self.xt, c, &self.zero, &mut self.v[j * per..]);
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for v in [
            &mut self.cols,
            &mut self.xt,
            &mut self.v,
            &mut self.m,
            &mut self.yt,
            &mut self.dv,
            &mut self.dxt,
            &mut self.tmp,
        ] {
            give(std::mem::take(v));
        }
    }
}

/// Convolution (+ bias) of images `i0..i0 + m` of `x [N, C, H, W]` into `y`, channel-major:
/// channel `fo`'s `m·H·W` outputs are `y[fo·ld_y .. fo·ld_y + m·H·W]`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn conv_chunk(
    d: Dims,
    x: &[f32],
    kernel: Kernel<'_>,
    b: &[f32],
    i0: usize,
    m: usize,
    s: &mut Scratch,
    y: &mut [f32],
    ld_y: usize,
) {
    match kernel {
        Kernel::Im2col(wt) => {
            im2col_chunk(d, x, i0, m, &mut s.cols);
            gemm_chunk(d, wt, b, m, &s.cols, y, ld_y);
        }
        Kernel::Winograd(u) => {
            let (hw, c, f) = (d.hw(), d.c, d.f);
            let t = winograd::Tiles::new(d.h, d.w);
            s.input_tiles(d, x, i0, m);
            winograd::products(&s.v, u, m * t.per_image(), c, f, &mut s.m);
            let per = t.per_image() * winograd::XI * f;
            for j in 0..m {
                winograd::output_tiles(t, &s.m[j * per..], f, b, &mut s.tmp, &mut s.yt);
                winograd::transpose(&s.yt, hw, f, f, &mut y[j * hw..], ld_y);
            }
        }
    }
}

/// Batch norm (given mean and 1/σ), affine, ReLU and 2×2 max-pool of one `[H, W]` plane:
/// writes the pooled outputs, the window position of each maximum and x̂ there.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pool_plane(
    plane: &[f32],
    w: usize,
    (ho, wo): (usize, usize),
    (mu, is, g, be): (f32, f32, f32, f32),
    out: &mut [f32],
    arg: &mut [u8],
    xat: &mut [f32],
) {
    // Inlined into the forward pass, which runs under `pulp`'s dispatch (see `Forward`): the
    // loop is branch-free so it vectorises at AVX2/AVX-512 width.
    for ph in 0..ho {
        let r0 = &plane[2 * ph * w..][..2 * wo];
        let r1 = &plane[(2 * ph + 1) * w..][..2 * wo];
        let q = ph * wo..(ph + 1) * wo;
        for ((((a, b), o), ag), xa) in r0
            .chunks_exact(2)
            .zip(r1.chunks_exact(2))
            .zip(&mut out[q.clone()])
            .zip(&mut arg[q.clone()])
            .zip(&mut xat[q])
        {
            let xh = [
                (a[0] - mu) * is,
                (a[1] - mu) * is,
                (b[0] - mu) * is,
                (b[1] - mu) * is,
            ];
            let z = [
                g * xh[0] + be,
                g * xh[1] + be,
                g * xh[2] + be,
                g * xh[3] + be,
            ];
            // The first maximum in window order (as core's max_pool2d), with selects only
            // (no index into `xh`), so the loop has no branch.
            let c01 = z[1] > z[0];
            let c23 = z[3] > z[2];
            let (b01, x01, a01) = if c01 {
                (z[1], xh[1], 1)
            } else {
                (z[0], xh[0], 0)
            };
            let (b23, x23, a23) = if c23 {
                (z[3], xh[3], 3)
            } else {
                (z[2], xh[2], 2)
            };
            let c = b23 > b01;
            let (best, xbest, at) = if c { (b23, x23, a23) } else { (b01, x01, a01) };
            let pos = best > 0.0;
            *o = if pos { best } else { 0.0 };
            *ag = if pos { at } else { NONE };
            *xa = if pos { xbest } else { 0.0 };
        }
    }
}

/// One piece's images, with its pooled outputs, window positions and x̂ (from [`piece_outputs`]).
type PieceOut<'a> = (Range<usize>, &'a mut [f32], &'a mut [u8], &'a mut [f32]);

/// Normalise (with per-channel mean and 1/σ, γ and β), ReLU and pool `m` images whose
/// convolution outputs are in `y`, channel-major (channel `fo` of image `j` at
/// `y[fo·ld + j·H·W..]`), into a piece's outputs from its image `at` on.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pool_images(
    d: Dims,
    y: &[f32],
    ld: usize,
    m: usize,
    at: usize,
    (mean, inv_std, g, be): (&[f32], &[f32], &[f32], &[f32]),
    (o, a, xh): (&mut [f32], &mut [u8], &mut [f32]),
) {
    let (f, hw, po) = (d.f, d.hw(), d.pooled());
    for fo in 0..f {
        let bn = (mean[fo], inv_std[fo], g[fo], be[fo]);
        for j in 0..m {
            let q0 = ((at + j) * f + fo) * po;
            let q = q0..q0 + po;
            pool_plane(
                &y[fo * ld + j * hw..][..hw],
                d.w,
                (d.h / 2, d.w / 2),
                bn,
                &mut o[q.clone()],
                &mut a[q.clone()],
                &mut xh[q],
            );
        }
    }
}

/// Normalise, ReLU and pool each piece from the saved convolution output `y` (one
/// channel-major block `[F, images·H·W]` per piece), with the given mean and 1/σ.
fn pool_pieces(
    d: Dims,
    (g, be): (&[f32], &[f32]),
    y: &[f32],
    (mean, inv_std): (&[f32], &[f32]),
    work: Vec<PieceOut<'_>>,
) {
    let (f, hw) = (d.f, d.hw());
    pieces::for_each(work, |(r, o, a, xh)| {
        pulp::Arch::new().dispatch(
            #[inline(always)]
            || {
                let (r, o, a, xh) = (r, o, a, xh); // moved in: see `PIECE_DISPATCH`
                let ld_y = r.len() * hw;
                let yb = &y[r.start * f * hw..][..f * ld_y];
                pool_images(d, yb, ld_y, r.len(), 0, (mean, inv_std, g, be), (o, a, xh));
            },
        )
    });
}

/// Convolve, normalise (with the given mean and 1/σ), ReLU and pool each piece chunk by
/// chunk, while the chunk's convolution output is in cache; nothing dense is kept.
fn conv_pool_pieces(
    d: Dims,
    (x, kernel, b, g, be): (&[f32], Kernel<'_>, &[f32], &[f32], &[f32]),
    chunk: usize,
    (mean, inv_std): (&[f32], &[f32]),
    work: Vec<PieceOut<'_>>,
) {
    let (f, hw) = (d.f, d.hw());
    pieces::for_each(work, |(r, o, a, xh)| {
        pulp::Arch::new().dispatch(
            #[inline(always)]
            || {
                let (r, o, a, xh) = (r, o, a, xh); // moved in: see `PIECE_DISPATCH`
                let mut sc = Scratch::new(d, kernel, chunk, false);
                let mut yc = scratch_vec(f * hw * chunk);
                for (i0, m) in chunks_of(r.clone(), chunk) {
                    let ld = m * hw;
                    conv_chunk(d, x, kernel, b, i0, m, &mut sc, &mut yc, ld);
                    let bn = (mean, inv_std, g, be);
                    pool_images(
                        d,
                        &yc,
                        ld,
                        m,
                        i0 - r.start,
                        bn,
                        (&mut *o, &mut *a, &mut *xh),
                    );
                }
                give(yc);
            },
        )
    });
}

impl FusedBlock {
    /// A block normalising with batch statistics (`running = None`) or with the given running
    /// mean and variance.
    fn new(running: Option<(Vec<f32>, Vec<f32>)>) -> Self {
        FusedBlock {
            batch_stats: running.is_none(),
            running,
            saved: RefCell::new(Saved::default()),
        }
    }

    /// After the forward pass, in batch-statistics mode: the batch mean and biased variance
    /// per channel.
    pub(super) fn batch_stats(&self) -> Option<(Vec<f32>, Vec<f32>)> {
        let s = self.saved.borrow();
        self.batch_stats.then(|| (s.mean.clone(), s.var.clone()))
    }

    /// The same block composed of core ops (the higher-order path).
    fn reference(&self, inputs: &[Var<f32>]) -> Var<f32> {
        let args = [inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]];
        match &self.running {
            None => composed_block(args, BatchNormMode::BatchStats, None),
            Some((mean, var)) => {
                let mut st = BatchNormStats {
                    mean: mean.clone(),
                    var: var.clone(),
                };
                composed_block(args, BatchNormMode::Eval, Some(&mut st))
            }
        }
    }
}

impl CustomOp<f32> for FusedBlock {
    fn name(&self) -> &str {
        "fused_conv_bn_relu_pool"
    }

    fn forward(&self, inputs: &[&ArrayD<f32>]) -> ArrayD<f32> {
        pulp::Arch::new().dispatch(Forward { op: self, inputs })
    }

    fn backward(&self, inputs: &[Var<f32>], output: Var<f32>, grad: Var<f32>) -> Vec<Var<f32>> {
        pulp::Arch::new().dispatch(Backward {
            op: self,
            inputs,
            output,
            grad,
        })
    }
}

/// [`FusedBlock`]'s forward pass, for `pulp`'s dispatch: the whole pass (its element-wise
/// loops: statistics, normalisation, pooling, im2col) is compiled for AVX2 and AVX-512 and the
/// best the CPU has runs; the workspace's baseline target has only SSE2.
struct Forward<'a, 'b> {
    op: &'a FusedBlock,
    inputs: &'a [&'b ArrayD<f32>],
}

impl pulp::WithSimd for Forward<'_, '_> {
    type Output = ArrayD<f32>;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> ArrayD<f32> {
        self.op.forward_impl(self.inputs)
    }
}

/// [`FusedBlock`]'s backward pass, for `pulp`'s dispatch (as [`Forward`]).
struct Backward<'a> {
    op: &'a FusedBlock,
    inputs: &'a [Var<f32>],
    output: Var<f32>,
    grad: Var<f32>,
}

impl pulp::WithSimd for Backward<'_> {
    type Output = Vec<Var<f32>>;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Vec<Var<f32>> {
        self.op.backward_impl(self.inputs, self.output, self.grad)
    }
}

impl FusedBlock {
    #[inline(always)]
    fn forward_impl(&self, inputs: &[&ArrayD<f32>]) -> ArrayD<f32> {
        let (xa, wa, ba, ga, bea) = (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]);
        let (xs, ws) = (xa.shape(), wa.shape());
        let f = ws.first().copied().unwrap_or(0);
        assert!(
            xs.len() == 4 && ws == [f, xs[1], 3, 3] && [ba, ga, bea].iter().all(|a| a.shape() == [f]),
            "shape error in a Conv4 block: input {xs:?}, weight {ws:?}, bias {:?}, gamma {:?}, beta {:?} (expected [N, C, H, W], [F, C, 3, 3], [F], [F], [F])",
            ba.shape(),
            ga.shape(),
            bea.shape()
        );
        let d = Dims {
            n: xs[0],
            c: xs[1],
            h: xs[2],
            w: xs[3],
            f,
        };
        let (n, hw, k) = (d.n, d.hw(), d.k());
        let (ho, wo) = (d.h / 2, d.w / 2);
        let po = d.pooled();
        let total = n * hw;
        let (x, wt, b, g, be) = (slice(xa), slice(wa), slice(ba), slice(ga), slice(bea));
        let (x, wt, b, g, be) = (&x[..], &wt[..], &b[..], &g[..], &be[..]);
        let chunk = chunk_for(hw).min(n.max(1));
        let cut = image_pieces(n, chunk);
        let u = Kernel::transformed(d, wt);
        let kernel = Kernel::of(wt, &u);
        let recompute = k <= RECOMPUTE_K && matches!(kernel, Kernel::Im2col(_));
        // The output becomes a tape value, whose buffer core's pool takes back when the tape
        // ends: drawing it from there reuses last step's pages. `pool_plane` writes every
        // element, so it need not be cleared.
        let mut out = scratch_vec::<f32>(n * f * po);
        let mut argmax = vec![NONE; n * f * po];
        let mut xhat_at = vec![0.0f32; n * f * po];
        let inv = |v: f32| (1.0 / (v as f64 + BN_EPS).sqrt()) as f32;
        let saved = if self.batch_stats {
            // Pass 1: convolution into y, each piece's images as their own channel-major
            // block [F, images·H·W]; statistics per chunk while it is in cache, combined in
            // chunk order below (Chan et al.'s pairwise update).
            // With few input channels the convolution costs less than reading its output
            // back from memory: it is computed again, chunk by chunk, where it is needed.
            let mut y = if recompute {
                Vec::new()
            } else {
                scratch_vec(f * total)
            };
            let blocks = pieces::split_rows(&mut y, if recompute { 0 } else { f * hw }, &cut);
            let chunk_stats = pieces::map(blocks, |(r, yb)| {
                pulp::Arch::new().dispatch(
                    #[inline(always)]
                    || {
                        let (r, yb) = (r, yb); // moved in: see `PIECE_DISPATCH`
                        let mut sc = Scratch::new(d, kernel, chunk, false);
                        let mut yc = if recompute {
                            scratch_vec(f * hw * chunk)
                        } else {
                            Vec::new()
                        };
                        let mut stats = Vec::new();
                        for (i0, m) in chunks_of(r.clone(), chunk) {
                            let ld = m * hw;
                            let (yv, at, ld_y) = if recompute {
                                (&mut yc[..], 0, ld)
                            } else {
                                (&mut yb[..], (i0 - r.start) * hw, r.len() * hw)
                            };
                            conv_chunk(d, x, kernel, b, i0, m, &mut sc, &mut yv[at..], ld_y);
                            let nb = ld as f64;
                            let per_channel: Vec<(f64, f64)> = (0..f)
                                .map(|fo| {
                                    let row = &yv[fo * ld_y + at..][..ld];
                                    let mb = sum8(row) / nb;
                                    (mb, sqdev8(row, mb as f32))
                                })
                                .collect();
                            stats.push((nb, per_channel));
                        }
                        give(yc);
                        stats
                    },
                )
            });
            let mut cnt = 0.0f64;
            let mut mean64 = vec![0.0f64; f];
            let mut m2 = vec![0.0f64; f];
            for (nb, per_channel) in chunk_stats.into_iter().flatten() {
                for (fo, &(mb, m2b)) in per_channel.iter().enumerate() {
                    let delta = mb - mean64[fo];
                    let tot = cnt + nb;
                    mean64[fo] += delta * nb / tot;
                    m2[fo] += m2b + delta * delta * cnt * nb / tot;
                }
                cnt += nb;
            }
            let mean: Vec<f32> = mean64.iter().map(|&v| v as f32).collect();
            let var: Vec<f32> = m2.iter().map(|&v| (v / total as f64) as f32).collect();
            let inv_std: Vec<f32> = var.iter().map(|&v| inv(v)).collect();
            // Pass 2: normalise, ReLU, pool, piece by piece.
            let work = piece_outputs(&cut, f * po, &mut out, &mut argmax, &mut xhat_at);
            if recompute {
                conv_pool_pieces(d, (x, kernel, b, g, be), chunk, (&mean, &inv_std), work);
            } else {
                pool_pieces(d, (g, be), &y, (&mean, &inv_std), work);
            }
            Saved {
                y,
                argmax,
                xhat_at,
                inv_std,
                mean,
                var,
                u,
            }
        } else {
            // Running statistics: each chunk is normalised and pooled while in cache; nothing
            // dense is kept.
            let (mean, var) = self.running.clone().unwrap_or_default();
            assert!(
                mean.len() == f && var.len() == f,
                "shape error in a Conv4 block: running statistics of {} and {} channels for {f} filters",
                mean.len(),
                var.len()
            );
            let inv_std: Vec<f32> = var.iter().map(|&v| inv(v)).collect();
            let work = piece_outputs(&cut, f * po, &mut out, &mut argmax, &mut xhat_at);
            conv_pool_pieces(d, (x, kernel, b, g, be), chunk, (&mean, &inv_std), work);
            Saved {
                y: Vec::new(),
                argmax,
                xhat_at,
                inv_std,
                mean,
                var,
                u,
            }
        };
        *self.saved.borrow_mut() = saved;
        tensor(&[n, f, ho, wo], out)
    }

    #[inline(always)]
    fn backward_impl(
        &self,
        inputs: &[Var<f32>],
        _output: Var<f32>,
        grad: Var<f32>,
    ) -> Vec<Var<f32>> {
        if is_grad_enabled() {
            // Recording the gradient: differentiate the reference composition instead.
            let out = self.reference(inputs);
            return grad_with_seeds(&[out], &[grad], inputs, CreateGraph::Yes);
        }
        let xs = inputs[0].shape();
        let f = inputs[1].shape()[0];
        let d = Dims {
            n: xs[0],
            c: xs[1],
            h: xs[2],
            w: xs[3],
            f,
        };
        let (n, c, h, w) = (d.n, d.c, d.h, d.w);
        let (hw, k) = (d.hw(), d.k());
        let (ho, wo) = (h / 2, w / 2);
        let po = d.pooled();
        let total = n * hw;
        let saved = self.saved.borrow();
        let gamma = inputs[3].value();
        let gamma = slice(&gamma);
        let wv = inputs[1].value();
        let wt = slice(&wv);
        let bv = inputs[2].value();
        let bias = slice(&bv);
        let bias = &bias[..];
        // The output gradient, copied into a reused scratch buffer (a fresh copy of a
        // training episode's gradient is tens of MB of new pages every step).
        let mut gbuf = scratch_vec(n * f * po);
        grad.with_value(|v| match v.as_slice() {
            Some(src) => gbuf[..src.len()].copy_from_slice(src),
            None => gbuf.iter_mut().zip(v.iter()).for_each(|(d, &s)| *d = s),
        });
        let gout = &gbuf[..n * f * po];
        // β and γ gradients: the ReLU and pool pass the gradient only at positive window
        // maxima, so they are sums over the pooled outputs.
        // Branch-free (a select on the mask; `xhat_at` is already 0 off the maxima) with
        // eight f32 lanes per pooled plane, which vectorises; the planes add up in f64. Each
        // channel's sums are its own, so channels are cut into pieces for threads.
        let (argmax, xhat_at) = (&saved.argmax[..], &saved.xhat_at[..]);
        let per_channel = pieces::map(chunks(f, f.div_ceil(MAX_PIECES)), |fr| {
            pulp::Arch::new().dispatch(
                #[inline(always)]
                || {
                    let fr = fr; // moved in: see `PIECE_DISPATCH`
                    fr.map(
                        #[inline(always)]
                        |fo| {
                            let (mut sg, mut sgx) = (0.0f64, 0.0f64);
                            for i in 0..n {
                                let o = (i * f + fo) * po;
                                let (g, a, xa) =
                                    (&gout[o..o + po], &argmax[o..o + po], &xhat_at[o..o + po]);
                                let (mut lg, mut lgx) = ([0.0f32; 8], [0.0f32; 8]);
                                let mut q = 0;
                                while q + 8 <= po {
                                    for l in 0..8 {
                                        let gv = g[q + l];
                                        lg[l] += if a[q + l] != NONE { gv } else { 0.0 };
                                        lgx[l] += gv * xa[q + l];
                                    }
                                    q += 8;
                                }
                                for r in q..po {
                                    lg[0] += if a[r] != NONE { g[r] } else { 0.0 };
                                    lgx[0] += g[r] * xa[r];
                                }
                                sg += lg.iter().map(|&v| v as f64).sum::<f64>();
                                sgx += lgx.iter().map(|&v| v as f64).sum::<f64>();
                            }
                            (sgx as f32, sg as f32)
                        },
                    )
                    .collect::<Vec<_>>()
                },
            )
        });
        let (dgamma, dbeta): (Vec<f32>, Vec<f32>) = per_channel.into_iter().flatten().unzip();
        // Gradient at the convolution output, per channel:
        //   batch statistics:   gy = s·gz − s·mean(gz) − s·mean(gz·x̂)·x̂,   s = γ/σ
        //   running statistics: gy = s·gz
        // where gz (the gradient after batch norm) is sparse: the pooled gradient at the
        // window maxima. The dense part is affine in y: cst + lin·(y − μ).
        let cnt = total as f32;
        let scale: Vec<f32> = (0..f).map(|fo| gamma[fo] * saved.inv_std[fo]).collect();
        let batch_stats = self.batch_stats;
        let (cst, lin): (Vec<f32>, Vec<f32>) = (0..f)
            .map(|fo| {
                if batch_stats {
                    (
                        -scale[fo] * dbeta[fo] / cnt,
                        -scale[fo] * dgamma[fo] / cnt * saved.inv_std[fo],
                    )
                } else {
                    (0.0, 0.0)
                }
            })
            .collect();
        let need_dx = inputs[0].requires_grad();
        let mut dx = if need_dx {
            zeroed::<f32>(n * c * hw)
        } else {
            Vec::new()
        };
        let chunk = chunk_for(hw).min(n.max(1));
        let cut = image_pieces(n, chunk);
        // The input, copied into reused scratch so that the loops below run in a vectorised
        // context (each piece dispatches) rather than in a tape closure compiled for the
        // baseline target.
        let mut xbuf = scratch_vec(n * c * hw);
        inputs[0].with_value(|xa| match xa.as_slice() {
            Some(src) => xbuf[..src.len()].copy_from_slice(src),
            None => xbuf.iter_mut().zip(xa.iter()).for_each(|(d, &s)| *d = s),
        });
        // Each piece of images: its own dx rows, and its partial weight and bias gradients,
        // added below in piece order (never in the order the threads finish).
        let dx_rows = if need_dx { c * hw } else { 0 };
        let dx_pieces = pieces::split_rows(&mut dx, dx_rows, &cut);
        let (x, wt, saved_r) = (&xbuf[..n * c * hw], &wt[..], &*saved);
        let (scale, cst, lin) = (&scale, &cst, &lin);
        let kernel = Kernel::of(wt, &saved.u);
        // The weight gradient's partial sums: of `[F, C·9]`, or of the transformed filters.
        let dw_len = match kernel {
            Kernel::Im2col(_) => f * k,
            Kernel::Winograd(_) => winograd::XI * c * f,
        };
        let partials = pieces::map(dx_pieces, |(r, dxp)| {
            pulp::Arch::new().dispatch(
                #[inline(always)]
                || {
                    let (r, dxp) = (r, dxp); // moved in: see `PIECE_DISPATCH`
                    let mut dw = vec![0.0f32; dw_len];
                    let mut db = vec![0.0f64; f];
                    let mut sc = Scratch::new(d, kernel, chunk, need_dx);
                    let im2col = matches!(kernel, Kernel::Im2col(_));
                    let mut dcols = if need_dx && im2col {
                        scratch_vec(k * hw * chunk)
                    } else {
                        Vec::new()
                    };
                    let mut gch = scratch_vec(f * hw * chunk);
                    // The convolution output is needed with batch statistics: this piece's
                    // saved block [F, images·H·W], or (not saved) each chunk's again.
                    let recompute = batch_stats && saved_r.y.is_empty();
                    let mut yc = if recompute {
                        scratch_vec(f * hw * chunk)
                    } else {
                        Vec::new()
                    };
                    let yb = if batch_stats && !recompute {
                        &saved_r.y[r.start * f * hw..][..f * r.len() * hw]
                    } else {
                        &[][..]
                    };
                    for (i0, m) in chunks_of(r.clone(), chunk) {
                        let ld = m * hw;
                        match kernel {
                            Kernel::Im2col(_) => im2col_chunk(d, x, i0, m, &mut sc.cols),
                            Kernel::Winograd(_) => sc.input_tiles(d, x, i0, m),
                        }
                        let (yv, at, ld_y) = if recompute {
                            gemm_chunk(d, wt, bias, m, &sc.cols, &mut yc, ld);
                            (&yc[..], 0, ld)
                        } else {
                            (yb, (i0 - r.start) * hw, r.len() * hw)
                        };
                        // The chunk's gy, channel-major [F, m·H·W] (the GEMM layout).
                        for fo in 0..f {
                            let grow = &mut gch[fo * ld..][..ld];
                            if batch_stats {
                                let yrow = &yv[fo * ld_y + at..][..ld];
                                let (cs, ln, mu) = (cst[fo], lin[fo], saved_r.mean[fo]);
                                grow.iter_mut()
                                    .zip(yrow)
                                    .for_each(|(gv, &yv)| *gv = cs + ln * (yv - mu));
                            } else {
                                grow.fill(0.0);
                            }
                            let s = scale[fo];
                            // Each pooled gradient goes to its window's maximum: written as a
                            // select on every position of the window (dense, no data-dependent
                            // branch or index), since which position wins is close to random.
                            for j in 0..m {
                                let o = ((i0 + j) * f + fo) * po;
                                let gp = &mut grow[j * hw..][..hw];
                                for ph in 0..ho {
                                    let q = o + ph * wo;
                                    let (am, gq) = (&argmax[q..q + wo], &gout[q..q + wo]);
                                    for di in 0..2 {
                                        let line = &mut gp[(2 * ph + di) * w..][..2 * wo];
                                        let (k0, k1) = (2 * di as u8, 2 * di as u8 + 1);
                                        for ((pair, &a), &gv) in
                                            line.chunks_exact_mut(2).zip(am).zip(gq)
                                        {
                                            let v = s * gv;
                                            pair[0] += if a == k0 { v } else { 0.0 };
                                            pair[1] += if a == k1 { v } else { 0.0 };
                                        }
                                    }
                                }
                            }
                            db[fo] += sum8(grow);
                        }
                        match kernel {
                            Kernel::Im2col(wt) => {
                                let g = view(&gch, (f, ld), (ld, 1));
                                gemm_views(
                                    1.0,
                                    &g,
                                    &view(&sc.cols, (k, ld), (ld, 1)).t(),
                                    1.0,
                                    &mut view_mut(&mut dw, (f, k), (k, 1)),
                                );
                                if need_dx {
                                    gemm_views(
                                        1.0,
                                        &view(wt, (f, k), (k, 1)).t(),
                                        &g,
                                        0.0,
                                        &mut view_mut(&mut dcols, (k, ld), (ld, 1)),
                                    );
                                    for j in 0..m {
                                        let at = (i0 - r.start + j) * c * hw;
                                        col2im3(
                                            &dcols[j * hw..],
                                            c,
                                            h,
                                            w,
                                            &mut dxp[at..at + c * hw],
                                            ld,
                                        );
                                    }
                                }
                            }
                            Kernel::Winograd(u) => {
                                let t = winograd::Tiles::new(h, w);
                                let tiles = m * t.per_image();
                                let per_f = t.per_image() * winograd::XI * f;
                                let per_c = t.per_image() * winograd::XI * c;
                                for j in 0..m {
                                    winograd::transpose(&gch[j * hw..], f, hw, ld, &mut sc.yt, f);
                                    winograd::output_tiles_grad(
                                        t,
                                        &sc.yt,
                                        f,
                                        &sc.zero,
                                        &mut sc.m[j * per_f..],
                                    );
                                }
                                winograd::products_grad_filters(&sc.v, &sc.m, tiles, c, f, &mut dw);
                                if need_dx {
                                    winograd::products_grad_input(
                                        &sc.m, u, tiles, c, f, &mut sc.dv,
                                    );
                                    for j in 0..m {
                                        sc.dxt[..hw * c].fill(0.0);
                                        winograd::input_tiles_grad(
                                            t,
                                            &sc.dv[j * per_c..],
                                            c,
                                            &mut sc.tmp,
                                            &mut sc.dxt,
                                        );
                                        let at = (i0 - r.start + j) * c * hw;
                                        winograd::transpose(&sc.dxt, hw, c, c, &mut dxp[at..], hw);
                                    }
                                }
                            }
                        }
                    }
                    drop(sc);
                    give(dcols);
                    give(gch);
                    give(yc);
                    (dw, db)
                },
            )
        });
        // The pieces' sums, in piece order.
        let mut dw = vec![0.0f32; dw_len];
        let mut db = vec![0.0f64; f];
        for (pw, pb) in partials {
            dw.iter_mut().zip(&pw).for_each(|(a, &v)| *a += v);
            db.iter_mut().zip(&pb).for_each(|(a, &v)| *a += v);
        }
        if let Kernel::Winograd(_) = kernel {
            dw = winograd::filter_grad(&dw, f, c);
        }
        give(xbuf);
        give(gbuf);
        let dx = if need_dx {
            Var::constant(tensor(&[n, c, h, w], dx))
        } else {
            Var::zeros(&[n, c, h, w])
        };
        let db: Vec<f32> = db.iter().map(|&v| v as f32).collect();
        vec![
            dx,
            Var::constant(tensor(&[f, c, 3, 3], dw)),
            Var::constant(tensor(&[f], db)),
            Var::constant(tensor(&[f], dgamma)),
            Var::constant(tensor(&[f], dbeta)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Conv4, Conv4Config};
    use super::*;
    use crate::params::Params;
    use crate::{grad, Seed, Tape};
    use rand::Rng as _;

    /// Output, then the gradients of a weighted sum of it with respect to every parameter and
    /// the input, of a 64-filter Conv4 on `images` 28×28 images, as bit patterns.
    fn run(mode: BatchNormMode, images: usize) -> Vec<Vec<u32>> {
        let mut params = Params::<f32>::new();
        let conv = Conv4::new(
            &mut params,
            "body",
            Conv4Config::default(),
            &mut Seed(8).rng("init"),
        );
        let mut rng = Seed(9).rng("x");
        let x = Tensor::from_shape_fn(ndarray::IxDyn(&[images, 1, 28, 28]), |_| {
            rng.random::<f32>()
        });
        let mut stats = conv.new_stats::<f32>();
        for st in stats.iter_mut() {
            for (i, (m, v)) in st.mean.iter_mut().zip(st.var.iter_mut()).enumerate() {
                *m = 0.01 * i as f32;
                *v = 0.5 + 0.02 * i as f32;
            }
        }
        let tape = Tape::<f32>::new();
        let p = tape.params(&params);
        let xv = Var::leaf(x);
        let out = conv.forward(&p, xv, mode, Some(&mut stats));
        let w = Var::constant(Tensor::from_shape_fn(out.value().raw_dim(), |d| {
            ((d[0] * 7 + d[1] * 3) % 11) as f32 * 0.1 - 0.5
        }));
        let mut wrt = p.clone();
        wrt.push(xv);
        let grads = grad(&[(out * w).sum()], &wrt, CreateGraph::No);
        let bits = |t: &Tensor<f32>| t.iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
        let mut all = vec![bits(&out.value())];
        all.extend(grads.iter().map(|g| bits(&g.value())));
        // Batch statistics feed the running ones (Train): those too.
        all.extend(stats.iter().map(|s| {
            s.mean
                .iter()
                .chain(&s.var)
                .map(|v| v.to_bits())
                .collect::<Vec<u32>>()
        }));
        all
    }

    /// A ProtoNet-sized batch (100 images: pieces of whole chunks in every block) gives the
    /// same bits, forward and backward, outside any pool, on one thread and on two.
    #[test]
    fn conv4_forward_and_backward_have_the_same_bits_on_any_thread_count() {
        for mode in [BatchNormMode::Train, BatchNormMode::Eval] {
            let here = run(mode, 100);
            assert!(here.iter().all(|v| !v.is_empty()));
            for threads in [1, 2] {
                let pool = crate::parallel::pool(threads).unwrap_or_else(|e| panic!("{e}"));
                let there = pool.install(|| run(mode, 100));
                assert!(here == there, "{mode:?} on {threads} threads: bits differ");
            }
        }
    }

    /// col2im, one tap at a time over the whole plane (the adjoint of im2col as written):
    /// the reference the fused row-by-row [`col2im3`] must match bit for bit.
    fn col2im_by_tap(cols: &[f32], c: usize, h: usize, w: usize, x: &mut [f32], ld: usize) {
        let hw = h * w;
        for ch in 0..c {
            let plane = &mut x[ch * hw..(ch + 1) * hw];
            for ki in 0..3 {
                for kj in 0..3 {
                    let row = &cols[((ch * 3 + ki) * 3 + kj) * ld..][..hw];
                    for oh in 0..h {
                        let ih = oh as isize + ki as isize - 1;
                        if ih < 0 || ih >= h as isize {
                            continue;
                        }
                        for x in 0..w {
                            let ix = x as isize + kj as isize - 1;
                            if ix >= 0 && ix < w as isize {
                                plane[ih as usize * w + ix as usize] += row[oh * w + x];
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn col2im_adds_every_tap_in_order_with_the_same_bits() {
        let mut rng = Seed(3).rng("cols");
        for (c, h, w, images) in [
            (1, 1, 1, 1),
            (2, 1, 3, 2),
            (3, 2, 1, 1),
            (2, 5, 2, 3),
            (4, 10, 10, 2),
            (3, 21, 21, 2),
            (2, 7, 9, 1),
        ] {
            let hw = h * w;
            let ld = images * hw;
            // Mixed magnitudes, so the order of additions shows in the low bits.
            let cols: Vec<f32> = (0..c * 9 * ld)
                .map(|_| rng.random::<f32>() * 10f32.powi(rng.random_range(-3..4)) - 0.3)
                .collect();
            for j in 0..images {
                let mut want = vec![0.0f32; c * hw];
                let mut got = vec![0.0f32; c * hw];
                col2im_by_tap(&cols[j * hw..], c, h, w, &mut want, ld);
                col2im3(&cols[j * hw..], c, h, w, &mut got, ld);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
                assert_eq!(bits(&got), bits(&want), "c {c}, h {h}, w {w}, image {j}");
            }
        }
    }

    #[test]
    fn image_pieces_are_whole_chunks_covering_the_batch() {
        for n in [0, 1, 5, 37, 100, 400] {
            for chunk in [1, 5, 20, 113] {
                let cut = image_pieces(n, chunk);
                assert!(cut.len() <= MAX_PIECES);
                assert_eq!(cut.first().map(|r| r.start), Some(0));
                assert_eq!(cut.last().map(|r| r.end), Some(n));
                assert!(cut.windows(2).all(|w| w[0].end == w[1].start));
                assert!(cut.iter().all(|r| r.start % chunk == 0));
                let total: usize = cut
                    .iter()
                    .map(|r| chunks_of(r.clone(), chunk).map(|(_, m)| m).sum::<usize>())
                    .sum();
                assert_eq!(total, n);
            }
        }
    }
}
