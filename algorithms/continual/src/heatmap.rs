//! The accuracy matrix as a heat-map picture (PNG or SVG by the file's extension), drawn with
//! plotters: row i = after training on experience i, column j = tested on experience j; each
//! cell shows its accuracy in per cent. Unfilled rows (a run still going) stay blank.
//!
//! Text uses DejaVu Sans compiled into the binary, so the picture reads the same on a machine
//! without fonts.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

use crate::errors::{ContinualError, Result};
use crate::metrics::AccuracyMatrix;

/// Viridis at eleven stops (0, 0.1, …, 1).
const VIRIDIS: [(u8, u8, u8); 11] = [
    (68, 1, 84),
    (72, 36, 117),
    (65, 68, 135),
    (53, 95, 141),
    (42, 120, 142),
    (33, 145, 140),
    (34, 168, 132),
    (68, 191, 112),
    (122, 209, 81),
    (189, 223, 38),
    (253, 231, 37),
];

/// The colour of a value in `0 ..= 1` (clamped).
pub fn color(v: f64) -> RGBColor {
    let v = if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = v * 10.0;
    let i = (x.floor() as usize).min(9);
    let f = x - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn ensure_font() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold()).is_ok()
    })
}

fn plot_err(path: &Path, e: impl std::fmt::Debug) -> ContinualError {
    ContinualError::Plot {
        path: path.display().to_string(),
        reason: format!("{e:?}"),
    }
}

/// Picture size for `n` columns.
fn size(n: usize) -> (u32, u32, u32) {
    let cell = if n <= 8 {
        72
    } else if n <= 16 {
        44
    } else {
        28
    };
    let w = (130 + cell * n as u32 + 30).max(520);
    let h = 60 + cell * n as u32 + 80;
    (w, h, cell)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rows: &[Vec<f64>],
    cols: usize,
    title: &str,
    cell: u32,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let centred = Pos::new(HPos::Center, VPos::Center);
    let title_style = TextStyle::from(("sans-serif", 18).into_font()).pos(centred);
    let (w, _) = root.dim_in_pixel();
    root.draw_text(title, &title_style, (w as i32 / 2, 22))?;
    let (x0, y0) = (130i32, 60i32);
    let c = cell as i32;
    let small = if cell >= 60 {
        14
    } else if cell >= 40 {
        11
    } else {
        8
    };
    for (i, row) in rows.iter().enumerate() {
        for j in 0..cols {
            let v = row.get(j).copied().unwrap_or(f64::NAN);
            let (x, y) = (x0 + j as i32 * c, y0 + i as i32 * c);
            if v.is_finite() {
                root.draw(&Rectangle::new([(x, y), (x + c, y + c)], color(v).filled()))?;
                let ink = if v > 0.6 { BLACK } else { WHITE };
                let style = TextStyle::from(("sans-serif", small).into_font())
                    .color(&ink)
                    .pos(centred);
                root.draw_text(&format!("{:.0}", v * 100.0), &style, (x + c / 2, y + c / 2))?;
            }
            if i == j {
                root.draw(&Rectangle::new(
                    [(x, y), (x + c, y + c)],
                    BLACK.stroke_width(2),
                ))?;
            }
        }
    }
    let n_rows = rows.len().max(cols) as i32;
    root.draw(&Rectangle::new(
        [(x0, y0), (x0 + cols as i32 * c, y0 + n_rows * c)],
        BLACK.stroke_width(1),
    ))?;
    let label = TextStyle::from(("sans-serif", small.max(10)).into_font()).pos(centred);
    for j in 0..cols {
        root.draw_text(
            &j.to_string(),
            &label,
            (x0 + j as i32 * c + c / 2, y0 + n_rows * c + 14),
        )?;
    }
    for i in 0..n_rows {
        root.draw_text(&i.to_string(), &label, (x0 - 14, y0 + i * c + c / 2))?;
    }
    let axis = TextStyle::from(("sans-serif", 14).into_font()).pos(centred);
    root.draw_text(
        "tested on experience j",
        &axis,
        (x0 + cols as i32 * c / 2, y0 + n_rows * c + 40),
    )?;
    let left =
        TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    root.draw_text("after experience i", &left, (8, y0 - 16))?;
    root.draw_text(
        "R[i][j] in % (framed diagonal: the experience just trained)",
        &axis,
        (x0 + cols as i32 * c / 2, y0 + n_rows * c + 62),
    )?;
    root.present()?;
    Ok(())
}

/// Draws rows of an accuracy matrix (values in 0 ..= 1) to `path` (`.svg`: SVG, else PNG).
pub fn draw_rows(rows: &[Vec<f64>], title: &str, path: &Path) -> Result<()> {
    if !ensure_font() {
        return Err(plot_err(path, "cannot load the font (DejaVu Sans)"));
    }
    let cols = rows
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .max(rows.len())
        .max(1);
    let (w, h, cell) = size(cols);
    let svg = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| plot_err(path, e))?;
    }
    if svg {
        let root = SVGBackend::new(path, (w, h)).into_drawing_area();
        draw(&root, rows, cols, title, cell).map_err(|e| plot_err(path, e))
    } else {
        let root = BitMapBackend::new(path, (w, h)).into_drawing_area();
        draw(&root, rows, cols, title, cell).map_err(|e| plot_err(path, e))
    }
}

/// Draws an accuracy matrix to `path` (`.svg`: SVG, else PNG).
pub fn draw_matrix(matrix: &AccuracyMatrix, title: &str, path: &Path) -> Result<()> {
    let mut rows = matrix.rows.clone();
    while rows.len() < matrix.experiences {
        rows.push(Vec::new());
    }
    draw_rows(&rows, title, path)
}

/// Draws the matrix held in a run's `summary.json` (its `final_metrics`' `r_i_j` keys) as
/// `accuracy_matrix.png` and `.svg` in `out_dir`; returns both paths.
pub fn draw_from_summary(summary: &Path, out_dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let text = std::fs::read_to_string(summary).map_err(|e| plot_err(summary, e))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| plot_err(summary, e))?;
    let metrics: std::collections::BTreeMap<String, f64> = v
        .get("final_metrics")
        .and_then(|m| m.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, x)| x.as_f64().map(|f| (k.clone(), f)))
                .collect()
        })
        .unwrap_or_default();
    let rows = AccuracyMatrix::rows_from_metrics(&metrics)
        .ok_or_else(|| plot_err(summary, "no r_i_j keys in final_metrics"))?;
    let title = format!(
        "{} on {} (seed {})",
        v.get("algorithm").and_then(|a| a.as_str()).unwrap_or("?"),
        v.get("env").and_then(|a| a.as_str()).unwrap_or("?"),
        v.get("seed").and_then(|a| a.as_u64()).unwrap_or(0)
    );
    let png = out_dir.join("accuracy_matrix.png");
    let svg = out_dir.join("accuracy_matrix.svg");
    draw_rows(&rows, &title, &png)?;
    draw_rows(&rows, &title, &svg)?;
    Ok((png, svg))
}
