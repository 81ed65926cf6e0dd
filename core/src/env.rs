//! Reinforcement-learning environments in Gymnasium's shape, and exact tabular models.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::rng::Rng;
use crate::task::Split;

/// An observation, flattened.
pub type Observation = Vec<f32>;

/// Extra diagnostic values returned with a step (Gymnasium's `info`).
pub type Info = BTreeMap<String, f64>;

/// A set of observations or actions.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Space {
    /// `n` choices, `0..n`.
    Discrete(usize),
    /// Real vectors within bounds (use ±inf for unbounded).
    Box {
        /// Lower bounds, one per element.
        low: Vec<f32>,
        /// Upper bounds, one per element.
        high: Vec<f32>,
        /// Shape of one value.
        shape: Vec<usize>,
    },
}

impl Space {
    /// Number of floats in one flattened value (1 for a discrete space).
    pub fn flat_dim(&self) -> usize {
        match self {
            Space::Discrete(_) => 1,
            Space::Box { shape, .. } => shape.iter().product(),
        }
    }
    /// The number of choices of a discrete space.
    pub fn n(&self) -> Option<usize> {
        match self {
            Space::Discrete(n) => Some(*n),
            Space::Box { .. } => None,
        }
    }
    /// The lower and upper bounds of a box space (`None` for a discrete one).
    pub fn bounds(&self) -> Option<(&[f32], &[f32])> {
        match self {
            Space::Discrete(_) => None,
            Space::Box { low, high, .. } => Some((low, high)),
        }
    }
    /// A one-dimensional box `[low, high]` (one bound per element).
    pub fn bounded(low: Vec<f32>, high: Vec<f32>) -> Space {
        let shape = vec![low.len()];
        Space::Box { low, high, shape }
    }
    /// Whether `action` belongs to this space: a choice below `n`, or a vector of the box's
    /// size within its bounds.
    pub fn contains(&self, action: &Action) -> bool {
        match (self, action) {
            (Space::Discrete(n), Action::Discrete(a)) => a < n,
            (Space::Box { low, high, .. }, Action::Continuous(v)) => {
                v.len() == self.flat_dim()
                    && v.len() == low.len()
                    && v.iter()
                        .zip(low.iter().zip(high))
                        .all(|(x, (l, h))| x >= l && x <= h)
            }
            _ => false,
        }
    }
}

/// An action.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Action {
    /// A choice in a discrete space.
    Discrete(usize),
    /// A vector in a box space.
    Continuous(Vec<f32>),
}

/// What one step returns.
#[derive(Clone, Debug, PartialEq)]
pub struct StepResult {
    /// The next observation.
    pub obs: Observation,
    /// The reward for the step.
    pub reward: f64,
    /// The episode ended in a terminal state (no bootstrapping past it).
    pub terminated: bool,
    /// The episode was cut (time limit): not terminal, bootstrapping continues.
    pub truncated: bool,
    /// Diagnostics.
    pub info: Info,
}

/// An environment in Gymnasium's shape.
pub trait Environment: Send {
    /// The observations it produces.
    fn observation_space(&self) -> Space;
    /// The actions it accepts.
    fn action_space(&self) -> Space;
    /// Starts an episode; a seed reseeds the environment's generator.
    fn reset(&mut self, seed: Option<u64>) -> (Observation, Info);
    /// Takes one action.
    fn step(&mut self, action: &Action) -> Result<StepResult>;
    /// The exact model, when the dynamics are known.
    fn tabular(&self) -> Option<&dyn TabularModel> {
        None
    }
    /// The current state's index in the tabular model.
    fn state_index(&self) -> Option<usize> {
        None
    }
    /// A text picture of the current state.
    fn render_ansi(&self) -> Option<String> {
        None
    }
    /// A fresh copy (same parameters and state) for evaluation.
    fn clone_box(&self) -> Box<dyn Environment>;
}

/// One possible outcome of taking an action in a state.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Transition {
    /// Probability of this outcome.
    pub prob: f64,
    /// The next state.
    pub next: usize,
    /// The reward received.
    pub reward: f64,
    /// Whether the next state ends the episode (terminal: value 0 after it).
    pub done: bool,
}

/// An environment's exact dynamics: states, actions, `P(s'|s,a)` and rewards.
pub trait TabularModel {
    /// Number of states.
    fn num_states(&self) -> usize;
    /// Number of actions.
    fn num_actions(&self) -> usize;
    /// Every outcome of action `a` in state `s`; probabilities sum to 1.
    fn transitions(&self, s: usize, a: usize) -> &[Transition];
    /// The distribution of the first state.
    fn initial_distribution(&self) -> Vec<(usize, f64)>;
    /// Whether a state is terminal (absorbing, value 0).
    fn is_terminal(&self, s: usize) -> bool;
    /// Expected immediate reward `R(s, a)`.
    fn expected_reward(&self, s: usize, a: usize) -> f64 {
        self.transitions(s, a)
            .iter()
            .map(|t| t.prob * t.reward)
            .sum()
    }
    /// The observation an agent receives in state `s`, when the model knows it (`None` by
    /// default, and for a state out of range).
    ///
    /// Built on demand, one state at a time: a table of every state's observation can be far
    /// larger than the model (one-hot observations of a 200 × 200 grid: 40,000² floats).
    fn observation_of(&self, _s: usize) -> Option<Observation> {
        None
    }
}

/// A distribution over environments (meta-RL: goals that move, bandits with new arms).
pub trait EnvDistribution: Send + Sync {
    /// Draws an environment from a split.
    fn sample_env(&self, split: Split, rng: &mut Rng) -> Result<Box<dyn Environment>>;
    /// A representative environment (for spaces).
    fn template(&self) -> Box<dyn Environment>;
}
