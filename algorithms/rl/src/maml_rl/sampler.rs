//! Batches of episodes of one task, padded to a common length.
//!
//! `n` copies of the task's environment run in lockstep under one set of weights; copy `i`
//! is reset with `seed.index(i)`, and an episode ends when the environment ends it or after
//! `horizon` steps. Rows are episode-major (`i · H + t`), padded with zeros and a mask of 0,
//! so the objectives see `[n, H]` arrays.

use autodidact_core::{Environment, Rng, Seed, Tensor};

use super::policy::Policy;
use crate::errors::Result;

/// The episodes of one task under one set of weights.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Episodes {
    /// Episodes.
    pub n: usize,
    /// Padded length: the longest episode.
    pub horizon: usize,
    /// Floats per observation.
    pub obs_dim: usize,
    /// Floats per stored action.
    pub act_dim: usize,
    /// Observations acted on, `[n · H, obs_dim]` (zeros on padding).
    pub obs: Vec<f32>,
    /// Stored actions, `[n · H, act_dim]` (zeros on padding).
    pub actions: Vec<f32>,
    /// Rewards, `[n · H]`.
    pub rewards: Vec<f64>,
    /// 1 on real steps, 0 on padding, `[n · H]`.
    pub mask: Vec<f64>,
    /// Each episode's length.
    pub lengths: Vec<usize>,
    /// Whether the environment cut an episode by its own time limit (the limit, if so).
    pub env_limit: Option<usize>,
    /// The `optimal_return` the environment reported at reset, when it did.
    pub optimal_return: Option<f64>,
}

impl Episodes {
    /// Each episode's undiscounted return.
    pub fn returns(&self) -> Vec<f64> {
        (0..self.n)
            .map(|i| {
                self.rewards[i * self.horizon..(i + 1) * self.horizon]
                    .iter()
                    .sum()
            })
            .collect()
    }

    /// The mean undiscounted return.
    pub fn mean_return(&self) -> f64 {
        let r = self.returns();
        r.iter().sum::<f64>() / r.len().max(1) as f64
    }

    /// Real steps.
    pub fn steps(&self) -> usize {
        self.lengths.iter().sum()
    }
}

/// Runs `n` episodes of `env` under weights `w` (sampling with `rng`, or the most likely
/// actions when `None`); copy `i` starts with `reset(Some(seed.index(i)))`.
pub fn sample_episodes(
    env: &dyn Environment,
    policy: &Policy,
    w: &[Tensor<f32>],
    n: usize,
    horizon: usize,
    seed: Seed,
    mut rng: Option<&mut Rng>,
) -> Result<Episodes> {
    let (d, k) = (policy.obs_dim, policy.act_dim());
    let mut envs: Vec<Box<dyn Environment>> = (0..n).map(|_| env.clone_box()).collect();
    let mut obs: Vec<Vec<f32>> = Vec::with_capacity(n);
    let mut optimal = None;
    for (i, e) in envs.iter_mut().enumerate() {
        let (o, info) = e.reset(Some(seed.index(i as u64).0));
        if let Some(&v) = info.get("optimal_return") {
            optimal = Some(v);
        }
        obs.push(o);
    }
    // Per episode, in time order.
    let mut ep_obs: Vec<Vec<f32>> = vec![Vec::new(); n];
    let mut ep_act: Vec<Vec<f32>> = vec![Vec::new(); n];
    let mut ep_rew: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut live: Vec<usize> = (0..n).collect();
    let mut env_limit = None;
    let mut t = 0;
    while !live.is_empty() && t < horizon {
        let batch: Vec<f32> = live.iter().flat_map(|&i| obs[i].iter().copied()).collect();
        let acts = policy.act(w, &batch, rng.as_deref_mut())?;
        let mut still = Vec::with_capacity(live.len());
        for (&i, (stored, action)) in live.iter().zip(acts) {
            let r = envs[i].step(&action)?;
            ep_obs[i].extend_from_slice(&obs[i]);
            ep_act[i].extend_from_slice(&stored);
            ep_rew[i].push(r.reward);
            if r.truncated && !r.terminated {
                env_limit = Some(t + 1);
            }
            if !(r.terminated || r.truncated) {
                still.push(i);
            }
            obs[i] = r.obs;
        }
        live = still;
        t += 1;
    }
    let lengths: Vec<usize> = ep_rew.iter().map(Vec::len).collect();
    let h = lengths.iter().copied().max().unwrap_or(0).max(1);
    let mut e = Episodes {
        n,
        horizon: h,
        obs_dim: d,
        act_dim: k,
        obs: vec![0.0; n * h * d],
        actions: vec![0.0; n * h * k],
        rewards: vec![0.0; n * h],
        mask: vec![0.0; n * h],
        lengths,
        env_limit,
        optimal_return: optimal,
    };
    for i in 0..n {
        let len = e.lengths[i];
        e.obs[i * h * d..(i * h + len) * d].copy_from_slice(&ep_obs[i]);
        e.actions[i * h * k..(i * h + len) * k].copy_from_slice(&ep_act[i]);
        e.rewards[i * h..i * h + len].copy_from_slice(&ep_rew[i]);
        e.mask[i * h..i * h + len].fill(1.0);
    }
    Ok(e)
}
