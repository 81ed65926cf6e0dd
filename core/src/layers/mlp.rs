//! A multi-layer perceptron of any widths and activation.

use serde::{Deserialize, Serialize};

use crate::float::Float;
use crate::layers::init::Init;
use crate::layers::linear::Linear;
use crate::params::Params;
use crate::rng::Rng;
use crate::tape::Var;

/// A hidden-layer nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, crate::Choice)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// max(x, 0).
    Relu,
    /// tanh.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
    /// Leaky ReLU with slope 0.01.
    LeakyRelu,
    /// ELU with α = 1.
    Elu,
    /// No nonlinearity.
    Identity,
}

impl Activation {
    /// Applies the activation.
    pub fn apply<T: Float>(self, x: Var<T>) -> Var<T> {
        match self {
            Activation::Relu => x.relu(),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::LeakyRelu => x.leaky_relu(0.01),
            Activation::Elu => x.elu(1.0),
            Activation::Identity => x,
        }
    }
}

/// Linear layers with an activation between them (none after the last).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    /// The layers, input to output.
    pub layers: Vec<Linear>,
    /// The activation after every layer but the last.
    pub activation: Activation,
}

impl Mlp {
    /// Adds an MLP with `widths = [in, hidden…, out]` to `params` (`name.0`, `name.1`, …).
    ///
    /// # Panics
    /// With fewer than two widths (a model-building bug).
    pub fn new<T: Float>(
        params: &mut Params<T>,
        name: &str,
        widths: &[usize],
        activation: Activation,
        init: Init,
        rng: &mut Rng,
    ) -> Mlp {
        assert!(
            widths.len() >= 2,
            "autodidact: an MLP needs at least [in, out] widths"
        );
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| Linear::new(params, &format!("{name}.{i}"), w[0], w[1], true, init, rng))
            .collect();
        Mlp { layers, activation }
    }

    /// The full network.
    pub fn forward<T: Float>(&self, p: &[Var<T>], x: Var<T>) -> Var<T> {
        let h = self.features(p, x);
        match self.layers.last() {
            Some(last) => last.forward(p, h),
            None => h,
        }
    }

    /// The parameters copied once per task along a new leading axis, for running `tasks`
    /// tasks, each with its own (later adapted) weights, through [`Mlp::forward`] in one
    /// batched pass (vectorised MAML): a weight `[in, out]` becomes `[tasks, in, out]` and a
    /// bias `[out]` becomes `[tasks, 1, out]`, so that inputs `[tasks, rows, in]` give
    /// outputs `[tasks, rows, out]`. The copies are a `broadcast_to`, so the gradient of a
    /// loss summed over tasks with respect to them is one gradient per task, and with respect
    /// to the shared parameters their sum.
    pub fn per_task<T: Float>(&self, p: &[Var<T>], tasks: usize) -> Vec<Var<T>> {
        p.iter()
            .map(|&v| {
                let s = v.shape();
                let mut shape = vec![1];
                if s.len() == 1 {
                    shape.push(1);
                }
                shape.extend_from_slice(&s);
                let v = v.reshape(&shape);
                shape[0] = tasks;
                v.broadcast_to(&shape)
            })
            .collect()
    }

    /// Every layer but the last, activation included (the "body" that ANIL freezes).
    pub fn features<T: Float>(&self, p: &[Var<T>], x: Var<T>) -> Var<T> {
        let n = self.layers.len();
        self.layers[..n.saturating_sub(1)]
            .iter()
            .fold(x, |h, l| self.activation.apply(l.forward(p, h)))
    }

    /// Output features.
    pub fn out_dim(&self) -> usize {
        self.layers.last().map(|l| l.out_dim).unwrap_or(0)
    }

    /// Indices of the last layer's parameters (the "head").
    pub fn head_params(&self) -> Vec<usize> {
        self.layers
            .last()
            .map(|l| std::iter::once(l.weight).chain(l.bias).collect())
            .unwrap_or_default()
    }
}
