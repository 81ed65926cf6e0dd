//! Gridworld maps: parsed from ASCII text, built in, or drawn at random with every open cell
//! reachable from the start.
//!
//! # Format
//!
//! One line per row, one character per cell:
//!
//! | char | cell |
//! | --- | --- |
//! | `#` | wall |
//! | `.` or `F` | empty (`F`: FrozenLake's frozen ice) |
//! | `S` | start (several: the first state is uniform over them) |
//! | `G` | goal, reward `goal_reward`, ends the episode |
//! | `1`–`9` | goal with that reward |
//! | `a`–`z` | goal with the reward given in the legend (`a = 2.5`) |
//! | `L` | lava, reward `lava_reward`, ends the episode |
//! | `H` | hole (pit), reward `hole_reward`, ends the episode |
//! | `C` | cliff, reward `cliff_reward`, back to the start (the episode goes on) |
//!
//! A blank line ends the grid; the lines after it are a legend of `key = value` pairs:
//! a lowercase letter's goal reward, or a default of the map (`step_reward`, `goal_reward`,
//! `lava_reward`, `hole_reward`, `cliff_reward`, `slip`, `max_steps`). Lines starting with
//! `;` are comments. Moving into a wall or off the grid leaves the agent where it is. The
//! reward of entering a goal, lava, hole or cliff replaces the step reward.

use std::collections::VecDeque;

use autodidact_core::Rng;
use rand::Rng as _;

use crate::error::{EnvsError, Result};

/// The most cells a map may have.
pub const MAX_CELLS: usize = 1 << 20;

/// One cell of a map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell {
    /// Free to walk on.
    Empty,
    /// Blocks moves.
    Wall,
    /// Where episodes start (otherwise empty).
    Start,
    /// Ends the episode; `None` takes the map's `goal_reward`. The char is kept for drawing.
    Goal(Option<f64>, char),
    /// Ends the episode with `lava_reward`.
    Lava,
    /// Ends the episode with `hole_reward`.
    Hole,
    /// Sends the agent back to the start with `cliff_reward`.
    Cliff,
}

impl Cell {
    /// Whether entering the cell ends the episode.
    pub fn is_terminal(self) -> bool {
        matches!(self, Cell::Goal(..) | Cell::Lava | Cell::Hole)
    }
    /// Whether the cell is dangerous (lava, hole, cliff).
    pub fn is_hazard(self) -> bool {
        matches!(self, Cell::Lava | Cell::Hole | Cell::Cliff)
    }
    /// The character that draws it.
    pub fn to_char(self) -> char {
        match self {
            Cell::Empty => '.',
            Cell::Wall => '#',
            Cell::Start => 'S',
            Cell::Goal(_, c) => c,
            Cell::Lava => 'L',
            Cell::Hole => 'H',
            Cell::Cliff => 'C',
        }
    }
}

/// Rewards and dynamics a map comes with (its legend), overridable by parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct MapDefaults {
    /// Reward of an ordinary step.
    pub step_reward: f64,
    /// Reward of a `G` goal.
    pub goal_reward: f64,
    /// Reward of entering lava.
    pub lava_reward: f64,
    /// Reward of falling into a hole.
    pub hole_reward: f64,
    /// Reward of stepping off the cliff.
    pub cliff_reward: f64,
    /// Probability that a move goes sideways (half to each side).
    pub slip: f64,
    /// Time limit.
    pub max_steps: usize,
}

impl Default for MapDefaults {
    fn default() -> Self {
        MapDefaults {
            step_reward: 0.0,
            goal_reward: 1.0,
            lava_reward: -1.0,
            hole_reward: 0.0,
            cliff_reward: -100.0,
            slip: 0.0,
            max_steps: 100,
        }
    }
}

/// A grid of cells.
#[derive(Clone, Debug, PartialEq)]
pub struct GridMap {
    rows: usize,
    cols: usize,
    cells: Vec<Cell>,
    glyphs: Vec<char>,
    /// The map's own defaults (from its legend).
    pub defaults: MapDefaults,
}

impl GridMap {
    /// A map from cells in row-major order; needs at least one start.
    pub fn from_cells(rows: usize, cols: usize, cells: Vec<Cell>) -> Result<GridMap> {
        if rows == 0 || cols == 0 || cells.len() != rows * cols {
            return Err(EnvsError::Invalid(format!(
                "a {rows}x{cols} map needs {} cells, got {}",
                rows * cols,
                cells.len()
            )));
        }
        if !cells.contains(&Cell::Start) {
            return Err(EnvsError::Map {
                line: 1,
                column: 1,
                reason: "the map has no start cell `S`".into(),
            });
        }
        Ok(GridMap {
            rows,
            cols,
            glyphs: cells.iter().map(|c| c.to_char()).collect(),
            cells,
            defaults: MapDefaults::default(),
        })
    }

    /// Parses the ASCII format (see the module docs); errors name the line and column.
    pub fn parse(text: &str) -> Result<GridMap> {
        let lines: Vec<&str> = text.lines().map(|l| l.trim_end()).collect();
        let first = lines
            .iter()
            .position(|l| !l.is_empty())
            .ok_or_else(|| EnvsError::Map {
                line: 1,
                column: 1,
                reason: "the map is empty".into(),
            })?;
        let mut end = first;
        while end < lines.len() && !lines[end].is_empty() {
            end += 1;
        }
        let grid = &lines[first..end];
        let cols = grid[0].chars().count();
        if grid.len().saturating_mul(cols) > MAX_CELLS {
            return Err(EnvsError::Map {
                line: first + 1,
                column: 1,
                reason: format!(
                    "the map has {}x{} cells, more than the {MAX_CELLS} allowed",
                    grid.len(),
                    cols
                ),
            });
        }
        let mut defaults = MapDefaults::default();
        let mut letters: [Option<f64>; 26] = [None; 26];
        for (i, raw) in lines.iter().enumerate().skip(end) {
            let line_no = i + 1;
            let line = raw.trim_start();
            if line.is_empty() || line.starts_with(';') {
                continue;
            }
            let indent = raw.len() - line.len();
            let Some(eq) = line.find('=') else {
                return Err(EnvsError::Map {
                    line: line_no,
                    column: indent + 1,
                    reason: format!("legend line `{line}` is not `key = value`"),
                });
            };
            let key = line[..eq].trim();
            let value = line[eq + 1..].trim();
            let value_col =
                indent + eq + 2 + (line[eq + 1..].len() - line[eq + 1..].trim_start().len());
            let bad = |what: &str| EnvsError::Map {
                line: line_no,
                column: value_col,
                reason: format!("`{value}` is not {what} (for `{key}`)"),
            };
            let number = || -> Result<f64> {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| bad("a finite number"))
            };
            match key {
                "step_reward" => defaults.step_reward = number()?,
                "goal_reward" => defaults.goal_reward = number()?,
                "lava_reward" => defaults.lava_reward = number()?,
                "hole_reward" => defaults.hole_reward = number()?,
                "cliff_reward" => defaults.cliff_reward = number()?,
                "slip" => {
                    let v = number()?;
                    if !(0.0..=1.0).contains(&v) {
                        return Err(bad("a probability in 0 ..= 1"));
                    }
                    defaults.slip = v;
                }
                "max_steps" => {
                    defaults.max_steps = value
                        .parse::<usize>()
                        .ok()
                        .filter(|&v| v > 0)
                        .ok_or_else(|| bad("a positive integer"))?;
                }
                k if k.len() == 1 && k.as_bytes()[0].is_ascii_lowercase() => {
                    letters[(k.as_bytes()[0] - b'a') as usize] = Some(number()?);
                }
                _ => {
                    return Err(EnvsError::Map {
                        line: line_no,
                        column: indent + 1,
                        reason: format!(
                            "unknown legend key `{key}`; expected a letter a-z or one of step_reward, goal_reward, lava_reward, hole_reward, cliff_reward, slip, max_steps"
                        ),
                    })
                }
            }
        }
        let mut cells = Vec::with_capacity(grid.len() * cols);
        for (r, line) in grid.iter().enumerate() {
            let line_no = first + r + 1;
            let n = line.chars().count();
            if n != cols {
                return Err(EnvsError::Map {
                    line: line_no,
                    column: n.min(cols) + 1,
                    reason: format!(
                        "row has {n} cells but the first row (line {}) has {cols}",
                        first + 1
                    ),
                });
            }
            for (c, ch) in line.chars().enumerate() {
                let cell = match ch {
                    '#' => Cell::Wall,
                    '.' | 'F' => Cell::Empty,
                    'S' => Cell::Start,
                    'G' => Cell::Goal(None, 'G'),
                    'L' => Cell::Lava,
                    'H' => Cell::Hole,
                    'C' => Cell::Cliff,
                    '1'..='9' => Cell::Goal(Some(f64::from(ch as u8 - b'0')), ch),
                    'a'..='z' => match letters[(ch as u8 - b'a') as usize] {
                        Some(r) => Cell::Goal(Some(r), ch),
                        None => {
                            return Err(EnvsError::Map {
                                line: line_no,
                                column: c + 1,
                                reason: format!(
                                    "goal `{ch}` has no reward: add a legend line `{ch} = REWARD` after a blank line"
                                ),
                            })
                        }
                    },
                    other => {
                        return Err(EnvsError::Map {
                            line: line_no,
                            column: c + 1,
                            reason: format!(
                                "unknown cell {other:?}; expected one of # . F S G L H C, a digit 1-9 or a letter a-z defined in the legend"
                            ),
                        })
                    }
                };
                cells.push(cell);
            }
        }
        if !cells.contains(&Cell::Start) {
            return Err(EnvsError::Map {
                line: first + 1,
                column: 1,
                reason: "the map has no start cell `S`".into(),
            });
        }
        let glyphs = grid.iter().flat_map(|l| l.chars()).collect();
        Ok(GridMap {
            rows: grid.len(),
            cols,
            cells,
            glyphs,
            defaults,
        })
    }

    /// A random `rows x cols` map: one start, one goal, walls and lava with the given
    /// densities; every open cell is reachable from the start (unreachable ones become walls),
    /// so the goal always is.
    pub fn random(
        rows: usize,
        cols: usize,
        wall_density: f64,
        lava_density: f64,
        rng: &mut Rng,
    ) -> Result<GridMap> {
        let n = rows.saturating_mul(cols);
        if !(2..=MAX_CELLS).contains(&n) {
            return Err(EnvsError::Invalid(format!(
                "a random map needs 2 ..= {MAX_CELLS} cells, {rows}x{cols} asked for"
            )));
        }
        let start = rng.random_range(0..n);
        let mut goal = rng.random_range(0..n - 1);
        if goal >= start {
            goal += 1;
        }
        let mut cells = vec![Cell::Empty; n];
        for (i, cell) in cells.iter_mut().enumerate() {
            if i == start || i == goal {
                continue;
            }
            let u: f64 = rng.random();
            if u < wall_density {
                *cell = Cell::Wall;
            } else if u < wall_density + lava_density {
                *cell = Cell::Lava;
            }
        }
        cells[start] = Cell::Start;
        cells[goal] = Cell::Goal(None, 'G');
        let mut map = GridMap {
            rows,
            cols,
            glyphs: vec!['.'; n],
            cells,
            defaults: MapDefaults {
                max_steps: (4 * (rows + cols)).max(20),
                ..MapDefaults::default()
            },
        };
        if !map.reachable_from_start()[goal] {
            // Carve an L-shaped corridor from the start to the goal.
            let (sr, sc) = (start / cols, start % cols);
            let (gr, gc) = (goal / cols, goal % cols);
            let mut r = sr;
            let mut c = sc;
            while c != gc {
                c = if c < gc { c + 1 } else { c - 1 };
                map.clear(r * cols + c);
            }
            while r != gr {
                r = if r < gr { r + 1 } else { r - 1 };
                map.clear(r * cols + c);
            }
        }
        let reach = map.reachable_from_start();
        for (i, cell) in map.cells.iter_mut().enumerate() {
            if !reach[i] && *cell != Cell::Wall {
                *cell = Cell::Wall;
            }
        }
        map.glyphs = map.cells.iter().map(|c| c.to_char()).collect();
        Ok(map)
    }

    fn clear(&mut self, i: usize) {
        if matches!(
            self.cells[i],
            Cell::Wall | Cell::Lava | Cell::Hole | Cell::Cliff
        ) {
            self.cells[i] = Cell::Empty;
        }
    }

    /// Which cells can be entered from a start without passing through a terminal cell or a
    /// cliff (terminal cells next to reachable ones are reachable themselves).
    pub fn reachable_from_start(&self) -> Vec<bool> {
        let mut seen = vec![false; self.cells.len()];
        let mut queue = VecDeque::new();
        for (i, c) in self.cells.iter().enumerate() {
            if *c == Cell::Start {
                seen[i] = true;
                queue.push_back(i);
            }
        }
        while let Some(i) = queue.pop_front() {
            let cell = self.cells[i];
            if cell.is_terminal() || cell == Cell::Cliff {
                continue;
            }
            for d in 0..4 {
                if let Some(j) = self.neighbour(i, d) {
                    if !seen[j] && self.cells[j] != Cell::Wall {
                        seen[j] = true;
                        queue.push_back(j);
                    }
                }
            }
        }
        seen
    }

    /// Whether the map has a goal cell (`G`, a digit or a legend letter).
    pub fn has_goal(&self) -> bool {
        self.cells.iter().any(|c| matches!(c, Cell::Goal(..)))
    }

    /// Problems that do not stop the map from being used: a goal that no start can reach.
    /// (A map without any goal is refused by [`Gridworld::from_params`](super::Gridworld::from_params).)
    pub fn warnings(&self) -> Vec<String> {
        if !self.has_goal() {
            return Vec::new();
        }
        let reach = self.reachable_from_start();
        let reachable = self
            .cells
            .iter()
            .zip(&reach)
            .any(|(c, &r)| r && matches!(c, Cell::Goal(..)));
        if reachable {
            Vec::new()
        } else {
            vec!["no goal can be reached from the start (walls, lava, holes or cliffs are in the way): no episode can succeed".into()]
        }
    }

    /// The cell one move away in direction `d` (0 up, 1 down, 2 left, 3 right), if on the grid.
    pub fn neighbour(&self, i: usize, d: usize) -> Option<usize> {
        let (r, c) = (i / self.cols, i % self.cols);
        match d {
            0 if r > 0 => Some(i - self.cols),
            1 if r + 1 < self.rows => Some(i + self.cols),
            2 if c > 0 => Some(i - 1),
            3 if c + 1 < self.cols => Some(i + 1),
            _ => None,
        }
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Every cell, row-major.
    pub fn cells(&self) -> &[Cell] {
        &self.cells
    }
    /// The cell at `(row, col)`.
    pub fn cell(&self, row: usize, col: usize) -> Cell {
        self.cells[row * self.cols + col]
    }
    /// Sets the cell at `(row, col)`.
    pub fn set_cell(&mut self, row: usize, col: usize, cell: Cell) {
        self.cells[row * self.cols + col] = cell;
        self.glyphs[row * self.cols + col] = cell.to_char();
    }

    /// The character the cell at `(row, col)` was written with (`F` or `.` for ice / empty).
    pub fn glyph(&self, row: usize, col: usize) -> char {
        self.glyphs[row * self.cols + col]
    }

    /// The map as text (the grid only; the legend is not written).
    pub fn to_ascii(&self) -> String {
        let mut s = String::with_capacity(self.rows * (self.cols + 1));
        for r in 0..self.rows {
            for c in 0..self.cols {
                s.push(self.glyph(r, c));
            }
            s.push('\n');
        }
        s
    }
}
