//! The RL results of issue 8: steps Q-learning and DQN need to reach the optimal policy on
//! the gridworlds, and DQN on CartPole-v1 with rl-baselines3-zoo's hyperparameters.
//!
//! ```text
//! cargo run --release -p autodidact-rl --example rl_results -- gridworlds [--seeds 3]
//! cargo run --release -p autodidact-rl --example rl_results -- cartpole [--seeds 5]
//! cargo run --release -p autodidact-rl --example rl_results -- speed [--steps 50000] [--seed 0]
//! cargo run --release -p autodidact-rl --example rl_results -- all
//! ```
//!
//! `speed` trains one CartPole run without evaluation and prints one JSON line (used by
//! `bench/rl/run_sb3_cartpole.sh` for the side-by-side comparison with Stable-Baselines3).
//!
//! Why this driver is not a sweep yet: the final columns of its tables are reproduced by
//! `bench/rl/run_results.sh` (`autodidact sweep` + `compare`), but "steps to reach the optimal
//! policy" and "first evaluation ≥ 475" need evaluations *during* training (every 1/200 of the
//! budget, every 2,500 steps), which the RL algorithms do not log and the runner does not run;
//! and `speed` measures CPU seconds inside the process for the Stable-Baselines3 comparison.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use autodidact_core::{Algorithm, Seed};
use autodidact_envs::gridworld::{builtin, GridMap, GridOptions, Gridworld};
use autodidact_envs::{CartPole, CartPoleParams};
use autodidact_rl::evaluate::gridworld_observations;
use autodidact_rl::{Dqn, DqnParams, QLearningParams, TabularAgent};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cartpole_env(seed: u64) -> Box<CartPole> {
    Box::new(CartPole::from_params(&CartPoleParams::default(), Seed(seed).derive("env")).unwrap())
}

/// One rl-zoo CartPole run: evaluations every `eval_every` steps (not timed).
fn cartpole_run(seed: u64, eval_every: u64) -> (Option<u64>, f64, f64, Vec<(u64, f64)>) {
    let p = DqnParams {
        eval_episodes: 10,
        ..DqnParams::rl_zoo_cartpole()
    };
    let total = p.total_steps;
    let mut a = Dqn::new(p, cartpole_env(seed), "cartpole", Seed(seed)).unwrap();
    let mut train_secs = 0.0;
    let mut first = None;
    let mut curve = Vec::new();
    let mut last = 0.0;
    while a.steps_done() < total {
        let t = Instant::now();
        for _ in 0..eval_every.min(total - a.steps_done()) {
            a.train_step().unwrap();
        }
        train_secs += t.elapsed().as_secs_f64();
        let m = a.evaluate(None).unwrap();
        last = m["eval_return_mean"];
        curve.push((a.steps_done(), last));
        if first.is_none() && last >= 475.0 {
            first = Some(a.steps_done());
        }
    }
    (first, last, total as f64 / train_secs, curve)
}

fn cartpole(seeds: u64) {
    println!("## DQN on CartPole-v1, rl-baselines3-zoo hyperparameters, 50,000 steps");
    println!("(evaluation: 10 greedy episodes every 2,500 steps; steps/s counts training only)\n");
    println!("| seed | first eval ≥ 475 at step | final eval return | env steps/s |");
    println!("| --- | --- | --- | --- |");
    let mut solved = 0;
    let mut speeds = Vec::new();
    for seed in 0..seeds {
        let (first, last, sps, curve) = cartpole_run(seed, 2500);
        if first.is_some() {
            solved += 1;
        }
        speeds.push(sps);
        println!(
            "| {seed} | {} | {last:.1} | {sps:.0} |",
            first.map_or("not reached".to_string(), |s| s.to_string())
        );
        eprintln!("seed {seed} curve: {curve:?}");
    }
    let mean = speeds.iter().sum::<f64>() / speeds.len() as f64;
    println!("\nseeds reaching ≥ 475 within 50,000 steps: {solved} of {seeds}; mean training speed {mean:.0} env steps/s\n");
}

/// CPU seconds this process has used (all threads), from `/proc/self/stat` (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    // After the command name: field 3 (state) is token 0, so utime (14) and stime (15) are
    // tokens 11 and 12, in clock ticks (100 per second).
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

fn speed(steps: u64, seed: u64, threads: usize) {
    let p = DqnParams {
        total_steps: steps,
        threads,
        ..DqnParams::rl_zoo_cartpole()
    };
    let mut a = Dqn::new(p, cartpole_env(seed), "cartpole", Seed(seed)).unwrap();
    let (t, cpu0) = (Instant::now(), cpu_seconds());
    while a.steps_done() < steps {
        a.train_step().unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let m = a.evaluate(None).unwrap();
    println!(
        "{{\"impl\": \"autodidact\", \"threads\": {threads}, \"steps\": {steps}, \"seconds\": {secs:.3}, \"cpu_seconds\": {cpu:.2}, \"steps_per_second\": {:.1}, \"eval_return_mean\": {:.1}, \"gradient_steps\": {}}}",
        steps as f64 / secs,
        m["eval_return_mean"],
        a.gradient_steps()
    );
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    match what.as_str() {
        "cartpole" => cartpole(arg("--seeds", 5)),
        "speed" => speed(
            arg("--steps", 50_000),
            arg("--seed", 0),
            arg("--threads", 2) as usize,
        ),
        "gridworlds" => gridworlds(arg("--seeds", 3)),
        "all" => {
            gridworlds(arg("--seeds", 3));
            cartpole(arg("--seeds", 5));
        }
        other => eprintln!("unknown command `{other}`: gridworlds, cartpole, speed or all"),
    }
}

/// A gridworld setting of the results table.
struct GridCase {
    map: &'static str,
    slip: f64,
    threshold: f64,
    q_budget: u64,
    dqn_budget: u64,
}

const GRID_CASES: &[GridCase] = &[
    GridCase {
        map: "frozen-lake-4x4",
        slip: 0.0,
        threshold: 0.01,
        q_budget: 20_000,
        dqn_budget: 20_000,
    },
    GridCase {
        map: "frozen-lake-4x4",
        slip: 2.0 / 3.0,
        threshold: 0.05,
        q_budget: 200_000,
        dqn_budget: 200_000,
    },
    GridCase {
        map: "frozen-lake-8x8",
        slip: 0.0,
        threshold: 0.01,
        q_budget: 100_000,
        dqn_budget: 100_000,
    },
    GridCase {
        map: "frozen-lake-8x8",
        slip: 2.0 / 3.0,
        threshold: 0.05,
        q_budget: 2_000_000,
        dqn_budget: 1_000_000,
    },
    GridCase {
        map: "four-rooms",
        slip: 0.0,
        threshold: 0.01,
        q_budget: 200_000,
        dqn_budget: 200_000,
    },
    GridCase {
        map: "cliff-walk",
        slip: 0.0,
        threshold: 0.01,
        q_budget: 50_000,
        dqn_budget: 50_000,
    },
];

fn grid_env(map: &str, slip: f64, seed: u64) -> Gridworld {
    let m = GridMap::parse(builtin(map).unwrap().text).unwrap();
    let mut opts = GridOptions::from_map(&m);
    opts.slip = slip;
    Gridworld::new(m, opts, Seed(seed).derive("env")).unwrap()
}

/// The Q-learning settings of the results (the same on every map).
pub fn q_params(budget: u64) -> QLearningParams {
    QLearningParams {
        total_steps: budget,
        learning_rate: 0.5,
        learning_rate_final: 0.05,
        exploration_fraction: 0.5,
        epsilon_end: 0.05,
        ..QLearningParams::default()
    }
}

/// The DQN settings of the results (the same on every map).
pub fn dqn_grid_params(budget: u64) -> DqnParams {
    DqnParams {
        total_steps: budget,
        learning_rate: 1e-3,
        learning_rate_schedule: "linear".into(),
        learning_rate_final: 0.0,
        batch_size: 64,
        buffer_size: 100_000,
        learning_starts: 1000,
        train_freq: 1,
        gradient_steps: 1,
        target_update_interval: 500,
        exploration_fraction: 0.5,
        exploration_final_eps: 0.05,
        double_dqn: true,
        hidden: vec![64, 64],
        ..DqnParams::default()
    }
}

/// An agent whose greedy policy's exact value gap can be computed.
trait Gap: Algorithm {
    fn gap(&mut self) -> f64;
}

impl Gap for Dqn {
    fn gap(&mut self) -> f64 {
        self.tabular_metrics().unwrap().unwrap()["value_gap"]
    }
}

impl Gap for TabularAgent {
    fn gap(&mut self) -> f64 {
        self.tabular_metrics().unwrap().unwrap()["value_gap"]
    }
}

/// Trains to the budget, checking the exact value gap every `every` steps; returns the first
/// step with gap ≤ threshold, the final gap and the training seconds (checks not counted).
fn track(a: &mut dyn Gap, every: u64, threshold: f64) -> (Option<u64>, f64, f64) {
    let mut first = None;
    let mut secs = 0.0;
    let mut last = a.gap();
    while a.steps_done() < a.total_steps() {
        let t = Instant::now();
        for _ in 0..every.min(a.total_steps() - a.steps_done()) {
            a.train_step().unwrap();
        }
        secs += t.elapsed().as_secs_f64();
        last = a.gap();
        if first.is_none() && last <= threshold {
            first = Some(a.steps_done());
        }
    }
    (first, last, secs)
}

fn gridworlds(seeds: u64) {
    println!("## Gridworlds: steps to the optimal policy (exact value gap of the greedy policy)");
    println!("(γ = 0.99; gap checked every 1/200 of the budget; one row per seed set)\n");
    println!("| map | slip | gap ≤ | algorithm | budget | steps to reach, per seed | final gap, per seed | seconds |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let only: Option<String> = std::env::args()
        .position(|a| a == "--map")
        .and_then(|i| std::env::args().nth(i + 1));
    let algos: Option<String> = std::env::args()
        .position(|a| a == "--algo")
        .and_then(|i| std::env::args().nth(i + 1));
    for case in GRID_CASES {
        if only.as_deref().is_some_and(|m| m != case.map) {
            continue;
        }
        for algo in ["q-learning", "dqn"] {
            if algos.as_deref().is_some_and(|a| a != algo) {
                continue;
            }
            let budget = if algo == "dqn" {
                case.dqn_budget
            } else {
                case.q_budget
            };
            let every = (budget / 200).max(1);
            let (mut firsts, mut finals, mut secs) = (Vec::new(), Vec::new(), 0.0);
            for seed in 0..seeds {
                let env = grid_env(case.map, case.slip, seed);
                let (first, last, s) = if algo == "dqn" {
                    let obs = gridworld_observations(&env);
                    let mut a =
                        Dqn::new(dqn_grid_params(budget), Box::new(env), case.map, Seed(seed))
                            .unwrap();
                    a.set_state_observations(obs);
                    track(&mut a, every, case.threshold)
                } else {
                    let mut a = TabularAgent::q_learning(
                        &q_params(budget),
                        Box::new(env),
                        case.map,
                        Seed(seed),
                    )
                    .unwrap();
                    track(&mut a, every, case.threshold)
                };
                firsts.push(first.map_or("—".to_string(), |f| f.to_string()));
                finals.push(format!("{last:.4}"));
                secs += s;
            }
            println!(
                "| {} | {} | {} | {algo} | {budget} | {} | {} | {secs:.1} |",
                case.map,
                if case.slip > 0.0 { "2/3" } else { "0" },
                case.threshold,
                firsts.join(", "),
                finals.join(", "),
            );
        }
    }
    println!();
}
