//! An LSTM cell (input, forget, cell and output gates), composed from differentiable ops.

use crate::float::Float;
use crate::layers::init::Init;
use crate::params::Params;
use crate::rng::Rng;
use crate::tape::Var;

/// An LSTM cell's parameter indices.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LstmCell {
    /// `[in, 4h]` input weights (gates in the order i, f, g, o).
    pub w_ih: usize,
    /// `[h, 4h]` recurrent weights.
    pub w_hh: usize,
    /// `[4h]` bias.
    pub bias: usize,
    /// Input features.
    pub in_dim: usize,
    /// Hidden units.
    pub hidden: usize,
}

impl LstmCell {
    /// Adds the cell's parameters (PyTorch's uniform default initialisation).
    pub fn new<T: Float>(
        params: &mut Params<T>,
        name: &str,
        in_dim: usize,
        hidden: usize,
        rng: &mut Rng,
    ) -> LstmCell {
        let w_ih = params.insert(
            format!("{name}.w_ih"),
            Init::TorchDefault.sample::<T>(&[in_dim, 4 * hidden], hidden, hidden, rng),
        );
        let w_hh = params.insert(
            format!("{name}.w_hh"),
            Init::TorchDefault.sample::<T>(&[hidden, 4 * hidden], hidden, hidden, rng),
        );
        let bias = params.insert(
            format!("{name}.bias"),
            Init::TorchDefault.sample::<T>(&[4 * hidden], hidden, hidden, rng),
        );
        LstmCell {
            w_ih,
            w_hh,
            bias,
            in_dim,
            hidden,
        }
    }

    /// One step: `(x [N, in], h [N, h], c [N, h]) → (h', c')`.
    pub fn forward<T: Float>(
        &self,
        p: &[Var<T>],
        x: Var<T>,
        h: Var<T>,
        c: Var<T>,
    ) -> (Var<T>, Var<T>) {
        let k = self.hidden;
        let gates = x.matmul(p[self.w_ih]) + h.matmul(p[self.w_hh]) + p[self.bias];
        let i = gates.narrow(1, 0, k).sigmoid();
        let f = gates.narrow(1, k, k).sigmoid();
        let g = gates.narrow(1, 2 * k, k).tanh();
        let o = gates.narrow(1, 3 * k, k).sigmoid();
        let c2 = f * c + i * g;
        let h2 = o * c2.tanh();
        (h2, c2)
    }
}
