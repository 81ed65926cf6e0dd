//! Shape ops: permute, reshape, broadcast_to / sum_to_shape, narrow / pad, concat, stack.

use ndarray::{ArrayD, Axis, IxDyn, Slice};

use super::from_vec;
use crate::float::Float;
use crate::tape::{Op, Perm, Var};

/// Sums `x` down to `shape` (the reverse of broadcasting): leading axes are summed away and
/// axes where `shape` has 1 are summed with keepdim.
pub(crate) fn sum_to_shape_value<T: Float>(x: &ArrayD<T>, shape: &[usize]) -> ArrayD<T> {
    if x.shape() == shape {
        return crate::pool::map_array(x, |v| v);
    }
    assert!(
        x.ndim() >= shape.len(),
        "shape error in sum_to_shape: cannot sum {:?} to {:?}",
        x.shape(),
        shape
    );
    if shape.iter().product::<usize>() == 1 {
        let s: T = x.iter().copied().sum();
        return crate::pool::filled(shape, s);
    }
    // The commonest case, a bias's gradient: `shape` is a trailing part of `x`'s shape, so the
    // sum is over whole leading rows; add the rows up without the general strided walk.
    let len: usize = shape.iter().product();
    if let (Some(src), true) = (x.as_slice(), x.shape().ends_with(shape)) {
        let mut out = crate::pool::filled(shape, T::zero());
        let acc = crate::pool::slice_mut(&mut out);
        for row in src.chunks_exact(len) {
            acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
        }
        return out;
    }
    // Contiguous input: one pass with merged runs.
    if let (Some(src), true) = (x.as_slice(), super::strided::broadcasts(shape, x.shape())) {
        let mut out = crate::pool::filled(shape, T::zero());
        super::strided::reduce_into(src, x.shape(), shape, crate::pool::slice_mut(&mut out));
        return out;
    }
    let lead = x.ndim() - shape.len();
    let mut out = x.clone();
    for _ in 0..lead {
        out = out.sum_axis(Axis(0));
    }
    for (i, &d) in shape.iter().enumerate() {
        if d == 1 && out.shape()[i] != 1 {
            out = out.sum_axis(Axis(i)).insert_axis(Axis(i));
        } else {
            assert!(
                d == out.shape()[i],
                "shape error in sum_to_shape: cannot sum {:?} to {:?}",
                x.shape(),
                shape
            );
        }
    }
    out
}

/// Repeats `a` to `shape` (NumPy broadcasting).
pub(crate) fn broadcast_to_value<T: Float>(a: &ArrayD<T>, shape: &[usize]) -> ArrayD<T> {
    if let (Some(src), true) = (a.as_slice(), super::strided::broadcasts(a.shape(), shape)) {
        let mut out = crate::pool::scratch::<T>(shape);
        super::strided::broadcast_into(src, a.shape(), shape, crate::pool::slice_mut(&mut out));
        return out;
    }
    match a.broadcast(IxDyn(shape)) {
        Some(v) => v.to_owned(),
        None => panic!(
            "shape error in broadcast_to: cannot broadcast {:?} to {shape:?}",
            a.shape()
        ),
    }
}

/// Transposes the last two axes of contiguous data, in cache-sized tiles.
fn batched_transpose<T: Float>(src: &[T], shape: &[usize]) -> ArrayD<T> {
    let nd = shape.len();
    let (r, c) = (shape[nd - 2], shape[nd - 1]);
    let plane = r * c;
    let mut out = crate::pool::take::<T>(src.len());
    out.resize(src.len(), T::zero());
    const TILE: usize = 32;
    if plane > 0 {
        for (s, d) in src.chunks_exact(plane).zip(out.chunks_exact_mut(plane)) {
            for i0 in (0..r).step_by(TILE) {
                for j0 in (0..c).step_by(TILE) {
                    for i in i0..(i0 + TILE).min(r) {
                        for j in j0..(j0 + TILE).min(c) {
                            d[j * r + i] = s[i * c + j];
                        }
                    }
                }
            }
        }
    }
    let mut oshape = shape.to_vec();
    oshape.swap(nd - 2, nd - 1);
    from_vec(&oshape, out)
}

fn contiguous<T: Float>(a: ArrayD<T>) -> ArrayD<T> {
    if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    }
}

impl<T: Float> Var<T> {
    /// Reorders the axes: output axis `i` is input axis `axes[i]`.
    pub fn permute(self, axes: &[usize]) -> Var<T> {
        let nd = self.ndim();
        let mut seen = [false; 8];
        assert!(
            axes.len() == nd
                && nd <= 8
                && axes
                    .iter()
                    .all(|&a| a < nd && !std::mem::replace(&mut seen[a], true)),
            "shape error in permute: {axes:?} is not a permutation of the {nd} axes of {:?}",
            self.shape()
        );
        let mut p = [0u8; 8];
        for (i, &a) in axes.iter().enumerate() {
            p[i] = a as u8;
        }
        let perm = Perm {
            axes: p,
            len: nd as u8,
        };
        let swap_last_two = nd >= 2
            && axes[nd - 2] == nd - 1
            && axes[nd - 1] == nd - 2
            && axes[..nd - 2].iter().enumerate().all(|(i, &a)| i == a);
        self.unary(Op::Permute(self.id, perm), |a| {
            if let (true, Some(src)) = (swap_last_two, a.as_slice()) {
                return batched_transpose(src, a.shape());
            }
            contiguous(a.view().permuted_axes(IxDyn(axes)).to_owned())
        })
    }

    /// Swaps two axes.
    pub fn transpose(self, i: usize, j: usize) -> Var<T> {
        let mut axes: Vec<usize> = (0..self.ndim()).collect();
        axes.swap(i, j);
        self.permute(&axes)
    }

    /// Swaps the last two axes (matrix transpose; batched for rank > 2).
    pub fn t(self) -> Var<T> {
        let n = self.ndim();
        assert!(
            n >= 2,
            "shape error in t: needs rank >= 2, got {:?}",
            self.shape()
        );
        self.transpose(n - 2, n - 1)
    }

    /// The same elements in a new shape; one entry may be `usize::MAX` ("infer").
    pub fn reshape(self, shape: &[usize]) -> Var<T> {
        let old = self.shape();
        let total: usize = old.iter().product();
        let mut new = shape.to_vec();
        if let Some(k) = new.iter().position(|&d| d == usize::MAX) {
            let rest: usize = new.iter().filter(|&&d| d != usize::MAX).product();
            new[k] = total.checked_div(rest).unwrap_or(0);
        }
        assert!(
            new.iter().product::<usize>() == total,
            "shape error in reshape: cannot reshape {old:?} into {shape:?}"
        );
        if new == old {
            return self;
        }
        self.unary(Op::Reshape(self.id), |a| {
            let mut out = crate::pool::scratch::<T>(&new);
            let o = crate::pool::slice_mut(&mut out);
            match a.as_slice() {
                Some(s) => o.copy_from_slice(s),
                None => o.iter_mut().zip(a.iter()).for_each(|(o, &x)| *o = x),
            }
            out
        })
    }

    /// Flattens every axis after the first: `[N, …] → [N, prod(…)]`.
    pub fn flatten(self) -> Var<T> {
        let s = self.shape();
        let n = s.first().copied().unwrap_or(1);
        self.reshape(&[n, s.iter().skip(1).product()])
    }

    /// Inserts an axis of length 1 at `axis`.
    pub fn unsqueeze(self, axis: usize) -> Var<T> {
        let mut s = self.shape();
        s.insert(axis, 1);
        self.reshape(&s)
    }

    /// Removes an axis of length 1.
    pub fn squeeze(self, axis: usize) -> Var<T> {
        let mut s = self.shape();
        assert!(
            s.get(axis) == Some(&1),
            "shape error in squeeze: axis {axis} of {s:?} is not of length 1"
        );
        s.remove(axis);
        self.reshape(&s)
    }

    /// Repeats along axes of length 1 (and new leading axes) to reach `shape`.
    pub fn broadcast_to(self, shape: &[usize]) -> Var<T> {
        if self.with_value(|v| v.shape() == shape) {
            return self;
        }
        self.unary(Op::BroadcastTo(self.id), |a| broadcast_to_value(a, shape))
    }

    /// Sums down to `shape` (the adjoint of `broadcast_to`).
    pub fn sum_to_shape(self, shape: &[usize]) -> Var<T> {
        if self.with_value(|v| v.shape() == shape) {
            return self;
        }
        self.unary(Op::SumToShape(self.id), |a| sum_to_shape_value(a, shape))
    }

    /// `len` entries along `axis` starting at `start`.
    pub fn narrow(self, axis: usize, start: usize, len: usize) -> Var<T> {
        let s = self.shape();
        assert!(
            axis < s.len() && start + len <= s[axis],
            "shape error in narrow: axis {axis}, {start}..{} out of range for {s:?}",
            start + len
        );
        if start == 0 && len == s[axis] {
            return self;
        }
        self.unary(Op::Narrow(self.id, axis as u8, start as u32), |a| {
            contiguous(
                a.slice_axis(Axis(axis), Slice::from(start..start + len))
                    .to_owned(),
            )
        })
    }

    /// Places `self` at `start` along `axis` in a zero tensor whose axis has length `total`
    /// (the adjoint of `narrow`).
    pub fn pad_axis(self, axis: usize, start: usize, total: usize) -> Var<T> {
        let s = self.shape();
        assert!(
            axis < s.len() && start + s[axis] <= total,
            "shape error in pad_axis: {s:?} does not fit at {start} in length {total}"
        );
        if start == 0 && total == s[axis] {
            return self;
        }
        self.unary(Op::Pad(self.id, axis as u8, start as u32), |a| {
            let mut shape = a.shape().to_vec();
            shape[axis] = total;
            let mut out = crate::pool::filled(&shape, T::zero());
            out.slice_axis_mut(Axis(axis), Slice::from(start..start + a.shape()[axis]))
                .assign(a);
            out
        })
    }

    /// Joins variables along an existing axis.
    pub fn concat(vars: &[Var<T>], axis: usize) -> Var<T> {
        assert!(!vars.is_empty(), "shape error in concat: no inputs");
        if vars.len() == 1 {
            return vars[0];
        }
        let rec = crate::tape::is_grad_enabled();
        T::with_tape(|s| {
            let first = s.node(vars[0]).value.shape().to_vec();
            let mut total = 0;
            for v in vars {
                let sh = s.node(*v).value.shape();
                let ok = sh.len() == first.len()
                    && axis < sh.len()
                    && sh
                        .iter()
                        .zip(&first)
                        .enumerate()
                        .all(|(i, (a, b))| i == axis || a == b);
                if !ok {
                    panic!(
                        "shape error in concat: {first:?} and {sh:?} do not join along axis {axis}"
                    );
                }
                total += sh[axis];
            }
            let mut shape = first.clone();
            shape[axis] = total;
            let mut out = crate::pool::filled(&shape, T::zero());
            let mut off = 0;
            for v in vars {
                let val = &s.node(*v).value;
                let n = val.shape()[axis];
                out.slice_axis_mut(Axis(axis), Slice::from(off..off + n))
                    .assign(val);
                off += n;
            }
            let rg = rec && vars.iter().any(|v| s.node(*v).requires_grad);
            if rg {
                let (start, n) = s.push_ids(vars.iter().map(|v| v.id));
                s.push(out, Op::Concat(start, n, axis as u8), true)
            } else {
                s.push(out, Op::Const, false)
            }
        })
    }

    /// Joins variables of one shape along a new axis.
    pub fn stack(vars: &[Var<T>], axis: usize) -> Var<T> {
        let parts: Vec<Var<T>> = vars.iter().map(|v| v.unsqueeze(axis)).collect();
        Var::concat(&parts, axis)
    }
}
