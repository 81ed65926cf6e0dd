//! The external memory of MANN and its Least Recently Used Access (Santoro et al. 2016, §3.1),
//! as functions of core's differentiable ops, batched over episodes.
//!
//! Shapes: memory `M [B, slots, width]`, keys `k [B, heads, width]`, weights
//! `w [B, heads, slots]`, usage `u [B, slots]`.

use autodidact_core::{Float, Tensor, Var};
use ndarray::IxDyn;

/// Norms below this count as zero, so an empty slot or key has similarity 0, not NaN.
const NORM_FLOOR: f64 = 1e-8;

/// What LRUA carries from one step to the next.
#[derive(Clone, Copy, Debug)]
pub struct MemoryState<T: Float> {
    /// The memory `M_{t−1}`, `[B, slots, width]`.
    pub memory: Var<T>,
    /// The read weights `w^r_{t−1}`, `[B, heads, slots]`.
    pub read_weights: Var<T>,
    /// The read vectors `r_{t−1}`, `[B, heads, width]` (fed to the controller).
    pub reads: Var<T>,
}

/// Usage `w^u_{t−1}`, `[B, slots]`. Kept as plain values: it enters the model only through
/// which slots are least used, a ranking with zero gradient almost everywhere.
pub type Usage<T> = Tensor<T>;

/// The state before the first step: a memory of tiny equal entries (so cosine similarities are
/// defined and equal: the first reads are uniform), uniform read weights, zero reads and usage.
pub fn initial_state<T: Float>(
    batch: usize,
    heads: usize,
    slots: usize,
    width: usize,
) -> (MemoryState<T>, Usage<T>) {
    let state = MemoryState {
        memory: Var::constant(Tensor::from_elem(
            IxDyn(&[batch, slots, width]),
            T::of(1e-6),
        )),
        read_weights: Var::constant(Tensor::from_elem(
            IxDyn(&[batch, heads, slots]),
            T::of(1.0 / slots as f64),
        )),
        reads: Var::constant(Tensor::zeros(IxDyn(&[batch, heads, width]))),
    };
    (state, Tensor::zeros(IxDyn(&[batch, slots])))
}

/// Content-based addressing: `w(i) = softmax_i β K(k, M(i))` with `K` the cosine similarity,
/// `[B, heads, slots]`; `strength` is β per head, `[B, heads, 1]` (`None`: β = 1, the paper's
/// form).
pub fn content_weights<T: Float>(keys: Var<T>, memory: Var<T>, strength: Option<Var<T>>) -> Var<T> {
    let unit = |v: Var<T>| {
        v / v
            .square()
            .sum_axes(&[2], true)
            .sqrt()
            .maximum_scalar(NORM_FLOOR)
    };
    let similarity = unit(keys).matmul_nt(unit(memory));
    match strength {
        Some(beta) => (similarity * beta).softmax(2),
        None => similarity.softmax(2),
    }
}

/// The read vectors `r = Σ_i w(i) M(i)`, `[B, heads, width]`.
pub fn read<T: Float>(weights: Var<T>, memory: Var<T>) -> Var<T> {
    weights.matmul(memory)
}

/// The least-used weights `w^lu`: 1 at the `n` least-used slots of each episode, 0 elsewhere
/// (`[B, 1, slots]`, shared by the heads). Ties go to the lower slot index.
pub fn least_used_weights<T: Float>(usage: &Usage<T>, n: usize) -> Tensor<T> {
    let (batch, slots) = (usage.shape()[0], usage.shape()[1]);
    let mut out = Tensor::<T>::zeros(IxDyn(&[batch, 1, slots]));
    for b in 0..batch {
        let mut order: Vec<usize> = (0..slots).collect();
        // Stable sort: equal usages keep slot order, so the choice is deterministic.
        order.sort_by(|&i, &j| {
            usage[[b, i]]
                .partial_cmp(&usage[[b, j]])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        for &i in order.iter().take(n) {
            out[[b, 0, i]] = T::one();
        }
    }
    out
}

/// The least-used slot of each episode (the first on ties).
pub fn least_used_slot<T: Float>(usage: &Usage<T>) -> Vec<usize> {
    usage
        .outer_iter()
        .map(|row| {
            let mut best = (0, T::infinity());
            for (i, &u) in row.iter().enumerate() {
                // Strict `<`: the first of equal usages wins.
                if u < best.1 {
                    best = (i, u);
                }
            }
            best.0
        })
        .collect()
}

/// The write weights `w^w = σ(α) w^r_{t−1} + (1 − σ(α)) w^lu_{t−1}`: a learned gate per head
/// between the slot just read (update what was retrieved) and a least-used slot (store
/// something new). `gate_logits` is `[B, heads, 1]`.
pub fn write_weights<T: Float>(
    gate_logits: Var<T>,
    prev_read: Var<T>,
    least_used: &Tensor<T>,
) -> Var<T> {
    let g = gate_logits.sigmoid();
    g * prev_read + (1.0 - g) * Var::constant_from(least_used)
}

/// `M ← M` with each episode's least-used slot (by the previous usage) set to zero, before
/// writing: the slot about to be overwritten forgets its old content.
pub fn erase_least_used<T: Float>(memory: Var<T>, usage: &Usage<T>) -> Var<T> {
    let shape = memory.shape();
    let mut keep = Tensor::<T>::from_elem(IxDyn(&[shape[0], shape[1], 1]), T::one());
    for (b, slot) in least_used_slot(usage).into_iter().enumerate() {
        keep[[b, slot, 0]] = T::zero();
    }
    memory * Var::constant(keep)
}

/// `M_t(i) = M_{t−1}(i) + Σ_heads w^w(i) k`: every head adds its key where it writes.
pub fn write<T: Float>(memory: Var<T>, write_weights: Var<T>, keys: Var<T>) -> Var<T> {
    memory + write_weights.matmul_tn(keys)
}

/// `w^u_t = γ w^u_{t−1} + Σ_heads (w^r_t + w^w_t)`.
pub fn update_usage<T: Float>(
    usage: &Usage<T>,
    gamma: f64,
    read_weights: &Tensor<T>,
    write_weights: &Tensor<T>,
) -> Usage<T> {
    let step = (read_weights + write_weights).sum_axis(ndarray::Axis(1));
    usage.mapv(|u| u * T::of(gamma)) + step
}

/// One LRUA step with keys `[B, heads, width]`, gate logits and optional key strengths
/// `[B, heads, 1]`: write (with the previous step's read and least-used weights), then read
/// the updated memory.
pub fn lrua_step<T: Float>(
    state: &MemoryState<T>,
    usage: &Usage<T>,
    keys: Var<T>,
    gate_logits: Var<T>,
    strength: Option<Var<T>>,
    gamma: f64,
) -> (MemoryState<T>, Usage<T>) {
    let heads = keys.shape()[1];
    let lu = least_used_weights(usage, heads);
    let ww = write_weights(gate_logits, state.read_weights, &lu);
    let memory = write(erase_least_used(state.memory, usage), ww, keys);
    let wr = content_weights(keys, memory, strength);
    let reads = read(wr, memory);
    // Copies: the tape's values cannot be borrowed twice at once.
    let usage = update_usage(usage, gamma, &wr.value(), &ww.value());
    (
        MemoryState {
            memory,
            read_weights: wr,
            reads,
        },
        usage,
    )
}
