//! `autodidact compare`: finds finished runs under the given folders (any depth, so the
//! folders of a sweep's shards merge) or in `runs.jsonl` exports, groups them by algorithm,
//! environment and configuration (everything but the seed), and reports each metric's mean ±
//! 95 % confidence interval over seeds (Student's t), with the learning curves of every group
//! overlaid. A run's later evaluations (`eval-NAME.json`) count as metrics `NAME.KEY`;
//! `--markdown` prints the published-table form ([`crate::columns`]); `--export` writes the
//! runs as one `runs.jsonl` ([`crate::export`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::columns::{self, Derived, First};
use crate::errors::{Result, RunnerError};
use crate::export;
use crate::metrics::{self, METRICS_FILE};
use crate::plot::{self, Panel, Series};
use crate::run::holds_run;
use crate::summary::{read_summary, RunRecord, SUMMARY_FILE};
use crate::table::{fmt_num, Table};

/// How deep below each given folder runs are looked for.
pub const MAX_DEPTH: usize = 6;

/// What to compare.
#[derive(Clone, Debug, Default)]
pub struct CompareRequest {
    /// Folders holding runs (at any depth), or `runs.jsonl` exports.
    pub dirs: Vec<PathBuf>,
    /// Where to draw the overlaid curves (`.svg` or `.png`).
    pub plot: Option<PathBuf>,
    /// The metric to plot (default: the runs' headline metric).
    pub metric: Option<String>,
    /// Print JSON instead of a table.
    pub json: bool,
    /// Print a Markdown table: a row per group, a column per metric of `columns`.
    pub markdown: bool,
    /// The Markdown table's columns (`KEY`, or `PREFIX*` for every key with the prefix);
    /// default: every metric.
    pub columns: Vec<String>,
    /// Show Markdown values ×100 (accuracies as per cent).
    pub percent: bool,
    /// Per-run differences to add before grouping.
    pub derive: Vec<Derived>,
    /// Per-run first steps at a threshold (from `metrics.jsonl`) to add before grouping.
    pub first: Vec<First>,
    /// Write every run found, one line each, to this `runs.jsonl`.
    pub export: Option<PathBuf>,
}

/// A mean over seeds with its 95 % confidence half-width.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    /// Number of values.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// `t(0.975, n−1) · s / √n`; `None` for a single value.
    pub ci95: Option<f64>,
}

/// Mean and 95 % CI of `values` ([`autodidact_core::mean_ci95`]; no interval for one value).
pub fn mean_ci(values: &[f64]) -> Stat {
    let (mean, half) = autodidact_core::mean_ci95(values);
    Stat {
        n: values.len(),
        mean,
        ci95: (values.len() > 1).then_some(half),
    }
}

/// Finished runs under `dirs` (sorted by folder), and how many unfinished ones were seen; a
/// `.jsonl` file among `dirs` is read as an export.
pub fn find_runs(dirs: &[PathBuf]) -> Result<(Vec<RunRecord>, usize)> {
    let mut runs = Vec::new();
    let mut unfinished = 0;
    for d in dirs {
        if d.is_file() && export::is_export(d) {
            runs.extend(export::read_export(d)?);
            continue;
        }
        if !d.is_dir() {
            return Err(RunnerError::Usage(format!(
                "{} is not a folder (nor a runs.jsonl export)",
                d.display()
            )));
        }
        walk(d, 0, &mut runs, &mut unfinished)?;
    }
    runs.sort_by(|a, b| a.dir.cmp(&b.dir));
    runs.dedup_by(|a, b| a.dir == b.dir);
    Ok((runs, unfinished))
}

fn walk(dir: &Path, depth: usize, runs: &mut Vec<RunRecord>, unfinished: &mut usize) -> Result<()> {
    if dir.join(SUMMARY_FILE).is_file() {
        runs.push(read_summary(dir)?);
        return Ok(());
    }
    if holds_run(dir) {
        *unfinished += 1;
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| RunnerError::read(dir, e))?;
    let mut subdirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    subdirs.sort();
    for s in subdirs {
        walk(&s, depth + 1, runs, unfinished)?;
    }
    Ok(())
}

/// Runs sharing algorithm, environment and configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Readable name: `algorithm on env` and the settings that tell groups apart.
    pub label: String,
    /// The runs (one per seed).
    pub runs: Vec<RunRecord>,
}

/// `key=value` for every leaf of a JSON object, keys dotted.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                flatten(&format!("{prefix}{k}."), x, out);
            }
        }
        other => {
            let key = prefix.trim_end_matches('.').to_string();
            let text = match other {
                Value::String(s) => s.clone(),
                x => x.to_string(),
            };
            out.insert(key, text);
        }
    }
}

fn settings(r: &RunRecord) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    flatten("", &r.hyperparameters, &mut out);
    flatten("env.", &r.env_params, &mut out);
    out
}

/// Groups runs by everything but the seed; labels name what differs between groups.
pub fn group_runs(runs: Vec<RunRecord>) -> Vec<Group> {
    let mut groups: BTreeMap<(String, String, String), Vec<RunRecord>> = BTreeMap::new();
    for r in runs {
        let key = (
            r.algorithm.clone(),
            r.env.clone(),
            format!("{}|{}", r.hyperparameters, r.env_params),
        );
        groups.entry(key).or_default().push(r);
    }
    let all: Vec<(String, BTreeMap<String, String>)> = groups
        .values()
        .map(|rs| (rs[0].algorithm.clone(), settings(&rs[0])))
        .collect();
    // Environment settings that differ between any groups; hyperparameters that differ between
    // groups of the same algorithm (another algorithm's defaults say nothing about this one).
    let differing = |algorithm: &str, s: &BTreeMap<String, String>| -> Vec<String> {
        s.iter()
            .filter(|(k, v)| {
                let env = k.starts_with("env.");
                all.iter()
                    .filter(|(a, _)| env || a == algorithm)
                    .any(|(_, o)| o.get(*k) != Some(*v))
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    };
    groups
        .into_values()
        .zip(all.clone())
        .map(|(mut runs, (algorithm, s))| {
            runs.sort_by_key(|r| r.seed);
            let mut label = format!("{} on {}", runs[0].algorithm, runs[0].env);
            let diffs = differing(&algorithm, &s);
            if !diffs.is_empty() {
                label.push_str(", ");
                label.push_str(&diffs.join(", "));
            }
            Group { label, runs }
        })
        .collect()
}

/// A group's metric keys: the headline first, then the others in order. A run's own
/// confidence half-widths (`KEY_ci95`) are left out: the table's interval is over seeds.
fn metric_keys(g: &Group) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for r in &g.runs {
        for k in r.final_metrics.keys() {
            if !keys.contains(k) && !k.ends_with(crate::plot::CI_SUFFIX) {
                keys.push(k.clone());
            }
        }
    }
    keys.sort();
    let headline = &g.runs[0].headline;
    if let Some(i) = keys.iter().position(|k| k == headline) {
        let h = keys.remove(i);
        keys.insert(0, h);
    }
    keys
}

/// Each group's statistics per metric.
pub fn group_stats(g: &Group) -> Vec<(String, Stat)> {
    metric_keys(g)
        .into_iter()
        .map(|k| {
            let values: Vec<f64> = g
                .runs
                .iter()
                .filter_map(|r| r.final_metrics.get(&k).copied())
                .collect();
            (k, mean_ci(&values))
        })
        .collect()
}

fn stat_text(s: &Stat) -> String {
    match s.ci95 {
        Some(ci) => format!("{} ± {}", fmt_num(s.mean), fmt_num(ci)),
        None => format!("{} (1 seed)", fmt_num(s.mean)),
    }
}

/// The comparison table.
pub fn table(groups: &[Group]) -> String {
    let mut t = Table::new(["group", "seeds", "metric", "mean ± 95% CI"]).align_right(1);
    for g in groups {
        for (i, (k, s)) in group_stats(g).iter().enumerate() {
            let (label, seeds) = if i == 0 {
                (g.label.clone(), g.runs.len().to_string())
            } else {
                (String::new(), String::new())
            };
            t.row([label, seeds, k.clone(), stat_text(s)]);
        }
    }
    t.render(0)
}

/// The comparison as JSON.
pub fn to_json(groups: &[Group]) -> Value {
    Value::Array(
        groups
            .iter()
            .map(|g| {
                let metrics: serde_json::Map<String, Value> = group_stats(g)
                    .into_iter()
                    .map(|(k, s)| (k, json!({ "n": s.n, "mean": s.mean, "ci95": s.ci95 })))
                    .collect();
                json!({
                    "label": g.label,
                    "algorithm": g.runs[0].algorithm,
                    "env": g.runs[0].env,
                    "seeds": g.runs.iter().map(|r| r.seed).collect::<Vec<_>>(),
                    "runs": g.runs.iter().map(|r| r.dir.display().to_string()).collect::<Vec<_>>(),
                    "hyperparameters": g.runs[0].hyperparameters,
                    "env_params": g.runs[0].env_params,
                    "metrics": metrics,
                })
            })
            .collect(),
    )
}

/// A group's curve of `metric`: the mean over seeds at each logged step, with its 95 % band.
pub fn group_curve(g: &Group, metric: &str) -> Result<Series> {
    let mut by_step: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for r in &g.runs {
        let path = r.dir.join(METRICS_FILE);
        if !path.is_file() {
            continue;
        }
        for (step, m) in metrics::read_log(&path)? {
            if let Some(v) = m.get(metric).filter(|v| v.is_finite()) {
                by_step.entry(step).or_default().push(*v);
            }
        }
    }
    let mut series = Series {
        label: g.label.clone(),
        ..Series::default()
    };
    for (step, values) in by_step {
        let s = mean_ci(&values);
        series.points.push((step as f64, s.mean));
        if let Some(ci) = s.ci95 {
            series.band.push((step as f64, s.mean - ci, s.mean + ci));
        }
    }
    if series.band.len() != series.points.len() {
        series.band.clear();
    }
    Ok(series)
}

/// Compares; prints the table (or JSON) and draws the curves when asked.
pub fn compare(req: &CompareRequest) -> Result<Vec<Group>> {
    let (mut runs, unfinished) = find_runs(&req.dirs)?;
    for f in &req.first {
        f.apply(&mut runs)?;
    }
    for d in &req.derive {
        d.apply(&mut runs);
    }
    if runs.is_empty() {
        return Err(RunnerError::Usage(format!(
            "no finished run (a folder with {SUMMARY_FILE}) under {}{}",
            req.dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if unfinished > 0 {
                format!(" ({unfinished} unfinished: finish them with `autodidact resume DIR`)")
            } else {
                String::new()
            }
        )));
    }
    let n_runs = runs.len();
    if let Some(path) = &req.export {
        let names: Vec<&String> = req
            .first
            .iter()
            .map(|f| &f.name)
            .chain(req.derive.iter().map(|d| &d.name))
            .collect();
        let from_folders: Vec<(PathBuf, autodidact_core::Metrics)> = runs
            .iter()
            .filter(|r| r.dir.join(SUMMARY_FILE).is_file())
            .map(|r| {
                let derived = names
                    .iter()
                    .filter_map(|n| r.final_metrics.get(*n).map(|v| ((*n).clone(), *v)))
                    .collect();
                (r.dir.clone(), derived)
            })
            .collect();
        if from_folders.len() != runs.len() {
            return Err(RunnerError::Usage(
                "--export writes run folders' summaries: give folders, not runs.jsonl files".into(),
            ));
        }
        export::write_export(path, &from_folders)?;
    }
    let groups = group_runs(runs);
    if req.markdown {
        let patterns = if req.columns.is_empty() {
            vec!["*".to_string()]
        } else {
            req.columns.clone()
        };
        let cols = columns::expand(&patterns, &groups);
        let cols: Vec<String> = cols
            .into_iter()
            .filter(|k| !k.ends_with(crate::plot::CI_SUFFIX))
            .collect();
        out!("{}", columns::markdown(&groups, &cols, req.percent));
    } else if req.json {
        let text = serde_json::to_string_pretty(&to_json(&groups))
            .map_err(|e| RunnerError::Failed(e.to_string()))?;
        outln!("{text}");
    } else {
        outln!(
            "{n_runs} finished runs in {} groups{}:",
            groups.len(),
            if unfinished > 0 {
                format!(" ({unfinished} unfinished runs left out)")
            } else {
                String::new()
            }
        );
        out!("{}", table(&groups));
    }
    if let (Some(path), false) = (&req.export, req.json || req.markdown) {
        outln!("Exported {n_runs} runs to {}", path.display());
    }
    if let Some(path) = &req.plot {
        let metric = req
            .metric
            .clone()
            .unwrap_or_else(|| groups[0].runs[0].headline.clone());
        let series = groups
            .iter()
            .map(|g| group_curve(g, &metric))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|s| !s.points.is_empty())
            .collect::<Vec<_>>();
        if series.is_empty() {
            return Err(RunnerError::Usage(format!(
                "no run logged `{metric}` in its {METRICS_FILE}: choose another with --metric"
            )));
        }
        let panel = Panel {
            title: "mean over seeds, 95% band".to_string(),
            x_label: String::new(),
            y_label: metric.clone(),
            series,
        };
        plot::write_plot(path, &format!("compare: {metric}"), &[panel])?;
        if !req.json {
            outln!("Curves: {}", path.display());
        }
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_over_seeds() {
        let s = mean_ci(&[1.0, 2.0, 3.0]);
        assert_eq!(s.mean, 2.0);
        // s = 1, t(2) = 4.302653: 4.302653 / √3.
        assert!((s.ci95.unwrap() - 4.302_653 / 3f64.sqrt()).abs() < 1e-6);
        assert_eq!(mean_ci(&[5.0]).ci95, None);
    }

    fn record(seed: u64, lr: f64, loss: f64) -> RunRecord {
        RunRecord {
            dir: PathBuf::from(format!("r{lr}-{seed}")),
            algorithm: "a".into(),
            env: "e".into(),
            seed,
            headline: "loss".into(),
            final_metrics: [("loss".to_string(), loss), ("acc".to_string(), 0.5)].into(),
            matrices: Default::default(),
            train_seconds: None,
            hyperparameters: json!({ "lr": lr, "steps": 10 }),
            env_params: json!({ "ways": 5 }),
        }
    }

    #[test]
    fn groups_by_configuration_and_labels_the_difference() {
        let runs = vec![
            record(0, 0.1, 1.0),
            record(1, 0.1, 3.0),
            record(0, 0.2, 2.0),
        ];
        let groups = group_runs(runs);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].label, "a on e, lr=0.1");
        assert_eq!(groups[0].runs.len(), 2);
        let stats = group_stats(&groups[0]);
        assert_eq!(stats[0].0, "loss");
        assert_eq!(stats[0].1.mean, 2.0);
        let t = table(&groups);
        assert!(
            t.contains("a on e, lr=0.2") && t.contains("2 (1 seed)"),
            "{t}"
        );
    }

    #[test]
    fn labels_leave_out_other_algorithms_defaults() {
        let mut b = record(0, 0.2, 2.0);
        b.algorithm = "b".into();
        let mut c = record(0, 0.1, 2.0);
        c.env_params = json!({ "ways": 20 });
        let groups = group_runs(vec![record(0, 0.1, 1.0), b, c]);
        let labels: Vec<&str> = groups.iter().map(|g| g.label.as_str()).collect();
        // a's two groups differ in the environment only; b's lr is its own default.
        assert_eq!(
            labels,
            [
                "a on e, env.ways=20",
                "a on e, env.ways=5",
                "b on e, env.ways=5"
            ]
        );
    }
}
