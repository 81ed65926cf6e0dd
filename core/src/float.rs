//! The element types the autodiff runs on: `f32` (training) and `f64` (gradient tests).

use std::cell::RefCell;
use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::pool::Pool;
use crate::tape::TapeState;

/// A floating-point element type the tensor and the tape are generic over.
///
/// Implemented for `f32` and `f64`; each has its own thread-local tape.
pub trait Float:
    num_traits::Float
    + ndarray::LinalgScalar
    + ndarray::ScalarOperand
    + rand_distr::uniform::SampleUniform
    + Debug
    + Display
    + Default
    + Send
    + Sync
    + Serialize
    + DeserializeOwned
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + 'static
{
    /// The type's name, for messages ("f32").
    const NAME: &'static str;

    /// Converts from `f64` (rounding for `f32`).
    fn of(x: f64) -> Self;

    /// Converts to `f64` (exact).
    fn as_f64(self) -> f64;

    /// Runs `f` with this type's thread-local tape state.
    #[doc(hidden)]
    fn with_tape<R>(f: impl FnOnce(&mut TapeState<Self>) -> R) -> R;

    /// Runs `f` with this type's thread-local buffer pool.
    #[doc(hidden)]
    fn with_pool<R>(f: impl FnOnce(&mut Pool<Self>) -> R) -> R;
}

thread_local! {
    static TAPE_F32: RefCell<TapeState<f32>> = RefCell::new(TapeState::new());
    static TAPE_F64: RefCell<TapeState<f64>> = RefCell::new(TapeState::new());
    static POOL_F32: RefCell<Pool<f32>> = RefCell::new(Pool::new());
    static POOL_F64: RefCell<Pool<f64>> = RefCell::new(Pool::new());
}

impl Float for f32 {
    const NAME: &'static str = "f32";
    #[inline]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn with_tape<R>(f: impl FnOnce(&mut TapeState<Self>) -> R) -> R {
        TAPE_F32.with(|t| f(&mut t.borrow_mut()))
    }
    #[inline]
    fn with_pool<R>(f: impl FnOnce(&mut Pool<Self>) -> R) -> R {
        POOL_F32.with(|p| f(&mut p.borrow_mut()))
    }
}

impl Float for f64 {
    const NAME: &'static str = "f64";
    #[inline]
    fn of(x: f64) -> Self {
        x
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline]
    fn with_tape<R>(f: impl FnOnce(&mut TapeState<Self>) -> R) -> R {
        TAPE_F64.with(|t| f(&mut t.borrow_mut()))
    }
    #[inline]
    fn with_pool<R>(f: impl FnOnce(&mut Pool<Self>) -> R) -> R {
        POOL_F64.with(|p| f(&mut p.borrow_mut()))
    }
}
