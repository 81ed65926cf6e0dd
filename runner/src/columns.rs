//! `compare`'s published-table form: one row per group and one column per chosen metric
//! (`--metrics acc,bwt,just_trained_*`), each cell the mean ± 95 % CI over seeds, as Markdown;
//! per-run differences (`--derive gap=task-aware.acc-acc`), whose interval is the paired one
//! (far tighter than comparing two intervals); and the first logged step at which a metric
//! reached a threshold (`--first solved=eval.eval_return_mean>=475`, from `metrics.jsonl`).

use crate::compare::{mean_ci, Group, Stat};
use crate::errors::{Result, RunnerError};
use crate::metrics::{self, METRICS_FILE};
use crate::summary::RunRecord;
use crate::table::fmt_num;

/// The pseudo-metric of a run's training seconds (wall-clock; only when asked for).
pub const TRAIN_SECONDS: &str = "timing.train_seconds";

/// `NAME=A-B`: a per-run metric `NAME` = metric `A` − metric `B`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Derived {
    /// The new metric's key.
    pub name: String,
    /// The metric subtracted from.
    pub minuend: String,
    /// The metric subtracted.
    pub subtrahend: String,
}

impl Derived {
    /// Parses `NAME=A-B`, or `NAME=A - B` (with spaces) when a key holds `-` itself
    /// (`task-aware.acc`): without spaces such a difference would be ambiguous.
    pub fn parse(text: &str) -> Result<Derived> {
        let bad = |why: &str| RunnerError::Usage(format!("`--derive {text}`: {why}"));
        let (name, expr) = text
            .split_once('=')
            .ok_or_else(|| bad("use NAME=A-B (or NAME=A - B when a key holds '-')"))?;
        let (a, b) = match expr.split_once(" - ") {
            Some(ab) => ab,
            None => {
                let mut parts = expr.split('-');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(a), Some(b), None) => (a, b),
                    _ => return Err(bad("a key holds '-': write NAME=A - B with spaces")),
                }
            }
        };
        let (name, a, b) = (name.trim(), a.trim(), b.trim());
        if name.is_empty() || a.is_empty() || b.is_empty() {
            return Err(bad("NAME, A and B must not be empty"));
        }
        Ok(Derived {
            name: name.to_string(),
            minuend: a.to_string(),
            subtrahend: b.to_string(),
        })
    }

    /// Adds the metric to every run that has both operands.
    pub fn apply(&self, runs: &mut [RunRecord]) {
        for r in runs {
            if let (Some(a), Some(b)) = (
                r.final_metrics.get(&self.minuend),
                r.final_metrics.get(&self.subtrahend),
            ) {
                let d = a - b;
                r.final_metrics.insert(self.name.clone(), d);
            }
        }
    }
}

/// `NAME=KEY<=T` or `NAME=KEY>=T`: a per-run metric `NAME`, the first logged step at which
/// `KEY` was at most (at least) `T`; absent when it never was.
#[derive(Clone, Debug, PartialEq)]
pub struct First {
    /// The new metric's key.
    pub name: String,
    /// The logged metric watched.
    pub key: String,
    /// `true` for `<=`, `false` for `>=`.
    pub at_most: bool,
    /// The threshold.
    pub threshold: f64,
}

impl First {
    /// Parses `NAME=KEY<=T` or `NAME=KEY>=T`.
    pub fn parse(text: &str) -> Result<First> {
        let bad = |why: &str| RunnerError::Usage(format!("`--first {text}`: {why}"));
        let (name, cond) = text
            .split_once('=')
            .ok_or_else(|| bad("use NAME=KEY<=T or NAME=KEY>=T"))?;
        let (key, at_most, t) = if let Some((k, t)) = cond.split_once("<=") {
            (k, true, t)
        } else if let Some((k, t)) = cond.split_once(">=") {
            (k, false, t)
        } else {
            return Err(bad("the condition is KEY<=T or KEY>=T"));
        };
        let threshold: f64 = t
            .trim()
            .parse()
            .map_err(|_| bad("the threshold is not a number"))?;
        let (name, key) = (name.trim(), key.trim());
        if name.is_empty() || key.is_empty() || !threshold.is_finite() {
            return Err(bad("NAME and KEY must not be empty, T must be finite"));
        }
        Ok(First {
            name: name.to_string(),
            key: key.to_string(),
            at_most,
            threshold,
        })
    }

    /// The first step of `log` that meets the condition.
    pub fn find(&self, log: &metrics::Log) -> Option<u64> {
        log.iter()
            .find(|(_, m)| {
                m.get(&self.key).is_some_and(|&v| {
                    if self.at_most {
                        v <= self.threshold
                    } else {
                        v >= self.threshold
                    }
                })
            })
            .map(|(step, _)| *step)
    }

    /// Adds the metric to every run whose folder holds a `metrics.jsonl` where the condition
    /// was met (runs read from an export keep the value the export recorded).
    pub fn apply(&self, runs: &mut [RunRecord]) -> Result<()> {
        for r in runs {
            let path = r.dir.join(METRICS_FILE);
            if !path.is_file() {
                continue;
            }
            if let Some(step) = self.find(&metrics::read_log(&path)?) {
                r.final_metrics.insert(self.name.clone(), step as f64);
            }
        }
        Ok(())
    }
}

/// Orders keys with their numbers by value (`x_2` before `x_10`).
fn natural_key(k: &str) -> (String, u64) {
    let digits = k.len() - k.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (stem, num) = k.split_at(k.len() - digits);
    (stem.to_string(), num.parse().unwrap_or(0))
}

/// The columns: each pattern in order, a trailing `*` standing for every key with that prefix
/// that some run has (in natural order).
pub fn expand(patterns: &[String], groups: &[Group]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in patterns {
        match p.strip_suffix('*') {
            Some(prefix) => {
                let mut keys: Vec<&String> = groups
                    .iter()
                    .flat_map(|g| &g.runs)
                    .flat_map(|r| r.final_metrics.keys())
                    .filter(|k| k.starts_with(prefix))
                    .collect();
                keys.sort_by_key(|k| natural_key(k));
                keys.dedup();
                out.extend(
                    keys.into_iter()
                        .filter(|k| !out.contains(k))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
            }
            None => {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
    }
    out
}

/// A group's statistic of one column. With one run, the interval is the run's own `KEY_ci95`
/// when it reports one (an evaluation's interval over its test episodes).
pub fn column_stat(g: &Group, key: &str) -> Stat {
    if let [run] = g.runs.as_slice() {
        if let Some(&mean) = run.final_metrics.get(key) {
            let own = run
                .final_metrics
                .get(&format!("{key}{}", crate::plot::CI_SUFFIX));
            return Stat {
                n: 1,
                mean,
                ci95: own.copied(),
            };
        }
    }
    let values: Vec<f64> = g
        .runs
        .iter()
        .filter_map(|r| {
            if key == TRAIN_SECONDS {
                r.train_seconds
            } else {
                r.final_metrics.get(key).copied()
            }
        })
        .collect();
    mean_ci(&values)
}

fn cell(s: &Stat, percent: bool) -> String {
    if s.n == 0 {
        return "–".to_string();
    }
    let scale = if percent { 100.0 } else { 1.0 };
    let num = |v: f64| {
        if percent {
            format!("{:.1}", v * scale)
        } else {
            fmt_num(v)
        }
    };
    match s.ci95 {
        Some(ci) => format!("{} ± {}", num(s.mean), num(ci)),
        None => num(s.mean),
    }
}

/// The Markdown table: `group | seeds | column…`; with `percent`, values (not the seconds)
/// are shown ×100 to one decimal. A cell over fewer runs than its group's (a threshold some
/// seeds never reached) says how many: `(2 of 3)`.
pub fn markdown(groups: &[Group], columns: &[String], percent: bool) -> String {
    let mut md = String::from("| group | seeds |");
    for c in columns {
        let unit = if percent && c != TRAIN_SECONDS {
            " %"
        } else {
            ""
        };
        md.push_str(&format!(" {c}{unit} |"));
    }
    md.push_str("\n| --- | --- |");
    md.push_str(&" --- |".repeat(columns.len()));
    md.push('\n');
    for g in groups {
        md.push_str(&format!("| {} | {} |", g.label, g.runs.len()));
        for c in columns {
            let s = column_stat(g, c);
            let mut text = cell(&s, percent && c != TRAIN_SECONDS);
            if s.n > 0 && s.n < g.runs.len() {
                text.push_str(&format!(" ({} of {})", s.n, g.runs.len()));
            }
            md.push_str(&format!(" {text} |"));
        }
        md.push('\n');
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn run(seed: u64, acc: f64, aware: f64) -> RunRecord {
        RunRecord {
            dir: PathBuf::from(format!("r{seed}")),
            algorithm: "naive".into(),
            env: "split".into(),
            seed,
            headline: "acc".into(),
            final_metrics: [
                ("acc".to_string(), acc),
                ("task-aware.acc".to_string(), aware),
                ("just_trained_10".to_string(), 0.5),
                ("just_trained_2".to_string(), 0.7),
            ]
            .into(),
            matrices: Default::default(),
            train_seconds: Some(2.0),
            hyperparameters: json!({}),
            env_params: json!({}),
        }
    }

    #[test]
    fn derived_differences_are_paired() {
        let d = Derived::parse("gap=task-aware.acc - acc").unwrap();
        assert_eq!(d.minuend, "task-aware.acc");
        assert_eq!(Derived::parse("d=a-b").unwrap().subtrahend, "b");
        assert!(Derived::parse("d=task-aware.acc-acc").is_err());
        assert!(Derived::parse("nothing").is_err());
        let mut runs = vec![run(0, 0.2, 0.5), run(1, 0.4, 0.7)];
        d.apply(&mut runs);
        // Both gaps are 0.3: the paired interval is 0 though each accuracy varies.
        let g = Group {
            label: "naive on split".into(),
            runs,
        };
        let s = column_stat(&g, "gap");
        assert!((s.mean - 0.3).abs() < 1e-12 && s.ci95.unwrap().abs() < 1e-12);
    }

    #[test]
    fn first_steps_meet_the_threshold() {
        let f = First::parse("solved=eval.ret>=475").unwrap();
        assert!(!f.at_most && f.threshold == 475.0 && f.key == "eval.ret");
        let g = First::parse("reach=eval.value_gap<=0.01").unwrap();
        assert!(g.at_most);
        assert!(First::parse("x=eval.ret>475").is_err());
        assert!(First::parse("x=eval.ret>=nan").is_err());
        let log: metrics::Log = [(10, 300.0), (20, 480.0), (30, 500.0)]
            .into_iter()
            .map(|(s, v)| (s, [("eval.ret".to_string(), v)].into()))
            .collect();
        assert_eq!(f.find(&log), Some(20));
        let never = First::parse("x=eval.ret>=501").unwrap();
        assert_eq!(never.find(&log), None);
        assert_eq!(
            First::parse("x=eval.ret<=300").unwrap().find(&log),
            Some(10)
        );
    }

    #[test]
    fn markdown_rows_per_group_and_natural_columns() {
        let g = Group {
            label: "naive on split".into(),
            runs: vec![run(0, 0.2, 0.5), run(1, 0.4, 0.7)],
        };
        let cols = expand(
            &[
                "acc".to_string(),
                "just_trained_*".to_string(),
                TRAIN_SECONDS.to_string(),
                "missing".to_string(),
            ],
            std::slice::from_ref(&g),
        );
        assert_eq!(
            cols,
            [
                "acc",
                "just_trained_2",
                "just_trained_10",
                TRAIN_SECONDS,
                "missing"
            ]
        );
        let md = markdown(&[g], &cols, true);
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(
            lines[0],
            "| group | seeds | acc % | just_trained_2 % | just_trained_10 % | timing.train_seconds | missing % |"
        );
        // 0.2, 0.4: mean 30 %, half-width t(1) · 0.1414 / √2 = 12.706 · 0.1 = 127.1 %.
        assert_eq!(
            lines[2],
            "| naive on split | 2 | 30.0 ± 127.1 | 70.0 ± 0.0 | 50.0 ± 0.0 | 2 ± 0 | – |"
        );
    }

    #[test]
    fn cells_over_part_of_a_group_say_how_many() {
        let mut b = run(1, 0.4, 0.7);
        b.final_metrics.remove("acc");
        let g = Group {
            label: "g".into(),
            runs: vec![run(0, 0.2, 0.5), b],
        };
        let md = markdown(&[g], &["acc".to_string()], true);
        assert!(md.contains("| g | 2 | 20.0 (1 of 2) |"), "{md}");
    }

    #[test]
    fn one_run_shows_its_own_interval() {
        let mut r = run(0, 0.9, 0.95);
        r.final_metrics.insert("acc_ci95".into(), 0.01);
        let g = Group {
            label: "one".into(),
            runs: vec![r],
        };
        assert_eq!(column_stat(&g, "acc").ci95, Some(0.01));
        assert_eq!(column_stat(&g, "task-aware.acc").ci95, None);
        let md = markdown(
            &[g],
            &["acc".to_string(), "task-aware.acc".to_string()],
            true,
        );
        assert!(md.contains("| one | 1 | 90.0 ± 1.0 | 95.0 |"), "{md}");
    }
}
