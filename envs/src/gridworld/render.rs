//! Pictures of a gridworld: text (ANSI mode) and PNG, with the agent and optionally a value
//! function (cell colours) and a policy (arrows) drawn on it.

use autodidact_core::TabularModel;

use super::{Cell, GridModel};
use crate::error::{EnvsError, Result};

/// What a PNG picture shows.
#[derive(Clone, Debug, PartialEq)]
pub struct PngOptions {
    /// Pixels per cell side.
    pub cell_size: u32,
    /// Draw the agent (a red disc).
    pub show_agent: bool,
    /// A value per state: open cells are coloured from dark purple (lowest) to yellow
    /// (highest).
    pub values: Option<Vec<f64>>,
    /// An action per state (0 up, 1 down, 2 left, 3 right), drawn as arrows on non-terminal
    /// states.
    pub policy: Option<Vec<usize>>,
}

impl Default for PngOptions {
    fn default() -> Self {
        PngOptions {
            cell_size: 32,
            show_agent: true,
            values: None,
            policy: None,
        }
    }
}

/// The grid as text, one character per cell (the map's), the agent as `@`.
pub fn ansi(model: &GridModel, agent: Option<usize>) -> String {
    let map = model.map();
    let agent_cell = agent.map(|s| model.position(s));
    let mut out = String::with_capacity(map.rows() * (map.cols() + 1));
    for r in 0..map.rows() {
        for c in 0..map.cols() {
            if agent_cell == Some((r, c)) {
                out.push('@');
            } else {
                out.push(map.glyph(r, c));
            }
        }
        out.push('\n');
    }
    out
}

type Rgb = [u8; 3];

struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize, bg: Rgb) -> Self {
        let mut px = Vec::with_capacity(w * h * 3);
        for _ in 0..w * h {
            px.extend_from_slice(&bg);
        }
        Canvas { w, h, px }
    }
    fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }
    fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        for y in y0..y1 {
            for x in x0..x1 {
                self.set(x, y, c);
            }
        }
    }
    fn disc(&mut self, cx: f64, cy: f64, r: f64, c: Rgb) {
        for y in (cy - r).floor() as i64..=(cy + r).ceil() as i64 {
            for x in (cx - r).floor() as i64..=(cx + r).ceil() as i64 {
                let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
                if dx * dx + dy * dy <= r * r {
                    self.set(x, y, c);
                }
            }
        }
    }
    fn triangle(&mut self, p: [(f64, f64); 3], c: Rgb) {
        let xmin = p.iter().map(|q| q.0).fold(f64::INFINITY, f64::min).floor() as i64;
        let xmax = p
            .iter()
            .map(|q| q.0)
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil() as i64;
        let ymin = p.iter().map(|q| q.1).fold(f64::INFINITY, f64::min).floor() as i64;
        let ymax = p
            .iter()
            .map(|q| q.1)
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil() as i64;
        let edge = |a: (f64, f64), b: (f64, f64), x: f64, y: f64| {
            (b.0 - a.0) * (y - a.1) - (b.1 - a.1) * (x - a.0)
        };
        for y in ymin..=ymax {
            for x in xmin..=xmax {
                let (fx, fy) = (x as f64 + 0.5, y as f64 + 0.5);
                let e0 = edge(p[0], p[1], fx, fy);
                let e1 = edge(p[1], p[2], fx, fy);
                let e2 = edge(p[2], p[0], fx, fy);
                if (e0 >= 0.0 && e1 >= 0.0 && e2 >= 0.0) || (e0 <= 0.0 && e1 <= 0.0 && e2 <= 0.0) {
                    self.set(x, y, c);
                }
            }
        }
    }
}

fn cell_colour(cell: Cell) -> Rgb {
    match cell {
        Cell::Empty => [245, 245, 240],
        Cell::Wall => [60, 60, 66],
        Cell::Start => [190, 215, 250],
        Cell::Goal(..) => [80, 180, 90],
        Cell::Lava => [235, 95, 35],
        Cell::Hole => [205, 225, 240],
        Cell::Cliff => [150, 100, 60],
    }
}

/// Viridis-like ramp at `t` in [0, 1].
fn ramp(t: f64) -> Rgb {
    const STOPS: [[f64; 3]; 5] = [
        [68.0, 1.0, 84.0],
        [59.0, 82.0, 139.0],
        [33.0, 145.0, 140.0],
        [94.0, 201.0, 98.0],
        [253.0, 231.0, 37.0],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * 4.0;
    let i = (x.floor() as usize).min(3);
    let f = x - i as f64;
    let mut c = [0u8; 3];
    for k in 0..3 {
        c[k] = (STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * f).round() as u8;
    }
    c
}

/// Encodes the picture of `model` (with the agent in `agent`, if any) as PNG bytes.
pub fn png(model: &GridModel, agent: Option<usize>, opts: &PngOptions) -> Result<Vec<u8>> {
    let map = model.map();
    let n = model.num_states();
    let cs = opts.cell_size.clamp(4, 256) as usize;
    for (what, len) in [
        ("values", opts.values.as_ref().map(Vec::len)),
        ("policy", opts.policy.as_ref().map(Vec::len)),
    ] {
        if let Some(len) = len {
            if len != n {
                return Err(EnvsError::Invalid(format!(
                    "{what} has {len} entries but the gridworld has {n} states"
                )));
            }
        }
    }
    let (w, h) = (map.cols() * cs + 1, map.rows() * cs + 1);
    let mut cv = Canvas::new(w, h, [170, 170, 170]);
    let (vmin, vmax) = match &opts.values {
        Some(v) => v
            .iter()
            .filter(|x| x.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            }),
        None => (0.0, 0.0),
    };
    for r in 0..map.rows() {
        for c in 0..map.cols() {
            let cell = map.cell(r, c);
            let mut colour = cell_colour(cell);
            if let (Some(v), Some(s)) = (&opts.values, model.state_at(r, c)) {
                if matches!(cell, Cell::Empty | Cell::Start) {
                    let t = if vmax > vmin {
                        (v[s] - vmin) / (vmax - vmin)
                    } else {
                        0.5
                    };
                    colour = ramp(t);
                }
            }
            let (x0, y0) = ((c * cs) as i64, (r * cs) as i64);
            cv.rect(x0 + 1, y0 + 1, x0 + cs as i64, y0 + cs as i64, colour);
            if matches!(cell, Cell::Start) && opts.values.is_some() {
                // A light frame marks the start under a value colouring.
                let f = (cs / 10).max(1) as i64;
                let sc = cell_colour(Cell::Start);
                cv.rect(x0 + 1, y0 + 1, x0 + cs as i64, y0 + 1 + f, sc);
                cv.rect(
                    x0 + 1,
                    y0 + cs as i64 - f,
                    x0 + cs as i64,
                    y0 + cs as i64,
                    sc,
                );
            }
            if let Cell::Hole = cell {
                // A dark pit in the ice.
                let (cx, cy) = (
                    x0 as f64 + cs as f64 / 2.0 + 0.5,
                    y0 as f64 + cs as f64 / 2.0 + 0.5,
                );
                cv.disc(cx, cy, cs as f64 * 0.38, [25, 30, 45]);
            }
            if let Cell::Goal(..) = cell {
                // A white star-like diamond marks goals.
                let (cx, cy) = (
                    x0 as f64 + cs as f64 / 2.0 + 0.5,
                    y0 as f64 + cs as f64 / 2.0 + 0.5,
                );
                let k = cs as f64 * 0.28;
                cv.triangle([(cx - k, cy), (cx, cy - k), (cx + k, cy)], [235, 250, 235]);
                cv.triangle([(cx - k, cy), (cx, cy + k), (cx + k, cy)], [235, 250, 235]);
            }
        }
    }
    if let Some(policy) = &opts.policy {
        for (s, &a) in policy.iter().enumerate() {
            if model.is_terminal(s) || a > 3 {
                continue;
            }
            let (r, c) = model.position(s);
            if matches!(map.cell(r, c), Cell::Cliff) {
                continue;
            }
            let cx = (c * cs) as f64 + cs as f64 / 2.0 + 0.5;
            let cy = (r * cs) as f64 + cs as f64 / 2.0 + 0.5;
            let (dx, dy) = [(0.0, -1.0), (0.0, 1.0), (-1.0, 0.0), (1.0, 0.0)][a];
            let len = cs as f64 * 0.34;
            let half = (cs as f64 * 0.05).max(1.0);
            let head = cs as f64 * 0.16;
            let tip = (cx + dx * len, cy + dy * len);
            let base = (cx + dx * (len - head), cy + dy * (len - head));
            let tail = (cx - dx * len * 0.8, cy - dy * len * 0.8);
            let (px, py) = (-dy, dx);
            let ink = [20, 20, 20];
            cv.triangle(
                [
                    (tail.0 + px * half, tail.1 + py * half),
                    (base.0 + px * half, base.1 + py * half),
                    (base.0 - px * half, base.1 - py * half),
                ],
                ink,
            );
            cv.triangle(
                [
                    (tail.0 + px * half, tail.1 + py * half),
                    (tail.0 - px * half, tail.1 - py * half),
                    (base.0 - px * half, base.1 - py * half),
                ],
                ink,
            );
            cv.triangle(
                [
                    tip,
                    (base.0 + px * head, base.1 + py * head),
                    (base.0 - px * head, base.1 - py * head),
                ],
                ink,
            );
        }
    }
    if let Some(s) = agent {
        let (r, c) = model.position(s);
        let cx = (c * cs) as f64 + cs as f64 / 2.0 + 0.5;
        let cy = (r * cs) as f64 + cs as f64 / 2.0 + 0.5;
        cv.disc(cx, cy, cs as f64 * 0.32, [90, 10, 10]);
        cv.disc(cx, cy, cs as f64 * 0.26, [225, 35, 35]);
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc
            .write_header()
            .map_err(|e| EnvsError::Invalid(format!("PNG encoding: {e}")))?;
        writer
            .write_image_data(&cv.px)
            .map_err(|e| EnvsError::Invalid(format!("PNG encoding: {e}")))?;
    }
    Ok(out)
}
