//! Meta-SGD (Li et al. 2017): MAML with a learned per-parameter inner learning rate α, meta-
//! learned together with θ: θ'ᵢ = θ − α ⊙ ∇θ L_Tᵢ(f_θ).

use autodidact_core::{Float, Task, Var};

use crate::adapt::{adapt, inner_graph, InnerLr};
use crate::model::Model;

/// The mean post-adaptation query loss, differentiable with respect to `theta` and `alphas`.
pub fn meta_sgd_meta_loss<T: Float>(
    model: &Model,
    theta: &[Var<T>],
    alphas: &[Var<T>],
    tasks: &[Task],
    steps: usize,
    first_order: bool,
) -> Var<T> {
    let create = inner_graph(first_order);
    let mut total = Var::scalar(0.0);
    for task in tasks {
        let fast = adapt(
            model,
            theta,
            model.input(&task.support_x),
            &task.support_y,
            steps,
            InnerLr::PerParam(alphas),
            create,
            None,
        );
        let pred = model.forward(&fast, model.input(&task.query_x));
        total = total + model.loss(pred, &task.query_y);
    }
    total * (1.0 / tasks.len().max(1) as f64)
}
