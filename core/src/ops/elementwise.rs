//! Element-wise arithmetic with NumPy broadcasting, scalar ops and activation functions.

use std::any::{Any, TypeId};
use std::ops::{Add, Div, Mul, Neg, Sub};

use ndarray::{ArrayD, IxDyn, Zip};

use super::{broadcast_shape, wide};
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
            wide::zip(x, y, slice_mut(&mut out), f);
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
    let o = slice_mut(&mut out);
    wide::run(
        #[inline(always)]
        move || {
            for (o, br) in o
                .chunks_exact_mut(small.len())
                .zip(big.chunks_exact(small.len()))
            {
                for ((o, &v), &w) in o.iter_mut().zip(br).zip(small) {
                    *o = f(v, w);
                }
            }
        },
    );
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
    /// needs no gradient) it is one fused pass over the values: in `f64` with the same
    /// arithmetic, in `f32` with a branch-free erf the compiler vectorises (within 4e-7 of
    /// the exact value; inference spends a fifth of its time here otherwise).
    pub fn gelu(self) -> Var<T> {
        let rec = crate::tape::is_grad_enabled() && self.requires_grad();
        if !rec {
            if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
                return self.unary(Op::Const, |a| {
                    map_array(a, |x| T::of(f64::from(gelu_f32_fast(x.as_f64() as f32))))
                });
            }
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

/// `eʸ` for `y ∈ [−87, 0]`, branch-free (vectorisable): `y = n ln 2 + r` with `n` rounded by
/// the 1.5·2²³ trick and `ln 2` split in two (Cody and Waite), a degree-6 Taylor polynomial
/// for `eʳ` (`|r| ≤ ln 2 / 2`, relative error below 2e-7), and `2ⁿ` built from its bits.
#[inline(always)]
pub(crate) fn exp_neg_f32(y: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2²³
    let y = y.max(-87.0);
    let shifted = y * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = (y - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // `n` as an integer from the bits of `shifted`, whose low mantissa bits hold it: integer
    // arithmetic that vectorises, where `n as i32` (a saturating cast) would go lane by lane.
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let scale = f32::from_bits((n_int.wrapping_add(127) as u32) << 23);
    p * scale
}

/// `tanh(x)` on `f32`, branch-free so that a loop over it vectorises (policy networks are tanh
/// MLPs, and a scalar `tanhf` was a quarter of a PPO update): the odd Taylor polynomial to `x¹⁵`
/// for `|x| < 0.55` (first omitted term below 3e-8 · |x|), `(1 − e)/(1 + e)` with
/// `e = e^(−2|x|)` (`exp_neg_f32`) beyond, the sign put back; NaN stays NaN. Within 2 ulp of
/// the true value (a test checks a dense grid against `f64`).
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let a2 = a * a;
    let p = -929_569.0 / 638_512_875.0;
    let p = p * a2 + 21_844.0 / 6_081_075.0;
    let p = p * a2 - 1_382.0 / 155_925.0;
    let p = p * a2 + 62.0 / 2_835.0;
    let p = p * a2 - 17.0 / 315.0;
    let p = p * a2 + 2.0 / 15.0;
    let p = p * a2 - 1.0 / 3.0;
    let series = a + a * a2 * p;
    let e = exp_neg_f32(-2.0 * a);
    let tail = (1.0 - e) / (1.0 + e);
    let t = if a < 0.55 { series } else { tail }.copysign(x);
    if x.is_nan() {
        x
    } else {
        t
    }
}

/// `tanh` of every element, into an array from the buffer pool: for `f32`, [`tanh_f32`] in a
/// loop compiled for the CPU's widest vectors (the same bits as element by element); for other
/// types the exact `tanh`. For tanh networks (policies), where a fresh output array per call
/// cost page faults and the baseline loop four lanes where the CPU has sixteen.
pub fn tanh_f32_values<T: Float>(a: &ArrayD<T>) -> ArrayD<T> {
    let mut out = scratch::<T>(a.shape());
    let src = (a as &dyn Any)
        .downcast_ref::<ArrayD<f32>>()
        .and_then(|a| a.as_slice());
    if let (Some(src), Some(dst)) = (
        src,
        (&mut out as &mut dyn Any).downcast_mut::<ArrayD<f32>>(),
    ) {
        wide::map(src, slice_mut(dst), tanh_f32);
        return out;
    }
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        return map_array(a, |x| T::of(f64::from(tanh_f32(x.as_f64() as f32))));
    }
    map_array(a, T::tanh)
}

/// [`tanh_f32`] of every element in place, in a loop compiled for the CPU's widest vectors.
pub fn tanh_f32_in_place(v: &mut [f32]) {
    wide::map_in_place(v, tanh_f32);
}

/// GELU on `f32`, branch-free so that a loop over it vectorises: `erf(z)`, `z = x/√2`, from its
/// Taylor series `2/√π Σ (−1)ᵏ z²ᵏ⁺¹ / (k! (2k+1))` to `z¹³` for `|z| < 0.5` (error below 1e-9,
/// and relative accuracy near 0), and Abramowitz and Stegun's 7.1.26 beyond
/// (`1 − (a₁t + … + a₅t⁵) e^(−z²)`, `t = 1/(1 + 0.3275911 |z|)`, absolute error below 1.5e-7).
#[inline(always)]
pub(crate) fn gelu_f32_fast(x: f32) -> f32 {
    let z = x * std::f32::consts::FRAC_1_SQRT_2;
    let a = z.abs();
    let a2 = a * a;
    let series = std::f32::consts::FRAC_2_SQRT_PI
        * a
        * (1.0
            + a2 * (-1.0 / 3.0
                + a2 * (1.0 / 10.0
                    + a2 * (-1.0 / 42.0
                        + a2 * (1.0 / 216.0 + a2 * (-1.0 / 1320.0 + a2 * (1.0 / 9360.0)))))));
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_72 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    let tail = 1.0 - poly * exp_neg_f32(-a2);
    let erf_abs = if a < 0.5 { series } else { tail };
    0.5 * x * (1.0 + erf_abs.copysign(z))
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
mod tanh_fast_tests {
    #[test]
    fn fast_tanh_is_within_two_ulp() {
        let mut worst = 0.0f64;
        let mut x = -50.0f32;
        while x < 50.0 {
            let want = f64::from(x).tanh();
            let got = f64::from(super::tanh_f32(x));
            let ulp = f64::from(f32::EPSILON) * want.abs().max(f64::from(f32::MIN_POSITIVE));
            worst = worst.max((got - want).abs() / ulp);
            x += if x.abs() < 12.0 { 1.3e-4 } else { 0.01 };
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        assert!(super::tanh_f32(f32::NAN).is_nan());
        assert_eq!(super::tanh_f32(0.0), 0.0);
        assert_eq!(super::tanh_f32(1e-30), 1e-30);
        assert_eq!(super::tanh_f32(-20.0), -1.0);
        assert_eq!(super::tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(super::tanh_f32(f32::NEG_INFINITY), -1.0);
    }
}

#[cfg(test)]
mod gelu_fast_tests {
    /// The vectorisable f32 GELU against the exact one (libm's f64 erf) over a dense grid,
    /// the switch point and the tails.
    #[test]
    fn fast_f32_gelu_is_close_to_exact() {
        let mut worst: f64 = 0.0;
        for k in -200_000..=200_000 {
            for x in [k as f32 * 5e-5, k as f32 * 1e-3] {
                let xd = f64::from(x);
                let exact = 0.5 * xd * (1.0 + libm::erf(xd / std::f64::consts::SQRT_2));
                let got = f64::from(super::gelu_f32_fast(x));
                let err = (got - exact).abs() / xd.abs().max(1e-30);
                worst = worst.max(err);
                assert!(
                    (got - exact).abs() <= 4e-7 * xd.abs().max(1e-30) + 1e-37,
                    "gelu({x}) = {got}, exact {exact}"
                );
            }
        }
        for x in [
            0.0f32, 1e-30, -1e-30, 0.707, 0.708, 200.0, -200.0, 1e20, -1e20,
        ] {
            let xd = f64::from(x);
            let exact = 0.5 * xd * (1.0 + libm::erf(xd / std::f64::consts::SQRT_2));
            let got = f64::from(super::gelu_f32_fast(x));
            assert!(
                (got - exact).abs() <= 4e-7 * xd.abs() + 1e-37,
                "gelu({x}) = {got}, {exact}"
            );
        }
        assert!(worst > 0.0);
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
