//! A gridworld's exact model: its states (the non-wall cells), the transition table with
//! slip, and the observation of each state.

use autodidact_core::{Observation, Space, TabularModel, Transition};

use super::map::{Cell, GridMap};
use super::observation::{self, ObservationKind};
use super::options::GridOptions;
use super::NUM_ACTIONS;
use crate::error::{EnvsError, Result};

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
    warnings: Vec<String>,
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
        let (obs_dim, obs_table) = observation::table(&map, &cell_of_state, opts.observation);
        let warnings = map.warnings();
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
            warnings,
        })
    }

    /// The map's [warnings](GridMap::warnings): the model is exact, but its goal (and so any
    /// success) is out of reach.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
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
        observation::space(self.opts.observation, &self.map, self.cell_of_state.len())
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
    fn observation_of(&self, s: usize) -> Option<Observation> {
        (s < self.num_states()).then(|| self.observation(s))
    }
}
