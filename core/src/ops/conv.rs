//! Convolution by `unfold` (im2col) and matmul; `fold` (col2im) is `unfold`'s adjoint and vice
//! versa, both linear, so every order of derivative follows. Pooling is composed from `unfold`.

use ndarray::ArrayD;

use super::from_vec;
use crate::float::Float;
use crate::tape::{ConvGeom, Op, Var};

/// For kernel offset `j` along one axis: the output positions whose input index
/// `o·stride + j − pad` falls inside `0..len`, as a range `lo..hi` of output positions.
fn valid_range(out: usize, stride: usize, j: usize, pad: usize, len: usize) -> (usize, usize) {
    // o·s + j ≥ pad  ⇔  o ≥ ceil((pad − j) / s);   o·s + j − pad < len  ⇔  o < (len + pad − j) / s, rounded up.
    let lo = if j >= pad {
        0
    } else {
        (pad - j).div_ceil(stride)
    };
    let hi = if len + pad > j {
        (len + pad - j).div_ceil(stride).min(out)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// Calls `f(row, out_offset, in_offset, run)` for every run of patch elements that maps to
/// input pixels, in the `[N, C·kh·kw, Ho·Wo]` layout: row `q = (c·kh + i)·kw + j` of image
/// `b` holds input pixel `(c, oh·sh + i − ph, ow·sw + j − pw)` at column `oh·Wo + ow`.
/// A run is `run` consecutive output columns; input steps by the stride.
fn for_each_run(g: &ConvGeom, n: usize, mut f: impl FnMut(usize, usize, usize)) {
    let (ho, wo) = g.out_hw();
    let (kh, kw) = g.kernel;
    let (sh, sw) = g.stride;
    let (ph, pw) = g.padding;
    let (c, h, w) = (g.channels, g.height, g.width);
    let p = g.patch_len();
    let l = ho * wo;
    for b in 0..n {
        for ch in 0..c {
            let plane = (b * c + ch) * h * w;
            for i in 0..kh {
                let (oh_lo, oh_hi) = valid_range(ho, sh, i, ph, h);
                for j in 0..kw {
                    let (ow_lo, ow_hi) = valid_range(wo, sw, j, pw, w);
                    if ow_lo >= ow_hi {
                        continue;
                    }
                    let row = (b * p + (ch * kh + i) * kw + j) * l;
                    for oh in oh_lo..oh_hi {
                        let y = oh * sh + i - ph;
                        let x0 = ow_lo * sw + j - pw;
                        // (column offset, input offset) of the run's first element
                        f(row + oh * wo + ow_lo, plane + y * w + x0, ow_hi - ow_lo);
                    }
                }
            }
        }
    }
}

/// `[N, C, H, W] → [N, C·kh·kw, Ho·Wo]` patches (im2col), zero outside the padded border.
///
/// Each patch element is a row, so a row is a (strided) copy of an input row: the copies are
/// runs, not single elements, and the convolution is `W [O, C·kh·kw] @ cols` per image,
/// giving `[N, O, Ho·Wo]` (NCHW) with no transpose.
pub(crate) fn unfold_value<T: Float>(x: &ArrayD<T>, g: &ConvGeom) -> ArrayD<T> {
    let s = x.shape();
    assert!(
        s.len() == 4 && s[1] == g.channels && s[2] == g.height && s[3] == g.width,
        "shape error in unfold: expected [N, {}, {}, {}], got {:?}",
        g.channels,
        g.height,
        g.width,
        s
    );
    let n = s[0];
    let (ho, wo) = g.out_hw();
    let p = g.patch_len();
    let l = ho * wo;
    let src = x
        .as_slice()
        .map(std::borrow::Cow::Borrowed)
        .unwrap_or_else(|| std::borrow::Cow::Owned(x.iter().copied().collect::<Vec<T>>()));
    let mut out = crate::pool::take::<T>(n * p * l);
    out.resize(n * p * l, T::zero());
    let sw = g.stride.1;
    for_each_run(g, n, |o, i, run| {
        let dst = &mut out[o..o + run];
        if sw == 1 {
            dst.copy_from_slice(&src[i..i + run]);
        } else {
            for (k, d) in dst.iter_mut().enumerate() {
                *d = src[i + k * sw];
            }
        }
    });
    from_vec(&[n, p, l], out)
}

/// `[N, C·kh·kw, Ho·Wo] → [N, C, H, W]`, summing overlapping patches (the adjoint of unfold).
pub(crate) fn fold_value<T: Float>(cols: &ArrayD<T>, g: &ConvGeom) -> ArrayD<T> {
    let s = cols.shape();
    let (ho, wo) = g.out_hw();
    let p = g.patch_len();
    assert!(
        s.len() == 3 && s[1] == p && s[2] == ho * wo,
        "shape error in fold: expected [N, {}, {}], got {:?}",
        p,
        ho * wo,
        s
    );
    let n = s[0];
    let (c, h, w) = (g.channels, g.height, g.width);
    let src = cols
        .as_slice()
        .map(std::borrow::Cow::Borrowed)
        .unwrap_or_else(|| std::borrow::Cow::Owned(cols.iter().copied().collect::<Vec<T>>()));
    let mut out = crate::pool::take::<T>(n * c * h * w);
    out.resize(n * c * h * w, T::zero());
    let sw = g.stride.1;
    for_each_run(g, n, |o, i, run| {
        let from = &src[o..o + run];
        if sw == 1 {
            for (d, &v) in out[i..i + run].iter_mut().zip(from) {
                *d += v;
            }
        } else {
            for (k, &v) in from.iter().enumerate() {
                out[i + k * sw] += v;
            }
        }
    });
    from_vec(&[n, c, h, w], out)
}

fn geom_for(
    x: &[usize],
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
    op: &str,
) -> ConvGeom {
    assert!(
        x.len() == 4,
        "shape error in {op}: expected an [N, C, H, W] input, got {x:?}"
    );
    assert!(
        stride.0 > 0 && stride.1 > 0 && kernel.0 > 0 && kernel.1 > 0,
        "shape error in {op}: kernel and stride must be positive"
    );
    assert!(
        x[2] + 2 * padding.0 >= kernel.0 && x[3] + 2 * padding.1 >= kernel.1,
        "shape error in {op}: kernel {kernel:?} larger than padded input {x:?} (padding {padding:?})"
    );
    ConvGeom {
        channels: x[1],
        height: x[2],
        width: x[3],
        kernel,
        stride,
        padding,
    }
}

impl<T: Float> Var<T> {
    /// im2col: `[N, C, H, W] → [N, C·kh·kw, Ho·Wo]` (one row per patch element).
    pub fn unfold(self, geom: ConvGeom) -> Var<T> {
        self.unary(Op::Unfold(self.id, geom), |x| unfold_value(x, &geom))
    }

    /// col2im: `[N, C·kh·kw, Ho·Wo] → [N, C, H, W]`, summing overlaps.
    pub fn fold(self, geom: ConvGeom) -> Var<T> {
        self.unary(Op::Fold(self.id, geom), |x| fold_value(x, &geom))
    }

    /// 2-D convolution (cross-correlation, as in PyTorch): input `[N, C, H, W]`, weight
    /// `[O, C, kh, kw]`, optional bias `[O]`; output `[N, O, Ho, Wo]`.
    pub fn conv2d(
        self,
        weight: Var<T>,
        bias: Option<Var<T>>,
        stride: usize,
        padding: usize,
    ) -> Var<T> {
        let xs = self.shape();
        let ws = weight.shape();
        assert!(
            ws.len() == 4 && xs.len() == 4 && ws[1] == xs[1],
            "shape error in conv2d: input {xs:?} and weight {ws:?} (expected [N, C, H, W] and [O, C, kh, kw])"
        );
        let geom = geom_for(
            &xs,
            (ws[2], ws[3]),
            (stride, stride),
            (padding, padding),
            "conv2d",
        );
        let (ho, wo) = geom.out_hw();
        let o = ws[0];
        let cols = self.unfold(geom); // [N, P, L]
        let w2 = weight.reshape(&[o, geom.patch_len()]); // [O, P]
                                                         // One GEMM per image, [O, P] @ [P, L], straight into NCHW.
        let mut y = w2.matmul(cols); // [N, O, L]
        if let Some(b) = bias {
            y = y + b.reshape(&[o, 1]);
        }
        y.reshape(&[xs[0], o, ho, wo])
    }

    /// Max pooling over `k × k` windows with the given stride (no padding).
    pub fn max_pool2d(self, k: usize, stride: usize) -> Var<T> {
        self.pool2d(k, stride, true)
    }

    /// Average pooling over `k × k` windows with the given stride (no padding).
    pub fn avg_pool2d(self, k: usize, stride: usize) -> Var<T> {
        self.pool2d(k, stride, false)
    }

    fn pool2d(self, k: usize, stride: usize, max: bool) -> Var<T> {
        let xs = self.shape();
        let op = if max { "max_pool2d" } else { "avg_pool2d" };
        assert!(
            xs.len() == 4,
            "shape error in {op}: expected [N, C, H, W], got {xs:?}"
        );
        let (n, c) = (xs[0], xs[1]);
        let flat = self.reshape(&[n * c, 1, xs[2], xs[3]]);
        let geom = geom_for(
            flat.shape().as_slice(),
            (k, k),
            (stride, stride),
            (0, 0),
            op,
        );
        let (ho, wo) = geom.out_hw();
        let cols = flat.unfold(geom); // [N·C, k·k, L]
        let pooled = if max {
            cols.max_axis(1, false)
        } else {
            cols.mean_axes(&[1], false)
        };
        pooled.reshape(&[n, c, ho, wo])
    }
}
