//! Scoring and guarding model candidates: a held-out slice of the stored examples per
//! intent, per-intent accuracy of the nearest prototype under a head, the swap guard, and the
//! out-of-scope threshold fitted on held-out intents with its AUROC.
//!
//! The held-out slice is taken from trusted examples only (bootstrap data and operators'
//! examples), never from customers' corrections: a flood of wrong feedback can pull the
//! candidate wherever it likes, but it is scored on examples it cannot touch, and refused if
//! it loses on them.

use std::collections::BTreeMap;

use autodidact_core::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{AgentError, Result};
use crate::features::Row;
use crate::head::Head;
use crate::learn::Labelled;

/// When a candidate may replace the served model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardConfig {
    /// Whether a refused candidate is kept off (false serves every candidate: plain
    /// fine-tuning, for comparisons).
    pub enabled: bool,
    /// Every `held_out_every`-th trusted example of an intent (in id order) is held out.
    pub held_out_every: usize,
    /// Largest accuracy drop (0–1) allowed on any old intent with enough held-out examples.
    pub max_drop: f64,
    /// Held-out examples an intent needs to be guarded on its own.
    pub min_examples: usize,
    /// Largest drop of the overall held-out accuracy.
    pub max_overall_drop: f64,
    /// A drop of one intent larger than allowed refuses the candidate only when it is also
    /// significant at this level: a one-sided exact sign test on the held-out examples the two heads disagree
    /// on (right before and wrong after, against wrong before and right after). One example
    /// of seven going wrong is a 14-point drop but no evidence; 1.0 refuses on the drop alone.
    pub significance: f64,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            enabled: true,
            held_out_every: 5,
            max_drop: 0.10,
            min_examples: 5,
            max_overall_drop: 0.01,
            significance: 0.05,
        }
    }
}

impl GuardConfig {
    /// Checks every field (`prefix` is the config path).
    pub fn validate(&self, prefix: &str) -> Result<()> {
        if !(2..=1000).contains(&self.held_out_every) {
            return Err(AgentError::config(
                format!("{prefix}.held_out_every"),
                format!("{} is not in 2..=1000", self.held_out_every),
            ));
        }
        for (name, v) in [
            ("max_drop", self.max_drop),
            ("max_overall_drop", self.max_overall_drop),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(AgentError::config(
                    format!("{prefix}.{name}"),
                    format!("{v} is not in 0..=1"),
                ));
            }
        }
        if !(self.significance > 0.0 && self.significance <= 1.0) {
            return Err(AgentError::config(
                format!("{prefix}.significance"),
                format!("{} is not in (0, 1]", self.significance),
            ));
        }
        if self.min_examples == 0 {
            return Err(AgentError::config(
                format!("{prefix}.min_examples"),
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// One stored example as the learner sees it.
#[derive(Clone, Debug)]
pub struct Example<'a> {
    /// Row id.
    pub id: i64,
    /// Class index.
    pub class: usize,
    /// Bootstrap or operator (may be held out), or a customer's correction.
    pub trusted: bool,
    /// Raw features (dense or sparse, borrowed).
    pub x: Row<'a>,
}

/// The training rows and the held-out rows, with the ids of the training rows (the rows
/// themselves are the examples' features, borrowed, not copied).
#[derive(Clone, Debug, Default)]
pub struct Split<'a> {
    /// Rows trained and averaged into prototypes.
    pub train: Labelled<'a>,
    /// Example id of each training row.
    pub train_ids: Vec<i64>,
    /// Rows only scored.
    pub held: Labelled<'a>,
}

/// Splits examples (in id order): of each class's trusted examples, every `every`-th is held
/// out, as long as the class keeps at least two training rows.
pub fn split<'a>(examples: &[Example<'a>], dim: usize, every: usize) -> Split<'a> {
    let mut totals: BTreeMap<usize, usize> = BTreeMap::new();
    for e in examples {
        *totals.entry(e.class).or_default() += 1;
    }
    let mut trusted_seen: BTreeMap<usize, usize> = BTreeMap::new();
    let mut held_count: BTreeMap<usize, usize> = BTreeMap::new();
    let mut s = Split {
        train: Labelled::new(dim),
        held: Labelled::new(dim),
        ..Split::default()
    };
    for e in examples {
        let hold = e.trusted && {
            let k = trusted_seen.entry(e.class).or_default();
            *k += 1;
            let held = held_count.entry(e.class).or_default();
            let left = totals[&e.class] - *held - 1;
            (*k).is_multiple_of(every) && left >= 2
        };
        if hold {
            *held_count.entry(e.class).or_default() += 1;
            s.held.push(e.x, e.class);
        } else {
            s.train.push(e.x, e.class);
            s.train_ids.push(e.id);
        }
    }
    s
}

/// Held-out accuracy per class and over all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// `(correct, scored)` per class index.
    pub per_class: BTreeMap<usize, (usize, usize)>,
    /// Correct over all.
    pub correct: usize,
    /// Scored over all.
    pub scored: usize,
    /// Each scored held-out row's class and whether it was right, in the split's order (two
    /// heads scored on one split pair up row by row).
    #[serde(skip)]
    pub hits: Vec<(usize, bool)>,
}

impl Scores {
    /// Overall accuracy (none with nothing scored).
    pub fn accuracy(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.correct as f64 / self.scored as f64)
    }
    /// A class's accuracy and count.
    pub fn class(&self, c: usize) -> Option<(f64, usize)> {
        self.per_class
            .get(&c)
            .filter(|(_, n)| *n > 0)
            .map(|&(k, n)| (k as f64 / n as f64, n))
    }
}

/// The rows of `set` whose class `keep` accepts, with their classes.
fn rows_of<'s, 'a>(
    set: &'s Labelled<'a>,
    keep: impl Fn(usize) -> bool + 's,
) -> impl Iterator<Item = (Row<'a>, usize)> + 's {
    set.x
        .iter()
        .copied()
        .zip(set.y.iter().copied())
        .filter(move |&(_, y)| keep(y))
}

/// Mean embedded training row per active class (embedded one row at a time: only the sums
/// are held, never an embedding per row).
fn prototypes(head: &Head, train: &Labelled<'_>, active: &[bool]) -> BTreeMap<usize, Vec<f32>> {
    let is_active = |y: usize| active.get(y).copied().unwrap_or(false);
    let classes: Vec<usize> = rows_of(train, is_active).map(|(_, y)| y).collect();
    let mut sums: BTreeMap<usize, (Vec<f64>, usize)> = BTreeMap::new();
    head.for_each_embedded(rows_of(train, is_active).map(|(x, _)| x), |i, zi| {
        let (s, n) = sums
            .entry(classes[i])
            .or_insert_with(|| (vec![0.0; zi.len()], 0));
        s.iter_mut().zip(zi).for_each(|(a, v)| *a += f64::from(*v));
        *n += 1;
    });
    sums.into_iter()
        .map(|(c, (s, n))| (c, s.iter().map(|v| (v / n as f64) as f32).collect()))
        .collect()
}

fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// A squared distance to a prototype of `n` examples, scaled to what it would be to the
/// class's true mean: for a text of the class, `E‖x − m_n‖² = tr Σ · (1 + 1/n)`, so without
/// the scaling an intent introduced with a few examples sits farther from its own texts than
/// a well-populated one, and its texts would be taken for out of scope.
pub fn ood_distance(d: f64, n: usize) -> f64 {
    d / (1.0 + 1.0 / n.max(1) as f64)
}

/// Examples per class among the active ones.
fn counts(train: &Labelled<'_>, active: &[bool]) -> BTreeMap<usize, usize> {
    let mut out = BTreeMap::new();
    for &y in &train.y {
        if active.get(y).copied().unwrap_or(false) {
            *out.entry(y).or_insert(0) += 1;
        }
    }
    out
}

/// Nearest prototype: `(class, squared distance)`.
fn nearest(protos: &BTreeMap<usize, Vec<f32>>, z: &[f32]) -> Option<(usize, f32)> {
    protos
        .iter()
        .map(|(c, p)| (*c, sq_dist(p, z)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// Held-out accuracy of the nearest prototype under `head` (prototypes from the training
/// rows of the active classes; only active classes are scored).
pub fn score(head: &Head, split: &Split<'_>, active: &[bool]) -> Scores {
    let protos = prototypes(head, &split.train, active);
    let scored = |y: usize| protos.contains_key(&y);
    let classes: Vec<usize> = rows_of(&split.held, scored).map(|(_, y)| y).collect();
    let mut s = Scores::default();
    head.for_each_embedded(rows_of(&split.held, scored).map(|(x, _)| x), |i, z| {
        let y = classes[i];
        let ok = nearest(&protos, z).is_some_and(|(c, _)| c == y);
        let e = s.per_class.entry(y).or_default();
        e.0 += usize::from(ok);
        e.1 += 1;
        s.correct += usize::from(ok);
        s.scored += 1;
        s.hits.push((y, ok));
    });
    s
}

/// P(X ≥ k) for X ~ Binomial(n, 1/2): how likely `k` or more of `n` disagreements go one way
/// by chance.
fn sign_test(k: usize, n: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    // log C(n, i) summed in f64; n is at most a few thousand held-out rows.
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_c = 0.0f64; // ln C(n, 0)
    let mut tail = 0.0;
    for i in 0..=n {
        if i > 0 {
            ln_c += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        if i >= k {
            tail += (ln_c + ln_half_n).exp();
        }
    }
    tail.min(1.0)
}

/// The one-sided p-value of a drop from `current` to `candidate` over the rows `keep`
/// selects: the sign test on the rows they disagree on.
fn drop_p_value(current: &Scores, candidate: &Scores, keep: impl Fn(usize) -> bool) -> f64 {
    if current.hits.is_empty() || current.hits.len() != candidate.hits.len() {
        // Not scored on the same rows: no pairing, so only the size of the drop counts.
        return 0.0;
    }
    let (mut lost, mut won) = (0, 0);
    for (a, b) in current.hits.iter().zip(&candidate.hits) {
        if a.0 != b.0 || !keep(a.0) {
            continue;
        }
        match (a.1, b.1) {
            (true, false) => lost += 1,
            (false, true) => won += 1,
            _ => {}
        }
    }
    sign_test(lost, lost + won)
}

/// Why a candidate is refused, or `None` when it may be served: it must not lose more than
/// `max_drop` on any guarded old class, nor `max_overall_drop` over all.
pub fn guard(
    current: &Scores,
    candidate: &Scores,
    old: &[bool],
    names: &[String],
    cfg: &GuardConfig,
) -> Option<String> {
    for (&c, _) in current.per_class.iter() {
        if !old.get(c).copied().unwrap_or(false) {
            continue;
        }
        let (Some((a, n)), Some((b, _))) = (current.class(c), candidate.class(c)) else {
            continue;
        };
        if n >= cfg.min_examples && b < a - cfg.max_drop - 1e-12 {
            let p = drop_p_value(current, candidate, |k| k == c);
            if p < cfg.significance {
                let name = names.get(c).map_or("?", String::as_str);
                return Some(format!(
                    "intent `{name}` would drop from {:.1} % to {:.1} % on its {n} held-out examples (allowed: {:.1} points; sign test p = {p:.3})",
                    100.0 * a,
                    100.0 * b,
                    100.0 * cfg.max_drop
                ));
            }
        }
    }
    if let (Some(a), Some(b)) = (current.accuracy(), candidate.accuracy()) {
        // Over the whole slice the sample is large, and a test here would let a chain of
        // candidates each lose a little "insignificantly" and drift far: the size alone counts.
        if b < a - cfg.max_overall_drop - 1e-12 {
            return Some(format!(
                "held-out accuracy would drop from {:.2} % to {:.2} % (allowed: {:.1} points)",
                100.0 * a,
                100.0 * b,
                100.0 * cfg.max_overall_drop
            ));
        }
    }
    None
}

/// The out-of-scope threshold fitted on held-out intents, and how well distance separates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OodFit {
    /// Intents held out as "unknown".
    pub held_out_intents: usize,
    /// Area under the ROC curve of the nearest-prototype distance (unknown vs known).
    pub auroc: Option<f64>,
    /// The chosen threshold on [`ood_distance`] (the scaled squared distance).
    pub threshold: Option<f64>,
    /// Share of known-intent held-out texts flagged out of scope at the threshold.
    pub false_rate: Option<f64>,
    /// Share of unknown-intent texts flagged out of scope at the threshold.
    pub recall: Option<f64>,
}

/// Holds out a fifth of the classes (at least one, seeded), builds prototypes from the rest,
/// and measures how the nearest distance separates the held-out classes' rows from the other
/// classes' held-out rows; the threshold maximises balanced accuracy among those that flag at
/// most `max_false_rate` of the known texts.
pub fn fit_ood(
    head: &Head,
    split: &Split<'_>,
    classes: usize,
    max_false_rate: f64,
    rng: &mut Rng,
) -> OodFit {
    let present: Vec<usize> = {
        let mut v: Vec<usize> = split.train.y.clone();
        v.sort_unstable();
        v.dedup();
        v
    };
    if present.len() < 3 {
        return OodFit::default();
    }
    let mut order = present.clone();
    order.shuffle(rng);
    let k = (present.len() / 5).max(1);
    let mut unknown = vec![false; classes];
    for &c in &order[..k] {
        unknown[c] = true;
    }
    let known: Vec<bool> = (0..classes).map(|c| !unknown[c]).collect();
    let protos = prototypes(head, &split.train, &known);
    let sizes = counts(&split.train, &known);
    let dist = |set: &Labelled<'_>, keep: &dyn Fn(usize) -> bool| -> Vec<f64> {
        let mut out = Vec::new();
        head.for_each_embedded(rows_of(set, keep).map(|(x, _)| x), |_, z| {
            let nearest = protos
                .iter()
                .map(|(c, p)| {
                    let n = sizes.get(c).copied().unwrap_or(1);
                    ood_distance(f64::from(sq_dist(p, z)), n)
                })
                .min_by(f64::total_cmp);
            out.extend(nearest);
        });
        out
    };
    let inside = dist(&split.held, &|y| known[y]);
    let mut outside = dist(&split.train, &|y| unknown[y]);
    outside.extend(dist(&split.held, &|y| unknown[y]));
    if inside.is_empty() || outside.is_empty() {
        return OodFit {
            held_out_intents: k,
            ..OodFit::default()
        };
    }
    let auroc = auroc(&outside, &inside);
    let mut candidates: Vec<f64> = inside.iter().chain(&outside).copied().collect();
    candidates.sort_by(f64::total_cmp);
    let rate = |v: &[f64], t: f64| v.iter().filter(|&&d| d > t).count() as f64 / v.len() as f64;
    let mut best: Option<(f64, f64, f64, f64)> = None;
    for &t in &candidates {
        let (fr, rec) = (rate(&inside, t), rate(&outside, t));
        if fr > max_false_rate {
            continue;
        }
        let balanced = 0.5 * (1.0 - fr + rec);
        if best.is_none_or(|b| balanced > b.0) {
            best = Some((balanced, t, fr, rec));
        }
    }
    OodFit {
        held_out_intents: k,
        auroc: Some(auroc),
        threshold: best.map(|b| b.1),
        false_rate: best.map(|b| b.2),
        recall: best.map(|b| b.3),
    }
}

/// P(a positive scores above a negative), ties counting one half.
pub fn auroc(positive: &[f64], negative: &[f64]) -> f64 {
    let mut all: Vec<(f64, bool)> = positive
        .iter()
        .map(|&v| (v, true))
        .chain(negative.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Mann–Whitney U from mid-ranks.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let mid = (i + j + 1) as f64 / 2.0;
        rank_sum += mid * all[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    let (p, n) = (positive.len() as f64, negative.len() as f64);
    (rank_sum - p * (p + 1.0) / 2.0) / (p * n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use autodidact_core::rng::Seed;

    fn ex(id: i64, class: usize, trusted: bool, x: &[f32]) -> Example<'_> {
        Example {
            id,
            class,
            trusted,
            x: x.into(),
        }
    }

    #[test]
    fn held_out_rows_are_trusted_and_leave_two_to_train() {
        let xs: Vec<[f32; 2]> = (0..12).map(|i| [i as f32, 1.0]).collect();
        let mut e: Vec<Example<'_>> = (0..10).map(|i| ex(i, 0, true, &xs[i as usize])).collect();
        e.push(ex(10, 1, true, &xs[10]));
        e.push(ex(11, 1, false, &xs[11]));
        let s = split(&e, 2, 5);
        assert_eq!(s.held.len(), 2);
        assert_eq!(s.held.y, vec![0, 0]);
        assert_eq!(s.train.len(), 10);
        assert!(s.train_ids.contains(&11));
    }

    #[test]
    fn auroc_of_separated_and_tied_scores() {
        assert_eq!(auroc(&[3.0, 4.0], &[1.0, 2.0]), 1.0);
        assert_eq!(auroc(&[1.0, 2.0], &[3.0, 4.0]), 0.0);
        assert_eq!(auroc(&[1.0], &[1.0]), 0.5);
    }

    #[test]
    fn a_worse_candidate_is_refused_and_a_better_one_accepted() {
        let names = vec!["a".to_string(), "b".to_string()];
        let mut cur = Scores::default();
        cur.per_class.insert(0, (9, 10));
        cur.per_class.insert(1, (5, 10));
        cur.correct = 14;
        cur.scored = 20;
        let mut worse = cur.clone();
        worse.per_class.insert(0, (6, 10));
        worse.per_class.insert(1, (10, 10));
        worse.correct = 16;
        // Unpaired scores (no rows recorded): the size of the drop alone decides.
        let cfg = GuardConfig::default();
        let why = guard(&cur, &worse, &[true, true], &names, &cfg).unwrap();
        assert!(why.contains("`a`"), "{why}");
        // The same drop on a new intent is not guarded on its own.
        assert!(guard(&cur, &worse, &[false, true], &names, &cfg).is_none());
        let mut better = cur.clone();
        better.per_class.insert(1, (8, 10));
        better.correct = 17;
        assert!(guard(&cur, &better, &[true, true], &names, &cfg).is_none());
    }

    fn scores(hits: &[(usize, bool)]) -> Scores {
        let mut s = Scores::default();
        for &(c, ok) in hits {
            let e = s.per_class.entry(c).or_default();
            e.0 += usize::from(ok);
            e.1 += 1;
            s.correct += usize::from(ok);
            s.scored += 1;
            s.hits.push((c, ok));
        }
        s
    }

    #[test]
    fn the_sign_test_matches_the_binomial_tail() {
        assert_eq!(sign_test(0, 5), 1.0);
        assert!((sign_test(1, 1) - 0.5).abs() < 1e-12);
        assert!((sign_test(5, 5) - 1.0 / 32.0).abs() < 1e-12);
        // P(X >= 4), X ~ Bin(5, 1/2) = 6/32.
        assert!((sign_test(4, 5) - 6.0 / 32.0).abs() < 1e-12);
        // Large n stays finite and in range.
        let p = sign_test(600, 1000);
        assert!(p > 0.0 && p < 1e-9, "{p}");
    }

    #[test]
    fn a_drop_of_one_example_is_noise_and_a_consistent_drop_is_refused() {
        let names = vec!["a".to_string(), "b".to_string()];
        let cfg = GuardConfig::default();
        // Intent a: 6 of 7 right before, 5 of 7 after (one example flips): 14 points, p = 0.5.
        let mut before: Vec<(usize, bool)> = (0..7).map(|i| (0, i != 0)).collect();
        let mut after: Vec<(usize, bool)> = (0..7).map(|i| (0, i > 1)).collect();
        // Intent b improves, so the whole is better.
        before.extend((0..20).map(|i| (1, i < 10)));
        after.extend((0..20).map(|i| (1, i < 18)));
        assert!(guard(
            &scores(&before),
            &scores(&after),
            &[true, true],
            &names,
            &cfg
        )
        .is_none());
        // Intent a: 20 of 20 right before, 13 of 20 after: 35 points, p = 1/128.
        let before: Vec<(usize, bool)> = (0..20).map(|_| (0, true)).collect();
        let after: Vec<(usize, bool)> = (0..20).map(|i| (0, i < 13)).collect();
        let why = guard(
            &scores(&before),
            &scores(&after),
            &[true, true],
            &names,
            &cfg,
        )
        .expect("refused");
        assert!(why.contains("`a`") && why.contains("p = 0.008"), "{why}");
        // significance = 1 refuses on the size of the drop alone.
        let strict = GuardConfig {
            significance: 1.0,
            ..GuardConfig::default()
        };
        let before: Vec<(usize, bool)> = (0..7).map(|i| (0, i != 0)).collect();
        let after: Vec<(usize, bool)> = (0..7).map(|i| (0, i > 1)).collect();
        assert!(guard(&scores(&before), &scores(&after), &[true], &names, &strict).is_some());
    }

    #[test]
    fn distance_separates_unknown_intents() {
        // Classes along their own axis; held-out classes are far from every prototype.
        let dim = 12;
        let mut rows = Vec::new();
        for c in 0..10usize {
            for k in 0..8 {
                let mut x = vec![0.02 * k as f32; dim];
                x[c] = 1.0;
                rows.push((c, x));
            }
        }
        let e: Vec<Example<'_>> = rows
            .iter()
            .enumerate()
            .map(|(i, (c, x))| ex(i as i64, *c, true, x))
            .collect();
        let s = split(&e, dim, 4);
        let mut rng = Seed(1).rng("t");
        let head = Head::new(dim, 2, &mut rng).unwrap();
        let fit = fit_ood(&head, &s, 10, 0.05, &mut rng);
        assert_eq!(fit.held_out_intents, 2);
        assert!(fit.auroc.unwrap() > 0.99, "{fit:?}");
        assert!(
            fit.recall.unwrap() > 0.9 && fit.false_rate.unwrap() <= 0.05,
            "{fit:?}"
        );
    }
}
