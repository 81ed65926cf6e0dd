//! The dialogue policy: a contextual bandit (LinUCB, one ridge regression per action) choosing
//! `answer`, `clarify` or `handoff` from the context
//! `[1, confidence, margin to the second intent, the intent's recent accuracy, out-of-scope
//! score, confidence mass of the intents a clarification offers]`, rewarded from feedback
//! with a configurable [`RewardTable`].
//!
//! Each action starts from a prior `θ₀` worth `prior_weight` observations (`A = λI`,
//! `b = λθ₀`), the expected reward of the action if the confidences are calibrated: an answer
//! is right with probability `confidence`, so it is worth `r⁻ + (r⁺ − r⁻)·confidence`; a
//! clarification resolves when the right intent is among those offered, with probability
//! their confidence mass, so it is worth `r⁻ + (r⁺ − r⁻)·mass`, less half the out-of-scope
//! score (out of scope the right intent is none of them); a hand-off is worth its fixed
//! reward. Feedback then moves each action's estimate. Choices are
//! deterministic (ties go to the earlier action), so a restart answers the same.

use std::collections::{HashMap, VecDeque};

use crate::error::{AgentError, Result};

/// Width of the context vector.
pub const DIM: usize = 6;
/// Width of the context before the clarification's confidence mass was added (contexts and
/// bandit states stored by earlier versions).
const LEGACY_DIM: usize = 5;

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
        let arms = Self::priors(rewards)
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

    /// Each action's prior `θ₀` (answer, clarify, hand-off): see the module documentation.
    fn priors(r: &RewardTable) -> [[f64; DIM]; 3] {
        let answer = [
            r.answer_unresolved,
            r.answer_resolved - r.answer_unresolved,
            0.0,
            0.0,
            0.0,
            0.0,
        ];
        let clarify = [
            r.clarify_unresolved,
            0.0,
            0.0,
            0.0,
            -0.5,
            r.clarify_resolved - r.clarify_unresolved,
        ];
        let handoff = [r.handoff, 0.0, 0.0, 0.0, 0.0, 0.0];
        [answer, clarify, handoff]
    }

    /// Restores a policy from its JSON. A state stored before the context had its last
    /// feature (5 wide) is widened: the new feature gets the prior of [`LinUcb::new`] with
    /// `prior_weight` and `rewards`, and every earlier observation counts as one where it was 0.
    pub fn from_json(s: &str, prior_weight: f64, rewards: &RewardTable) -> Result<Self> {
        let mut p: LinUcb =
            serde_json::from_str(s).map_err(|e| AgentError::State(format!("bandit state: {e}")))?;
        let fits = |d: usize| {
            p.arms.len() == 3 && p.arms.iter().all(|a| a.a.len() == d * d && a.b.len() == d)
        };
        if fits(LEGACY_DIM) {
            let priors = Self::priors(rewards);
            for (arm, theta) in p.arms.iter_mut().zip(priors) {
                let mut a = vec![0.0; DIM * DIM];
                for i in 0..LEGACY_DIM {
                    a[i * DIM..i * DIM + LEGACY_DIM]
                        .copy_from_slice(&arm.a[i * LEGACY_DIM..][..LEGACY_DIM]);
                }
                a[DIM * DIM - 1] = prior_weight;
                arm.a = a;
                arm.b.push(prior_weight * theta[DIM - 1]);
            }
        } else if !fits(DIM) {
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
        self.absorb(action, x, reward);
        self.arms[action.index()].n += 1;
    }

    /// Adds `reward` for `action` in context `x` to the action's regression.
    fn absorb(&mut self, action: Action, x: &[f64; DIM], reward: f64) {
        let arm = &mut self.arms[action.index()];
        for i in 0..DIM {
            for j in 0..DIM {
                arm.a[i * DIM + j] += x[i] * x[j];
            }
            arm.b[i] += reward * x[i];
        }
    }

    /// Learns one feedback: `action` earned `reward` in context `x`, and each of `revealed`
    /// (what the feedback shows the actions not taken would have earned, [`revealed`]) is
    /// learnt as if observed ([`LinUcb::counts`] counts the action taken only).
    pub fn learn(
        &mut self,
        action: Action,
        x: &[f64; DIM],
        reward: f64,
        revealed: &[(Action, f64)],
    ) {
        self.update(action, x, reward);
        for &(a, r) in revealed {
            self.absorb(a, x, r);
        }
    }

    /// Observations per action (the feedback on it, not what other feedback revealed).
    pub fn counts(&self) -> [u64; 3] {
        [self.arms[0].n, self.arms[1].n, self.arms[2].n]
    }
}

/// The rewards a feedback reveals for actions not taken, so the bandit need not try them to
/// learn them (counterfactual, full-information updates):
///
/// - a hand-off earns its fixed reward whatever happens: known for every message;
/// - after a clarification on an in-scope message, whether answering would have been right is
///   known: the feedback names the right intent, or says the offered top intent resolved it
///   (`correct`), or that none did — and the top intent was among those offered.
///
/// Nothing is revealed about clarifying when the agent answered or handed off (which intents
/// a clarification would have offered is not stored), nor about answering after a hand-off
/// (a human's resolution says nothing of the prediction) or out of scope (no answer to give).
pub fn revealed(
    action: Action,
    in_scope: bool,
    correct: bool,
    rewards: &RewardTable,
) -> Vec<(Action, f64)> {
    let mut out = Vec::new();
    if action == Action::Clarify && in_scope {
        out.push((Action::Answer, rewards.reward(Action::Answer, correct)));
    }
    if action != Action::Handoff {
        out.push((Action::Handoff, rewards.handoff));
    }
    out
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

/// The context vector of a prediction; `offered` is the confidence mass of the intents a
/// clarification would offer.
pub fn context(
    confidence: f64,
    margin: f64,
    recent_accuracy: f64,
    ood_score: f64,
    offered: f64,
) -> [f64; DIM] {
    // The out-of-scope score is capped so one featureless text cannot dominate the regression.
    [
        1.0,
        confidence,
        margin,
        recent_accuracy,
        ood_score.min(3.0),
        offered,
    ]
}

/// A stored context (JSON). One stored before the offered mass was a feature (5 wide) gets
/// the answer's confidence for it, the mass of the one intent that was certainly offered.
pub fn parse_context(s: &str) -> std::result::Result<[f64; DIM], String> {
    let v: Vec<f64> = serde_json::from_str(s).map_err(|e| e.to_string())?;
    match v.len() {
        DIM => Ok(std::array::from_fn(|i| v[i])),
        LEGACY_DIM => Ok(std::array::from_fn(|i| {
            if i < LEGACY_DIM {
                v[i]
            } else {
                v[1]
            }
        })),
        n => Err(format!(
            "{n} numbers; expected {DIM} (or {LEGACY_DIM} from an earlier version)"
        )),
    }
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
        let (a, _) = p.choose(&context(0.95, 0.9, 0.5, 0.3, 0.98), &Action::ALL);
        assert_eq!(a, Action::Answer);
        let (a, _) = p.choose(&context(0.4, 0.05, 0.5, 0.5, 0.8), &Action::ALL);
        assert_eq!(a, Action::Clarify);
        // Out of scope the service offers only clarify or hand-off.
        let (a, _) = p.choose(
            &context(0.4, 0.05, 0.5, 2.0, 0.8),
            &[Action::Clarify, Action::Handoff],
        );
        assert_eq!(a, Action::Handoff);
        let (a, _) = p.choose(
            &context(0.95, 0.9, 0.5, 0.3, 0.98),
            &[Action::Clarify, Action::Handoff],
        );
        assert_eq!(a, Action::Clarify);
    }

    #[test]
    fn update_converges_to_the_observed_rewards() {
        let mut p = LinUcb::new(0.0, 1.0, &RewardTable::default());
        let x = context(0.9, 0.8, 0.5, 0.2, 0.97);
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
        let r = RewardTable::default();
        let q = LinUcb::from_json(&p.to_json(), 1.0, &r).unwrap();
        assert_eq!(p, q);
        assert!(LinUcb::from_json("{\"alpha\":1,\"arms\":[]}", 1.0, &r).is_err());
    }

    #[test]
    fn feedback_reveals_the_handoff_always_and_the_answer_after_a_clarification() {
        let r = RewardTable::default();
        assert_eq!(
            revealed(Action::Clarify, true, true, &r),
            vec![(Action::Answer, 1.0), (Action::Handoff, -0.3)]
        );
        assert_eq!(
            revealed(Action::Clarify, true, false, &r),
            vec![(Action::Answer, -1.0), (Action::Handoff, -0.3)]
        );
        // Out of scope there is no answer to give; after an answer nothing is known of a
        // clarification; after a hand-off nothing of either.
        assert_eq!(
            revealed(Action::Clarify, false, true, &r),
            vec![(Action::Handoff, -0.3)]
        );
        assert_eq!(
            revealed(Action::Answer, true, false, &r),
            vec![(Action::Handoff, -0.3)]
        );
        assert!(revealed(Action::Handoff, true, true, &r).is_empty());
        // Learning a clarification's feedback moves the answer arm as if it had answered.
        let x = context(0.6, 0.2, 0.5, 0.1, 0.7);
        let mut p = LinUcb::new(0.0, 1.0, &r);
        let mut q = p.clone();
        for _ in 0..100 {
            p.learn(
                Action::Clarify,
                &x,
                -0.5,
                &revealed(Action::Clarify, true, false, &r),
            );
            q.update(Action::Clarify, &x, -0.5);
            q.update(Action::Answer, &x, -1.0);
            q.update(Action::Handoff, &x, -0.3);
        }
        for a in Action::ALL {
            assert_eq!(p.estimate(a, &x), q.estimate(a, &x), "{a:?}");
        }
        assert_eq!(q.counts(), [100, 100, 100]);
        assert_eq!(p.counts(), [0, 100, 0], "only the action taken is counted");
        assert!((p.estimate(Action::Answer, &x) + 1.0).abs() < 0.05);
    }

    #[test]
    fn exploration_bonus_shrinks_with_data() {
        let mut p = LinUcb::new(1.0, 1.0, &RewardTable::default());
        let x = context(0.5, 0.1, 0.5, 0.5, 0.8);
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

    #[test]
    fn a_clarification_is_preferred_when_the_offered_intents_hold_the_answer() {
        let p = LinUcb::new(0.0, 2.0, &RewardTable::default());
        // Answer at 0.6 is worth 0.2; a clarification holding 0.95 of the mass 0.4, one
        // holding 0.62 of it 0.07.
        let (a, _) = p.choose(&context(0.6, 0.3, 0.5, 0.1, 0.95), &Action::ALL);
        assert_eq!(a, Action::Clarify);
        let (a, _) = p.choose(&context(0.6, 0.3, 0.5, 0.1, 0.62), &Action::ALL);
        assert_eq!(a, Action::Answer);
    }

    #[test]
    fn contexts_and_states_of_the_earlier_width_are_read() {
        assert_eq!(
            parse_context("[1.0,0.7,0.2,0.5,0.1]"),
            Ok([1.0, 0.7, 0.2, 0.5, 0.1, 0.7])
        );
        assert_eq!(
            parse_context("[1,0.7,0.2,0.5,0.1,0.9]"),
            Ok([1.0, 0.7, 0.2, 0.5, 0.1, 0.9])
        );
        assert!(parse_context("[1,2]").unwrap_err().contains("2 numbers"));
        // A 5-wide state with one observation, widened: the old block and counts are kept,
        // the new coordinate has its prior.
        let r = RewardTable::default();
        let mut legacy = String::from("{\"alpha\":0.2,\"arms\":[");
        for k in 0..3 {
            let a: Vec<String> = (0..25)
                .map(|i| {
                    if i % 6 == 0 {
                        "2.0".to_string()
                    } else {
                        "0.0".to_string()
                    }
                })
                .collect();
            legacy += &format!(
                "{}{{\"a\":[{}],\"b\":[1,2,3,4,5],\"n\":{k}}}",
                if k > 0 { "," } else { "" },
                a.join(",")
            );
        }
        legacy += "]}";
        let p = LinUcb::from_json(&legacy, 2.0, &r).unwrap();
        assert_eq!(p.counts(), [0, 1, 2]);
        let wide = p.to_json();
        let back = LinUcb::from_json(&wide, 2.0, &r).unwrap();
        assert_eq!(p, back);
        // The clarify arm's new coordinate: prior weight times (r+ - r-) = 2 * 1.0.
        let est_low = p.estimate(Action::Clarify, &context(0.5, 0.0, 0.0, 0.0, 0.0));
        let est_high = p.estimate(Action::Clarify, &context(0.5, 0.0, 0.0, 0.0, 1.0));
        assert!(
            (est_high - est_low - 1.0).abs() < 1e-9,
            "{est_low} {est_high}"
        );
    }
}
