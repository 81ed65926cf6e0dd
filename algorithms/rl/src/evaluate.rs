//! Evaluation of greedy policies: returns and success over episodes, and, on environments
//! with a [`TabularModel`], the exact `q_error` and `value_gap` against the optimal solution.

use std::sync::Mutex;

use autodidact_core::parallel::{self, ThreadPool};
use autodidact_core::{Action, Environment, Metrics, Seed, TabularModel, Transition};

use crate::dp::{
    policy_evaluation_exact, solve_optimal, start_value, Optimal, Policy, QTable,
    DIRECT_SOLVE_MAX_STATES,
};
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
    let mut act = |obs: &[f32], s: Option<usize>| Ok(Action::Discrete(act(obs, s)));
    for k in 0..episodes {
        stats.push(one_episode(env, k, seed, max_steps, goal, &mut act)?);
    }
    Ok(stats)
}

/// Episodes per piece of [`run_episodes_on`] (at most; more past 1,024 episodes): a piece is
/// the unit a worker takes, so it holds a few episodes to make its environment copy worth it.
pub const EPISODES_PER_PIECE: usize = 4;
/// Most pieces of [`run_episodes_on`] (each holds a copy of the environment).
const MAX_PIECES: usize = 256;

/// [`run_episodes`] with a policy that may give any action, on `pool`'s workers when there is
/// one: the episodes are cut into pieces of at most [`EPISODES_PER_PIECE`] (at most 256 pieces;
/// the cut depends on the count alone), each piece runs on a fresh copy of `env`, and the statistics come back in episode
/// order. Episode `k` is reset with `seed.index(k)` and `act` draws nothing at random, so the
/// numbers do not depend on the thread count.
pub fn run_episodes_on(
    pool: Option<&ThreadPool>,
    env: &dyn Environment,
    episodes: u64,
    seed: Seed,
    max_steps: u64,
    act: &(dyn Fn(&[f32], Option<usize>) -> Result<Action> + Sync),
) -> Result<EpisodeStats> {
    let goal = env.tabular().and_then(goal_reward);
    let n = usize::try_from(episodes).map_err(|_| RlError::Config {
        key: "eval_episodes".into(),
        reason: format!("{episodes} episodes do not fit in memory on this machine"),
    })?;
    // An environment is `Send`, not `Sync`: each piece owns its copy behind a lock it alone takes.
    let pieces: Vec<(std::ops::Range<usize>, Mutex<Box<dyn Environment>>)> =
        parallel::chunks(n, EPISODES_PER_PIECE.max(n.div_ceil(MAX_PIECES)))
            .into_iter()
            .map(|r| (r, Mutex::new(env.clone_box())))
            .collect();
    let results = parallel::ordered_map(pool, &pieces, |(range, env)| {
        let mut env = env
            .lock()
            .map_err(|_| RlError::Numerical("an evaluation worker panicked".into()))?;
        let mut act = |obs: &[f32], s: Option<usize>| act(obs, s);
        range
            .clone()
            .map(|k| one_episode(env.as_mut(), k as u64, seed, max_steps, goal, &mut act))
            .collect::<Result<Vec<_>>>()
    });
    let mut stats = EpisodeStats::default();
    for piece in results {
        for episode in piece? {
            stats.push(episode);
        }
    }
    Ok(stats)
}

/// One evaluation episode's return, length and success.
type Episode = (f64, u64, bool);

impl EpisodeStats {
    fn push(&mut self, (ret, len, success): Episode) {
        self.returns.push(ret);
        self.lengths.push(len);
        self.successes.push(success);
    }
}

/// Episode `k` (reset with `seed.index(k)`, cut after `max_steps` steps); `goal` is the
/// environment's goal reward, if it has a model (see [`run_episodes`] for success).
fn one_episode(
    env: &mut dyn Environment,
    k: u64,
    seed: Seed,
    max_steps: u64,
    goal: Option<f64>,
    act: &mut dyn FnMut(&[f32], Option<usize>) -> Result<Action>,
) -> Result<Episode> {
    let (mut obs, _) = env.reset(Some(seed.index(k).0));
    let (mut ret, mut len) = (0.0, 0u64);
    let success = loop {
        let a = act(&obs, env.state_index())?;
        let r = env.step(&a)?;
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
    Ok((ret, len, success))
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
    let v_start = policy_start_value(model, policy, gamma)?;
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

/// `V^π(s₀)` of a deterministic policy, exactly.
///
/// Beyond [`DIRECT_SOLVE_MAX_STATES`] states only the states the policy can reach from the
/// start are evaluated: a barely trained policy on a million-cell map reaches few of them,
/// and looping policies elsewhere would otherwise cost thousands of sweeps of the whole map.
pub(crate) fn policy_start_value<M: TabularModel + ?Sized>(
    model: &M,
    policy: &[usize],
    gamma: f64,
) -> Result<f64> {
    if policy.len() != model.num_states() || policy.iter().any(|&a| a >= model.num_actions()) {
        return Err(RlError::InvalidPolicy(format!(
            "{} actions (each below {}) for {} states",
            policy.len(),
            model.num_actions(),
            model.num_states()
        )));
    }
    if model.num_states() <= DIRECT_SOLVE_MAX_STATES {
        let pi = Policy::deterministic(policy, model.num_actions())?;
        let v = policy_evaluation_exact(model, &pi, gamma)?;
        return Ok(start_value(model, &v));
    }
    let sub = Reachable::new(model, policy);
    let v = policy_evaluation_exact(&sub, &Policy::uniform(sub.states.len(), 1), gamma)?;
    Ok(model
        .initial_distribution()
        .iter()
        .map(|&(s, p)| p * sub.index[s].map_or(0.0, |i| v[i]))
        .sum())
}

/// The states a deterministic policy can reach from the start, as a model with one action
/// (the policy's) and states renumbered in order of discovery.
struct Reachable {
    states: Vec<usize>,
    index: Vec<Option<usize>>,
    transitions: Vec<Vec<Transition>>,
    terminal: Vec<bool>,
    init: Vec<(usize, f64)>,
}

impl Reachable {
    fn new<M: TabularModel + ?Sized>(model: &M, policy: &[usize]) -> Reachable {
        let mut index = vec![None; model.num_states()];
        let mut states = Vec::new();
        let visit = |s: usize, index: &mut Vec<Option<usize>>, states: &mut Vec<usize>| {
            *index[s].get_or_insert_with(|| {
                states.push(s);
                states.len() - 1
            })
        };
        let init: Vec<(usize, f64)> = model
            .initial_distribution()
            .into_iter()
            .map(|(s, p)| (visit(s, &mut index, &mut states), p))
            .collect();
        let mut transitions = Vec::new();
        let mut k = 0;
        while k < states.len() {
            let s = states[k];
            let ts = if model.is_terminal(s) {
                Vec::new()
            } else {
                model
                    .transitions(s, policy[s])
                    .iter()
                    .map(|t| Transition {
                        next: visit(t.next, &mut index, &mut states),
                        ..*t
                    })
                    .collect()
            };
            transitions.push(ts);
            k += 1;
        }
        let terminal = states.iter().map(|&s| model.is_terminal(s)).collect();
        Reachable {
            states,
            index,
            transitions,
            terminal,
            init,
        }
    }
}

impl TabularModel for Reachable {
    fn num_states(&self) -> usize {
        self.states.len()
    }
    fn num_actions(&self) -> usize {
        1
    }
    fn transitions(&self, s: usize, _a: usize) -> &[Transition] {
        &self.transitions[s]
    }
    fn initial_distribution(&self) -> Vec<(usize, f64)> {
        self.init.clone()
    }
    fn is_terminal(&self, s: usize) -> bool {
        self.terminal[s]
    }
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
