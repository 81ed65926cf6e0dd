//! `runs.jsonl`: finished runs exported one per line — each run's `summary.json` with its later
//! evaluations (`"evaluations"`), the metrics `compare` derived for it (`"derived"`: differences
//! and first steps, which need the run folder's log) and its folder (`"run"`). It is the committed form of raw
//! results under `bench/<family>/results/`: run folders (checkpoints, logs) stay out of git,
//! and `compare` reads an export in place of the folders, so a published table is rebuilt
//! from it; `plot` draws its heat-maps.

use std::path::{Path, PathBuf};

use serde_json::Value;

use autodidact_core::Metrics;

use crate::atomic;
use crate::errors::{Result, RunnerError};
use crate::summary::metrics_json;
use crate::summary::{record_from_json, summary_with_evaluations, RunRecord};

/// The key of a line's run folder.
pub const RUN_KEY: &str = "run";

/// Whether `path` names an export (a `.jsonl` file) rather than a folder of runs.
pub fn is_export(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl"))
}

/// The key of a line's derived metrics.
pub const DERIVED_KEY: &str = "derived";

/// One run's line: its summary with evaluations, the derived metrics (if any), its folder.
pub fn export_line(dir: &Path, derived: &Metrics) -> Result<Value> {
    let mut v = summary_with_evaluations(dir)?;
    if let Some(map) = v.as_object_mut() {
        if !derived.is_empty() {
            map.insert(DERIVED_KEY.into(), metrics_json(derived));
        }
        map.insert(RUN_KEY.into(), Value::String(dir.display().to_string()));
    }
    Ok(v)
}

/// Writes the runs (folder and derived metrics, in that order) to `path`, one line each,
/// atomically.
pub fn write_export(path: &Path, runs: &[(PathBuf, Metrics)]) -> Result<()> {
    let mut text = String::new();
    for (d, derived) in runs {
        text.push_str(&export_line(d, derived)?.to_string());
        text.push('\n');
    }
    atomic::write_str(path, &text)
}

/// The lines of an export, parsed (blank lines skipped).
pub fn read_lines(path: &Path) -> Result<Vec<Value>> {
    let text = crate::errors::read_text(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| RunnerError::parse(path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

/// The runs of an export; a line's folder is its `"run"`, or `FILE#LINE` without one.
pub fn read_export(path: &Path) -> Result<Vec<RunRecord>> {
    read_lines(path)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let dir = v.get(RUN_KEY).and_then(Value::as_str).map_or_else(
                || PathBuf::from(format!("{}#{}", path.display(), i + 1)),
                PathBuf::from,
            );
            let at = PathBuf::from(format!("{} (line {})", path.display(), i + 1));
            record_from_json(&dir, &at, v)
        })
        .collect()
}
