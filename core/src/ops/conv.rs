//! Convolution by `unfold` (im2col) and matmul; `fold` (col2im) is `unfold`'s adjoint and vice
//! versa, both linear, so every order of derivative follows. Pooling is composed from `unfold`.

use ndarray::ArrayD;

use super::from_vec;
use crate::float::Float;
use crate::tape::{ConvGeom, Op, Var};

/// `[N, C, H, W] → [N, L, C·kh·kw]` patches, `L = Ho·Wo`, zero outside the padded border.
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
    let (kh, kw) = g.kernel;
    let (sh, sw) = g.stride;
    let (ph, pw) = g.padding;
    let (c, h, w) = (g.channels, g.height, g.width);
    let p = g.patch_len();
    let l = ho * wo;
    let src = x
        .as_slice()
        .map(std::borrow::Cow::Borrowed)
        .unwrap_or_else(|| std::borrow::Cow::Owned(x.iter().copied().collect::<Vec<T>>()));
    let mut out = crate::pool::take::<T>(n * l * p);
    out.resize(n * l * p, T::zero());
    for b in 0..n {
        for oh in 0..ho {
            for ow in 0..wo {
                let row = &mut out[((b * l) + oh * wo + ow) * p..][..p];
                let mut q = 0;
                for ch in 0..c {
                    let plane = &src[(b * c + ch) * h * w..][..h * w];
                    for i in 0..kh {
                        let y = (oh * sh + i) as isize - ph as isize;
                        if y < 0 || y >= h as isize {
                            q += kw;
                            continue;
                        }
                        let line = &plane[y as usize * w..][..w];
                        for j in 0..kw {
                            let xx = (ow * sw + j) as isize - pw as isize;
                            if xx >= 0 && xx < w as isize {
                                row[q] = line[xx as usize];
                            }
                            q += 1;
                        }
                    }
                }
            }
        }
    }
    from_vec(&[n, l, p], out)
}

/// `[N, L, C·kh·kw] → [N, C, H, W]`, summing overlapping patches (the adjoint of unfold).
pub(crate) fn fold_value<T: Float>(cols: &ArrayD<T>, g: &ConvGeom) -> ArrayD<T> {
    let s = cols.shape();
    let (ho, wo) = g.out_hw();
    let p = g.patch_len();
    assert!(
        s.len() == 3 && s[1] == ho * wo && s[2] == p,
        "shape error in fold: expected [N, {}, {}], got {:?}",
        ho * wo,
        p,
        s
    );
    let n = s[0];
    let (kh, kw) = g.kernel;
    let (sh, sw) = g.stride;
    let (ph, pw) = g.padding;
    let (c, h, w) = (g.channels, g.height, g.width);
    let l = ho * wo;
    let src = cols
        .as_slice()
        .map(std::borrow::Cow::Borrowed)
        .unwrap_or_else(|| std::borrow::Cow::Owned(cols.iter().copied().collect::<Vec<T>>()));
    let mut out = crate::pool::take::<T>(n * c * h * w);
    out.resize(n * c * h * w, T::zero());
    for b in 0..n {
        for oh in 0..ho {
            for ow in 0..wo {
                let row = &src[((b * l) + oh * wo + ow) * p..][..p];
                let mut q = 0;
                for ch in 0..c {
                    let plane = &mut out[(b * c + ch) * h * w..][..h * w];
                    for i in 0..kh {
                        let y = (oh * sh + i) as isize - ph as isize;
                        if y < 0 || y >= h as isize {
                            q += kw;
                            continue;
                        }
                        for j in 0..kw {
                            let xx = (ow * sw + j) as isize - pw as isize;
                            if xx >= 0 && xx < w as isize {
                                plane[y as usize * w + xx as usize] += row[q];
                            }
                            q += 1;
                        }
                    }
                }
            }
        }
    }
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
    /// im2col: `[N, C, H, W] → [N, Ho·Wo, C·kh·kw]`.
    pub fn unfold(self, geom: ConvGeom) -> Var<T> {
        self.unary(Op::Unfold(self.id, geom), |x| unfold_value(x, &geom))
    }

    /// col2im: `[N, Ho·Wo, C·kh·kw] → [N, C, H, W]`, summing overlaps.
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
        let cols = self.unfold(geom); // [N, L, P]
        let w2 = weight.reshape(&[o, geom.patch_len()]); // [O, P]
                                                         // One GEMM over every patch of every image ([N·L, P] @ [P, O]); its gradients are one
                                                         // GEMM each too (the batch folds into the rows). Then a tiled transpose to [N, O, L].
        let mut y = cols.matmul_nt(w2); // [N, L, O]
        if let Some(b) = bias {
            y = y + b;
        }
        y.t().reshape(&[xs[0], o, ho, wo])
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
        let cols = flat.unfold(geom); // [N·C, L, k·k]
        let pooled = if max {
            cols.max_axis(2, false)
        } else {
            cols.mean_axes(&[2], false)
        };
        pooled.reshape(&[n, c, ho, wo])
    }
}
