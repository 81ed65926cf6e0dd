//! A run folder's pictures, drawn from its raw files: the learning curves from
//! `metrics.jsonl` and one heat-map per matrix the algorithm reported (`summary.json`'s
//! `matrices`). `autodidact run` draws them as it finishes; `autodidact plot` draws them again.

use std::path::{Path, PathBuf};

use autodidact_core::Matrices;

use crate::errors::Result;
use crate::heatmap::{write_heatmap, Axes};
use crate::metrics::Log;
use crate::plot;

/// The learning-curve plot's base name (`.svg` and `.png`).
pub const CURVE_FILE: &str = "learning_curve";

/// `algo on env (seed N)`: the title of a run's pictures.
pub fn run_title(algorithm: &str, env: &str, seed: u64) -> String {
    format!("{algorithm} on {env} (seed {seed})")
}

/// Draws `dir/learning_curve.svg` and `.png` from a log; the PNG's path, or `None` when
/// nothing was logged.
pub fn draw_curves(dir: &Path, title: &str, log: &Log, headline: &str) -> Result<Option<PathBuf>> {
    let panels = plot::learning_curve_panels(log, headline);
    if panels.is_empty() {
        return Ok(None);
    }
    let svg = dir.join(format!("{CURVE_FILE}.svg"));
    let png = dir.join(format!("{CURVE_FILE}.png"));
    plot::write_plot(&svg, title, &panels)?;
    plot::write_plot(&png, title, &panels)?;
    Ok(Some(png))
}

/// Draws each matrix as `dir/<prefix><name>.png` and `.svg`; returns the PNGs' paths.
pub fn draw_matrices(
    dir: &Path,
    prefix: &str,
    title: &str,
    matrices: &Matrices,
) -> Result<Vec<PathBuf>> {
    let mut drawn = Vec::new();
    for (name, matrix) in matrices {
        let axes = Axes::for_matrix(name);
        let png = dir.join(format!("{prefix}{name}.png"));
        write_heatmap(
            &dir.join(format!("{prefix}{name}.svg")),
            matrix,
            title,
            &axes,
        )?;
        write_heatmap(&png, matrix, title, &axes)?;
        drawn.push(png);
    }
    Ok(drawn)
}
