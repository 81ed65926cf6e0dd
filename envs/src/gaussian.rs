//! Synthetic N-way classification: each class is an isotropic Gaussian around a mean drawn
//! per task, `mean ~ N(0, mean_scale² I)`, `x ~ N(mean, noise² I)`. Fast, for tests and as a
//! continual-learning source (then `classes` means are drawn once from the seed).

use std::sync::Arc;

use autodidact_core::{
    Config, EnvInstance, EnvKind, Hyperparams, Rng, Seed, Split, Targets, Task, TaskDistribution,
    TaskKind,
};
use rand::Rng as _;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::classification::{to_tensor, LabelledDataset};
use crate::error::{EnvsError, Result};

/// Parameters of [`GaussianClasses`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianClassesParams {
    /// Classes per task (N).
    #[param(min = 1, max = 100_000)]
    pub ways: usize,
    /// Support examples per class (K).
    #[param(min = 1, max = 100_000)]
    pub shots: usize,
    /// Query examples per class.
    #[param(max = 100_000)]
    pub queries: usize,
    /// Input dimension.
    #[param(min = 1, max = 1_048_576)]
    pub dim: usize,
    /// Standard deviation of the class means.
    #[param(gt = 0)]
    pub mean_scale: f64,
    /// Standard deviation of the examples around their mean.
    #[param(min = 0)]
    pub noise: f64,
    /// Classes of the fixed dataset used as a continual-learning source.
    #[param(min = 1, max = 100_000)]
    pub classes: usize,
    /// Examples per class of that dataset.
    #[param(min = 2, max = 1e9)]
    pub examples_per_class: usize,
}

impl Default for GaussianClassesParams {
    fn default() -> Self {
        GaussianClassesParams {
            ways: 5,
            shots: 1,
            queries: 15,
            dim: 16,
            mean_scale: 1.0,
            noise: 1.0,
            classes: 20,
            examples_per_class: 60,
        }
    }
}

/// Gaussian-classes tasks.
#[derive(Clone, Debug)]
pub struct GaussianClasses {
    params: GaussianClassesParams,
}

impl GaussianClasses {
    /// A distribution with the given parameters (validated).
    pub fn new(params: GaussianClassesParams) -> Result<Self> {
        params
            .validate()
            .map_err(|e| EnvsError::Invalid(e.to_string()))?;
        Ok(GaussianClasses { params })
    }

    /// The parameters.
    pub fn params(&self) -> &GaussianClassesParams {
        &self.params
    }

    fn draw_mean(&self, rng: &mut Rng) -> Vec<f32> {
        (0..self.params.dim)
            .map(|_| (self.params.mean_scale * rng.sample::<f64, _>(StandardNormal)) as f32)
            .collect()
    }

    fn draw_examples(&self, mean: &[f32], n: usize, out: &mut Vec<f32>, rng: &mut Rng) {
        for _ in 0..n {
            for &m in mean {
                out.push(m + (self.params.noise * rng.sample::<f64, _>(StandardNormal)) as f32);
            }
        }
    }

    /// The fixed dataset drawn from `seed`: `classes` classes of `examples_per_class`.
    pub fn dataset(&self, seed: Seed) -> Result<LabelledDataset> {
        let mut rng = seed.rng("gaussian-classes");
        let mut data = LabelledDataset::new("gaussian-classes", vec![self.params.dim]);
        for c in 0..self.params.classes {
            let mean = self.draw_mean(&mut rng);
            let mut xs = Vec::with_capacity(self.params.examples_per_class * self.params.dim);
            self.draw_examples(&mean, self.params.examples_per_class, &mut xs, &mut rng);
            let name = format!("class{c:03}");
            data.push_class(name.clone(), name, xs)?;
        }
        Ok(data)
    }

    /// Draws a task; also returns the class means.
    pub fn sample_with_means(&self, rng: &mut Rng) -> Result<(Task, Vec<Vec<f32>>)> {
        let p = &self.params;
        let means: Vec<Vec<f32>> = (0..p.ways).map(|_| self.draw_mean(rng)).collect();
        let mut sx = Vec::with_capacity(p.ways * p.shots * p.dim);
        let mut qx = Vec::with_capacity(p.ways * p.queries * p.dim);
        let mut sy = Vec::new();
        let mut qy = Vec::new();
        for (label, mean) in means.iter().enumerate() {
            self.draw_examples(mean, p.shots, &mut sx, rng);
            sy.extend(std::iter::repeat_n(label, p.shots));
            self.draw_examples(mean, p.queries, &mut qx, rng);
            qy.extend(std::iter::repeat_n(label, p.queries));
        }
        let task = Task {
            support_x: to_tensor(sx, sy.len(), &[p.dim])?,
            support_y: Targets::Labels(sy),
            query_x: to_tensor(qx, qy.len(), &[p.dim])?,
            query_y: Targets::Labels(qy),
        };
        Ok((task, means))
    }
}

impl TaskDistribution for GaussianClasses {
    fn input_shape(&self) -> Vec<usize> {
        vec![self.params.dim]
    }
    fn kind(&self) -> TaskKind {
        TaskKind::Classification {
            ways: self.params.ways,
        }
    }
    fn sample(&self, _split: Split, rng: &mut Rng) -> autodidact_core::Result<Task> {
        Ok(self.sample_with_means(rng)?.0)
    }
}

/// The fixed dataset as a shared source.
pub fn gaussian_source(params: GaussianClassesParams, seed: Seed) -> Result<Arc<LabelledDataset>> {
    Ok(Arc::new(GaussianClasses::new(params)?.dataset(seed)?))
}

fn build_gaussian(config: &Config, _seed: Seed) -> autodidact_core::Result<EnvInstance> {
    let params = GaussianClassesParams::from_config(config)?;
    Ok(EnvInstance::Tasks(Box::new(GaussianClasses::new(
        params.into_inner(),
    )?)))
}

autodidact_core::register_env! {
    name: "gaussian-classes",
    kind: EnvKind::FewShotClassification,
    summary: "synthetic N-way classification, Gaussian classes with means drawn per task (fast tests)",
    params: GaussianClassesParams::docs,
    default_config: GaussianClassesParams::default_config,
    build: build_gaussian,
}
