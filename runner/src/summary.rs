//! `summary.json`: a finished run's final metrics, the algorithm's matrices (under
//! `"matrices"`, e.g. a continual learner's `accuracy_matrix`), iterations, seed, configuration,
//! versions and worker threads (`"threads"`: the setting and the workers it gives on this
//! machine), with every wall-clock field under `"timing"` so the rest is deterministic;
//! the final-metrics table printed at the end of a run; timestamps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use autodidact_core::parallel;
use autodidact_core::plugin::{CORE_VERSION, RUSTC_VERSION};
use autodidact_core::{Matrices, Matrix, Metrics};
use serde_json::{json, Value};

use crate::atomic;
use crate::config::RunSpec;
use crate::errors::{Result, RunnerError};
use crate::run::best::BestEvaluation;
use crate::table::{fmt_num, Table};

/// The summary's file name in a run folder.
pub const SUMMARY_FILE: &str = "summary.json";

/// The git commit the runner was built from, when known.
pub fn git_commit() -> Option<&'static str> {
    option_env!("AUTODIDACT_GIT_COMMIT")
}

/// Versions of autodidact, the compiler and the source.
pub fn versions() -> Value {
    let mut v = json!({
        "autodidact": CORE_VERSION,
        "runner": env!("CARGO_PKG_VERSION"),
        "rustc": RUSTC_VERSION,
    });
    if let (Some(c), Some(map)) = (git_commit(), v.as_object_mut()) {
        map.insert("git_commit".into(), Value::String(c.to_string()));
    }
    v
}

/// Metrics as a JSON object (a non-finite value becomes `null`).
pub fn metrics_json(m: &Metrics) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), json_number(*v)))
            .collect(),
    )
}

/// Matrices as a JSON object of arrays of rows (an unfilled or non-finite cell is `null`).
pub fn matrices_json(m: &Matrices) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, rows)| {
                let rows = rows
                    .iter()
                    .map(|r| {
                        Value::Array(
                            r.iter()
                                .map(|c| c.map_or(Value::Null, json_number))
                                .collect(),
                        )
                    })
                    .collect();
                (k.clone(), Value::Array(rows))
            })
            .collect(),
    )
}

/// Reads a matrix written by [`matrices_json`]; `None` when `v` is not an array of arrays.
pub fn matrix_from_json(v: &Value) -> Option<Matrix> {
    v.as_array()?
        .iter()
        .map(|r| Some(r.as_array()?.iter().map(Value::as_f64).collect()))
        .collect()
}

fn json_number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// The final metrics: the last training metrics, overridden by the evaluation's.
pub fn final_metrics(evaluation: &Metrics, last_training: &Metrics) -> Metrics {
    let mut m = last_training.clone();
    m.extend(evaluation.iter().map(|(k, v)| (k.clone(), *v)));
    m
}

/// Wall-clock facts of a run (kept apart from the deterministic rest).
#[derive(Clone, Debug)]
pub struct Timing {
    /// When this session started.
    pub started: SystemTime,
    /// When it finished.
    pub finished: SystemTime,
    /// Seconds spent in training steps, over every session (a resumed run adds up).
    pub train_seconds: f64,
    /// Seconds spent in the final evaluation.
    pub eval_seconds: f64,
    /// Steps this session ran.
    pub session_steps: u64,
    /// Sessions (1 + the number of resumes).
    pub sessions: u64,
}

impl Timing {
    fn json(&self) -> Value {
        let wall = self
            .finished
            .duration_since(self.started)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        json!({
            "started": utc_timestamp(self.started),
            "finished": utc_timestamp(self.finished),
            "session_wall_seconds": wall,
            "train_seconds": self.train_seconds,
            "eval_seconds": self.eval_seconds,
            "steps_per_second": if wall > 0.0 { self.session_steps as f64 / wall } else { 0.0 },
            "sessions": self.sessions,
        })
    }
}

/// What goes into a summary.
pub struct SummaryInput<'a> {
    /// The run.
    pub spec: &'a RunSpec,
    /// The crate that registered the algorithm.
    pub algorithm_crate: &'a str,
    /// The algorithm's headline metric.
    pub headline: &'a str,
    /// Steps trained.
    pub iterations: u64,
    /// `evaluate(None)`'s result.
    pub evaluation: &'a Metrics,
    /// With `--keep-best`: the best state's evaluation.
    pub best: Option<&'a BestEvaluation>,
    /// The latest value of every metric the training steps logged.
    pub last_training: &'a Metrics,
    /// The algorithm's matrices at the end.
    pub matrices: &'a Matrices,
    /// Wall-clock facts.
    pub timing: Timing,
}

/// The best evaluation as final metrics: `best.KEY` for each of its metrics, and
/// `best.iteration`.
pub fn best_metrics(best: &BestEvaluation) -> Metrics {
    let mut m: Metrics = best
        .evaluation
        .iter()
        .map(|(k, v)| (format!("best.{k}"), *v))
        .collect();
    m.insert("best.iteration".into(), best.step as f64);
    m
}

/// The summary as JSON.
pub fn summary_json(input: &SummaryInput<'_>) -> Value {
    let s = input.spec;
    let mut finals = final_metrics(input.evaluation, input.last_training);
    if let Some(b) = input.best {
        finals.extend(best_metrics(b));
    }
    let mut v = json!({
        "algorithm": s.algorithm,
        "algorithm_crate": input.algorithm_crate,
        "env": s.env,
        "seed": s.seed,
        "iterations": input.iterations,
        "headline_metric": input.headline,
        "final_metrics": metrics_json(&finals),
        "evaluation": metrics_json(input.evaluation),
        "last_training_metrics": metrics_json(input.last_training),
        "matrices": matrices_json(input.matrices),
        "hyperparameters": toml_to_json(&s.hyperparameters),
        "env_params": toml_to_json(&s.env_params),
        "versions": versions(),
        "threads": threads_json(&s.hyperparameters),
        "timing": input.timing.json(),
    });
    if let (Some(b), Some(map)) = (input.best, v.as_object_mut()) {
        map.insert(
            "best".into(),
            json!({
                "iteration": b.step,
                "metric": b.metric,
                "better": b.better.name(),
                "evaluation": metrics_json(&b.evaluation),
            }),
        );
    }
    v
}

/// The run's worker threads: `setting`, its `threads` hyperparameter (0: every core), and
/// `workers`, the number that setting gives on this machine. An algorithm without the key runs
/// on the calling thread: `{"setting": null, "workers": 1}`.
pub fn threads_json(hyperparameters: &autodidact_core::Config) -> Value {
    match hyperparameters
        .get("threads")
        .and_then(toml::Value::as_integer)
        .and_then(|n| usize::try_from(n).ok())
    {
        Some(n) => json!({ "setting": n, "workers": parallel::worker_threads(n) }),
        None => json!({ "setting": null, "workers": 1 }),
    }
}

/// A TOML table as JSON.
pub fn toml_to_json(t: &autodidact_core::Config) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// Writes `summary.json` into `dir`.
pub fn write_summary(dir: &Path, summary: &Value) -> Result<PathBuf> {
    let path = dir.join(SUMMARY_FILE);
    atomic::write_json(&path, summary)?;
    Ok(path)
}

/// A summary read back (what `compare` needs).
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    /// The run folder.
    pub dir: PathBuf,
    /// Algorithm name.
    pub algorithm: String,
    /// Environment name.
    pub env: String,
    /// Seed.
    pub seed: u64,
    /// The headline metric's key.
    pub headline: String,
    /// Final metrics (non-finite ones are absent).
    pub final_metrics: BTreeMap<String, f64>,
    /// The algorithm's matrices (none in a summary written before they existed).
    pub matrices: Matrices,
    /// Training seconds over every session (wall-clock: kept out of the metrics so tables
    /// stay deterministic).
    pub train_seconds: Option<f64>,
    /// Hyperparameters.
    pub hyperparameters: Value,
    /// Environment parameters.
    pub env_params: Value,
}

/// Reads `dir/summary.json`.
pub fn read_summary(dir: &Path) -> Result<RunRecord> {
    let path = dir.join(SUMMARY_FILE);
    record_from_json(dir, &path, &summary_with_evaluations(dir)?)
}

/// `dir/summary.json` as JSON, with the run's later evaluations (`autodidact eval`'s
/// `eval.json` and `eval-NAME.json` files in the folder) under `"evaluations"`, by name
/// (`eval`, `NAME`): what `compare` reads and `compare --export` writes as one line.
pub fn summary_with_evaluations(dir: &Path) -> Result<Value> {
    let path = dir.join(SUMMARY_FILE);
    let mut v = read_json(&path)?;
    let mut evaluations = serde_json::Map::new();
    let entries = std::fs::read_dir(dir).map_err(|e| RunnerError::read(dir, e))?;
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    for f in files {
        let Some(name) = f.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let key = match stem.strip_prefix("eval-") {
            Some(k) if !k.is_empty() => k,
            _ if stem == "eval" => "eval",
            _ => continue,
        };
        let e = read_json(&f)?;
        let metrics = e
            .get("metrics")
            .filter(|m| m.is_object())
            .ok_or_else(|| RunnerError::parse(&f, "no `metrics` object"))?;
        evaluations.insert(key.to_string(), metrics.clone());
    }
    if let (false, Some(map)) = (evaluations.is_empty(), v.as_object_mut()) {
        map.insert("evaluations".into(), Value::Object(evaluations));
    }
    Ok(v)
}

fn read_json(path: &Path) -> Result<Value> {
    let text = crate::errors::read_text(path)?;
    serde_json::from_str(&text).map_err(|e| RunnerError::parse(path, e.to_string()))
}

/// A summary's record from its JSON (`dir` is the run folder, `path` names the source in
/// errors: a `summary.json`, or a line of a `runs.jsonl` export).
pub fn record_from_json(dir: &Path, path: &Path, v: &Value) -> Result<RunRecord> {
    let field = |k: &str| {
        v.get(k)
            .ok_or_else(|| RunnerError::parse(path, format!("no `{k}` field")))
    };
    let string = |k: &str| -> Result<String> {
        field(k)?
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| RunnerError::parse(path, format!("`{k}` is not a string")))
    };
    let mut final_metrics: BTreeMap<String, f64> = field("final_metrics")?
        .as_object()
        .ok_or_else(|| RunnerError::parse(path, "`final_metrics` is not an object"))?
        .iter()
        .filter_map(|(k, x)| x.as_f64().map(|f| (k.clone(), f)))
        .collect();
    // What compare derived when it exported the run (differences, first steps).
    if let Some(d) = v.get("derived").and_then(Value::as_object) {
        for (k, x) in d {
            if let Some(f) = x.as_f64() {
                final_metrics.insert(k.clone(), f);
            }
        }
    }
    // A later evaluation's metrics join as `NAME.KEY` (eval-task-aware.json: `task-aware.acc`).
    if let Some(evals) = v.get("evaluations").and_then(Value::as_object) {
        for (name, m) in evals {
            for (k, x) in m.as_object().into_iter().flatten() {
                if let Some(f) = x.as_f64() {
                    final_metrics.insert(format!("{name}.{k}"), f);
                }
            }
        }
    }
    let mut matrices = Matrices::new();
    if let Some(m) = v.get("matrices").and_then(Value::as_object) {
        for (k, x) in m {
            let matrix = matrix_from_json(x).ok_or_else(|| {
                RunnerError::parse(path, format!("`matrices.{k}` is not an array of rows"))
            })?;
            matrices.insert(k.clone(), matrix);
        }
    }
    Ok(RunRecord {
        dir: dir.to_path_buf(),
        algorithm: string("algorithm")?,
        env: string("env")?,
        seed: field("seed")?.as_u64().unwrap_or(0),
        headline: string("headline_metric").unwrap_or_else(|_| "loss".into()),
        final_metrics,
        matrices,
        train_seconds: v
            .get("timing")
            .and_then(|t| t.get("train_seconds"))
            .and_then(Value::as_f64),
        hyperparameters: field("hyperparameters")?.clone(),
        env_params: field("env_params")?.clone(),
    })
}

/// The final-metrics table printed at the end of a run; a metric's `KEY_ci95` companion is
/// shown beside it as `± x`.
pub fn final_table(metrics: &Metrics) -> String {
    let ci = |k: &str| metrics.get(&format!("{k}{}", crate::plot::CI_SUFFIX));
    let any_ci = metrics.keys().any(|k| ci(k).is_some());
    let header: &[&str] = if any_ci {
        &["metric", "value", "95% CI"]
    } else {
        &["metric", "value"]
    };
    let mut t = Table::new(header.iter().copied()).align_right(1);
    for (k, v) in metrics {
        let base = k.strip_suffix(crate::plot::CI_SUFFIX);
        if base.is_some_and(|b| metrics.contains_key(b)) {
            continue;
        }
        let mut row = vec![k.clone(), fmt_num(*v)];
        if any_ci {
            row.push(ci(k).map_or(String::new(), |c| format!("± {}", fmt_num(*c))));
        }
        t.row(row);
    }
    t.render(2)
}

/// `2025-01-02T03:04:05Z`.
pub fn utc_timestamp(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `20250102-030405` (for folder names).
pub fn compact_timestamp(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
}

/// UTC calendar date and time (Howard Hinnant's days-to-civil algorithm).
fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(utc_timestamp(t), "2023-11-14T22:13:20Z");
        assert_eq!(compact_timestamp(t), "20231114-221320");
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(utc_timestamp(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn confidence_intervals_sit_beside_their_metric() {
        let mut m = Metrics::new();
        m.insert("mse".into(), 0.5);
        m.insert("mse_ci95".into(), 0.01);
        m.insert("orphan_ci95".into(), 2.0);
        let t = final_table(&m);
        assert_eq!(
            t,
            "  metric       value  95% CI\n  mse            0.5  ± 0.01\n  orphan_ci95      2\n"
        );
    }

    #[test]
    fn evaluation_overrides_training_and_nan_is_null() {
        let mut e = Metrics::new();
        e.insert("loss".into(), 1.0);
        let mut t = Metrics::new();
        t.insert("loss".into(), 2.0);
        t.insert("acc".into(), f64::NAN);
        let f = final_metrics(&e, &t);
        assert_eq!(f["loss"], 1.0);
        assert_eq!(metrics_json(&f)["acc"], Value::Null);
    }

    #[test]
    fn matrices_round_trip_with_unfilled_cells() {
        let m: Matrices = [(
            "accuracy_matrix".to_string(),
            vec![vec![Some(0.5), Some(f64::NAN)], vec![None, None]],
        )]
        .into();
        let v = matrices_json(&m);
        assert_eq!(v, json!({ "accuracy_matrix": [[0.5, null], [null, null]] }));
        let back = matrix_from_json(&v["accuracy_matrix"]).unwrap();
        assert_eq!(back, vec![vec![Some(0.5), None], vec![None, None]]);
        assert_eq!(matrix_from_json(&json!([1, 2])), None);
    }
}
