//! MER reduces to Reptile: with an empty memory, β = γ = 1 and `s` batches, its update on an
//! incoming example is `s` SGD steps on that example, i.e. Reptile with ε = 1 and `s` inner
//! steps on the one-example task (checked against the gradient family's Reptile); with one
//! batch it is Reptile with ε = βγ.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_continual::hyperparams::ContinualParams;
use autodidact_continual::{ContinualLearner, Method};
use autodidact_core::layers::{Activation, BackboneKind};
use autodidact_core::{
    Algorithm, Hyperparams as _, Params, Seed, Targets, Task, TaskKind, TaskStream, Tensor,
};
use autodidact_gradient::hyperparams::MetaParams;
use autodidact_gradient::model::Model as GradientModel;
use autodidact_gradient::reptile::reptile_update;
use ndarray::IxDyn;

/// MER's parameters after the first example of an online permuted stream, its parameters
/// before, and that example.
fn mer_first_step(
    batches: usize,
    beta: f64,
    gamma: f64,
    lr: f64,
) -> (Vec<Tensor<f32>>, Vec<Tensor<f32>>, Vec<f32>, usize) {
    let mut stream = common::permuted(4);
    stream.set_online(true);
    let hp = ContinualParams {
        hidden: vec![8],
        lr,
        mer_batches: batches,
        mer_batch_size: 5,
        mer_beta: beta,
        mer_gamma: gamma,
        ..common::quick("mer")
    }
    .check()
    .unwrap();
    let mut l = ContinualLearner::with_stream(Method::Mer, hp, &stream, Seed(3)).unwrap();
    let before = l.params().tensors().to_vec();
    l.train_step().unwrap();
    let after = l.params().tensors().to_vec();
    let e = &stream.experiences()[0];
    let d = e.train_x.len() / e.train_x.shape()[0];
    let x: Vec<f32> = e.train_x.iter().take(d).copied().collect();
    (before, after, x, e.train_y[0])
}

/// Reptile of the gradient family on the one-example task from `theta`.
fn reptile(
    theta: &[Tensor<f32>],
    x: &[f32],
    y: usize,
    lr: f64,
    steps: usize,
    eps: f64,
) -> Vec<Tensor<f32>> {
    let hp = MetaParams {
        hidden: vec![8],
        activation: Activation::Relu,
        backbone: BackboneKind::Mlp,
        ..MetaParams::default()
    };
    let mut params = Params::<f32>::new();
    let model = GradientModel::build(
        &hp,
        TaskKind::Classification { ways: 4 },
        &[x.len()],
        &mut params,
        &mut Seed(0).rng("init"),
    )
    .unwrap();
    params.assign(theta.to_vec()).unwrap();
    let row = Tensor::from_shape_vec(IxDyn(&[1, x.len()]), x.to_vec()).unwrap();
    let task = Task {
        support_x: row.clone(),
        support_y: Targets::Labels(vec![y]),
        query_x: row,
        query_y: Targets::Labels(vec![y]),
    };
    reptile_update(&model, &params, &[task], lr, steps, eps)
}

fn max_diff(a: &[Tensor<f32>], b: &[Tensor<f32>]) -> f32 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y.iter()).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

#[test]
fn mer_without_memory_is_reptile() {
    let (before, after, x, y) = mer_first_step(4, 1.0, 1.0, 0.1);
    let phi = reptile(&before, &x, y, 0.1, 4, 1.0);
    let moved = max_diff(&before, &after);
    assert!(moved > 1e-3, "MER did not move: {moved}");
    let d = max_diff(&after, &phi);
    assert!(d < 1e-6, "MER and Reptile differ by {d} (moved {moved})");
}

#[test]
fn one_mer_batch_is_reptile_with_epsilon_beta_times_gamma() {
    let (before, after, x, y) = mer_first_step(1, 0.5, 0.4, 0.2);
    let phi = reptile(&before, &x, y, 0.2, 1, 0.2);
    let d = max_diff(&after, &phi);
    assert!(d < 1e-6, "MER and Reptile(ε = βγ) differ by {d}");
    // And not Reptile with another ε: the test can tell them apart.
    let wrong = reptile(&before, &x, y, 0.2, 1, 0.5);
    assert!(max_diff(&after, &wrong) > 1e-4);
}
