//! CartPole-v1 with Gymnasium's constants and equations (Barto, Sutton & Anderson, 1983).
//!
//! The state is kept in `f64` and observed as `f32`, as Gymnasium does. Gravity 9.8, cart
//! mass 1.0, pole mass 0.1, half-length 0.5, force 10, τ = 0.02 s, Euler integration; the
//! episode ends when |θ| > 12° or |x| > 2.4, +1 per step (also on the failing step), and is
//! truncated at 500 steps. Steps after termination give reward 0, as in Gymnasium.

use autodidact_core::{
    Action, Choice, Config, EnvInstance, EnvKind, Environment, Hyperparams, Info, Observation, Rng,
    Seed, Space, StepResult,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::error::{EnvsError, Result};

/// Gravity (m/s²).
pub const GRAVITY: f64 = 9.8;
/// Cart mass (kg).
pub const MASS_CART: f64 = 1.0;
/// Pole mass (kg).
pub const MASS_POLE: f64 = 0.1;
/// Half the pole's length (m).
pub const HALF_LENGTH: f64 = 0.5;
/// Push force (N).
pub const FORCE_MAG: f64 = 10.0;
/// Seconds per step.
pub const TAU: f64 = 0.02;
/// The angle beyond which the episode ends (12°, in radians, as Gymnasium computes it).
pub const THETA_THRESHOLD: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
/// The cart position beyond which the episode ends.
pub const X_THRESHOLD: f64 = 2.4;

/// Parameters of [`CartPole`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct CartPoleParams {
    /// Time limit (CartPole-v1: 500).
    #[param(min = 1, max = 100_000_000)]
    pub max_steps: usize,
    /// How the dynamics are integrated (euler: Gymnasium's default).
    pub integrator: Integrator,
}

/// How CartPole's dynamics are integrated over one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum Integrator {
    /// Position from the old velocity, then velocity (Gymnasium's default).
    Euler,
    /// Velocity first, then position from the new velocity.
    SemiImplicit,
}

impl Default for CartPoleParams {
    fn default() -> Self {
        CartPoleParams {
            max_steps: 500,
            integrator: Integrator::Euler,
        }
    }
}

/// The CartPole environment. State: `[x, ẋ, θ, θ̇]`; actions: 0 push left, 1 push right.
#[derive(Clone, Debug)]
pub struct CartPole {
    state: [f64; 4],
    steps: usize,
    steps_beyond_terminated: Option<usize>,
    max_steps: usize,
    semi_implicit: bool,
    rng: Rng,
}

impl Default for CartPole {
    fn default() -> Self {
        Self::new()
    }
}

impl CartPole {
    /// CartPole-v1 (seed 0); call `reset` to start an episode.
    pub fn new() -> Self {
        Self::with_seed(Seed(0))
    }

    /// CartPole-v1 whose resets draw from `seed`.
    pub fn with_seed(seed: Seed) -> Self {
        let mut c = CartPole {
            state: [0.0; 4],
            steps: 0,
            steps_beyond_terminated: None,
            max_steps: 500,
            semi_implicit: false,
            rng: seed.rng("cartpole"),
        };
        c.reset_state();
        c
    }

    /// From parameters and a seed.
    pub fn from_params(p: &CartPoleParams, seed: Seed) -> Result<Self> {
        p.validate()
            .map_err(|e| EnvsError::Invalid(e.to_string()))?;
        let mut c = Self::with_seed(seed);
        c.max_steps = p.max_steps;
        c.semi_implicit = p.integrator == Integrator::SemiImplicit;
        Ok(c)
    }

    /// The full-precision state `[x, ẋ, θ, θ̇]`.
    pub fn state(&self) -> [f64; 4] {
        self.state
    }

    /// Starts an episode from a given state (to replay a recorded trajectory).
    pub fn set_state(&mut self, state: [f64; 4]) {
        self.state = state;
        self.steps = 0;
        self.steps_beyond_terminated = None;
    }

    /// Steps taken in this episode.
    pub fn steps(&self) -> usize {
        self.steps
    }

    fn reset_state(&mut self) {
        for v in &mut self.state {
            *v = self.rng.random_range(-0.05..0.05);
        }
        self.steps = 0;
        self.steps_beyond_terminated = None;
    }

    fn obs(&self) -> Observation {
        vec![
            self.state[0] as f32,
            self.state[1] as f32,
            self.state[2] as f32,
            self.state[3] as f32,
        ]
    }

    /// One step: push right when `right`; returns `(reward, terminated, truncated)`.
    #[inline]
    pub fn step_push(&mut self, right: bool) -> (f64, bool, bool) {
        let [mut x, mut x_dot, mut theta, mut theta_dot] = self.state;
        let force = if right { FORCE_MAG } else { -FORCE_MAG };
        let total_mass = MASS_POLE + MASS_CART;
        let polemass_length = MASS_POLE * HALF_LENGTH;
        let costheta = theta.cos();
        let sintheta = theta.sin();
        let temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass;
        let thetaacc = (GRAVITY * sintheta - costheta * temp)
            / (HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * (costheta * costheta) / total_mass));
        let xacc = temp - polemass_length * thetaacc * costheta / total_mass;
        if self.semi_implicit {
            x_dot += TAU * xacc;
            x += TAU * x_dot;
            theta_dot += TAU * thetaacc;
            theta += TAU * theta_dot;
        } else {
            x += TAU * x_dot;
            x_dot += TAU * xacc;
            theta += TAU * theta_dot;
            theta_dot += TAU * thetaacc;
        }
        self.state = [x, x_dot, theta, theta_dot];
        self.steps += 1;
        // Gymnasium's comparisons, kept as written (a NaN state does not terminate there).
        #[allow(clippy::manual_range_contains)]
        let terminated = x < -X_THRESHOLD
            || x > X_THRESHOLD
            || theta < -THETA_THRESHOLD
            || theta > THETA_THRESHOLD;
        let reward = if !terminated {
            1.0
        } else if let Some(n) = self.steps_beyond_terminated.as_mut() {
            *n += 1;
            0.0
        } else {
            self.steps_beyond_terminated = Some(0);
            1.0
        };
        (reward, terminated, self.steps >= self.max_steps)
    }
}

impl Environment for CartPole {
    fn observation_space(&self) -> Space {
        let x = (2.0 * X_THRESHOLD) as f32;
        let t = (2.0 * THETA_THRESHOLD) as f32;
        Space::Box {
            low: vec![-x, f32::NEG_INFINITY, -t, f32::NEG_INFINITY],
            high: vec![x, f32::INFINITY, t, f32::INFINITY],
            shape: vec![4],
        }
    }
    fn action_space(&self) -> Space {
        Space::Discrete(2)
    }
    fn reset(&mut self, seed: Option<u64>) -> (Observation, Info) {
        if let Some(s) = seed {
            self.rng = Seed(s).rng("cartpole");
        }
        self.reset_state();
        (self.obs(), Info::new())
    }
    fn step(&mut self, action: &Action) -> autodidact_core::Result<StepResult> {
        let right = match action {
            Action::Discrete(0) => false,
            Action::Discrete(1) => true,
            other => {
                return Err(EnvsError::Action {
                    action: format!("{other:?}"),
                    reason: "CartPole takes Discrete(0) (push left) or Discrete(1) (push right)"
                        .into(),
                }
                .into())
            }
        };
        let (reward, terminated, truncated) = self.step_push(right);
        Ok(StepResult {
            obs: self.obs(),
            reward,
            terminated,
            truncated,
            info: Info::new(),
        })
    }
    fn render_ansi(&self) -> Option<String> {
        let [x, _, theta, _] = self.state;
        let width = 41usize;
        let pos = (((x + X_THRESHOLD) / (2.0 * X_THRESHOLD)) * (width - 1) as f64)
            .round()
            .clamp(0.0, (width - 1) as f64) as usize;
        let mut track: Vec<char> = vec!['-'; width];
        track[pos] = '#';
        Some(format!(
            "x={x:+.3} θ={:+.2}°\n{}\n",
            theta.to_degrees(),
            track.into_iter().collect::<String>()
        ))
    }
    fn clone_box(&self) -> Box<dyn Environment> {
        Box::new(self.clone())
    }
}

fn build_cartpole(config: &Config, seed: Seed) -> autodidact_core::Result<EnvInstance> {
    let p = CartPoleParams::from_config(config)?;
    Ok(EnvInstance::Rl(Box::new(CartPole::from_params(&p, seed)?)))
}

autodidact_core::register_env! {
    name: "cartpole",
    kind: EnvKind::Rl,
    summary: "CartPole-v1 with Gymnasium's constants and equations (checked against a recorded gymnasium trajectory)",
    params: CartPoleParams::docs,
    default_config: CartPoleParams::default_config,
    build: build_cartpole,
}
