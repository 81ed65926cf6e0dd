//! A fused Conv4 block — 3×3 convolution (padding 1) + bias, batch norm, ReLU, 2×2 max-pool —
//! as one custom op with hand-written first-order kernels.
//!
//! Core's `conv2d` unfolds the whole batch at once (a 400-image episode's second block is a
//! 180 MB im2col buffer), so a training episode spends most of its time in page faults and
//! memory copies rather than in GEMM. Here im2col is done one image at a time into a buffer
//! that stays in cache, the GEMM writes NCHW directly, and batch norm, ReLU and pooling run in
//! one pass each way.
//!
//! Differentiability: with recording off (plain training, `CreateGraph::No`) the backward pass
//! runs the fused kernels. When a gradient is itself recorded (`CreateGraph::Yes`), backward
//! instead differentiates the reference composition of core ops (`conv2d`, `batch_norm`,
//! `relu`, `max_pool2d`), so the block stays differentiable to any order, only slower.

use std::cell::RefCell;
use std::rc::Rc;

use autodidact_core::{
    batch_norm, grad_with_seeds, is_grad_enabled, BatchNormMode, CreateGraph, CustomOp, Tensor, Var,
};
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayD, ArrayView2, ArrayViewMut2, IxDyn};

/// Batch-norm ε, as core's Conv4.
pub const BN_EPS: f64 = 1e-5;

/// What the forward pass keeps for the backward pass.
#[derive(Default)]
struct Saved {
    /// Normalised pre-activations x̂, `[N, F, H, W]`.
    xhat: Vec<f32>,
    /// Per output element, the flat offset (within its `H·W` plane) of the window's maximum,
    /// or `u32::MAX` when the maximum is not positive (ReLU blocks the gradient).
    argmax: Vec<u32>,
    /// 1 / sqrt(var + ε) per channel (batch or running variance).
    inv_std: Vec<f32>,
    /// Batch mean per channel (batch-statistics modes).
    mean: Vec<f32>,
    /// Biased batch variance per channel (batch-statistics modes).
    var: Vec<f32>,
}

/// The fused block; one instance per call.
pub struct FusedBlock {
    /// Whether batch norm normalises with the batch's statistics.
    batch_stats: bool,
    /// Running mean and variance (used when `batch_stats` is false).
    running: Option<(Vec<f32>, Vec<f32>)>,
    saved: RefCell<Saved>,
}

fn slice(a: &ArrayD<f32>) -> std::borrow::Cow<'_, [f32]> {
    match a.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(a.iter().copied().collect()),
    }
}

fn view2(s: &[f32], r: usize, c: usize) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((r, c), &s[..r * c]).unwrap_or_else(|e| panic!("fused view: {e}"))
}

fn view2_mut(s: &mut [f32], r: usize, c: usize) -> ArrayViewMut2<'_, f32> {
    ArrayViewMut2::from_shape((r, c), &mut s[..r * c]).unwrap_or_else(|e| panic!("fused view: {e}"))
}

fn tensor(shape: &[usize], v: Vec<f32>) -> Tensor<f32> {
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap_or_else(|e| panic!("fused tensor: {e}"))
}

/// im2col of one `[C, H, W]` image for a 3×3 kernel with padding 1: `cols [C·9, H·W]`, rows
/// `ld` apart (`ld = H·W` for one image; a multiple of it to lay several images side by side).
pub fn im2col3(x: &[f32], c: usize, h: usize, w: usize, cols: &mut [f32], ld: usize) {
    let hw = h * w;
    for ch in 0..c {
        let plane = &x[ch * hw..(ch + 1) * hw];
        for ki in 0..3 {
            for kj in 0..3 {
                let row = &mut cols[((ch * 3 + ki) * 3 + kj) * ld..][..hw];
                for oh in 0..h {
                    let ih = oh as isize + ki as isize - 1;
                    let out = &mut row[oh * w..(oh + 1) * w];
                    if ih < 0 || ih >= h as isize {
                        out.fill(0.0);
                        continue;
                    }
                    let line = &plane[ih as usize * w..(ih as usize + 1) * w];
                    // Output column ow reads input column ow + kj − 1.
                    match kj {
                        0 => {
                            out[0] = 0.0;
                            out[1..].copy_from_slice(&line[..w - 1]);
                        }
                        1 => out.copy_from_slice(line),
                        _ => {
                            out[..w - 1].copy_from_slice(&line[1..]);
                            out[w - 1] = 0.0;
                        }
                    }
                }
            }
        }
    }
}

/// col2im (the adjoint of [`im2col3`]): adds `cols [C·9, H·W]` (rows `ld` apart) into one
/// `[C, H, W]` image.
pub fn col2im3(cols: &[f32], c: usize, h: usize, w: usize, x: &mut [f32], ld: usize) {
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
                    let src = &row[oh * w..(oh + 1) * w];
                    let line = &mut plane[ih as usize * w..(ih as usize + 1) * w];
                    match kj {
                        0 => line[..w - 1]
                            .iter_mut()
                            .zip(&src[1..])
                            .for_each(|(d, s)| *d += s),
                        1 => line.iter_mut().zip(src).for_each(|(d, s)| *d += s),
                        _ => line[1..]
                            .iter_mut()
                            .zip(&src[..w - 1])
                            .for_each(|(d, s)| *d += s),
                    }
                }
            }
        }
    }
}

/// Images per GEMM: enough columns (about 1,024) to amortise packing on small maps.
pub fn chunk_for(hw: usize) -> usize {
    (1024 / hw.max(1)).max(1)
}

/// `y [N, F, H, W] = conv3x3(x [N, C, H, W], w [F, C, 3, 3]) + b`.
pub fn conv3x3_forward(
    x: &[f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    wt: &[f32],
    b: &[f32],
) -> Vec<f32> {
    let f = b.len();
    let (hw, k) = (h * w, c * 9);
    let chunk = chunk_for(hw).min(n.max(1));
    let mut cols = vec![0.0f32; k * hw * chunk];
    let mut tmp = vec![0.0f32; f * hw * chunk];
    let mut y = vec![0.0f32; n * f * hw];
    let wv = view2(wt, f, k);
    let mut i0 = 0;
    while i0 < n {
        let m = chunk.min(n - i0);
        let ld = m * hw;
        for j in 0..m {
            let i = i0 + j;
            im2col3(
                &x[i * c * hw..(i + 1) * c * hw],
                c,
                h,
                w,
                &mut cols[j * hw..],
                ld,
            );
        }
        if m == 1 {
            let out = &mut y[i0 * f * hw..(i0 + 1) * f * hw];
            for (fo, row) in out.chunks_mut(hw).enumerate() {
                row.fill(b[fo]);
            }
            general_mat_mul(
                1.0,
                &wv,
                &view2(&cols, k, ld),
                1.0,
                &mut view2_mut(out, f, ld),
            );
        } else {
            general_mat_mul(
                1.0,
                &wv,
                &view2(&cols, k, ld),
                0.0,
                &mut view2_mut(&mut tmp, f, ld),
            );
            for j in 0..m {
                for fo in 0..f {
                    let dst = &mut y[((i0 + j) * f + fo) * hw..][..hw];
                    let src = &tmp[fo * ld + j * hw..][..hw];
                    let bias = b[fo];
                    dst.iter_mut().zip(src).for_each(|(d, &s)| *d = s + bias);
                }
            }
        }
        i0 += m;
    }
    y
}

impl FusedBlock {
    /// A block normalising with batch statistics (`running = None`) or with the given running
    /// mean and variance.
    pub fn new(running: Option<(Vec<f32>, Vec<f32>)>) -> Self {
        FusedBlock {
            batch_stats: running.is_none(),
            running,
            saved: RefCell::new(Saved::default()),
        }
    }

    /// Applies the block to `x [N, C, H, W]` with weight, bias, γ, β; returns the output and,
    /// in batch-statistics mode, the batch mean and biased variance per channel.
    pub fn apply(
        running: Option<(Vec<f32>, Vec<f32>)>,
        x: Var<f32>,
        wt: Var<f32>,
        b: Var<f32>,
        gamma: Var<f32>,
        beta: Var<f32>,
    ) -> (Var<f32>, Option<(Vec<f32>, Vec<f32>)>) {
        let op = Rc::new(FusedBlock::new(running));
        let out = Var::custom(op.clone(), &[x, wt, b, gamma, beta]);
        let s = op.saved.borrow();
        let stats = op.batch_stats.then(|| (s.mean.clone(), s.var.clone()));
        (out, stats)
    }

    /// The same block composed of core ops (the reference, and the higher-order path).
    pub fn reference(
        &self,
        x: Var<f32>,
        wt: Var<f32>,
        b: Var<f32>,
        gamma: Var<f32>,
        beta: Var<f32>,
    ) -> Var<f32> {
        let y = x.conv2d(wt, Some(b), 1, 1);
        let z = match &self.running {
            None => batch_norm(y, gamma, beta, None, BatchNormMode::BatchStats, 0.1, BN_EPS),
            Some((m, v)) => {
                let mut st = autodidact_core::BatchNormStats {
                    mean: m.clone(),
                    var: v.clone(),
                };
                batch_norm(
                    y,
                    gamma,
                    beta,
                    Some(&mut st),
                    BatchNormMode::Eval,
                    0.1,
                    BN_EPS,
                )
            }
        };
        z.relu().max_pool2d(2, 2)
    }
}

impl CustomOp<f32> for FusedBlock {
    fn name(&self) -> &str {
        "fused_conv_bn_relu_pool"
    }

    fn forward(&self, inputs: &[&ArrayD<f32>]) -> ArrayD<f32> {
        let (xa, wa, ba, ga, bea) = (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]);
        let xs = xa.shape();
        let (n, c, h, w) = (xs[0], xs[1], xs[2], xs[3]);
        let f = wa.shape()[0];
        assert!(
            wa.shape() == [f, c, 3, 3],
            "shape error in fused conv block: input {xs:?}, weight {:?}",
            wa.shape()
        );
        let hw = h * w;
        let (x, wt, b, g, be) = (slice(xa), slice(wa), slice(ba), slice(ga), slice(bea));
        let mut y = conv3x3_forward(&x, n, c, h, w, &wt, &b);
        // Batch norm statistics.
        let (mean, var) = if self.batch_stats {
            let m = (n * hw) as f64;
            let mut mean = vec![0.0f32; f];
            let mut var = vec![0.0f32; f];
            for fo in 0..f {
                let mut s = 0.0f64;
                for i in 0..n {
                    s += y[(i * f + fo) * hw..][..hw]
                        .iter()
                        .map(|&v| v as f64)
                        .sum::<f64>();
                }
                let mu = s / m;
                let mut q = 0.0f64;
                let mu32 = mu as f32;
                for i in 0..n {
                    q += y[(i * f + fo) * hw..][..hw]
                        .iter()
                        .map(|&v| (v - mu32) * (v - mu32))
                        .sum::<f32>() as f64;
                }
                mean[fo] = mu as f32;
                var[fo] = (q / m) as f32;
            }
            (mean, var)
        } else {
            let (m, v) = self.running.clone().unwrap_or_default();
            (m, v)
        };
        let inv_std: Vec<f32> = var
            .iter()
            .map(|&v| (1.0 / (v as f64 + BN_EPS).sqrt()) as f32)
            .collect();
        // Normalise in place (y becomes x̂), then ReLU and pool.
        let (ho, wo) = (h / 2, w / 2);
        let mut out = vec![0.0f32; n * f * ho * wo];
        let mut argmax = vec![u32::MAX; n * f * ho * wo];
        for i in 0..n {
            for fo in 0..f {
                let plane = &mut y[(i * f + fo) * hw..][..hw];
                let (mu, is) = (mean[fo], inv_std[fo]);
                plane.iter_mut().for_each(|v| *v = (*v - mu) * is);
                let (gg, bb) = (g[fo], be[fo]);
                let o = (i * f + fo) * ho * wo;
                for ph in 0..ho {
                    for pw in 0..wo {
                        let mut best = f32::NEG_INFINITY;
                        let mut at = 0u32;
                        for di in 0..2 {
                            for dj in 0..2 {
                                let p = (2 * ph + di) * w + 2 * pw + dj;
                                let z = gg * plane[p] + bb;
                                if z > best {
                                    best = z;
                                    at = p as u32;
                                }
                            }
                        }
                        if best > 0.0 {
                            out[o + ph * wo + pw] = best;
                            argmax[o + ph * wo + pw] = at;
                        }
                    }
                }
            }
        }
        *self.saved.borrow_mut() = Saved {
            xhat: y,
            argmax,
            inv_std,
            mean,
            var,
        };
        tensor(&[n, f, ho, wo], out)
    }

    fn backward(&self, inputs: &[Var<f32>], _output: Var<f32>, grad: Var<f32>) -> Vec<Var<f32>> {
        if is_grad_enabled() {
            // Recording the gradient: differentiate the reference composition instead.
            let out = self.reference(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]);
            return grad_with_seeds(&[out], &[grad], inputs, CreateGraph::Yes);
        }
        let xs = inputs[0].shape();
        let (n, c, h, w) = (xs[0], xs[1], xs[2], xs[3]);
        let f = inputs[1].shape()[0];
        let (hw, k) = (h * w, c * 9);
        let (ho, wo) = (h / 2, w / 2);
        let saved = self.saved.borrow();
        let gamma = inputs[3].value();
        let gamma = slice(&gamma);
        let gout = grad.value();
        let gout = slice(&gout);
        // Through the pooling and the ReLU: gz is non-zero only at positive window maxima.
        let mut gz = vec![0.0f32; n * f * hw];
        for (j, &at) in saved.argmax.iter().enumerate() {
            if at != u32::MAX {
                let plane = j / (ho * wo);
                gz[plane * hw + at as usize] = gout[j];
            }
        }
        // Through batch norm.
        let mut dgamma = vec![0.0f32; f];
        let mut dbeta = vec![0.0f32; f];
        for fo in 0..f {
            let (mut sg, mut sgx) = (0.0f64, 0.0f64);
            for i in 0..n {
                let o = (i * f + fo) * hw;
                for (gv, xv) in gz[o..o + hw].iter().zip(&saved.xhat[o..o + hw]) {
                    sg += *gv as f64;
                    sgx += (*gv * *xv) as f64;
                }
            }
            dgamma[fo] = sgx as f32;
            dbeta[fo] = sg as f32;
        }
        let m = (n * hw) as f32;
        let mut gy = gz;
        for fo in 0..f {
            let scale = gamma[fo] * saved.inv_std[fo];
            let (mg, mgx) = (dbeta[fo] / m, dgamma[fo] / m);
            for i in 0..n {
                let o = (i * f + fo) * hw;
                let (gp, xp) = (&mut gy[o..o + hw], &saved.xhat[o..o + hw]);
                if self.batch_stats {
                    gp.iter_mut()
                        .zip(xp)
                        .for_each(|(gv, &xv)| *gv = scale * (*gv - mg - xv * mgx));
                } else {
                    gp.iter_mut().for_each(|gv| *gv *= scale);
                }
            }
        }
        let mut db = vec![0.0f32; f];
        for i in 0..n {
            for fo in 0..f {
                db[fo] += gy[(i * f + fo) * hw..][..hw].iter().sum::<f32>();
            }
        }
        // Through the convolution.
        let xv = inputs[0].value();
        let x = slice(&xv);
        let wv = inputs[1].value();
        let wt = slice(&wv);
        let need_dx = inputs[0].requires_grad();
        let mut dw = vec![0.0f32; f * k];
        let mut dx = if need_dx {
            vec![0.0f32; n * c * hw]
        } else {
            Vec::new()
        };
        let chunk = chunk_for(hw).min(n.max(1));
        let mut cols = vec![0.0f32; k * hw * chunk];
        let mut dcols = vec![0.0f32; k * hw * chunk];
        let mut gchunk = vec![0.0f32; f * hw * chunk];
        let mut i0 = 0;
        while i0 < n {
            let m = chunk.min(n - i0);
            let ld = m * hw;
            for j in 0..m {
                let i = i0 + j;
                im2col3(
                    &x[i * c * hw..(i + 1) * c * hw],
                    c,
                    h,
                    w,
                    &mut cols[j * hw..],
                    ld,
                );
                for fo in 0..f {
                    gchunk[fo * ld + j * hw..][..hw]
                        .copy_from_slice(&gy[(i * f + fo) * hw..][..hw]);
                }
            }
            let g = view2(&gchunk, f, ld);
            general_mat_mul(
                1.0,
                &g,
                &view2(&cols, k, ld).t(),
                1.0,
                &mut view2_mut(&mut dw, f, k),
            );
            if need_dx {
                general_mat_mul(
                    1.0,
                    &view2(&wt, f, k).t(),
                    &g,
                    0.0,
                    &mut view2_mut(&mut dcols, k, ld),
                );
                for j in 0..m {
                    let i = i0 + j;
                    col2im3(
                        &dcols[j * hw..],
                        c,
                        h,
                        w,
                        &mut dx[i * c * hw..(i + 1) * c * hw],
                        ld,
                    );
                }
            }
            i0 += m;
        }
        let dx = if need_dx {
            Var::constant(tensor(&[n, c, h, w], dx))
        } else {
            Var::zeros(&[n, c, h, w])
        };
        vec![
            dx,
            Var::constant(tensor(&[f, c, 3, 3], dw)),
            Var::constant(tensor(&[f], db)),
            Var::constant(tensor(&[f], dgamma)),
            Var::constant(tensor(&[f], dbeta)),
        ]
    }
}
