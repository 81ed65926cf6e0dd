//! The MAML-RL meta-gradient against the exact one, on a tabular MDP.
//!
//! A 3-state, 2-action MDP with random transitions and rewards, a fixed horizon of 3 steps and
//! discount 0.9; the policy is the crate's MAML-RL policy with no hidden layer on one-hot
//! observations (a tabular softmax, `logits = x W + b`) at fixed random weights θ.
//!
//! Exact: `J(θ)` is written on the tape with core's ops — `π = exp(log π)` from the policy's
//! own `log_probs`, then `V_h = Σ_a π (R + γ P V_{h−1})` for `h = 1..=3` and `J = μ₀ · V_3` —
//! so autodiff gives `θ' = θ + α ∇J(θ)` (recorded) and the exact meta-gradient
//! `∇_θ J(θ + α ∇J(θ)) = (I + α ∇²J(θ)) ∇J(θ')`.
//!
//! Estimated, with the crate's code path (its sampler, advantages, DiCE and surrogate
//! objectives, inner step): one sample draws `M` inner episodes from π_θ and `K` outer
//! episodes from π_θ', takes the inner step on the tape and differentiates the outer DiCE
//! objective with respect to θ. The adapted weights carry the exact value θ' with the sampled
//! Jacobian (`θ̂' − ⊥θ̂' + θ'`): MAML-RL's meta-objective is `J(θ')` at the *expected* inner
//! step, and what is tested is the estimator of its gradient, not the extra bias of adapting
//! from a finite batch (every implementation has that; it shrinks with `M`).
//!
//! Averaged over many samples, DiCE (without a baseline, and with the exact state values as
//! the Mao et al. baseline) must agree with the exact meta-gradient within its standard
//! error (|z| < 4.5 on each of the 8 components, a Bonferroni bound for a fixed seed); the
//! first-order estimator (no Hessian) and the dropped-term estimator (the REINFORCE
//! surrogate's Hessian, the original implementation's) must be rejected by the same test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::{
    grad, Action, Activation, CreateGraph, Environment, Info, Observation, Params, Rng, Seed,
    Space, StepResult, Tape, Tensor, Var,
};
use autodidact_rl::maml_rl::dice::Advantages;
use autodidact_rl::maml_rl::learner::{ascend, objective};
use autodidact_rl::maml_rl::sampler::{sample_episodes, Episodes};
use autodidact_rl::maml_rl::{Estimator, Policy};
use autodidact_rl::pg::network::ActionKind;
use autodidact_rl::pg::PgInit;
use ndarray::{ArrayD, IxDyn};
use rand::Rng as _;
use rand_distr::{Distribution, Normal};

const S: usize = 3;
const A: usize = 2;
const H: usize = 3;
const GAMMA: f64 = 0.9;
const ALPHA: f64 = 1.0;
const SAMPLES: usize = 20_000;
const M: usize = 2;
const K: usize = 2;

/// The MDP: `p[s][a][s']`, `r[s][a]`, `mu[s]`.
#[derive(Clone)]
struct Mdp {
    p: Vec<Vec<Vec<f64>>>,
    r: Vec<Vec<f64>>,
    mu: Vec<f64>,
}

/// The MDP as an environment: one-hot observations, truncated after `H` steps.
#[derive(Clone)]
struct MdpEnv {
    m: Mdp,
    s: usize,
    t: usize,
    rng: Rng,
}

fn draw(probs: &[f64], rng: &mut Rng) -> usize {
    let mut x: f64 = rng.random();
    for (i, &p) in probs.iter().enumerate() {
        if x < p {
            return i;
        }
        x -= p;
    }
    probs.len() - 1
}

fn one_hot(s: usize) -> Observation {
    let mut o = vec![0.0; S];
    o[s] = 1.0;
    o
}

impl Environment for MdpEnv {
    fn observation_space(&self) -> Space {
        Space::bounded(vec![0.0; S], vec![1.0; S])
    }
    fn action_space(&self) -> Space {
        Space::Discrete(A)
    }
    fn reset(&mut self, seed: Option<u64>) -> (Observation, Info) {
        if let Some(s) = seed {
            self.rng = Seed(s).rng("mdp");
        }
        self.s = draw(&self.m.mu, &mut self.rng);
        self.t = 0;
        (one_hot(self.s), Info::new())
    }
    fn step(&mut self, action: &Action) -> autodidact_core::Result<StepResult> {
        let Action::Discrete(a) = *action else {
            panic!("{action:?}")
        };
        let reward = self.m.r[self.s][a];
        self.s = draw(&self.m.p[self.s][a], &mut self.rng);
        self.t += 1;
        Ok(StepResult {
            obs: one_hot(self.s),
            reward,
            terminated: false,
            truncated: self.t >= H,
            info: Info::new(),
        })
    }
    fn clone_box(&self) -> Box<dyn Environment> {
        Box::new(self.clone())
    }
}

struct Setup {
    env: MdpEnv,
    policy: Policy,
    theta: Params<f64>,
    /// θ' = θ + α∇J(θ), exactly.
    fast: Vec<Tensor<f64>>,
    /// ∇_θ J(θ'), the exact meta-gradient.
    exact: Vec<f64>,
    /// ∇J at θ' (what the first-order estimator estimates).
    grad_at_fast: Vec<f64>,
    /// `V_{H−t}(s)` under π_θ and under π_θ': the exact baselines.
    values_theta: Vec<Vec<f64>>,
    values_fast: Vec<Vec<f64>>,
}

fn constant(shape: &[usize], x: Vec<f64>) -> Var<f64> {
    Var::constant(ArrayD::from_shape_vec(IxDyn(shape), x).unwrap())
}

/// `J(w)` on the tape, and `V_h` for `h = 0..=H` (values).
fn exact_j(policy: &Policy, m: &Mdp, w: &[Var<f64>]) -> (Var<f64>, Vec<Vec<f64>>) {
    // log π(a|s) for every pair, through the policy's own code.
    let mut obs = Vec::new();
    let mut acts = Vec::new();
    for s in 0..S {
        for a in 0..A {
            obs.extend(one_hot(s).into_iter().map(f64::from));
            acts.push(a as f32);
        }
    }
    let x = constant(&[S * A, S], obs);
    let pi = policy
        .log_probs(w, x, &acts)
        .unwrap()
        .exp()
        .reshape(&[S, A]);
    let p = constant(
        &[S * A, S],
        m.p.iter().flatten().flatten().copied().collect(),
    );
    let r = constant(&[S, A], m.r.iter().flatten().copied().collect());
    let mut v = Var::zeros(&[S, 1]);
    let mut vs = vec![vec![0.0; S]];
    for _ in 0..H {
        let q = r + (p.matmul(v) * GAMMA).reshape(&[S, A]);
        v = (pi * q).sum_axes(&[1], true);
        vs.push(v.value().iter().copied().collect());
    }
    let mu = constant(&[1, S], m.mu.clone());
    (mu.matmul(v).sum(), vs)
}

fn setup() -> Setup {
    let mut rng = Seed(11).rng("mdp");
    let mut p = vec![vec![vec![0.0; S]; A]; S];
    let mut r = vec![vec![0.0; A]; S];
    for s in 0..S {
        for a in 0..A {
            let w: Vec<f64> = (0..S).map(|_| rng.random::<f64>() + 0.1).collect();
            let t: f64 = w.iter().sum();
            p[s][a] = w.iter().map(|x| x / t).collect();
            r[s][a] = rng.random_range(-1.0..1.0);
        }
    }
    let m = Mdp {
        p,
        r,
        mu: vec![0.5, 0.3, 0.2],
    };
    let mut p32 = Params::new();
    let policy = Policy::new(
        &mut p32,
        S,
        ActionKind::Discrete(A),
        &[],
        Activation::Tanh,
        PgInit::TorchDefault,
        0.0,
        &mut Seed(1).rng("init"),
    );
    let mut theta: Params<f64> = p32.cast();
    let normal = Normal::new(0.0, 1.0).unwrap();
    for t in theta.tensors_mut() {
        t.mapv_inplace(|_| normal.sample(&mut rng));
    }
    let tape = Tape::<f64>::new();
    let w = tape.params(&theta);
    let (j, values_theta) = exact_j(&policy, &m, &w);
    let g = grad(&[j], &w, CreateGraph::Yes);
    let fast = ascend(&w, &g, ALPHA, None);
    let (j_fast, _) = exact_j(&policy, &m, &fast);
    let exact: Vec<f64> = grad(&[j_fast], &w, CreateGraph::No)
        .iter()
        .flat_map(|v| v.value().into_iter())
        .collect();
    let fast_values: Vec<Tensor<f64>> = fast.iter().map(|v| v.value()).collect();
    let wf: Vec<Var<f64>> = fast_values.iter().map(|t| tape.param(t)).collect();
    let (jf, values_fast) = exact_j(&policy, &m, &wf);
    let grad_at_fast = grad(&[jf], &wf, CreateGraph::No)
        .iter()
        .flat_map(|v| v.value().into_iter())
        .collect();
    drop(tape);
    Setup {
        env: MdpEnv {
            m,
            s: 0,
            t: 0,
            rng: Seed(0).rng("mdp"),
        },
        policy,
        theta,
        fast: fast_values,
        exact,
        grad_at_fast,
        values_theta,
        values_fast,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Which {
    Dice,
    DiceBaseline,
    Surrogate,
    FirstOrder,
}

/// `γ^t (G_t − b_t)` with `b_t = V_{H−t}(s_t)` (exact values of the sampling policy) or 0.
fn advantages(e: &Episodes, values: Option<&[Vec<f64>]>) -> Advantages {
    let mut b = vec![0.0; e.n * e.horizon];
    if let Some(v) = values {
        for i in 0..e.n {
            for t in 0..e.lengths[i] {
                let row = i * e.horizon + t;
                let s = (0..S).position(|k| e.obs[row * S + k] == 1.0).unwrap();
                b[row] = v[H - t][s];
            }
        }
    }
    Advantages::new(e.n, e.horizon, &e.rewards, &b, &e.mask, GAMMA, false)
}

fn f32s(t: &[Tensor<f64>]) -> Vec<Tensor<f32>> {
    t.iter().map(|x| x.mapv(|v| v as f32)).collect()
}

/// One estimate of the meta-gradient per sample, for every estimator at once (common random
/// numbers: the same episodes).
fn estimates(s: &Setup) -> Vec<Vec<Vec<f64>>> {
    let kinds = [
        Which::Dice,
        Which::DiceBaseline,
        Which::Surrogate,
        Which::FirstOrder,
    ];
    let w_theta = f32s(s.theta.tensors());
    let w_fast = f32s(&s.fast);
    let mut out = vec![Vec::with_capacity(SAMPLES); kinds.len()];
    let seed = Seed(
        std::env::var("MAML_RL_EXACT_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2024),
    );
    for i in 0..SAMPLES {
        let si = seed.index(i as u64);
        let mut rng = si.rng("act");
        let inner = sample_episodes(
            &s.env,
            &s.policy,
            &w_theta,
            M,
            H,
            si.derive("inner"),
            Some(&mut rng),
        )
        .unwrap();
        let outer = sample_episodes(
            &s.env,
            &s.policy,
            &w_fast,
            K,
            H,
            si.derive("outer"),
            Some(&mut rng),
        )
        .unwrap();
        for (k, which) in kinds.iter().enumerate() {
            let tape = Tape::<f64>::new();
            let theta = tape.params(&s.theta);
            let baseline = matches!(which, Which::DiceBaseline | Which::Surrogate);
            let adv_out = advantages(&outer, baseline.then_some(s.values_fast.as_slice()));
            let g: Vec<Var<f64>> = if *which == Which::FirstOrder {
                let fast: Vec<Var<f64>> = s.fast.iter().map(|t| tape.param(t)).collect();
                let obj = objective(&s.policy, &fast, &outer, &adv_out, Estimator::Dice).unwrap();
                grad(&[obj], &fast, CreateGraph::No)
            } else {
                let adv_in = advantages(&inner, baseline.then_some(s.values_theta.as_slice()));
                let est = if *which == Which::Surrogate {
                    Estimator::Surrogate
                } else {
                    Estimator::Dice
                };
                let obj_in = objective(&s.policy, &theta, &inner, &adv_in, est).unwrap();
                let g_in = grad(&[obj_in], &theta, CreateGraph::Yes);
                let sampled = ascend(&theta, &g_in, ALPHA, None);
                // The exact θ' as the value, the sampled step's Jacobian as the derivative.
                let fast: Vec<Var<f64>> = sampled
                    .iter()
                    .zip(&s.fast)
                    .map(|(v, t)| *v - v.detach() + tape.constant_from(t))
                    .collect();
                let obj = objective(&s.policy, &fast, &outer, &adv_out, Estimator::Dice).unwrap();
                grad(&[obj], &theta, CreateGraph::No)
            };
            out[k].push(g.iter().flat_map(|v| v.value().into_iter()).collect());
        }
    }
    out
}

struct ZTest {
    max_abs_z: f64,
    mean_sq_z: f64,
    total_variance: f64,
}

fn z_test(target: &[f64], est: &[Vec<f64>]) -> ZTest {
    let n = est.len() as f64;
    let (mut max_abs_z, mut sum_sq, mut total_variance) = (0.0f64, 0.0, 0.0);
    for c in 0..target.len() {
        let mean = est.iter().map(|e| e[c]).sum::<f64>() / n;
        let var = est.iter().map(|e| (e[c] - mean).powi(2)).sum::<f64>() / (n - 1.0);
        total_variance += var;
        let z = (mean - target[c]) / (var / n).sqrt();
        max_abs_z = max_abs_z.max(z.abs());
        sum_sq += z * z;
    }
    ZTest {
        max_abs_z,
        mean_sq_z: sum_sq / target.len() as f64,
        total_variance,
    }
}

#[test]
fn dice_matches_the_exact_meta_gradient_and_the_others_do_not() {
    let s = setup();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let diff: Vec<f64> = s
        .exact
        .iter()
        .zip(&s.grad_at_fast)
        .map(|(a, b)| a - b)
        .collect();
    println!(
        "exact meta-gradient norm {:.4}, its second-order part (vs ∇J(θ')) {:.4}",
        norm(&s.exact),
        norm(&diff)
    );
    assert!(
        norm(&diff) > 0.05 * norm(&s.exact),
        "the Hessian term matters here"
    );
    let est = estimates(&s);
    let dice = z_test(&s.exact, &est[0]);
    let based = z_test(&s.exact, &est[1]);
    let dropped = z_test(&s.exact, &est[2]);
    let first = z_test(&s.exact, &est[3]);
    let first_own = z_test(&s.grad_at_fast, &est[3]);
    for (name, t) in [
        ("DiCE", &dice),
        ("DiCE + baseline", &based),
        ("dropped-term (surrogate)", &dropped),
        ("first-order", &first),
    ] {
        println!(
            "{name:26} max|z| {:7.2}, mean z² {:8.2}, total variance {:.4e}",
            t.max_abs_z, t.mean_sq_z, t.total_variance
        );
    }
    println!(
        "first-order against ∇J(θ'), what it estimates: max|z| {:.2}",
        first_own.max_abs_z
    );
    for (name, t) in [("DiCE", &dice), ("DiCE + baseline", &based)] {
        assert!(t.max_abs_z < 4.5, "{name}: max |z| = {}", t.max_abs_z);
        assert!(t.mean_sq_z < 3.0, "{name}: mean z² = {}", t.mean_sq_z);
    }
    println!(
        "variance with the baseline / without: {:.2}",
        based.total_variance / dice.total_variance
    );
    assert!(
        first_own.max_abs_z < 4.5,
        "first-order is unbiased for ∇J(θ')"
    );
    assert!(
        dropped.max_abs_z > 8.0,
        "dropped-term: max |z| = {}",
        dropped.max_abs_z
    );
    assert!(
        first.max_abs_z > 8.0,
        "first-order: max |z| = {}",
        first.max_abs_z
    );
}
