//! MAML (Finn et al. 2017) and its first-order approximation.
//!
//! θ'ᵢ = θ − α∇θ L_Tᵢ(f_θ) on each support set; the meta-objective Σᵢ L_Tᵢ(f_θ'ᵢ) on the query
//! sets is differentiated through the inner steps (second order). First-order MAML records
//! nothing in the inner loop, so ∂θ'/∂θ = I and the second-order terms drop out.

use autodidact_core::ndarray::{self, Axis};
use autodidact_core::{grad, sgd_step, Float, Targets, Task, Tensor, Var};

use crate::adapt::{adapt, inner_graph, InnerLr};
use crate::model::{Body, Model};

/// The mean post-adaptation query loss over `tasks`, differentiable with respect to `theta`.
pub fn maml_meta_loss<T: Float>(
    model: &Model,
    theta: &[Var<T>],
    tasks: &[Task],
    inner_lr: f64,
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
            InnerLr::Scalar(inner_lr),
            create,
            None,
        );
        let pred = model.forward(&fast, model.input(&task.query_x));
        total = total + model.loss(pred, &task.query_y);
    }
    total * (1.0 / tasks.len().max(1) as f64)
}

/// Whether [`maml_meta_loss_batched`] can run `tasks`: an MLP body, and every task with the
/// same support and query shapes as the first (and the same kind of targets).
pub fn batchable(model: &Model, tasks: &[Task]) -> bool {
    let Some(first) = tasks.first() else {
        return false;
    };
    let same = |a: &Targets, b: &Targets| match (a, b) {
        (Targets::Values(x), Targets::Values(y)) => x.shape() == y.shape(),
        (Targets::Labels(x), Targets::Labels(y)) => x.len() == y.len(),
        _ => false,
    };
    matches!(model.body, Body::Mlp(_))
        && tasks.iter().all(|t| {
            t.support_x.shape() == first.support_x.shape()
                && t.query_x.shape() == first.query_x.shape()
                && same(&t.support_y, &first.support_y)
                && same(&t.query_y, &first.query_y)
        })
}

/// The inputs of every task stacked `[tasks, rows, in]`, and their targets concatenated.
fn stacked<T: Float>(
    model: &Model,
    tasks: &[Task],
    part: impl Fn(&Task) -> (&Tensor<f32>, &Targets),
) -> (Var<T>, Targets) {
    let views: Vec<_> = tasks.iter().map(|t| part(t).0.view()).collect();
    let rows = views.first().map_or(0, |v| v.shape()[0]);
    let x = match ndarray::concatenate(Axis(0), &views) {
        Ok(x) => x,
        Err(e) => panic!("maml: stacking task inputs ({e}); check `batchable` first"),
    };
    let x = model.input::<T>(&x);
    let width = x.shape()[1];
    let x = x.reshape(&[tasks.len(), rows, width]);
    let y = match part(&tasks[0]).1 {
        Targets::Values(_) => {
            let ys: Vec<_> = tasks
                .iter()
                .map(|t| match part(t).1 {
                    Targets::Values(v) => v.view(),
                    Targets::Labels(_) => panic!("maml: mixed targets; check `batchable` first"),
                })
                .collect();
            match ndarray::concatenate(Axis(0), &ys) {
                Ok(y) => Targets::Values(y),
                Err(e) => panic!("maml: stacking task targets ({e}); check `batchable` first"),
            }
        }
        Targets::Labels(_) => Targets::Labels(
            tasks
                .iter()
                .flat_map(|t| match part(t).1 {
                    Targets::Labels(l) => l.clone(),
                    Targets::Values(_) => panic!("maml: mixed targets; check `batchable` first"),
                })
                .collect(),
        ),
    };
    (x, y)
}

/// [`maml_meta_loss`] with every task in one batched pass (vectorised MAML): the parameters
/// are copied per task ([`autodidact_core::layers::Mlp::per_task`]), so one gradient of the
/// support losses summed over tasks gives each task its own inner gradient, and every matrix
/// product is one batched product over the tasks. The same meta-loss and meta-gradient as the task loop up to
/// summation order, with a graph of a few dozen nodes instead of a few dozen per task, which
/// is what makes small networks (sinusoid regression) fast.
///
/// # Panics
/// Unless [`batchable`] holds for `model` and `tasks`.
pub fn maml_meta_loss_batched<T: Float>(
    model: &Model,
    theta: &[Var<T>],
    tasks: &[Task],
    inner_lr: f64,
    steps: usize,
    first_order: bool,
) -> Var<T> {
    let Body::Mlp(mlp) = &model.body else {
        panic!("maml_meta_loss_batched needs an MLP body; check `batchable` first")
    };
    let create = inner_graph(first_order);
    let n = tasks.len();
    let (xs, ys) = stacked::<T>(model, tasks, |t| (&t.support_x, &t.support_y));
    let (xq, yq) = stacked::<T>(model, tasks, |t| (&t.query_x, &t.query_y));
    // The model's loss over all tasks' rows is the mean over tasks of each task's loss (every
    // task has the same rows); times the task count it is their sum.
    let flat = |pred: Var<T>| {
        let s = pred.shape();
        pred.reshape(&[s[0] * s[1], s[2]])
    };
    let mut fast = mlp.per_task(theta, n);
    for _ in 0..steps {
        let loss = model.loss(flat(model.forward(&fast, xs)), &ys) * n as f64;
        let g = grad(&[loss], &fast, create);
        fast = sgd_step(&fast, &g, inner_lr);
    }
    model.loss(flat(model.forward(&fast, xq)), &yq)
}
