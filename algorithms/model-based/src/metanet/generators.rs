//! The fast-weight generators: functions from meta information (preprocessed loss gradients)
//! to fast weights, applied to every weight coordinate independently, so a generator of a few
//! hundred parameters serves layers of any size.
//!
//! - `m` (example level): a 3-layer MLP mapping one support example's gradient of the base
//!   learner's weights to that example's fast weights.
//! - `d` (task level): an LSTM reading the representation loss's gradients of successive
//!   support chunks, whose last output is the representation function's fast weights.

use autodidact_core::{Float, Init, Linear, LstmCell, Params, Rng, Tensor, Var};
use ndarray::IxDyn;
use serde::{Deserialize, Serialize};

use super::meta_info::log_and_sign;

/// The example-level generator `m(Z, ∇)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExampleGenerator {
    /// The three layers (2 → hidden → hidden → 1).
    pub layers: [Linear; 3],
    /// p of the preprocessing.
    pub p: f64,
}

impl ExampleGenerator {
    /// Adds its parameters under `name`.
    pub fn new<T: Float>(
        params: &mut Params<T>,
        name: &str,
        hidden: usize,
        p: f64,
        rng: &mut Rng,
    ) -> Self {
        let mut layer = |i: usize, a: usize, b: usize| {
            Linear::new(
                params,
                &format!("{name}.{i}"),
                a,
                b,
                true,
                Init::TorchDefault,
                rng,
            )
        };
        let layers = [
            layer(0, 2, hidden),
            layer(1, hidden, hidden),
            layer(2, hidden, 1),
        ];
        ExampleGenerator { layers, p }
    }

    /// `[N, P]` gradients → `[N, P]` fast weights, one coordinate at a time.
    pub fn forward<T: Float>(&self, w: &[Var<T>], grads: Var<T>) -> Var<T> {
        let shape = grads.shape();
        let x = log_and_sign(grads, self.p);
        let x = self.layers[0].forward(w, x).relu();
        let x = self.layers[1].forward(w, x).relu();
        self.layers[2].forward(w, x).reshape(&shape)
    }
}

/// The task-level generator `d(G, {∇_t})`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskGenerator {
    /// The coordinate-wise LSTM (2 → hidden).
    pub cell: LstmCell,
    /// Its read-out (hidden → 1).
    pub out: Linear,
    /// p of the preprocessing.
    pub p: f64,
}

impl TaskGenerator {
    /// Adds its parameters under `name`.
    pub fn new<T: Float>(
        params: &mut Params<T>,
        name: &str,
        hidden: usize,
        p: f64,
        rng: &mut Rng,
    ) -> Self {
        let cell = LstmCell::new(params, &format!("{name}.lstm"), 2, hidden, rng);
        let out = Linear::new(
            params,
            &format!("{name}.out"),
            hidden,
            1,
            true,
            Init::TorchDefault,
            rng,
        );
        TaskGenerator { cell, out, p }
    }

    /// `[T, P]` gradients of T successive chunks → `[P]` fast weights (the last step's output).
    pub fn forward<T: Float>(&self, w: &[Var<T>], grads: Var<T>) -> Var<T> {
        let (steps, coords) = (grads.shape()[0], grads.shape()[1]);
        let zeros = Var::constant(Tensor::zeros(IxDyn(&[coords, self.cell.hidden])));
        let (mut h, mut c) = (zeros, zeros);
        for t in 0..steps {
            let x = log_and_sign(grads.narrow(0, t, 1), self.p);
            (h, c) = self.cell.forward(w, x, h, c);
        }
        self.out.forward(w, h).reshape(&[coords])
    }
}
