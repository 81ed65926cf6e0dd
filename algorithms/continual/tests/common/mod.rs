//! Tiny streams for the tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use autodidact_continual::hyperparams::{defaults_for, ContinualParams};
use autodidact_core::{Experience, Scenario, Seed, TaskStream, Tensor};
use autodidact_envs::{
    GaussianClasses, GaussianClassesParams, Holdout, PermutedStream, SplitStream,
};
use ndarray::IxDyn;
use rand::Rng as _;

/// A gaussian-classes dataset of `classes` classes in `dim` dimensions.
pub fn gaussian(
    classes: usize,
    per_class: usize,
    dim: usize,
    seed: u64,
) -> autodidact_envs::LabelledDataset {
    let p = GaussianClassesParams {
        classes,
        examples_per_class: per_class,
        dim,
        noise: 0.8,
        ..GaussianClassesParams::default()
    };
    GaussianClasses::new(p)
        .unwrap()
        .dataset(Seed(seed))
        .unwrap()
}

/// Class-incremental: 8 classes in 4 experiences of 2.
pub fn class_incremental(seed: u64) -> SplitStream {
    SplitStream::new(
        &gaussian(8, 40, 16, seed),
        4,
        Scenario::ClassIncremental,
        Holdout::Random(0.25),
        0,
        Seed(seed),
    )
    .unwrap()
}

/// Task-incremental: 8 classes in 4 experiences of 2.
pub fn task_incremental(seed: u64) -> SplitStream {
    SplitStream::new(
        &gaussian(8, 40, 16, seed),
        4,
        Scenario::TaskIncremental,
        Holdout::Random(0.25),
        0,
        Seed(seed),
    )
    .unwrap()
}

/// Domain-incremental: 4 classes under 3 permutations.
pub fn permuted(seed: u64) -> PermutedStream {
    PermutedStream::new(
        &gaussian(4, 40, 16, seed),
        3,
        Holdout::Random(0.25),
        0,
        Seed(seed),
    )
    .unwrap()
}

/// Short-run hyperparameters.
pub fn quick(method: &str) -> ContinualParams {
    ContinualParams {
        epochs: 5,
        batch_size: 10,
        lr: 5e-3,
        hidden: vec![32],
        fisher_samples: 32,
        buffer_size: 40,
        agem_sample: 32,
        ..defaults_for(method)
    }
}

/// A stream of small random images, `[1, size, size]`, `classes` per experience.
pub struct ImageStream {
    experiences: Vec<Experience>,
    classes: usize,
    size: usize,
}

impl ImageStream {
    /// `experiences` experiences of `per_exp` classes, `n` training and test images per class
    /// (each class a fixed random pattern plus noise).
    pub fn new(experiences: usize, per_exp: usize, n: usize, size: usize, seed: u64) -> Self {
        let mut rng = Seed(seed).rng("images");
        let classes = experiences * per_exp;
        let d = size * size;
        let patterns: Vec<Vec<f32>> = (0..classes)
            .map(|_| (0..d).map(|_| rng.random_range(-1.0f32..1.0)).collect())
            .collect();
        let make = |cls: &[usize], rng: &mut autodidact_core::Rng| {
            let mut x = Vec::new();
            let mut y = Vec::new();
            for &c in cls {
                for _ in 0..n {
                    x.extend(
                        patterns[c]
                            .iter()
                            .map(|v| v + 0.3 * rng.random_range(-1.0f32..1.0)),
                    );
                    y.push(c);
                }
            }
            let t = Tensor::from_shape_vec(IxDyn(&[y.len(), 1, size, size]), x).unwrap();
            (t, y)
        };
        let experiences = (0..experiences)
            .map(|e| {
                let cls: Vec<usize> = (e * per_exp..(e + 1) * per_exp).collect();
                let (train_x, train_y) = make(&cls, &mut rng);
                let (test_x, test_y) = make(&cls, &mut rng);
                Experience {
                    index: e,
                    train_x,
                    train_y,
                    test_x,
                    test_y,
                    task_id: None,
                    classes: cls,
                }
            })
            .collect();
        ImageStream {
            experiences,
            classes,
            size,
        }
    }
}

impl TaskStream for ImageStream {
    fn scenario(&self) -> Scenario {
        Scenario::ClassIncremental
    }
    fn input_shape(&self) -> Vec<usize> {
        vec![1, self.size, self.size]
    }
    fn num_classes(&self) -> usize {
        self.classes
    }
    fn experiences(&self) -> &[Experience] {
        &self.experiences
    }
}
