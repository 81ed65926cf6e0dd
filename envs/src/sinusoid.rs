//! Sinusoid regression (Finn et al., 2017): `y = A sin(x - φ)`, amplitude `A ~ U[0.1, 5]`,
//! phase `φ ~ U[0, π]`, inputs `x ~ U[-5, 5]`.
//!
//! The three splits share one distribution (as in the paper); they differ only in the
//! generators their tasks are drawn with.

use autodidact_core::config::check_range;
use autodidact_core::{
    Config, EnvInstance, EnvKind, Hyperparams, Rng, Seed, Split, Targets, Task, TaskDistribution,
    TaskKind,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::classification::to_tensor;
use crate::error::{EnvsError, Result};

/// Parameters of [`Sinusoid`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
#[hyperparams(check = SinusoidParams::relations)]
pub struct SinusoidParams {
    /// Support points per task (K in K-shot regression).
    #[param(min = 1, max = 1_000_000)]
    pub shots: usize,
    /// Query points per task.
    #[param(min = 1, max = 1_000_000)]
    pub queries: usize,
    /// Smallest amplitude.
    #[param(gt = 0)]
    pub amplitude_min: f64,
    /// Largest amplitude.
    pub amplitude_max: f64,
    /// Smallest phase.
    pub phase_min: f64,
    /// Largest phase.
    pub phase_max: f64,
    /// Smallest input.
    pub x_min: f64,
    /// Largest input.
    pub x_max: f64,
}

impl Default for SinusoidParams {
    fn default() -> Self {
        SinusoidParams {
            shots: 10,
            queries: 10,
            amplitude_min: 0.1,
            amplitude_max: 5.0,
            phase_min: 0.0,
            phase_max: std::f64::consts::PI,
            x_min: -5.0,
            x_max: 5.0,
        }
    }
}

impl SinusoidParams {
    /// Checks the relations between fields that bounds cannot state.
    fn relations(&self) -> autodidact_core::Result<()> {
        check_range(
            "amplitude_max",
            self.amplitude_max,
            self.amplitude_min,
            f64::MAX,
        )?;
        check_range("phase_max", self.phase_max, self.phase_min, f64::MAX)?;
        if !(self.x_max.is_finite() && self.x_max > self.x_min) {
            return Err(EnvsError::param(
                "x_max",
                format!("{} must be > x_min = {}", self.x_max, self.x_min),
            )
            .into());
        }
        Ok(())
    }
}

/// One sinusoid: its amplitude and phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SineWave {
    /// Amplitude A.
    pub amplitude: f64,
    /// Phase φ.
    pub phase: f64,
}

impl SineWave {
    /// `A sin(x - φ)`.
    pub fn eval(&self, x: f64) -> f64 {
        self.amplitude * (x - self.phase).sin()
    }
}

/// The sinusoid task distribution.
#[derive(Clone, Debug)]
pub struct Sinusoid {
    params: SinusoidParams,
}

impl Sinusoid {
    /// A distribution with the given (validated) parameters.
    pub fn new(params: SinusoidParams) -> Result<Self> {
        params
            .validate()
            .map_err(|e| EnvsError::Invalid(e.to_string()))?;
        Ok(Sinusoid { params })
    }

    /// The parameters.
    pub fn params(&self) -> &SinusoidParams {
        &self.params
    }

    /// Draws a sine wave.
    pub fn sample_wave(&self, rng: &mut Rng) -> SineWave {
        let p = &self.params;
        SineWave {
            amplitude: uniform(rng, p.amplitude_min, p.amplitude_max),
            phase: uniform(rng, p.phase_min, p.phase_max),
        }
    }

    /// Draws a task, and returns the wave it came from.
    pub fn sample_with_wave(&self, rng: &mut Rng) -> Result<(Task, SineWave)> {
        let wave = self.sample_wave(rng);
        let (sx, sy) = self.points(&wave, self.params.shots, rng)?;
        let (qx, qy) = self.points(&wave, self.params.queries, rng)?;
        Ok((
            Task {
                support_x: sx,
                support_y: Targets::Values(sy),
                query_x: qx,
                query_y: Targets::Values(qy),
            },
            wave,
        ))
    }

    fn points(
        &self,
        wave: &SineWave,
        n: usize,
        rng: &mut Rng,
    ) -> Result<(autodidact_core::Tensor<f32>, autodidact_core::Tensor<f32>)> {
        let mut xs = Vec::with_capacity(n);
        let mut ys = Vec::with_capacity(n);
        for _ in 0..n {
            let x = uniform(rng, self.params.x_min, self.params.x_max);
            xs.push(x as f32);
            ys.push(wave.eval(x) as f32);
        }
        Ok((to_tensor(xs, n, &[1])?, to_tensor(ys, n, &[1])?))
    }
}

fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

impl TaskDistribution for Sinusoid {
    fn input_shape(&self) -> Vec<usize> {
        vec![1]
    }
    fn kind(&self) -> TaskKind {
        TaskKind::Regression { output_dim: 1 }
    }
    fn sample(&self, _split: Split, rng: &mut Rng) -> autodidact_core::Result<Task> {
        Ok(self.sample_with_wave(rng)?.0)
    }
}

fn build_sinusoid(config: &Config, _seed: Seed) -> autodidact_core::Result<EnvInstance> {
    let params = SinusoidParams::from_config(config)?;
    Ok(EnvInstance::Tasks(Box::new(Sinusoid::new(
        params.into_inner(),
    )?)))
}

autodidact_core::register_env! {
    name: "sinusoid",
    kind: EnvKind::FewShotRegression,
    summary: "sinusoid regression (Finn et al. 2017): A ~ U[0.1,5], phase ~ U[0,π], x ~ U[-5,5]",
    params: SinusoidParams::docs,
    default_config: SinusoidParams::default_config,
    build: build_sinusoid,
}
