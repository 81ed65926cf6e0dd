//! Synthetic N-way classification: each class is an isotropic Gaussian around a mean drawn
//! per task, `mean ~ N(0, mean_scale² I)`, `x ~ N(mean, noise² I)`. Fast, for tests and as a
//! continual-learning source (then `classes` means are drawn once from the seed).

use std::sync::Arc;

use autodidact_core::config::{check_positive, check_range};
use autodidact_core::{
    Config, EnvInstance, EnvKind, Hyperparams, ParamDoc, Rng, Seed, Split, Targets, Task,
    TaskDistribution, TaskKind,
};
use rand::Rng as _;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::classification::{to_tensor, LabelledDataset};
use crate::error::{EnvsError, Result};

/// Parameters of [`GaussianClasses`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianClassesParams {
    /// Classes per task (N).
    pub ways: usize,
    /// Support examples per class (K).
    pub shots: usize,
    /// Query examples per class.
    pub queries: usize,
    /// Input dimension.
    pub dim: usize,
    /// Standard deviation of the class means.
    pub mean_scale: f64,
    /// Standard deviation of the examples around their mean.
    pub noise: f64,
    /// Classes of the fixed dataset used as a continual-learning source.
    pub classes: usize,
    /// Examples per class of that dataset.
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

impl Hyperparams for GaussianClassesParams {
    fn docs() -> Vec<ParamDoc> {
        vec![
            ParamDoc {
                key: "ways",
                ty: "integer",
                range: ">= 1",
                doc: "classes per task (N)",
            },
            ParamDoc {
                key: "shots",
                ty: "integer",
                range: ">= 1",
                doc: "support examples per class (K)",
            },
            ParamDoc {
                key: "queries",
                ty: "integer",
                range: ">= 0",
                doc: "query examples per class",
            },
            ParamDoc {
                key: "dim",
                ty: "integer",
                range: ">= 1",
                doc: "input dimension",
            },
            ParamDoc {
                key: "mean_scale",
                ty: "float",
                range: "> 0",
                doc: "std of the class means",
            },
            ParamDoc {
                key: "noise",
                ty: "float",
                range: ">= 0",
                doc: "std of examples around their class mean",
            },
            ParamDoc {
                key: "classes",
                ty: "integer",
                range: ">= 1",
                doc: "classes of the fixed dataset (as a stream source)",
            },
            ParamDoc {
                key: "examples_per_class",
                ty: "integer",
                range: ">= 2",
                doc: "examples per class of that dataset",
            },
        ]
    }

    fn validate(&self) -> autodidact_core::Result<()> {
        check_positive("ways", self.ways as f64)?;
        check_positive("shots", self.shots as f64)?;
        check_positive("dim", self.dim as f64)?;
        check_positive("mean_scale", self.mean_scale)?;
        check_range("noise", self.noise, 0.0, f64::MAX)?;
        check_positive("classes", self.classes as f64)?;
        check_range(
            "examples_per_class",
            self.examples_per_class as f64,
            2.0,
            1e9,
        )?;
        Ok(())
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
    Ok(EnvInstance::Tasks(Box::new(GaussianClasses::new(params)?)))
}

autodidact_core::register_env! {
    name: "gaussian-classes",
    kind: EnvKind::FewShotClassification,
    summary: "synthetic N-way classification, Gaussian classes with means drawn per task (fast tests)",
    params: GaussianClassesParams::docs,
    default_config: GaussianClassesParams::default_config,
    build: build_gaussian,
}
