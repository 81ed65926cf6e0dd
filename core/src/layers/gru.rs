//! A GRU cell (reset, update and candidate gates; Cho et al. 2014), composed from
//! differentiable ops, so gradients of any order flow through it.
//!
//! PyTorch's `nn.GRUCell` convention, gates in the order r, z, n:
//!
//! ```text
//! r  = σ(x W_ir + b_ir + h W_hr + b_hr)
//! z  = σ(x W_iz + b_iz + h W_hz + b_hz)
//! n  = tanh(x W_in + b_in + r ⊙ (h W_hn + b_hn))
//! h' = (1 − z) ⊙ n + z ⊙ h
//! ```
//!
//! The recurrent bias `b_hn` sits inside the reset gate's product, which is why there are two
//! bias vectors (with one, the cell would be Cho et al.'s original form, not PyTorch's).
//! Weights are stored transposed relative to PyTorch (`[in, 3h]`, `x W`), like
//! [`LstmCell`](crate::layers::LstmCell).

use crate::float::Float;
use crate::layers::init::Init;
use crate::params::Params;
use crate::rng::Rng;
use crate::tape::Var;

/// A GRU cell's parameter indices.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GruCell {
    /// `[in, 3h]` input weights (gates in the order r, z, n).
    pub w_ih: usize,
    /// `[h, 3h]` recurrent weights.
    pub w_hh: usize,
    /// `[3h]` input bias.
    pub b_ih: usize,
    /// `[3h]` recurrent bias (its n part is multiplied by the reset gate).
    pub b_hh: usize,
    /// Input features.
    pub in_dim: usize,
    /// Hidden units.
    pub hidden: usize,
}

impl GruCell {
    /// Adds the cell's parameters (PyTorch's uniform default initialisation,
    /// `U(−1/√h, 1/√h)` for every tensor).
    pub fn new<T: Float>(
        params: &mut Params<T>,
        name: &str,
        in_dim: usize,
        hidden: usize,
        rng: &mut Rng,
    ) -> GruCell {
        let mut add = |suffix: &str, shape: &[usize], rng: &mut Rng| {
            params.insert(
                format!("{name}.{suffix}"),
                Init::TorchDefault.sample::<T>(shape, hidden, hidden, rng),
            )
        };
        let w_ih = add("w_ih", &[in_dim, 3 * hidden], rng);
        let w_hh = add("w_hh", &[hidden, 3 * hidden], rng);
        let b_ih = add("b_ih", &[3 * hidden], rng);
        let b_hh = add("b_hh", &[3 * hidden], rng);
        GruCell {
            w_ih,
            w_hh,
            b_ih,
            b_hh,
            in_dim,
            hidden,
        }
    }

    /// One step: `(x [N, in], h [N, h]) → h' [N, h]`.
    pub fn forward<T: Float>(&self, p: &[Var<T>], x: Var<T>, h: Var<T>) -> Var<T> {
        self.step_projected(p, self.input_projection(p, x), h)
    }

    /// The input's part of the gates, `x W_ih + b_ih` (`[N, 3h]`). It does not depend on the
    /// hidden state, so a sequence can project all its steps in one matrix product (rows
    /// stacked) and feed each step's rows to [`GruCell::step_projected`].
    pub fn input_projection<T: Float>(&self, p: &[Var<T>], x: Var<T>) -> Var<T> {
        x.affine(p[self.w_ih], p[self.b_ih])
    }

    /// One step from the projected input `gi = x W_ih + b_ih` (`[N, 3h]`) and `h [N, h]`.
    pub fn step_projected<T: Float>(&self, p: &[Var<T>], gi: Var<T>, h: Var<T>) -> Var<T> {
        let k = self.hidden;
        let gh = h.affine(p[self.w_hh], p[self.b_hh]);
        let r = (gi.narrow(1, 0, k) + gh.narrow(1, 0, k)).sigmoid();
        let z = (gi.narrow(1, k, k) + gh.narrow(1, k, k)).sigmoid();
        let n = (gi.narrow(1, 2 * k, k) + r * gh.narrow(1, 2 * k, k)).tanh();
        // (1 − z) n + z h, written with one product fewer.
        n + z * (h - n)
    }

    /// Runs the cell over a sequence `xs[t] [N, in]` from `h0 [N, h]`; returns every hidden
    /// state `h_1 … h_T` (backpropagation through time differentiates through all of them).
    pub fn unroll<T: Float>(&self, p: &[Var<T>], xs: &[Var<T>], h0: Var<T>) -> Vec<Var<T>> {
        let mut h = h0;
        xs.iter()
            .map(|&x| {
                h = self.forward(p, x, h);
                h
            })
            .collect()
    }
}
