//! What the agent observes in each state: the kinds, their spaces, and the per-state table of
//! the kinds that are not built on the fly.

use autodidact_core::Space;

use super::map::{Cell, GridMap};

/// What the agent observes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObservationKind {
    /// A one-hot vector over the states.
    OneHot,
    /// The state index, as one float (`Discrete(num_states)`).
    Index,
    /// `(row, col)`.
    Coords,
    /// An egocentric `(2r+1) x (2r+1)` window with three channels: wall (or off the grid),
    /// goal, hazard (lava, hole, cliff); shape `[3, 2r+1, 2r+1]`.
    LocalView {
        /// The radius r.
        radius: usize,
    },
}

/// The observation space of `kind` on `map` with `n` states.
pub(crate) fn space(kind: ObservationKind, map: &GridMap, n: usize) -> Space {
    match kind {
        ObservationKind::OneHot => Space::Box {
            low: vec![0.0; n],
            high: vec![1.0; n],
            shape: vec![n],
        },
        ObservationKind::Index => Space::Discrete(n),
        ObservationKind::Coords => Space::Box {
            low: vec![0.0, 0.0],
            high: vec![(map.rows() - 1) as f32, (map.cols() - 1) as f32],
            shape: vec![2],
        },
        ObservationKind::LocalView { radius } => {
            let k = 2 * radius + 1;
            Space::Box {
                low: vec![0.0; 3 * k * k],
                high: vec![1.0; 3 * k * k],
                shape: vec![3, k, k],
            }
        }
    }
}

/// Floats per observation, and every state's observation laid end to end for the kinds that
/// keep a table (one-hot and index observations are built on demand: a one-hot table holds
/// states² floats).
pub(crate) fn table(
    map: &GridMap,
    cell_of_state: &[usize],
    kind: ObservationKind,
) -> (usize, Vec<f32>) {
    let cols = map.cols();
    match kind {
        ObservationKind::OneHot => (cell_of_state.len(), Vec::new()),
        ObservationKind::Index => (1, Vec::new()),
        ObservationKind::Coords => {
            let t = cell_of_state
                .iter()
                .flat_map(|&c| [(c / cols) as f32, (c % cols) as f32])
                .collect();
            (2, t)
        }
        ObservationKind::LocalView { radius } => {
            let k = 2 * radius + 1;
            let dim = 3 * k * k;
            let mut t = vec![0.0; dim * cell_of_state.len()];
            for (s, &c) in cell_of_state.iter().enumerate() {
                let (r0, c0) = ((c / cols) as isize, (c % cols) as isize);
                let v = &mut t[s * dim..(s + 1) * dim];
                for dr in 0..k {
                    for dc in 0..k {
                        let r = r0 + dr as isize - radius as isize;
                        let cc = c0 + dc as isize - radius as isize;
                        let at = dr * k + dc;
                        if r < 0 || cc < 0 || r as usize >= map.rows() || cc as usize >= cols {
                            v[at] = 1.0;
                            continue;
                        }
                        match map.cell(r as usize, cc as usize) {
                            Cell::Wall => v[at] = 1.0,
                            Cell::Goal(..) => v[k * k + at] = 1.0,
                            cell if cell.is_hazard() => v[2 * k * k + at] = 1.0,
                            _ => {}
                        }
                    }
                }
            }
            (dim, t)
        }
    }
}
