#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Exact dynamic programming on hand-built MDPs and gridworlds.

use crate::common;

use autodidact_core::TabularModel;
use autodidact_rl::dp::{
    bellman_expectation_residual, bellman_residual, policy_evaluation, policy_evaluation_direct,
    policy_iteration, q_bellman_residual, q_from_v, q_policy_evaluation, q_value_iteration,
    solve_optimal, start_value, value_iteration, EvaluationMethod, Policy,
};
use autodidact_rl::RlError;
use common::{build, grid, spec, t, train_all, Table};

/// s0 --a0 (r 1)--> s1 --a0 (r 10)--> terminal s2; a1 goes back to s0 with reward 0.
fn chain() -> Table {
    Table {
        trans: vec![
            vec![vec![t(1.0, 1, 1.0, false)], vec![t(1.0, 0, 0.0, false)]],
            vec![vec![t(1.0, 2, 10.0, true)], vec![t(1.0, 0, 0.0, false)]],
            vec![vec![t(1.0, 2, 0.0, true)], vec![t(1.0, 2, 0.0, true)]],
        ],
        terminal: vec![false, false, true],
        init: vec![(0, 1.0)],
    }
}

/// s0: a0 risky (½: end with 2, ½: to s1 with 0), a1 safe (to s1 with 0.5);
/// s1: a0 ends with 1, a1 back to s0 with 0.
fn risky() -> Table {
    Table {
        trans: vec![
            vec![
                vec![t(0.5, 2, 2.0, true), t(0.5, 1, 0.0, false)],
                vec![t(1.0, 1, 0.5, false)],
            ],
            vec![vec![t(1.0, 2, 1.0, true)], vec![t(1.0, 0, 0.0, false)]],
            vec![vec![t(1.0, 2, 0.0, true)], vec![t(1.0, 2, 0.0, true)]],
        ],
        terminal: vec![false, false, true],
        init: vec![(0, 1.0)],
    }
}

#[test]
fn uniform_policy_on_the_chain_matches_hand_computation() {
    // γ = 0.9, uniform: V1 = 5 + 0.45 V0, V0 = 0.5 + 0.45 V1 + 0.45 V0
    // ⇒ 0.3475 V0 = 2.75.
    let m = chain();
    let v0 = 2.75 / 0.3475;
    let v1 = 5.0 + 0.45 * v0;
    let pi = Policy::uniform(3, 2);
    let direct = policy_evaluation_direct(&m, &pi, 0.9).unwrap();
    assert!((direct[0] - v0).abs() < 1e-12, "{direct:?}");
    assert!((direct[1] - v1).abs() < 1e-12);
    assert_eq!(direct[2], 0.0);
    let it = policy_evaluation(&m, &pi, 0.9, 1e-13, 100_000).unwrap();
    assert!(it.converged);
    assert!((it.v[0] - v0).abs() < 1e-10 && (it.v[1] - v1).abs() < 1e-10);
    assert!(bellman_expectation_residual(&m, &pi, &direct, 0.9) < 1e-10);
    assert!(bellman_expectation_residual(&m, &pi, &it.v, 0.9) < 1e-10);
    // Q^π(s, a) = R(s, a) + γ Σ P V^π.
    let q = q_policy_evaluation(&m, &pi, 0.9).unwrap();
    assert!((q.get(0, 0) - (1.0 + 0.9 * v1)).abs() < 1e-12);
    assert!((q.get(1, 1) - 0.9 * v0).abs() < 1e-12);
}

#[test]
fn optimal_values_of_the_chain() {
    let m = chain();
    let vi = value_iteration(&m, 0.9, 1e-13, 10_000).unwrap();
    assert!(vi.converged);
    assert!((vi.v[0] - 10.0).abs() < 1e-10 && (vi.v[1] - 10.0).abs() < 1e-10);
    assert_eq!(&vi.policy[..2], &[0, 0]);
    let qvi = q_value_iteration(&m, 0.9, 1e-13, 10_000).unwrap();
    for (s, a, want) in [(0, 0, 10.0), (0, 1, 9.0), (1, 0, 10.0), (1, 1, 9.0)] {
        assert!((qvi.q.get(s, a) - want).abs() < 1e-10, "Q({s},{a})");
    }
    assert!(q_bellman_residual(&m, &qvi.q, 0.9) < 1e-10);
    assert!(bellman_residual(&m, &vi.v, 0.9) < 1e-10);
}

#[test]
fn stochastic_mdp_by_hand() {
    // γ = 0.5: V1* = 1, V0* = max(½·2 + ½·½·1, 0.5 + ½·1) = 1.25.
    let m = risky();
    let want_q = [(0, 0, 1.25), (0, 1, 1.0), (1, 0, 1.0), (1, 1, 0.625)];
    let vi = value_iteration(&m, 0.5, 1e-14, 10_000).unwrap();
    assert!((vi.v[0] - 1.25).abs() < 1e-12 && (vi.v[1] - 1.0).abs() < 1e-12);
    let pi = policy_iteration(&m, 0.5, EvaluationMethod::Exact, 100, None).unwrap();
    assert!(pi.stable);
    assert_eq!(&pi.policy[..2], &[0, 0]);
    let qvi = q_value_iteration(&m, 0.5, 1e-14, 10_000).unwrap();
    let qv = q_from_v(&m, &pi.v, 0.5);
    for (s, a, want) in want_q {
        assert!((qvi.q.get(s, a) - want).abs() < 1e-12);
        assert!((qv.get(s, a) - want).abs() < 1e-12);
        assert!((pi.q.get(s, a) - want).abs() < 1e-12);
    }
    // A stochastic policy: ½/½ in s0, a0 in s1: V1 = 1, V0 = ½(1 + ¼) + ½(0.5 + 0.5).
    let p = Policy::from_probs(vec![0.5, 0.5, 1.0, 0.0, 1.0, 0.0], 2).unwrap();
    let v = policy_evaluation_direct(&m, &p, 0.5).unwrap();
    assert!((v[0] - 1.125).abs() < 1e-12 && (v[1] - 1.0).abs() < 1e-12);
    assert!(bellman_expectation_residual(&m, &p, &v, 0.5) < 1e-12);
    assert!((start_value(&m, &v) - 1.125).abs() < 1e-12);
    // Policy iteration with iterative evaluation agrees.
    let pii = policy_iteration(
        &m,
        0.5,
        EvaluationMethod::Iterative {
            tol: 1e-13,
            max_sweeps: 10_000,
        },
        100,
        None,
    )
    .unwrap();
    assert_eq!(pii.policy, pi.policy);
}

#[test]
fn deterministic_frozen_lake_and_cliff_walk_have_closed_form_values() {
    let g = grid("frozen-lake-4x4", 0.0);
    let m = g.model();
    let gamma = 0.99;
    let opt = solve_optimal(m, gamma).unwrap();
    // Six moves to the goal, reward 1 on the sixth.
    assert!(
        (opt.start_value - gamma.powi(5)).abs() < 1e-12,
        "{}",
        opt.start_value
    );
    assert!(bellman_residual(m, &opt.v, gamma) < 1e-10);

    let c = grid("cliff-walk", 0.0);
    let cm = c.model();
    let opt = solve_optimal(cm, gamma).unwrap();
    // Up, eleven right, down: 13 steps of -1 (the goal's reward is -1 too).
    let want: f64 = -(0..13).map(|k| gamma.powi(k)).sum::<f64>();
    assert!(
        (opt.start_value - want).abs() < 1e-10,
        "{} vs {want}",
        opt.start_value
    );
}

#[test]
fn slippery_frozen_lake_matches_the_published_value() {
    // Value iteration on Gymnasium's FrozenLake-v1 with γ = 0.99 gives V*(0) ≈ 0.542.
    let g = grid("frozen-lake-4x4", 2.0 / 3.0);
    let m = g.model();
    let vi = value_iteration(m, 0.99, 1e-12, 100_000).unwrap();
    assert!((vi.v[0] - 0.542).abs() < 1e-3, "{}", vi.v[0]);
    // Policy iteration, value iteration and the direct solve of the greedy policy agree.
    let pi = policy_iteration(m, 0.99, EvaluationMethod::Exact, 1000, None).unwrap();
    assert!(pi.stable);
    let greedy = Policy::deterministic(&vi.policy, 4).unwrap();
    let exact = policy_evaluation_direct(m, &greedy, 0.99).unwrap();
    for s in 0..m.num_states() {
        assert!((pi.v[s] - vi.v[s]).abs() < 1e-8);
        assert!((exact[s] - pi.v[s]).abs() < 1e-8);
    }
    // V^π of the uniform policy satisfies its Bellman equation to 1e-10.
    let u = Policy::uniform(m.num_states(), 4);
    let vu = policy_evaluation_direct(m, &u, 0.99).unwrap();
    assert!(bellman_expectation_residual(m, &u, &vu, 0.99) < 1e-10);
    let it = policy_evaluation(m, &u, 0.99, 1e-12, 1_000_000).unwrap();
    assert!(bellman_expectation_residual(m, &u, &it.v, 0.99) < 1e-10);
    for s in 0..m.num_states() {
        assert!((it.v[s] - vu[s]).abs() < 1e-9);
    }
}

#[test]
fn a_policy_that_never_ends_has_no_undiscounted_value() {
    let m = chain();
    let stay = Policy::deterministic(&[1, 1, 0], 2).unwrap();
    let err = policy_evaluation_direct(&m, &stay, 1.0).unwrap_err();
    assert!(matches!(err, RlError::Singular(_)), "{err}");
    // With γ < 1 it is fine: the value is 0.
    let v = policy_evaluation_direct(&m, &stay, 0.9).unwrap();
    assert!(v.iter().all(|x| x.abs() < 1e-12));
}

#[test]
fn malformed_models_and_policies_are_refused() {
    let mut m = chain();
    m.trans[0][0] = vec![t(0.7, 1, 0.0, false)];
    let err = value_iteration(&m, 0.9, 1e-9, 10).unwrap_err();
    assert!(err.to_string().contains("sum to 0.7"), "{err}");
    let m = chain();
    assert!(Policy::deterministic(&[0, 5, 0], 2).is_err());
    assert!(Policy::from_probs(vec![0.5, 0.4, 1.0, 0.0, 1.0, 0.0], 2).is_err());
    let small = Policy::uniform(2, 2);
    assert!(policy_evaluation_direct(&m, &small, 0.9).is_err());
    assert!(value_iteration(&m, 1.5, 1e-9, 10).is_err());
}

#[test]
fn registered_solvers_reach_the_optimum_on_a_gridworld() {
    let env = spec("gridworld", &[("map", "frozen-lake-4x4".into())]);
    for algo in ["value-iteration", "policy-iteration"] {
        let mut a = build(algo, &[("tolerance", 1e-12.into())], &env, 0);
        train_all(a.as_mut());
        let m = a.evaluate(None).unwrap();
        assert!(m["value_gap"].abs() < 1e-8, "{algo}: {m:?}");
        assert!(m["bellman_residual"] < 1e-9, "{algo}: {m:?}");
        assert!((m["start_value"] - 0.542).abs() < 1e-3, "{algo}: {m:?}");
        assert_eq!(m["converged"], 1.0);
    }
    // Policy evaluation of the uniform policy, by sweeps and directly.
    let mut it = build("policy-evaluation", &[("tolerance", 1e-12.into())], &env, 0);
    train_all(it.as_mut());
    let mut direct = build("policy-evaluation", &[("method", "direct".into())], &env, 0);
    train_all(direct.as_mut());
    assert_eq!(direct.steps_done(), direct.total_steps());
    let (mi, md) = (it.evaluate(None).unwrap(), direct.evaluate(None).unwrap());
    assert!((mi["start_value"] - md["start_value"]).abs() < 1e-9);
    assert!(md["bellman_residual"] < 1e-10);
    // The uniform policy is far from optimal, its greedy improvement much closer.
    assert!(md["start_value"] < 0.1 && md["value_gap"] >= 0.0);
}

#[test]
fn solver_checkpoints_resume_exactly() {
    let env = spec("gridworld", &[("map", "cliff-walk".into())]);
    let mut a = build("value-iteration", &[], &env, 0);
    let mut b = build("value-iteration", &[], &env, 0);
    common::train_n(a.as_mut(), 40);
    common::train_n(b.as_mut(), 15);
    let bytes = b.save().unwrap();
    let mut c = build("value-iteration", &[], &env, 0);
    c.load(&bytes).unwrap();
    common::train_n(c.as_mut(), 25);
    assert_eq!(a.save().unwrap(), c.save().unwrap());
    // A checkpoint of another solver is refused.
    let mut d = build("policy-iteration", &[], &env, 0);
    assert!(d.load(&bytes).is_err());
}

#[test]
fn solvers_need_a_tabular_model() {
    autodidact_rl::link();
    let env = spec("cartpole", &[]);
    let reg = autodidact_core::Registry::from_inventory().unwrap();
    let entry = reg.algorithm("value-iteration").unwrap();
    let err = match (entry.build)(&(entry.default_config)(), &env, autodidact_core::Seed(0)) {
        Err(e) => e,
        Ok(_) => panic!("value iteration built on CartPole"),
    };
    assert!(err.to_string().contains("tabular model"), "{err}");
}

#[test]
fn a_solver_saved_before_its_first_sweep_loads() {
    let env = spec("gridworld", &[("map", "frozen-lake-4x4".into())]);
    for algo in ["policy-evaluation", "value-iteration", "policy-iteration"] {
        let a = build(algo, &[], &env, 0);
        let mut b = build(algo, &[], &env, 0);
        b.load(&a.save().unwrap()).unwrap();
        assert_eq!(a.save().unwrap(), b.save().unwrap());
    }
}

/// A gridworld from map text, with its slip probability overridden.
fn grid_text(text: &str, slip: f64) -> autodidact_envs::gridworld::Gridworld {
    use autodidact_envs::gridworld::{GridMap, GridOptions, Gridworld};
    let map = GridMap::parse(text).unwrap();
    let mut opts = GridOptions::from_map(&map);
    opts.slip = slip;
    Gridworld::new(map, opts, autodidact_core::Seed(0)).unwrap()
}

#[test]
fn ordered_value_iteration_matches_policy_iteration_on_the_builtin_maps() {
    use autodidact_rl::dp::{value_iteration_ordered, LARGE_SOLVE_TOL};
    for name in [
        "frozen-lake-4x4",
        "frozen-lake-8x8",
        "four-rooms",
        "cliff-walk",
    ] {
        for slip in [0.0, 0.2, 2.0 / 3.0] {
            let g = grid(name, slip);
            let m = g.model();
            let pi = policy_iteration(m, 0.99, EvaluationMethod::Exact, 10_000, None).unwrap();
            assert!(pi.stable, "{name} {slip}");
            let vi = value_iteration_ordered(m, 0.99, LARGE_SOLVE_TOL, 100_000, &mut |_, _| true)
                .unwrap();
            assert!(vi.converged, "{name} {slip}");
            for s in 0..m.num_states() {
                assert!(
                    (vi.v[s] - pi.v[s]).abs() < LARGE_SOLVE_TOL,
                    "{name} slip {slip} state {s}: {} vs {}",
                    vi.v[s],
                    pi.v[s]
                );
            }
        }
    }
}

#[test]
fn ordered_sweeps_can_be_interrupted() {
    use autodidact_rl::dp::value_iteration_ordered;
    let g = grid("four-rooms", 0.2);
    let mut calls = 0;
    let vi = value_iteration_ordered(g.model(), 0.99, 1e-12, 100_000, &mut |_, _| {
        calls += 1;
        false
    })
    .unwrap();
    assert_eq!((vi.sweeps, calls), (1, 1));
    assert!(!vi.converged);
}

#[test]
fn a_corridor_beyond_the_direct_solve_limit_is_solved_by_ordered_sweeps() {
    use autodidact_rl::dp::DIRECT_SOLVE_MAX_STATES;
    use autodidact_rl::evaluate::tabular_metrics;
    // One row of 5,000 cells, start at the left end, goal (+1) at the right: the old solver
    // (synchronous sweeps, then policy iteration evaluated by sweeps) took minutes here.
    let len = 5_000;
    let text = format!("S{}G\n", ".".repeat(len - 2));
    let g = grid_text(&text, 0.0);
    let m = g.model();
    assert!(m.num_states() > DIRECT_SOLVE_MAX_STATES);
    let gamma: f64 = 0.999;
    let opt = solve_optimal(m, gamma).unwrap();
    let want = gamma.powi(len as i32 - 2);
    assert!(
        (opt.start_value - want).abs() < 1e-9,
        "{} vs {want}",
        opt.start_value
    );
    // The optimal policy has no gap; evaluated only where it goes from the start.
    let known = vec![true; m.num_states()];
    let metrics = tabular_metrics(m, &opt, gamma, &opt.q, &known, &opt.policy).unwrap();
    assert!(metrics["value_gap"].abs() < 1e-9, "{metrics:?}");
    assert!(metrics["q_error"] == 0.0);
    // A policy that walks into the left wall forever is worth 0 (no step reward here).
    let stuck = vec![opt.policy[0] ^ 1; m.num_states()];
    let metrics = tabular_metrics(m, &opt, gamma, &opt.q, &known, &stuck).unwrap();
    assert!((metrics["policy_start_value"]).abs() < 1e-12, "{metrics:?}");
}

#[test]
fn ordered_sweeps_solve_a_deterministic_snake_between_lava_in_two_sweeps() {
    use autodidact_rl::dp::{value_iteration_ordered, LARGE_SOLVE_TOL};
    // Ten corridors joined at alternate ends, lava between them: every cell can end an
    // episode in lava, but the order must follow the way to the goal, or each bend of the
    // snake costs another sweep.
    let width = 20;
    let mut rows = Vec::new();
    for i in 0..10 {
        rows.push(".".repeat(width));
        if i < 9 {
            let lava = "L".repeat(width - 1);
            rows.push(if i % 2 == 0 {
                format!("{lava}.")
            } else {
                format!(".{lava}")
            });
        }
    }
    rows[0].replace_range(0..1, "S");
    let last = rows.len() - 1;
    rows[last].replace_range(0..1, "G");
    let g = grid_text(&(rows.join("\n") + "\n"), 0.0);
    let m = g.model();
    let vi = value_iteration_ordered(m, 0.99, LARGE_SOLVE_TOL, 1_000, &mut |_, _| true).unwrap();
    assert!(vi.converged);
    assert!(vi.sweeps <= 2, "{} sweeps", vi.sweeps);
    let pi = policy_iteration(m, 0.99, EvaluationMethod::Exact, 10_000, None).unwrap();
    for s in 0..m.num_states() {
        assert!((vi.v[s] - pi.v[s]).abs() < LARGE_SOLVE_TOL);
    }
}
