//! The inner loop shared by every method: a few SGD steps on a task's support set, recorded
//! (second order) or not (first order), on all parameters or only some (ANIL's head).

use autodidact_core::{grad, CreateGraph, Float, Targets, Var};

use crate::model::Model;

/// The inner learning rate: one scalar, or one learned tensor per parameter (Meta-SGD).
#[derive(Clone, Copy)]
pub enum InnerLr<'a, T: Float> {
    /// `θ' = θ − α ∇L`.
    Scalar(f64),
    /// `θ' = θ − α ⊙ ∇L`, one `α` per parameter tensor.
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

/// Adapts `theta` to a support set with `steps` SGD steps; `only` restricts adaptation to
/// some parameter indices (the others stay as given).
///
/// With [`CreateGraph::Yes`] the returned fast weights are differentiable functions of
/// `theta` through every step (second-order MAML); with `No` the inner gradients are constants
/// (first-order MAML).
pub fn adapt<T: Float>(
    model: &Model,
    theta: &[Var<T>],
    x: Var<T>,
    y: &Targets,
    steps: usize,
    lr: InnerLr<'_, T>,
    create: CreateGraph,
    only: Option<&[usize]>,
) -> Vec<Var<T>> {
    let mut fast = theta.to_vec();
    let idx: Vec<usize> = match only {
        Some(o) => o.to_vec(),
        None => (0..theta.len()).collect(),
    };
    // ANIL: the body's features do not change during adaptation; compute them once.
    let features = only.map(|_| model.features(&fast, x));
    for _ in 0..steps {
        let pred = match features {
            Some(h) => model.head(&fast, h),
            None => model.forward(&fast, x),
        };
        let loss = model.loss(pred, y);
        let wrt: Vec<Var<T>> = idx.iter().map(|&i| fast[i]).collect();
        let g = grad(&[loss], &wrt, create);
        for (k, &i) in idx.iter().enumerate() {
            fast[i] = match lr {
                InnerLr::Scalar(a) => fast[i] - g[k] * a,
                InnerLr::PerParam(alphas) => fast[i] - alphas[i] * g[k],
            };
        }
    }
    fast
}
