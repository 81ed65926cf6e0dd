#![allow(clippy::unwrap_used, clippy::expect_used)]
//! DQN: replay, n-step returns, prioritisation, the two forward passes, learning, and exact
//! resumption.

use crate::common;

use autodidact_core::Hyperparams as _;
use autodidact_core::{Activation, Algorithm, Init, Params, Seed, Tape, Var};
use autodidact_envs::{CartPole, CartPoleParams};
use autodidact_rl::dqn::{NStep, Priorities, QNetwork, ReplayBuffer, SumTree, Transition};
use autodidact_rl::{Dqn, DqnParams};
use common::{build, grid, spec, train_all, train_n};
use ndarray::Array2;

fn tr(obs: f32, action: usize, reward: f32, done: bool) -> Transition {
    Transition {
        obs: vec![obs, -obs],
        action,
        reward,
        next_obs: vec![obs + 1.0, -obs - 1.0],
        done,
        discount: 0.99,
    }
}

#[test]
fn ring_buffer_overwrites_the_oldest() {
    let mut b = ReplayBuffer::new(3, 2);
    for i in 0..5 {
        b.push(&tr(i as f32, i % 2, i as f32, i == 4));
    }
    assert_eq!(b.len(), 3);
    // Slots 0 and 1 now hold transitions 3 and 4, slot 2 transition 2.
    let batch = b.batch(&[0, 1, 2]);
    assert_eq!(batch.rewards, vec![3.0, 4.0, 2.0]);
    assert_eq!(batch.dones, vec![0.0, 1.0, 0.0]);
    assert_eq!(batch.obs.row(1).to_vec(), vec![4.0, -4.0]);
    assert_eq!(batch.next_obs.row(0).to_vec(), vec![4.0, -4.0]);
    assert_eq!(batch.actions, vec![1, 0, 0]);
    let mut rng = Seed(0).rng("t");
    assert!(b.sample_uniform(100, &mut rng).iter().all(|&i| i < 3));
}

#[test]
fn n_step_returns_by_hand() {
    let mut acc = NStep::new(3, 0.5);
    let mut out = Vec::new();
    let obs = |i: usize| vec![i as f32];
    // Rewards 1, 2, 4, 8; the episode terminates on the fourth step.
    for (i, r) in [1.0, 2.0, 4.0, 8.0].into_iter().enumerate() {
        let term = i == 3;
        acc.push(&obs(i), i, r, &obs(i + 1), term, false, &mut |t| {
            out.push(t)
        });
    }
    assert_eq!(out.len(), 4);
    // From step 0: 1 + ½·2 + ¼·4 = 3, bootstrapping from obs 3 with γ³.
    assert_eq!(
        (out[0].reward, out[0].discount, out[0].done),
        (3.0, 0.125, false)
    );
    assert_eq!(out[0].next_obs, obs(3));
    // From step 1: 2 + ½·4 + ¼·8 = 6, terminal.
    assert_eq!((out[1].reward, out[1].done, out[1].action), (6.0, true, 1));
    assert_eq!((out[2].reward, out[2].discount), (8.0, 0.25));
    assert_eq!(
        (out[3].reward, out[3].discount, out[3].done),
        (8.0, 0.5, true)
    );
    // A truncated episode bootstraps (not done).
    let mut acc = NStep::new(2, 0.5);
    let mut out = Vec::new();
    acc.push(&obs(0), 0, 1.0, &obs(1), false, true, &mut |t| out.push(t));
    assert_eq!(out.len(), 1);
    assert!(!out[0].done && out[0].discount == 0.5);
}

#[test]
fn sum_tree_finds_prefix_sums() {
    let mut t = SumTree::new(5);
    for (i, p) in [1.0, 2.0, 3.0, 4.0, 0.5].into_iter().enumerate() {
        t.set(i, p);
    }
    assert_eq!(t.total(), 10.5);
    assert_eq!(t.min(), 0.5);
    assert_eq!(t.find(0.0), 0);
    assert_eq!(t.find(0.99), 0);
    assert_eq!(t.find(1.0), 1);
    assert_eq!(t.find(5.9), 2);
    assert_eq!(t.find(6.0), 3);
    assert_eq!(t.find(10.2), 4);
    t.set(4, 2.0);
    assert_eq!((t.total(), t.min()), (12.0, 1.0));
}

#[test]
fn prioritised_sampling_is_proportional_with_correct_weights() {
    let mut p = Priorities::new(4, 1.0, 1e-9);
    for s in 0..4 {
        p.insert(s);
    }
    p.update(&[0, 1, 2, 3], &[1.0, 2.0, 3.0, 4.0]);
    let mut rng = Seed(1).rng("per");
    let mut counts = [0usize; 4];
    let draws = 40_000;
    for _ in 0..draws / 8 {
        let (idx, w) = p.sample(8, 4, 0.5, &mut rng);
        for (&i, &wi) in idx.iter().zip(&w) {
            counts[i] += 1;
            // w_i = (N P_i)^-β / max_j (N P_j)^-β = (P_min / P_i)^β.
            let want = ((0.1 / p.probability(i)) as f32).sqrt();
            assert!((wi - want).abs() < 1e-5, "{wi} vs {want}");
        }
    }
    for (i, &c) in counts.iter().enumerate() {
        let f = c as f64 / draws as f64;
        assert!((f - (i + 1) as f64 / 10.0).abs() < 0.01, "slot {i}: {f}");
    }
    // A new transition gets the largest priority seen.
    p.insert(1);
    assert!((p.probability(1) - 4.0 / 12.0).abs() < 1e-9);
}

#[test]
fn tape_and_plain_forward_passes_agree() {
    for dueling in [false, true] {
        let mut params = Params::<f32>::new();
        let mut rng = Seed(4).rng("init");
        let net = QNetwork::new(
            &mut params,
            5,
            &[16, 8],
            3,
            dueling,
            Activation::Tanh,
            Init::KaimingUniform,
            &mut rng,
        );
        let x = Array2::from_shape_fn((7, 5), |(i, j)| ((i * 5 + j) as f32 * 0.37).sin());
        let plain = net.q_values(&params, x.view()).unwrap();
        let tape = Tape::<f32>::new();
        let p = tape.params(&params);
        let taped = net.forward(&p, Var::constant(x.clone().into_dyn())).value();
        assert_eq!(plain.shape(), &[7, 3]);
        for (a, b) in plain.iter().zip(taped.iter()) {
            assert!((a - b).abs() < 1e-5, "dueling {dueling}: {a} vs {b}");
        }
        for i in 0..7 {
            let one = net
                .q_values_one(&params, x.row(i).as_slice().unwrap())
                .unwrap();
            for (a, b) in one.iter().zip(plain.row(i)) {
                assert!((a - b).abs() < 1e-5);
            }
        }
    }
}

fn small_grid_params() -> DqnParams {
    DqnParams {
        total_steps: 4000,
        learning_rate: 1e-3,
        batch_size: 32,
        buffer_size: 10_000,
        learning_starts: 200,
        train_freq: 1,
        gradient_steps: 1,
        target_update_interval: 100,
        exploration_fraction: 0.5,
        hidden: vec![64],
        log_every: 500,
        ..DqnParams::default()
    }
}

#[test]
fn dqn_finds_the_optimal_policy_on_the_deterministic_4x4_map() {
    let g = grid("frozen-lake-4x4", 0.0);
    let mut a = Dqn::new(
        small_grid_params().check().unwrap(),
        Box::new(g),
        "4x4",
        Seed(0),
    )
    .unwrap();
    let gap0 = a.tabular_metrics().unwrap().unwrap()["value_gap"];
    assert!(gap0 > 0.05, "untrained gap {gap0}");
    train_all(&mut a);
    let m = a.evaluate(None).unwrap();
    assert!(m["value_gap"] <= 0.01, "{m:?}");
    assert_eq!(m["success_rate"], 1.0);
    assert_eq!(m["known_states"], 1.0);
    assert!(m["q_error"] < 0.5, "{m:?}");
}

#[test]
fn dqn_variants_learn_too() {
    // Double DQN + dueling + 3-step returns + prioritised replay + Polyak targets.
    let g = grid("frozen-lake-4x4", 0.0);
    let p = DqnParams {
        double_dqn: true,
        dueling: true,
        n_step: 3,
        prioritized: true,
        tau: 0.5,
        target_update_interval: 20,
        loss: autodidact_rl::dqn::hyperparams::LossKind::Mse,
        ..small_grid_params()
    };
    let mut a = Dqn::new(p.check().unwrap(), Box::new(g), "4x4", Seed(1)).unwrap();
    train_all(&mut a);
    let m = a.evaluate(None).unwrap();
    assert!(m["value_gap"] <= 0.01, "{m:?}");
}

#[test]
fn time_limit_truncation_is_not_terminal() {
    // CartPole cut after 5 steps: no episode terminates, every one is truncated.
    let env = CartPole::from_params(
        &CartPoleParams {
            max_steps: 5,
            ..CartPoleParams::default()
        },
        Seed(0),
    )
    .unwrap();
    let p = DqnParams {
        total_steps: 200,
        learning_starts: 1000,
        ..DqnParams::default()
    };
    let mut a = Dqn::new(p.check().unwrap(), Box::new(env), "cartpole", Seed(0)).unwrap();
    train_all(&mut a);
    let b = a.buffer();
    assert_eq!(b.len(), 200);
    assert!((0..200).all(|i| !b.done(i)));
    // Within an episode the next observation is the following step's; at the cut it is the
    // true final observation, not the next episode's first, and it is still discounted.
    for i in 0..199 {
        let next = b.next_obs_of(&[i]);
        let next = next.row(0);
        let follows = next.iter().zip(b.obs(i + 1)).all(|(x, y)| x == y);
        assert_eq!(follows, i % 5 != 4, "slot {i}");
        assert!((b.discount(i) - 0.99).abs() < 1e-6);
    }
    // On a gridworld, falling into a hole is terminal.
    let g = grid("frozen-lake-4x4", 0.0);
    let p = DqnParams {
        total_steps: 500,
        learning_starts: 1000,
        ..DqnParams::default()
    };
    let mut a = Dqn::new(p.check().unwrap(), Box::new(g), "4x4", Seed(0)).unwrap();
    train_all(&mut a);
    let b = a.buffer();
    let ended: Vec<usize> = (0..b.len()).filter(|&i| b.done(i)).collect();
    assert!(!ended.is_empty());
    assert!(ended
        .iter()
        .all(|&i| b.reward(i) == 0.0 || b.reward(i) == 1.0));
}

#[test]
fn exploration_follows_stable_baselines3() {
    let p = DqnParams::rl_zoo_cartpole();
    let mut a = Dqn::new(
        p.check().unwrap(),
        Box::new(CartPole::with_seed(Seed(0))),
        "cartpole",
        Seed(0),
    )
    .unwrap();
    assert_eq!(a.epsilon(), 1.0);
    train_n(&mut a, 4000);
    // Linear from 1 to 0.04 over the first 16 % of 50,000 steps: halfway at 4,000.
    assert!((a.epsilon() - 0.52).abs() < 1e-12);
    // Training starts after 1,000 steps, every 256 steps, 128 gradient steps each:
    // rounds at 1024, 1280, …, 3840 (12 rounds).
    assert_eq!(a.gradient_steps(), 12 * 128);
    // The target network is a copy of the online one taken at step 4000 (a multiple of 10),
    // after the last round at 3840.
    assert_eq!(a.target_params(), a.online_params());
}

fn assert_resumes(env: &autodidact_core::EnvSpec, cfg: &[(&str, toml::Value)], n: u64, k: u64) {
    let mut a = build("dqn", cfg, env, 9);
    train_n(a.as_mut(), n);
    let mut b = build("dqn", cfg, env, 9);
    train_n(b.as_mut(), k);
    let bytes = b.save().unwrap();
    let mut c = build("dqn", cfg, env, 9);
    c.load(&bytes).unwrap();
    let (mut lb, mut lc) = (Vec::new(), Vec::new());
    for _ in k..n {
        lb.push(b.train_step().unwrap());
        lc.push(c.train_step().unwrap());
    }
    assert_eq!(lb, lc);
    assert_eq!(a.save().unwrap(), c.save().unwrap());
    assert_eq!(a.evaluate(None).unwrap(), c.evaluate(None).unwrap());
}

#[test]
fn dqn_checkpoints_resume_bit_for_bit() {
    let grid_env = spec("gridworld", &[("map", "frozen-lake-4x4".into())]);
    let base: Vec<(&str, toml::Value)> = vec![
        ("total_steps", 1000.into()),
        ("learning_starts", 50.into()),
        ("hidden", toml::Value::Array(vec![32.into()])),
        ("target_update_interval", 30.into()),
        ("log_every", 25.into()),
        ("eval_episodes", 3.into()),
    ];
    assert_resumes(&grid_env, &base, 600, 257);
    let mut all = base.clone();
    all.extend([
        ("double_dqn", true.into()),
        ("dueling", true.into()),
        ("n_step", 3.into()),
        ("prioritized", true.into()),
        ("tau", 0.3.into()),
        ("optimizer", "rmsprop".into()),
    ]);
    assert_resumes(&grid_env, &all, 600, 311);
    // CartPole with rl-zoo's structure, scaled down: rounds of 8 gradient steps every 16.
    let cart = spec("cartpole", &[]);
    let zoo: Vec<(&str, toml::Value)> = vec![
        ("total_steps", 2000.into()),
        ("learning_starts", 100.into()),
        ("train_freq", 16.into()),
        ("gradient_steps", 8.into()),
        ("target_update_interval", 10.into()),
        ("batch_size", 16.into()),
        ("log_every", 50.into()),
        ("eval_episodes", 2.into()),
    ];
    assert_resumes(&cart, &zoo, 500, 203);
}

#[test]
fn dqn_refuses_continuous_actions_and_foreign_checkpoints() {
    let grid_env = spec("gridworld", &[("map", "frozen-lake-4x4".into())]);
    let mut a = build("dqn", &[("learning_starts", 10.into())], &grid_env, 0);
    train_n(a.as_mut(), 20);
    let cart = spec("cartpole", &[]);
    let mut b = build("dqn", &[], &cart, 0);
    assert!(b.load(&a.save().unwrap()).is_err());
    let mut c = build(
        "dqn",
        &[("hidden", toml::Value::Array(vec![8.into()]))],
        &grid_env,
        0,
    );
    assert!(c.load(&a.save().unwrap()).is_err());
}

#[test]
fn row_blocks_give_the_same_bits_on_any_number_of_threads() {
    use autodidact_rl::dqn::{td, Shards, TdLoss, TdRows};
    let mut params = Params::<f32>::new();
    let net = QNetwork::new(
        &mut params,
        4,
        &[32, 32],
        3,
        true,
        Activation::Relu,
        Init::TorchDefault,
        &mut Seed(2).rng("init"),
    );
    // 150 rows: three gradient blocks of 50; 1300 rows: three target blocks.
    let n = 150;
    let obs = Array2::from_shape_fn((n, 4), |(i, j)| ((i * 4 + j) as f32 * 0.61).cos());
    let actions: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let targets: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).sin() * 2.0).collect();
    let weights: Vec<f32> = (0..n).map(|i| 0.5 + (i % 4) as f32 * 0.25).collect();
    let rows = TdRows {
        obs: obs.view(),
        actions: &actions,
        targets: &targets,
        weights: Some(&weights),
    };
    let one = Shards::new(1).unwrap();
    let three = Shards::new(3).unwrap();
    assert_eq!(three.threads(), 3);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for loss in [TdLoss::Huber(1.0), TdLoss::Mse] {
        let a = one.gradient(&net, &params, rows, loss);
        let b = three.gradient(&net, &params, rows, loss);
        assert_eq!(a.loss.to_bits(), b.loss.to_bits());
        assert_eq!(a.q_sum.to_bits(), b.q_sum.to_bits());
        assert_eq!(bits(&a.td), bits(&b.td));
        assert_eq!(a.td.len(), n);
        for (ga, gb) in a.grads.iter().zip(&b.grads) {
            assert_eq!(bits(ga.as_slice().unwrap()), bits(gb.as_slice().unwrap()));
        }
        // And the blocks add up to the whole minibatch in one pass, up to rounding.
        let whole = td::td_gradient(&net, &params, rows, 1.0 / n as f64, loss);
        assert!((a.loss - whole.loss).abs() < 1e-5 * (1.0 + whole.loss.abs()));
        for (x, y) in a.td.iter().zip(&whole.td) {
            assert!((x - y).abs() < 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
        }
        for (ga, gw) in a.grads.iter().zip(&whole.grads) {
            for (x, y) in ga.iter().zip(gw.iter()) {
                assert!((x - y).abs() < 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
            }
        }
    }
    let next = Array2::from_shape_fn((1300, 4), |(i, j)| ((i * 7 + j) as f32 * 0.13).sin());
    for online in [None, Some(&params)] {
        let t1 = one.bootstrap(&net, &params, online, next.view()).unwrap();
        let t3 = three.bootstrap(&net, &params, online, next.view()).unwrap();
        assert_eq!(bits(&t1), bits(&t3));
        assert_eq!(t1.len(), 1300);
    }
}

#[test]
fn the_thread_count_never_changes_a_run() {
    // Minibatches of 96 rows (two gradient blocks) and rounds of 24 of them (over 512
    // distinct slots of 600+ once training starts: two target blocks), with and without
    // Double DQN and prioritised replay.
    let grid_env = spec("gridworld", &[("map", "frozen-lake-4x4".into())]);
    let cart = spec("cartpole", &[]);
    let base: Vec<(&str, toml::Value)> = vec![
        ("total_steps", 800.into()),
        ("learning_starts", 600.into()),
        ("batch_size", 96.into()),
        ("train_freq", 50.into()),
        ("gradient_steps", 24.into()),
        ("hidden", toml::Value::Array(vec![32.into()])),
        ("target_update_interval", 30.into()),
        ("log_every", 50.into()),
        ("eval_episodes", 2.into()),
    ];
    let mut variant = base.clone();
    variant.extend([("double_dqn", true.into()), ("prioritized", true.into())]);
    for (env, cfg) in [(&grid_env, &base), (&cart, &base), (&grid_env, &variant)] {
        let run = |threads: i64| {
            let mut cfg = cfg.clone();
            cfg.push(("threads", threads.into()));
            let mut a = build("dqn", &cfg, env, 5);
            let logs: Vec<_> = (0..800).map(|_| a.train_step().unwrap()).collect();
            (logs, a.save().unwrap(), a.evaluate(None).unwrap())
        };
        let (l1, b1, e1) = run(1);
        let (l2, b2, e2) = run(2);
        assert!(l1.iter().any(|m| m.contains_key("loss")));
        // Whole logs are long: report which part differs, not the values.
        assert!(l1 == l2, "training logs differ");
        assert!(e1 == e2, "evaluations differ: {e1:?} vs {e2:?}");
        assert!(b1 == b2, "checkpoints differ");
    }
}

#[test]
fn two_threads_learn_and_resume_exactly() {
    let g = grid("frozen-lake-4x4", 0.0);
    let p = DqnParams {
        threads: 2,
        ..small_grid_params()
    };
    let mut a = Dqn::new(p.check().unwrap(), Box::new(g), "4x4", Seed(0)).unwrap();
    train_all(&mut a);
    assert!(a.evaluate(None).unwrap()["value_gap"] <= 0.01);
    let grid_env = spec("gridworld", &[("map", "frozen-lake-4x4".into())]);
    let cfg: Vec<(&str, toml::Value)> = vec![
        ("learning_starts", 50.into()),
        ("hidden", toml::Value::Array(vec![32.into()])),
        ("threads", 2.into()),
        ("learning_rate_schedule", "linear".into()),
        ("total_steps", 700.into()),
    ];
    assert_resumes(&grid_env, &cfg, 500, 222);
}

#[test]
fn linear_learning_rate_decays_to_its_final_value() {
    let p = DqnParams {
        total_steps: 100,
        learning_rate: 1e-3,
        learning_rate_schedule: autodidact_rl::dqn::hyperparams::LrSchedule::Linear,
        learning_rate_final: 1e-4,
        learning_starts: 1000,
        ..DqnParams::default()
    };
    let mut a = Dqn::new(
        p.check().unwrap(),
        Box::new(grid("frozen-lake-4x4", 0.0)),
        "4x4",
        Seed(0),
    )
    .unwrap();
    assert!((a.learning_rate() - 1e-3).abs() < 1e-15);
    train_n(&mut a, 50);
    assert!((a.learning_rate() - 5.5e-4).abs() < 1e-12);
    train_all(&mut a);
    assert!((a.learning_rate() - 1e-4).abs() < 1e-15);
}

#[test]
fn a_q_network_or_buffer_that_cannot_fit_is_refused_naming_the_key() {
    if autodidact_core::memory::available_bytes().is_none() {
        eprintln!("skipped: this system does not report its available memory");
        return;
    }
    let huge_net = DqnParams {
        hidden: vec![65_536, 65_536, 65_536],
        ..DqnParams::default()
    };
    let err = Dqn::new(
        huge_net.check().unwrap(),
        Box::new(CartPole::new()),
        "cartpole",
        Seed(0),
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        err.contains("`hidden`") && err.contains("available"),
        "{err}"
    );
}
