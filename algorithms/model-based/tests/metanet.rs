//! MetaNet: the log-and-sign preprocessing and per-example gradients by hand, the fast-weight
//! path and the gradient-as-input path against finite differences (core's public `gradcheck`
//! and `gradgradcheck`, f64), checks of bad input, exact resume, and learning a Gaussian-classes
//! task well above chance in a short run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::layers::BackboneKind;
use autodidact_core::testing::{gradcheck, gradgradcheck, GradcheckOptions};
use autodidact_core::{
    grad, Algorithm, BatchNormMode, Config, CreateGraph, Hyperparams, Params, Seed, Split,
    TaskDistribution, Tensor, Var,
};
use autodidact_envs::{GaussianClasses, GaussianClassesParams};
use autodidact_model_based::metanet::episode::Episode;
use autodidact_model_based::metanet::meta_info::{chunk_means, head_gradients, log_and_sign};
use autodidact_model_based::metanet::{MetaNet, MetaNetLearner, MetaNetParams};
use ndarray::IxDyn;

fn gaussian(ways: usize, shots: usize, noise: f64) -> GaussianClasses {
    GaussianClasses::new(GaussianClassesParams {
        ways,
        shots,
        queries: 5,
        dim: 8,
        noise,
        ..Default::default()
    })
    .unwrap()
}

fn small_hp() -> MetaNetParams {
    MetaNetParams {
        meta_iterations: 10,
        batch_size: 2,
        backbone: BackboneKind::Mlp,
        hidden: vec![16],
        embedding_dim: 8,
        base_hidden: 8,
        key_dim: 8,
        generator_hidden: 8,
        rep_chunks: 2,
        val_every: 0,
        eval_episodes: 8,
        log_every: 1,
        ..MetaNetParams::default()
    }
}

fn learner(hp: MetaNetParams, seed: u64) -> MetaNetLearner {
    MetaNetLearner::with_distribution(
        hp.check().unwrap(),
        Box::new(gaussian(3, 1, 0.5)),
        Seed(seed),
    )
    .unwrap()
}

fn t(shape: &[usize], v: &[f64]) -> Tensor<f64> {
    Tensor::from_shape_vec(IxDyn(shape), v.to_vec()).unwrap()
}

#[test]
fn log_and_sign_by_hand() {
    let _tape = autodidact_core::Tape::<f64>::new();
    let g = Var::constant(t(&[3], &[0.5, -1e-5, 2e-4]));
    let p = 7.0;
    let out = log_and_sign(g, p).value();
    assert_eq!(out.shape(), &[3, 2]);
    let near = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    // |0.5| ≥ e^−7: (ln 0.5 / 7, +1).
    near(out[[0, 0]], 0.5f64.ln() / 7.0);
    near(out[[0, 1]], 1.0);
    // |−1e−5| < e^−7 ≈ 9.1e−4: (−1, e^7 · g).
    near(out[[1, 0]], -1.0);
    near(out[[1, 1]], -1e-5 * 7f64.exp());
    near(out[[2, 0]], -1.0);
    near(out[[2, 1]], 2e-4 * 7f64.exp());
}

#[test]
fn per_example_head_gradients_are_each_examples_own() {
    // Two examples through a 2 → 3 → 2 head: the batched rows must equal each example's
    // gradient taken alone.
    let tape = autodidact_core::Tape::<f64>::new();
    let h = Var::constant(t(&[2, 2], &[0.3, -1.2, 0.8, 0.5]));
    let w1 = Var::constant(t(&[2, 3], &[0.2, -0.4, 0.7, 0.1, 0.9, -0.3]));
    let w2 = Var::constant(t(&[3, 2], &[0.5, -0.6, 0.3, 0.2, -0.8, 0.4]));
    let labels = [1, 0];
    let head = |h: Var<f64>| {
        let pre = h.matmul(w1);
        let act = pre.relu();
        (pre, act, act.matmul(w2))
    };
    let (pre, act, logits) = head(h);
    let rows = head_gradients(h, pre, act, logits, w2, &labels, CreateGraph::No).value();
    assert_eq!(rows.shape(), &[2, 6 + 6]);
    for i in 0..2 {
        let a = tape.param(&w1.value());
        let b = tape.param(&w2.value());
        let hi = h.narrow(0, i, 1);
        let logits = hi.matmul(a).relu().matmul(b);
        let loss = autodidact_core::cross_entropy(logits, &labels[i..=i]);
        let g = grad(&[loss], &[a, b], CreateGraph::No);
        let alone: Vec<f64> = g[0]
            .value()
            .iter()
            .chain(g[1].value().iter())
            .copied()
            .collect();
        for (k, want) in alone.iter().enumerate() {
            assert!(
                (rows[[i, k]] - want).abs() < 1e-12,
                "example {i}, coordinate {k}: {} vs {want}; {rows:?} {alone:?}",
                rows[[i, k]]
            );
        }
    }
    // Chunk means of three rows in two chunks: row 0 alone, rows 1 and 2 averaged.
    let c = chunk_means(Var::constant(t(&[3, 1], &[1.0, 2.0, 4.0])), 2).value();
    assert_eq!(c, t(&[2, 1], &[1.0, 3.0]));
}

/// A tiny f64 MetaNet on one Gaussian episode, and its parameters.
fn tiny(second_order: bool) -> (MetaNet, Params<f64>, Episode) {
    let hp = MetaNetParams {
        second_order,
        backbone: BackboneKind::Mlp,
        hidden: vec![4],
        embedding_dim: 3,
        base_hidden: 3,
        key_dim: 3,
        generator_hidden: 3,
        rep_chunks: 2,
        ..MetaNetParams::default()
    };
    let env = GaussianClasses::new(GaussianClassesParams {
        ways: 2,
        shots: 2,
        queries: 1,
        dim: 3,
        ..Default::default()
    })
    .unwrap();
    let task = env.task(Split::Train, Seed(5), 0).unwrap();
    let ep = Episode::new(&task, 2).unwrap();
    let mut params = Params::<f64>::new();
    let model = MetaNet::build(&hp, &[3], 2, &mut params, &mut Seed(2).rng("init")).unwrap();
    (model, params, ep)
}

fn loss(model: &MetaNet, w: &[Var<f64>], ep: &Episode) -> Var<f64> {
    model
        .forward(w, ep, BatchNormMode::Train, &mut [])
        .unwrap()
        .loss
}

fn opts(n: usize) -> GradcheckOptions {
    GradcheckOptions {
        max_elements: Some(n),
        atol: 1e-6,
        ..GradcheckOptions::default()
    }
}

#[test]
fn fast_weight_path_gradients_match_finite_differences() {
    // First order: the support gradients are inputs, so the generators' parameters — which
    // act only through the fast weights, the memory and its attention read — are where the
    // recorded gradient is the true derivative.
    let (model, params, ep) = tiny(false);
    let names = params.names();
    let generators: Vec<usize> = (0..names.len())
        .filter(|&i| names[i].starts_with("gen."))
        .collect();
    assert!(!generators.is_empty());
    let inputs: Vec<Tensor<f64>> = generators
        .iter()
        .map(|&i| params.tensors()[i].clone())
        .collect();
    gradcheck(
        "metanet fast-weight path",
        |v| {
            let mut w: Vec<Var<f64>> = params
                .tensors()
                .iter()
                .cloned()
                .map(Var::constant)
                .collect();
            for (k, &i) in generators.iter().enumerate() {
                w[i] = v[k];
            }
            loss(&model, &w, &ep)
        },
        &inputs,
        &opts(8),
    )
    .unwrap();
}

#[test]
fn second_order_gradients_match_finite_differences() {
    // Second order: every parameter, including those the support gradients depend on.
    let (model, params, ep) = tiny(true);
    gradcheck(
        "metanet second order",
        |v| loss(&model, v, &ep),
        params.tensors(),
        &opts(6),
    )
    .unwrap();
    // And through the gradient-as-input path twice: the Hessian-vector products of the loss.
    gradgradcheck(
        "metanet second order",
        |v| loss(&model, v, &ep),
        params.tensors(),
        &opts(3),
    )
    .unwrap();
}

#[test]
fn first_order_treats_the_support_gradients_as_inputs() {
    // The switch must change the slow weights' gradient (the second-order terms) and nothing
    // in the loss itself.
    let grads = |second: bool| {
        let (model, params, ep) = tiny(second);
        let tape = autodidact_core::Tape::<f64>::new();
        let w = tape.params(&params);
        let l = loss(&model, &w, &ep);
        let g = tape.grad(&l, &w, CreateGraph::No);
        let i = params
            .names()
            .iter()
            .position(|n| n == "base.hidden.weight")
            .unwrap();
        (l.item(), g[i].value())
    };
    let (l1, g1) = grads(false);
    let (l2, g2) = grads(true);
    assert!((l1 - l2).abs() < 1e-12, "{l1} vs {l2}");
    let diff: f64 = (&g1 - &g2).iter().map(|x| x.abs()).sum();
    assert!(
        diff > 1e-9,
        "first- and second-order gradients coincide: {diff}"
    );
}

#[test]
fn bad_settings_are_refused_naming_the_key() {
    let check = |key: &str, value: toml::Value| {
        let mut c = Config::new();
        c.insert(key.into(), value);
        let err = MetaNetParams::from_config(&c).unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
    };
    check("rep_chunks", toml::Value::Integer(0));
    check("grad_preprocess_p", toml::Value::Float(0.0));
    check("second_order", toml::Value::String("maybe".into()));
    check("backbone", toml::Value::String("resnet".into()));
    check("no_such_key", toml::Value::Integer(1));
    let _ = MetaNetParams::default().check().unwrap();
    // An episode whose labels exceed the model's classes names them.
    let env = gaussian(3, 1, 0.5);
    let task = env.task(Split::Train, Seed(0), 0).unwrap();
    let err = Episode::new(&task, 2).unwrap_err().to_string();
    assert!(err.contains("2 classes"), "{err}");
}

#[test]
fn resumes_exactly_from_a_checkpoint() {
    let mut straight = learner(small_hp(), 7);
    for _ in 0..2 {
        straight.train_step().unwrap();
    }
    let bytes = straight.save().unwrap();
    let mut resumed = learner(small_hp(), 7);
    resumed.load(&bytes).unwrap();
    assert_eq!(resumed.steps_done(), 2);
    for _ in 0..2 {
        let x = straight.train_step().unwrap();
        let y = resumed.train_step().unwrap();
        let bits = |m: &autodidact_core::Metrics| -> Vec<(String, u64)> {
            m.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
        };
        assert_eq!(bits(&x), bits(&y));
    }
    assert_eq!(straight.save().unwrap(), resumed.save().unwrap());
    // A MANN checkpoint is refused.
    let mut mann = autodidact_model_based::ModelBasedLearner::with_distribution(
        autodidact_model_based::Method::Mann,
        autodidact_model_based::hyperparams::ModelBasedParams {
            backbone: BackboneKind::Mlp,
            instances: 2,
            ..Default::default()
        }
        .check()
        .unwrap(),
        Box::new(gaussian(3, 1, 0.5)),
        Seed(7),
    )
    .unwrap();
    assert!(mann.load(&bytes).is_err());
    assert!(resumed.load(&mann.save().unwrap()).is_err());
}

#[test]
fn learns_gaussian_classes_above_chance() {
    let hp = MetaNetParams {
        meta_iterations: 300,
        batch_size: 4,
        lr: 3e-3,
        eval_episodes: 200,
        log_every: 1_000,
        ..small_hp()
    };
    let mut l = learner(hp, 1);
    let before = l.evaluate(None).unwrap()["accuracy"];
    for _ in 0..300 {
        l.train_step().unwrap();
    }
    let m = l.evaluate(None).unwrap();
    let after = m["accuracy"];
    // Vector inputs: the raw-feature nearest prototype on the same episodes beside it.
    assert!(m["baseline_accuracy"] > 0.5, "{m:?}");
    eprintln!("meta-net, 3-way 1-shot Gaussian classes: {before:.3} → {after:.3}");
    // Chance is 1/3.
    assert!(after > 0.6, "accuracy {after}");
    // Episodes of fewer classes use the first output units (chance 1/2); more are refused.
    let two = autodidact_core::EnvInstance::Tasks(Box::new(gaussian(2, 1, 0.5)));
    let m2 = l.evaluate(Some(&two)).unwrap();
    eprintln!("… evaluated on 2-way episodes: {:.3}", m2["accuracy"]);
    assert!(m2["accuracy"] > 0.7, "{m2:?}");
    let four = autodidact_core::EnvInstance::Tasks(Box::new(gaussian(4, 1, 0.5)));
    assert!(l.evaluate(Some(&four)).is_err());
}

#[test]
fn the_thread_count_does_not_change_a_number() {
    // Evaluation episodes run on the worker pool, with validation (and so early stopping)
    // reading them too.
    let run = |threads: usize| {
        let hp = MetaNetParams {
            threads,
            val_every: 2,
            val_episodes: 5,
            ..small_hp()
        };
        let mut l = learner(hp, 9);
        let mut logs = Vec::new();
        for _ in 0..4 {
            logs.push(l.train_step().unwrap());
        }
        logs.push(l.evaluate(None).unwrap());
        let bits: Vec<Vec<(String, u64)>> = logs
            .iter()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect())
            .collect();
        (bits, l.save().unwrap())
    };
    assert_eq!(run(1), run(2));
}
