//! The RL² agent: its state, one iteration (play a batch of trials, update), logging and
//! evaluation.

use std::sync::Arc;

use autodidact_core::config::Checked;
use autodidact_core::parallel::{self, ThreadPool};
use autodidact_core::{EnvDistribution, Metrics, Params, Rng, Seed, Space, Split};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use super::hyperparams::Rl2Params;
use super::network::{ObsEncoding, RecurrentPolicy};
use super::trials::{play, Play, Trial};
use super::update::update;
use crate::dqn::optimizer::DqnOptimizer;
use crate::errors::{Result, RlError};

/// Episode indices whose mean return is logged separately (the first few episodes of a
/// trial show the within-trial improvement).
const LOGGED_EPISODES: usize = 5;

/// Evaluation trials played in lockstep as one piece of work: the pieces are cut by the trial
/// count alone and each draws from generators of its own, so they run on any thread.
const EVAL_TRIALS_PER_PIECE: usize = 32;

/// Pieces of evaluation trials handed to the pool at once.
const EVAL_PIECES_PER_ROUND: usize = 64;

/// Sums over the gradient steps since the last log line.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Rl2Log {
    pub(crate) loss: f64,
    pub(crate) policy_loss: f64,
    pub(crate) value_loss: f64,
    pub(crate) entropy: f64,
    pub(crate) grad_norm: f64,
    pub(crate) approx_kl: f64,
    pub(crate) clip_fraction: f64,
    pub(crate) steps: u64,
    pub(crate) early_stops: u64,
    /// Trial returns and per-episode returns of the trials played since the last line.
    pub(crate) trial_return: f64,
    pub(crate) trials: u64,
    pub(crate) episode_return: Vec<f64>,
}

impl Rl2Log {
    pub(crate) fn add(&mut self, o: &Rl2Log) {
        self.loss += o.loss;
        self.policy_loss += o.policy_loss;
        self.value_loss += o.value_loss;
        self.entropy += o.entropy;
        self.grad_norm += o.grad_norm;
        self.approx_kl += o.approx_kl;
        self.clip_fraction += o.clip_fraction;
        self.steps += o.steps;
        self.early_stops += o.early_stops;
    }
}

/// An RL² agent bound to its task distribution.
pub struct Rl2Agent {
    pub(crate) p: Rl2Params,
    pub(crate) env_name: String,
    pub(crate) dist: Box<dyn EnvDistribution>,
    pub(crate) net: RecurrentPolicy,
    pub(crate) params: Params<f32>,
    pub(crate) opt: DqnOptimizer,
    pub(crate) rng_tasks: Rng,
    pub(crate) rng_act: Rng,
    pub(crate) rng_minibatch: Rng,
    pub(crate) steps_done: u64,
    pub(crate) iterations: u64,
    pub(crate) log: Rl2Log,
    pub(crate) eval_seed: Seed,
    /// Workers for the updates and the evaluation trials (`threads` > 1).
    pub(crate) pool: Option<Arc<ThreadPool>>,
}

impl Rl2Agent {
    /// An agent on `dist` (named `env_name` in messages); generators derive from `seed`
    /// (`init`, `tasks`, `act`, `minibatch`, `eval`).
    pub fn new(
        params: Checked<Rl2Params>,
        dist: Box<dyn EnvDistribution>,
        env_name: &str,
        seed: Seed,
    ) -> Result<Rl2Agent> {
        let p = params.into_inner();
        let template = dist.template();
        let actions = match template.action_space() {
            Space::Discrete(n) if n > 0 => n,
            other => {
                return Err(RlError::Incompatible {
                    algorithm: "rl2".into(),
                    env: env_name.into(),
                    reason: format!(
                        "RL² here has a categorical policy; the action space is {other:?}"
                    ),
                })
            }
        };
        let obs = ObsEncoding::of(&template.observation_space());
        let mut params = Params::new();
        let net = RecurrentPolicy::new(&mut params, obs, actions, p.hidden, &mut seed.rng("init"));
        let pool = parallel::pool_for(p.threads)?.map(Arc::new);
        Ok(Rl2Agent {
            pool,
            opt: DqnOptimizer::new(p.optimizer, p.learning_rate, p.optimizer_eps),
            rng_tasks: seed.rng("tasks"),
            rng_act: seed.rng("act"),
            rng_minibatch: seed.rng("minibatch"),
            steps_done: 0,
            iterations: 0,
            log: Rl2Log::default(),
            eval_seed: seed.derive("eval"),
            env_name: env_name.into(),
            dist,
            net,
            params,
            p,
        })
    }

    /// The hyperparameters.
    pub fn hyperparams(&self) -> &Rl2Params {
        &self.p
    }
    /// The network's layout.
    pub fn network(&self) -> &RecurrentPolicy {
        &self.net
    }
    /// The network's parameters.
    pub fn parameters(&self) -> &Params<f32> {
        &self.params
    }
    /// Updates done.
    pub fn iterations(&self) -> u64 {
        self.iterations
    }
    /// The step size now.
    pub fn learning_rate(&self) -> f64 {
        let f = self.steps_done as f64 / self.p.total_steps.max(1) as f64;
        self.p.learning_rate_schedule.at(self.p.learning_rate, f)
    }

    /// Plays `n` trials on environments drawn from `split` of `dist` with `tasks`.
    fn trials(
        &self,
        dist: &dyn EnvDistribution,
        split: Split,
        n: usize,
        tasks: &mut Rng,
        act: &mut Rng,
        deterministic: bool,
    ) -> Result<Vec<Trial>> {
        let mut envs = Vec::with_capacity(n);
        let mut seeds = Vec::with_capacity(n);
        for _ in 0..n {
            envs.push(dist.sample_env(split, tasks)?);
            seeds.push(Seed(tasks.random()));
        }
        let how = Play {
            net: &self.net,
            params: &self.params,
            episodes: self.p.episodes_per_trial,
            max_episode_steps: self.p.max_episode_steps,
            deterministic,
        };
        play(&how, envs, &seeds, act)
    }

    /// One iteration: a batch of training trials, then a PPO update on them.
    pub fn iterate(&mut self) -> Result<()> {
        let mut tasks = self.rng_tasks.clone();
        let mut act = self.rng_act.clone();
        let trials = self.trials(
            self.dist.as_ref(),
            Split::Train,
            self.p.trials_per_iteration,
            &mut tasks,
            &mut act,
            false,
        )?;
        self.rng_tasks = tasks;
        self.rng_act = act;
        // On the pool, so the update's large products split their rows across the workers.
        let pool = self.pool.clone();
        let log = parallel::install(pool.as_deref(), || update(self, &trials))?;
        self.log.add(&log);
        for t in &trials {
            self.log.trial_return += t.total();
            self.log.trials += 1;
            for (e, r) in t.episode_returns.iter().take(LOGGED_EPISODES).enumerate() {
                if self.log.episode_return.len() <= e {
                    self.log.episode_return.push(0.0);
                }
                self.log.episode_return[e] += r;
            }
            self.steps_done += t.len() as u64;
        }
        self.iterations += 1;
        Ok(())
    }

    /// The metrics of the log line due now; resets the sums.
    pub(crate) fn log_metrics(&mut self) -> Metrics {
        let mut m = Metrics::new();
        let l = std::mem::take(&mut self.log);
        m.insert("steps".into(), self.steps_done as f64);
        m.insert("iterations".into(), self.iterations as f64);
        m.insert("learning_rate".into(), self.learning_rate());
        if l.trials > 0 {
            let n = l.trials as f64;
            m.insert("trial_return_mean".into(), l.trial_return / n);
            for (e, r) in l.episode_return.iter().enumerate() {
                m.insert(format!("episode_{}_return_mean", e + 1), r / n);
            }
        }
        if l.steps > 0 {
            let n = l.steps as f64;
            m.insert("loss".into(), l.loss / n);
            m.insert("policy_loss".into(), l.policy_loss / n);
            m.insert("value_loss".into(), l.value_loss / n);
            m.insert("entropy".into(), l.entropy / n);
            m.insert("grad_norm".into(), l.grad_norm / n);
            m.insert("approx_kl".into(), l.approx_kl / n);
            m.insert("clip_fraction".into(), l.clip_fraction / n);
        }
        m.insert("early_stops".into(), l.early_stops as f64);
        m
    }

    /// `eval_trials` trials on test-split environments of `dist` (the training distribution
    /// when `None`), drawn from the evaluation seed, so every evaluation meets the same
    /// environments: the trial return's mean, standard deviation and standard error, and the
    /// mean return of each of the first episodes.
    ///
    /// The trials are played in pieces of at most [`EVAL_TRIALS_PER_PIECE`], piece `i` drawing
    /// its environments and actions from generators derived from the evaluation seed and `i`;
    /// the pieces run on the worker pool and are summed in trial order.
    pub fn evaluate_on(&self, dist: Option<&dyn EnvDistribution>) -> Result<Metrics> {
        let dist = dist.unwrap_or(self.dist.as_ref());
        let total = self.p.eval_trials as usize;
        let logged = self.p.episodes_per_trial.min(LOGGED_EPISODES);
        let pieces: Vec<(u64, usize)> = parallel::chunks(total, EVAL_TRIALS_PER_PIECE)
            .into_iter()
            .enumerate()
            .map(|(i, r)| (i as u64, r.len()))
            .collect();
        let play_piece = |&(i, n): &(u64, usize)| {
            let s = self.eval_seed.index(i);
            let trials = self.trials(
                dist,
                Split::Test,
                n,
                &mut s.rng("tasks"),
                &mut s.rng("act"),
                self.p.eval_deterministic,
            )?;
            Ok::<_, RlError>(
                trials
                    .iter()
                    .map(|t| {
                        let first: Vec<f64> =
                            t.episode_returns.iter().take(logged).copied().collect();
                        (t.total(), first)
                    })
                    .collect::<Vec<_>>(),
            )
        };
        let mut returns = Vec::with_capacity(total);
        let mut episodes = vec![0.0; logged];
        // Rounds of pieces bound the memory of what the pieces give back; a piece keeps only
        // each trial's return and its first episodes' returns.
        for round in pieces.chunks(EVAL_PIECES_PER_ROUND) {
            for piece in parallel::ordered_map(self.pool.as_deref(), round, play_piece) {
                for (ret, first) in piece? {
                    returns.push(ret);
                    for (e, r) in first.iter().enumerate() {
                        episodes[e] += r;
                    }
                }
            }
        }
        let n = returns.len().max(1) as f64;
        let mean = returns.iter().sum::<f64>() / n;
        let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        let mut m = Metrics::new();
        m.insert("eval_return_mean".into(), mean);
        m.insert("eval_return_std".into(), var.sqrt());
        m.insert("eval_return_se".into(), (var / n).sqrt());
        m.insert("eval_trials".into(), n);
        for (e, s) in episodes.iter().enumerate() {
            m.insert(format!("eval_episode_{}_return_mean", e + 1), s / n);
        }
        Ok(m)
    }
}
