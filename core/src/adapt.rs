//! The inner loop every gradient-based meta-learner shares: a few SGD steps on a task's loss,
//! recorded (second order: the adapted weights stay differentiable functions of θ) or not
//! (first order), on every parameter or only some (ANIL's head), with one learning rate or one
//! learned rate per parameter (Meta-SGD).
//!
//! ```
//! use autodidact_core::adapt::{adapt, InnerLr};
//! use autodidact_core::{grad, CreateGraph, Tape, Var};
//! use ndarray::arr1;
//!
//! let _tape = Tape::<f64>::new();
//! let theta = Var::leaf(arr1(&[1.0]).into_dyn());
//! // L(θ) = θ²: one step gives θ' = θ − 2αθ = (1 − 2α)θ.
//! let fast = adapt(&[theta], 1, InnerLr::Scalar(0.1), CreateGraph::Yes, None, |p| (p[0] * p[0]).sum());
//! assert!((fast[0].item() - 0.8).abs() < 1e-12);
//! // dθ'/dθ = 1 − 2α through the recorded step.
//! let d = grad(&[fast[0].sum()], &[theta], CreateGraph::No)[0];
//! assert!((d.item() - 0.8).abs() < 1e-12);
//! ```

use crate::float::Float;
use crate::tape::{grad, CreateGraph, Var};

/// The inner learning rate: one scalar, or one learned tensor per parameter (Meta-SGD).
#[derive(Clone, Copy)]
pub enum InnerLr<'a, T: Float> {
    /// `θ' = θ − α ∇L`.
    Scalar(f64),
    /// `θ' = θ − α ⊙ ∇L`, one `α` per parameter tensor (indexed like θ).
    PerParam(&'a [Var<T>]),
}

/// Whether the inner loop is recorded: not for first-order methods (their inner gradients are
/// constants), yes for second-order ones.
pub fn inner_graph(first_order: bool) -> CreateGraph {
    if first_order {
        CreateGraph::No
    } else {
        CreateGraph::Yes
    }
}

/// Adapts `theta` with `steps` SGD steps on `loss` (a function of the current fast weights);
/// `only` restricts adaptation to some parameter indices (the others stay as given).
///
/// With [`CreateGraph::Yes`] the returned fast weights are differentiable functions of `theta`
/// through every step; with `No` the inner gradients are constants.
pub fn adapt<T: Float>(
    theta: &[Var<T>],
    steps: usize,
    lr: InnerLr<'_, T>,
    create: CreateGraph,
    only: Option<&[usize]>,
    mut loss: impl FnMut(&[Var<T>]) -> Var<T>,
) -> Vec<Var<T>> {
    let mut fast = theta.to_vec();
    let idx: Vec<usize> = match only {
        Some(o) => o.to_vec(),
        None => (0..theta.len()).collect(),
    };
    for _ in 0..steps {
        let l = loss(&fast);
        let wrt: Vec<Var<T>> = idx.iter().map(|&i| fast[i]).collect();
        let g = grad(&[l], &wrt, create);
        for (k, &i) in idx.iter().enumerate() {
            fast[i] = match lr {
                InnerLr::Scalar(a) => fast[i] - g[k] * a,
                InnerLr::PerParam(alphas) => fast[i] - alphas[i] * g[k],
            };
        }
    }
    fast
}
