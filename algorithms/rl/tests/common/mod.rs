// Shared helpers of the integration tests (included with `mod common;`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::{Algorithm, Config, EnvSpec, Registry, Seed, TabularModel, Transition};
use autodidact_envs::gridworld::{builtin, GridMap, GridOptions, Gridworld};

/// A registered environment with some parameters overridden.
pub fn spec(env: &str, overrides: &[(&str, toml::Value)]) -> EnvSpec {
    autodidact_envs::link();
    let reg = Registry::from_inventory().unwrap();
    let entry = reg.env(env).unwrap();
    let mut config = (entry.default_config)();
    for (k, v) in overrides {
        config.insert((*k).to_string(), v.clone());
    }
    EnvSpec { entry, config }
}

/// A registered algorithm built with some hyperparameters overridden.
pub fn build(
    algo: &str,
    overrides: &[(&str, toml::Value)],
    env: &EnvSpec,
    seed: u64,
) -> Box<dyn Algorithm> {
    autodidact_rl::link();
    let reg = Registry::from_inventory().unwrap();
    let entry = reg.algorithm(algo).unwrap();
    let mut config: Config = (entry.default_config)();
    for (k, v) in overrides {
        config.insert((*k).to_string(), v.clone());
    }
    (entry.build)(&config, env, Seed(seed)).unwrap()
}

/// A built-in gridworld with its slip probability overridden.
pub fn grid(name: &str, slip: f64) -> Gridworld {
    let map = GridMap::parse(builtin(name).unwrap().text).unwrap();
    let mut opts = GridOptions::from_map(&map);
    opts.slip = slip;
    Gridworld::new(map, opts, Seed(0)).unwrap()
}

/// A built-in gridworld with its slip probability and time limit overridden.
pub fn grid_with_limit(name: &str, slip: f64, max_steps: usize) -> Gridworld {
    let map = GridMap::parse(builtin(name).unwrap().text).unwrap();
    let mut opts = GridOptions::from_map(&map);
    opts.slip = slip;
    opts.max_steps = max_steps;
    Gridworld::new(map, opts, Seed(0)).unwrap()
}

/// A hand-written MDP: `trans[s][a]` lists the outcomes.
pub struct Table {
    pub trans: Vec<Vec<Vec<Transition>>>,
    pub terminal: Vec<bool>,
    pub init: Vec<(usize, f64)>,
}

impl TabularModel for Table {
    fn num_states(&self) -> usize {
        self.trans.len()
    }
    fn num_actions(&self) -> usize {
        self.trans[0].len()
    }
    fn transitions(&self, s: usize, a: usize) -> &[Transition] {
        &self.trans[s][a]
    }
    fn initial_distribution(&self) -> Vec<(usize, f64)> {
        self.init.clone()
    }
    fn is_terminal(&self, s: usize) -> bool {
        self.terminal[s]
    }
}

pub fn t(prob: f64, next: usize, reward: f64, done: bool) -> Transition {
    Transition {
        prob,
        next,
        reward,
        done,
    }
}

/// Trains a registered algorithm to its end.
pub fn train_all(a: &mut dyn Algorithm) {
    while a.steps_done() < a.total_steps() {
        a.train_step().unwrap();
    }
}

/// Trains `n` steps.
pub fn train_n(a: &mut dyn Algorithm, n: u64) {
    for _ in 0..n {
        a.train_step().unwrap();
    }
}

/// MAML-RL with `p` on a 2D-navigation distribution of the same horizon, seeded `seed`.
pub fn nav(p: autodidact_rl::maml_rl::MamlRlParams, seed: u64) -> autodidact_rl::maml_rl::MamlRl {
    use autodidact_core::Hyperparams;
    let np = autodidact_envs::NavigationParams {
        max_steps: p.horizon,
        ..autodidact_envs::NavigationParams::default()
    };
    let d = autodidact_envs::NavigationGoals::from_params(&np, Seed(seed)).unwrap();
    autodidact_rl::maml_rl::MamlRl::new(
        p.check().unwrap(),
        Box::new(d),
        "navigation-2d",
        Seed(seed),
    )
    .unwrap()
}
