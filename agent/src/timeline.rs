//! The learning curves the page draws: feedback accuracy on all intents, on the oldest ones
//! (present at the first start) and on the newest (added since), the hand-off rate and the
//! mean reward, each over a trailing window, at evenly spaced times; with the model events
//! to mark on the time axis.
//!
//! A trailing window, not a time bucket: a quiet hour then shows the last known level
//! instead of a gap or a noisy point, and each figure always rests on up to `window`
//! observations.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::store::{FeedbackPoint, IntentRow, MessagePoint, ModelEvent};

/// The most points one timeline may ask for.
pub const MAX_POINTS: usize = 1000;
/// The largest trailing window.
pub const MAX_WINDOW: usize = 100_000;

/// What the curves are drawn from.
pub struct Inputs<'a> {
    /// Feedback, oldest first.
    pub feedback: &'a [FeedbackPoint],
    /// Messages, oldest first.
    pub messages: &'a [MessagePoint],
    /// Every intent as stored.
    pub intents: &'a [IntentRow],
    /// Every change of the served model, oldest first.
    pub events: &'a [ModelEvent],
    /// The end of the time axis (now), ms since the epoch.
    pub now_ms: i64,
}

/// The curves at one time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// The time, ms since the epoch.
    pub t_ms: i64,
    /// Feedback received up to then.
    pub feedback: usize,
    /// Share of the last `window` feedback whose prediction was right.
    pub accuracy: Option<f64>,
    /// The same over feedback about the oldest intents.
    pub accuracy_oldest: Option<f64>,
    /// The same over feedback about the newest intents.
    pub accuracy_newest: Option<f64>,
    /// Share of the last `window` messages handed off.
    pub handoff_rate: Option<f64>,
    /// Mean reward of the last `window` feedback.
    pub mean_reward: Option<f64>,
}

/// `GET /v1/admin/timeline`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timeline {
    /// The trailing window, in observations.
    pub window: usize,
    /// Intents present at the first start.
    pub oldest: Vec<String>,
    /// Intents added since.
    pub newest: Vec<String>,
    /// The curves, oldest first.
    pub points: Vec<Point>,
    /// Model changes (bootstrap, accepted, refused, rollback) to mark on the axis.
    pub events: Vec<ModelEvent>,
}

/// Trailing means of a time-ordered series, in O(1) per query from prefix sums.
struct Trailing {
    times: Vec<i64>,
    prefix: Vec<f64>,
}

impl Trailing {
    fn new(items: impl Iterator<Item = (i64, f64)>) -> Trailing {
        let mut t = Trailing {
            times: Vec::new(),
            prefix: vec![0.0],
        };
        for (time, v) in items {
            t.times.push(time);
            let last = t.prefix[t.prefix.len() - 1];
            t.prefix.push(last + v);
        }
        t
    }

    /// How many observations are at or before `t`.
    fn upto(&self, t: i64) -> usize {
        self.times.partition_point(|&x| x <= t)
    }

    /// Mean of the last `window` observations at or before `t`.
    fn mean(&self, t: i64, window: usize) -> Option<f64> {
        let end = self.upto(t);
        let start = end.saturating_sub(window);
        (end > start).then(|| (self.prefix[end] - self.prefix[start]) / (end - start) as f64)
    }
}

/// The intents present at the first start (created no later than the bootstrap event) and
/// those added since, by name.
fn ages(intents: &[IntentRow], events: &[ModelEvent]) -> (Vec<String>, Vec<String>) {
    let first = events
        .iter()
        .find(|e| e.event == "bootstrap")
        .map(|e| e.created_ms)
        .or_else(|| intents.iter().map(|i| i.created_ms).min())
        .unwrap_or(i64::MAX);
    let (old, new): (Vec<&IntentRow>, Vec<&IntentRow>) =
        intents.iter().partition(|i| i.created_ms <= first);
    let names = |v: Vec<&IntentRow>| v.into_iter().map(|i| i.name.clone()).collect();
    (names(old), names(new))
}

/// The curves at `points` evenly spaced times from the first observation to `now_ms`
/// (one point when they coincide; none with no observation).
pub fn timeline(inputs: &Inputs<'_>, points: usize, window: usize) -> Timeline {
    let (oldest, newest) = ages(inputs.intents, inputs.events);
    let in_set = |set: &[String]| -> BTreeSet<String> { set.iter().cloned().collect() };
    let (old_set, new_set) = (in_set(&oldest), in_set(&newest));
    let fb = inputs.feedback;
    let series = |keep: &dyn Fn(&FeedbackPoint) -> bool, value: &dyn Fn(&FeedbackPoint) -> f64| {
        Trailing::new(
            fb.iter()
                .filter(|f| keep(f))
                .map(|f| (f.created_ms, value(f))),
        )
    };
    let hit = |f: &FeedbackPoint| f64::from(u8::from(f.correct()));
    let all = series(&|_| true, &hit);
    let old = series(&|f| old_set.contains(f.labelled_intent()), &hit);
    let new = series(&|f| new_set.contains(f.labelled_intent()), &hit);
    let reward = series(&|_| true, &|f| f.reward);
    let handoff = Trailing::new(
        inputs
            .messages
            .iter()
            .map(|m| (m.created_ms, f64::from(u8::from(m.action == "handoff")))),
    );
    let first = fb
        .first()
        .map(|f| f.created_ms)
        .into_iter()
        .chain(inputs.messages.first().map(|m| m.created_ms))
        .min();
    let mut out = Vec::new();
    if let Some(start) = first {
        let end = inputs.now_ms.max(start);
        let n = if end == start { 1 } else { points.max(1) };
        for k in 0..n {
            // The last point is exactly `end`, so the newest observation is always drawn.
            let t = if n == 1 {
                end
            } else {
                start + ((end - start) as f64 * k as f64 / (n - 1) as f64).round() as i64
            };
            out.push(Point {
                t_ms: t,
                feedback: all.upto(t),
                accuracy: all.mean(t, window),
                accuracy_oldest: old.mean(t, window),
                accuracy_newest: new.mean(t, window),
                handoff_rate: handoff.mean(t, window),
                mean_reward: reward.mean(t, window),
            });
        }
    }
    Timeline {
        window,
        oldest,
        newest,
        points: out,
        events: inputs.events.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(name: &str, created_ms: i64) -> IntentRow {
        IntentRow {
            name: name.into(),
            answer: String::new(),
            active: true,
            created_ms,
        }
    }

    fn feedback(
        t: i64,
        predicted: &str,
        correct_intent: Option<&str>,
        resolved: bool,
    ) -> FeedbackPoint {
        FeedbackPoint {
            created_ms: t,
            predicted: predicted.into(),
            correct_intent: correct_intent.map(str::to_string),
            resolved,
            reward: if resolved { 1.0 } else { -1.0 },
        }
    }

    fn bootstrap(t: i64) -> ModelEvent {
        ModelEvent {
            seq: 1,
            version: 1,
            event: "bootstrap".into(),
            detail: None,
            created_ms: t,
        }
    }

    #[test]
    fn trailing_means_use_the_last_window_before_each_time() {
        let t = Trailing::new([(10, 1.0), (20, 0.0), (30, 1.0), (40, 1.0)].into_iter());
        assert_eq!(t.mean(5, 2), None);
        assert_eq!(t.mean(10, 2), Some(1.0));
        assert_eq!(t.mean(25, 2), Some(0.5));
        assert_eq!(t.mean(40, 2), Some(1.0));
        assert_eq!(t.mean(40, 100), Some(0.75));
        assert_eq!(t.upto(35), 3);
    }

    #[test]
    fn oldest_and_newest_curves_follow_the_labelled_intent() {
        let intents = [intent("a", 100), intent("b", 100), intent("c", 5_000)];
        let events = [bootstrap(200)];
        // Old intents right, then the new intent wrong once (corrected to it), then right.
        let fb = [
            feedback(1_000, "a", None, true),
            feedback(2_000, "b", Some("a"), false),
            feedback(6_000, "a", Some("c"), false),
            feedback(7_000, "c", None, true),
        ];
        let inputs = Inputs {
            feedback: &fb,
            messages: &[],
            intents: &intents,
            events: &events,
            now_ms: 7_000,
        };
        let tl = timeline(&inputs, 7, 10);
        assert_eq!(tl.oldest, ["a", "b"]);
        assert_eq!(tl.newest, ["c"]);
        assert_eq!(tl.points.len(), 7);
        assert_eq!(tl.points[0].t_ms, 1_000);
        assert_eq!(tl.points[6].t_ms, 7_000);
        let last = &tl.points[6];
        assert_eq!(last.feedback, 4);
        assert_eq!(last.accuracy, Some(0.5));
        // Feedback 1 and 2 are about `a` (the second corrected to it): one right of two.
        assert_eq!(last.accuracy_oldest, Some(0.5));
        assert_eq!(last.accuracy_newest, Some(0.5));
        assert_eq!(last.mean_reward, Some(0.0));
        assert_eq!(tl.points[0].accuracy_newest, None);
        assert_eq!(last.handoff_rate, None);
    }

    #[test]
    fn no_observation_no_point_and_one_instant_one_point() {
        let empty = Inputs {
            feedback: &[],
            messages: &[],
            intents: &[],
            events: &[],
            now_ms: 10,
        };
        assert!(timeline(&empty, 50, 100).points.is_empty());
        let messages = [MessagePoint {
            created_ms: 10,
            action: "handoff".into(),
        }];
        let one = Inputs {
            messages: &messages,
            ..empty
        };
        let tl = timeline(&one, 50, 100);
        assert_eq!(tl.points.len(), 1);
        assert_eq!(tl.points[0].handoff_rate, Some(1.0));
        assert_eq!(tl.points[0].accuracy, None);
    }
}
