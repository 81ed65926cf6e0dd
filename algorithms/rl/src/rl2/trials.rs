//! Running trials: each trial is one environment drawn from the distribution, played for
//! `episodes_per_trial` episodes with the GRU's hidden state carried across them (reset to
//! zero only when the next trial begins). Trials are stepped in lockstep, the network
//! batched over the ones still running.

use autodidact_core::{argmax_slice, Action, Environment, Rng, Seed};
use ndarray::Array2;

use super::network::RecurrentPolicy;
use crate::errors::{Result, RlError};
use crate::pg::distribution::{categorical_log_prob_one, sample_categorical};
use autodidact_core::Params;

/// What one trial produced.
#[derive(Clone, Debug, Default)]
pub(crate) struct Trial {
    /// Input rows `[T, in]`.
    pub(crate) inputs: Vec<f32>,
    /// Actions taken.
    pub(crate) actions: Vec<usize>,
    /// Rewards received.
    pub(crate) rewards: Vec<f64>,
    /// `V` when acting.
    pub(crate) values: Vec<f32>,
    /// `log π(a)` when acting.
    pub(crate) log_probs: Vec<f64>,
    /// Each episode's return, in order.
    pub(crate) episode_returns: Vec<f64>,
}

impl Trial {
    /// Steps in the trial.
    pub(crate) fn len(&self) -> usize {
        self.actions.len()
    }
    /// The trial's return (all its episodes).
    pub(crate) fn total(&self) -> f64 {
        self.episode_returns.iter().sum()
    }
}

/// How to act.
pub(crate) struct Play<'a> {
    pub(crate) net: &'a RecurrentPolicy,
    pub(crate) params: &'a Params<f32>,
    pub(crate) episodes: usize,
    pub(crate) max_episode_steps: u64,
    /// The most likely action instead of a draw.
    pub(crate) deterministic: bool,
}

struct Running {
    env: Box<dyn Environment>,
    reset_seed: Seed,
    obs: Vec<f32>,
    prev_action: Option<usize>,
    prev_reward: f64,
    prev_done: bool,
    episode: usize,
    episode_steps: u64,
    episode_return: f64,
    hidden: Vec<f32>,
    trial: Trial,
}

/// Plays one trial on each environment (episode `e` of trial `i` resets with
/// `seeds[i].index(e)`); `rng` draws the actions.
pub(crate) fn play(
    how: &Play<'_>,
    envs: Vec<Box<dyn Environment>>,
    seeds: &[Seed],
    rng: &mut Rng,
) -> Result<Vec<Trial>> {
    let (net, h_dim, in_dim) = (how.net, how.net.hidden(), how.net.input_dim());
    let mut runs: Vec<Running> = envs
        .into_iter()
        .zip(seeds)
        .map(|(mut env, &seed)| {
            let (obs, _) = env.reset(Some(seed.index(0).0));
            Running {
                env,
                reset_seed: seed,
                obs,
                prev_action: None,
                prev_reward: 0.0,
                prev_done: false,
                episode: 0,
                episode_steps: 0,
                episode_return: 0.0,
                hidden: vec![0.0; h_dim],
                trial: Trial::default(),
            }
        })
        .collect();
    loop {
        let live: Vec<usize> = (0..runs.len())
            .filter(|&i| runs[i].episode < how.episodes)
            .collect();
        if live.is_empty() {
            break;
        }
        let mut x = Vec::with_capacity(live.len() * in_dim);
        let mut h = Vec::with_capacity(live.len() * h_dim);
        for &i in &live {
            let r = &runs[i];
            net.push_input(&r.obs, r.prev_action, r.prev_reward, r.prev_done, &mut x)?;
            h.extend_from_slice(&r.hidden);
        }
        let shape = |rows, cols, v: Vec<f32>| {
            Array2::from_shape_vec((rows, cols), v)
                .map_err(|e| RlError::Numerical(format!("trial batch: {e}")))
        };
        let (logits, values, h2) = net.act(
            how.params,
            shape(live.len(), in_dim, x.clone())?,
            shape(live.len(), h_dim, h)?,
        )?;
        for (row, &i) in live.iter().enumerate() {
            let r = &mut runs[i];
            let l: Vec<f32> = logits.row(row).to_vec();
            let a = if how.deterministic {
                argmax_slice(&l)
            } else {
                sample_categorical(&l, rng)
            };
            r.trial
                .inputs
                .extend_from_slice(&x[row * in_dim..(row + 1) * in_dim]);
            r.trial.actions.push(a);
            r.trial.values.push(values[row]);
            r.trial.log_probs.push(categorical_log_prob_one(&l, a));
            r.hidden = h2.row(row).to_vec();
            let out = r.env.step(&Action::Discrete(a))?;
            r.trial.rewards.push(out.reward);
            r.episode_return += out.reward;
            r.episode_steps += 1;
            r.prev_action = Some(a);
            r.prev_reward = out.reward;
            let ended = out.terminated || out.truncated || r.episode_steps >= how.max_episode_steps;
            r.prev_done = ended;
            if ended {
                r.trial.episode_returns.push(r.episode_return);
                r.episode_return = 0.0;
                r.episode_steps = 0;
                r.episode += 1;
                if r.episode < how.episodes {
                    r.obs = r.env.reset(Some(r.reset_seed.index(r.episode as u64).0)).0;
                }
            } else {
                r.obs = out.obs;
            }
        }
    }
    Ok(runs.into_iter().map(|r| r.trial).collect())
}
