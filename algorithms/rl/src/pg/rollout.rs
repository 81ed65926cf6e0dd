//! The on-policy rollout: what `n_steps` lockstep steps of `n_envs` copies produced, and the
//! advantages and returns computed from it.
//!
//! Rows are stored step-major (row `t · n_envs + i` is copy `i` at step `t`). A time-limit
//! truncation is not an ending of the task: as in Stable-Baselines3, the step's reward gets
//! `γ V(final observation)` added and the episode is then cut like a terminal one, so the
//! advantage bootstraps from the state the limit interrupted.

use serde::{Deserialize, Serialize};

use crate::checkpoint::f32_bits;

/// One rollout's data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// Copies stepped together.
    pub n_envs: usize,
    /// Floats per observation.
    pub obs_dim: usize,
    /// Floats per stored action (1 for a discrete choice).
    pub act_dim: usize,
    /// Observations acted on, `[rows, obs_dim]`.
    #[serde(with = "f32_bits")]
    pub obs: Vec<f32>,
    /// Actions taken: the choice, or the Gaussian sample before clipping or squashing,
    /// `[rows, act_dim]`.
    #[serde(with = "f32_bits")]
    pub actions: Vec<f32>,
    /// Rewards (with the truncation bootstrap added).
    pub rewards: Vec<f64>,
    /// Whether the episode ended with this step (terminal or truncated).
    pub dones: Vec<bool>,
    /// `V(s)` when acting.
    #[serde(with = "f32_bits")]
    pub values: Vec<f32>,
    /// `log π(a|s)` when acting.
    pub log_probs: Vec<f64>,
}

impl Rollout {
    /// An empty rollout for `n_envs` copies.
    pub fn new(n_envs: usize, obs_dim: usize, act_dim: usize) -> Rollout {
        Rollout {
            n_envs,
            obs_dim,
            act_dim,
            ..Rollout::default()
        }
    }

    /// Rows stored.
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    /// Lockstep steps stored.
    pub fn steps(&self) -> usize {
        self.len() / self.n_envs.max(1)
    }

    /// Empties the rollout, keeping its allocations.
    pub fn clear(&mut self) {
        self.obs.clear();
        self.actions.clear();
        self.rewards.clear();
        self.dones.clear();
        self.values.clear();
        self.log_probs.clear();
    }

    /// The discrete action of row `r`.
    pub fn discrete_action(&self, r: usize) -> usize {
        self.actions[r * self.act_dim] as usize
    }
}

/// Generalised advantage estimation (Schulman et al., 2016), step-major rows of `n_envs`
/// copies: `δ_t = r_t + γ (1 − done_t) V_{t+1} − V_t`, `A_t = δ_t + γλ (1 − done_t) A_{t+1}`,
/// with `V` after the last step `last_values`; returns `(A, A + V)`. λ = 1 gives the n-step
/// return to the end of the rollout minus `V`, λ = 0 the one-step TD error.
pub fn gae(
    rewards: &[f64],
    values: &[f32],
    dones: &[bool],
    last_values: &[f32],
    n_envs: usize,
    gamma: f64,
    lambda: f64,
) -> (Vec<f64>, Vec<f64>) {
    let rows = rewards.len();
    let mut adv = vec![0.0f64; rows];
    let mut next_adv = vec![0.0f64; n_envs];
    let mut next_value: Vec<f64> = last_values.iter().map(|&v| f64::from(v)).collect();
    for r in (0..rows).rev() {
        let i = r % n_envs;
        let live = if dones[r] { 0.0 } else { 1.0 };
        let v = f64::from(values[r]);
        let delta = rewards[r] + gamma * live * next_value[i] - v;
        let a = delta + gamma * lambda * live * next_adv[i];
        adv[r] = a;
        next_adv[i] = a;
        next_value[i] = v;
    }
    let returns = adv
        .iter()
        .zip(values)
        .map(|(a, &v)| a + f64::from(v))
        .collect();
    (adv, returns)
}

/// The reward-to-go `G_t = Σ_{k ≥ t} γ^{k−t} r_k` of one finished episode.
pub fn reward_to_go(rewards: &[f64], gamma: f64) -> Vec<f64> {
    let mut g = 0.0;
    let mut out = vec![0.0; rewards.len()];
    for t in (0..rewards.len()).rev() {
        g = rewards[t] + gamma * g;
        out[t] = g;
    }
    out
}

/// `x` shifted and scaled to mean 0 and standard deviation 1 (sample std, + 1e-8 as
/// Stable-Baselines3); one value is left at 0.
pub fn normalize(x: &mut [f64]) {
    let n = x.len();
    if n == 0 {
        return;
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    let sd = var.sqrt() + 1e-8;
    x.iter_mut().for_each(|v| *v = (*v - mean) / sd);
}
