//! MAML (Finn et al. 2017) and its first-order approximation.
//!
//! θ'ᵢ = θ − α∇θ L_Tᵢ(f_θ) on each support set; the meta-objective Σᵢ L_Tᵢ(f_θ'ᵢ) on the query
//! sets is differentiated through the inner steps (second order). First-order MAML records
//! nothing in the inner loop, so ∂θ'/∂θ = I and the second-order terms drop out.

use autodidact_core::{CreateGraph, Float, Task, Var};

use crate::adapt::{adapt, InnerLr};
use crate::model::Model;

/// The mean post-adaptation query loss over `tasks`, differentiable with respect to `theta`.
pub fn maml_meta_loss<T: Float>(
    model: &Model,
    theta: &[Var<T>],
    tasks: &[Task],
    inner_lr: f64,
    steps: usize,
    first_order: bool,
) -> Var<T> {
    let create = if first_order {
        CreateGraph::No
    } else {
        CreateGraph::Yes
    };
    let mut total = Var::scalar(0.0);
    for task in tasks {
        let fast = adapt(
            model,
            theta,
            model.input(&task.support_x),
            &task.support_y,
            steps,
            InnerLr::Scalar(inner_lr),
            create,
            None,
        );
        let pred = model.forward(&fast, model.input(&task.query_x));
        total = total + model.loss(pred, &task.query_y);
    }
    total * (1.0 / tasks.len().max(1) as f64)
}
