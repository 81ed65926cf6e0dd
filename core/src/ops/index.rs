//! Indexing: rows by index (`index_select` / `index_add`), one entry per row (`gather` /
//! `scatter`), `where` on a constant mask, and the non-differentiable `one_hot` and `argmax`.

use ndarray::{ArrayD, Axis, IxDyn, Zip};

use super::{broadcast_shape, from_vec};
use crate::float::Float;
use crate::tape::{Op, Var};

pub(crate) fn index_select_value<T: Float>(a: &ArrayD<T>, idx: &[usize]) -> ArrayD<T> {
    let rows = a.shape().first().copied().unwrap_or(0);
    if let Some(&bad) = idx.iter().find(|&&i| i >= rows) {
        panic!(
            "shape error in index_select: index {bad} out of range for {} rows (shape {:?})",
            rows,
            a.shape()
        );
    }
    a.select(Axis(0), idx)
}

pub(crate) fn index_add_value<T: Float>(g: &ArrayD<T>, idx: &[usize], rows: usize) -> ArrayD<T> {
    let mut shape = g.shape().to_vec();
    shape[0] = rows;
    let mut out = crate::pool::filled(&shape, T::zero());
    for (i, &r) in idx.iter().enumerate() {
        let mut dst = out.index_axis_mut(Axis(0), r);
        dst += &g.index_axis(Axis(0), i);
    }
    out
}

pub(crate) fn gather_value<T: Float>(a: &ArrayD<T>, idx: &[usize]) -> ArrayD<T> {
    let s = a.shape();
    assert!(
        s.len() == 2 && s[0] == idx.len(),
        "shape error in gather: needs a [rows, cols] input and one index per row; got {:?} and {} indices",
        s,
        idx.len()
    );
    let cols = s[1];
    let v: Vec<T> = idx
        .iter()
        .enumerate()
        .map(|(r, &c)| {
            assert!(
                c < cols,
                "shape error in gather: index {c} out of range for {cols} columns"
            );
            a[[r, c]]
        })
        .collect();
    from_vec(&[idx.len()], v)
}

pub(crate) fn scatter_value<T: Float>(g: &ArrayD<T>, idx: &[usize], cols: usize) -> ArrayD<T> {
    let mut out = ArrayD::zeros(IxDyn(&[idx.len(), cols]));
    for (r, (&c, &x)) in idx.iter().zip(g.iter()).enumerate() {
        out[[r, c]] = x;
    }
    out
}

pub(crate) fn where_value<T: Float>(m: &ArrayD<T>, a: &ArrayD<T>, b: &ArrayD<T>) -> ArrayD<T> {
    let s1 = broadcast_shape("where", m.shape(), a.shape());
    let shape = broadcast_shape("where", &s1, b.shape());
    let dim = IxDyn(&shape);
    match (
        m.broadcast(dim.clone()),
        a.broadcast(dim.clone()),
        b.broadcast(dim),
    ) {
        (Some(m), Some(a), Some(b)) => {
            Zip::from(&m)
                .and(&a)
                .and(&b)
                .map_collect(|&m, &a, &b| if m > T::of(0.5) { a } else { b })
        }
        _ => panic!(
            "shape error in where: mask {:?}, {:?} and {:?} do not broadcast",
            m.shape(),
            a.shape(),
            b.shape()
        ),
    }
}

impl<T: Float> Var<T> {
    /// Rows of `self` (axis 0) picked by `idx`, repeats allowed.
    pub fn index_select(self, idx: &[usize]) -> Var<T> {
        let rec = crate::tape::is_grad_enabled();
        T::with_tape(|s| {
            let n = s.node(self);
            let value = index_select_value(&n.value, idx);
            if rec && n.requires_grad {
                let start = s.push_indices(idx);
                s.push(
                    value,
                    Op::IndexSelect(self.id, start, idx.len() as u32),
                    true,
                )
            } else {
                s.push(value, Op::Const, false)
            }
        })
    }

    /// Adds row `i` of `self` into row `idx[i]` of a zero tensor with `rows` rows (the adjoint
    /// of `index_select`).
    pub fn index_add(self, idx: &[usize], rows: usize) -> Var<T> {
        let rec = crate::tape::is_grad_enabled();
        T::with_tape(|s| {
            let n = s.node(self);
            assert!(
                n.value.shape().first() == Some(&idx.len()) && idx.iter().all(|&i| i < rows),
                "shape error in index_add: {:?} rows into {rows} with {} indices",
                n.value.shape(),
                idx.len()
            );
            let value = index_add_value(&n.value, idx, rows);
            if rec && n.requires_grad {
                let start = s.push_indices(idx);
                s.push(value, Op::IndexAdd(self.id, start, idx.len() as u32), true)
            } else {
                s.push(value, Op::Const, false)
            }
        })
    }

    /// From a `[rows, cols]` input, entry `idx[r]` of each row `r` (DQN's `Q(s, a)`).
    pub fn gather(self, idx: &[usize]) -> Var<T> {
        let rec = crate::tape::is_grad_enabled();
        T::with_tape(|s| {
            let n = s.node(self);
            let value = gather_value(&n.value, idx);
            if rec && n.requires_grad {
                let start = s.push_indices(idx);
                s.push(value, Op::Gather(self.id, start), true)
            } else {
                s.push(value, Op::Const, false)
            }
        })
    }

    /// Places entry `r` of a `[rows]` input at column `idx[r]` of a zero `[rows, cols]` tensor
    /// (the adjoint of `gather`).
    pub fn scatter(self, idx: &[usize], cols: usize) -> Var<T> {
        let rec = crate::tape::is_grad_enabled();
        T::with_tape(|s| {
            let n = s.node(self);
            assert!(
                n.value.len() == idx.len() && idx.iter().all(|&c| c < cols),
                "shape error in scatter: {:?} with {} indices into {cols} columns",
                n.value.shape(),
                idx.len()
            );
            let value = scatter_value(&n.value, idx, cols);
            if rec && n.requires_grad {
                let start = s.push_indices(idx);
                s.push(value, Op::Scatter(self.id, start), true)
            } else {
                s.push(value, Op::Const, false)
            }
        })
    }

    /// `a` where `mask` is 1 and `b` where it is 0 (broadcasting); the mask is a constant.
    pub fn where_mask(mask: ArrayD<T>, a: Var<T>, b: Var<T>) -> Var<T> {
        let m = Var::constant(mask);
        Var::where_var(m, a, b)
    }

    /// Like [`Var::where_mask`] with the mask already a (constant) variable.
    pub fn where_var(mask: Var<T>, a: Var<T>, b: Var<T>) -> Var<T> {
        let rec = crate::tape::is_grad_enabled();
        T::with_tape(|s| {
            let (m, x, y) = (s.node(mask), s.node(a), s.node(b));
            let value = where_value(&m.value, &x.value, &y.value);
            let rg = rec && (x.requires_grad || y.requires_grad);
            s.push(
                value,
                if rg {
                    Op::Where(mask.id, a.id, b.id)
                } else {
                    Op::Const
                },
                rg,
            )
        })
    }

    /// Index of the largest entry along `axis` (first on ties); not differentiable.
    pub fn argmax(&self, axis: usize) -> ArrayD<usize> {
        self.with_value(|v| argmax(v, axis))
    }
}

/// Index of the largest entry along `axis` (first on ties; a NaN never wins).
pub fn argmax<T: Float>(v: &ArrayD<T>, axis: usize) -> ArrayD<usize> {
    assert!(
        axis < v.ndim(),
        "shape error in argmax: axis {axis} out of range for {:?}",
        v.shape()
    );
    v.map_axis(Axis(axis), |lane| first_max(lane.iter().copied()))
}

/// Index of the largest entry of a slice (first on ties; a NaN never wins; 0 when empty or
/// all NaN): [`argmax`] of one row, without building an array.
pub fn argmax_slice<T: Float>(row: &[T]) -> usize {
    first_max(row.iter().copied())
}

/// The index of the first largest value. Starting from −∞ with a strict `>` is what keeps a
/// NaN from ever winning (every comparison with it is false).
fn first_max<T: Float>(values: impl Iterator<Item = T>) -> usize {
    let mut best = 0;
    let mut bv = T::neg_infinity();
    for (i, x) in values.enumerate() {
        if x > bv {
            best = i;
            bv = x;
        }
    }
    best
}

/// One-hot rows: `[labels.len(), classes]` with a 1 at each label; not differentiable.
///
/// # Panics
/// If a label is not below `classes`.
pub fn one_hot<T: Float>(labels: &[usize], classes: usize) -> ArrayD<T> {
    let mut out = ArrayD::zeros(IxDyn(&[labels.len(), classes]));
    for (r, &c) in labels.iter().enumerate() {
        assert!(
            c < classes,
            "one_hot: label {c} out of range for {classes} classes"
        );
        out[[r, c]] = T::one();
    }
    out
}
