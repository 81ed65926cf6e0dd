//! The policy networks' hidden activations, with a faster `tanh`.
//!
//! Stable-Baselines3's networks are tanh MLPs, and libm's `tanhf` (through `expm1f`) took
//! nearly half of a PPO update's time on CartPole, and a branchy scalar replacement still a
//! quarter. [`tanh_f32`] is core's branch-free one (an odd polynomial near 0, `(1 − e)/(1 + e)`
//! with `e = e^{−2|x|}` beyond), within 2 ulp of the true value, so a loop over it vectorises.
//! It is used both on the tape (a custom op whose derivative is
//! `1 − y²`, as core's) and in the plain forward pass, so acting and training see the same
//! numbers.

use std::rc::Rc;

use autodidact_core::{Activation, CustomOp, Float, Var};
use ndarray::{Array2, ArrayD};

/// `tanh(x)` in `f32`, within 2 ulp, branch-free so loops over it vectorise (core's
/// [`autodidact_core::ops::elementwise::tanh_f32`]); NaN stays NaN.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    autodidact_core::ops::elementwise::tanh_f32(x)
}

/// tanh on the tape: [`tanh_f32`] for `f32`, the exact `tanh` for other float types.
struct Tanh;

impl<T: Float> CustomOp<T> for Tanh {
    fn name(&self) -> &str {
        "tanh"
    }
    fn forward(&self, inputs: &[&ArrayD<T>]) -> ArrayD<T> {
        // Core's pooled, widely vectorised loop (f32), or the exact tanh (other types).
        autodidact_core::ops::elementwise::tanh_f32_values(inputs[0])
    }
    fn backward(&self, _inputs: &[Var<T>], output: Var<T>, grad: Var<T>) -> Vec<Var<T>> {
        vec![grad * (1.0 - output.square())]
    }
}

/// The activation on the tape.
pub fn activate_var<T: Float>(a: Activation, x: Var<T>) -> Var<T> {
    match a {
        Activation::Tanh => Var::custom(Rc::new(Tanh), &[x]),
        other => other.apply(x),
    }
}

/// The activation of every element of `x`, without a tape (tanh in core's widely vectorised
/// loop when `x` is contiguous).
pub fn activate_in_place(a: Activation, x: &mut Array2<f32>) {
    match (a, x.as_slice_mut()) {
        (Activation::Tanh, Some(v)) => autodidact_core::ops::elementwise::tanh_f32_in_place(v),
        _ => x.mapv_inplace(|v| activate(a, v)),
    }
}

/// The activation of one value, without a tape.
#[inline]
pub fn activate(a: Activation, x: f32) -> f32 {
    match a {
        Activation::Relu => x.max(0.0),
        Activation::Tanh => tanh_f32(x),
        Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Activation::LeakyRelu => {
            if x > 0.0 {
                x
            } else {
                0.01 * x
            }
        }
        Activation::Elu => {
            if x > 0.0 {
                x
            } else {
                x.exp_m1()
            }
        }
        Activation::Identity => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_tanh_is_within_two_ulp() {
        let mut worst = 0.0f64;
        let mut x = -12.0f32;
        while x < 12.0 {
            let want = f64::from(x).tanh();
            let got = f64::from(tanh_f32(x));
            let ulp = f64::from(f32::EPSILON) * want.abs().max(f64::from(f32::MIN_POSITIVE));
            worst = worst.max((got - want).abs() / ulp);
            x += 1.7e-4;
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        assert!(tanh_f32(f32::NAN).is_nan());
        assert_eq!(tanh_f32(0.0), 0.0);
        assert_eq!(tanh_f32(-20.0), -1.0);
    }
}
