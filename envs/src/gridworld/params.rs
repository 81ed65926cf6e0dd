//! The `gridworld` environment's parameters, and the resolution of the map they name.

use std::path::Path;

use autodidact_core::config::check_range;
use autodidact_core::{Choice, Hyperparams, Rng};
use serde::{Deserialize, Serialize};

use super::builtin::{builtin, BUILTIN_MAPS};
use super::map::GridMap;
use super::observation::ObservationKind;
use crate::error::{EnvsError, Result};

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
