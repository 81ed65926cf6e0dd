//! Pendulum-v1 with Gymnasium's constants, dynamics and reward: swing a frictionless pendulum
//! up and hold it upright with a bounded torque.
//!
//! State `(θ, θ̇)` in `f64`, θ = 0 upright; observed as `[cos θ, sin θ, θ̇]` in `f32`. The
//! torque is clipped to ±2; cost `norm(θ)² + 0.1 θ̇² + 0.001 u²` (θ wrapped to `[−π, π)`),
//! reward its negative; `θ̇ ← clip(θ̇ + (3g/(2l) sin θ + 3/(ml²) u) dt, ±8)`, then
//! `θ ← θ + θ̇ dt` (semi-implicit Euler), with g = 10, m = l = 1, dt = 0.05. Never terminates;
//! truncated after 200 steps. Resets draw θ from U(−π, π) and θ̇ from U(−1, 1).
//!
//! Gymnasium receives the action as a `float32` array, and NumPy keeps the terms that only
//! involve it in `float32` (`0.001 u²` and `3/(ml²) u`); they are computed in `f32` here too,
//! so the recorded trajectories are reproduced bit for bit rather than to `f32` precision.

use autodidact_core::{
    Action, Config, EnvInstance, EnvKind, Environment, Hyperparams, Info, Observation, Rng, Seed,
    Space, StepResult,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::error::{EnvsError, Result};

/// Largest angular speed (rad/s).
pub const MAX_SPEED: f64 = 8.0;
/// Largest torque (N·m).
pub const MAX_TORQUE: f32 = 2.0;
/// Seconds per step.
pub const DT: f64 = 0.05;
/// Mass (kg).
pub const MASS: f64 = 1.0;
/// Length (m).
pub const LENGTH: f64 = 1.0;

/// Parameters of [`Pendulum`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct PendulumParams {
    /// Time limit (Pendulum-v1: 200).
    #[param(min = 1, max = 100_000_000)]
    pub max_steps: usize,
    /// Gravity (Gymnasium's `g`, 10 by default).
    #[param(min = 0, max = 1000)]
    pub gravity: f64,
}

impl Default for PendulumParams {
    fn default() -> Self {
        PendulumParams {
            max_steps: 200,
            gravity: 10.0,
        }
    }
}

/// The Pendulum environment; one action, `Continuous([torque])`.
#[derive(Clone, Debug)]
pub struct Pendulum {
    theta: f64,
    theta_dot: f64,
    steps: usize,
    max_steps: usize,
    gravity: f64,
    rng: Rng,
}

impl Default for Pendulum {
    fn default() -> Self {
        Self::new()
    }
}

impl Pendulum {
    /// Pendulum-v1 (seed 0); call `reset` to start an episode.
    pub fn new() -> Self {
        Self::with_seed(Seed(0))
    }

    /// Pendulum-v1 whose resets draw from `seed`.
    pub fn with_seed(seed: Seed) -> Self {
        let mut p = Pendulum {
            theta: 0.0,
            theta_dot: 0.0,
            steps: 0,
            max_steps: 200,
            gravity: 10.0,
            rng: seed.rng("pendulum"),
        };
        p.reset_state();
        p
    }

    /// From parameters and a seed.
    pub fn from_params(p: &PendulumParams, seed: Seed) -> Result<Self> {
        p.validate()
            .map_err(|e| EnvsError::Invalid(e.to_string()))?;
        let mut env = Self::with_seed(seed);
        env.max_steps = p.max_steps;
        env.gravity = p.gravity;
        Ok(env)
    }

    /// The full-precision state `[θ, θ̇]`.
    pub fn state(&self) -> [f64; 2] {
        [self.theta, self.theta_dot]
    }

    /// Starts an episode from a given state (to replay a recorded trajectory).
    pub fn set_state(&mut self, state: [f64; 2]) {
        [self.theta, self.theta_dot] = state;
        self.steps = 0;
    }

    fn reset_state(&mut self) {
        // Gymnasium draws both from one uniform call with bounds (π, 1).
        self.theta = self
            .rng
            .random_range(-std::f64::consts::PI..std::f64::consts::PI);
        self.theta_dot = self.rng.random_range(-1.0..1.0);
        self.steps = 0;
    }

    fn obs(&self) -> Observation {
        vec![
            self.theta.cos() as f32,
            self.theta.sin() as f32,
            self.theta_dot as f32,
        ]
    }

    /// One step with torque `u` (clipped to ±2); returns `(reward, truncated)`.
    pub fn step_torque(&mut self, u: f32) -> (f64, bool) {
        // NaN stays NaN through the clip, as with NumPy.
        let u = u.clamp(-MAX_TORQUE, MAX_TORQUE);
        let (th, thdot) = (self.theta, self.theta_dot);
        // NumPy squares the float32 scalar with the C library's `powf`, which is not always
        // the correctly rounded `u * u`; `powf` here calls the same function (the exponent is
        // hidden from the optimiser, which would turn it back into `u * u`).
        let costs = angle_normalize(th).powi(2)
            + 0.1 * (thdot * thdot)
            + f64::from(0.001f32 * u.powf(std::hint::black_box(2.0)));
        let torque_term = f64::from((3.0 / (MASS * LENGTH * LENGTH)) as f32 * u);
        let accel = 3.0 * self.gravity / (2.0 * LENGTH) * th.sin() + torque_term;
        let new_thdot = (thdot + accel * DT).clamp(-MAX_SPEED, MAX_SPEED);
        self.theta = th + new_thdot * DT;
        self.theta_dot = new_thdot;
        self.steps += 1;
        (-costs, self.steps >= self.max_steps)
    }
}

/// `((x + π) mod 2π) − π` with Python's floored modulo (the result has the divisor's sign).
fn angle_normalize(x: f64) -> f64 {
    let two_pi = 2.0 * std::f64::consts::PI;
    (x + std::f64::consts::PI).rem_euclid(two_pi) - std::f64::consts::PI
}

impl Environment for Pendulum {
    fn observation_space(&self) -> Space {
        let s = MAX_SPEED as f32;
        Space::bounded(vec![-1.0, -1.0, -s], vec![1.0, 1.0, s])
    }
    fn action_space(&self) -> Space {
        Space::bounded(vec![-MAX_TORQUE], vec![MAX_TORQUE])
    }
    fn reset(&mut self, seed: Option<u64>) -> (Observation, Info) {
        if let Some(s) = seed {
            self.rng = Seed(s).rng("pendulum");
        }
        self.reset_state();
        (self.obs(), Info::new())
    }
    fn step(&mut self, action: &Action) -> autodidact_core::Result<StepResult> {
        let u = match action {
            Action::Continuous(v) if v.len() == 1 => v[0],
            other => {
                return Err(EnvsError::Action {
                    action: format!("{other:?}"),
                    reason: "Pendulum takes Continuous([torque]), one value (clipped to ±2)".into(),
                }
                .into())
            }
        };
        let (reward, truncated) = self.step_torque(u);
        Ok(StepResult {
            obs: self.obs(),
            reward,
            terminated: false,
            truncated,
            info: Info::new(),
        })
    }
    fn render_ansi(&self) -> Option<String> {
        Some(format!(
            "θ={:+.1}° θ̇={:+.2}\n",
            angle_normalize(self.theta).to_degrees(),
            self.theta_dot
        ))
    }
    fn clone_box(&self) -> Box<dyn Environment> {
        Box::new(self.clone())
    }
}

fn build_pendulum(config: &Config, seed: Seed) -> autodidact_core::Result<EnvInstance> {
    let p = PendulumParams::from_config(config)?;
    Ok(EnvInstance::Rl(Box::new(Pendulum::from_params(&p, seed)?)))
}

autodidact_core::register_env! {
    name: "pendulum",
    kind: EnvKind::Rl,
    summary: "Pendulum-v1 with Gymnasium's constants, dynamics and reward (continuous torque; checked against a recorded gymnasium trajectory)",
    params: PendulumParams::docs,
    default_config: PendulumParams::default_config,
    build: build_pendulum,
}
