//! Nearest-prototype intent classifier over every active intent, with a fitted temperature
//! (calibrated confidence) and an out-of-scope score.
//!
//! A prototype is the mean of the intent's stored example features (unit vectors). A text's
//! logits are `-d_i / T` with `d_i` the squared Euclidean distance to prototype `i`; the
//! confidence is their softmax. The out-of-scope score is `min_i d_i / (1 + 1/n_i) /
//! threshold` with `n_i` the intent's examples (a prototype of few examples is farther from
//! its own texts: see [`ood_distance`]): above 1 (or a text with no features at all) the
//! prediction is `out_of_scope`.
//!
//! Examples update their prototype at once (a running sum in example-id order, so a restart
//! that re-adds the stored examples in id order rebuilds the very same prototypes).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::consolidate::ood_distance;
use crate::featurizer::FeaturizerSpec;

/// The name predicted for a text far from every intent.
pub const OUT_OF_SCOPE: &str = "out_of_scope";

/// Temperatures tried when fitting (log-spaced).
const GRID: usize = 80;
const T_MIN: f64 = 1e-3;
const T_MAX: f64 = 10.0;
/// Held-out examples used at most when fitting.
const MAX_HELD_OUT: usize = 4000;

/// What is stored as a model version's blob: everything besides the examples that decides a
/// prediction.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelSpec {
    /// The features.
    pub featurizer: FeaturizerSpec,
    /// Softmax temperature.
    pub temperature: f64,
    /// Scaled squared distance (`consolidate::ood_distance`) above which a text is out of scope.
    pub ood_threshold: f64,
    /// The newest example id the head was trained on (0: none).
    #[serde(default)]
    pub examples_upto: i64,
}

/// One intent's prototype and answer.
#[derive(Clone, Debug)]
pub(crate) struct IntentState {
    pub(crate) answer: String,
    pub(crate) active: bool,
    sum: Vec<f64>,
    count: usize,
    mean: Vec<f32>,
    mean_sq: f32,
}

impl IntentState {
    fn new(answer: String, active: bool, dim: usize) -> Self {
        IntentState {
            answer,
            active,
            sum: vec![0.0; dim],
            count: 0,
            mean: vec![0.0; dim],
            mean_sq: 0.0,
        }
    }

    fn add(&mut self, x: &[f32]) {
        for (s, &v) in self.sum.iter_mut().zip(x) {
            *s += f64::from(v);
        }
        self.count += 1;
        let n = self.count as f64;
        for (m, s) in self.mean.iter_mut().zip(&self.sum) {
            *m = (s / n) as f32;
        }
        self.mean_sq = dot(&self.mean, &self.mean);
    }

    /// Squared distance from `x` (with `x_sq = |x|^2`) to the prototype.
    fn dist(&self, x: &[f32], x_sq: f32) -> f32 {
        (x_sq - 2.0 * dot(&self.mean, x) + self.mean_sq).max(0.0)
    }
}

/// `Σ a_i b_i` over the common length, in 16 running partial sums: the compiler vectorises
/// it (one running sum cannot be reordered, and was a third of a hashed request's time), and
/// every call adds in the same order.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        acc.iter_mut()
            .zip(x.iter().zip(y))
            .for_each(|(s, (p, q))| *s += p * q);
    }
    acc.iter().sum::<f32>() + tail
}

/// A prediction: intents ranked by probability.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// `(intent, probability)`, most probable first; empty with no active intent.
    pub ranked: Vec<(String, f64)>,
    /// Squared distance to the nearest prototype, scaled for its number of examples
    /// ([`ood_distance`]).
    pub nearest: f64,
    /// `nearest / threshold` (infinite for a text without features).
    pub ood_score: f64,
}

impl Prediction {
    /// True when the text is out of scope (far from all, featureless, or no active intent).
    pub fn out_of_scope(&self) -> bool {
        self.ranked.is_empty() || self.ood_score > 1.0
    }
    /// The predicted intent name ([`OUT_OF_SCOPE`] when out of scope).
    pub fn intent(&self) -> &str {
        if self.out_of_scope() {
            OUT_OF_SCOPE
        } else {
            &self.ranked[0].0
        }
    }
    /// Probability of the top intent (0 with none).
    pub fn confidence(&self) -> f64 {
        self.ranked.first().map_or(0.0, |r| r.1)
    }
    /// Top probability minus the second's.
    pub fn margin(&self) -> f64 {
        match self.ranked.as_slice() {
            [] => 0.0,
            [a] => a.1,
            [a, b, ..] => a.1 - b.1,
        }
    }
}

/// An immutable classifier snapshot (cheap to clone: intents are shared until changed).
#[derive(Clone, Debug)]
pub struct Classifier {
    dim: usize,
    intents: BTreeMap<String, Arc<IntentState>>,
    /// Softmax temperature.
    pub temperature: f64,
    /// Scaled squared distance (`consolidate::ood_distance`) above which a text is out of scope.
    pub ood_threshold: f64,
}

impl Classifier {
    /// An empty classifier for `dim`-wide features.
    pub fn new(dim: usize, temperature: f64, ood_threshold: f64) -> Self {
        Classifier {
            dim,
            intents: BTreeMap::new(),
            temperature,
            ood_threshold,
        }
    }

    /// Adds (or replaces the answer and flag of) an intent, keeping its examples.
    pub fn set_intent(&mut self, name: &str, answer: &str, active: bool) {
        let dim = self.dim;
        let entry = self
            .intents
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(IntentState::new(String::new(), true, dim)));
        let s = Arc::make_mut(entry);
        s.answer = answer.to_string();
        s.active = active;
    }

    /// Adds a labelled example's features to its intent's prototype (the intent must exist).
    pub fn add_example(&mut self, intent: &str, x: &[f32]) -> bool {
        match self.intents.get_mut(intent) {
            Some(s) if x.len() == self.dim => {
                Arc::make_mut(s).add(x);
                true
            }
            _ => false,
        }
    }

    /// The intent's answer and whether it is active.
    pub fn intent(&self, name: &str) -> Option<(&str, bool)> {
        self.intents
            .get(name)
            .map(|s| (s.answer.as_str(), s.active))
    }

    /// Number of stored examples of an intent.
    pub fn count(&self, name: &str) -> usize {
        self.intents.get(name).map_or(0, |s| s.count)
    }

    /// Names of the active intents.
    pub fn active(&self) -> impl Iterator<Item = &str> {
        self.intents
            .iter()
            .filter(|(_, s)| s.active && s.count > 0)
            .map(|(n, _)| n.as_str())
    }

    /// Ranks the active intents for a feature vector.
    pub fn predict(&self, x: &[f32]) -> Prediction {
        let x_sq = dot(x, x);
        let dists: Vec<(&str, f32, usize)> = self
            .intents
            .iter()
            .filter(|(_, s)| s.active && s.count > 0)
            .map(|(n, s)| (n.as_str(), s.dist(x, x_sq), s.count))
            .collect();
        let nearest = dists
            .iter()
            .map(|d| ood_distance(f64::from(d.1), d.2))
            .fold(f64::INFINITY, f64::min);
        let probs = softmax(dists.iter().map(|d| f64::from(d.1)), self.temperature);
        let mut ranked: Vec<(String, f64)> = dists
            .iter()
            .zip(probs)
            .map(|(d, p)| (d.0.to_string(), p))
            .collect();
        // Highest first; ties by name (BTreeMap order is kept by the stable sort).
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let ood_score = if x_sq == 0.0 {
            f64::INFINITY
        } else {
            nearest / self.ood_threshold
        };
        Prediction {
            ranked,
            nearest,
            ood_score,
        }
    }

    /// Fits the temperature (minimum NLL over a log-spaced grid) and, when `ood_quantile` is
    /// given, the out-of-scope threshold (that quantile of the nearest distances, with a
    /// 10 % margin) on leave-one-out predictions of the stored `examples` `(intent,
    /// features)`: each held-out example is scored against its own intent's prototype
    /// without it. Intents need 2 or more examples to lend any; with fewer than `min_held_out`
    /// held-out examples nothing changes. Returns the held-out count and NLL/accuracy.
    pub fn fit(
        &mut self,
        examples: &[(String, Vec<f32>)],
        min_held_out: usize,
        ood_quantile: Option<f64>,
    ) -> Calibration {
        let intents: Vec<&str> = examples.iter().map(|(i, _)| i.as_str()).collect();
        self.fit_with(
            &intents,
            |i, x| x.extend_from_slice(&examples[i].1),
            min_held_out,
            ood_quantile,
        )
    }

    /// The positions, among examples of these `intents`, that a fit scores: those of active
    /// intents with 2 or more examples, evenly thinned to at most 4,000 (in order).
    pub fn calibration_rows(&self, intents: &[&str]) -> Vec<usize> {
        let eligible: Vec<usize> = intents
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                self.intents
                    .get(**i)
                    .is_some_and(|s| s.active && s.count >= 2)
            })
            .map(|(k, _)| k)
            .collect();
        let stride = eligible.len().div_ceil(MAX_HELD_OUT).max(1);
        eligible.into_iter().step_by(stride).collect()
    }

    /// [`Classifier::fit`] on examples given by their `intents` alone: `features(i, x)`
    /// writes example `i`'s features into the empty `x`, and is called only for the
    /// [`Classifier::calibration_rows`], one at a time. A consolidation embeds those few on
    /// demand into one buffer instead of holding every stored example's embedding.
    pub fn fit_with(
        &mut self,
        intents: &[&str],
        mut features: impl FnMut(usize, &mut Vec<f32>),
        min_held_out: usize,
        ood_quantile: Option<f64>,
    ) -> Calibration {
        let held = self.calibration_rows(intents);
        if held.len() < min_held_out.max(2) {
            return Calibration {
                held_out: held.len(),
                ..Calibration::default()
            };
        }
        // Distances of each held-out example to every active prototype, its own left out.
        let names: Vec<&str> = self.active().collect();
        let mut rows: Vec<(usize, Vec<f64>)> = Vec::with_capacity(held.len());
        let mut nearest = Vec::with_capacity(held.len());
        let mut x = Vec::with_capacity(self.dim);
        for &k in &held {
            x.clear();
            features(k, &mut x);
            let (y, d, scaled) = self.leave_one_out(&names, intents[k], &x);
            nearest.push(scaled);
            rows.push((y, d));
        }
        let mut best = (f64::INFINITY, self.temperature);
        for g in 0..GRID {
            let t = T_MIN * (T_MAX / T_MIN).powf(g as f64 / (GRID - 1) as f64);
            let nll = rows.iter().map(|(y, d)| nll(d, *y, t)).sum::<f64>() / rows.len() as f64;
            if nll < best.0 {
                best = (nll, t);
            }
        }
        self.temperature = best.1;
        if let Some(q) = ood_quantile {
            nearest.sort_by(f64::total_cmp);
            let idx = ((nearest.len() - 1) as f64 * q).round() as usize;
            let threshold = nearest[idx.min(nearest.len() - 1)] * 1.1;
            if threshold > 0.0 && threshold.is_finite() {
                self.ood_threshold = threshold;
            }
        }
        let correct = rows
            .iter()
            .filter(|(y, d)| d.iter().enumerate().all(|(k, v)| k == *y || *v > d[*y]))
            .count();
        Calibration {
            held_out: rows.len(),
            nll: Some(best.0),
            accuracy: Some(correct as f64 / rows.len() as f64),
        }
    }
    /// The squared distances of `x`, an example of `intent`, to every intent in `names`
    /// (its own prototype without it), its own position among them, and the smallest scaled
    /// distance.
    fn leave_one_out(&self, names: &[&str], intent: &str, x: &[f32]) -> (usize, Vec<f64>, f64) {
        let x_sq: f32 = x.iter().map(|v| v * v).sum();
        let mut d = Vec::with_capacity(names.len());
        let mut scaled = f64::INFINITY;
        let mut y = 0;
        for (k, n) in names.iter().enumerate() {
            let s = &self.intents[*n];
            if *n == intent {
                y = k;
                let m = (s.count - 1) as f64;
                let mut dd = 0.0;
                for ((sum, &v), _) in s.sum.iter().zip(x.iter()).zip(0..) {
                    let mu = (sum - f64::from(v)) / m;
                    dd += (f64::from(v) - mu).powi(2);
                }
                d.push(dd);
                scaled = scaled.min(ood_distance(dd, s.count - 1));
            } else {
                let dd = f64::from(s.dist(x, x_sq));
                d.push(dd);
                scaled = scaled.min(ood_distance(dd, s.count));
            }
        }
        (y, d, scaled)
    }
}

/// What a calibration fit measured.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Calibration {
    /// Held-out examples used.
    pub held_out: usize,
    /// Mean NLL at the fitted temperature (none when not fitted).
    pub nll: Option<f64>,
    /// Leave-one-out accuracy (none when not fitted).
    pub accuracy: Option<f64>,
}

/// Softmax of `-d / t`, stable.
fn softmax(d: impl Iterator<Item = f64>, t: f64) -> Vec<f64> {
    let logits: Vec<f64> = d.map(|v| -v / t).collect();
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let z: f64 = exps.iter().sum();
    exps.iter().map(|e| e / z).collect()
}

/// `-log softmax(-d / t)[y]`.
fn nll(d: &[f64], y: usize, t: f64) -> f64 {
    let max = d.iter().map(|v| -v / t).fold(f64::NEG_INFINITY, f64::max);
    let lse = max + d.iter().map(|v| (-v / t - max).exp()).sum::<f64>().ln();
    lse + d[y] / t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn prototype_moves_at_once_and_decides_the_prediction() {
        let mut c = Classifier::new(2, 0.1, 10.0);
        c.set_intent("a", "A", true);
        c.set_intent("b", "B", true);
        assert!(c.add_example("a", &unit(&[1.0, 0.0])));
        assert!(c.add_example("b", &unit(&[0.0, 1.0])));
        let q = unit(&[1.0, 0.9]);
        assert_eq!(c.predict(&q).intent(), "a");
        // Two examples of b near the query pull b's prototype past a's.
        c.add_example("b", &unit(&[1.0, 0.95]));
        c.add_example("b", &unit(&[1.0, 0.95]));
        let p = c.predict(&q);
        assert_eq!(p.intent(), "b");
        let total: f64 = p.ranked.iter().map(|r| r.1).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!(!c.add_example("missing", &q));
    }

    #[test]
    fn retired_intents_and_empty_texts() {
        let mut c = Classifier::new(2, 0.1, 10.0);
        c.set_intent("a", "A", true);
        c.set_intent("b", "B", true);
        c.add_example("a", &[1.0, 0.0]);
        c.add_example("b", &[0.0, 1.0]);
        c.set_intent("a", "A", false);
        assert_eq!(c.predict(&[1.0, 0.0]).intent(), "b");
        assert_eq!(c.predict(&[0.0, 0.0]).intent(), OUT_OF_SCOPE);
        c.set_intent("b", "B", false);
        assert_eq!(c.predict(&[1.0, 0.0]).intent(), OUT_OF_SCOPE);
    }

    #[test]
    fn far_texts_are_out_of_scope() {
        let mut c = Classifier::new(3, 0.1, 0.5);
        c.set_intent("a", "A", true);
        c.add_example("a", &[1.0, 0.0, 0.0]);
        assert_eq!(c.predict(&[1.0, 0.0, 0.0]).intent(), "a");
        // Orthogonal: squared distance 2, scaled for a prototype of one example by
        // 1 / (1 + 1/1) to 1 > 0.5.
        let p = c.predict(&[0.0, 0.0, 1.0]);
        assert_eq!(p.intent(), OUT_OF_SCOPE);
        assert!((p.ood_score - 2.0).abs() < 1e-6);
        // Three more copies: the same prototype, now of four examples: 2 / (1 + 1/4) = 1.6.
        for _ in 0..3 {
            c.add_example("a", &[1.0, 0.0, 0.0]);
        }
        let p = c.predict(&[0.0, 0.0, 1.0]);
        assert!((p.ood_score - 1.6 / 0.5).abs() < 1e-6, "{}", p.ood_score);
    }

    #[test]
    fn fitted_temperature_tracks_how_separable_the_data_is() {
        // Two tight clusters: a sharp temperature; overlapping clusters: a softer one. One
        // example in fifteen carries the other label, so no temperature is perfect and the
        // NLL has an interior minimum.
        let make = |spread: f32| {
            let mut ex = Vec::new();
            for i in 0..30 {
                let e = spread * ((i % 7) as f32 - 3.0) / 3.0;
                let (a, b) = if i % 15 == 7 { ("b", "a") } else { ("a", "b") };
                ex.push((a.to_string(), unit(&[1.0, e, 0.1])));
                ex.push((b.to_string(), unit(&[e, 1.0, 0.1])));
            }
            let mut c = Classifier::new(3, 1.0, 10.0);
            c.set_intent("a", "A", true);
            c.set_intent("b", "B", true);
            for (i, x) in &ex {
                c.add_example(i, x);
            }
            let cal = c.fit(&ex, 20, Some(0.99));
            (c, cal)
        };
        let (tight, cal_t) = make(0.1);
        let (loose, cal_l) = make(1.5);
        assert_eq!(cal_t.held_out, 60);
        assert!(
            tight.temperature < loose.temperature,
            "{} {}",
            tight.temperature,
            loose.temperature
        );
        assert!(cal_t.nll.unwrap_or(f64::NAN) < cal_l.nll.unwrap_or(f64::NAN));
        assert!(cal_t.accuracy.unwrap_or(0.0) >= 0.9, "{cal_t:?}");
        assert!(
            cal_t.accuracy.unwrap_or(0.0) > cal_l.accuracy.unwrap_or(1.0),
            "{cal_l:?}"
        );
        // The grid minimum really is a minimum of the held-out NLL.
        assert!(tight.temperature > T_MIN && tight.temperature < T_MAX);
        // Too few held-out examples: nothing changes.
        let mut c = Classifier::new(3, 0.7, 10.0);
        c.set_intent("a", "A", true);
        let few = vec![("a".to_string(), unit(&[1.0, 0.0, 0.0])); 3];
        for (i, x) in &few {
            c.add_example(i, x);
        }
        let cal = c.fit(&few, 20, Some(0.99));
        assert_eq!(cal.nll, None);
        assert_eq!(c.temperature, 0.7);
    }

    #[test]
    fn nll_matches_the_softmax() {
        let d = [0.2, 0.5, 1.0];
        let p = softmax(d.iter().copied(), 0.3);
        assert!((nll(&d, 1, 0.3) + p[1].ln()).abs() < 1e-12);
    }
}
