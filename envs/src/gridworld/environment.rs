//! The gridworld environment: an agent moving on a shared [`GridModel`], with Gymnasium's
//! `reset`/`step`, and its pictures.

use std::path::Path;
use std::sync::Arc;

use autodidact_core::{
    Action, Environment, Hyperparams, Info, Observation, Rng, Seed, Space, StepResult, TabularModel,
};
use rand::Rng as _;

use super::builtin::{builtin, BUILTIN_MAPS};
use super::map::GridMap;
use super::model::GridModel;
use super::options::GridOptions;
use super::params::GridworldParams;
use super::render::{self, PngOptions};
use super::NUM_ACTIONS;
use crate::error::{EnvsError, Result};

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
            state: model.starts()[0],
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
            state: model.starts()[0],
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
        if !map.has_goal() {
            return Err(EnvsError::param(
                "map",
                "the map has no goal (`G`, a digit 1-9 or a legend letter): episodes could only end by the time limit or a hazard",
            ));
        }
        let opts = GridOptions::from_params(&map, params)?;
        let g = Gridworld::new(map, opts, seed)?;
        // An inline map is named by its first row only: the whole text is too long a name.
        let name = params.map.lines().next().unwrap_or_default();
        for w in g.model().warnings() {
            warn_once(&format!("warning: gridworld map `{name}`: {w}"));
        }
        Ok(g)
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
        let starts = self.model.starts();
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
        let truncated = !t.done && self.steps >= self.model.options().max_steps;
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

/// Prints a warning to stderr the first time it occurs in this process: a run builds the
/// same environment several times (training, evaluation), one line is enough.
fn warn_once(line: &str) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    // A poisoned lock only means another thread panicked while printing; print anyway.
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if !seen.iter().any(|s| s == line) {
        eprintln!("{line}");
        seen.push(line.to_string());
    }
}
