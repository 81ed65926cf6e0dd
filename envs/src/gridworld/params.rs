//! The `gridworld` environment's parameters, and the resolution of the map they name.

use std::path::Path;

use autodidact_core::config::{check_one_of, check_positive, check_range};
use autodidact_core::{Hyperparams, ParamDoc, Rng};
use serde::{Deserialize, Serialize};

use super::builtin::{builtin, BUILTIN_MAPS};
use super::map::GridMap;
use super::observation::ObservationKind;
use crate::error::{EnvsError, Result};

/// Parameters of the `gridworld` environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GridworldParams {
    /// A built-in map's name, `random`, a map in the ASCII format (with line breaks), or the
    /// path of a file holding one.
    pub map: String,
    /// Probability that a move goes sideways (unset: the map's).
    #[serde(skip_serializing_if = "Option::is_none")]
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
    pub max_steps: Option<usize>,
    /// `one-hot`, `index`, `coords` or `local-view`.
    pub observation: String,
    /// Radius of the local view.
    pub view_radius: usize,
    /// Rows of a random map.
    pub rows: usize,
    /// Columns of a random map.
    pub cols: usize,
    /// Share of walls in a random map.
    pub wall_density: f64,
    /// Share of lava in a random map.
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
            observation: "one-hot".into(),
            view_radius: 2,
            rows: 8,
            cols: 8,
            wall_density: 0.2,
            lava_density: 0.05,
        }
    }
}

/// The observation names accepted by `observation`.
pub const OBSERVATIONS: &[&str] = &["one-hot", "index", "coords", "local-view"];

impl GridworldParams {
    /// The observation kind named by `observation`.
    pub fn observation_kind(&self) -> Result<ObservationKind> {
        Ok(match self.observation.as_str() {
            "one-hot" => ObservationKind::OneHot,
            "index" => ObservationKind::Index,
            "coords" => ObservationKind::Coords,
            "local-view" => ObservationKind::LocalView {
                radius: self.view_radius,
            },
            other => {
                return Err(EnvsError::param(
                    "observation",
                    format!("`{other}` is not one of: {}", OBSERVATIONS.join(", ")),
                ))
            }
        })
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

impl Hyperparams for GridworldParams {
    fn docs() -> Vec<ParamDoc> {
        vec![
            ParamDoc { key: "map", ty: "string", range: "frozen-lake-4x4, frozen-lake-8x8, four-rooms, cliff-walk, random, ASCII text or a file path", doc: "the map" },
            ParamDoc { key: "slip", ty: "float", range: "0 ..= 1", doc: "probability a move goes sideways, half to each side (default: the map's)" },
            ParamDoc { key: "step_reward", ty: "float", range: "finite", doc: "reward of an ordinary step (default: the map's, 0)" },
            ParamDoc { key: "goal_reward", ty: "float", range: "finite", doc: "reward of a `G` goal (default: the map's, 1)" },
            ParamDoc { key: "lava_reward", ty: "float", range: "finite", doc: "reward of lava `L`, which ends the episode (default -1)" },
            ParamDoc { key: "hole_reward", ty: "float", range: "finite", doc: "reward of a hole `H`, which ends the episode (default 0)" },
            ParamDoc { key: "cliff_reward", ty: "float", range: "finite", doc: "reward of the cliff `C`, which sends back to the start (default -100)" },
            ParamDoc { key: "max_steps", ty: "integer", range: ">= 1", doc: "time limit (default: the map's)" },
            ParamDoc { key: "observation", ty: "string", range: "one of: one-hot, index, coords, local-view", doc: "what the agent observes" },
            ParamDoc { key: "view_radius", ty: "integer", range: "0 ..= 16", doc: "radius of the local view" },
            ParamDoc { key: "rows", ty: "integer", range: "1 ..= 1024", doc: "rows of a random map" },
            ParamDoc { key: "cols", ty: "integer", range: "1 ..= 1024", doc: "columns of a random map" },
            ParamDoc { key: "wall_density", ty: "float", range: "0 ..= 0.9", doc: "share of walls in a random map" },
            ParamDoc { key: "lava_density", ty: "float", range: "0 ..= 0.5", doc: "share of lava in a random map" },
        ]
    }

    fn validate(&self) -> autodidact_core::Result<()> {
        if let Some(v) = self.slip {
            check_range("slip", v, 0.0, 1.0)?;
        }
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
        if let Some(v) = self.max_steps {
            check_positive("max_steps", v as f64)?;
        }
        check_one_of("observation", &self.observation, OBSERVATIONS)?;
        check_range("view_radius", self.view_radius as f64, 0.0, 16.0)?;
        check_range("rows", self.rows as f64, 1.0, 1024.0)?;
        check_range("cols", self.cols as f64, 1.0, 1024.0)?;
        check_range("wall_density", self.wall_density, 0.0, 0.9)?;
        check_range("lava_density", self.lava_density, 0.0, 0.5)?;
        Ok(())
    }
}
