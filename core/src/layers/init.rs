//! Seeded initialisers (Kaiming and Xavier, uniform and normal), drawn with `ndarray-rand`.

use ndarray::{ArrayD, IxDyn};
use ndarray_rand::rand_distr::{Normal, Uniform};
use ndarray_rand::RandomExt;
use serde::{Deserialize, Serialize};

use crate::float::Float;
use crate::rng::Rng;
use crate::Tensor;

/// How to draw a parameter tensor's initial values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, crate::Choice)]
#[serde(rename_all = "kebab-case")]
pub enum Init {
    /// U(−b, b) with b = √(6 / fan_in) (He et al., for ReLU).
    KaimingUniform,
    /// N(0, 2 / fan_in).
    KaimingNormal,
    /// U(−b, b) with b = √(6 / (fan_in + fan_out)) (Glorot and Bengio).
    XavierUniform,
    /// N(0, 2 / (fan_in + fan_out)).
    XavierNormal,
    /// U(−1/√fan_in, 1/√fan_in), PyTorch's default for linear and conv layers.
    TorchDefault,
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
}

impl Init {
    /// A tensor of `shape` with the given fans.
    pub fn sample<T: Float>(
        self,
        shape: &[usize],
        fan_in: usize,
        fan_out: usize,
        rng: &mut Rng,
    ) -> Tensor<T> {
        let fi = fan_in.max(1) as f64;
        let fo = fan_out.max(1) as f64;
        let dim = IxDyn(shape);
        let uniform = |b: f64, rng: &mut Rng| -> ArrayD<f64> {
            match Uniform::new(-b, b) {
                Ok(u) if b > 0.0 => ArrayD::random_using(dim.clone(), u, rng),
                _ => ArrayD::zeros(dim.clone()),
            }
        };
        let normal = |sd: f64, rng: &mut Rng| -> ArrayD<f64> {
            match Normal::new(0.0, sd) {
                Ok(n) => ArrayD::random_using(dim.clone(), n, rng),
                Err(_) => ArrayD::zeros(dim.clone()),
            }
        };
        let x = match self {
            Init::KaimingUniform => uniform((6.0 / fi).sqrt(), rng),
            Init::KaimingNormal => normal((2.0 / fi).sqrt(), rng),
            Init::XavierUniform => uniform((6.0 / (fi + fo)).sqrt(), rng),
            Init::XavierNormal => normal((2.0 / (fi + fo)).sqrt(), rng),
            Init::TorchDefault => uniform(1.0 / fi.sqrt(), rng),
            Init::Zeros => ArrayD::zeros(dim),
            Init::Ones => ArrayD::ones(dim),
        };
        x.mapv(T::of)
    }
}
