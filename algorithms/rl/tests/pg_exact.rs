//! The policy-gradient estimators against the exact policy gradient of a tabular MDP.
//!
//! FrozenLake 4x4 (slippery, holes end the episode, goal +1), undiscounted and without a time
//! limit, so every episode ends and `J(θ) = V^π(s₀)`. The policy is the crate's own network
//! with no hidden layer on one-hot observations (a tabular softmax, `logits = x W + b`), with
//! fixed random logits. The exact gradient comes from the model alone:
//! `V^π` by a linear solve, `Q^π(s,a) = R(s,a) + Σ P(s'|s,a) V^π(s')`, expected visits
//! `η = μ₀ (I − P_π)⁻¹` by another, and the policy gradient theorem
//! `∂J/∂W_{ja} = Σ_s η(s) x_j(s) π(a|s) (Q(s,a) − V(s))`.
//!
//! The estimators are the crate's code path: episodes sampled with its categorical sampler,
//! returns from its reward-to-go and GAE, log-probabilities from its network and
//! distribution, gradients by autodiff of its REINFORCE and A2C losses. Averaged over many
//! episodes, each component must agree with the exact gradient within its standard error
//! (|z| < 4.5 for each of the 64 weights, a Bonferroni bound for a fixed seed); a deliberately
//! biased estimator (an action-dependent baseline) must be rejected by the same test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::{Action, Activation, CreateGraph, Environment, Params, Seed, Tape};
use autodidact_envs::{Gridworld, GridworldParams};
use autodidact_rl::dp::bellman::q_from_v;
use autodidact_rl::dp::linear_solve::solve;
use autodidact_rl::dp::{policy_evaluation_exact, Policy};
use autodidact_rl::pg::a2c::a2c_loss;
use autodidact_rl::pg::distribution::sample_categorical;
use autodidact_rl::pg::network::{ActionKind, ActorCritic};
use autodidact_rl::pg::objective::{evaluate_actions, obs_batch};
use autodidact_rl::pg::reinforce::{episode_returns, reinforce_loss};
use autodidact_rl::pg::rollout::{gae, Rollout};
use autodidact_rl::pg::PgInit;
use rand_distr::{Distribution, Normal};

const EPISODES: usize = 20_000;

struct Setup {
    env: Gridworld,
    net: ActorCritic,
    params: Params<f64>,
    actor_w: usize,
    /// Observation of each state.
    x: Vec<Vec<f32>>,
    /// π(a|s).
    pi: Vec<Vec<f64>>,
    v: Vec<f64>,
    q: Vec<Vec<f64>>,
    exact: Vec<f64>,
}

fn softmax(l: &[f64]) -> Vec<f64> {
    let m = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = l.iter().map(|x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

fn setup(step_reward: Option<f64>) -> Setup {
    let gp = GridworldParams {
        max_steps: Some(1_000_000),
        step_reward,
        ..GridworldParams::default()
    };
    let env = Gridworld::from_params(&gp, Seed(0)).unwrap();
    let model = env.tabular().unwrap();
    let (ns, na) = (model.num_states(), model.num_actions());
    let d = env.observation_space().flat_dim();
    let mut p32 = Params::new();
    let net = ActorCritic::new(
        &mut p32,
        d,
        ActionKind::Discrete(na),
        &[],
        Activation::Tanh,
        false,
        PgInit::TorchDefault,
        0.0,
        &mut Seed(1).rng("init"),
    );
    let mut params: Params<f64> = p32.cast();
    let actor_w = net.actor.layers[0].weight;
    let (actor_b, critic_w, critic_b) = (
        net.actor.layers[0].bias.unwrap(),
        net.critic.layers[0].weight,
        net.critic.layers[0].bias.unwrap(),
    );
    // Random logits, well away from uniform, so every term of the gradient matters.
    let mut rng = Seed(2).rng("logits");
    let normal = Normal::new(0.0, 0.8).unwrap();
    let t = params.tensors_mut();
    t[actor_w].mapv_inplace(|_| normal.sample(&mut rng));
    t[actor_b].fill(0.0);
    t[critic_b].fill(0.0);
    let x: Vec<Vec<f32>> = (0..ns).map(|s| model.observation_of(s).unwrap()).collect();
    let w = params.tensors()[actor_w].clone();
    let pi: Vec<Vec<f64>> = x
        .iter()
        .map(|xs| {
            let logits: Vec<f64> = (0..na)
                .map(|a| (0..d).map(|j| f64::from(xs[j]) * w[[j, a]]).sum())
                .collect();
            softmax(&logits)
        })
        .collect();
    let policy = Policy::from_probs(pi.iter().flatten().copied().collect(), na).unwrap();
    let v = policy_evaluation_exact(model, &policy, 1.0).unwrap();
    let qt = q_from_v(model, &v, 1.0);
    let q: Vec<Vec<f64>> = (0..ns).map(|s| qt.row(s).to_vec()).collect();
    // Expected visits: η = μ₀ + η P_π, transitions into an ending state leave the chain.
    let mut a = vec![0.0; ns * ns];
    for i in 0..ns {
        a[i * ns + i] = 1.0;
    }
    for s in 0..ns {
        if model.is_terminal(s) {
            continue;
        }
        for act in 0..na {
            for tr in model.transitions(s, act) {
                if !tr.done {
                    a[tr.next * ns + s] -= pi[s][act] * tr.prob;
                }
            }
        }
    }
    let mut mu = vec![0.0; ns];
    for (s, p) in model.initial_distribution() {
        mu[s] += p;
    }
    let eta = solve(&a, &mu, ns).unwrap();
    let mut exact = vec![0.0; d * na];
    for s in 0..ns {
        for act in 0..na {
            let g = eta[s] * pi[s][act] * (q[s][act] - v[s]);
            for j in 0..d {
                exact[j * na + act] += f64::from(x[s][j]) * g;
            }
        }
    }
    // The critic holds V^π exactly: the baseline of the "with baseline" estimators.
    let t = params.tensors_mut();
    for s in 0..ns {
        for j in 0..d {
            if x[s][j] == 1.0 {
                t[critic_w][[j, 0]] = v[s];
            }
        }
    }
    Setup {
        env,
        net,
        params,
        actor_w,
        x,
        pi,
        v,
        q,
        exact,
    }
}

/// One sampled episode: observations, actions, rewards, states.
fn episode(s: &mut Setup, k: usize, rng: &mut autodidact_core::Rng) -> (Rollout, Vec<usize>) {
    let d = s.x[0].len();
    let mut ro = Rollout::new(1, d, 1);
    let mut states = Vec::new();
    let (mut obs, _) = s.env.reset(Some(k as u64));
    loop {
        let st = s.env.state_index().unwrap();
        let logits: Vec<f32> = s.pi[st].iter().map(|p| p.ln() as f32).collect();
        let a = sample_categorical(&logits, rng);
        let r = s.env.step(&Action::Discrete(a)).unwrap();
        ro.obs.extend_from_slice(&obs);
        ro.actions.push(a as f32);
        ro.rewards.push(r.reward);
        ro.dones.push(r.terminated || r.truncated);
        ro.values.push(s.v[st] as f32);
        ro.log_probs.push(0.0);
        states.push(st);
        assert!(!r.truncated, "no time limit in this test");
        if r.terminated {
            return (ro, states);
        }
        obs = r.obs;
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Estimator {
    Reinforce {
        baseline: bool,
    },
    GaeLambdaOne,
    /// Wrong on purpose: subtracts `Q(s, a)`, a baseline that depends on the action.
    ActionBaseline,
}

/// The estimate of each episode: `−T · ∇(loss)` with respect to the actor's weight, which is
/// `Σ_t A_t ∇ log π(a_t|s_t)` since the losses average over the episode's `T` steps.
fn estimates(s: &mut Setup, which: Estimator) -> Vec<Vec<f64>> {
    let mut rng = Seed(2024).rng("episodes");
    let d = s.x[0].len();
    let mut out = Vec::with_capacity(EPISODES);
    for k in 0..EPISODES {
        let (ro, states) = episode(s, k, &mut rng);
        let steps = ro.len() as f64;
        let tape = Tape::<f64>::new();
        let p = tape.params(&s.params);
        let x = obs_batch::<f64>(&ro.obs, d, None).unwrap();
        let t = evaluate_actions(&s.net, &p, x, &ro.actions).unwrap();
        let returns = episode_returns(std::slice::from_ref(&ro), 1.0);
        let loss = match which {
            Estimator::Reinforce { baseline } => {
                reinforce_loss(t.log_prob, t.value, t.entropy, &returns, baseline, 0.0, 0.0)
            }
            Estimator::GaeLambdaOne => {
                let (adv, ret) = gae(&ro.rewards, &ro.values, &ro.dones, &[0.0], 1, 1.0, 1.0);
                a2c_loss(t.log_prob, t.value, t.entropy, &adv, &ret, 0.0, 0.0).0
            }
            Estimator::ActionBaseline => {
                let adv: Vec<f64> = returns
                    .iter()
                    .zip(&states)
                    .zip(&ro.actions)
                    .map(|((g, &st), &a)| g - s.q[st][a as usize])
                    .collect();
                a2c_loss(t.log_prob, t.value, t.entropy, &adv, &returns, 0.0, 0.0).0
            }
        };
        let g = tape.grad(&loss, &p, CreateGraph::No);
        let gw = g[s.actor_w].value();
        out.push(gw.iter().map(|&v| -steps * v).collect());
    }
    out
}

struct ZTest {
    max_abs_z: f64,
    mean_sq_z: f64,
    total_variance: f64,
}

fn z_test(s: &Setup, est: &[Vec<f64>]) -> ZTest {
    let n = est.len() as f64;
    let k = s.exact.len();
    let (mut max_abs_z, mut sum_sq, mut used, mut total_variance) = (0.0f64, 0.0, 0usize, 0.0);
    for c in 0..k {
        let mean = est.iter().map(|e| e[c]).sum::<f64>() / n;
        let var = est.iter().map(|e| (e[c] - mean).powi(2)).sum::<f64>() / (n - 1.0);
        total_variance += var;
        let se = (var / n).sqrt();
        if se == 0.0 {
            // A weight of a state never visited: both must be exactly 0.
            assert_eq!(mean, 0.0, "component {c}");
            assert!(
                s.exact[c].abs() < 1e-12,
                "component {c}: exact {}",
                s.exact[c]
            );
            continue;
        }
        let z = (mean - s.exact[c]) / se;
        max_abs_z = max_abs_z.max(z.abs());
        sum_sq += z * z;
        used += 1;
    }
    ZTest {
        max_abs_z,
        mean_sq_z: sum_sq / used.max(1) as f64,
        total_variance,
    }
}

#[test]
fn estimators_match_the_exact_policy_gradient() {
    let mut s = setup(None);
    let norm = s.exact.iter().map(|g| g * g).sum::<f64>().sqrt();
    assert!(
        norm > 1e-3,
        "the exact gradient is not trivially 0 ({norm})"
    );
    let e = estimates(&mut s, Estimator::Reinforce { baseline: false });
    let plain = z_test(&s, &e);
    let e = estimates(&mut s, Estimator::Reinforce { baseline: true });
    let based = z_test(&s, &e);
    let e = estimates(&mut s, Estimator::GaeLambdaOne);
    let gae1 = z_test(&s, &e);
    let e = estimates(&mut s, Estimator::ActionBaseline);
    let wrong = z_test(&s, &e);
    println!(
        "REINFORCE without baseline: max|z| {:.2}, mean z² {:.2}, total variance {:.4e}",
        plain.max_abs_z, plain.mean_sq_z, plain.total_variance
    );
    println!(
        "REINFORCE with baseline V^π: max|z| {:.2}, mean z² {:.2}, total variance {:.4e} \
         ({:.2}x less)",
        based.max_abs_z,
        based.mean_sq_z,
        based.total_variance,
        plain.total_variance / based.total_variance
    );
    println!(
        "A2C/GAE(λ=1): max|z| {:.2}, mean z² {:.2}; action-dependent baseline (biased): \
         max|z| {:.1}",
        gae1.max_abs_z, gae1.mean_sq_z, wrong.max_abs_z
    );
    for (name, t) in [("plain", &plain), ("baseline", &based), ("gae", &gae1)] {
        assert!(t.max_abs_z < 4.5, "{name}: max |z| = {}", t.max_abs_z);
        assert!(t.mean_sq_z < 2.0, "{name}: mean z² = {}", t.mean_sq_z);
    }
    assert!(
        based.total_variance < plain.total_variance,
        "the baseline cuts the variance: {} vs {}",
        based.total_variance,
        plain.total_variance
    );
    assert!(
        wrong.max_abs_z > 8.0,
        "the test has the power to reject a biased estimator (max |z| {})",
        wrong.max_abs_z
    );
}

/// With a cost per step (−0.1) returns carry a large state-dependent offset, which is what a
/// state-value baseline removes: the variance falls severalfold, the mean stays exact.
#[test]
fn the_baseline_cuts_the_variance_of_offset_returns() {
    let mut s = setup(Some(-0.1));
    let e = estimates(&mut s, Estimator::Reinforce { baseline: false });
    let plain = z_test(&s, &e);
    let e = estimates(&mut s, Estimator::Reinforce { baseline: true });
    let based = z_test(&s, &e);
    println!(
        "step reward -0.1: total variance {:.4e} without baseline, {:.4e} with ({:.2}x less); \
         max|z| {:.2} and {:.2}",
        plain.total_variance,
        based.total_variance,
        plain.total_variance / based.total_variance,
        plain.max_abs_z,
        based.max_abs_z
    );
    assert!(plain.max_abs_z < 4.5 && based.max_abs_z < 4.5);
    assert!(
        based.total_variance < 0.5 * plain.total_variance,
        "{} vs {}",
        based.total_variance,
        plain.total_variance
    );
}
