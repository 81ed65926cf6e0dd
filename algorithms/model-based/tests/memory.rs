//! LRUA against a hand computation on a 3-slot memory, and the gradients of the memory ops and
//! of whole MANN and LSTM episodes against finite differences (core's public `gradcheck`, f64).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::layers::BackboneKind;
use autodidact_core::testing::{gradcheck, GradcheckOptions};
use autodidact_core::BatchNormMode;
use autodidact_core::{Hyperparams, Params, Seed, Split, Tape, Tensor, Var};
use autodidact_envs::{GaussianClasses, GaussianClassesParams};
use autodidact_model_based::hyperparams::ModelBasedParams;
use autodidact_model_based::learner::episode_batch;
use autodidact_model_based::memory::{
    content_weights, least_used_slot, least_used_weights, lrua_step, read, MemoryState,
};
use autodidact_model_based::{Method, Model};
use ndarray::{arr1, IxDyn};

fn t(shape: &[usize], v: &[f64]) -> Tensor<f64> {
    Tensor::from_shape_vec(IxDyn(shape), v.to_vec()).unwrap()
}

fn near(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

#[test]
fn lrua_step_by_hand_on_three_slots() {
    let _tape = Tape::<f64>::new();
    // One episode, one head, slots of width 2.
    let memory = t(&[1, 3, 2], &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    let prev_read = t(&[1, 1, 3], &[0.7, 0.2, 0.1]);
    let usage = t(&[1, 3], &[0.5, 0.2, 0.9]);
    let key = t(&[1, 1, 2], &[1.0, 1.0]);
    let gate = t(&[1, 1, 1], &[0.0]); // σ(0) = ½
    let state = MemoryState {
        memory: Var::constant(memory),
        read_weights: Var::constant(prev_read),
        reads: Var::constant(Tensor::zeros(IxDyn(&[1, 1, 2]))),
    };
    // Slot 1 is the least used.
    assert_eq!(least_used_slot(&usage), vec![1]);
    assert_eq!(
        least_used_weights(&usage, 1),
        t(&[1, 1, 3], &[0.0, 1.0, 0.0])
    );
    assert_eq!(
        least_used_weights(&usage, 2),
        t(&[1, 1, 3], &[1.0, 1.0, 0.0])
    );
    let (next, new_usage) = lrua_step(
        &state,
        &usage,
        Var::constant(key),
        Var::constant(gate),
        None,
        0.9,
    );
    // w^w = ½ (0.7, 0.2, 0.1) + ½ (0, 1, 0) = (0.35, 0.6, 0.05).
    let ww = [0.35, 0.6, 0.05];
    // Slot 1 is erased, then each slot gains w^w(i) · (1, 1).
    let m = [[1.0 + ww[0], ww[0]], [ww[1], ww[1]], [ww[2], ww[2]]];
    let got = next.memory.value();
    for i in 0..3 {
        for j in 0..2 {
            near(got[[0, i, j]], m[i][j]);
        }
    }
    // Cosine of (1, 1) with each slot, then a softmax.
    let cos: Vec<f64> = m
        .iter()
        .map(|r| (r[0] + r[1]) / (2f64.sqrt() * (r[0] * r[0] + r[1] * r[1]).sqrt()))
        .collect();
    let z: f64 = cos.iter().map(|c| c.exp()).sum();
    let wr: Vec<f64> = cos.iter().map(|c| c.exp() / z).collect();
    let got_wr = next.read_weights.value();
    for i in 0..3 {
        near(got_wr[[0, 0, i]], wr[i]);
    }
    // r = Σ w^r(i) M(i).
    let got_r = next.reads.value();
    for j in 0..2 {
        near(got_r[[0, 0, j]], (0..3).map(|i| wr[i] * m[i][j]).sum());
    }
    // w^u = 0.9 (0.5, 0.2, 0.9) + w^r + w^w.
    let u0 = [0.5, 0.2, 0.9];
    for i in 0..3 {
        near(new_usage[[0, i]], 0.9 * u0[i] + wr[i] + ww[i]);
    }
    // The next least-used slot is now the one the head barely touched... unless decay says
    // otherwise: slot 2 started at 0.9 and gained little; slot 1 gained the write.
    let expect = (0..3)
        .min_by(|&a, &b| new_usage[[0, a]].partial_cmp(&new_usage[[0, b]]).unwrap())
        .unwrap();
    assert_eq!(least_used_slot(&new_usage), vec![expect]);
}

#[test]
fn content_reads_are_softmax_of_cosines() {
    let _tape = Tape::<f64>::new();
    // A zero slot has similarity 0 (not NaN).
    let memory = Var::constant(t(&[1, 2, 2], &[3.0, 0.0, 0.0, 0.0]));
    let key = Var::constant(t(&[1, 1, 2], &[2.0, 0.0]));
    let w = content_weights(key, memory, None).value();
    let e = 1f64.exp();
    near(w[[0, 0, 0]], e / (e + 1.0));
    near(w[[0, 0, 1]], 1.0 / (e + 1.0));
    let r = read(Var::constant(w.clone()), memory).value();
    near(r[[0, 0, 0]], 3.0 * w[[0, 0, 0]]);
    // A key strength β multiplies the cosines before the softmax.
    let beta = Var::constant(t(&[1, 1, 1], &[3.0]));
    let w = content_weights(key, memory, Some(beta)).value();
    let e3 = 3f64.exp();
    near(w[[0, 0, 0]], e3 / (e3 + 1.0));
}

#[test]
fn memory_ops_gradients_match_finite_differences() {
    // Two episodes, two heads, four slots of width 3.
    let keys: Vec<f64> = (0..12).map(|i| ((i as f64) * 0.37).sin()).collect();
    let mem: Vec<f64> = (0..24).map(|i| ((i as f64) * 0.91 + 0.3).cos()).collect();
    let gates = [0.3, -0.8, 1.2, 0.1];
    let prev: Vec<f64> = (0..16).map(|i| 0.1 + ((i * 7) % 5) as f64 * 0.1).collect();
    let inputs = vec![
        t(&[2, 2, 3], &keys),
        t(&[2, 4, 3], &mem),
        t(&[2, 2, 1], &gates),
        t(&[2, 2, 4], &prev),
    ];
    // Distinct usages so the least-used ranking is away from ties under perturbation.
    let usage = t(&[2, 4], &[0.4, 0.1, 0.9, 0.6, 0.2, 0.8, 0.05, 0.5]);
    gradcheck(
        "lrua_step",
        |v| {
            let state = MemoryState {
                memory: v[1],
                read_weights: v[3],
                reads: Var::zeros(&[2, 2, 3]),
            };
            let beta = (v[2] * 2.0).softplus() + 1.0;
            let (next, _) = lrua_step(&state, &usage, v[0].tanh(), v[2], Some(beta), 0.95);
            // Reads, read weights and the memory all reach the loss in a real episode.
            Var::concat(
                &[
                    next.reads.reshape(&[2, 6]),
                    next.read_weights.reshape(&[2, 8]),
                    next.memory.reshape(&[2, 12]),
                ],
                1,
            )
        },
        &inputs,
        &GradcheckOptions::default(),
    )
    .unwrap();
    gradcheck(
        "content_weights",
        |v| content_weights(v[0], v[1], None),
        &inputs[..2],
        &GradcheckOptions::default(),
    )
    .unwrap();
}

fn tiny_hp() -> ModelBasedParams {
    ModelBasedParams {
        batch_size: 2,
        instances: 2,
        controller_hidden: 5,
        memory_slots: 4,
        memory_width: 3,
        read_heads: 2,
        backbone: BackboneKind::Mlp,
        hidden: vec![4],
        embedding_dim: 3,
        ..ModelBasedParams::default()
    }
}

/// Gradients of a whole episode's loss with respect to every parameter, in f64.
fn check_model(method: Method) {
    let hp = tiny_hp().check().unwrap();
    let env = GaussianClasses::new(GaussianClassesParams {
        ways: 2,
        dim: 3,
        ..Default::default()
    })
    .unwrap();
    let batch = episode_batch(&env, Split::Train, Seed(3), 0, 2, hp.instances).unwrap();
    let mut params = Params::<f64>::new();
    let model = Model::build(method, &hp, &[3], 2, &mut params, &mut Seed(1).rng("init")).unwrap();
    gradcheck(
        method.name(),
        |v| {
            model
                .forward(v, &batch, BatchNormMode::Train, &mut [])
                .unwrap()
                .loss
        },
        params.tensors(),
        &GradcheckOptions {
            max_elements: Some(12),
            ..GradcheckOptions::default()
        },
    )
    .unwrap();
}

#[test]
fn mann_episode_gradients_match_finite_differences() {
    check_model(Method::Mann);
}

#[test]
fn lstm_episode_gradients_match_finite_differences() {
    check_model(Method::Lstm);
}

#[test]
fn usage_decays_and_accumulates() {
    let u = autodidact_model_based::memory::update_usage(
        &t(&[1, 2], &[1.0, 0.0]),
        0.5,
        &t(&[1, 2, 2], &[0.25, 0.75, 0.5, 0.5]),
        &t(&[1, 2, 2], &[1.0, 0.0, 0.0, 1.0]),
    );
    assert_eq!(
        u,
        arr1(&[0.5 + 0.75 + 1.0, 1.25 + 1.0])
            .into_shape_with_order(IxDyn(&[1, 2]))
            .unwrap()
    );
}
