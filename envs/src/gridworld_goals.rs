//! A distribution of gridworlds whose goal moves (meta-RL): one map, the goal placed on an
//! open cell drawn per environment. The open cells are split by the build seed into disjoint
//! train / validation / test goal positions.

use std::sync::Arc;

use autodidact_core::config::check_range;
use autodidact_core::{
    Config, EnvDistribution, EnvInstance, EnvKind, Environment, Hyperparams, Rng, Seed, Split,
};
use rand::seq::SliceRandom;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::error::{EnvsError, Result};
use crate::gridworld::{
    Cell, GridMap, GridModel, GridOptions, Gridworld, GridworldParams, ObservationName,
};

/// Parameters of [`GridworldGoals`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
#[hyperparams(check = GridworldGoalsParams::relations)]
pub struct GridworldGoalsParams {
    /// The map (as for `gridworld`); its goals are removed and one is placed per environment.
    pub map: String,
    /// Probability that a move goes sideways (unset: the map's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slip: Option<f64>,
    /// Reward per ordinary step (unset: the map's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_reward: Option<f64>,
    /// Reward of the goal (unset: the map's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal_reward: Option<f64>,
    /// Time limit (unset: the map's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<usize>,
    /// What the agent observes.
    pub observation: ObservationName,
    /// Radius of the local view.
    #[param(min = 0, max = 16)]
    pub view_radius: usize,
    /// Share of goal cells for meta-training.
    #[param(min = 0, max = 1)]
    pub train_fraction: f64,
    /// Share of goal cells for validation (the rest: test).
    pub validation_fraction: f64,
}

impl Default for GridworldGoalsParams {
    fn default() -> Self {
        GridworldGoalsParams {
            map: "four-rooms".into(),
            slip: None,
            step_reward: None,
            goal_reward: None,
            max_steps: None,
            observation: ObservationName::Coords,
            view_radius: 2,
            train_fraction: 0.6,
            validation_fraction: 0.2,
        }
    }
}

impl GridworldGoalsParams {
    fn as_gridworld(&self) -> GridworldParams {
        GridworldParams {
            map: self.map.clone(),
            slip: self.slip,
            step_reward: self.step_reward,
            goal_reward: self.goal_reward,
            max_steps: self.max_steps,
            observation: self.observation,
            view_radius: self.view_radius,
            ..GridworldParams::default()
        }
    }
}

impl GridworldGoalsParams {
    /// Checks the relations between fields that bounds cannot state.
    fn relations(&self) -> autodidact_core::Result<()> {
        self.as_gridworld().validate()?;
        check_range(
            "validation_fraction",
            self.validation_fraction,
            0.0,
            1.0 - self.train_fraction,
        )?;
        Ok(())
    }
}

/// Gridworlds with a moving goal.
#[derive(Clone, Debug)]
pub struct GridworldGoals {
    base: GridMap,
    opts: GridOptions,
    goals: [Vec<(usize, usize)>; 3],
    template: Gridworld,
}

impl GridworldGoals {
    /// From parameters; the goal cells are split by `seed`.
    pub fn from_params(p: &GridworldGoalsParams, seed: Seed) -> Result<Self> {
        p.validate()
            .map_err(|e| EnvsError::Invalid(e.to_string()))?;
        let gp = p.as_gridworld();
        let map = gp.load_map(&mut seed.rng("gridworld-map"))?;
        let opts = GridOptions::from_params(&map, &gp)?;
        Self::new(map, opts, p.train_fraction, p.validation_fraction, seed)
    }

    /// From a map (goals removed) and options; open cells reachable from the start are the
    /// candidate goals, split by `seed`.
    pub fn new(
        mut map: GridMap,
        opts: GridOptions,
        train: f64,
        validation: f64,
        seed: Seed,
    ) -> Result<Self> {
        for r in 0..map.rows() {
            for c in 0..map.cols() {
                if let Cell::Goal(..) = map.cell(r, c) {
                    map.set_cell(r, c, Cell::Empty);
                }
            }
        }
        let reach = map.reachable_from_start();
        let mut cells: Vec<(usize, usize)> = (0..map.rows() * map.cols())
            .filter(|&i| reach[i] && map.cells()[i] == Cell::Empty)
            .map(|i| (i / map.cols(), i % map.cols()))
            .collect();
        if cells.len() < 3 {
            return Err(EnvsError::Invalid(format!(
                "the map has {} open cells reachable from the start; a moving goal needs at least 3 (one per split)",
                cells.len()
            )));
        }
        cells.shuffle(&mut seed.rng("goal-split"));
        let n = cells.len();
        let n_train = ((train * n as f64).round() as usize).clamp(1, n - 2);
        let n_val = ((validation * n as f64).round() as usize).clamp(1, n - n_train - 1);
        let test = cells.split_off(n_train + n_val);
        let val = cells.split_off(n_train);
        let (r, c) = cells[0];
        let mut with_goal = map.clone();
        with_goal.set_cell(r, c, Cell::Goal(None, 'G'));
        let template =
            Gridworld::from_model(Arc::new(GridModel::new(with_goal, opts.clone())?), seed)?;
        Ok(GridworldGoals {
            base: map,
            opts,
            goals: [cells, val, test],
            template,
        })
    }

    /// The goal cells of a split.
    pub fn goals(&self, split: Split) -> &[(usize, usize)] {
        match split {
            Split::Train => &self.goals[0],
            Split::Validation => &self.goals[1],
            Split::Test => &self.goals[2],
        }
    }

    /// The gridworld with its goal at `(row, col)`.
    pub fn with_goal(&self, row: usize, col: usize, seed: Seed) -> Result<Gridworld> {
        if row >= self.base.rows()
            || col >= self.base.cols()
            || self.base.cell(row, col) != Cell::Empty
        {
            return Err(EnvsError::Invalid(format!(
                "({row}, {col}) is not an open cell of the map"
            )));
        }
        let mut map = self.base.clone();
        map.set_cell(row, col, Cell::Goal(None, 'G'));
        Gridworld::from_model(Arc::new(GridModel::new(map, self.opts.clone())?), seed)
    }

    /// Draws a gridworld of a split, and its goal.
    pub fn sample_gridworld(
        &self,
        split: Split,
        rng: &mut Rng,
    ) -> Result<(Gridworld, (usize, usize))> {
        let goals = self.goals(split);
        let (r, c) = goals[rng.random_range(0..goals.len())];
        let seed = Seed(rng.random());
        Ok((self.with_goal(r, c, seed)?, (r, c)))
    }
}

impl EnvDistribution for GridworldGoals {
    fn sample_env(
        &self,
        split: Split,
        rng: &mut Rng,
    ) -> autodidact_core::Result<Box<dyn Environment>> {
        Ok(Box::new(self.sample_gridworld(split, rng)?.0))
    }
    fn template(&self) -> Box<dyn Environment> {
        Box::new(self.template.clone())
    }
}

fn build_goals(config: &Config, seed: Seed) -> autodidact_core::Result<EnvInstance> {
    let p = GridworldGoalsParams::from_config(config)?;
    Ok(EnvInstance::MetaRl(Box::new(GridworldGoals::from_params(
        &p, seed,
    )?)))
}

autodidact_core::register_env! {
    name: "gridworld-goals",
    kind: EnvKind::MetaRl,
    summary: "gridworlds whose goal moves (meta-RL), goal cells split into disjoint train/validation/test",
    params: GridworldGoalsParams::docs,
    default_config: GridworldGoalsParams::default_config,
    build: build_goals,
}
