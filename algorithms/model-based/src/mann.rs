//! MANN (Santoro et al. 2016): an LSTM controller that reads from and writes to an external
//! memory with Least Recently Used Access.
//!
//! At step t the controller sees `[e(x_t), y_{t−1}, r_{t−1}]`; its output `h_t` gives each head
//! a key `k_t = tanh(W_k h_t)` and a write gate `α_t = W_α h_t`. The heads write `k_t` into the
//! memory (the previous step's read slots or the least-used ones), then read it back by
//! cosine similarity; the prediction is `softmax(W_o [h_t, r_t])`.
//!
//! One addition, a switch (`key_strength`): the paper's softmax of raw cosines, which lie in
//! [−1, 1], can favour the best slot over another by at most e² ≈ 7.4, so with 128 slots a
//! read stays a blur. With `learned`, each head also emits a key strength
//! `β_t = 1 + softplus(W_β h_t + 8)` (the NTM's, Graves et al. 2014) multiplying the cosines.

use autodidact_core::{Float, Init, Linear, Params, Rng, Var};
use serde::{Deserialize, Serialize};

use crate::memory::{initial_state, lrua_step, MemoryState, Usage};

/// Added to the strength logits so an untrained head starts with β ≈ 9: focused enough that
/// reading back what was just written is possible from the first update.
const STRENGTH_OFFSET: f64 = 8.0;

/// MANN's memory interface: the layer from the controller's output to keys and gates, and the
/// memory's shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mann {
    /// `[hidden] → [heads · (width + 1 or 2)]`: each head's key, each head's gate logit, then
    /// each head's key strength when learned.
    pub interface: Linear,
    /// Whether each head learns a key strength β (else β = 1, the paper's form).
    pub learned_strength: bool,
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
        learned_strength: bool,
        rng: &mut Rng,
    ) -> Mann {
        let per_head = width + 1 + usize::from(learned_strength);
        let interface = Linear::new(
            params,
            "mann.interface",
            hidden,
            heads * per_head,
            true,
            Init::XavierUniform,
            rng,
        );
        Mann {
            interface,
            learned_strength,
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
        let strength = self.learned_strength.then(|| {
            out.narrow(1, hw + hd, hd)
                .add_scalar(STRENGTH_OFFSET)
                .softplus()
                .add_scalar(1.0)
                .reshape(&[b, self.heads, 1])
        });
        let (next, usage) = lrua_step(state, usage, keys, gates, strength, self.gamma);
        let reads = self.controller_input(&next);
        (next, usage, reads)
    }
}
