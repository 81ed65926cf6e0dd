//! Reptile (Nichol et al. 2018): adapt to each task with plain SGD, then move θ toward the
//! adapted weights: θ ← θ + ε · mean_i(φᵢ − θ).

use autodidact_core::{CreateGraph, Params, Tape, Task, Tensor};

use crate::adapt::{adapt, InnerLr};
use crate::model::Model;

/// The adapted weights φ for one task (values, no graph).
pub fn reptile_adapt(
    model: &Model,
    params: &Params<f32>,
    task: &Task,
    inner_lr: f64,
    steps: usize,
) -> Vec<Tensor<f32>> {
    reptile_task(model, params, task, inner_lr, steps).0
}

/// The adapted weights φ for one task and the query loss at φ (Reptile has no meta-loss of
/// its own; this is what training reports).
pub fn reptile_task(
    model: &Model,
    params: &Params<f32>,
    task: &Task,
    inner_lr: f64,
    steps: usize,
) -> (Vec<Tensor<f32>>, f64) {
    let tape = Tape::<f32>::new();
    let theta = tape.params(params);
    let fast = adapt(
        model,
        &theta,
        model.input(&task.support_x),
        &task.support_y,
        steps,
        InnerLr::Scalar(inner_lr),
        CreateGraph::No,
        None,
    );
    let query = model.forward(&fast, model.input(&task.query_x));
    let loss = model.loss(query, &task.query_y).item();
    (fast.iter().map(|v| v.value()).collect(), loss)
}

/// The new parameters θ + ε · mean_i(φᵢ − θ) over `tasks`.
pub fn reptile_update(
    model: &Model,
    params: &Params<f32>,
    tasks: &[Task],
    inner_lr: f64,
    steps: usize,
    epsilon: f64,
) -> Vec<Tensor<f32>> {
    let phis: Vec<Vec<Tensor<f32>>> = tasks
        .iter()
        .map(|task| reptile_adapt(model, params, task, inner_lr, steps))
        .collect();
    reptile_combine(params, &phis, epsilon)
}

/// θ + ε · mean_i(φᵢ − θ) from the adapted weights of each task, summed in task order.
pub fn reptile_combine(
    params: &Params<f32>,
    phis: &[Vec<Tensor<f32>>],
    epsilon: f64,
) -> Vec<Tensor<f32>> {
    let mut mean: Vec<Tensor<f32>> = params.zeros_like();
    for phi in phis {
        for (m, (p, theta)) in mean.iter_mut().zip(phi.iter().zip(params.tensors())) {
            *m = &*m + &(p - theta);
        }
    }
    let scale = (epsilon / phis.len().max(1) as f64) as f32;
    params
        .tensors()
        .iter()
        .zip(&mean)
        .map(|(theta, m)| theta + &(m * scale))
        .collect()
}
