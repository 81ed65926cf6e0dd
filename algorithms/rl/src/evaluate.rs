//! Evaluation of greedy policies: returns and success over episodes, and, on environments
//! with a [`TabularModel`], the exact `q_error` and `value_gap` against the optimal solution.

use autodidact_core::{Action, Environment, Metrics, Seed, TabularModel};

use crate::dp::{policy_evaluation_exact, solve_optimal, start_value, Optimal, Policy, QTable};
use crate::errors::{Result, RlError};

/// Returns, lengths and successes of evaluation episodes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EpisodeStats {
    /// Undiscounted return of each episode.
    pub returns: Vec<f64>,
    /// Length of each episode.
    pub lengths: Vec<u64>,
    /// Whether each episode succeeded (see [`run_episodes`]).
    pub successes: Vec<bool>,
}

impl EpisodeStats {
    /// `eval_return_mean`, `eval_return_std` (population), `eval_length_mean`,
    /// `success_rate` and `eval_episodes`.
    pub fn metrics(&self) -> Metrics {
        let n = self.returns.len().max(1) as f64;
        let mean = self.returns.iter().sum::<f64>() / n;
        let var = self.returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n;
        let mut m = Metrics::new();
        m.insert("eval_return_mean".into(), mean);
        m.insert("eval_return_std".into(), var.sqrt());
        m.insert(
            "eval_length_mean".into(),
            self.lengths.iter().sum::<u64>() as f64 / n,
        );
        m.insert(
            "success_rate".into(),
            self.successes.iter().filter(|&&s| s).count() as f64 / n,
        );
        m.insert("eval_episodes".into(), self.returns.len() as f64);
        m
    }
}

/// The reward of reaching a goal: the largest reward of a transition that ends the episode.
pub fn goal_reward<M: TabularModel + ?Sized>(model: &M) -> Option<f64> {
    let mut best: Option<f64> = None;
    for s in 0..model.num_states() {
        if model.is_terminal(s) {
            continue;
        }
        for a in 0..model.num_actions() {
            for t in model.transitions(s, a) {
                if t.done {
                    best = Some(best.map_or(t.reward, |b: f64| b.max(t.reward)));
                }
            }
        }
    }
    best
}

/// Runs `episodes` episodes with the policy `act(observation, state index)`; episode `k` is
/// reset with `seed.index(k)` and cut after `max_steps` steps.
///
/// Success: the final step's info `is_success` (or `success`) when the environment gives
/// one; else, with a tabular model, ending in a terminal state with the goal reward (the
/// largest reward that ends an episode); else, surviving to the time limit without
/// terminating (CartPole's sense).
pub fn run_episodes(
    env: &mut dyn Environment,
    episodes: u64,
    seed: Seed,
    max_steps: u64,
    act: &mut dyn FnMut(&[f32], Option<usize>) -> usize,
) -> Result<EpisodeStats> {
    let goal = env.tabular().and_then(goal_reward);
    let mut stats = EpisodeStats::default();
    for k in 0..episodes {
        let (mut obs, _) = env.reset(Some(seed.index(k).0));
        let (mut ret, mut len) = (0.0, 0u64);
        let success = loop {
            let a = act(&obs, env.state_index());
            let r = env.step(&Action::Discrete(a))?;
            ret += r.reward;
            len += 1;
            let info_success = r
                .info
                .get("is_success")
                .or_else(|| r.info.get("success"))
                .map(|&v| v > 0.5);
            if r.terminated || r.truncated || len >= max_steps {
                break match (info_success, goal) {
                    (Some(s), _) => s,
                    (None, Some(g)) => r.terminated && r.reward >= g - 1e-9,
                    (None, None) => !r.terminated,
                };
            }
            obs = r.obs;
        };
        stats.returns.push(ret);
        stats.lengths.push(len);
        stats.successes.push(success);
    }
    Ok(stats)
}

/// `q_error`, `value_gap` and related exact quantities of a learned action-value table.
///
/// `q` holds the learned values, `known[s]` whether state `s` has them (a network can only be
/// queried at states whose observation is known), and `policy` the greedy action per state.
/// Metrics: `q_error` = max over known non-terminal `(s, a)` of `|Q − Q*|`; `value_gap` =
/// `V*(s₀) − V^π(s₀)` with `V^π` computed exactly; `optimal_start_value` = `V*(s₀)`;
/// `policy_start_value` = `V^π(s₀)`; `known_states` = share of non-terminal states covered.
pub fn tabular_metrics<M: TabularModel + ?Sized>(
    model: &M,
    optimal: &Optimal,
    gamma: f64,
    q: &QTable,
    known: &[bool],
    policy: &[usize],
) -> Result<Metrics> {
    let mut q_error = 0.0f64;
    let (mut covered, mut nonterminal) = (0usize, 0usize);
    for s in 0..model.num_states() {
        if model.is_terminal(s) {
            continue;
        }
        nonterminal += 1;
        if !known[s] {
            continue;
        }
        covered += 1;
        for a in 0..model.num_actions() {
            q_error = q_error.max((q.get(s, a) - optimal.q.get(s, a)).abs());
        }
    }
    let pi = Policy::deterministic(policy, model.num_actions())?;
    let v_pi = policy_evaluation_exact(model, &pi, gamma)?;
    let v_start = start_value(model, &v_pi);
    let mut m = Metrics::new();
    m.insert("q_error".into(), q_error);
    m.insert("value_gap".into(), optimal.start_value - v_start);
    m.insert("optimal_start_value".into(), optimal.start_value);
    m.insert("policy_start_value".into(), v_start);
    m.insert(
        "known_states".into(),
        covered as f64 / nonterminal.max(1) as f64,
    );
    Ok(m)
}

/// The optimal solution of a model for a discount, computed once and kept.
#[derive(Clone, Debug, Default)]
pub struct OptimalCache {
    cached: Option<(f64, usize, Optimal)>,
}

impl OptimalCache {
    /// The optimal solution of `model` with `gamma` (solved on the first call).
    pub fn get<M: TabularModel + ?Sized>(&mut self, model: &M, gamma: f64) -> Result<&Optimal> {
        let fresh =
            !matches!(&self.cached, Some((g, n, _)) if *g == gamma && *n == model.num_states());
        if fresh {
            self.cached = Some((gamma, model.num_states(), solve_optimal(model, gamma)?));
        }
        self.cached
            .as_ref()
            .map(|(_, _, o)| o)
            .ok_or_else(|| RlError::Numerical("the optimal solution is missing".into()))
    }
}
