//! The policy-gradient results of `docs/rl.md`: one training run with periodic deterministic
//! evaluations, printed as JSON lines (one per evaluation, then a summary).
//!
//! ```text
//! cargo run --release -p autodidact-rl --example pg_results -- SETTING [--seed S] [--steps N] [--eval-every K]
//! ```
//!
//! Settings: `ppo-cartpole`, `a2c-cartpole` (rl-baselines3-zoo's tuned values),
//! `ppo-pendulum` (the zoo's PPO values without gSDE), `ppo-frozen-lake`, `ppo-four-rooms`
//! (the gridworld configuration in `docs/rl.md`). The same runs through the runner:
//! `autodidact run ppo --env cartpole --config bench/rl/ppo-cartpole-zoo.toml`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use autodidact_core::Hyperparams as _;
use autodidact_core::{Algorithm, Environment, Seed};
use autodidact_envs::{CartPole, Gridworld, GridworldParams, Pendulum};
use autodidact_rl::pg::{Method, PgAgent, PgParams};

fn arg(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

/// PPO on the gridworlds: 8 copies × 128 steps, minibatches of 256, 10 epochs, lr 1e-3,
/// entropy 0.01, γ 0.99, λ 0.95, one-hot observations, [64, 64] tanh.
pub fn ppo_gridworld() -> PgParams {
    PgParams {
        total_steps: 200_000,
        n_envs: 8,
        n_steps: 128,
        batch_size: 256,
        n_epochs: 10,
        learning_rate: 1e-3,
        ent_coef: 0.01,
        gamma: 0.99,
        gae_lambda: 0.95,
        log_every: 10_240,
        eval_episodes: 100,
        ..PgParams::ppo()
    }
}

fn gridworld(map: &str, seed: Seed) -> Box<dyn Environment> {
    let p = GridworldParams {
        map: map.into(),
        ..GridworldParams::default()
    };
    Box::new(Gridworld::from_params(&p, seed).unwrap())
}

fn main() {
    let setting = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ppo-cartpole".into());
    let seed = arg("--seed").unwrap_or(0);
    let s = Seed(seed).derive("env");
    let (method, p, env, default_every): (Method, PgParams, Box<dyn Environment>, u64) =
        match setting.as_str() {
            "ppo-cartpole" => (
                Method::Ppo,
                PgParams::ppo_zoo_cartpole(),
                Box::new(CartPole::with_seed(s)),
                5_120,
            ),
            "a2c-cartpole" => (
                Method::A2c,
                PgParams::a2c_zoo_cartpole(),
                Box::new(CartPole::with_seed(s)),
                25_000,
            ),
            "ppo-pendulum" => (
                Method::Ppo,
                PgParams::ppo_zoo_pendulum(),
                Box::new(Pendulum::with_seed(s)),
                8_192,
            ),
            "ppo-frozen-lake" => (
                Method::Ppo,
                ppo_gridworld(),
                gridworld("frozen-lake-4x4", s),
                10_240,
            ),
            "ppo-four-rooms" => (
                Method::Ppo,
                ppo_gridworld(),
                gridworld("four-rooms", s),
                10_240,
            ),
            other => panic!("unknown setting {other}"),
        };
    let steps = arg("--steps").unwrap_or(p.total_steps);
    let every = arg("--eval-every").unwrap_or(default_every);
    let p = PgParams {
        total_steps: steps,
        ..p
    };
    let mut a = PgAgent::new(method, p.check().unwrap(), env, &setting, Seed(seed)).unwrap();
    let t = Instant::now();
    let mut train = 0.0;
    let mut next = every;
    let mut first_pass: Option<u64> = None;
    let mut last = Default::default();
    while a.steps_done() < steps {
        let t0 = Instant::now();
        a.train_step().unwrap();
        train += t0.elapsed().as_secs_f64();
        if a.steps_done() >= next || a.steps_done() >= steps {
            next += every;
            let m = a.evaluate(None).unwrap();
            let r = m["eval_return_mean"];
            let gap = m.get("value_gap").copied();
            let pass = match setting.as_str() {
                "ppo-cartpole" | "a2c-cartpole" => r >= 475.0,
                "ppo-pendulum" => r >= -250.0,
                _ => gap.is_some_and(|g| g <= 0.05),
            };
            if pass && first_pass.is_none() {
                first_pass = Some(a.steps_done());
            }
            println!(
                "{{\"setting\": \"{setting}\", \"seed\": {seed}, \"steps\": {}, \"eval_return_mean\": {r:.2}, \"value_gap\": {}, \"elapsed\": {:.1}}}",
                a.steps_done(),
                gap.map_or("null".into(), |g| format!("{g:.4}")),
                t.elapsed().as_secs_f64()
            );
            last = m;
        }
    }
    println!(
        "{{\"setting\": \"{setting}\", \"seed\": {seed}, \"final\": true, \"steps\": {}, \"eval_return_mean\": {:.2}, \"value_gap\": {}, \"first_pass_at\": {}, \"train_seconds\": {train:.1}, \"updates\": {}}}",
        a.steps_done(),
        last["eval_return_mean"],
        last.get("value_gap").map_or("null".into(), |g| format!("{g:.4}")),
        first_pass.map_or("null".into(), |s| s.to_string()),
        a.updates()
    );
}
