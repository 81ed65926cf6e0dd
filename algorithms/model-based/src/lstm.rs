//! The memory-less reference (Santoro et al.'s "LSTM" row): the same controller and inputs as
//! MANN, `[e(x_t), y_{t−1}]`, predicting from the LSTM's output alone. Whatever it learns about
//! an episode must live in its cell state; MANN adds a memory it can address by content.

use autodidact_core::{Float, LstmCell, Params, Rng, Var};

/// The recurrent core shared by both models: one LSTM step on `[B, in]` inputs.
pub fn controller<T: Float>(
    params: &mut Params<T>,
    in_dim: usize,
    hidden: usize,
    rng: &mut Rng,
) -> LstmCell {
    LstmCell::new(params, "controller", in_dim, hidden, rng)
}

/// One step of the memory-less learner: `(h, c) ← LSTM([e(x_t), y_{t−1}], h, c)`; the output
/// layer reads `h`.
pub fn step<T: Float>(
    cell: &LstmCell,
    p: &[Var<T>],
    input: Var<T>,
    h: Var<T>,
    c: Var<T>,
) -> (Var<T>, Var<T>) {
    cell.forward(p, input, h, c)
}
