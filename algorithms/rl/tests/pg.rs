//! The policy-gradient agents end to end: registration, exact resume, determinism, learning
//! on small problems, and clear refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::{Algorithm, Config, Environment, Hyperparams, Registry, Seed};
use autodidact_envs::{CartPole, Gridworld, Pendulum};
use autodidact_rl::pg::{Decay, Method, PgAgent, PgParams, Squash};

fn agent(method: Method, p: PgParams, env: Box<dyn Environment>, seed: u64) -> PgAgent {
    PgAgent::new(method, p.check().unwrap(), env, "test-env", Seed(seed)).unwrap()
}

fn small_ppo() -> PgParams {
    PgParams {
        total_steps: 3_000,
        n_envs: 3,
        n_steps: 40,
        batch_size: 30,
        n_epochs: 3,
        hidden: vec![16],
        clip_range_vf: 0.3,
        target_kl: 0.05,
        ent_coef: 0.01,
        learning_rate_schedule: Decay::Linear,
        clip_range_schedule: Decay::Linear,
        log_every: 120,
        ..PgParams::ppo()
    }
}

fn run(a: &mut PgAgent, until: u64) -> Vec<(u64, Vec<(String, u64)>)> {
    let mut logs = Vec::new();
    while a.steps_done() < until {
        let m = a.train_step().unwrap();
        if !m.is_empty() {
            logs.push((
                a.steps_done(),
                m.into_iter().map(|(k, v)| (k, v.to_bits())).collect(),
            ));
        }
    }
    logs
}

#[test]
fn registered_and_reachable_through_the_registry() {
    let reg = Registry::from_inventory().unwrap();
    for name in ["reinforce", "a2c", "ppo"] {
        let entry = reg.algorithm(name).unwrap();
        assert_eq!(entry.family, "reinforcement learning");
        let spec = autodidact_core::EnvSpec {
            entry: reg.env("cartpole").unwrap(),
            config: Config::new(),
        };
        let mut alg = (entry.build)(&Config::new(), &spec, Seed(0)).unwrap();
        alg.train_step().unwrap();
        assert!(alg.steps_done() >= 1);
    }
    let spec = autodidact_core::EnvSpec {
        entry: reg.env("pendulum").unwrap(),
        config: Config::new(),
    };
    let bad: Config = toml::from_str("batch_size = 4096\nn_steps = 16").unwrap();
    let err = (reg.algorithm("ppo").unwrap().build)(&bad, &spec, Seed(0))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("batch_size"), "{err}");
    let bad: Config = toml::from_str("squash = \"sigmoid\"").unwrap();
    let err = (reg.algorithm("a2c").unwrap().build)(&bad, &spec, Seed(0))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("`squash`") && err.contains("tanh"), "{err}");
}

#[test]
fn resume_continues_bit_for_bit_mid_rollout() {
    for (method, env) in [
        (
            Method::Ppo,
            Box::new(CartPole::new()) as Box<dyn Environment>,
        ),
        (
            Method::Ppo,
            Box::new(Pendulum::new()) as Box<dyn Environment>,
        ),
        (
            Method::A2c,
            Box::new(CartPole::new()) as Box<dyn Environment>,
        ),
        (
            Method::Reinforce,
            Box::new(CartPole::new()) as Box<dyn Environment>,
        ),
    ] {
        let p = PgParams {
            n_envs: 2,
            episodes_per_update: 2,
            ..small_ppo()
        };
        let mut a = agent(method, p.clone(), env.clone_box(), 7);
        // 301 lockstep steps of 2 copies: in the middle of a rollout and of episodes.
        run(&mut a, 602);
        let bytes = a.save().unwrap();
        let mut b = agent(method, p.clone(), env.clone_box(), 7);
        b.load(&bytes).unwrap();
        let la = run(&mut a, 1_500);
        let lb = run(&mut b, 1_500);
        assert_eq!(la, lb, "{method:?}: logs after resuming");
        assert_eq!(
            a.save().unwrap(),
            b.save().unwrap(),
            "{method:?}: whole state"
        );
        // Another seed's checkpoint cannot be replayed into these copies.
        let mut c = agent(method, p, env.clone_box(), 8);
        assert!(c.load(&bytes).is_err());
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let go = |seed| {
        let mut a = agent(Method::Ppo, small_ppo(), Box::new(Pendulum::new()), seed);
        run(&mut a, 900);
        a.save().unwrap()
    };
    assert_eq!(go(3), go(3));
    assert_ne!(go(3), go(4));
}

#[test]
fn learns_a_small_gridworld_to_the_optimal_policy() {
    // A corridor with a slippery-free goal: the greedy policy must reach it by the shortest
    // path; `value_gap` is exact, from the model.
    let env = Gridworld::from_ascii("S...G\n").unwrap();
    // (method, shared trunk, normalised returns)
    for (method, shared, norm) in [
        (Method::Reinforce, false, false),
        (Method::Reinforce, false, true),
        (Method::A2c, false, false),
        (Method::Ppo, false, false),
        (Method::Ppo, true, false),
    ] {
        let p = PgParams {
            shared_network: shared,
            normalize_returns: norm,
            total_steps: 6_000,
            n_envs: 4,
            n_steps: 16,
            batch_size: 32,
            n_epochs: 4,
            hidden: vec![16],
            learning_rate: 3e-3,
            optimizer: autodidact_rl::dqn::hyperparams::DqnOptimizerKind::Adam,
            episodes_per_update: 4,
            ent_coef: 0.0,
            gamma: 0.9,
            eval_episodes: 3,
            eval_max_steps: 50,
            ..PgParams::ppo()
        };
        let mut a = agent(method, p, Box::new(env.clone()), 1);
        let before = a.evaluate(None).unwrap();
        run(&mut a, 6_000);
        let m = a.evaluate(None).unwrap();
        assert!(
            m["value_gap"] < 1e-9,
            "{method:?} (shared {shared}, normalised {norm}): value gap {} (before training {})",
            m["value_gap"],
            before["value_gap"]
        );
        assert_eq!(m["success_rate"], 1.0);
    }
}

#[test]
fn gaussian_policies_act_within_bounds_and_report_std() {
    for squash in [Squash::Clip, Squash::Tanh] {
        let p = PgParams {
            squash,
            log_std_init: 1.0,
            ..small_ppo()
        };
        let mut a = agent(Method::Ppo, p, Box::new(Pendulum::new()), 2);
        let logs = run(&mut a, 600);
        let (_, m) = logs.last().unwrap();
        let std = m
            .iter()
            .find(|(k, _)| k == "std")
            .map(|(_, v)| f64::from_bits(*v));
        assert!(std.unwrap() > 1.0, "{squash:?}");
        let obs = Pendulum::new().reset(Some(0)).0;
        match a.deterministic_action(&obs).unwrap() {
            autodidact_core::Action::Continuous(v) => assert!(v[0].abs() <= 2.0),
            other => panic!("{other:?}"),
        }
        let m = a.evaluate(None).unwrap();
        assert!(m["eval_return_mean"] < 0.0 && m["eval_length_mean"] == 200.0);
    }
}
