//! Optimisers over a `Params` store (state serialisable, so a resumed run continues exactly),
//! gradient clipping, and the differentiable SGD step used in inner loops.

pub mod adam;
pub mod rmsprop;
pub mod sgd;

pub use adam::Adam;
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

use crate::error::{CoreError, Result};
use crate::float::Float;
use crate::params::Params;
use crate::tape::Var;
use crate::Tensor;

/// Something that updates parameters from their gradients.
pub trait Optimizer<T: Float> {
    /// One update; `grads` are in the store's order.
    fn step(&mut self, params: &mut Params<T>, grads: &[Tensor<T>]) -> Result<()>;
    /// One update from gradient variables as [`crate::Tape::grad`] returns them, in the
    /// store's order. SGD and Adam read the values in place on the tape; the default copies
    /// them out first (`values`) and calls [`Optimizer::step`].
    fn step_vars(&mut self, params: &mut Params<T>, grads: &[Var<T>]) -> Result<()> {
        self.step(params, &values(grads))
    }
    /// The learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate (schedules).
    fn set_lr(&mut self, lr: f64);
}

/// Where an optimiser reads gradient `i` from: tensors it is given, or variables on the tape
/// (read in place, without a copy).
pub(crate) trait GradSource<T: Float> {
    /// How many gradients.
    fn count(&self) -> usize;
    /// Calls `f` with gradient `i`.
    fn with<R>(&self, i: usize, f: impl FnOnce(&Tensor<T>) -> R) -> R;
}

impl<T: Float> GradSource<T> for [Tensor<T>] {
    fn count(&self) -> usize {
        self.len()
    }
    fn with<R>(&self, i: usize, f: impl FnOnce(&Tensor<T>) -> R) -> R {
        f(&self[i])
    }
}

impl<T: Float> GradSource<T> for [Var<T>] {
    fn count(&self) -> usize {
        self.len()
    }
    fn with<R>(&self, i: usize, f: impl FnOnce(&Tensor<T>) -> R) -> R {
        self[i].with_value(f)
    }
}

/// Checks that gradients match the parameters one to one in shape.
pub(crate) fn check_grads<T: Float, G: GradSource<T> + ?Sized>(
    params: &Params<T>,
    grads: &G,
) -> Result<()> {
    if params.len() != grads.count() {
        return Err(CoreError::Shape {
            op: "optimizer step",
            detail: format!(
                "{} gradients for {} parameters",
                grads.count(),
                params.len()
            ),
        });
    }
    for (i, (name, p)) in params.names().iter().zip(params.tensors()).enumerate() {
        if let Some(gs) = grads.with(i, |g| (p.shape() != g.shape()).then(|| g.shape().to_vec())) {
            return Err(CoreError::Shape {
                op: "optimizer step",
                detail: format!(
                    "parameter `{name}` has shape {:?}, its gradient {gs:?}",
                    p.shape()
                ),
            });
        }
    }
    Ok(())
}

/// Scales `grads` so their global L2 norm is at most `max_norm` (PyTorch's
/// `clip_grad_norm_`: by `max_norm / (norm + 1e-6)` when above); returns the norm before.
pub fn clip_grad_norm<T: Float>(grads: &mut [Tensor<T>], max_norm: f64) -> f64 {
    let square = |x: T| {
        let x = x.as_f64();
        x * x
    };
    // One running sum in the tensors' logical order, read from plain slices when they are
    // contiguous (a dynamic-rank iterator costs several times the arithmetic); the order, and
    // so the bits, are the same either way.
    let mut sum = 0.0f64;
    for g in grads.iter() {
        match g.as_slice() {
            Some(s) => s.iter().for_each(|&x| sum += square(x)),
            None => g.iter().for_each(|&x| sum += square(x)),
        }
    }
    let total = sum.sqrt();
    if total > max_norm && total > 0.0 {
        let scale = T::of(max_norm / (total + 1e-6));
        for g in grads.iter_mut() {
            g.mapv_inplace(|x| x * scale);
        }
    }
    total
}

/// The values of gradient variables, ready for an optimiser.
pub fn values<T: Float>(vars: &[Var<T>]) -> Vec<Tensor<T>> {
    vars.iter().map(|v| v.value()).collect()
}

/// `θ' = θ − lr · g` as variables: differentiable, for inner loops (MAML).
pub fn sgd_step<T: Float>(params: &[Var<T>], grads: &[Var<T>], lr: f64) -> Vec<Var<T>> {
    params
        .iter()
        .zip(grads)
        .map(|(&p, &g)| p - g * lr)
        .collect()
}

/// `θ' = θ − α ⊙ g` with per-parameter learning rates as variables (Meta-SGD).
pub fn sgd_step_per_param<T: Float>(
    params: &[Var<T>],
    grads: &[Var<T>],
    lrs: &[Var<T>],
) -> Vec<Var<T>> {
    params
        .iter()
        .zip(grads)
        .zip(lrs)
        .map(|((&p, &g), &a)| p - a * g)
        .collect()
}
