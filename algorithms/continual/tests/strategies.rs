//! Each strategy's rule against a hand computation on a tiny model: EWC's Fisher and penalty,
//! SI's importance, A-GEM's projection, LwF's distillation, the memories' policies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_continual::agem::project_onto;
use autodidact_continual::data::{Batch, StreamData};
use autodidact_continual::ewc::{empirical_fisher, empirical_fisher_per_example, Anchor, Ewc};
use autodidact_continual::hyperparams::ContinualParams;
use autodidact_continual::lwf::distillation;
use autodidact_continual::model::Model;
use autodidact_continual::replay::{Buffer, Policy};
use autodidact_continual::si::Si;
use autodidact_continual::strategy::{dot, Context, Objective, PenaltyInput, Strategy};
use autodidact_core::{Experience, Params, Scenario, Seed, Tape, TaskStream, Tensor, Var};
use ndarray::{arr1, arr2, IxDyn};

/// Two experiences of the same two classes in two dimensions (domain-incremental).
struct Tiny(Vec<Experience>);

impl Tiny {
    fn new() -> Tiny {
        let x = |v: &[f32]| Tensor::from_shape_vec(IxDyn(&[v.len() / 2, 2]), v.to_vec()).unwrap();
        let e = |i, xs: &[f32], ys: Vec<usize>| Experience {
            index: i,
            train_x: x(xs),
            train_y: ys.clone(),
            test_x: x(xs),
            test_y: ys,
            task_id: None,
            classes: vec![0, 1],
        };
        Tiny(vec![
            e(0, &[1.0, 2.0, -1.0, 0.5], vec![0, 1]),
            e(1, &[0.5, -1.5, 2.0, 1.0, -0.5, -0.5], vec![1, 0, 1]),
        ])
    }
}

impl TaskStream for Tiny {
    fn scenario(&self) -> Scenario {
        Scenario::DomainIncremental
    }
    fn input_shape(&self) -> Vec<usize> {
        vec![2]
    }
    fn num_classes(&self) -> usize {
        2
    }
    fn experiences(&self) -> &[Experience] {
        &self.0
    }
}

/// A linear softmax classifier (no hidden layer) with weights W [2, 2] and bias b [2].
fn tiny_model(w: [[f32; 2]; 2], b: [f32; 2]) -> (StreamData, Model, Params<f32>) {
    let data = StreamData::from_stream(&Tiny::new()).unwrap();
    let hp = ContinualParams {
        hidden: vec![],
        ..ContinualParams::default()
    };
    let mut params = Params::new();
    let model = Model::build(&hp, &data, &mut params, &mut Seed(0).rng("init")).unwrap();
    assert_eq!(params.names(), ["head.weight", "head.bias"]);
    params
        .assign(vec![arr2(&[w[0], w[1]]).into_dyn(), arr1(&b).into_dyn()])
        .unwrap();
    (data, model, params)
}

fn objective<'a>(
    model: &'a Model,
    data: &'a StreamData,
    classes: &'a [Vec<bool>],
    seen: &'a [bool],
) -> Objective<'a> {
    Objective {
        model,
        data,
        exp_classes: classes,
        seen,
        current: 0,
        mask_unseen: true,
        ace: false,
        stats: &[],
    }
}

/// The per-example gradient of −log softmax(xW + b)[y], by hand.
fn hand_grad(x: [f32; 2], y: usize, w: [[f32; 2]; 2], b: [f32; 2]) -> ([[f64; 2]; 2], [f64; 2]) {
    let z: Vec<f64> = (0..2)
        .map(|k| x[0] as f64 * w[0][k] as f64 + x[1] as f64 * w[1][k] as f64 + b[k] as f64)
        .collect();
    let m = z[0].max(z[1]);
    let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
    let d: Vec<f64> = (0..2)
        .map(|k| (z[k] - m).exp() / s - if k == y { 1.0 } else { 0.0 })
        .collect();
    let mut gw = [[0.0; 2]; 2];
    for i in 0..2 {
        for k in 0..2 {
            gw[i][k] = x[i] as f64 * d[k];
        }
    }
    (gw, [d[0], d[1]])
}

const W: [[f32; 2]; 2] = [[0.3, -0.2], [0.1, 0.4]];
const B: [f32; 2] = [0.05, -0.1];

/// A strategy's penalty at `params` on `batch`, and its gradient with respect to them.
fn penalty_at(
    strategy: &dyn Strategy,
    obj: &Objective<'_>,
    params: &Params<f32>,
    batch: &Batch,
) -> (f64, Vec<Tensor<f32>>) {
    let tape = Tape::<f32>::new();
    let vars = tape.params(params);
    let x = obj.model.input(&batch.x, batch.len());
    let input = PenaltyInput {
        objective: obj,
        vars: &vars,
        batch,
        x,
        features: x,
    };
    let p = strategy.penalty(&input).unwrap();
    let g = tape.grad(&p, &vars, autodidact_core::CreateGraph::No);
    (p.item(), g.iter().map(|g| g.value()).collect())
}

#[test]
fn ewc_fisher_and_penalty_match_hand_computation() {
    let (data, model, params) = tiny_model(W, B);
    let classes = vec![vec![true, true]; 2];
    let seen = vec![true, true];
    let obj = objective(&model, &data, &classes, &seen);
    let batch = Batch::gather(&data.experiences[0], &[0, 1], false);
    let fisher = empirical_fisher(&obj, &params, &batch);
    let examples = [([1.0f32, 2.0], 0usize), ([-1.0, 0.5], 1)];
    let mut fw = [[0.0f64; 2]; 2];
    let mut fb = [0.0f64; 2];
    for (x, y) in examples {
        let (gw, gb) = hand_grad(x, y, W, B);
        for i in 0..2 {
            for k in 0..2 {
                fw[i][k] += gw[i][k] * gw[i][k] / 2.0;
            }
            fb[i] += gb[i] * gb[i] / 2.0;
        }
    }
    for i in 0..2 {
        for k in 0..2 {
            assert!(
                (fisher[0][[i, k]] as f64 - fw[i][k]).abs() < 1e-6,
                "F_W[{i}][{k}]"
            );
        }
        assert!((fisher[1][[i]] as f64 - fb[i]).abs() < 1e-6, "F_b[{i}]");
    }

    // The penalty λ/2 · Σ F (θ − θ*)² at θ = params, with θ* = params − 0.5 everywhere.
    let lambda = 3.0;
    let anchor: Vec<Tensor<f32>> = params
        .tensors()
        .iter()
        .map(|t| t.mapv(|v| v - 0.5))
        .collect();
    let mut ewc = Ewc::new(lambda, false, 1.0, 0);
    ewc.push_anchor(Anchor {
        fisher: fisher.clone(),
        params: anchor,
    });
    let expected: f64 = lambda / 2.0
        * fisher
            .iter()
            .flat_map(|f| f.iter())
            .map(|&f| f as f64 * 0.25)
            .sum::<f64>();
    let (p, g) = penalty_at(&ewc, &obj, &params, &batch);
    assert!((p - expected).abs() < 1e-6, "{p} vs {expected}");
    // Its gradient is λ F (θ − θ*) = λ F · 0.5.
    let gw = &g[0];
    assert!((gw[[0, 1]] as f64 - lambda * fisher[0][[0, 1]] as f64 * 0.5).abs() < 1e-6);
}

/// Separate EWC with several anchors: the merged quadratic `F̄ (θ − θ̄)² + C` gives the same
/// penalty and gradient as the sum of every anchor's `F (θ − θ*)²`, computed here by hand in
/// f64 — including a parameter no anchor weighs (F = 0) and one only some anchors weigh.
#[test]
fn separate_ewc_merges_its_anchors_into_one_equal_quadratic() {
    let (data, model, params) = tiny_model(W, B);
    let classes = vec![vec![true, true]; 2];
    let seen = vec![true, true];
    let obj = objective(&model, &data, &classes, &seen);
    let batch = Batch::gather(&data.experiences[0], &[0, 1], false);
    let shapes: Vec<Vec<usize>> = params
        .tensors()
        .iter()
        .map(|t| t.shape().to_vec())
        .collect();
    // Anchor a: Fisher and θ* from simple formulas over each element's position.
    let make = |a: usize, f: &dyn Fn(usize, usize) -> f32, th: &dyn Fn(usize, usize) -> f32| {
        let fisher = shapes
            .iter()
            .map(|sh| {
                let n: usize = sh.iter().product();
                Tensor::from_shape_vec(IxDyn(sh), (0..n).map(|i| f(a, i)).collect()).unwrap()
            })
            .collect::<Vec<_>>();
        let params = shapes
            .iter()
            .map(|sh| {
                let n: usize = sh.iter().product();
                Tensor::from_shape_vec(IxDyn(sh), (0..n).map(|i| th(a, i)).collect()).unwrap()
            })
            .collect::<Vec<_>>();
        Anchor { fisher, params }
    };
    // Element 0 of every tensor: no anchor weighs it; element 1: only anchor 2 does.
    let f = |a: usize, i: usize| match i {
        0 => 0.0,
        1 if a < 2 => 0.0,
        _ => 0.1 + 0.3 * a as f32 + 0.05 * i as f32,
    };
    let th = |a: usize, i: usize| 0.7 * a as f32 - 0.2 * i as f32 + 0.1;
    let anchors: Vec<Anchor> = (0..3).map(|a| make(a, &f, &th)).collect();
    let lambda = 2.5;
    let mut ewc = Ewc::new(lambda, false, 1.0, 0);
    for a in &anchors {
        ewc.push_anchor(a.clone());
    }
    assert_eq!(ewc.anchors().len(), 3);
    // By hand: λ/2 Σ_a Σ F_a (θ − θ_a)², and its gradient λ Σ_a F_a (θ − θ_a).
    let theta: Vec<Vec<f64>> = params
        .tensors()
        .iter()
        .map(|t| t.iter().map(|&v| v as f64).collect())
        .collect();
    let mut expected = 0.0f64;
    let mut grad: Vec<Vec<f64>> = theta.iter().map(|t| vec![0.0; t.len()]).collect();
    for a in &anchors {
        for (k, t) in theta.iter().enumerate() {
            for (i, &v) in t.iter().enumerate() {
                let (fa, ta) = (
                    a.fisher[k].as_slice().unwrap()[i] as f64,
                    a.params[k].as_slice().unwrap()[i] as f64,
                );
                expected += lambda / 2.0 * fa * (v - ta) * (v - ta);
                grad[k][i] += lambda * fa * (v - ta);
            }
        }
    }
    let (p, g) = penalty_at(&ewc, &obj, &params, &batch);
    assert!(
        (p - expected).abs() < 1e-5 * expected.abs().max(1.0),
        "{p} vs {expected}"
    );
    for (k, gk) in g.iter().enumerate() {
        for (i, &gi) in gk.iter().enumerate() {
            let want = grad[k][i];
            assert!(
                (gi as f64 - want).abs() < 1e-5 * want.abs().max(1.0),
                "tensor {k} element {i}: {gi} vs {want}"
            );
        }
    }
    // One anchor is taken as it is: online EWC's penalty is unchanged bit for bit.
    let mut one = Ewc::new(lambda, true, 1.0, 0);
    one.push_anchor(anchors[1].clone());
    let tape = Tape::<f32>::new();
    let vars = tape.params(&params);
    let direct = autodidact_continual::strategy::weighted_sq_distance(
        &vars,
        &anchors[1].fisher,
        &anchors[1].params,
    ) * (lambda / 2.0);
    let (p, _) = penalty_at(&one, &obj, &params, &batch);
    assert_eq!(p.to_bits(), direct.item().to_bits());
}

/// The batched Fisher (one backward pass, `(a²)ᵀ δ²` per linear layer) equals the loop of
/// single-example backward passes on a two-hidden-layer MLP: one head with unseen classes
/// masked, with the labels trick, and one head per task.
#[test]
fn batched_fisher_equals_the_per_example_loop() {
    let check = |stream: &dyn TaskStream, ace: bool| {
        let data = StreamData::from_stream(stream).unwrap();
        let hp = ContinualParams {
            hidden: vec![8, 6],
            ..ContinualParams::default()
        };
        let mut params = Params::new();
        let model = Model::build(&hp, &data, &mut params, &mut Seed(4).rng("init")).unwrap();
        let classes: Vec<Vec<bool>> = data
            .experiences
            .iter()
            .map(|e| {
                (0..data.num_classes)
                    .map(|c| e.classes.contains(&c))
                    .collect()
            })
            .collect();
        let seen: Vec<bool> = (0..data.num_classes)
            .map(|c| classes[0][c] || classes[1][c])
            .collect();
        let obj = Objective {
            current: 1,
            ace,
            ..objective(&model, &data, &classes, &seen)
        };
        // Rows of experiences 0 and 1 mixed, as a replay minibatch would be.
        let mut batch = Batch::gather(&data.experiences[1], &[0, 1, 2, 3, 4, 5], false);
        let old = Batch::gather(&data.experiences[0], &[0, 1, 2], false);
        let dim = old.x.len() / old.len();
        for i in 0..old.len() {
            batch.push(&old.x[i * dim..(i + 1) * dim], old.y[i], old.exp[i]);
        }
        let fast = empirical_fisher(&obj, &params, &batch);
        let slow = empirical_fisher_per_example(&obj, &params, &batch);
        assert_eq!(fast.len(), slow.len());
        let mut nonzero = 0;
        for (f, s) in fast.iter().zip(&slow) {
            assert_eq!(f.shape(), s.shape());
            for (&a, &b) in f.iter().zip(s.iter()) {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
                nonzero += usize::from(b > 0.0);
            }
        }
        assert!(nonzero > 0);
    };
    check(&common::class_incremental(2), false);
    check(&common::class_incremental(2), true);
    check(&common::task_incremental(3), false);
    check(&common::permuted(5), false);
}

#[test]
fn online_ewc_decays_and_adds_the_fisher() {
    let (data, model, mut params) = tiny_model(W, B);
    let classes = vec![vec![true, true]; 2];
    let seen = vec![true, true];
    let gamma = 0.5;
    let mut ewc = Ewc::new(1.0, true, gamma, 0);
    let mut rng = Seed(3).rng("strategy");
    let f0 = {
        let obj = objective(&model, &data, &classes, &seen);
        let mut ctx = Context {
            objective: &obj,
            params: &params,
            experience: 0,
            rng: &mut rng,
        };
        ewc.after_experience(&mut ctx).unwrap();
        empirical_fisher(
            &obj,
            &params,
            &Batch::gather(&data.experiences[0], &[0, 1], false),
        )
    };
    let moved: Vec<Tensor<f32>> = params
        .tensors()
        .iter()
        .map(|t| t.mapv(|v| v * 0.5 + 0.1))
        .collect();
    params.assign(moved).unwrap();
    let obj = objective(&model, &data, &classes, &seen);
    let f1 = empirical_fisher(
        &obj,
        &params,
        &Batch::gather(&data.experiences[1], &[0, 1, 2], false),
    );
    let mut ctx = Context {
        objective: &obj,
        params: &params,
        experience: 1,
        rng: &mut rng,
    };
    ewc.after_experience(&mut ctx).unwrap();
    assert_eq!(ewc.anchors().len(), 1);
    let a = &ewc.anchors()[0];
    assert_eq!(a.params, params.tensors());
    for ((m, a0), a1) in a.fisher.iter().zip(&f0).zip(&f1) {
        for ((&m, &x0), &x1) in m.iter().zip(a0.iter()).zip(a1.iter()) {
            assert!((m - (gamma as f32 * x0 + x1)).abs() < 1e-7);
        }
    }
    // Separate EWC keeps one anchor per experience.
    let mut sep = Ewc::new(1.0, false, 1.0, 0);
    let mut ctx = Context {
        objective: &obj,
        params: &params,
        experience: 0,
        rng: &mut rng,
    };
    sep.after_experience(&mut ctx).unwrap();
    let mut ctx = Context {
        objective: &obj,
        params: &params,
        experience: 1,
        rng: &mut rng,
    };
    sep.after_experience(&mut ctx).unwrap();
    assert_eq!(sep.anchors().len(), 2);
}

#[test]
fn si_importance_matches_hand_computation() {
    let (data, model, mut params) = tiny_model(W, B);
    let classes = vec![vec![true, true]; 2];
    let seen = vec![true, true];
    let (c, xi, lr) = (0.5, 0.1, 0.2f32);
    let mut si = Si::new(c, xi);
    let mut rng = Seed(0).rng("strategy");
    {
        let obj = objective(&model, &data, &classes, &seen);
        let mut ctx = Context {
            objective: &obj,
            params: &params,
            experience: 0,
            rng: &mut rng,
        };
        si.before_experience(&mut ctx).unwrap();
    }
    assert!(si.tracks_updates());
    // Two SGD steps with given gradients g1, g2.
    let g1 = vec![
        arr2(&[[1.0f32, -2.0], [0.5, 0.0]]).into_dyn(),
        arr1(&[0.3f32, -0.1]).into_dyn(),
    ];
    let g2 = vec![
        arr2(&[[0.5f32, 1.0], [-1.0, 0.2]]).into_dyn(),
        arr1(&[0.3f32, 0.4]).into_dyn(),
    ];
    for g in [&g1, &g2] {
        let before = params.clone();
        let next: Vec<Tensor<f32>> = params
            .tensors()
            .iter()
            .zip(g.iter())
            .map(|(p, g)| p - &(g * lr))
            .collect();
        params.assign(next).unwrap();
        si.after_update(&before, &params, g);
    }
    {
        let obj = objective(&model, &data, &classes, &seen);
        let mut ctx = Context {
            objective: &obj,
            params: &params,
            experience: 0,
            rng: &mut rng,
        };
        si.after_experience(&mut ctx).unwrap();
    }
    // ω = η (g1² + g2²); Δ = θ2 − θ0 = −η (g1 + g2); Ω = ω / (Δ² + ξ).
    for t in 0..2 {
        let expected: Vec<f64> = g1[t]
            .iter()
            .zip(g2[t].iter())
            .map(|(&a, &b)| {
                let omega = lr as f64 * ((a * a) as f64 + (b * b) as f64);
                let delta = lr as f64 * (a as f64 + b as f64);
                omega / (delta * delta + xi)
            })
            .collect();
        for (got, want) in si.state.importance[t].iter().zip(&expected) {
            assert!((*got as f64 - want).abs() < 1e-5, "Ω {got} vs {want}");
        }
    }
    assert_eq!(si.state.anchor, params.tensors());
    assert!(si.state.omega.iter().all(|w| w.iter().all(|&v| v == 0.0)));
    // Penalty c · Σ Ω (θ − θ*)² at θ* + 0.3.
    let shifted: Vec<Tensor<f32>> = params
        .tensors()
        .iter()
        .map(|t| t.mapv(|v| v + 0.3))
        .collect();
    let mut at = params.clone();
    at.assign(shifted).unwrap();
    let expected: f64 = c * si
        .state
        .importance
        .iter()
        .flat_map(|t| t.iter())
        .map(|&o| o as f64 * 0.09)
        .sum::<f64>();
    let tape = Tape::<f32>::new();
    let vars = tape.params(&at);
    let obj = objective(&model, &data, &classes, &seen);
    let batch = Batch::gather(&data.experiences[0], &[0], false);
    let x = model.input(&batch.x, 1);
    let p = si
        .penalty(&PenaltyInput {
            objective: &obj,
            vars: &vars,
            batch: &batch,
            x,
            features: x,
        })
        .unwrap();
    assert!(
        (p.item() - expected).abs() < 1e-5,
        "{} vs {expected}",
        p.item()
    );
}

#[test]
fn agem_projection_does_not_raise_the_reference_loss_to_first_order() {
    let stream = common::permuted(1);
    let data = StreamData::from_stream(&stream).unwrap();
    let hp = ContinualParams {
        hidden: vec![16],
        ..ContinualParams::default()
    };
    let mut params = Params::new();
    let model = Model::build(&hp, &data, &mut params, &mut Seed(2).rng("init")).unwrap();
    let classes = vec![vec![true; data.num_classes]; data.len()];
    let seen = vec![true; data.num_classes];
    let obj = objective(&model, &data, &classes, &seen);
    let memory = Batch::gather(&data.experiences[0], &(0..24).collect::<Vec<_>>(), false);
    let current = Batch::gather(&data.experiences[1], &(0..24).collect::<Vec<_>>(), false);
    let (g_ref, _) = obj.gradient(&params, &memory);
    let (g_cur, _) = obj.gradient(&params, &current);
    // A direction that conflicts with the memory: −g_ref + 0.3 g_cur.
    let conflicting: Vec<Tensor<f32>> =
        g_ref.iter().zip(&g_cur).map(|(r, c)| c * 0.3 - r).collect();
    assert!(dot(&conflicting, &g_ref) < 0.0);
    let mut projected = conflicting.clone();
    assert!(project_onto(&mut projected, &g_ref));
    let rr = dot(&g_ref, &g_ref);
    assert!(
        dot(&projected, &g_ref).abs() < 1e-4 * rr,
        "g̃·g_ref = {}",
        dot(&projected, &g_ref)
    );
    // The change in the memory's loss along −η g̃ (first order: −η g̃·g_ref ≈ 0) is tiny next to
    // the rise along −η g (−η g·g_ref > 0).
    let loss_after = |dir: &[Tensor<f32>], eta: f32| {
        let mut p = params.clone();
        let moved: Vec<Tensor<f32>> = p
            .tensors()
            .iter()
            .zip(dir)
            .map(|(t, d)| t - &(d * eta))
            .collect();
        p.assign(moved).unwrap();
        obj.gradient(&p, &memory).1
    };
    let l0 = obj.gradient(&params, &memory).1;
    let eta = 1e-2;
    let rise = loss_after(&conflicting, eta) - l0;
    let change = loss_after(&projected, eta) - l0;
    assert!(
        rise > 0.0,
        "the conflicting step should raise the memory loss: {rise}"
    );
    assert!(
        change < 0.05 * rise,
        "projected step changes the memory loss by {change} (unprojected: {rise})"
    );
    // A direction that agrees is left alone.
    let mut agree = g_ref.clone();
    assert!(!project_onto(&mut agree, &g_ref));
    assert_eq!(agree, g_ref);
}

#[test]
fn lwf_distillation_is_the_tempered_kl() {
    let _tape = Tape::<f32>::new();
    let new = Var::constant(arr2(&[[1.0f32, 0.0, 3.0]]).into_dyn());
    let old = Var::constant(arr2(&[[0.0f32, 1.0, -2.0]]).into_dyn());
    let t = 2.0;
    let soft = |z: [f64; 2]| {
        let e: Vec<f64> = z.iter().map(|v| (v / t).exp()).collect();
        let s: f64 = e.iter().sum();
        [e[0] / s, e[1] / s]
    };
    // Class 2 masked out: the KL is over classes 0 and 1 only.
    let (q, p) = (soft([0.0, 1.0]), soft([1.0, 0.0]));
    let kl = q[0] * (q[0] / p[0]).ln() + q[1] * (q[1] / p[1]).ln();
    let d = distillation(new, old, t, Some(&[true, true, false]));
    assert!(
        (d.item() - t * t * kl).abs() < 1e-5,
        "{} vs {}",
        d.item(),
        t * t * kl
    );
    assert!(distillation(old, old, t, None).item().abs() < 1e-6);
}

fn offer_classes(buffer: &mut Buffer, classes: usize, per_class: usize) {
    let mut rng = Seed(5).rng("memory");
    for c in 0..classes {
        let mut b = Batch::default();
        for i in 0..per_class {
            b.push(&[c as f32, i as f32], c, c);
        }
        buffer.add_all(&b, &mut rng);
    }
}

#[test]
fn memories_keep_their_size_and_the_balanced_one_balances_classes() {
    let mut reservoir = Buffer::new(100, Policy::Reservoir);
    offer_classes(&mut reservoir, 10, 100);
    assert_eq!(reservoir.len(), 100);
    assert_eq!(reservoir.seen, 1000);
    let counts = reservoir.class_counts();
    assert!(counts.values().all(|&n| n <= 25), "{counts:?}");
    // The classes arrived in order but every one is held (the chance of missing one is tiny).
    assert_eq!(counts.len(), 10);

    let mut balanced = Buffer::new(100, Policy::ClassBalanced);
    offer_classes(&mut balanced, 7, 100);
    let counts = balanced.class_counts();
    let (lo, hi) = (
        counts.values().min().unwrap(),
        counts.values().max().unwrap(),
    );
    assert_eq!(balanced.len(), 100);
    assert!(hi - lo <= 1, "{counts:?}");
    // Every held example is one that was offered, with its label.
    for i in 0..balanced.len() {
        assert_eq!(balanced.items.x[2 * i] as usize, balanced.items.y[i]);
    }
    // Sampling draws held examples.
    let s = balanced.sample(30, &mut Seed(1).rng("s"));
    assert_eq!(s.len(), 30);
    assert!(s.y.iter().all(|&y| y < 7));
}
