//! The options of a gridworld's dynamics besides its map: slip, rewards, time limit and
//! observation.

use super::map::GridMap;
use super::observation::ObservationKind;
use super::params::GridworldParams;
use crate::error::Result;

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
