//! Reductions: sum, mean, max/min over an axis; logsumexp, softmax and log_softmax composed
//! from them.

use ndarray::{ArrayD, Axis};

use crate::float::Float;
use crate::tape::{Op, Var};

/// Bit mask of the axes to reduce; panics naming the op when an axis is out of range.
fn axis_mask(op: &str, axes: &[usize], nd: usize) -> u8 {
    let mut m = 0u8;
    for &a in axes {
        assert!(
            a < nd && a < 8,
            "shape error in {op}: axis {a} out of range for rank {nd}"
        );
        m |= 1 << a;
    }
    m
}

pub(crate) fn sum_axes_value<T: Float>(a: &ArrayD<T>, mask: u8, keepdim: bool) -> ArrayD<T> {
    if a.is_standard_layout() {
        let kept = keepdim_shape(a.shape(), mask);
        let summed = crate::ops::shape::sum_to_shape_value(a, &kept);
        if keepdim {
            return summed;
        }
        let squeezed: Vec<usize> = a
            .shape()
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) == 0)
            .map(|(_, &d)| d)
            .collect();
        let (v, _) = summed.into_raw_vec_and_offset();
        return crate::ops::from_vec(&squeezed, v);
    }
    let mut out = a.clone();
    for ax in (0..a.ndim()).rev() {
        if mask & (1 << ax) != 0 {
            out = out.sum_axis(Axis(ax));
            if keepdim {
                out = out.insert_axis(Axis(ax));
            }
        }
    }
    out
}

/// The shape after reducing the masked axes with keepdim.
pub(crate) fn keepdim_shape(shape: &[usize], mask: u8) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if mask & (1 << i) != 0 { 1 } else { d })
        .collect()
}

impl<T: Float> Var<T> {
    /// Sum of every element (a scalar).
    pub fn sum(self) -> Var<T> {
        let nd = self.ndim();
        if nd == 0 {
            return self;
        }
        let mask = ((1u16 << nd) - 1) as u8;
        self.unary(Op::Sum(self.id, mask, false), |a| {
            let s: T = match a.as_slice() {
                Some(x) => x.iter().copied().sum(),
                None => a.iter().copied().sum(),
            };
            crate::pool::filled(&[], s)
        })
    }

    /// Sum over `axes`, keeping them as length 1 when `keepdim`.
    pub fn sum_axes(self, axes: &[usize], keepdim: bool) -> Var<T> {
        let mask = axis_mask("sum", axes, self.ndim());
        if mask == 0 {
            return self;
        }
        self.unary(Op::Sum(self.id, mask, keepdim), |a| {
            sum_axes_value(a, mask, keepdim)
        })
    }

    /// Mean of every element (a scalar).
    pub fn mean(self) -> Var<T> {
        let n = self.with_value(|v| v.len());
        self.sum().mul_scalar(1.0 / n.max(1) as f64)
    }

    /// Mean over `axes`.
    pub fn mean_axes(self, axes: &[usize], keepdim: bool) -> Var<T> {
        let shape = self.shape();
        let n: usize = axes
            .iter()
            .map(|&a| shape.get(a).copied().unwrap_or(1))
            .product();
        self.sum_axes(axes, keepdim)
            .mul_scalar(1.0 / n.max(1) as f64)
    }

    /// Biased variance over `axes` (as batch and layer norm use).
    pub fn var_axes(self, axes: &[usize], keepdim: bool) -> Var<T> {
        let mu = self.mean_axes(axes, true);
        (self - mu).square().mean_axes(axes, keepdim)
    }

    fn extremum(self, axis: usize, keepdim: bool, is_min: bool) -> Var<T> {
        let nd = self.ndim();
        assert!(
            axis < nd,
            "shape error in max/min: axis {axis} out of range for rank {nd}"
        );
        self.unary(Op::MaxAxis(self.id, axis as u8, keepdim, is_min), |a| {
            let better = |x: T, m: T| (is_min && x < m) || (!is_min && x > m) || x.is_nan();
            // Fast path: the last axis of a contiguous array (pooling, row maxima).
            if let (Some(src), true) = (a.as_slice(), axis + 1 == a.ndim()) {
                let len = a.shape()[axis].max(1);
                let mut out = crate::pool::take::<T>(src.len() / len);
                out.extend(src.chunks_exact(len).map(|lane| {
                    lane.iter()
                        .skip(1)
                        .fold(lane[0], |m, &x| if better(x, m) { x } else { m })
                }));
                let mut shape = a.shape().to_vec();
                if keepdim {
                    shape[axis] = 1;
                } else {
                    shape.pop();
                }
                return crate::ops::from_vec(&shape, out);
            }
            let init = if is_min {
                T::infinity()
            } else {
                T::neg_infinity()
            };
            let out = a.fold_axis(Axis(axis), init, |&m, &x| if better(x, m) { x } else { m });
            if keepdim {
                out.insert_axis(Axis(axis))
            } else {
                out
            }
        })
    }

    /// Maximum over one axis (the gradient goes to the first maximal entry).
    pub fn max_axis(self, axis: usize, keepdim: bool) -> Var<T> {
        self.extremum(axis, keepdim, false)
    }

    /// Minimum over one axis (the gradient goes to the first minimal entry).
    pub fn min_axis(self, axis: usize, keepdim: bool) -> Var<T> {
        self.extremum(axis, keepdim, true)
    }

    /// `log Σ exp(x)` over one axis, computed stably (the shift is a constant).
    pub fn logsumexp(self, axis: usize, keepdim: bool) -> Var<T> {
        let m = self.max_axis(axis, true).detach();
        // An all -inf row would give NaN; shift by 0 there.
        let m =
            Var::constant(m.with_value(|v| v.mapv(|x| if x.is_finite() { x } else { T::zero() })));
        let out = (self - m).exp().sum_axes(&[axis], true).log() + m;
        if keepdim {
            out
        } else {
            out.squeeze(axis)
        }
    }

    /// Softmax over one axis, composed as `exp(x − logsumexp(x))`. When nothing is recorded
    /// (`no_grad`, or an input that needs no gradient) and the axis is the last, it is one
    /// fused pass per row instead (shift by the row's maximum, exponentiate, divide by the
    /// sum): the attention scores of inference are the largest values a model makes.
    pub fn softmax(self, axis: usize) -> Var<T> {
        let rec = crate::tape::is_grad_enabled() && self.requires_grad();
        if !rec && axis + 1 == self.ndim() {
            return self.unary(Op::Const, softmax_last_axis);
        }
        (self - self.logsumexp(axis, true)).exp()
    }

    /// Log-softmax over one axis.
    pub fn log_softmax(self, axis: usize) -> Var<T> {
        self - self.logsumexp(axis, true)
    }
}

/// Softmax over the last axis in one pass per row (a row's maximum, if not finite, shifts by
/// 0 as in `logsumexp`).
pub(crate) fn softmax_last_axis<T: Float>(a: &ArrayD<T>) -> ArrayD<T> {
    let len = a.shape().last().copied().unwrap_or(1);
    let mut out = crate::pool::map_array(a, |x| x);
    if len == 0 {
        return out;
    }
    for row in crate::pool::slice_mut(&mut out).chunks_exact_mut(len) {
        let m = row.iter().copied().fold(T::neg_infinity(), T::max);
        let m = if m.is_finite() { m } else { T::zero() };
        let mut sum = T::zero();
        for x in row.iter_mut() {
            *x = (*x - m).exp();
            sum += *x;
        }
        let inv = T::one() / sum;
        for x in row.iter_mut() {
            *x *= inv;
        }
    }
    out
}
