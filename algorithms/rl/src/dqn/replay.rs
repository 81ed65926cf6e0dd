//! Experience replay: a ring buffer of transitions, n-step return accumulation, and
//! proportional prioritised replay on a sum tree (Schaul et al., 2016).

use std::collections::VecDeque;

use ndarray::Array2;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use autodidact_core::Rng;

/// One stored transition: `(s, a, R, s', done, discount)`, where `R` is the (n-step) return
/// and the TD target is `R + discount · (1 − done) · max_a' Q(s', a')`.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// The observation the action was taken in.
    pub obs: Vec<f32>,
    /// The action.
    pub action: usize,
    /// The (discounted, n-step) return.
    pub reward: f32,
    /// The observation to bootstrap from.
    pub next_obs: Vec<f32>,
    /// Whether `next_obs` is terminal (a time-limit truncation is not).
    pub done: bool,
    /// `γ^k`, with `k` the number of rewards in `reward`.
    pub discount: f32,
}

/// A ring buffer of transitions, stored column-wise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayBuffer {
    capacity: usize,
    obs_dim: usize,
    pos: usize,
    len: usize,
    #[serde(with = "crate::checkpoint::f32_bits")]
    obs: Vec<f32>,
    #[serde(with = "crate::checkpoint::f32_bits")]
    next_obs: Vec<f32>,
    actions: Vec<u32>,
    #[serde(with = "crate::checkpoint::f32_bits")]
    rewards: Vec<f32>,
    dones: Vec<bool>,
    #[serde(with = "crate::checkpoint::f32_bits")]
    discounts: Vec<f32>,
}

/// A sampled minibatch.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Slots sampled.
    pub indices: Vec<usize>,
    /// Observations, `[B, obs_dim]`.
    pub obs: Array2<f32>,
    /// Actions.
    pub actions: Vec<usize>,
    /// Returns.
    pub rewards: Vec<f32>,
    /// Next observations, `[B, obs_dim]`.
    pub next_obs: Array2<f32>,
    /// Terminal flags (1 terminal, 0 not).
    pub dones: Vec<f32>,
    /// Bootstrap discounts `γ^k`.
    pub discounts: Vec<f32>,
}

impl ReplayBuffer {
    /// An empty buffer (memory grows as it fills).
    pub fn new(capacity: usize, obs_dim: usize) -> ReplayBuffer {
        ReplayBuffer {
            capacity: capacity.max(1),
            obs_dim,
            pos: 0,
            len: 0,
            obs: Vec::new(),
            next_obs: Vec::new(),
            actions: Vec::new(),
            rewards: Vec::new(),
            dones: Vec::new(),
            discounts: Vec::new(),
        }
    }

    /// Transitions held.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    /// Floats per observation.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// Stores a transition, overwriting the oldest when full; returns its slot.
    pub fn push(&mut self, t: &Transition) -> usize {
        let d = self.obs_dim;
        let slot = self.pos;
        if self.len < self.capacity && slot == self.actions.len() {
            self.obs.extend_from_slice(&t.obs[..d]);
            self.next_obs.extend_from_slice(&t.next_obs[..d]);
            self.actions.push(t.action as u32);
            self.rewards.push(t.reward);
            self.dones.push(t.done);
            self.discounts.push(t.discount);
        } else {
            self.obs[slot * d..(slot + 1) * d].copy_from_slice(&t.obs[..d]);
            self.next_obs[slot * d..(slot + 1) * d].copy_from_slice(&t.next_obs[..d]);
            self.actions[slot] = t.action as u32;
            self.rewards[slot] = t.reward;
            self.dones[slot] = t.done;
            self.discounts[slot] = t.discount;
        }
        self.pos = (self.pos + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
        slot
    }

    /// `n` slots drawn uniformly with replacement (Stable-Baselines3's sampling).
    pub fn sample_uniform(&self, n: usize, rng: &mut Rng) -> Vec<usize> {
        (0..n).map(|_| rng.random_range(0..self.len)).collect()
    }

    /// Whether the transition in a slot is terminal.
    pub fn done(&self, slot: usize) -> bool {
        self.dones[slot]
    }

    /// The return stored in a slot.
    pub fn reward(&self, slot: usize) -> f32 {
        self.rewards[slot]
    }

    /// The bootstrap discount stored in a slot.
    pub fn discount(&self, slot: usize) -> f32 {
        self.discounts[slot]
    }

    /// The observation in a slot.
    pub fn obs(&self, slot: usize) -> &[f32] {
        &self.obs[slot * self.obs_dim..(slot + 1) * self.obs_dim]
    }

    /// The next observations of the given slots, `[n, obs_dim]`.
    pub fn next_obs_of(&self, indices: &[usize]) -> Array2<f32> {
        rows(&self.next_obs, self.obs_dim, indices)
    }

    /// The minibatch of the given slots.
    pub fn batch(&self, indices: &[usize]) -> Batch {
        Batch {
            indices: indices.to_vec(),
            obs: rows(&self.obs, self.obs_dim, indices),
            actions: indices.iter().map(|&i| self.actions[i] as usize).collect(),
            rewards: indices.iter().map(|&i| self.rewards[i]).collect(),
            next_obs: rows(&self.next_obs, self.obs_dim, indices),
            dones: indices
                .iter()
                .map(|&i| f32::from(u8::from(self.dones[i])))
                .collect(),
            discounts: indices.iter().map(|&i| self.discounts[i]).collect(),
        }
    }

    /// The return, terminal flag and discount of the given slots.
    pub fn scalars_of(&self, indices: &[usize]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        (
            indices.iter().map(|&i| self.rewards[i]).collect(),
            indices
                .iter()
                .map(|&i| f32::from(u8::from(self.dones[i])))
                .collect(),
            indices.iter().map(|&i| self.discounts[i]).collect(),
        )
    }
}

fn rows(data: &[f32], d: usize, indices: &[usize]) -> Array2<f32> {
    let mut out = Vec::with_capacity(indices.len() * d);
    for &i in indices {
        out.extend_from_slice(&data[i * d..(i + 1) * d]);
    }
    Array2::from_shape_vec((indices.len(), d), out)
        .unwrap_or_else(|_| Array2::zeros((indices.len(), d)))
}

/// Turns one-step experience into n-step transitions: `R = Σ_{i<k} γ^i r_i`, bootstrapping
/// from the observation `k` steps later with discount `γ^k` (`k = n`, or fewer at the end
/// of an episode; a truncated episode still bootstraps, a terminated one does not).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NStep {
    n: usize,
    gamma: f64,
    pending: VecDeque<Pending>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Pending {
    #[serde(with = "crate::checkpoint::f32_bits")]
    obs: Vec<f32>,
    action: usize,
    reward: f64,
}

impl NStep {
    /// An accumulator of `n`-step returns with discount `gamma`.
    pub fn new(n: usize, gamma: f64) -> NStep {
        NStep {
            n: n.max(1),
            gamma,
            pending: VecDeque::new(),
        }
    }

    /// Adds a step; calls `emit` for every transition that is complete.
    pub fn push(
        &mut self,
        obs: &[f32],
        action: usize,
        reward: f64,
        next_obs: &[f32],
        terminated: bool,
        truncated: bool,
        emit: &mut dyn FnMut(Transition),
    ) {
        self.pending.push_back(Pending {
            obs: obs.to_vec(),
            action,
            reward,
        });
        if terminated || truncated {
            while !self.pending.is_empty() {
                emit(self.make(next_obs, terminated));
                self.pending.pop_front();
            }
        } else if self.pending.len() >= self.n {
            emit(self.make(next_obs, false));
            self.pending.pop_front();
        }
    }

    fn make(&self, next_obs: &[f32], done: bool) -> Transition {
        let mut ret = 0.0;
        let mut disc = 1.0;
        for p in &self.pending {
            ret += disc * p.reward;
            disc *= self.gamma;
        }
        let first = &self.pending[0];
        Transition {
            obs: first.obs.clone(),
            action: first.action,
            reward: ret as f32,
            next_obs: next_obs.to_vec(),
            done,
            discount: disc as f32,
        }
    }
}

/// A sum tree with a min tree beside it: `O(log n)` priority updates, prefix-sum search and
/// the smallest priority.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SumTree {
    leaves: usize,
    sum: Vec<f64>,
    min: Vec<f64>,
}

impl SumTree {
    /// A tree of at least `capacity` leaves, all 0.
    pub fn new(capacity: usize) -> SumTree {
        let leaves = capacity.max(1).next_power_of_two();
        SumTree {
            leaves,
            sum: vec![0.0; 2 * leaves],
            min: vec![f64::MAX; 2 * leaves],
        }
    }

    /// Sets leaf `i` to `p`.
    pub fn set(&mut self, i: usize, p: f64) {
        let mut k = i + self.leaves;
        self.sum[k] = p;
        self.min[k] = p;
        while k > 1 {
            k /= 2;
            self.sum[k] = self.sum[2 * k] + self.sum[2 * k + 1];
            self.min[k] = self.min[2 * k].min(self.min[2 * k + 1]);
        }
    }

    /// Leaf `i`.
    pub fn get(&self, i: usize) -> f64 {
        self.sum[i + self.leaves]
    }

    /// Sum of all leaves.
    pub fn total(&self) -> f64 {
        self.sum[1]
    }

    /// Smallest leaf that was set.
    pub fn min(&self) -> f64 {
        self.min[1]
    }

    /// The leaf whose prefix-sum interval holds `u` (`0 <= u < total`).
    pub fn find(&self, mut u: f64) -> usize {
        let mut k = 1;
        while k < self.leaves {
            let left = self.sum[2 * k];
            if u < left {
                k *= 2;
            } else {
                u -= left;
                k = 2 * k + 1;
            }
        }
        k - self.leaves
    }
}

/// Proportional prioritisation over a buffer's slots: `P(i) ∝ (|δ_i| + ε)^α`, new
/// transitions at the largest priority so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Priorities {
    tree: SumTree,
    alpha: f64,
    eps: f64,
    max_priority: f64,
}

impl Priorities {
    /// Priorities for `capacity` slots.
    pub fn new(capacity: usize, alpha: f64, eps: f64) -> Priorities {
        Priorities {
            tree: SumTree::new(capacity),
            alpha,
            eps,
            max_priority: 1.0,
        }
    }

    /// A new transition in `slot` gets the largest priority so far.
    pub fn insert(&mut self, slot: usize) {
        self.tree.set(slot, self.max_priority.powf(self.alpha));
    }

    /// Sets slots' priorities from their absolute TD errors.
    pub fn update(&mut self, slots: &[usize], td_abs: &[f32]) {
        for (&s, &d) in slots.iter().zip(td_abs) {
            let p = f64::from(d).abs() + self.eps;
            self.max_priority = self.max_priority.max(p);
            self.tree.set(s, p.powf(self.alpha));
        }
    }

    /// The probability of drawing `slot`.
    pub fn probability(&self, slot: usize) -> f64 {
        self.tree.get(slot) / self.tree.total()
    }

    /// Draws `n` slots of a buffer holding `len`, one from each of `n` equal strata of the
    /// total priority, with importance weights `(len · P(i))^(−β) / max_j (len · P(j))^(−β)`.
    pub fn sample(&self, n: usize, len: usize, beta: f64, rng: &mut Rng) -> (Vec<usize>, Vec<f32>) {
        let total = self.tree.total();
        let seg = total / n as f64;
        let p_min = self.tree.min() / total;
        let max_w = (len as f64 * p_min).powf(-beta);
        let mut idx = Vec::with_capacity(n);
        let mut w = Vec::with_capacity(n);
        for i in 0..n {
            let u = (i as f64 + rng.random::<f64>()) * seg;
            let mut s = self.tree.find(u.min(total * (1.0 - 1e-12)));
            if s >= len || self.tree.get(s) <= 0.0 {
                // Rounding at the right edge: fall back to the last filled slot.
                s = len - 1;
            }
            let p = self.tree.get(s) / total;
            idx.push(s);
            w.push(((len as f64 * p).powf(-beta) / max_w) as f32);
        }
        (idx, w)
    }
}
