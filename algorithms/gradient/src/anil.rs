//! ANIL (Raghu et al. 2020): "almost no inner loop" — adapt only the head; the body is learned
//! in the outer loop only.

use autodidact_core::{Float, Task, Var};

use crate::adapt::{adapt, inner_graph, InnerLr};
use crate::model::Model;

/// The mean post-adaptation query loss with head-only adaptation.
pub fn anil_meta_loss<T: Float>(
    model: &Model,
    theta: &[Var<T>],
    tasks: &[Task],
    inner_lr: f64,
    steps: usize,
    first_order: bool,
) -> Var<T> {
    let create = inner_graph(first_order);
    let head = model.head_params();
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
            Some(&head),
        );
        let pred = model.forward(&fast, model.input(&task.query_x));
        total = total + model.loss(pred, &task.query_y);
    }
    total * (1.0 / tasks.len().max(1) as f64)
}
