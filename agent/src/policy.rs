//! The dialogue policy: a contextual bandit (LinUCB, one ridge regression per action) choosing
//! `answer`, `clarify` or `handoff` from the context
//! `[1, confidence, margin to the second intent, the intent's recent accuracy, out-of-scope
//! score]`, rewarded from feedback with a configurable [`RewardTable`].
//!
//! Each action starts from a prior `θ₀` worth `prior_weight` observations (`A = λI`,
//! `b = λθ₀`): answering is worth `2·confidence − 1` (the expected reward of an answer right
//! with probability `confidence`), clarifying a constant that falls with the out-of-scope
//! score, handing off its fixed reward. Feedback then moves each action's estimate. Choices are
//! deterministic (ties go to the earlier action), so a restart answers the same.

use std::collections::{HashMap, VecDeque};

use crate::error::{AgentError, Result};

/// Width of the context vector.
pub const DIM: usize = 5;

/// What the agent does with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Give the predicted intent's answer.
    Answer,
    /// Offer the top intents to choose from.
    Clarify,
    /// Pass the customer to a human.
    Handoff,
}

impl Action {
    /// All actions, in tie-break order.
    pub const ALL: [Action; 3] = [Action::Answer, Action::Clarify, Action::Handoff];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Answer => "answer",
            Action::Clarify => "clarify",
            Action::Handoff => "handoff",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    fn index(self) -> usize {
        match self {
            Action::Answer => 0,
            Action::Clarify => 1,
            Action::Handoff => 2,
        }
    }
}

/// Rewards for each outcome of each action.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardTable {
    /// An answer that resolved the problem.
    pub answer_resolved: f64,
    /// An answer that did not (a wrong answer).
    pub answer_unresolved: f64,
    /// Resolved after a clarification.
    pub clarify_resolved: f64,
    /// Not resolved after a clarification.
    pub clarify_unresolved: f64,
    /// A hand-off, whatever followed.
    pub handoff: f64,
}

impl Default for RewardTable {
    fn default() -> Self {
        RewardTable {
            answer_resolved: 1.0,
            answer_unresolved: -1.0,
            clarify_resolved: 0.5,
            clarify_unresolved: -0.5,
            handoff: -0.3,
        }
    }
}

impl RewardTable {
    /// The reward of `action` given whether the problem was resolved.
    pub fn reward(&self, action: Action, resolved: bool) -> f64 {
        match (action, resolved) {
            (Action::Answer, true) => self.answer_resolved,
            (Action::Answer, false) => self.answer_unresolved,
            (Action::Clarify, true) => self.clarify_resolved,
            (Action::Clarify, false) => self.clarify_unresolved,
            (Action::Handoff, _) => self.handoff,
        }
    }

    /// Checks every entry is finite, naming the field.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        for (name, v) in [
            ("answer_resolved", self.answer_resolved),
            ("answer_unresolved", self.answer_unresolved),
            ("clarify_resolved", self.clarify_resolved),
            ("clarify_unresolved", self.clarify_unresolved),
            ("handoff", self.handoff),
        ] {
            if !v.is_finite() {
                return Err(AgentError::config(
                    format!("{prefix}.{name}"),
                    "must be finite",
                ));
            }
        }
        Ok(())
    }
}

/// One action's ridge regression: `A = λI + Σ x xᵀ`, `b = λθ₀ + Σ r x`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Arm {
    a: Vec<f64>,
    b: Vec<f64>,
    n: u64,
}

/// LinUCB over the three actions.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinUcb {
    alpha: f64,
    arms: Vec<Arm>,
}

impl LinUcb {
    /// A fresh policy: exploration `alpha`, priors of weight `prior_weight` built from the
    /// reward table (see the module documentation).
    pub fn new(alpha: f64, prior_weight: f64, rewards: &RewardTable) -> Self {
        let answer = [
            rewards.answer_unresolved,
            rewards.answer_resolved - rewards.answer_unresolved,
            0.0,
            0.0,
            0.0,
        ];
        let mid =
            0.5 * (rewards.clarify_resolved + rewards.clarify_unresolved.max(rewards.handoff));
        let clarify = [mid + 0.5, 0.0, 0.0, 0.0, -1.0];
        let handoff = [rewards.handoff, 0.0, 0.0, 0.0, 0.0];
        let arms = [answer, clarify, handoff]
            .iter()
            .map(|theta| {
                let mut a = vec![0.0; DIM * DIM];
                for i in 0..DIM {
                    a[i * DIM + i] = prior_weight;
                }
                Arm {
                    a,
                    b: theta.iter().map(|t| t * prior_weight).collect(),
                    n: 0,
                }
            })
            .collect();
        LinUcb { alpha, arms }
    }

    /// Restores a policy from its JSON.
    pub fn from_json(s: &str) -> Result<Self> {
        let p: LinUcb =
            serde_json::from_str(s).map_err(|e| AgentError::State(format!("bandit state: {e}")))?;
        if p.arms.len() != 3
            || p.arms
                .iter()
                .any(|a| a.a.len() != DIM * DIM || a.b.len() != DIM)
        {
            return Err(AgentError::State("bandit state: wrong shape".into()));
        }
        Ok(p)
    }

    /// The policy as JSON (floats round-trip exactly).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Upper confidence bound of each allowed action, and the chosen one (the highest; ties
    /// to the earlier in [`Action::ALL`]).
    pub fn choose(&self, x: &[f64; DIM], allowed: &[Action]) -> (Action, Vec<(Action, f64)>) {
        let scores: Vec<(Action, f64)> = Action::ALL
            .into_iter()
            .filter(|a| allowed.contains(a))
            .map(|a| (a, self.ucb(a, x)))
            .collect();
        let mut best = (Action::Handoff, f64::NEG_INFINITY);
        for &(a, s) in &scores {
            if s > best.1 {
                best = (a, s);
            }
        }
        (best.0, scores)
    }

    /// The estimated reward `θᵀx` of an action (no exploration bonus).
    pub fn estimate(&self, action: Action, x: &[f64; DIM]) -> f64 {
        let arm = &self.arms[action.index()];
        let theta = solve(&arm.a, &arm.b);
        theta.iter().zip(x).map(|(t, v)| t * v).sum()
    }

    fn ucb(&self, action: Action, x: &[f64; DIM]) -> f64 {
        let arm = &self.arms[action.index()];
        let ainv_x = solve(&arm.a, x);
        let var: f64 = ainv_x.iter().zip(x).map(|(a, v)| a * v).sum();
        self.estimate(action, x) + self.alpha * var.max(0.0).sqrt()
    }

    /// Adds one observation: `action` taken in context `x` earned `reward`.
    pub fn update(&mut self, action: Action, x: &[f64; DIM], reward: f64) {
        let arm = &mut self.arms[action.index()];
        for i in 0..DIM {
            for j in 0..DIM {
                arm.a[i * DIM + j] += x[i] * x[j];
            }
            arm.b[i] += reward * x[i];
        }
        arm.n += 1;
    }

    /// Observations per action.
    pub fn counts(&self) -> [u64; 3] {
        [self.arms[0].n, self.arms[1].n, self.arms[2].n]
    }
}

/// Solves `A z = y` for the symmetric positive-definite `A` (`DIM × DIM`, row-major) by
/// Cholesky.
fn solve(a: &[f64], y: &[f64]) -> [f64; DIM] {
    let mut l = [[0.0f64; DIM]; DIM];
    for i in 0..DIM {
        for j in 0..=i {
            let mut s = a[i * DIM + j];
            for k in 0..j {
                s -= l[i][k] * l[j][k];
            }
            l[i][j] = if i == j {
                s.max(1e-12).sqrt()
            } else {
                s / l[j][j]
            };
        }
    }
    let mut z = [0.0; DIM];
    for i in 0..DIM {
        let mut s = y[i];
        for k in 0..i {
            s -= l[i][k] * z[k];
        }
        z[i] = s / l[i][i];
    }
    for i in (0..DIM).rev() {
        let mut s = z[i];
        for k in i + 1..DIM {
            s -= l[k][i] * z[k];
        }
        z[i] = s / l[i][i];
    }
    z
}

/// Recent accuracy of each predicted intent over its last `window` feedback outcomes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecentAccuracy {
    window: usize,
    by_intent: HashMap<String, VecDeque<bool>>,
}

impl RecentAccuracy {
    /// Empty windows of `window` outcomes.
    pub fn new(window: usize) -> Self {
        RecentAccuracy {
            window: window.max(1),
            by_intent: HashMap::new(),
        }
    }

    /// Records whether a prediction of `intent` was right.
    pub fn record(&mut self, intent: &str, correct: bool) {
        let w = self.by_intent.entry(intent.to_string()).or_default();
        w.push_back(correct);
        while w.len() > self.window {
            w.pop_front();
        }
    }

    /// `(right, seen)` in the intent's window.
    pub fn observed(&self, intent: &str) -> (usize, usize) {
        self.by_intent
            .get(intent)
            .map_or((0, 0), |w| (w.iter().filter(|c| **c).count(), w.len()))
    }

    /// `(right + 1) / (seen + 2)`: 0.5 with no feedback yet.
    pub fn get(&self, intent: &str) -> f64 {
        let (right, seen) = self.observed(intent);
        (right as f64 + 1.0) / (seen as f64 + 2.0)
    }
}

/// The context vector of a prediction.
pub fn context(confidence: f64, margin: f64, recent_accuracy: f64, ood_score: f64) -> [f64; DIM] {
    // The out-of-scope score is capped so one featureless text cannot dominate the regression.
    [1.0, confidence, margin, recent_accuracy, ood_score.min(3.0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reward_table_maps_each_outcome() {
        let r = RewardTable::default();
        assert_eq!(r.reward(Action::Answer, true), 1.0);
        assert_eq!(r.reward(Action::Answer, false), -1.0);
        assert_eq!(r.reward(Action::Clarify, true), 0.5);
        assert_eq!(r.reward(Action::Handoff, true), -0.3);
        assert_eq!(r.reward(Action::Handoff, false), -0.3);
        let custom = RewardTable {
            handoff: -0.8,
            ..RewardTable::default()
        };
        assert_eq!(custom.reward(Action::Handoff, false), -0.8);
        assert!(RewardTable {
            clarify_resolved: f64::NAN,
            ..RewardTable::default()
        }
        .validate("policy.rewards")
        .is_err());
    }

    #[test]
    fn prior_answers_when_confident_and_hands_off_far_out_of_scope() {
        let p = LinUcb::new(0.0, 2.0, &RewardTable::default());
        let (a, _) = p.choose(&context(0.95, 0.9, 0.5, 0.3), &Action::ALL);
        assert_eq!(a, Action::Answer);
        let (a, _) = p.choose(&context(0.4, 0.05, 0.5, 0.5), &Action::ALL);
        assert_eq!(a, Action::Clarify);
        // Out of scope the service offers only clarify or hand-off.
        let (a, _) = p.choose(
            &context(0.4, 0.05, 0.5, 2.0),
            &[Action::Clarify, Action::Handoff],
        );
        assert_eq!(a, Action::Handoff);
        let (a, _) = p.choose(
            &context(0.95, 0.9, 0.5, 0.3),
            &[Action::Clarify, Action::Handoff],
        );
        assert_eq!(a, Action::Clarify);
    }

    #[test]
    fn update_converges_to_the_observed_rewards() {
        let mut p = LinUcb::new(0.0, 1.0, &RewardTable::default());
        let x = context(0.9, 0.8, 0.5, 0.2);
        assert_eq!(p.choose(&x, &Action::ALL).0, Action::Answer);
        // Confident answers keep failing here: the answer estimate drops towards -1 and the
        // policy stops answering.
        for _ in 0..200 {
            p.update(Action::Answer, &x, -1.0);
        }
        let est = p.estimate(Action::Answer, &x);
        assert!((est + 1.0).abs() < 0.05, "{est}");
        assert_ne!(p.choose(&x, &Action::ALL).0, Action::Answer);
        assert_eq!(p.counts(), [200, 0, 0]);
        // Round trip through the stored JSON keeps every bit.
        let q = LinUcb::from_json(&p.to_json()).unwrap();
        assert_eq!(p, q);
        assert!(LinUcb::from_json("{\"alpha\":1,\"arms\":[]}").is_err());
    }

    #[test]
    fn exploration_bonus_shrinks_with_data() {
        let mut p = LinUcb::new(1.0, 1.0, &RewardTable::default());
        let x = context(0.5, 0.1, 0.5, 0.5);
        let before = p.ucb(Action::Clarify, &x) - p.estimate(Action::Clarify, &x);
        for _ in 0..50 {
            p.update(Action::Clarify, &x, 0.5);
        }
        let after = p.ucb(Action::Clarify, &x) - p.estimate(Action::Clarify, &x);
        assert!(after < before / 3.0, "{before} {after}");
    }

    #[test]
    fn recent_accuracy_is_a_sliding_window() {
        let mut r = RecentAccuracy::new(3);
        assert_eq!(r.get("a"), 0.5);
        for c in [false, false, true, true, true] {
            r.record("a", c);
        }
        assert_eq!(r.get("a"), 4.0 / 5.0);
        assert_eq!(r.get("b"), 0.5);
    }
}
