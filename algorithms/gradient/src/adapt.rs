//! The inner loop on a model: core's shared SGD adaptation ([`autodidact_core::adapt`]) on a
//! task's support loss, with ANIL's body features computed once.

use autodidact_core::{CreateGraph, Float, Targets, Var};

pub use autodidact_core::adapt::{inner_graph, InnerLr};

use crate::model::Model;

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
    // ANIL: the body's features do not change during adaptation; compute them once.
    let features = only.map(|_| model.features(theta, x));
    autodidact_core::adapt::adapt(theta, steps, lr, create, only, |fast| {
        let pred = match features {
            Some(h) => model.head(fast, h),
            None => model.forward(fast, x),
        };
        model.loss(pred, y)
    })
}
