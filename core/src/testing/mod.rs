//! Gradient checking for everyone (feature `testing`): [`gradcheck`], [`gradgradcheck`],
//! [`check_meta_gradient`] against central finite differences in `f64`, and `proptest`
//! strategies for tensors in [`strategies`]; a counting allocator, a memory- and time-capped
//! guard and input mutations for property-based fuzzing of parsers in [`fuzz`].
//!
//! A third party proves a new op the way core proves its own:
//!
//! ```
//! use autodidact_core::testing::{gradcheck, strategies::arb_tensor, GradcheckOptions};
//! use proptest::prelude::*;
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(16))]
//!     fn softsign_grad(x in arb_tensor(2, 4, -3.0..3.0)) {
//!         // softsign(x) = x / (1 + |x|), composed from core ops
//!         gradcheck("softsign", |v| v[0] / (v[0].abs() + 1.0), &[x], &GradcheckOptions::default())?;
//!     }
//! }
//! # softsign_grad();
//! ```

pub mod fuzz;
pub mod strategies;

use std::fmt;

use ndarray::{ArrayD, IxDyn};

use crate::tape::{grad, CreateGraph, Tape, Var};
use crate::Tensor;

/// Tolerances and step of a finite-difference check.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckOptions {
    /// Central-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (against the numerical value).
    pub rtol: f64,
    /// Check at most this many elements per input (spread evenly); `None` checks all.
    pub max_elements: Option<usize>,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            max_elements: None,
        }
    }
}

/// A failed check: which input and element, both values and their relative error.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckError {
    /// The label given to the check (usually the op's name).
    pub label: String,
    /// "first-order gradient", "Hessian-vector product" or "meta-gradient".
    pub what: &'static str,
    /// Which input (position in the input list).
    pub input: usize,
    /// The element's multi-index in that input.
    pub index: Vec<usize>,
    /// The autodiff value.
    pub analytic: f64,
    /// The finite-difference value.
    pub numerical: f64,
    /// `|analytic − numerical| / max(|numerical|, tiny)`.
    pub rel_error: f64,
    /// The tolerances that were applied.
    pub atol: f64,
    /// Relative tolerance applied.
    pub rtol: f64,
}

impl fmt::Display for GradcheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} check failed for `{}`: input {}, element {:?}: analytic {:.9e}, numerical {:.9e}, \
             relative error {:.3e} (tolerance: atol {:.1e} + rtol {:.1e} x |numerical|)",
            self.what,
            self.label,
            self.input,
            self.index,
            self.analytic,
            self.numerical,
            self.rel_error,
            self.atol,
            self.rtol
        )
    }
}

impl std::error::Error for GradcheckError {}

/// A fixed, non-uniform weighting of an output (so a scalar projection still catches a
/// transposed or misplaced gradient).
fn projection(shape: &[usize]) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|i| 0.5 + ((i as f64 * 0.618_034 + 0.1).fract()))
        .collect();
    crate::ops::from_vec(shape, v)
}

/// A fixed, non-uniform direction for Hessian-vector products.
fn direction(shape: &[usize], salt: usize) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|i| (((i + 7 * salt) as f64 * 0.754_877 + 0.3).fract()) - 0.5)
        .collect();
    crate::ops::from_vec(shape, v)
}

/// `L(x) = Σ f(x) ⊙ W` with `W` the fixed projection, in a fresh tape.
fn scalar_value<F>(f: &F, inputs: &[Tensor<f64>]) -> f64
where
    F: Fn(&[Var<f64>]) -> Var<f64>,
{
    let _tape = Tape::<f64>::new();
    let vars: Vec<Var<f64>> = inputs.iter().map(|x| Var::leaf(x.clone())).collect();
    let out = f(&vars);
    let w = Var::constant(projection(&out.shape()));
    (out * w).sum().item()
}

/// Analytic first-order gradients of `L`.
fn analytic_grads<F>(f: &F, inputs: &[Tensor<f64>]) -> Vec<Tensor<f64>>
where
    F: Fn(&[Var<f64>]) -> Var<f64>,
{
    let _tape = Tape::<f64>::new();
    let vars: Vec<Var<f64>> = inputs.iter().map(|x| Var::leaf(x.clone())).collect();
    let out = f(&vars);
    let w = Var::constant(projection(&out.shape()));
    let l = (out * w).sum();
    grad(&[l], &vars, CreateGraph::No)
        .iter()
        .map(|g| g.value())
        .collect()
}

fn checked_elements(n: usize, max: Option<usize>) -> Vec<usize> {
    match max {
        Some(m) if m < n => (0..m).map(|k| k * n / m).collect(),
        _ => (0..n).collect(),
    }
}

fn multi_index(shape: &[usize], mut flat: usize) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        idx[i] = flat % d.max(1);
        flat /= d.max(1);
    }
    idx
}

fn compare(
    label: &str,
    what: &'static str,
    input: usize,
    shape: &[usize],
    flat: usize,
    analytic: f64,
    numerical: f64,
    opts: &GradcheckOptions,
) -> Result<(), GradcheckError> {
    let diff = (analytic - numerical).abs();
    if diff <= opts.atol + opts.rtol * numerical.abs() && analytic.is_finite() {
        return Ok(());
    }
    Err(GradcheckError {
        label: label.to_string(),
        what,
        input,
        index: multi_index(shape, flat),
        analytic,
        numerical,
        rel_error: diff / numerical.abs().max(1e-300),
        atol: opts.atol,
        rtol: opts.rtol,
    })
}

/// Checks the autodiff gradient of `f` at `inputs` against central finite differences.
///
/// A non-scalar output is projected onto a fixed non-uniform weighting first. The first
/// mismatching element is reported.
pub fn gradcheck<F>(
    label: &str,
    f: F,
    inputs: &[Tensor<f64>],
    opts: &GradcheckOptions,
) -> Result<(), GradcheckError>
where
    F: Fn(&[Var<f64>]) -> Var<f64>,
{
    check_first_order(label, "first-order gradient", &f, inputs, opts)
}

fn check_first_order<F>(
    label: &str,
    what: &'static str,
    f: &F,
    inputs: &[Tensor<f64>],
    opts: &GradcheckOptions,
) -> Result<(), GradcheckError>
where
    F: Fn(&[Var<f64>]) -> Var<f64>,
{
    let analytic = analytic_grads(f, inputs);
    let mut work: Vec<Tensor<f64>> = inputs.to_vec();
    for (i, x) in inputs.iter().enumerate() {
        for flat in checked_elements(x.len(), opts.max_elements) {
            let orig = x
                .as_slice()
                .map(|s| s[flat])
                .unwrap_or_else(|| x.iter().nth(flat).copied().unwrap_or(0.0));
            set_flat(&mut work[i], flat, orig + opts.eps);
            let up = scalar_value(f, &work);
            set_flat(&mut work[i], flat, orig - opts.eps);
            let down = scalar_value(f, &work);
            set_flat(&mut work[i], flat, orig);
            let numerical = (up - down) / (2.0 * opts.eps);
            let a = analytic[i].iter().nth(flat).copied().unwrap_or(f64::NAN);
            compare(label, what, i, x.shape(), flat, a, numerical, opts)?;
        }
    }
    Ok(())
}

fn set_flat(x: &mut ArrayD<f64>, flat: usize, v: f64) {
    if let Some(e) = x.iter_mut().nth(flat) {
        *e = v;
    }
}

/// Checks second order: the Hessian-vector product `∇(⟨∇L, v⟩)` from the recorded gradient
/// against central differences of the first-order gradient along `v`.
pub fn gradgradcheck<F>(
    label: &str,
    f: F,
    inputs: &[Tensor<f64>],
    opts: &GradcheckOptions,
) -> Result<(), GradcheckError>
where
    F: Fn(&[Var<f64>]) -> Var<f64>,
{
    let dirs: Vec<Tensor<f64>> = inputs
        .iter()
        .enumerate()
        .map(|(i, x)| direction(x.shape(), i))
        .collect();
    // Analytic HVP.
    let hvp: Vec<Tensor<f64>> = {
        let _tape = Tape::<f64>::new();
        let vars: Vec<Var<f64>> = inputs.iter().map(|x| Var::leaf(x.clone())).collect();
        let out = f(&vars);
        let w = Var::constant(projection(&out.shape()));
        let l = (out * w).sum();
        let g = grad(&[l], &vars, CreateGraph::Yes);
        let mut dot = Var::scalar(0.0);
        for (gi, d) in g.iter().zip(&dirs) {
            dot = dot + (*gi * Var::constant(d.clone())).sum();
        }
        grad(&[dot], &vars, CreateGraph::No)
            .iter()
            .map(|h| h.value())
            .collect()
    };
    let shifted = |sign: f64| -> Vec<Tensor<f64>> {
        let xs: Vec<Tensor<f64>> = inputs
            .iter()
            .zip(&dirs)
            .map(|(x, d)| x + &(d * (sign * opts.eps)))
            .collect();
        analytic_grads(&f, &xs)
    };
    let up = shifted(1.0);
    let down = shifted(-1.0);
    for (i, h) in hvp.iter().enumerate() {
        for flat in checked_elements(h.len(), opts.max_elements) {
            let num = (up[i].iter().nth(flat).copied().unwrap_or(f64::NAN)
                - down[i].iter().nth(flat).copied().unwrap_or(f64::NAN))
                / (2.0 * opts.eps);
            let a = h.iter().nth(flat).copied().unwrap_or(f64::NAN);
            compare(
                label,
                "Hessian-vector product",
                i,
                h.shape(),
                flat,
                a,
                num,
                opts,
            )?;
        }
    }
    Ok(())
}

/// Checks a meta-gradient: `meta_loss(θ)` adapts the parameters (inner steps recorded with
/// [`CreateGraph::Yes`]) and returns the post-adaptation loss; its autodiff gradient with
/// respect to `θ` is compared with finite differences of the whole adapt-then-evaluate
/// computation.
pub fn check_meta_gradient<F>(
    label: &str,
    meta_loss: F,
    params: &[Tensor<f64>],
    opts: &GradcheckOptions,
) -> Result<(), GradcheckError>
where
    F: Fn(&[Var<f64>]) -> Var<f64>,
{
    check_first_order(label, "meta-gradient", &meta_loss, params, opts)
}

/// A zero tensor (handy in tests).
pub fn zeros(shape: &[usize]) -> Tensor<f64> {
    ArrayD::zeros(IxDyn(shape))
}
