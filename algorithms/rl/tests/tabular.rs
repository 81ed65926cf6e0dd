#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Tabular Q-learning and SARSA: they reach the optimal policy, and resume exactly.

use crate::common;

use autodidact_core::{Algorithm, Seed, TabularModel};
use autodidact_rl::tabular::{epsilon_greedy, epsilon_greedy_expectation, greedy_random_ties};
use autodidact_rl::{QLearningParams, SarsaParams, TabularAgent};
use common::{build, grid, grid_with_limit, spec, train_all, train_n};

fn deterministic_4x4() -> autodidact_core::EnvSpec {
    spec(
        "gridworld",
        &[("map", "frozen-lake-4x4".into()), ("slip", 0.0.into())],
    )
}

#[test]
fn q_learning_finds_the_optimal_policy_on_the_deterministic_4x4_map() {
    let env = deterministic_4x4();
    let mut a = build(
        "q-learning",
        &[("total_steps", 6000.into()), ("learning_rate", 0.5.into())],
        &env,
        1,
    );
    // Before training the greedy policy (all "up") never reaches the goal.
    let m0 = a.evaluate(None).unwrap();
    assert!(m0["value_gap"] > 0.9, "{m0:?}");
    train_all(a.as_mut());
    let m = a.evaluate(None).unwrap();
    assert!(m["value_gap"] <= 0.01, "{m:?}");
    assert_eq!(m["success_rate"], 1.0);
    assert_eq!(m["eval_return_mean"], 1.0);
    assert_eq!(m["eval_length_mean"], 6.0);
}

#[test]
fn sarsa_and_expected_sarsa_find_the_optimal_policy_too() {
    let env = deterministic_4x4();
    for expected in [false, true] {
        let mut a = build(
            "sarsa",
            &[
                ("total_steps", 8000.into()),
                ("learning_rate", 0.5.into()),
                ("expected", expected.into()),
            ],
            &env,
            2,
        );
        train_all(a.as_mut());
        let m = a.evaluate(None).unwrap();
        assert!(m["value_gap"] <= 0.01, "expected = {expected}: {m:?}");
    }
}

#[test]
fn q_learning_on_the_cliff_walks_the_edge() {
    // Off-policy Q-learning learns the optimal path along the cliff (Sutton & Barto, 6.6).
    let g = grid("cliff-walk", 0.0);
    let p = QLearningParams {
        total_steps: 30_000,
        learning_rate: 0.5,
        epsilon_end: 0.1,
        ..QLearningParams::default()
    };
    let mut a = TabularAgent::q_learning(&p, Box::new(g), "cliff-walk", Seed(3)).unwrap();
    train_all(&mut a);
    let m = a.evaluate(None).unwrap();
    assert!(m["value_gap"] <= 0.01, "{m:?}");
    assert_eq!(m["eval_return_mean"], -13.0);
    assert!(m["q_error"].is_finite());
}

#[test]
fn tabular_checkpoints_resume_bit_for_bit() {
    let env = spec("gridworld", &[("map", "frozen-lake-4x4".into())]);
    for algo in ["q-learning", "sarsa"] {
        let cfg = [("total_steps", 3000.into()), ("log_every", 7.into())];
        let mut a = build(algo, &cfg, &env, 5);
        train_n(a.as_mut(), 2000);
        let mut b = build(algo, &cfg, &env, 5);
        train_n(b.as_mut(), 1234);
        let bytes = b.save().unwrap();
        let mut c = build(algo, &cfg, &env, 5);
        c.load(&bytes).unwrap();
        let mut logs_b = Vec::new();
        let mut logs_c = Vec::new();
        for _ in 0..766 {
            logs_b.push(b.train_step().unwrap());
            logs_c.push(c.train_step().unwrap());
        }
        assert_eq!(logs_b, logs_c, "{algo}");
        assert_eq!(a.save().unwrap(), c.save().unwrap(), "{algo}");
        assert_eq!(a.evaluate(None).unwrap(), c.evaluate(None).unwrap());
    }
}

#[test]
fn a_checkpoint_from_another_environment_is_refused() {
    let small = spec("gridworld", &[("map", "frozen-lake-4x4".into())]);
    let big = spec("gridworld", &[("map", "frozen-lake-8x8".into())]);
    let mut a = build("q-learning", &[], &small, 0);
    train_n(a.as_mut(), 10);
    let mut b = build("q-learning", &[], &big, 0);
    assert!(b.load(&a.save().unwrap()).is_err());
}

#[test]
fn epsilon_greedy_helpers() {
    let mut rng = Seed(0).rng("t");
    // ε = 0 always picks a maximum; ties are split.
    let row = [1.0, 3.0, 3.0, 0.0];
    let mut seen = [0usize; 4];
    for _ in 0..2000 {
        seen[epsilon_greedy(&row, 0.0, &mut rng)] += 1;
    }
    assert_eq!(seen[0] + seen[3], 0);
    assert!(seen[1] > 800 && seen[2] > 800, "{seen:?}");
    // ε = 1 is uniform.
    let mut seen = [0usize; 4];
    for _ in 0..4000 {
        seen[epsilon_greedy(&row, 1.0, &mut rng)] += 1;
    }
    assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
    assert_eq!(greedy_random_ties(&[0.0, 2.0, 1.0], &mut rng), 1);
    // E[Q] under ε-greedy: ε·mean + (1 − ε)·max.
    let e = epsilon_greedy_expectation(&row, 0.2);
    assert!((e - (0.2 * 7.0 / 4.0 + 0.8 * 3.0)).abs() < 1e-12);
}

#[test]
fn sarsa_params_keep_their_own_struct() {
    let p = SarsaParams {
        expected: true,
        ..SarsaParams::default()
    };
    let g = grid("frozen-lake-4x4", 0.0);
    let mut a = TabularAgent::sarsa(&p, Box::new(g), "4x4", Seed(0)).unwrap();
    a.step().unwrap();
    assert_eq!(a.steps_done(), 1);
}

#[test]
fn a_time_limit_truncation_bootstraps() {
    // Episodes cut after one step on the deterministic 4x4 map: no move from the start ends
    // an episode, so every transition is a truncation with reward 0. With Q₀ = 1, α = 1 and
    // γ = 0.5, a move to a neighbour s' (never a start, so Q(s', ·) stays 1) gives exactly
    // Q(s₀, a) = 0.5, and a move into the wall (back to s₀) a positive value; treating the
    // truncation as terminal would give 0.
    let g = grid_with_limit("frozen-lake-4x4", 0.0, 1);
    let s0 = g.model().initial_distribution()[0].0;
    let leaves: Vec<bool> = (0..4)
        .map(|a| g.model().transitions(s0, a).iter().all(|t| t.next != s0))
        .collect();
    assert_eq!(leaves.iter().filter(|&&l| l).count(), 2);
    let q = QLearningParams {
        total_steps: 40,
        gamma: 0.5,
        learning_rate: 1.0,
        learning_rate_final: 1.0,
        epsilon_schedule: autodidact_rl::hyperparams::ScheduleKind::Constant,
        epsilon_start: 1.0,
        epsilon_end: 1.0,
        q_init: 1.0,
        ..QLearningParams::default()
    };
    let sarsa = SarsaParams {
        total_steps: 40,
        gamma: 0.5,
        learning_rate: 1.0,
        learning_rate_final: 1.0,
        epsilon_schedule: autodidact_rl::hyperparams::ScheduleKind::Constant,
        epsilon_start: 1.0,
        epsilon_end: 1.0,
        q_init: 1.0,
        ..SarsaParams::default()
    };
    let agents = [
        TabularAgent::q_learning(&q, Box::new(g.clone()), "4x4", Seed(3)).unwrap(),
        TabularAgent::sarsa(&sarsa, Box::new(g), "4x4", Seed(3)).unwrap(),
    ];
    for mut a in agents {
        train_all(&mut a);
        let row = a.q().row(s0).to_vec();
        // Every action was tried (ε = 1 for 40 steps) and bootstrapped.
        for (act, &v) in row.iter().enumerate() {
            if leaves[act] {
                assert_eq!(v, 0.5, "{row:?}");
            } else {
                assert!(v > 0.0 && v < 1.0, "{row:?}");
            }
        }
    }
}
