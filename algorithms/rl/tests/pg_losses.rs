//! The policy-gradient losses and distributions against hand computations and closed forms,
//! and their autodiff gradients against finite differences (`gradcheck`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::testing::{gradcheck, GradcheckOptions};
use autodidact_core::{CreateGraph, Seed, Tape, Tensor, Var};
use autodidact_rl::pg::a2c::a2c_loss;
use autodidact_rl::pg::distribution::{
    categorical_entropy, categorical_log_prob, gaussian_entropy, gaussian_log_prob,
    gaussian_log_prob_one, sample_categorical, sample_gaussian,
};
use autodidact_rl::pg::ppo::{clipped_surrogate, value_loss};
use autodidact_rl::pg::reinforce::reinforce_loss;
use autodidact_rl::pg::rollout::{gae, normalize, reward_to_go};
use ndarray::{arr1, arr2};

fn t1(x: &[f64]) -> Tensor<f64> {
    arr1(x).into_dyn()
}

fn leaf_grad(x: &[f64], f: impl Fn(Var<f64>) -> Var<f64>) -> (f64, Vec<f64>) {
    let _tape = Tape::<f64>::new();
    let v = Var::leaf(t1(x));
    let y = f(v);
    let g = autodidact_core::grad(&[y], &[v], CreateGraph::No)[0].value();
    (y.item(), g.iter().copied().collect())
}

#[test]
fn ppo_clipped_objective_and_gradient_by_hand() {
    // Ratios 1.1, 1.5, 0.5, 0.5, 1.5 with advantages +1, +1, +1, −1, −1, ε = 0.2:
    // min(ρA, clip(ρ)A) = 1.1, 1.2 (clipped), 0.5, −0.8 (clipped), −1.5.
    let ratios = [1.1f64, 1.5, 0.5, 0.5, 1.5];
    let adv = [1.0, 1.0, 1.0, -1.0, -1.0];
    let old = [-0.3, -1.0, -0.7, -2.0, -0.1];
    let lp: Vec<f64> = ratios.iter().zip(&old).map(|(r, o)| r.ln() + o).collect();
    let (loss, g) = leaf_grad(&lp, |v| clipped_surrogate(v, &old, &adv, 0.2));
    let want = -(1.1 + 1.2 + 0.5 - 0.8 - 1.5) / 5.0;
    assert!((loss - want).abs() < 1e-12, "{loss} vs {want}");
    // d/d log π of −ρA/5 is −ρA/5 where the unclipped term is the smaller; 0 where the clip is.
    let want_g = [-1.1 / 5.0, 0.0, -0.5 / 5.0, 0.0, 1.5 / 5.0];
    for (a, b) in g.iter().zip(want_g) {
        assert!((a - b).abs() < 1e-12, "{g:?} vs {want_g:?}");
    }
}

#[test]
fn value_clipping_by_hand() {
    let old = [0.0, 1.0];
    let ret = [1.0, 0.0];
    // Row 0: V = 0.5, clipped to 0.2: (0.5−1)² = 0.25 vs (0.2−1)² = 0.64 → 0.64, no gradient.
    // Row 1: V = 0.95 (within 0.2): both (0.95)² → gradient 2·0.95/2.
    let (l, g) = leaf_grad(&[0.5, 0.95], |v| value_loss(v, &old, &ret, 0.2));
    assert!((l - (0.64 + 0.9025) / 2.0).abs() < 1e-12, "{l}");
    assert!(g[0].abs() < 1e-12 && (g[1] - 0.95).abs() < 1e-12, "{g:?}");
    let (l, _) = leaf_grad(&[0.5, 0.95], |v| value_loss(v, &old, &ret, 0.0));
    assert!((l - (0.25 + 0.9025) / 2.0).abs() < 1e-12);
}

#[test]
fn gaussian_log_density_and_entropy_match_closed_forms() {
    let _tape = Tape::<f64>::new();
    let mean = arr2(&[[0.3, -1.0], [2.0, 0.5]]);
    let log_std = [-0.5f64, 0.7];
    let u = arr2(&[[0.1, 0.0], [2.5, -3.0]]);
    let lp = gaussian_log_prob(
        Var::constant(mean.clone().into_dyn()),
        Var::constant(t1(&log_std)),
        Var::constant(u.clone().into_dyn()),
    )
    .value();
    for r in 0..2 {
        // The density as a product of 1/(σ√(2π)) exp(−(u−μ)²/(2σ²)).
        let pdf: f64 = (0..2)
            .map(|j| {
                let s = log_std[j].exp();
                (-(u[[r, j]] - mean[[r, j]]).powi(2) / (2.0 * s * s)).exp()
                    / (s * (2.0 * std::f64::consts::PI).sqrt())
            })
            .product();
        assert!((lp[[r]] - pdf.ln()).abs() < 1e-12, "row {r}");
        let one: f64 = (0..2)
            .map(|j| {
                gaussian_log_prob_one(mean[[r, j]] as f32, log_std[j] as f32, u[[r, j]] as f32)
            })
            .sum();
        assert!((one - pdf.ln()).abs() < 1e-5);
    }
    // H = ½ ln((2πe)^d Π σ²).
    let h = gaussian_entropy(Var::constant(t1(&log_std))).item();
    let var_prod: f64 = log_std.iter().map(|l| (2.0 * l).exp()).product();
    let want = 0.5 * ((2.0 * std::f64::consts::PI * std::f64::consts::E).powi(2) * var_prod).ln();
    assert!((h - want).abs() < 1e-12, "{h} vs {want}");
}

#[test]
fn categorical_log_prob_and_entropy_match_direct_sums() {
    let _tape = Tape::<f64>::new();
    let logits = arr2(&[[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]]);
    let lg = Var::constant(logits.clone().into_dyn());
    let lp = categorical_log_prob(lg, &[1, 2]).value();
    let h = categorical_entropy(lg).value();
    for (r, a) in [(0usize, 1usize), (1, 2)] {
        let z: f64 = (0..3).map(|j| f64::exp(logits[[r, j]])).sum();
        let p: Vec<f64> = (0..3).map(|j| logits[[r, j]].exp() / z).collect();
        assert!((lp[[r]] - p[a].ln()).abs() < 1e-12);
        let want: f64 = -p.iter().map(|q| q * q.ln()).sum::<f64>();
        assert!((h[[r]] - want).abs() < 1e-12);
    }
}

#[test]
fn samplers_have_the_right_moments() {
    let mut rng = Seed(3).rng("test");
    let n = 40_000;
    let mut counts = [0usize; 3];
    let logits = [0.0f32, (2.0f32).ln(), (5.0f32).ln()];
    for _ in 0..n {
        counts[sample_categorical(&logits, &mut rng)] += 1;
    }
    for (c, p) in counts.iter().zip([0.125, 0.25, 0.625]) {
        let f = *c as f64 / n as f64;
        let se = (p * (1.0 - p) / n as f64).sqrt();
        assert!((f - p).abs() < 4.5 * se, "{counts:?}");
    }
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for _ in 0..n {
        let (u, lp) = sample_gaussian(&[1.5], &[(0.5f32).ln()], &mut rng);
        assert!((lp - gaussian_log_prob_one(1.5, (0.5f32).ln(), u[0])).abs() < 1e-12);
        s1 += f64::from(u[0]);
        s2 += f64::from(u[0]).powi(2);
    }
    let m = s1 / n as f64;
    let sd = (s2 / n as f64 - m * m).sqrt();
    assert!((m - 1.5).abs() < 4.5 * 0.5 / (n as f64).sqrt(), "mean {m}");
    assert!((sd - 0.5).abs() < 0.01, "sd {sd}");
}

#[test]
fn gae_and_reward_to_go_by_hand() {
    // Two copies, three steps; copy 1's episode ends at step 1.
    let rewards = [1.0, 0.0, 0.0, 1.0, 2.0, 0.5];
    let values = [0.5f32, 0.25, 0.5, 1.0, 0.0, 0.5];
    let dones = [false, false, false, true, false, false];
    let last = [1.0f32, 2.0];
    let (g, l) = (0.9, 0.8);
    let (adv, ret) = gae(&rewards, &values, &dones, &last, 2, g, l);
    // Copy 0: δ2 = 2 + .9·1 − 0 = 2.9; δ1 = 0 + .9·0 − .5 = −.5; δ0 = 1 + .9·.5 − .5 = .95.
    let a2 = 2.9;
    let a1 = -0.5 + g * l * a2;
    let a0 = 0.95 + g * l * a1;
    // Copy 1: δ2 = .5 + .9·2 − .5 = 1.8; δ1 = 1 − 1 = 0 (ends); δ0 = 0 + .9·1 − .25 = .65.
    let b2 = 1.8;
    let b1 = 0.0;
    let b0 = 0.65 + g * l * b1;
    let want = [a0, b0, a1, b1, a2, b2];
    for (r, (x, w)) in adv.iter().zip(want).enumerate() {
        assert!((x - w).abs() < 1e-6, "row {r}: {x} vs {w}");
        assert!((ret[r] - (w + f64::from(values[r]))).abs() < 1e-6);
    }
    assert_eq!(reward_to_go(&[1.0, 2.0, 3.0], 0.5), vec![2.75, 3.5, 3.0]);
    let mut x = vec![1.0, 2.0, 3.0];
    normalize(&mut x);
    assert!((x[0] + 1.0).abs() < 1e-6 && x[1].abs() < 1e-12 && (x[2] - 1.0).abs() < 1e-6);
}

#[test]
fn losses_pass_gradcheck() {
    let opts = GradcheckOptions::default();
    let adv = [0.7, -1.2, 0.3];
    let ret = [1.0, -0.5, 2.0];
    let old = [-0.9, -1.1, -0.4];
    let logits = arr2(&[[0.2, -0.3], [1.0, 0.4], [-0.6, 0.1]]).into_dyn();
    let mean = arr2(&[[0.2, -0.3], [1.0, 0.4], [-0.6, 0.1]]).into_dyn();
    let log_std = t1(&[-0.4, 0.3]);
    let values = t1(&[0.1, 0.2, 1.7]);
    let u = arr2(&[[0.5, 0.0], [1.2, -0.4], [-0.1, 0.9]]).into_dyn();
    gradcheck(
        "categorical a2c loss",
        |x| {
            let lp = categorical_log_prob(x[0], &[1, 0, 1]);
            a2c_loss(
                lp,
                x[1],
                categorical_entropy(x[0]).mean(),
                &adv,
                &ret,
                0.5,
                0.01,
            )
            .0
        },
        &[logits.clone(), values.clone()],
        &opts,
    )
    .unwrap();
    // With a baseline the advantage holds V constant (a stop-gradient, by design), so finite
    // differences in V would not match: the values are checked without one.
    gradcheck(
        "gaussian reinforce loss with baseline",
        |x| {
            let lp = gaussian_log_prob(x[0], x[1], Var::constant(u.clone()));
            let v = Var::constant(values.clone());
            reinforce_loss(lp, v, gaussian_entropy(x[1]), &ret, true, 0.5, 0.01)
        },
        &[mean.clone(), log_std.clone()],
        &opts,
    )
    .unwrap();
    gradcheck(
        "gaussian reinforce loss without baseline",
        |x| {
            let lp = gaussian_log_prob(x[0], x[1], Var::constant(u.clone()));
            reinforce_loss(lp, x[2], gaussian_entropy(x[1]), &ret, false, 0.5, 0.01)
        },
        &[mean.clone(), log_std.clone(), values.clone()],
        &opts,
    )
    .unwrap();
    // Log-probabilities chosen so no ratio sits on a clip boundary (the kink).
    gradcheck(
        "ppo clipped surrogate and clipped value loss",
        |x| {
            let lp = categorical_log_prob(x[0], &[0, 1, 1]);
            clipped_surrogate(lp, &old, &adv, 0.2) + value_loss(x[1], &[0.0, 0.3, 1.5], &ret, 0.4)
        },
        &[logits, values],
        &opts,
    )
    .unwrap();
}
