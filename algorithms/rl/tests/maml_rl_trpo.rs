//! MAML-RL's trust-region outer step: the conjugate gradient, the KL and its Hessian-vector
//! products through the inner step against finite differences (in `f64`), the surrogate's
//! gradient against DiCE's meta-gradient, and a step that stays within its region.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_core::{grad, Activation, Algorithm, CreateGraph, Params, Seed, Tape, Tensor, Var};
use autodidact_rl::maml_rl::dice::Advantages;
use autodidact_rl::maml_rl::learner::{ascend, objective};
use autodidact_rl::maml_rl::sampler::Episodes;
use autodidact_rl::maml_rl::trpo::{
    adapt, conjugate_gradient, dot, hessian_vector, surrogate_and_kl, Adaptation, TaskEpisodes,
};
use autodidact_rl::maml_rl::{Estimator, MamlRlParams, OuterStep, Policy};
use autodidact_rl::pg::network::ActionKind;
use autodidact_rl::pg::PgInit;
use common::nav;
use ndarray::{arr2, ArrayD};
use rand::Rng as _;

#[test]
fn conjugate_gradient_solves_a_symmetric_positive_definite_system() {
    let h = arr2(&[[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]]);
    let g = vec![ndarray::arr1(&[1.0, -2.0, 0.5]).into_dyn()];
    let hvp = |v: &[Tensor<f64>]| {
        let v1 = v[0].clone().into_dimensionality::<ndarray::Ix1>().unwrap();
        Ok(vec![h.dot(&v1).into_dyn()])
    };
    let x = conjugate_gradient(hvp, &g, 3, 0.0).unwrap();
    let x1 = x[0].clone().into_dimensionality::<ndarray::Ix1>().unwrap();
    let r = h.dot(&x1) - g[0].clone().into_dimensionality::<ndarray::Ix1>().unwrap();
    assert!(r.iter().all(|v| v.abs() < 1e-10), "residual {r:?}");
    // With damping it solves (H + λI) x = g.
    let x = conjugate_gradient(hvp, &g, 3, 0.5).unwrap();
    let x1 = x[0].clone().into_dimensionality::<ndarray::Ix1>().unwrap();
    let r = h.dot(&x1) + &x1 * 0.5 - g[0].clone().into_dimensionality::<ndarray::Ix1>().unwrap();
    assert!(r.iter().all(|v| v.abs() < 1e-10), "damped residual {r:?}");
}

/// Synthetic padded episodes: `n` episodes of `h` steps, the last step of the first episode
/// padding.
fn episodes(policy: &Policy, n: usize, h: usize, rng: &mut autodidact_core::Rng) -> Episodes {
    let (d, k) = (policy.obs_dim, policy.act_dim());
    let mut mask = vec![1.0; n * h];
    mask[h - 1] = 0.0;
    let mut lengths = vec![h; n];
    lengths[0] = h - 1;
    let actions = (0..n * h * k)
        .map(|i| match policy.action {
            ActionKind::Discrete(m) => (i % m) as f32,
            ActionKind::Continuous { .. } => rng.random_range(-1.0..1.0),
        })
        .collect();
    Episodes {
        n,
        horizon: h,
        obs_dim: d,
        act_dim: k,
        obs: (0..n * h * d)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect(),
        actions,
        rewards: (0..n * h).map(|_| rng.random_range(-1.0..1.0)).collect(),
        mask,
        lengths,
        env_limit: None,
        optimal_return: None,
    }
}

fn advantages(e: &Episodes) -> Advantages {
    let baseline = vec![0.1; e.n * e.horizon];
    Advantages::new(e.n, e.horizon, &e.rewards, &baseline, &e.mask, 0.9, true)
}

/// A small policy (discrete or Gaussian), its weights in `f64`, and two tasks whose old
/// policy is the adaptation of those weights.
fn setup(
    action: ActionKind,
    estimator: Estimator,
) -> (Policy, Vec<Tensor<f64>>, Vec<TaskEpisodes>, Adaptation) {
    let mut rng = Seed(21).rng("test");
    let mut params = Params::<f32>::new();
    let policy = Policy::new(
        &mut params,
        3,
        action,
        &[5],
        Activation::Tanh,
        PgInit::TorchDefault,
        -0.3,
        &mut rng,
    );
    let theta: Vec<Tensor<f64>> = params.tensors().iter().map(|t| t.mapv(f64::from)).collect();
    let a = Adaptation {
        inner_lr: 0.3,
        estimator,
        create: CreateGraph::Yes,
    };
    let tasks = (0..2)
        .map(|_| {
            let pre = episodes(&policy, 3, 4, &mut rng);
            let pre_adv = advantages(&pre);
            let post = episodes(&policy, 3, 4, &mut rng);
            let post_adv = advantages(&post);
            let _tape = Tape::<f64>::new();
            let vars: Vec<Var<f64>> = theta.iter().map(|t| Var::leaf(t.clone())).collect();
            let pre = vec![(pre, pre_adv)];
            let fast = adapt(&policy, &vars, None, &pre, a).unwrap();
            TaskEpisodes::new(&policy, &fast, pre, post, post_adv).unwrap()
        })
        .collect();
    (policy, theta, tasks, a)
}

fn actions() -> [ActionKind; 2] {
    [
        ActionKind::Discrete(3),
        ActionKind::Continuous {
            low: vec![-1.0, -1.0],
            high: vec![1.0, 1.0],
        },
    ]
}

/// `(L, KL, ∇L, ∇KL)` at `theta`.
fn values_and_gradients(
    policy: &Policy,
    theta: &[Tensor<f64>],
    tasks: &[TaskEpisodes],
    a: Adaptation,
) -> (f64, f64, Vec<ArrayD<f64>>, Vec<ArrayD<f64>>) {
    let _tape = Tape::<f64>::new();
    let vars: Vec<Var<f64>> = theta.iter().map(|t| Var::leaf(t.clone())).collect();
    let (l, kl) = surrogate_and_kl(policy, &vars, None, tasks, a).unwrap();
    let gl = grad(&[l], &vars, CreateGraph::No);
    let gk = grad(&[kl], &vars, CreateGraph::No);
    (
        l.item(),
        kl.item(),
        gl.iter().map(|g| g.value()).collect(),
        gk.iter().map(|g| g.value()).collect(),
    )
}

fn hvp(
    policy: &Policy,
    theta: &[Tensor<f64>],
    tasks: &[TaskEpisodes],
    a: Adaptation,
    v: &[Tensor<f64>],
) -> Vec<Tensor<f64>> {
    let _tape = Tape::<f64>::new();
    let vars: Vec<Var<f64>> = theta.iter().map(|t| Var::leaf(t.clone())).collect();
    let (_, kl) = surrogate_and_kl(policy, &vars, None, tasks, a).unwrap();
    let kl_grad = grad(&[kl], &vars, CreateGraph::Yes);
    hessian_vector(&kl_grad, &vars, v)
}

fn random_like(theta: &[Tensor<f64>], seed: u64) -> Vec<Tensor<f64>> {
    let mut rng = Seed(seed).rng("direction");
    theta
        .iter()
        .map(|t| t.mapv(|_| rng.random_range(-1.0..1.0)))
        .collect()
}

/// The KL and its gradient vanish at the old policy; its Hessian-vector products (the backward
/// of the KL's recorded gradient, through the recorded inner step) match central differences
/// of the gradient. The difference quotient is the derivative of the function of θ the tape
/// computes on fixed episodes, so it checks the REINFORCE-surrogate inner step and the
/// first-order one; DiCE's inner step carries, by design, score-function terms a fixed-sample
/// difference cannot see (`maml_rl_exact.rs` checks those in expectation), and is checked for
/// what any Hessian must be: symmetric. (The first-order variant's inner gradients are
/// constants on the tape, which no difference quotient reproduces either.)
#[test]
fn the_kl_is_zero_at_the_old_policy_and_its_hessian_products_match_finite_differences() {
    for action in actions() {
        let (policy, theta, tasks, a) = setup(action.clone(), Estimator::Dice);
        let (u, w) = (random_like(&theta, 1), random_like(&theta, 2));
        let (uhw, whu) = (
            dot(&u, &hvp(&policy, &theta, &tasks, a, &w)),
            dot(&w, &hvp(&policy, &theta, &tasks, a, &u)),
        );
        assert!(
            (uhw - whu).abs() < 1e-10 * uhw.abs().max(1.0),
            "{action:?}: DiCE's Hessian is not symmetric: {uhw} vs {whu}"
        );
    }
    for action in actions() {
        let (policy, theta, tasks, a) = setup(action.clone(), Estimator::Surrogate);
        let (_, kl, _, gk) = values_and_gradients(&policy, &theta, &tasks, a);
        assert!(kl.abs() < 1e-12, "{action:?}: KL at the old policy {kl}");
        let gnorm: f64 = gk
            .iter()
            .map(|g| g.iter().map(|x| x * x).sum::<f64>())
            .sum();
        assert!(
            gnorm < 1e-20,
            "{action:?}: KL gradient at the old policy {gnorm}"
        );
        let v = random_like(&theta, 5);
        let hv = hvp(&policy, &theta, &tasks, a, &v);
        let eps = 1e-5;
        let shifted = |s: f64| -> Vec<Tensor<f64>> {
            theta.iter().zip(&v).map(|(t, vi)| t + &(vi * s)).collect()
        };
        let (_, kl_plus, _, g_plus) = values_and_gradients(&policy, &shifted(eps), &tasks, a);
        let (_, _, _, g_minus) = values_and_gradients(&policy, &shifted(-eps), &tasks, a);
        assert!(
            kl_plus > 0.0,
            "{action:?}: KL beside the old policy {kl_plus}"
        );
        let mut worst: f64 = 0.0;
        let mut scale: f64 = 0.0;
        for ((h, gp), gm) in hv.iter().zip(&g_plus).zip(&g_minus) {
            for ((hx, p), m) in h.iter().zip(gp.iter()).zip(gm.iter()) {
                let fd = (p - m) / (2.0 * eps);
                worst = worst.max((hx - fd).abs());
                scale = scale.max(fd.abs());
            }
        }
        assert!(
            scale > 1e-3,
            "{action:?}: the curvature is {scale}, too flat to test"
        );
        assert!(
            worst < 1e-6 * scale.max(1.0),
            "{action:?}: Hessian-vector product off by {worst} (scale {scale})"
        );
        // xᵀHx > 0 along a random direction: the KL's Hessian is positive semi-definite.
        assert!(dot(&v, &hv) > 0.0, "{action:?}: vᵀHv = {}", dot(&v, &hv));
    }
}

/// At the old θ the trust-region surrogate's gradient is DiCE's meta-gradient: the gradient
/// of the post-adaptation DiCE objective through the recorded inner step.
#[test]
fn the_surrogate_gradient_is_the_dice_meta_gradient() {
    for action in actions() {
        let (policy, theta, tasks, a) = setup(action.clone(), Estimator::Dice);
        let (_, _, gl, _) = values_and_gradients(&policy, &theta, &tasks, a);
        let _tape = Tape::<f64>::new();
        let vars: Vec<Var<f64>> = theta.iter().map(|t| Var::leaf(t.clone())).collect();
        let mut total: Option<Var<f64>> = None;
        for t in &tasks {
            let (e, adv) = &t.pre[0];
            let obj = objective(&policy, &vars, e, adv, Estimator::Dice).unwrap();
            let g = grad(&[obj], &vars, CreateGraph::Yes);
            let fast = ascend(&vars, &g, a.inner_lr, None);
            let outer = objective(&policy, &fast, &t.post, &t.post_adv, Estimator::Dice).unwrap();
            total = Some(match total {
                None => outer,
                Some(s) => s + outer,
            });
        }
        let dice = grad(&[total.unwrap() * 0.5], &vars, CreateGraph::No);
        for (x, y) in gl.iter().zip(&dice) {
            let d = (x - &y.value())
                .mapv(f64::abs)
                .fold(0.0f64, |m, &v| m.max(v));
            assert!(
                d < 1e-10,
                "{action:?}: surrogate and DiCE gradients differ by {d}"
            );
        }
    }
}

/// Every step the line search takes is inside the trust region, moves θ, and the steps of a
/// short run are mostly taken; a run resumes bit for bit and does not depend on the threads.
#[test]
fn trust_region_steps_stay_in_the_region_and_resume_exactly() {
    let p = MamlRlParams {
        meta_iterations: 4,
        meta_batch: 3,
        episodes_per_task: 6,
        horizon: 10,
        hidden: vec![8],
        outer_step: OuterStep::Trpo,
        max_kl: 0.02,
        log_every: 1,
        eval_tasks: 2,
        eval_inner_steps: 1,
        threads: 1,
        ..MamlRlParams::default()
    };
    let mut a = nav(p.clone(), 7);
    let mut refused = 0.0;
    for _ in 0..4 {
        let before = a.parameters().clone();
        let m = a.train_step().unwrap();
        let moved = before
            .tensors()
            .iter()
            .zip(a.parameters().tensors())
            .any(|(x, y)| x != y);
        refused = m["trpo_refused"];
        if refused == 0.0 {
            assert!(moved, "a step was taken but θ did not move: {m:?}");
            assert!(m["trpo_kl"] > 0.0 && m["trpo_kl"] <= 0.02, "{m:?}");
        } else {
            assert!(!moved, "a refused step moved θ: {m:?}");
        }
    }
    assert!(refused == 0.0, "the last step was refused");
    let mut b = nav(p.clone(), 7);
    for _ in 0..2 {
        b.train_step().unwrap();
    }
    let bytes = b.save().unwrap();
    let mut c = nav(p.clone(), 7);
    c.load(&bytes).unwrap();
    let mut two = nav(MamlRlParams { threads: 2, ..p }, 7);
    for _ in 0..2 {
        b.train_step().unwrap();
        c.train_step().unwrap();
    }
    for _ in 0..4 {
        two.train_step().unwrap();
    }
    assert_eq!(a.save().unwrap(), b.save().unwrap());
    assert_eq!(b.save().unwrap(), c.save().unwrap());
    assert_eq!(a.save().unwrap(), two.save().unwrap());
}
