//! The tape's contract: scopes free their nodes, stale variables are refused, no_grad and
//! detach cut the graph, and unused inputs get zero gradients.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cloned_ref_to_slice_refs
)]

use autodidact_core::ndarray::{arr1, arr2};
use autodidact_core::*;

#[test]
fn tape_scope_frees_nodes_and_keeps_flat_memory() {
    let base = {
        let t = Tape::<f32>::new();
        t.len()
    };
    for _ in 0..1000 {
        let t = Tape::<f32>::new();
        let x = t.param(&arr2(&[[1.0f32, 2.0], [3.0, 4.0]]).into_dyn());
        let y = (x.matmul(x) * 2.0).relu().sum();
        let g = t.grad(&y, &[x], CreateGraph::No);
        assert_eq!(g[0].shape(), vec![2, 2]);
    }
    let t = Tape::<f32>::new();
    assert_eq!(t.len(), base);
}

#[test]
#[should_panic(expected = "belongs to a tape that was dropped")]
fn stale_variables_are_refused() {
    let stale = {
        let _t = Tape::<f64>::new();
        Var::<f64>::scalar(1.0)
    };
    let _t = Tape::<f64>::new();
    let _fresh = Var::<f64>::scalar(2.0);
    let _ = stale.value();
}

#[test]
fn no_grad_and_detach_cut_the_graph() {
    let _t = Tape::<f64>::new();
    let x = Var::leaf(arr1(&[2.0]).into_dyn());
    let y = no_grad(|| x * 3.0);
    assert!(!y.requires_grad());
    let z = (x.detach() * x).sum();
    let g = grad(&[z], &[x], CreateGraph::No)[0];
    assert_eq!(g.item(), 2.0); // d/dx (c·x) with c = x detached
    let unused = Var::leaf(arr1(&[1.0, 1.0]).into_dyn());
    let g2 = grad(&[z], &[unused], CreateGraph::No)[0];
    assert_eq!(
        g2.value().iter().copied().collect::<Vec<f64>>(),
        vec![0.0, 0.0]
    );
}

#[test]
fn gradient_without_create_graph_is_constant() {
    let _t = Tape::<f64>::new();
    let x = Var::leaf(arr1(&[0.5]).into_dyn());
    let y = x.tanh().sum();
    let g = grad(&[y], &[x], CreateGraph::No)[0];
    assert!(!g.requires_grad());
    let g2 = grad(&[y], &[x], CreateGraph::Yes)[0];
    assert!(g2.requires_grad());
}

#[test]
fn gradient_through_intermediate_inputs() {
    // The gradient with respect to an intermediate (a fast weight) stops there.
    let _t = Tape::<f64>::new();
    let w = Var::leaf(arr1(&[1.0, 2.0]).into_dyn());
    let fast = w * 3.0;
    let l = (fast * fast).sum();
    let g = grad(&[l], &[fast], CreateGraph::No)[0].value();
    assert_eq!(g.iter().copied().collect::<Vec<f64>>(), vec![6.0, 12.0]);
    let gw = grad(&[l], &[w], CreateGraph::No)[0].value();
    assert_eq!(gw.iter().copied().collect::<Vec<f64>>(), vec![18.0, 36.0]);
}

#[test]
#[should_panic(expected = "shape error in matmul")]
fn shape_errors_name_the_op_and_shapes() {
    let _t = Tape::<f32>::new();
    let a = Var::<f32>::zeros(&[2, 3]);
    let b = Var::<f32>::zeros(&[2, 3]);
    let _ = a.matmul(b);
}

#[test]
fn optimisers_reduce_a_quadratic_and_serialise() {
    use autodidact_core::ndarray::ArrayD;
    fn run(mut opt: impl Optimizer<f64>) -> f64 {
        let mut p = Params::<f64>::new();
        p.insert("w", arr1(&[3.0, -2.0]).into_dyn());
        for _ in 0..200 {
            let t = Tape::<f64>::new();
            let v = t.params(&p);
            let l = v[0].square().sum();
            let g: Vec<ArrayD<f64>> = t
                .grad(&l, &v, CreateGraph::No)
                .iter()
                .map(|g| g.value())
                .collect();
            opt.step(&mut p, &g).unwrap();
        }
        p.tensors()[0].iter().map(|x| x.abs()).sum()
    }
    assert!(run(Sgd::new(0.1)) < 1e-6);
    assert!(run(Sgd::new(0.05).with_momentum(0.9, true)) < 1e-3);
    assert!(run(Adam::new(0.1)) < 1e-2);
    assert!(run(Adam::adamw(0.1, 0.01)) < 1e-2);
    assert!(run(RmsProp::new(0.05)) < 0.1);
    let adam = Adam::<f32>::new(1e-3);
    let s = serde_json::to_string(&adam).unwrap();
    let back: Adam<f32> = serde_json::from_str(&s).unwrap();
    assert_eq!(adam, back);
}

#[test]
fn clip_grad_norm_scales_to_the_bound() {
    let mut g = vec![arr1(&[3.0f64, 4.0]).into_dyn()];
    let n = clip_grad_norm(&mut g, 1.0);
    assert!((n - 5.0).abs() < 1e-12);
    let after: f64 = g[0].iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((after - 1.0).abs() < 1e-5);
}

#[test]
fn clip_grad_norm_reads_strided_and_contiguous_gradients_alike() {
    // The same logical values, once in standard layout (read as a slice) and once
    // column-major (read element by element): the sum runs in logical order either way.
    let m = arr2(&[[1.0f32, -2.0, 0.5], [3.0, 0.25, -4.0]]).into_dyn();
    let column_major = m.t().to_owned();
    let row_major = m.t().as_standard_layout().into_owned();
    assert!(column_major.as_slice().is_none() && row_major.as_slice().is_some());
    let mut a = vec![row_major, arr1(&[7.0f32]).into_dyn()];
    let mut b = vec![column_major, arr1(&[7.0f32]).into_dyn()];
    let (na, nb) = (clip_grad_norm(&mut a, 2.0), clip_grad_norm(&mut b, 2.0));
    assert_eq!(na.to_bits(), nb.to_bits());
    assert!((na - 79.3125f64.sqrt()).abs() < 1e-12);
    assert_eq!(a, b);
}

#[test]
fn argmax_slice_takes_the_first_largest_and_never_a_nan() {
    assert_eq!(argmax_slice(&[1.0f32, 3.0, 3.0, -1.0]), 1);
    assert_eq!(argmax_slice(&[f32::NAN, 1.0, 0.5]), 1);
    assert_eq!(argmax_slice(&[0.5f64, f64::NAN, 2.0]), 2);
    assert_eq!(argmax_slice::<f32>(&[]), 0);
    assert_eq!(argmax_slice(&[f32::NEG_INFINITY, f32::NEG_INFINITY]), 0);
    let m = arr2(&[[0.0f32, 2.0, 1.0], [f32::NAN, -1.0, 5.0]]).into_dyn();
    let rows: Vec<usize> = argmax(&m, 1).iter().copied().collect();
    let by_slice: Vec<usize> = m
        .outer_iter()
        .map(|r| argmax_slice(&r.iter().copied().collect::<Vec<_>>()))
        .collect();
    assert_eq!(rows, vec![1, 2]);
    assert_eq!(rows, by_slice);
}

#[test]
fn params_round_trip_through_serde() {
    let mut p = Params::<f32>::new();
    let _ = Mlp::new(
        &mut p,
        "net",
        &[2, 3, 1],
        Activation::Relu,
        Init::KaimingUniform,
        &mut Seed(1).rng("init"),
    );
    let s = serde_json::to_string(&p).unwrap();
    let back: Params<f32> = serde_json::from_str(&s).unwrap();
    assert_eq!(p, back);
    assert!(p.check_compatible(&back).is_ok());
}

#[test]
fn adam_matches_its_formula_and_never_keeps_subnormal_moments() {
    use autodidact_core::optim::Optimizer;
    let mut params = Params::<f32>::new();
    params.insert(
        "w",
        ndarray::ArrayD::from_elem(ndarray::IxDyn(&[3]), 1.0f32),
    );
    let mut adam = Adam::<f32>::new(0.1);
    // First step: m̂ = g, v̂ = g², so w moves by lr·g/(|g| + ε) = lr·sign(g).
    let g =
        ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[3]), vec![2.0f32, -0.5, 1e-3]).unwrap();
    adam.step(&mut params, std::slice::from_ref(&g)).unwrap();
    let w = params.tensors()[0].clone();
    for (wi, gi) in w.iter().zip(&g) {
        let expected = 1.0 - 0.1 * gi / (gi.abs() + 1e-8);
        assert!((wi - expected).abs() < 1e-6, "{wi} vs {expected}");
    }
    // Then zero gradients for long: the moments decay through the subnormal range, which the
    // optimiser flushes to zero instead (the weights stop moving either way).
    let zero = ndarray::ArrayD::zeros(ndarray::IxDyn(&[3]));
    for _ in 0..20_000 {
        adam.step(&mut params, std::slice::from_ref(&zero)).unwrap();
    }
    let state = serde_json::to_value(&adam).unwrap();
    for key in ["m", "v"] {
        let flat = state[key].to_string();
        let values: Vec<f32> = serde_json::from_value::<Vec<serde_json::Value>>(state[key].clone())
            .unwrap()
            .iter()
            .flat_map(|t| serde_json::from_value::<ndarray::ArrayD<f32>>(t.clone()).unwrap())
            .collect();
        assert!(
            values.iter().all(|x| *x == 0.0 || x.is_normal()),
            "{key} holds a subnormal: {flat}"
        );
    }
}

#[test]
fn adam_lr_scales_act_as_parameter_groups() {
    use autodidact_core::ndarray::ArrayD;
    // Two tensors with the same gradient history: the one scaled by 0.25 must move exactly a
    // quarter as far as the unscaled one under plain Adam, and with AdamW's decoupled decay too.
    for mut adam in [Adam::<f64>::new(0.1), Adam::<f64>::adamw(0.1, 0.5)] {
        adam.set_lr_scale(1, 0.25);
        assert_eq!(adam.lr_scale(0), 1.0);
        assert_eq!(adam.lr_scale(1), 0.25);
        assert_eq!(adam.lr_scale(7), 1.0);
        let mut p = Params::<f64>::new();
        p.insert("a", arr1(&[1.0, -1.0]).into_dyn());
        p.insert("b", arr1(&[1.0, -1.0]).into_dyn());
        let grads: Vec<ArrayD<f64>> = vec![arr1(&[0.3, -2.0]).into_dyn(); 2];
        let mut reference = Adam::<f64>::new(0.025);
        reference.weight_decay = adam.weight_decay;
        reference.decoupled = adam.decoupled;
        let mut q = Params::<f64>::new();
        q.insert("b", arr1(&[1.0, -1.0]).into_dyn());
        for _ in 0..3 {
            adam.step(&mut p, &grads).unwrap();
            reference.step(&mut q, &grads[..1]).unwrap();
        }
        let a = &p.tensors()[0];
        let b = &p.tensors()[1];
        assert!((a[0] - 1.0).abs() > 0.2, "the unscaled tensor moves: {a}");
        // Scaled tensor == a separate Adam at lr × 0.25 (a parameter group).
        for (x, y) in b.iter().zip(q.tensors()[0].iter()) {
            assert!((x - y).abs() < 1e-12, "{b} vs {}", q.tensors()[0]);
        }
    }
    let mut adam = Adam::<f32>::new(1e-3);
    adam.set_lr_scale(2, 0.1);
    let back: Adam<f32> = serde_json::from_str(&serde_json::to_string(&adam).unwrap()).unwrap();
    assert_eq!(adam, back);
}

#[test]
fn constant_from_copies_borrowed_data_in_any_layout() {
    let t = Tape::<f64>::new();
    let a = arr2(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).into_dyn();
    let c = t.constant_from(&a);
    assert_eq!(c.value(), a);
    assert!(!c.requires_grad());
    // A transposed (non-standard) source gives the same logical values, row-major.
    let at = a.t().to_owned();
    let transposed = a.clone().reversed_axes();
    assert_eq!(Var::constant_from(&transposed).value(), at);
    // Reused from the pool: a second step's copy holds the new values, not stale ones.
    drop(t);
    let t = Tape::<f64>::new();
    let b = a.mapv(|x| -x);
    assert_eq!(t.constant_from(&b).value(), b);
}

#[test]
fn step_vars_reads_gradients_in_place_and_matches_step() {
    use autodidact_core::optim::{Optimizer, RmsProp};
    // Each optimiser twice from the same start: once from copied gradients, once from the
    // tape's variables; three steps of a small quadratic must give identical parameters.
    fn run(opt: &mut dyn Optimizer<f64>, in_place: bool) -> Vec<f64> {
        let mut p = Params::<f64>::new();
        p.insert("w", arr2(&[[1.0, -2.0], [0.5, 3.0]]).into_dyn());
        p.insert("b", arr1(&[0.25, -0.75]).into_dyn());
        for _ in 0..3 {
            let t = Tape::<f64>::new();
            let v = t.params(&p);
            let loss = (v[0].square().sum() * 0.5 + (v[1] * 3.0).sin().sum()) * 1.5;
            let g = t.grad(&loss, &v, CreateGraph::No);
            if in_place {
                opt.step_vars(&mut p, &g).unwrap();
            } else {
                opt.step(&mut p, &autodidact_core::optim::values(&g))
                    .unwrap();
            }
        }
        p.tensors().iter().flat_map(|t| t.iter().copied()).collect()
    }
    let makers: Vec<Box<dyn Fn() -> Box<dyn Optimizer<f64>>>> = vec![
        Box::new(|| Box::new(Sgd::new(0.1))),
        Box::new(|| Box::new(Sgd::new(0.1).with_weight_decay(0.01))),
        Box::new(|| {
            Box::new(
                Sgd::new(0.1)
                    .with_momentum(0.9, true)
                    .with_weight_decay(0.01),
            )
        }),
        Box::new(|| Box::new(Adam::new(0.05))),
        Box::new(|| Box::new(Adam::adamw(0.05, 0.1))),
        Box::new(|| Box::new(RmsProp::new(0.01))),
    ];
    for (k, make) in makers.iter().enumerate() {
        let (mut a, mut b) = (make(), make());
        let (copied, in_place) = (run(a.as_mut(), false), run(b.as_mut(), true));
        assert_eq!(copied, in_place, "optimiser {k}");
        assert!(
            copied
                .iter()
                .zip([1.0, -2.0, 0.5, 3.0])
                .any(|(x, y)| *x != y),
            "optimiser {k} moved nothing"
        );
    }
    // A gradient of the wrong shape is refused, naming the parameter.
    let mut p = Params::<f64>::new();
    p.insert("w", arr1(&[1.0, 2.0]).into_dyn());
    let t = Tape::<f64>::new();
    let wrong = Var::constant(arr1(&[1.0, 2.0, 3.0]).into_dyn());
    let err = Sgd::new(0.1)
        .step_vars(&mut p, &[wrong])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`w`") && err.contains("[3]"), "{err}");
    drop(t);
}
