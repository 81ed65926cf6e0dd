//! A stored example's raw features in the form that costs least to keep in memory.
//!
//! The agent keeps every labelled example's features for consolidations and for rebuilding
//! prototypes under a new head. Hashed n-grams are 4,096 wide but a message sets a few dozen
//! to a few hundred buckets: kept dense, each example cost 16 KiB, and the resident memory of a
//! soak with feedback grew with every correction. Kept as (position, value) pairs they cost
//! 8 bytes per set bucket. MiniLM's 384 values are all non-zero, so they stay dense.
//!
//! Everything that reads features goes through a borrowed [`Row`]; the few places that need
//! a dense matrix (a training episode's support and query rows) write rows into it with
//! [`Row::write_into`]. A sparse row keeps every value whose bits are not zero (a `-0.0`
//! too), so writing it out gives back the dense row bit for bit, and [`Row::for_each_set`]
//! visits the same values in the same (ascending) order as a scan of the dense row does:
//! the head's products accumulate the same terms in the same order, so a sparse example
//! embeds to the very bits its dense form did.

use std::sync::Arc;

/// One example's features as kept in memory.
#[derive(Clone, Debug, PartialEq)]
pub enum Features {
    /// Every value (MiniLM embeddings).
    Dense(Arc<[f32]>),
    /// The values of a `dim`-wide row whose bits are not zero, with their positions, in
    /// ascending position (hashed n-grams).
    Sparse {
        /// Width of the row.
        dim: usize,
        /// `(position, value)`, positions ascending and below `dim`.
        entries: Arc<[(u32, f32)]>,
    },
}

impl Features {
    /// Keeps every value of `x`.
    pub fn dense(x: Vec<f32>) -> Features {
        Features::Dense(Arc::from(x))
    }

    /// Keeps the values of `x` whose bits are not zero, with their positions. Rows wider than
    /// `u32` positions reach (never a featurizer's) stay dense.
    pub fn sparse(x: &[f32]) -> Features {
        if u32::try_from(x.len()).is_err() {
            return Features::Dense(Arc::from(x));
        }
        let entries: Vec<(u32, f32)> = x
            .iter()
            .enumerate()
            .filter(|(_, v)| v.to_bits() != 0)
            .map(|(i, &v)| (i as u32, v))
            .collect();
        Features::Sparse {
            dim: x.len(),
            entries: Arc::from(entries),
        }
    }

    /// The borrowed row.
    pub fn row(&self) -> Row<'_> {
        match self {
            Features::Dense(x) => Row::Dense(x),
            Features::Sparse { dim, entries } => Row::Sparse { dim: *dim, entries },
        }
    }

    /// Width of the row.
    pub fn dim(&self) -> usize {
        self.row().dim()
    }

    /// Heap bytes this form holds (the values and positions, not the allocator's overhead).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Features::Dense(x) => std::mem::size_of_val(&**x),
            Features::Sparse { entries, .. } => std::mem::size_of_val(&**entries),
        }
    }
}

/// A borrowed row of features, dense or sparse (see [`Features`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Row<'a> {
    /// Every value.
    Dense(&'a [f32]),
    /// The values whose bits are not zero, positions ascending.
    Sparse {
        /// Width of the row.
        dim: usize,
        /// `(position, value)`, positions ascending and below `dim`.
        entries: &'a [(u32, f32)],
    },
}

impl<'a> From<&'a [f32]> for Row<'a> {
    fn from(x: &'a [f32]) -> Row<'a> {
        Row::Dense(x)
    }
}

impl<'a> From<&'a Vec<f32>> for Row<'a> {
    fn from(x: &'a Vec<f32>) -> Row<'a> {
        Row::Dense(x)
    }
}

impl<'a, const N: usize> From<&'a [f32; N]> for Row<'a> {
    fn from(x: &'a [f32; N]) -> Row<'a> {
        Row::Dense(x)
    }
}

impl<'a> From<&'a Features> for Row<'a> {
    fn from(x: &'a Features) -> Row<'a> {
        x.row()
    }
}

impl Row<'_> {
    /// Width of the row.
    pub fn dim(&self) -> usize {
        match self {
            Row::Dense(x) => x.len(),
            Row::Sparse { dim, .. } => *dim,
        }
    }

    /// Writes the dense row into `out` (which must be [`Row::dim`] wide; a row of another
    /// width writes zeros).
    pub fn write_into(&self, out: &mut [f32]) {
        match self {
            Row::Dense(x) if x.len() == out.len() => out.copy_from_slice(x),
            Row::Sparse { dim, entries } if *dim == out.len() => {
                out.iter_mut().for_each(|v| *v = 0.0);
                for &(i, v) in entries.iter() {
                    out[i as usize] = v;
                }
            }
            _ => out.iter_mut().for_each(|v| *v = 0.0),
        }
    }

    /// The dense row as a new vector.
    pub fn to_vec(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.dim()];
        self.write_into(&mut out);
        out
    }

    /// Calls `f(position, value)` for every value that is not zero (`v != 0.0`, so `-0.0` is
    /// skipped as well), in ascending position: the terms a product with the row adds, in
    /// the order a scan of the dense row adds them.
    #[inline]
    pub fn for_each_set(&self, mut f: impl FnMut(usize, f32)) {
        match self {
            Row::Dense(x) => {
                for (i, &v) in x.iter().enumerate() {
                    if v != 0.0 {
                        f(i, v);
                    }
                }
            }
            Row::Sparse { entries, .. } => {
                for &(i, v) in entries.iter() {
                    if v != 0.0 {
                        f(i as usize, v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparse_row_writes_back_the_dense_row_bit_for_bit() {
        let x = [0.0f32, 0.5, -0.0, 0.0, -2.0, 1e-30, 0.0];
        let s = Features::sparse(&x);
        let Features::Sparse { dim, entries } = &s else {
            panic!("not sparse: {s:?}");
        };
        assert_eq!(*dim, 7);
        // -0.0 is kept (its bits are not zero), +0.0 is not.
        assert_eq!(entries.len(), 4);
        let back = s.row().to_vec();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&x));
        assert_eq!(s.dim(), 7);
        assert_eq!(s.heap_bytes(), 4 * 8);
        assert_eq!(Features::dense(x.to_vec()).heap_bytes(), 7 * 4);
    }

    #[test]
    fn both_forms_visit_the_same_values_in_the_same_order() {
        let x = [0.0f32, 0.5, -0.0, 3.0, 0.0, -2.0];
        let visit = |r: Row<'_>| {
            let mut v = Vec::new();
            r.for_each_set(|i, x| v.push((i, x.to_bits())));
            v
        };
        let s = Features::sparse(&x);
        assert_eq!(visit(s.row()), visit(Row::from(&x)));
        assert_eq!(visit(s.row()).len(), 3);
    }

    #[test]
    fn a_row_of_the_wrong_width_writes_zeros() {
        let s = Features::sparse(&[1.0, 2.0]);
        let mut out = [7.0f32; 3];
        s.row().write_into(&mut out);
        assert_eq!(out, [0.0; 3]);
    }
}
