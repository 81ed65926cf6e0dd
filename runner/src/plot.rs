//! Line plots with plotters, as SVG and PNG: a run's learning curves (one panel per metric,
//! the headline first) and `compare`'s overlaid curves (mean over seeds with a 95 % band).
//!
//! Text is drawn with DejaVu Sans compiled into the binary (crate `dejavu`), so plots read the
//! same on a machine without any font installed. Both formats are rendered in memory and
//! written atomically.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::atomic;
use crate::errors::{Result, RunnerError};
use crate::metrics::{self, Log};
use crate::table::fmt_num;

/// At most this many panels in a learning-curve plot.
pub const MAX_PANELS: usize = 6;

/// Tableau's ten colours: distinct, and readable on white.
const COLORS: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// One curve, optionally with a band around it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Legend text (empty: no legend).
    pub label: String,
    /// `(x, y)` points, in x order.
    pub points: Vec<(f64, f64)>,
    /// `(x, low, high)`, in x order (empty: no band).
    pub band: Vec<(f64, f64, f64)>,
}

/// One chart: a title, an axis label and its curves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    /// The chart's caption.
    pub title: String,
    /// The x axis's label (empty: `iteration`).
    pub x_label: String,
    /// The y axis's label.
    pub y_label: String,
    /// The curves.
    pub series: Vec<Series>,
}

/// Registers the compiled-in font once (every picture's text uses it).
pub(crate) fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(RunnerError::Failed(
            "cannot load the plot font (DejaVu Sans)".into(),
        ))
    }
}

/// The picture's size for `n` panels.
fn size(n: usize) -> ((usize, usize), (u32, u32)) {
    let cols = if n <= 2 { 1 } else { 2 };
    let rows = n.div_ceil(cols).max(1);
    let (cw, ch) = if cols == 1 { (960, 420) } else { (640, 380) };
    ((rows, cols), (cw * cols as u32, ch * rows as u32 + 40))
}

fn draw_error<E: std::fmt::Debug>(e: E) -> RunnerError {
    RunnerError::Failed(format!("cannot draw the plot: {e:?}"))
}

/// Pads a range so flat curves and the frame's edges stay visible.
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * (lo.abs() + hi.abs()).max(1e-300) {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - d, hi + d);
    }
    let d = (hi - lo) * 0.05;
    (lo - d, hi + d)
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    panels: &[Panel],
) -> Result<()> {
    root.fill(&WHITE).map_err(draw_error)?;
    let body = root
        .titled(title, ("sans-serif", 22).into_font().style(FontStyle::Bold))
        .map_err(draw_error)?;
    let ((rows, cols), _) = size(panels.len());
    let areas = body.split_evenly((rows, cols));
    for (panel, area) in panels.iter().zip(areas) {
        draw_panel(&area, panel)?;
    }
    root.present().map_err(draw_error)?;
    Ok(())
}

/// The smallest and largest finite values.
fn extent(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        })
}

/// Whether a panel reads better on a log scale: every point positive, spanning more than
/// two orders of magnitude.
fn wants_log(panel: &Panel) -> bool {
    let (lo, hi) = extent(
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1)),
    );
    lo > 0.0 && hi / lo > 100.0
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &Panel) -> Result<()> {
    let (x0, x1) = extent(
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0)),
    );
    let (x0, x1) = if x0 < x1 { (x0, x1) } else { padded(x0, x1) };
    let points = || {
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
    };
    let bands = || {
        panel
            .series
            .iter()
            .flat_map(|s| s.band.iter().flat_map(|b| [b.1, b.2]))
    };
    let builder = |caption: String| {
        let mut b = ChartBuilder::on(area);
        b.caption(caption, ("sans-serif", 18))
            .margin(12)
            .margin_right(30)
            .x_label_area_size(40)
            .y_label_area_size(70);
        b
    };
    if wants_log(panel) {
        // Bands may reach below zero; a log axis stops at a fraction of the smallest point.
        let (lo, hi) = extent(points());
        let floor = lo / 4.0;
        let (blo, bhi) = extent(bands().map(|v| v.max(floor)));
        let (y0, y1) = (lo.min(blo) * 0.8, hi.max(bhi) * 1.25);
        let chart = builder(format!("{} (log scale)", panel.title))
            .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
            .map_err(draw_error)?;
        fill_chart(chart, panel, Some(floor))
    } else {
        let (y0, y1) = extent(points().chain(bands()));
        let (y0, y1) = padded(y0, y1);
        let chart = builder(panel.title.clone())
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_error)?;
        fill_chart(chart, panel, None)
    }
}

/// Mesh, bands, curves and legend on a chart with any y axis; `floor` clamps band values
/// (for a log axis).
fn fill_chart<'a, DB, Y>(
    mut chart: ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    panel: &Panel,
    floor: Option<f64>,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(if panel.x_label.is_empty() {
            "iteration"
        } else {
            panel.x_label.as_str()
        })
        .y_desc(panel.y_label.as_str())
        .light_line_style(RGBColor(246, 246, 246))
        .x_label_formatter(&|x| fmt_num(x.round()))
        .y_label_formatter(&|y| fmt_num(*y))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .draw()
        .map_err(draw_error)?;
    let clamp = |v: f64| floor.map_or(v, |f| v.max(f));
    for (i, s) in panel.series.iter().enumerate() {
        let (r, g, b) = COLORS[i % COLORS.len()];
        let color = RGBColor(r, g, b);
        if !s.band.is_empty() {
            let mut outline: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, clamp(b.2))).collect();
            outline.extend(s.band.iter().rev().map(|b| (b.0, clamp(b.1))));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    color.mix(0.18).filled(),
                )))
                .map_err(draw_error)?;
        }
        let line = chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(draw_error)?;
        if !s.label.is_empty() {
            line.label(s.label.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        }
        if s.points.len() == 1 {
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(draw_error)?;
        }
    }
    if panel.series.iter().any(|s| !s.label.is_empty()) {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 13))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(draw_error)?;
    }
    Ok(())
}

/// The plot as SVG text.
pub fn render_svg(title: &str, panels: &[Panel]) -> Result<String> {
    ensure_font()?;
    let (_, (w, h)) = size(panels.len());
    let mut svg = String::new();
    draw(
        SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area(),
        title,
        panels,
    )?;
    Ok(svg)
}

/// The plot as PNG bytes.
pub fn render_png(title: &str, panels: &[Panel]) -> Result<Vec<u8>> {
    ensure_font()?;
    let (_, (w, h)) = size(panels.len());
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    draw(
        BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area(),
        title,
        panels,
    )?;
    encode_png(&rgb, w, h)
}

/// Encodes an RGB buffer of `w × h` pixels as PNG bytes.
pub(crate) fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let encode_error =
        |e: png::EncodingError| RunnerError::Failed(format!("cannot encode the PNG: {e}"));
    let mut writer = encoder.write_header().map_err(encode_error)?;
    writer.write_image_data(rgb).map_err(encode_error)?;
    writer.finish().map_err(encode_error)?;
    Ok(out)
}

/// Writes the plot to `path`: SVG or PNG by its extension.
pub fn write_plot(path: &Path, title: &str, panels: &[Panel]) -> Result<()> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => atomic::write_str(path, &render_svg(title, panels)?),
        Some("png") => atomic::write(path, &render_png(title, panels)?),
        _ => Err(RunnerError::Usage(format!(
            "{}: a plot file ends in .svg or .png",
            path.display()
        ))),
    }
}

/// The suffix of a metric that is another metric's 95 % half-width (`x_ci95` for `x`): drawn
/// as a band around `x` rather than as a panel of its own.
pub const CI_SUFFIX: &str = "_ci95";

/// Whether `key` is one of a continual learner's per-experience metrics (`init_acc_J`,
/// `just_trained_I`, `dead_units_I`): logged once per experience, they are table columns, not
/// learning curves.
pub fn is_per_cell_key(key: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    ["init_acc_", "just_trained_", "dead_units_"]
        .iter()
        .any(|p| key.strip_prefix(p).is_some_and(digits))
}

/// The learning-curve panels of a log: the headline first, then the other metrics that
/// change (at most [`MAX_PANELS`] in all); `KEY_ci95` becomes a band around `KEY`.
pub fn learning_curve_panels(log: &Log, headline: &str) -> Vec<Panel> {
    let curve = |key: &str| -> Vec<(f64, f64)> {
        log.iter()
            .filter_map(|(step, m)| m.get(key).map(|v| (*step as f64, *v)))
            .filter(|p| p.1.is_finite())
            .collect()
    };
    metrics::keys(log, headline)
        .into_iter()
        .filter(|k| !k.ends_with(CI_SUFFIX) && !is_per_cell_key(k))
        .filter_map(|key| {
            let points = curve(&key);
            let flat = points.windows(2).all(|w| w[0].1 == w[1].1);
            if points.is_empty() || (flat && key != headline) {
                return None;
            }
            let band = log
                .iter()
                .filter_map(|(step, m)| {
                    let v = m.get(&key)?;
                    let ci = m.get(&format!("{key}{CI_SUFFIX}"))?;
                    (v.is_finite() && ci.is_finite()).then(|| (*step as f64, v - ci, v + ci))
                })
                .collect::<Vec<_>>();
            let band = if band.len() == points.len() {
                band
            } else {
                Vec::new()
            };
            Some(Panel {
                title: if band.is_empty() {
                    key.clone()
                } else {
                    format!("{key} (95% band)")
                },
                x_label: String::new(),
                y_label: key.clone(),
                series: vec![Series {
                    label: String::new(),
                    points,
                    band,
                }],
            })
        })
        .take(MAX_PANELS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_cell_keys_are_recognised() {
        for k in ["init_acc_4", "just_trained_0", "dead_units_2"] {
            assert!(is_per_cell_key(k), "{k}");
        }
        for k in ["r_0_0", "acc", "init_acc", "just_trained_x", "loss"] {
            assert!(!is_per_cell_key(k), "{k}");
        }
    }

    fn panels() -> Vec<Panel> {
        let log: Log = (1..=20)
            .map(|i| {
                let mut m = autodidact_core::Metrics::new();
                m.insert("loss".into(), 1.0 / i as f64);
                m.insert("accuracy".into(), 1.0 - 1.0 / i as f64);
                (i, m)
            })
            .collect();
        learning_curve_panels(&log, "loss")
    }

    #[test]
    fn renders_svg_with_text_and_png() {
        let p = panels();
        assert_eq!(p[0].title, "loss");
        let svg = render_svg("maml on sinusoid", &p).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..50]);
        assert!(svg.contains("maml on sinusoid") && svg.contains("iteration"));
        let png = render_png("maml on sinusoid", &p).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }

    #[test]
    fn flat_and_single_point_curves_draw() {
        let p = vec![Panel {
            title: "x".into(),
            x_label: String::new(),
            y_label: "x".into(),
            series: vec![Series {
                label: "a".into(),
                points: vec![(3.0, 2.0)],
                band: vec![(3.0, 2.0, 2.0)],
            }],
        }];
        render_png("one point", &p).unwrap();
    }

    #[test]
    fn wide_positive_ranges_use_a_log_axis() {
        let series = |ys: &[f64]| Series {
            label: "a".into(),
            points: ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect(),
            band: ys
                .iter()
                .enumerate()
                .map(|(i, &y)| (i as f64, y - 2.0 * y, y + y))
                .collect(),
        };
        let wide = Panel {
            title: "loss".into(),
            x_label: String::new(),
            y_label: "loss".into(),
            series: vec![series(&[1e4, 10.0, 0.5])],
        };
        assert!(wants_log(&wide));
        let svg = render_svg("log", &[wide]).unwrap();
        assert!(svg.contains("loss (log scale)"));
        let narrow = Panel {
            series: vec![series(&[3.0, 2.0, -1.0])],
            ..Panel::default()
        };
        assert!(!wants_log(&narrow));
    }
}
