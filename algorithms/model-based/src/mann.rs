//! MANN (Santoro et al. 2016): an LSTM controller that reads from and writes to an external
//! memory with Least Recently Used Access.
//!
//! At step t the controller sees `[e(x_t), y_{t−1}, r_{t−1}]`; its output `h_t` gives each head
//! a key `k_t = tanh(W_k h_t)` and a write gate `α_t = W_α h_t`. The heads write `k_t` into the
//! memory (the previous step's read slots or the least-used ones), then read it back by
//! cosine similarity; the prediction is `softmax(W_o [h_t, r_t])`.

use autodidact_core::{Float, Init, Linear, Params, Rng, Var};
use serde::{Deserialize, Serialize};

use crate::memory::{initial_state, lrua_step, MemoryState, Usage};

/// MANN's memory interface: the layer from the controller's output to keys and gates, and the
/// memory's shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mann {
    /// `[hidden] → [heads · (width + 1)]`: each head's key, then each head's gate logit.
    pub interface: Linear,
    /// Memory slots.
    pub slots: usize,
    /// Values per slot.
    pub width: usize,
    /// Read heads.
    pub heads: usize,
    /// Usage decay γ.
    pub gamma: f64,
}

impl Mann {
    /// Adds the interface layer to `params`.
    pub fn new<T: Float>(
        params: &mut Params<T>,
        hidden: usize,
        slots: usize,
        width: usize,
        heads: usize,
        gamma: f64,
        rng: &mut Rng,
    ) -> Mann {
        let interface = Linear::new(
            params,
            "mann.interface",
            hidden,
            heads * (width + 1),
            true,
            Init::XavierUniform,
            rng,
        );
        Mann {
            interface,
            slots,
            width,
            heads,
            gamma,
        }
    }

    /// Values the controller reads from the memory per step (all heads' read vectors).
    pub fn read_dim(&self) -> usize {
        self.heads * self.width
    }

    /// The memory before the first step.
    pub fn start<T: Float>(&self, batch: usize) -> (MemoryState<T>, Usage<T>) {
        initial_state(batch, self.heads, self.slots, self.width)
    }

    /// The previous reads flattened for the controller's input, `[B, heads · width]`.
    pub fn controller_input<T: Float>(&self, state: &MemoryState<T>) -> Var<T> {
        let b = state.reads.shape()[0];
        state.reads.reshape(&[b, self.read_dim()])
    }

    /// One memory step from the controller's output `h [B, hidden]`; returns the new state
    /// and the reads flattened `[B, heads · width]` for the output layer.
    pub fn step<T: Float>(
        &self,
        p: &[Var<T>],
        h: Var<T>,
        state: &MemoryState<T>,
        usage: &Usage<T>,
    ) -> (MemoryState<T>, Usage<T>, Var<T>) {
        let b = h.shape()[0];
        let (hw, hd) = (self.heads * self.width, self.heads);
        let out = self.interface.forward(p, h);
        let keys = out
            .narrow(1, 0, hw)
            .tanh()
            .reshape(&[b, self.heads, self.width]);
        let gates = out.narrow(1, hw, hd).reshape(&[b, self.heads, 1]);
        let (next, usage) = lrua_step(state, usage, keys, gates, self.gamma);
        let reads = self.controller_input(&next);
        (next, usage, reads)
    }
}
