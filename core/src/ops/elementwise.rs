//! Element-wise arithmetic with NumPy broadcasting, scalar ops and activation functions.

use std::ops::{Add, Div, Mul, Neg, Sub};

use ndarray::{ArrayD, IxDyn, Zip};

use super::broadcast_shape;
use crate::float::Float;
use crate::pool::{map_array, scratch, slice_mut};
use crate::tape::{Op, Var};

/// `f(a, b)` element-wise with broadcasting; a fast path for equal contiguous shapes.
pub(crate) fn zip_map<T: Float>(
    op: &str,
    a: &ArrayD<T>,
    b: &ArrayD<T>,
    f: impl Fn(T, T) -> T,
) -> ArrayD<T> {
    if a.shape() == b.shape() {
        if let (Some(x), Some(y)) = (a.as_slice(), b.as_slice()) {
            let mut out = scratch::<T>(a.shape());
            for (o, (&x, &y)) in slice_mut(&mut out).iter_mut().zip(x.iter().zip(y)) {
                *o = f(x, y);
            }
            return out;
        }
        return Zip::from(a).and(b).map_collect(|&x, &y| f(x, y));
    }
    if b.len() == 1 && b.ndim() <= a.ndim() {
        let s = b.iter().next().copied().unwrap_or_else(T::zero);
        return map_array(a, |x| f(x, s));
    }
    if a.len() == 1 && a.ndim() <= b.ndim() {
        let s = a.iter().next().copied().unwrap_or_else(T::zero);
        return map_array(b, |y| f(s, y));
    }
    // The commonest broadcast, a bias row: one operand's shape is a trailing part of the
    // other's, so it repeats whole; apply `f` row by row without materialising the repeat.
    if let (Some(x), Some(y)) = (a.as_slice(), b.as_slice()) {
        if !y.is_empty() && a.shape().ends_with(b.shape()) {
            return repeat_rows(a.shape(), x, y, f);
        }
        if !x.is_empty() && b.shape().ends_with(a.shape()) {
            return repeat_rows(b.shape(), y, x, |v, w| f(w, v));
        }
    }
    let shape = broadcast_shape(op, a.shape(), b.shape());
    // One operand already has the output's shape: repeat the other to it (merged runs), then
    // take the equal-shape path.
    if a.shape() == shape.as_slice() && a.is_standard_layout() && b.is_standard_layout() {
        let bb = crate::ops::shape::broadcast_to_value(b, &shape);
        return zip_map(op, a, &bb, f);
    }
    if b.shape() == shape.as_slice() && a.is_standard_layout() && b.is_standard_layout() {
        let aa = crate::ops::shape::broadcast_to_value(a, &shape);
        return zip_map(op, &aa, b, f);
    }
    let dim = IxDyn(&shape);
    match (a.broadcast(dim.clone()), b.broadcast(dim)) {
        (Some(av), Some(bv)) => Zip::from(&av).and(&bv).map_collect(|&x, &y| f(x, y)),
        _ => panic!(
            "shape error in {op}: shapes {:?} and {:?} do not broadcast",
            a.shape(),
            b.shape()
        ),
    }
}

/// `f(big, small)` element-wise, `small` repeated along `big`'s leading axes (its shape is a
/// trailing part of `big`'s `shape`).
fn repeat_rows<T: Float>(
    shape: &[usize],
    big: &[T],
    small: &[T],
    f: impl Fn(T, T) -> T,
) -> ArrayD<T> {
    let mut out = scratch::<T>(shape);
    for (o, br) in slice_mut(&mut out)
        .chunks_exact_mut(small.len())
        .zip(big.chunks_exact(small.len()))
    {
        for ((o, &v), &w) in o.iter_mut().zip(br).zip(small) {
            *o = f(v, w);
        }
    }
    out
}

impl<T: Float> Var<T> {
    /// `self + other`, broadcasting.
    pub fn add(self, other: Var<T>) -> Var<T> {
        self.binary(other, Op::Add(self.id, other.id), |a, b| {
            zip_map("add", a, b, |x, y| x + y)
        })
    }
    /// `self - other`, broadcasting.
    pub fn sub(self, other: Var<T>) -> Var<T> {
        self.binary(other, Op::Sub(self.id, other.id), |a, b| {
            zip_map("sub", a, b, |x, y| x - y)
        })
    }
    /// `self * other` element-wise, broadcasting.
    pub fn mul(self, other: Var<T>) -> Var<T> {
        self.binary(other, Op::Mul(self.id, other.id), |a, b| {
            zip_map("mul", a, b, |x, y| x * y)
        })
    }
    /// `self / other` element-wise, broadcasting.
    pub fn div(self, other: Var<T>) -> Var<T> {
        self.binary(other, Op::Div(self.id, other.id), |a, b| {
            zip_map("div", a, b, |x, y| x / y)
        })
    }
    /// `-self`.
    pub fn neg(self) -> Var<T> {
        self.unary(Op::Neg(self.id), |a| map_array(a, |x| -x))
    }
    /// `self + c`.
    pub fn add_scalar(self, c: f64) -> Var<T> {
        let c = T::of(c);
        self.unary(Op::AddScalar(self.id), |a| map_array(a, |x| x + c))
    }
    /// `self * c`.
    pub fn mul_scalar(self, c: f64) -> Var<T> {
        let ct = T::of(c);
        self.unary(Op::MulScalar(self.id, c), |a| map_array(a, |x| x * ct))
    }
    /// `self ^ p` element-wise, for a constant exponent.
    pub fn powf(self, p: f64) -> Var<T> {
        let pt = T::of(p);
        self.unary(Op::PowScalar(self.id, p), |a| {
            if p == 2.0 {
                map_array(a, |x| x * x)
            } else {
                map_array(a, |x| x.powf(pt))
            }
        })
    }
    /// `self²`.
    pub fn square(self) -> Var<T> {
        self.powf(2.0)
    }
    /// `eˣ`.
    pub fn exp(self) -> Var<T> {
        self.unary(Op::Exp(self.id), |a| map_array(a, T::exp))
    }
    /// Natural logarithm.
    pub fn log(self) -> Var<T> {
        self.unary(Op::Log(self.id), |a| map_array(a, T::ln))
    }
    /// Square root.
    pub fn sqrt(self) -> Var<T> {
        self.unary(Op::Sqrt(self.id), |a| map_array(a, T::sqrt))
    }
    /// Absolute value (gradient `sign(x)`, 0 at 0).
    pub fn abs(self) -> Var<T> {
        self.unary(Op::Abs(self.id), |a| map_array(a, T::abs))
    }
    /// Sine.
    pub fn sin(self) -> Var<T> {
        self.unary(Op::Sin(self.id), |a| map_array(a, T::sin))
    }
    /// Cosine.
    pub fn cos(self) -> Var<T> {
        self.unary(Op::Cos(self.id), |a| map_array(a, T::cos))
    }
    /// Hyperbolic tangent.
    pub fn tanh(self) -> Var<T> {
        self.unary(Op::Tanh(self.id), |a| map_array(a, T::tanh))
    }
    /// Logistic sigmoid `1 / (1 + e⁻ˣ)`.
    pub fn sigmoid(self) -> Var<T> {
        self.unary(Op::Sigmoid(self.id), |a| map_array(a, sigmoid))
    }
    /// `max(x, 0)` (gradient 0 at 0).
    pub fn relu(self) -> Var<T> {
        let z = T::zero();
        self.unary(Op::Relu(self.id), |a| {
            map_array(a, |x| if x > z { x } else { z })
        })
    }
    /// `self` where `a > 0`, else 0 (shapes must match): ReLU's backward rule as one op, so
    /// the mask is never materialised. Differentiable in `self` (by the same rule); `a` is
    /// treated as a constant, as ReLU's derivative is.
    pub(crate) fn relu_mask(self, a: Var<T>) -> Var<T> {
        let z = T::zero();
        let rec = crate::tape::is_grad_enabled();
        T::with_tape(|s| {
            let (g, x) = (s.node(self), s.node(a));
            let value = zip_map(
                "relu_mask",
                &g.value,
                &x.value,
                |g, x| if x > z { g } else { z },
            );
            let rg = rec && g.requires_grad;
            let op = if rg {
                Op::ReluMask(self.id, a.id)
            } else {
                Op::Const
            };
            s.push(value, op, rg)
        })
    }
    /// `x` for `x > 0`, else `slope · x`.
    pub fn leaky_relu(self, slope: f64) -> Var<T> {
        let s = T::of(slope);
        let z = T::zero();
        self.unary(Op::LeakyRelu(self.id, slope), |a| {
            map_array(a, |x| if x > z { x } else { s * x })
        })
    }
    /// `x` for `x > 0`, else `α (eˣ − 1)`; composed from `where`, `exp` and scalar ops.
    pub fn elu(self, alpha: f64) -> Var<T> {
        let mask =
            self.with_value(|v| map_array(v, |x| if x > T::zero() { T::one() } else { T::zero() }));
        // exp of min(x, 0) keeps the unused branch finite for large positive x.
        let neg = self.minimum_scalar(0.0);
        let e = neg.exp().add_scalar(-1.0).mul_scalar(alpha);
        Var::where_mask(mask, self, e)
    }
    /// `ln(1 + eˣ)`, computed stably.
    pub fn softplus(self) -> Var<T> {
        self.unary(Op::Softplus(self.id), |a| map_array(a, softplus))
    }
    /// The error function `erf(x) = 2/√π ∫₀ˣ e^(−t²) dt` (FreeBSD msun's, through `libm`:
    /// within an ulp in `f32` and `f64`); its gradient `2/√π · e^(−x²)` is again made of ops.
    pub fn erf(self) -> Var<T> {
        self.unary(Op::Erf(self.id), |a| map_array(a, erf))
    }
    /// GELU in BERT's exact form `0.5 · x · (1 + erf(x / √2))`, composed from `erf` (so every
    /// order of derivative follows). When nothing is recorded (`no_grad`, or an input that
    /// needs no gradient) it is one fused pass over the values, with the same arithmetic.
    pub fn gelu(self) -> Var<T> {
        let rec = crate::tape::is_grad_enabled() && self.requires_grad();
        if !rec {
            return self.unary(Op::Const, |a| map_array(a, gelu));
        }
        let half = self * 0.5;
        half * (self * std::f64::consts::FRAC_1_SQRT_2)
            .erf()
            .add_scalar(1.0)
    }
    /// `min(x, c)` element-wise (composed from `where`).
    pub fn minimum_scalar(self, c: f64) -> Var<T> {
        let ct = T::of(c);
        let mask = self.with_value(|v| map_array(v, |x| if x < ct { T::one() } else { T::zero() }));
        let cst = Var::scalar(c);
        Var::where_mask(mask, self, cst)
    }
    /// `max(x, c)` element-wise (composed from `where`).
    pub fn maximum_scalar(self, c: f64) -> Var<T> {
        let ct = T::of(c);
        let mask = self.with_value(|v| map_array(v, |x| if x > ct { T::one() } else { T::zero() }));
        let cst = Var::scalar(c);
        Var::where_mask(mask, self, cst)
    }
    /// `1 / x`.
    pub fn recip(self) -> Var<T> {
        Var::scalar(1.0).div(self)
    }
    /// Clamps to `[lo, hi]` (gradient passes inside the interval).
    pub fn clamp(self, lo: f64, hi: f64) -> Var<T> {
        self.maximum_scalar(lo).minimum_scalar(hi)
    }
}

pub(crate) fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// `erf(x)`: `libm`'s `erff` for `f32`, `erf` for `f64` (each within an ulp).
pub(crate) fn erf<T: Float>(x: T) -> T {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
        T::of(f64::from(libm::erff(x.as_f64() as f32)))
    } else {
        T::of(libm::erf(x.as_f64()))
    }
}

/// `0.5 · x · (1 + erf(x / √2))`, in the composed op's order of operations.
pub(crate) fn gelu<T: Float>(x: T) -> T {
    let half = x * T::of(0.5);
    half * (erf(x * T::of(std::f64::consts::FRAC_1_SQRT_2)) + T::one())
}

pub(crate) fn softplus<T: Float>(x: T) -> T {
    // max(x, 0) + ln(1 + e^{-|x|})
    x.max(T::zero()) + (-x.abs()).exp().ln_1p()
}

macro_rules! var_binop {
    ($trait:ident, $method:ident, $scalar:expr) => {
        impl<T: Float> $trait<Var<T>> for Var<T> {
            type Output = Var<T>;
            #[inline]
            fn $method(self, rhs: Var<T>) -> Var<T> {
                Var::$method(self, rhs)
            }
        }
        impl<T: Float> $trait<&Var<T>> for Var<T> {
            type Output = Var<T>;
            #[inline]
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                Var::$method(self, *rhs)
            }
        }
        impl<T: Float> $trait<Var<T>> for &Var<T> {
            type Output = Var<T>;
            #[inline]
            fn $method(self, rhs: Var<T>) -> Var<T> {
                Var::$method(*self, rhs)
            }
        }
        impl<T: Float> $trait<&Var<T>> for &Var<T> {
            type Output = Var<T>;
            #[inline]
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                Var::$method(*self, *rhs)
            }
        }
        impl<T: Float> $trait<f64> for Var<T> {
            type Output = Var<T>;
            #[inline]
            fn $method(self, rhs: f64) -> Var<T> {
                let f: fn(Var<T>, f64) -> Var<T> = $scalar;
                f(self, rhs)
            }
        }
        impl<T: Float> $trait<f64> for &Var<T> {
            type Output = Var<T>;
            #[inline]
            fn $method(self, rhs: f64) -> Var<T> {
                let f: fn(Var<T>, f64) -> Var<T> = $scalar;
                f(*self, rhs)
            }
        }
    };
}

var_binop!(Add, add, |v, c| v.add_scalar(c));
var_binop!(Sub, sub, |v, c| v.add_scalar(-c));
var_binop!(Mul, mul, |v, c| v.mul_scalar(c));
var_binop!(Div, div, |v, c| v.mul_scalar(1.0 / c));

impl<T: Float> Neg for Var<T> {
    type Output = Var<T>;
    fn neg(self) -> Var<T> {
        Var::neg(self)
    }
}

impl<T: Float> Neg for &Var<T> {
    type Output = Var<T>;
    fn neg(self) -> Var<T> {
        Var::neg(*self)
    }
}

impl<T: Float> Mul<Var<T>> for f64 {
    type Output = Var<T>;
    fn mul(self, rhs: Var<T>) -> Var<T> {
        rhs.mul_scalar(self)
    }
}

impl<T: Float> Add<Var<T>> for f64 {
    type Output = Var<T>;
    fn add(self, rhs: Var<T>) -> Var<T> {
        rhs.add_scalar(self)
    }
}

impl<T: Float> Sub<Var<T>> for f64 {
    type Output = Var<T>;
    fn sub(self, rhs: Var<T>) -> Var<T> {
        rhs.neg().add_scalar(self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod trailing_broadcast_tests {
    use ndarray::{ArrayD, Axis, IxDyn};

    fn arr(shape: &[usize], k: f64) -> ArrayD<f64> {
        let n: usize = shape.iter().product();
        ArrayD::from_shape_vec(
            IxDyn(shape),
            (0..n).map(|i| k + (i as f64 * 0.7).sin()).collect(),
        )
        .unwrap()
    }

    #[test]
    fn trailing_broadcasts_match_ndarray_both_ways() {
        for (big, small) in [
            (vec![2, 3, 4], vec![4]),
            (vec![2, 3, 4], vec![3, 4]),
            (vec![5, 1], vec![1]),
        ] {
            let (a, b) = (arr(&big, 0.3), arr(&small, -1.1));
            let want = &a - &b;
            assert_eq!(super::zip_map("sub", &a, &b, |x, y| x - y), want);
            let want = &b - &a;
            assert_eq!(super::zip_map("sub", &b, &a, |x, y| x - y), want);
            // And the bias gradient: the sum over the leading rows.
            let mut s = a.clone();
            for _ in 0..big.len() - small.len() {
                s = s.sum_axis(Axis(0));
            }
            let got = crate::ops::shape::sum_to_shape_value(&a, &small);
            for (x, y) in got.iter().zip(s.iter()) {
                assert!((x - y).abs() < 1e-9);
            }
        }
    }
}
