//! A matrix reported by an algorithm ([`autodidact_core::Algorithm::matrices`]) as a heat-map,
//! SVG or PNG: for a continual learner's accuracy matrix, row i = after training on
//! experience i, column j = tested on experience j, each cell labelled in per cent. Unfilled
//! cells (a run stopped early) stay blank; the diagonal is framed.
//!
//! Values are read as fractions in `0 ..= 1` (accuracies); the colour scale is viridis.
//! Rendered in memory and written atomically, like the line plots.

use std::path::Path;

use autodidact_core::Matrix;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::atomic;
use crate::errors::{Result, RunnerError};
use crate::plot::{encode_png, ensure_font};

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

/// The colour of a value in `0 ..= 1` (clamped; non-finite reads as 0).
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

/// The axis texts of a heat-map.
#[derive(Clone, Debug, PartialEq)]
pub struct Axes {
    /// Above the rows' numbers.
    pub rows: String,
    /// Under the columns' numbers.
    pub columns: String,
    /// Under everything: what a cell holds.
    pub note: String,
}

impl Axes {
    /// The texts for a matrix of this name: the accuracy matrix's own, or neutral ones.
    pub fn for_matrix(name: &str) -> Axes {
        if name == "accuracy_matrix" {
            Axes {
                rows: "after experience i".into(),
                columns: "tested on experience j".into(),
                note: "R[i][j] in % (framed diagonal: the experience just trained)".into(),
            }
        } else {
            Axes {
                rows: "row i".into(),
                columns: "column j".into(),
                note: format!("{name} in %"),
            }
        }
    }
}

/// Picture width, height and cell size for `n` columns and `rows` rows.
fn size(n: usize, rows: usize) -> (u32, u32, u32) {
    let cell = if n <= 8 {
        72
    } else if n <= 16 {
        44
    } else {
        28
    };
    let w = (130 + cell * n as u32 + 30).max(520);
    let h = 60 + cell * rows as u32 + 80;
    (w, h, cell)
}

fn draw_error<E: std::fmt::Debug>(e: E) -> RunnerError {
    RunnerError::Failed(format!("cannot draw the heat-map: {e:?}"))
}

/// The number of columns and rows drawn: at least one, and square when the matrix is (the
/// accuracy matrix keeps its unfilled rows so the frame shows the whole stream).
fn shape(matrix: &Matrix) -> (usize, usize) {
    let cols = matrix.iter().map(Vec::len).max().unwrap_or(0).max(1);
    (cols, matrix.len().max(1))
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    matrix: &Matrix,
    title: &str,
    axes: &Axes,
) -> Result<()> {
    let (cols, n_rows) = shape(matrix);
    let (w, _, cell) = size(cols, n_rows);
    root.fill(&WHITE).map_err(draw_error)?;
    let centred = Pos::new(HPos::Center, VPos::Center);
    let title_style = TextStyle::from(("sans-serif", 18).into_font()).pos(centred);
    root.draw_text(title, &title_style, (w as i32 / 2, 22))
        .map_err(draw_error)?;
    let (x0, y0) = (130i32, 60i32);
    let c = cell as i32;
    let small = if cell >= 60 {
        14
    } else if cell >= 40 {
        11
    } else {
        8
    };
    for (i, row) in matrix.iter().enumerate() {
        for j in 0..cols {
            let (x, y) = (x0 + j as i32 * c, y0 + i as i32 * c);
            if let Some(v) = row.get(j).copied().flatten().filter(|v| v.is_finite()) {
                root.draw(&Rectangle::new([(x, y), (x + c, y + c)], color(v).filled()))
                    .map_err(draw_error)?;
                let ink = if v > 0.6 { BLACK } else { WHITE };
                let style = TextStyle::from(("sans-serif", small).into_font())
                    .color(&ink)
                    .pos(centred);
                root.draw_text(&format!("{:.0}", v * 100.0), &style, (x + c / 2, y + c / 2))
                    .map_err(draw_error)?;
            }
            if i == j {
                root.draw(&Rectangle::new(
                    [(x, y), (x + c, y + c)],
                    BLACK.stroke_width(2),
                ))
                .map_err(draw_error)?;
            }
        }
    }
    let rows = n_rows as i32;
    root.draw(&Rectangle::new(
        [(x0, y0), (x0 + cols as i32 * c, y0 + rows * c)],
        BLACK.stroke_width(1),
    ))
    .map_err(draw_error)?;
    let label = TextStyle::from(("sans-serif", small.max(10)).into_font()).pos(centred);
    for j in 0..cols {
        root.draw_text(
            &j.to_string(),
            &label,
            (x0 + j as i32 * c + c / 2, y0 + rows * c + 14),
        )
        .map_err(draw_error)?;
    }
    for i in 0..rows {
        root.draw_text(&i.to_string(), &label, (x0 - 14, y0 + i * c + c / 2))
            .map_err(draw_error)?;
    }
    let axis = TextStyle::from(("sans-serif", 14).into_font()).pos(centred);
    let middle = x0 + cols as i32 * c / 2;
    root.draw_text(&axes.columns, &axis, (middle, y0 + rows * c + 40))
        .map_err(draw_error)?;
    let left =
        TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    root.draw_text(&axes.rows, &left, (8, y0 - 16))
        .map_err(draw_error)?;
    root.draw_text(&axes.note, &axis, (middle, y0 + rows * c + 62))
        .map_err(draw_error)?;
    root.present().map_err(draw_error)?;
    Ok(())
}

/// The heat-map as SVG text.
pub fn render_svg(matrix: &Matrix, title: &str, axes: &Axes) -> Result<String> {
    ensure_font()?;
    let (cols, rows) = shape(matrix);
    let (w, h, _) = size(cols, rows);
    let mut svg = String::new();
    draw(
        &SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area(),
        matrix,
        title,
        axes,
    )?;
    Ok(svg)
}

/// The heat-map as PNG bytes.
pub fn render_png(matrix: &Matrix, title: &str, axes: &Axes) -> Result<Vec<u8>> {
    ensure_font()?;
    let (cols, rows) = shape(matrix);
    let (w, h, _) = size(cols, rows);
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    draw(
        &BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area(),
        matrix,
        title,
        axes,
    )?;
    encode_png(&rgb, w, h)
}

/// Writes the heat-map to `path`: SVG or PNG by its extension.
pub fn write_heatmap(path: &Path, matrix: &Matrix, title: &str, axes: &Axes) -> Result<()> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => atomic::write_str(path, &render_svg(matrix, title, axes)?),
        Some("png") => atomic::write(path, &render_png(matrix, title, axes)?),
        _ => Err(RunnerError::Usage(format!(
            "{}: a heat-map file ends in .svg or .png",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_run_from_viridis_dark_to_light() {
        assert_eq!(color(0.0), RGBColor(68, 1, 84));
        assert_eq!(color(1.0), RGBColor(253, 231, 37));
        assert_eq!(color(2.0), color(1.0));
        assert_eq!(color(f64::NAN), color(0.0));
    }

    #[test]
    fn partial_matrices_render_with_per_cent_labels() {
        let m: Matrix = vec![
            vec![Some(0.9), Some(0.1), Some(0.0)],
            vec![Some(0.5), Some(0.95), Some(0.2)],
            vec![None, None, None],
        ];
        let axes = Axes::for_matrix("accuracy_matrix");
        let svg = render_svg(&m, "replay on split (seed 3)", &axes).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("95") && svg.contains("replay on split"));
        assert!(svg.contains("tested on experience j"));
        let png = render_png(&m, "t", &axes).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // Empty and ragged matrices draw too.
        render_png(&Vec::new(), "empty", &Axes::for_matrix("x")).unwrap();
        render_png(&vec![vec![Some(0.5)], vec![]], "ragged", &axes).unwrap();
    }
}
