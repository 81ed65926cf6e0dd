//! Core's `VecEnv` on real environments: independent seeded copies, automatic resets with the
//! true final observation, exact save and restore.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use autodidact_core::{Action, Environment, Seed, VecEnv};
use autodidact_envs::{CartPole, Pendulum};

#[test]
fn copies_have_independent_streams_and_reset_when_done() {
    let env = CartPole::new();
    let mut v = VecEnv::new(&env, 3, Seed(5)).unwrap();
    assert_eq!(v.num_envs(), 3);
    assert_ne!(v.obs()[0], v.obs()[1]);
    // A fourth copy leaves the first three's episodes as they were.
    let w = VecEnv::new(&env, 4, Seed(5)).unwrap();
    assert_eq!(&w.obs()[..3], v.obs());
    let mut ended = 0;
    for _ in 0..60 {
        let before = v.obs().to_vec();
        let out = v.step(&vec![Action::Discrete(1); 3]).unwrap();
        for i in 0..3 {
            match (&out.final_obs[i], &out.finished[i]) {
                (Some(last), Some(end)) => {
                    ended += 1;
                    assert!(out.terminated[i] || out.truncated[i]);
                    assert_ne!(last, &out.obs[i], "a new episode starts after the end");
                    assert!(end.length > 0 && end.episode_return > 0.0);
                }
                (None, None) => assert_ne!(before[i], out.obs[i]),
                _ => panic!("final observation and episode end disagree"),
            }
        }
        assert_eq!(v.obs(), &out.obs[..]);
    }
    assert!(ended >= 3, "always pushing right ends episodes quickly");
    assert!(v.step(&[Action::Discrete(1)]).is_err());
    assert!(VecEnv::new(&env, 0, Seed(5)).is_err());
}

#[test]
fn save_and_restore_continue_exactly() {
    let env = Pendulum::new();
    let torque = |t: usize, i: usize| Action::Continuous(vec![((t * 7 + i * 3) % 5) as f32 - 2.0]);
    let mut a = VecEnv::new(&env, 2, Seed(9)).unwrap();
    for t in 0..250 {
        a.step(&[torque(t, 0), torque(t, 1)]).unwrap();
    }
    let saved = a.save();
    let mut b = VecEnv::new(&env, 2, Seed(9)).unwrap();
    b.restore(saved.clone()).unwrap();
    for t in 250..300 {
        let x = a.step(&[torque(t, 0), torque(t, 1)]).unwrap();
        let y = b.step(&[torque(t, 0), torque(t, 1)]).unwrap();
        assert_eq!(x, y);
    }
    // Another seed cannot replay the episode: refused, with the reason.
    let mut c = VecEnv::new(&env, 2, Seed(10)).unwrap();
    let err = c.restore(saved.clone()).unwrap_err().to_string();
    assert!(err.contains("does not belong"), "{err}");
    let mut d = VecEnv::new(&env, 3, Seed(9)).unwrap();
    assert!(d.restore(saved).is_err());
    assert_eq!(a.action_space(), env.action_space());
}
