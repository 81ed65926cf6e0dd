//! `autodidact plot`: draws every picture again from raw results, so only the raw results are
//! kept (pictures are not committed outside `docs/img/`):
//!
//! - a finished run folder: `learning_curve.svg`/`.png` from `metrics.jsonl` and a heat-map per
//!   matrix of `summary.json`; an agent replay folder: its `held_out` and `dialogue` pictures;
//! - a `runs.jsonl` export: `heatmaps/<run>-<matrix>.png`/`.svg` beside it, one per line and
//!   matrix (`<run>-lineN` when an earlier line had the same run folder name). Lines of the continual-learning driver that wrote the older results (fields
//!   `stream`, `method`, `seed`, `rows`, `init`) draw their accuracy matrix as
//!   `heatmaps/<stream>-<method>-seed<seed>`.

use std::path::{Path, PathBuf};

use autodidact_core::{Matrices, Matrix};
use serde_json::Value;

use crate::compare::MAX_DEPTH;
use crate::errors::{Result, RunnerError};
use crate::export::{self, RUN_KEY};
use crate::metrics::{self, METRICS_FILE};
use crate::run::plots::{draw_curves, draw_matrices, run_title};
use crate::summary::{matrix_from_json, read_summary, SUMMARY_FILE};

/// The folder of an export's heat-maps, beside the export.
pub const HEATMAP_DIR: &str = "heatmaps";

/// What `plot` drew.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Drawn {
    /// Run folders redrawn.
    pub runs: usize,
    /// Export lines whose matrices were drawn.
    pub lines: usize,
    /// PNG files written (each with its SVG).
    pub pictures: Vec<PathBuf>,
}

/// Finished run folders and exports under `path` (or `path` itself).
fn walk(
    path: &Path,
    depth: usize,
    runs: &mut Vec<PathBuf>,
    exports: &mut Vec<PathBuf>,
) -> Result<()> {
    if path.is_file() {
        if export::is_export(path) {
            exports.push(path.to_path_buf());
        }
        return Ok(());
    }
    if path.join(SUMMARY_FILE).is_file() {
        runs.push(path.to_path_buf());
        return Ok(());
    }
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|e| RunnerError::read(path, e))?;
    let mut children: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    children.sort();
    for c in children {
        walk(&c, depth + 1, runs, exports)?;
    }
    Ok(())
}

/// Redraws a finished run folder's pictures; returns the PNGs.
pub fn redraw_run(dir: &Path) -> Result<Vec<PathBuf>> {
    if crate::replay::is_replay(dir) {
        crate::replay::redraw(dir)?;
        return Ok(vec![dir.join("held_out.png"), dir.join("dialogue.png")]);
    }
    let record = read_summary(dir)?;
    let title = run_title(&record.algorithm, &record.env, record.seed);
    let mut drawn = Vec::new();
    let log_path = dir.join(METRICS_FILE);
    if log_path.is_file() {
        let log = metrics::read_log(&log_path)?;
        drawn.extend(draw_curves(dir, &title, &log, &record.headline)?);
    }
    drawn.extend(draw_matrices(dir, "", &title, &record.matrices)?);
    Ok(drawn)
}

/// The longest heat-map file-name prefix taken from an export line (after sanitising).
const MAX_NAME_BYTES: usize = 100;

/// The most tasks an older continual driver line's matrix may span: its square is built from
/// the lengths the line declares (`init`, `rows`), so a short line must not declare a huge one.
pub const MAX_LEGACY_TASKS: usize = 1000;

/// A line's name, title and matrices: a summary line's, or an older continual driver line's
/// (`Ok(None)` for a line of neither kind, `Err` for one too large to draw).
fn line_matrices(v: &Value) -> Result<Option<(String, String, Matrices)>, String> {
    let inner = || -> Option<Result<(String, String, Matrices), String>> {
        let text = |k: &str| v.get(k).and_then(Value::as_str);
        let seed = v.get("seed").and_then(Value::as_u64).unwrap_or(0);
        if let Some(m) = v.get("matrices").and_then(Value::as_object) {
            let matrices: Matrices = m
                .iter()
                .filter_map(|(k, x)| Some((k.clone(), matrix_from_json(x)?)))
                .collect();
            let (algorithm, env) = (text("algorithm")?, text("env")?);
            let name = text(RUN_KEY)
                .and_then(|r| Path::new(r).file_name())
                .map_or_else(
                    || format!("{algorithm}-{env}-seed{seed}"),
                    |f| f.to_string_lossy().into_owned(),
                );
            return Some(Ok((name, run_title(algorithm, env, seed), matrices)));
        }
        let (method, stream) = (text("method")?, text("stream")?);
        let rows: Vec<Vec<f64>> = serde_json::from_value(v.get("rows")?.clone()).ok()?;
        let n = v
            .get("init")
            .and_then(Value::as_array)
            .map_or(rows.len(), Vec::len)
            .max(rows.len());
        if n > MAX_LEGACY_TASKS {
            return Some(Err(format!(
                "its accuracy matrix spans {n} tasks (`rows`, `init`), more than the \
                 {MAX_LEGACY_TASKS} a heat-map can show"
            )));
        }
        let matrix: Matrix = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| rows.get(i).and_then(|r| r.get(j)).copied())
                    .collect()
            })
            .collect();
        Some(Ok((
            format!("{stream}-{method}-seed{seed}"),
            run_title(method, stream, seed),
            [("accuracy_matrix".to_string(), matrix)].into(),
        )))
    };
    inner().transpose()
}

/// Draws the heat-maps of an export's lines into `heatmaps/` beside it; returns the lines
/// drawn and the PNGs.
pub fn redraw_export(path: &Path) -> Result<(usize, Vec<PathBuf>)> {
    let out = path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(HEATMAP_DIR);
    let mut lines = 0;
    let mut drawn = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, v) in export::read_lines(path)?.iter().enumerate() {
        let found = line_matrices(v)
            .map_err(|e| RunnerError::parse(path, format!("line {}: {e}", i + 1)))?;
        let Some((name, title, matrices)) = found else {
            continue;
        };
        if matrices.is_empty() {
            continue;
        }
        // The name comes from the line's text (`stream`, `method`, `run`): keep it a plain,
        // short file name, so a line cannot write outside `heatmaps/` nor fail on a NUL byte.
        let mut name = crate::config::sanitize(&name);
        name.truncate(MAX_NAME_BYTES);
        // Runs of one export may share a folder name (one per stream of a table): the line
        // number tells them apart.
        if !names.insert(name.clone()) {
            name = format!("{name}-line{}", i + 1);
        }
        if lines == 0 {
            crate::atomic::create_dir(&out)?;
        }
        lines += 1;
        drawn.extend(draw_matrices(&out, &format!("{name}-"), &title, &matrices)?);
    }
    Ok((lines, drawn))
}

/// Redraws everything under `paths`.
pub fn plot(paths: &[PathBuf]) -> Result<Drawn> {
    let (mut runs, mut exports) = (Vec::new(), Vec::new());
    for p in paths {
        if !p.exists() {
            return Err(RunnerError::Usage(format!(
                "{} does not exist",
                p.display()
            )));
        }
        walk(p, 0, &mut runs, &mut exports)?;
    }
    if runs.is_empty() && exports.is_empty() {
        return Err(RunnerError::Usage(format!(
            "nothing to draw: no finished run (a folder with {SUMMARY_FILE}) nor runs.jsonl under {}",
            paths
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut drawn = Drawn::default();
    for r in &runs {
        drawn.pictures.extend(redraw_run(r)?);
        drawn.runs += 1;
    }
    for e in &exports {
        let (lines, pictures) = redraw_export(e)?;
        drawn.lines += lines;
        drawn.pictures.extend(pictures);
    }
    Ok(drawn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_of_both_kinds_give_their_matrix() {
        let summary = json!({
            "algorithm": "naive", "env": "split", "seed": 2, "run": "out/naive-split-seed2",
            "matrices": { "accuracy_matrix": [[0.9, null], [null, null]] }
        });
        let (name, title, m) = line_matrices(&summary).unwrap().unwrap();
        assert_eq!(name, "naive-split-seed2");
        assert_eq!(title, "naive on split (seed 2)");
        assert_eq!(m["accuracy_matrix"][0], vec![Some(0.9), None]);
        let legacy = json!({
            "stream": "gaussian-permuted", "method": "ewc", "seed": 0,
            "rows": [[0.9, 0.1, 0.2]], "init": [0.1, 0.1, 0.1]
        });
        let (name, _, m) = line_matrices(&legacy).unwrap().unwrap();
        assert_eq!(name, "gaussian-permuted-ewc-seed0");
        let r = &m["accuracy_matrix"];
        assert_eq!(r.len(), 3);
        assert_eq!(r[0][2], Some(0.2));
        assert_eq!(r[2], vec![None; 3]);
        assert!(line_matrices(&json!({ "method": "x" })).unwrap().is_none());
        // A short line declaring a huge square is refused, not expanded.
        let huge =
            json!({ "method": "m", "stream": "s", "rows": [[0.5]], "init": vec![0.0; 20_000] });
        let e = line_matrices(&huge).unwrap_err();
        assert!(e.contains("20000 tasks"), "{e}");
    }
}
