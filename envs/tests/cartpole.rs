//! CartPole-v1 against a trajectory recorded from Gymnasium (`bench/cartpole_fixture.py`).
#![allow(clippy::unwrap_used, clippy::expect_used)]
use autodidact_core::{Action, Config, Environment, Hyperparams, Seed};
use autodidact_envs::cartpole::{CartPole, CartPoleParams, Integrator};

#[derive(serde::Deserialize)]
struct Episode {
    seed: u64,
    initial_state: Vec<f64>,
    initial_obs: Vec<f32>,
    actions: Vec<usize>,
    states: Vec<Vec<f64>>,
    observations: Vec<Vec<f32>>,
    rewards: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
}

#[derive(serde::Deserialize)]
struct Fixture {
    gymnasium_version: String,
    episodes: Vec<Episode>,
}

#[test]
fn matches_a_gymnasium_trajectory_step_by_step() {
    let text = include_str!("fixtures/cartpole_gymnasium.json");
    let fx: Fixture = serde_json::from_str(text).unwrap();
    assert!(!fx.gymnasium_version.is_empty());
    assert_eq!(fx.episodes.len(), 2);
    let mut saw_truncation = false;
    let mut saw_termination = false;
    for ep in &fx.episodes {
        let mut env = CartPole::new();
        let s0 = [
            ep.initial_state[0],
            ep.initial_state[1],
            ep.initial_state[2],
            ep.initial_state[3],
        ];
        env.set_state(s0);
        let obs0: Vec<f32> = s0.iter().map(|&v| v as f32).collect();
        assert_eq!(
            obs0, ep.initial_obs,
            "seed {}: float32 observation of the initial state",
            ep.seed
        );
        for (t, &a) in ep.actions.iter().enumerate() {
            let r = env.step(&Action::Discrete(a)).unwrap();
            let state = env.state();
            for k in 0..4 {
                let want = ep.states[t][k];
                assert!(
                    (state[k] - want).abs() <= 1e-9 * (1.0 + want.abs()),
                    "seed {} step {t} component {k}: {} vs gymnasium {}",
                    ep.seed,
                    state[k],
                    want
                );
                let (o, w) = (r.obs[k], ep.observations[t][k]);
                assert!(
                    (o - w).abs() <= 2.0 * f32::EPSILON * (1.0 + w.abs()),
                    "step {t} obs {k}: {o} vs {w}"
                );
            }
            assert_eq!(r.reward, ep.rewards[t], "step {t} reward");
            assert_eq!(r.terminated, ep.terminated[t], "step {t} terminated");
            assert_eq!(r.truncated, ep.truncated[t], "step {t} truncated");
        }
        saw_truncation |= *ep.truncated.last().unwrap();
        saw_termination |= *ep.terminated.last().unwrap();
    }
    assert!(
        saw_truncation && saw_termination,
        "the fixture covers both endings"
    );
}

#[test]
fn reset_is_seeded_and_in_range() {
    let mut a = CartPole::new();
    let mut b = CartPole::new();
    let (oa, _) = a.reset(Some(3));
    let (ob, _) = b.reset(Some(3));
    assert_eq!(oa, ob);
    let (oc, _) = b.reset(Some(4));
    assert_ne!(oa, oc);
    for _ in 0..100 {
        let (o, _) = a.reset(None);
        assert!(o.iter().all(|v| v.abs() <= 0.05));
    }
    let mut x = CartPole::with_seed(Seed(1));
    let mut y = CartPole::with_seed(Seed(1));
    assert_eq!(x.reset(None).0, y.reset(None).0);
}

#[test]
fn rewards_after_termination_are_zero_and_bad_actions_refused() {
    let mut env = CartPole::new();
    env.reset(Some(0));
    let mut steps = 0;
    loop {
        let r = env.step(&Action::Discrete(1)).unwrap();
        steps += 1;
        if r.terminated {
            assert_eq!(r.reward, 1.0);
            break;
        }
    }
    assert!(steps < 100);
    let r = env.step(&Action::Discrete(1)).unwrap();
    assert_eq!((r.reward, r.terminated), (0.0, true));
    assert!(env.step(&Action::Discrete(2)).is_err());
    assert!(env.step(&Action::Continuous(vec![1.0])).is_err());
    assert!(env.render_ansi().is_some());
}

#[test]
fn time_limit_is_configurable() {
    let p = CartPoleParams {
        max_steps: 3,
        ..CartPoleParams::default()
    };
    let mut env = CartPole::from_params(&p, Seed(0)).unwrap();
    env.reset(None);
    let mut last = None;
    for i in 0..3 {
        last = Some(env.step(&Action::Discrete(i % 2)).unwrap());
    }
    assert!(last.unwrap().truncated);
    let rk4: Config = toml::from_str("integrator = \"rk4\"").unwrap();
    let err = CartPoleParams::from_config(&rk4).unwrap_err().to_string();
    assert!(
        err.contains("`integrator`") && err.contains("semi-implicit"),
        "{err}"
    );
    let semi = CartPoleParams {
        integrator: Integrator::SemiImplicit,
        ..CartPoleParams::default()
    };
    let mut a = CartPole::from_params(&semi, Seed(0)).unwrap();
    let mut b = CartPole::new();
    a.set_state([0.0, 0.1, 0.01, 0.0]);
    b.set_state([0.0, 0.1, 0.01, 0.0]);
    a.step(&Action::Discrete(1)).unwrap();
    b.step(&Action::Discrete(1)).unwrap();
    assert_ne!(a.state(), b.state());
}
