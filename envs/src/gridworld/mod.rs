//! Gridworlds from ASCII maps, with the exact model (`TabularModel`), ANSI and PNG rendering.
//!
//! Actions: 0 up, 1 down, 2 left, 3 right. With probability `1 - slip` the move goes where
//! asked, with `slip / 2` to each side (FrozenLake's slippery ice is `slip = 2/3`). States are
//! the non-wall cells in row-major order; goals, lava and holes are terminal (absorbing,
//! reward 0 after). See [`map`] for the map format.

pub mod builtin;
pub mod map;
pub mod render;

use std::path::Path;
use std::sync::Arc;

use autodidact_core::config::check_range;
use autodidact_core::{
    Action, Choice, Config, EnvInstance, EnvKind, Environment, Hyperparams, Info, Observation, Rng,
    Seed, Space, StepResult, TabularModel, Transition,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

pub use builtin::{builtin, BuiltinMap, BUILTIN_MAPS};
pub use map::{Cell, GridMap, MapDefaults};
pub use render::PngOptions;

use crate::error::{EnvsError, Result};

/// Number of actions (up, down, left, right).
pub const NUM_ACTIONS: usize = 4;
/// Action names, by index.
pub const ACTION_NAMES: [&str; 4] = ["up", "down", "left", "right"];

/// What the agent observes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObservationKind {
    /// A one-hot vector over the states.
    OneHot,
    /// The state index, as one float (`Discrete(num_states)`).
    Index,
    /// `(row, col)`.
    Coords,
    /// An egocentric `(2r+1) x (2r+1)` window with three channels: wall (or off the grid),
    /// goal, hazard (lava, hole, cliff); shape `[3, 2r+1, 2r+1]`.
    LocalView {
        /// The radius r.
        radius: usize,
    },
}

/// Everything that defines a gridworld's dynamics besides its map.
#[derive(Clone, Debug, PartialEq)]
pub struct GridOptions {
    /// Probability that a move goes sideways.
    pub slip: f64,
    /// Reward of an ordinary step.
    pub step_reward: f64,
    /// Reward of a `G` goal.
    pub goal_reward: f64,
    /// Reward of lava.
    pub lava_reward: f64,
    /// Reward of a hole.
    pub hole_reward: f64,
    /// Reward of the cliff.
    pub cliff_reward: f64,
    /// Time limit (truncation).
    pub max_steps: usize,
    /// The observation.
    pub observation: ObservationKind,
}

impl GridOptions {
    /// The map's own defaults with one-hot observations.
    pub fn from_map(map: &GridMap) -> Self {
        let d = &map.defaults;
        GridOptions {
            slip: d.slip,
            step_reward: d.step_reward,
            goal_reward: d.goal_reward,
            lava_reward: d.lava_reward,
            hole_reward: d.hole_reward,
            cliff_reward: d.cliff_reward,
            max_steps: d.max_steps,
            observation: ObservationKind::OneHot,
        }
    }

    /// The map's defaults overridden by the parameters that are set.
    pub fn from_params(map: &GridMap, p: &GridworldParams) -> Result<Self> {
        let mut o = Self::from_map(map);
        if let Some(v) = p.slip {
            o.slip = v;
        }
        if let Some(v) = p.step_reward {
            o.step_reward = v;
        }
        if let Some(v) = p.goal_reward {
            o.goal_reward = v;
        }
        if let Some(v) = p.lava_reward {
            o.lava_reward = v;
        }
        if let Some(v) = p.hole_reward {
            o.hole_reward = v;
        }
        if let Some(v) = p.cliff_reward {
            o.cliff_reward = v;
        }
        if let Some(v) = p.max_steps {
            o.max_steps = v;
        }
        o.observation = p.observation_kind()?;
        Ok(o)
    }
}

/// Parameters of the `gridworld` environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
#[hyperparams(check = GridworldParams::relations)]
pub struct GridworldParams {
    /// A built-in map's name, `random`, a map in the ASCII format (with line breaks), or the
    /// path of a file holding one.
    pub map: String,
    /// Probability that a move goes sideways (unset: the map's).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(min = 0, max = 1)]
    pub slip: Option<f64>,
    /// Reward per ordinary step (unset: the map's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_reward: Option<f64>,
    /// Reward of a `G` goal (unset: the map's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal_reward: Option<f64>,
    /// Reward of lava (unset: the map's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lava_reward: Option<f64>,
    /// Reward of a hole (unset: the map's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hole_reward: Option<f64>,
    /// Reward of the cliff (unset: the map's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cliff_reward: Option<f64>,
    /// Time limit (unset: the map's).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(min = 1, max = 100_000_000)]
    pub max_steps: Option<usize>,
    /// What the agent observes.
    pub observation: ObservationName,
    /// Radius of the local view.
    #[param(min = 0, max = 16)]
    pub view_radius: usize,
    /// Rows of a random map.
    #[param(min = 1, max = 1024)]
    pub rows: usize,
    /// Columns of a random map.
    #[param(min = 1, max = 1024)]
    pub cols: usize,
    /// Share of walls in a random map.
    #[param(min = 0, max = 0.9)]
    pub wall_density: f64,
    /// Share of lava in a random map.
    #[param(min = 0, max = 0.5)]
    pub lava_density: f64,
}

impl Default for GridworldParams {
    fn default() -> Self {
        GridworldParams {
            map: "frozen-lake-4x4".into(),
            slip: None,
            step_reward: None,
            goal_reward: None,
            lava_reward: None,
            hole_reward: None,
            cliff_reward: None,
            max_steps: None,
            observation: ObservationName::OneHot,
            view_radius: 2,
            rows: 8,
            cols: 8,
            wall_density: 0.2,
            lava_density: 0.05,
        }
    }
}

/// What the agent observes, as the `observation` key names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum ObservationName {
    /// A one-hot vector over the states.
    OneHot,
    /// The state index, as one float.
    Index,
    /// `(row, col)`.
    Coords,
    /// An egocentric window of radius `view_radius` (walls, goal, hazards).
    LocalView,
}

impl ObservationName {
    /// The observation kind, with the local view's radius.
    pub fn kind(self, view_radius: usize) -> ObservationKind {
        match self {
            ObservationName::OneHot => ObservationKind::OneHot,
            ObservationName::Index => ObservationKind::Index,
            ObservationName::Coords => ObservationKind::Coords,
            ObservationName::LocalView => ObservationKind::LocalView {
                radius: view_radius,
            },
        }
    }
}

impl GridworldParams {
    /// The observation kind named by `observation`.
    pub fn observation_kind(&self) -> Result<ObservationKind> {
        Ok(self.observation.kind(self.view_radius))
    }

    /// The map named by `map` (a random one drawn with `rng`).
    pub fn load_map(&self, rng: &mut Rng) -> Result<GridMap> {
        load_map(&self.map, self, rng)
    }
}

/// Resolves a map spec: built-in name, `random`, inline text or a file path.
pub fn load_map(spec: &str, p: &GridworldParams, rng: &mut Rng) -> Result<GridMap> {
    if let Some(b) = builtin(spec) {
        return GridMap::parse(b.text);
    }
    if spec == "random" {
        return GridMap::random(p.rows, p.cols, p.wall_density, p.lava_density, rng);
    }
    if spec.contains('\n') {
        return GridMap::parse(spec);
    }
    let path = Path::new(spec);
    if !path.is_file() {
        let names: Vec<&str> = BUILTIN_MAPS.iter().map(|m| m.name).collect();
        return Err(EnvsError::MissingData {
            path: spec.to_string(),
            reason: "no such map file".into(),
            expected: format!(
                "a text file holding an ASCII map, or a built-in map ({}), or `random`",
                names.join(", ")
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| EnvsError::io(path, e))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| EnvsError::Invalid(format!("{spec}: the map file is not UTF-8 text ({e})")))?;
    GridMap::parse(&text).map_err(|e| match e {
        EnvsError::Map {
            line,
            column,
            reason,
        } => EnvsError::Invalid(format!(
            "{spec}: map line {line}, column {column}: {reason}"
        )),
        other => other,
    })
}

impl GridworldParams {
    /// Checks the relations between fields that bounds cannot state.
    fn relations(&self) -> autodidact_core::Result<()> {
        for (k, v) in [
            ("step_reward", self.step_reward),
            ("goal_reward", self.goal_reward),
            ("lava_reward", self.lava_reward),
            ("hole_reward", self.hole_reward),
            ("cliff_reward", self.cliff_reward),
        ] {
            if let Some(v) = v {
                check_range(k, v, f64::MIN, f64::MAX)?;
            }
        }
        Ok(())
    }
}

const NO_STATE: usize = usize::MAX;

/// A gridworld's exact model: states, transition table and observations, shared by the
/// environment and its clones.
#[derive(Clone, Debug)]
pub struct GridModel {
    map: GridMap,
    opts: GridOptions,
    cell_of_state: Vec<usize>,
    state_of_cell: Vec<usize>,
    trans: Vec<Transition>,
    offsets: Vec<usize>,
    terminal: Vec<bool>,
    starts: Vec<usize>,
    obs_table: Vec<f32>,
    obs_dim: usize,
}

impl GridModel {
    /// Builds the model of `map` with `opts`.
    pub fn new(map: GridMap, opts: GridOptions) -> Result<GridModel> {
        if !(0.0..=1.0).contains(&opts.slip) {
            return Err(EnvsError::param(
                "slip",
                format!("{} is outside 0 ..= 1", opts.slip),
            ));
        }
        if opts.max_steps == 0 {
            return Err(EnvsError::param("max_steps", "must be at least 1"));
        }
        let cells = map.cells();
        let mut state_of_cell = vec![NO_STATE; cells.len()];
        let mut cell_of_state = Vec::new();
        for (i, c) in cells.iter().enumerate() {
            if *c != Cell::Wall {
                state_of_cell[i] = cell_of_state.len();
                cell_of_state.push(i);
            }
        }
        let n = cell_of_state.len();
        let starts: Vec<usize> = cell_of_state
            .iter()
            .enumerate()
            .filter(|(_, &cell)| cells[cell] == Cell::Start)
            .map(|(s, _)| s)
            .collect();
        if starts.is_empty() {
            return Err(EnvsError::Map {
                line: 1,
                column: 1,
                reason: "the map has no start cell `S`".into(),
            });
        }
        let terminal: Vec<bool> = cell_of_state
            .iter()
            .map(|&c| cells[c].is_terminal())
            .collect();
        let mut trans = Vec::with_capacity(n * NUM_ACTIONS * 2);
        let mut offsets = Vec::with_capacity(n * NUM_ACTIONS + 1);
        offsets.push(0);
        let start_p = 1.0 / starts.len() as f64;
        for s in 0..n {
            for a in 0..NUM_ACTIONS {
                let begin = trans.len();
                if terminal[s] {
                    trans.push(Transition {
                        prob: 1.0,
                        next: s,
                        reward: 0.0,
                        done: true,
                    });
                } else {
                    let (side1, side2) = if a < 2 { (2, 3) } else { (0, 1) };
                    for (dir, p) in [
                        (a, 1.0 - opts.slip),
                        (side1, opts.slip / 2.0),
                        (side2, opts.slip / 2.0),
                    ] {
                        if p <= 0.0 {
                            continue;
                        }
                        let here = cell_of_state[s];
                        let target = match map.neighbour(here, dir) {
                            Some(j) if cells[j] != Cell::Wall => j,
                            _ => here,
                        };
                        let ns = state_of_cell[target];
                        let mut outcomes: Vec<Transition> = Vec::with_capacity(starts.len());
                        match cells[target] {
                            Cell::Goal(r, _) => outcomes.push(Transition {
                                prob: p,
                                next: ns,
                                reward: r.unwrap_or(opts.goal_reward),
                                done: true,
                            }),
                            Cell::Lava => outcomes.push(Transition {
                                prob: p,
                                next: ns,
                                reward: opts.lava_reward,
                                done: true,
                            }),
                            Cell::Hole => outcomes.push(Transition {
                                prob: p,
                                next: ns,
                                reward: opts.hole_reward,
                                done: true,
                            }),
                            Cell::Cliff => {
                                for &st in &starts {
                                    outcomes.push(Transition {
                                        prob: p * start_p,
                                        next: st,
                                        reward: opts.cliff_reward,
                                        done: false,
                                    });
                                }
                            }
                            _ => outcomes.push(Transition {
                                prob: p,
                                next: ns,
                                reward: opts.step_reward,
                                done: false,
                            }),
                        }
                        for o in outcomes {
                            match trans[begin..].iter_mut().find(|t| {
                                t.next == o.next && t.reward == o.reward && t.done == o.done
                            }) {
                                Some(t) => t.prob += o.prob,
                                None => trans.push(o),
                            }
                        }
                    }
                }
                offsets.push(trans.len());
            }
        }
        let (obs_dim, obs_table) = observation_table(&map, &cell_of_state, opts.observation);
        Ok(GridModel {
            map,
            opts,
            cell_of_state,
            state_of_cell,
            trans,
            offsets,
            terminal,
            starts,
            obs_table,
            obs_dim,
        })
    }

    /// The map.
    pub fn map(&self) -> &GridMap {
        &self.map
    }
    /// The options.
    pub fn options(&self) -> &GridOptions {
        &self.opts
    }
    /// The start states.
    pub fn starts(&self) -> &[usize] {
        &self.starts
    }
    /// `(row, col)` of state `s`.
    pub fn position(&self, s: usize) -> (usize, usize) {
        let c = self.cell_of_state[s];
        (c / self.map.cols(), c % self.map.cols())
    }
    /// The state at `(row, col)`, unless it is a wall or off the grid.
    pub fn state_at(&self, row: usize, col: usize) -> Option<usize> {
        if row >= self.map.rows() || col >= self.map.cols() {
            return None;
        }
        let s = self.state_of_cell[row * self.map.cols() + col];
        (s != NO_STATE).then_some(s)
    }
    /// Floats per observation.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// The observation of state `s`.
    pub fn observation(&self, s: usize) -> Observation {
        match self.opts.observation {
            ObservationKind::OneHot => {
                // `with_capacity` + `resize` rather than `vec![0.0; n]`: glibc's calloc skips
                // the thread cache and costs several times more for small vectors.
                let n = self.cell_of_state.len();
                let mut v = Vec::with_capacity(n);
                v.resize(n, 0.0);
                v[s] = 1.0;
                v
            }
            ObservationKind::Index => vec![s as f32],
            _ => self.obs_table[s * self.obs_dim..(s + 1) * self.obs_dim].to_vec(),
        }
    }

    /// The observation space.
    pub fn observation_space(&self) -> Space {
        let n = self.cell_of_state.len();
        match self.opts.observation {
            ObservationKind::OneHot => Space::Box {
                low: vec![0.0; n],
                high: vec![1.0; n],
                shape: vec![n],
            },
            ObservationKind::Index => Space::Discrete(n),
            ObservationKind::Coords => Space::Box {
                low: vec![0.0, 0.0],
                high: vec![(self.map.rows() - 1) as f32, (self.map.cols() - 1) as f32],
                shape: vec![2],
            },
            ObservationKind::LocalView { radius } => {
                let k = 2 * radius + 1;
                Space::Box {
                    low: vec![0.0; 3 * k * k],
                    high: vec![1.0; 3 * k * k],
                    shape: vec![3, k, k],
                }
            }
        }
    }
}

fn observation_table(
    map: &GridMap,
    cell_of_state: &[usize],
    kind: ObservationKind,
) -> (usize, Vec<f32>) {
    let cols = map.cols();
    match kind {
        ObservationKind::OneHot => (cell_of_state.len(), Vec::new()),
        ObservationKind::Index => (1, Vec::new()),
        ObservationKind::Coords => {
            let t = cell_of_state
                .iter()
                .flat_map(|&c| [(c / cols) as f32, (c % cols) as f32])
                .collect();
            (2, t)
        }
        ObservationKind::LocalView { radius } => {
            let k = 2 * radius + 1;
            let dim = 3 * k * k;
            let mut t = vec![0.0; dim * cell_of_state.len()];
            for (s, &c) in cell_of_state.iter().enumerate() {
                let (r0, c0) = ((c / cols) as isize, (c % cols) as isize);
                let v = &mut t[s * dim..(s + 1) * dim];
                for dr in 0..k {
                    for dc in 0..k {
                        let r = r0 + dr as isize - radius as isize;
                        let cc = c0 + dc as isize - radius as isize;
                        let at = dr * k + dc;
                        if r < 0 || cc < 0 || r as usize >= map.rows() || cc as usize >= cols {
                            v[at] = 1.0;
                            continue;
                        }
                        match map.cell(r as usize, cc as usize) {
                            Cell::Wall => v[at] = 1.0,
                            Cell::Goal(..) => v[k * k + at] = 1.0,
                            cell if cell.is_hazard() => v[2 * k * k + at] = 1.0,
                            _ => {}
                        }
                    }
                }
            }
            (dim, t)
        }
    }
}

impl TabularModel for GridModel {
    fn num_states(&self) -> usize {
        self.cell_of_state.len()
    }
    fn num_actions(&self) -> usize {
        NUM_ACTIONS
    }
    fn transitions(&self, s: usize, a: usize) -> &[Transition] {
        let i = s * NUM_ACTIONS + a;
        &self.trans[self.offsets[i]..self.offsets[i + 1]]
    }
    fn initial_distribution(&self) -> Vec<(usize, f64)> {
        let p = 1.0 / self.starts.len() as f64;
        self.starts.iter().map(|&s| (s, p)).collect()
    }
    fn is_terminal(&self, s: usize) -> bool {
        self.terminal[s]
    }
}

/// A gridworld environment.
#[derive(Clone, Debug)]
pub struct Gridworld {
    model: Arc<GridModel>,
    state: usize,
    steps: usize,
    rng: Rng,
}

impl Gridworld {
    /// A gridworld on `map` with `opts`, its generator seeded by `seed`.
    pub fn new(map: GridMap, opts: GridOptions, seed: Seed) -> Result<Gridworld> {
        let model = Arc::new(GridModel::new(map, opts)?);
        let mut g = Gridworld {
            state: model.starts[0],
            model,
            steps: 0,
            rng: seed.rng("gridworld"),
        };
        g.reset_state();
        Ok(g)
    }

    /// A gridworld on a (shared) model, its generator seeded by `seed`.
    pub fn from_model(model: Arc<GridModel>, seed: Seed) -> Result<Gridworld> {
        let mut g = Gridworld {
            state: model.starts[0],
            model,
            steps: 0,
            rng: seed.rng("gridworld"),
        };
        g.reset_state();
        Ok(g)
    }

    /// A gridworld from ASCII text with the map's defaults (seed 0).
    pub fn from_ascii(text: &str) -> Result<Gridworld> {
        let map = GridMap::parse(text)?;
        let opts = GridOptions::from_map(&map);
        Gridworld::new(map, opts, Seed(0))
    }

    /// A built-in map by name with its defaults (seed 0).
    pub fn builtin(name: &str) -> Result<Gridworld> {
        let b = builtin(name).ok_or_else(|| {
            let names: Vec<&str> = BUILTIN_MAPS.iter().map(|m| m.name).collect();
            EnvsError::param(
                "map",
                format!("`{name}` is not a built-in map ({})", names.join(", ")),
            )
        })?;
        Gridworld::from_ascii(b.text)
    }

    /// A gridworld from parameters and a seed (a random map is drawn from the seed).
    pub fn from_params(params: &GridworldParams, seed: Seed) -> Result<Gridworld> {
        params
            .validate()
            .map_err(|e| EnvsError::Invalid(e.to_string()))?;
        let map = params.load_map(&mut seed.rng("gridworld-map"))?;
        let opts = GridOptions::from_params(&map, params)?;
        Gridworld::new(map, opts, seed)
    }

    /// The exact model.
    pub fn model(&self) -> &GridModel {
        &self.model
    }
    /// The current state.
    pub fn state(&self) -> usize {
        self.state
    }
    /// Puts the agent in state `s` (for tests and planning).
    pub fn set_state(&mut self, s: usize) -> Result<()> {
        if s >= self.model.num_states() {
            return Err(EnvsError::Invalid(format!(
                "state {s} out of range 0..{}",
                self.model.num_states()
            )));
        }
        self.state = s;
        Ok(())
    }
    /// Steps taken in this episode.
    pub fn steps(&self) -> usize {
        self.steps
    }

    fn reset_state(&mut self) {
        let starts = &self.model.starts;
        self.state = if starts.len() == 1 {
            starts[0]
        } else {
            starts[self.rng.random_range(0..starts.len())]
        };
        self.steps = 0;
    }

    /// The current state as text; the agent is `@`.
    pub fn ansi(&self) -> String {
        render::ansi(&self.model, Some(self.state))
    }

    /// A PNG picture of the grid (see [`PngOptions`]).
    pub fn render_png(&self, opts: &PngOptions) -> Result<Vec<u8>> {
        render::png(
            &self.model,
            if opts.show_agent {
                Some(self.state)
            } else {
                None
            },
            opts,
        )
    }

    /// Writes [`Gridworld::render_png`] to `path`.
    pub fn save_png(&self, path: impl AsRef<Path>, opts: &PngOptions) -> Result<()> {
        let bytes = self.render_png(opts)?;
        std::fs::write(path.as_ref(), bytes).map_err(|e| EnvsError::io(path, e))
    }

    /// One step with a discrete action index (no `Action` to build).
    #[inline]
    pub fn step_index(&mut self, a: usize) -> Result<(usize, f64, bool, bool)> {
        if a >= NUM_ACTIONS {
            return Err(EnvsError::Action {
                action: a.to_string(),
                reason: "gridworld actions are 0 up, 1 down, 2 left, 3 right".into(),
            });
        }
        let ts = self.model.transitions(self.state, a);
        let t = if ts.len() == 1 {
            ts[0]
        } else {
            let u: f64 = self.rng.random();
            let mut acc = 0.0;
            let mut pick = ts[ts.len() - 1];
            for t in ts {
                acc += t.prob;
                if u < acc {
                    pick = *t;
                    break;
                }
            }
            pick
        };
        self.state = t.next;
        self.steps += 1;
        let truncated = !t.done && self.steps >= self.model.opts.max_steps;
        Ok((t.next, t.reward, t.done, truncated))
    }
}

impl Environment for Gridworld {
    fn observation_space(&self) -> Space {
        self.model.observation_space()
    }
    fn action_space(&self) -> Space {
        Space::Discrete(NUM_ACTIONS)
    }
    fn reset(&mut self, seed: Option<u64>) -> (Observation, Info) {
        if let Some(s) = seed {
            self.rng = Seed(s).rng("gridworld");
        }
        self.reset_state();
        (self.model.observation(self.state), Info::new())
    }
    fn step(&mut self, action: &Action) -> autodidact_core::Result<StepResult> {
        let a = match action {
            Action::Discrete(a) => *a,
            Action::Continuous(v) => {
                return Err(EnvsError::Action {
                    action: format!("{v:?}"),
                    reason: "gridworld actions are discrete 0..4".into(),
                }
                .into())
            }
        };
        let (s, reward, terminated, truncated) = self.step_index(a)?;
        Ok(StepResult {
            obs: self.model.observation(s),
            reward,
            terminated,
            truncated,
            info: Info::new(),
        })
    }
    fn tabular(&self) -> Option<&dyn TabularModel> {
        Some(self.model.as_ref())
    }
    fn state_index(&self) -> Option<usize> {
        Some(self.state)
    }
    fn render_ansi(&self) -> Option<String> {
        Some(self.ansi())
    }
    fn clone_box(&self) -> Box<dyn Environment> {
        Box::new(self.clone())
    }
}

fn build_gridworld(config: &Config, seed: Seed) -> autodidact_core::Result<EnvInstance> {
    let params = GridworldParams::from_config(config)?;
    Ok(EnvInstance::Rl(Box::new(Gridworld::from_params(
        &params, seed,
    )?)))
}

autodidact_core::register_env! {
    name: "gridworld",
    kind: EnvKind::Rl,
    summary: "gridworld from an ASCII map (FrozenLake, four-rooms, cliff walk, random) with slip and the exact model",
    params: GridworldParams::docs,
    default_config: GridworldParams::default_config,
    build: build_gridworld,
}
