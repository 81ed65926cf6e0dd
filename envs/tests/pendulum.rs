//! Pendulum-v1 against trajectories recorded from Gymnasium (`bench/pendulum_fixture.py`).
#![allow(clippy::unwrap_used, clippy::expect_used)]
use autodidact_core::{Action, Config, Environment, Hyperparams, Seed, Space};
use autodidact_envs::pendulum::{Pendulum, PendulumParams, MAX_SPEED};

#[derive(serde::Deserialize)]
struct Episode {
    seed: u64,
    initial_state: Vec<f64>,
    initial_obs: Vec<f32>,
    actions: Vec<f32>,
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

fn close(a: f64, b: f64) -> bool {
    // Gymnasium's NumPy and Rust's libm may differ in the last bit of a sine; that is all.
    (a - b).abs() <= 1e-12 * (1.0 + b.abs())
}

#[test]
fn matches_a_gymnasium_trajectory_step_by_step() {
    let fx: Fixture =
        serde_json::from_str(include_str!("fixtures/pendulum_gymnasium.json")).unwrap();
    assert!(!fx.gymnasium_version.is_empty());
    assert_eq!(fx.episodes.len(), 2);
    let (mut clipped_torque, mut clipped_speed) = (false, false);
    for ep in &fx.episodes {
        let mut env = Pendulum::new();
        env.set_state([ep.initial_state[0], ep.initial_state[1]]);
        let th = ep.initial_state[0];
        let obs0 = [th.cos() as f32, th.sin() as f32, ep.initial_state[1] as f32];
        for k in 0..3 {
            let (o, w) = (obs0[k], ep.initial_obs[k]);
            assert!((o - w).abs() <= f32::EPSILON, "seed {} obs0 {k}", ep.seed);
        }
        for (t, &a) in ep.actions.iter().enumerate() {
            clipped_torque |= a.abs() > 2.0;
            let r = env.step(&Action::Continuous(vec![a])).unwrap();
            let s = env.state();
            for k in 0..2 {
                assert!(
                    close(s[k], ep.states[t][k]),
                    "seed {} step {t} state {k}: {} vs gymnasium {}",
                    ep.seed,
                    s[k],
                    ep.states[t][k]
                );
            }
            clipped_speed |= s[1].abs() == MAX_SPEED;
            for k in 0..3 {
                let (o, w) = (r.obs[k], ep.observations[t][k]);
                assert!(
                    (o - w).abs() <= f32::EPSILON * (1.0 + w.abs()),
                    "seed {} step {t} obs {k}: {o} vs {w}",
                    ep.seed
                );
            }
            assert!(
                close(r.reward, ep.rewards[t]),
                "seed {} step {t} reward {} vs {}",
                ep.seed,
                r.reward,
                ep.rewards[t]
            );
            assert_eq!(r.terminated, ep.terminated[t], "step {t} terminated");
            assert_eq!(r.truncated, ep.truncated[t], "step {t} truncated");
        }
        assert_eq!(ep.actions.len(), 200, "Pendulum-v1 truncates at 200 steps");
    }
    assert!(
        clipped_torque && clipped_speed,
        "the fixture exercises both clips"
    );
}

#[test]
fn spaces_resets_and_bad_actions() {
    let mut env = Pendulum::new();
    assert_eq!(
        env.action_space().bounds(),
        Some((&[-2.0f32][..], &[2.0f32][..]))
    );
    assert!(env.action_space().contains(&Action::Continuous(vec![1.5])));
    assert!(!env.action_space().contains(&Action::Continuous(vec![2.5])));
    assert!(!env.action_space().contains(&Action::Discrete(0)));
    assert_eq!(env.observation_space().flat_dim(), 3);
    assert!(matches!(env.observation_space(), Space::Box { .. }));
    let (a, _) = env.reset(Some(3));
    let (b, _) = Pendulum::new().reset(Some(3));
    assert_eq!(a, b);
    assert_ne!(a, env.reset(Some(4)).0);
    for _ in 0..200 {
        let (o, _) = env.reset(None);
        assert!((o[0] * o[0] + o[1] * o[1] - 1.0).abs() < 1e-5 && o[2].abs() <= 1.0);
    }
    let err = env.step(&Action::Discrete(0)).unwrap_err().to_string();
    assert!(err.contains("Continuous([torque])"), "{err}");
    assert!(env.step(&Action::Continuous(vec![0.0, 1.0])).is_err());
    // Upright and still: the best reward there is, 0.
    env.set_state([0.0, 0.0]);
    assert_eq!(
        env.step(&Action::Continuous(vec![0.0])).unwrap().reward,
        0.0
    );
}

#[test]
fn time_limit_and_gravity_are_configurable() {
    let p = PendulumParams {
        max_steps: 3,
        gravity: 9.81,
    };
    let mut env = Pendulum::from_params(&p, Seed(0)).unwrap();
    env.reset(None);
    let last: Vec<bool> = (0..3)
        .map(|_| env.step(&Action::Continuous(vec![0.0])).unwrap().truncated)
        .collect();
    assert_eq!(last, vec![false, false, true]);
    let bad: Config = toml::from_str("gravity = -1.0").unwrap();
    let err = PendulumParams::from_config(&bad).unwrap_err().to_string();
    assert!(err.contains("`gravity`"), "{err}");
}
