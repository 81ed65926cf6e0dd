//! RL²'s recurrent actor-critic: a GRU over the trial's inputs, a linear policy head
//! (logits) and a linear value head on its hidden state.
//!
//! The input at step `t` is RL²'s tuple `(s_t, a_{t−1}, r_{t−1}, d_{t−1})`: the observation
//! (one-hot when the space is discrete), the previous action one-hot, the previous reward and
//! whether the previous step ended an episode. All zeros but the observation at a trial's
//! first step. Acting and training run the same ops on the tape (acting without recording),
//! so the log-probabilities stored when acting are those the update recomputes.

use autodidact_core::{
    no_grad, Float, GruCell, Init, Linear, Params, Rng, Space, Tape, Tensor, Var,
};
use ndarray::{Array2, Ix2};
use serde::{Deserialize, Serialize};

use crate::errors::{Result, RlError};
use crate::pg::network::orthogonal;

/// How an observation enters the input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ObsEncoding {
    /// A discrete observation `[i]` as a one-hot of `n`.
    OneHot(usize),
    /// A box observation as its floats.
    Raw(usize),
}

impl ObsEncoding {
    /// The encoding of a space (one-hot up to 4096 choices).
    pub fn of(space: &Space) -> ObsEncoding {
        match space {
            Space::Discrete(n) if *n <= 4096 => ObsEncoding::OneHot(*n),
            other => ObsEncoding::Raw(other.flat_dim()),
        }
    }
    /// Floats it takes in the input.
    pub fn width(&self) -> usize {
        match self {
            ObsEncoding::OneHot(n) | ObsEncoding::Raw(n) => *n,
        }
    }
}

/// The network's layout (indices into a [`Params`] store).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecurrentPolicy {
    /// The recurrent core.
    pub gru: GruCell,
    /// Hidden state → logits.
    pub policy: Linear,
    /// Hidden state → value.
    pub value: Linear,
    /// The observation's encoding.
    pub obs: ObsEncoding,
    /// Discrete actions.
    pub actions: usize,
}

impl RecurrentPolicy {
    /// Adds `gru.*`, `pi.*` and `vf.*` to `params`: the GRU with PyTorch's initialisation, the
    /// heads orthogonal (gain 0.01 for the policy, so the first policy is nearly uniform; 1 for
    /// the value) with zero biases.
    pub fn new(
        params: &mut Params<f32>,
        obs: ObsEncoding,
        actions: usize,
        hidden: usize,
        rng: &mut Rng,
    ) -> RecurrentPolicy {
        let input = obs.width() + actions + 2;
        let gru = GruCell::new(params, "gru", input, hidden, rng);
        let policy = Linear::new(params, "pi", hidden, actions, true, Init::TorchDefault, rng);
        let value = Linear::new(params, "vf", hidden, 1, true, Init::TorchDefault, rng);
        let t = params.tensors_mut();
        for (l, gain) in [(&policy, 0.01), (&value, 1.0)] {
            t[l.weight] = orthogonal(l.in_dim, l.out_dim, gain, rng).into_dyn();
            if let Some(b) = l.bias {
                t[b].fill(0.0);
            }
        }
        RecurrentPolicy {
            gru,
            policy,
            value,
            obs,
            actions,
        }
    }

    /// Floats per input row.
    pub fn input_dim(&self) -> usize {
        self.gru.in_dim
    }
    /// GRU units.
    pub fn hidden(&self) -> usize {
        self.gru.hidden
    }

    /// Appends one input row `(s, a_prev, r_prev, d_prev)` to `out`.
    pub fn push_input(
        &self,
        obs: &[f32],
        prev_action: Option<usize>,
        prev_reward: f64,
        prev_done: bool,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        match self.obs {
            ObsEncoding::OneHot(n) => {
                let i = obs.first().copied().unwrap_or(-1.0);
                if obs.len() != 1 || i < 0.0 || i as usize >= n {
                    return Err(RlError::Numerical(format!(
                        "a discrete observation of {n} choices was {obs:?}"
                    )));
                }
                out.extend((0..n).map(|j| if j == i as usize { 1.0 } else { 0.0 }));
            }
            ObsEncoding::Raw(d) => {
                if obs.len() != d {
                    return Err(RlError::Numerical(format!(
                        "an observation of {} floats, {d} declared",
                        obs.len()
                    )));
                }
                out.extend_from_slice(obs);
            }
        }
        out.extend((0..self.actions).map(|j| if Some(j) == prev_action { 1.0 } else { 0.0 }));
        out.push(prev_reward as f32);
        out.push(if prev_done { 1.0 } else { 0.0 });
        Ok(())
    }

    /// A sequence on the tape: inputs `x [T·B, in]` time-major (row `t·B + b` is trial `b` at
    /// step `t`) from `h0 [B, h]`; returns logits `[T·B, actions]` and values `[T·B]` (the
    /// input projection is one product for the whole sequence).
    pub fn forward<T: Float>(
        &self,
        p: &[Var<T>],
        x: Var<T>,
        h0: Var<T>,
        steps: usize,
        batch: usize,
    ) -> (Var<T>, Var<T>) {
        let gi = self.gru.input_projection(p, x);
        let mut h = h0;
        let mut hs = Vec::with_capacity(steps);
        for t in 0..steps {
            h = self
                .gru
                .step_projected(p, gi.narrow(0, t * batch, batch), h);
            hs.push(h);
        }
        let all = Var::concat(&hs, 0);
        let logits = self.policy.forward(p, all);
        let values = self.value.forward(p, all).reshape(&[steps * batch]);
        (logits, values)
    }

    /// One step for `B` trials without recording: inputs `[B, in]`, hidden `[B, h]` →
    /// logits `[B, actions]`, values, and the next hidden state.
    pub fn act(
        &self,
        params: &Params<f32>,
        x: Array2<f32>,
        h: Array2<f32>,
    ) -> Result<(Array2<f32>, Vec<f32>, Array2<f32>)> {
        let _tape = Tape::<f32>::new();
        no_grad(|| {
            let p: Vec<Var<f32>> = params.tensors().iter().map(Var::constant_from).collect();
            let h2 = self
                .gru
                .forward(&p, Var::constant(x.into_dyn()), Var::constant(h.into_dyn()));
            let logits = self.policy.forward(&p, h2).value();
            let values = self.value.forward(&p, h2).value();
            let two = |a: Tensor<f32>| {
                a.into_dimensionality::<Ix2>()
                    .map_err(|e| RlError::Numerical(format!("network output: {e}")))
            };
            Ok((
                two(logits)?,
                values.iter().copied().collect(),
                two(h2.value())?,
            ))
        })
    }
}
