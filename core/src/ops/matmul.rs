//! Matrix products: 2-D, batched (`[B…, n, k] @ [B…, k, m]`) and broadcast
//! (`[B…, n, k] @ [k, m]` as one GEMM; `[n, k] @ [B…, k, m]`).

use std::borrow::Cow;

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayD, ArrayView2, ArrayViewMut2};

use super::from_vec;
use crate::float::Float;
use crate::tape::{Op, Var};

fn contiguous<T: Float>(a: &ArrayD<T>) -> Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().copied().collect()),
    }
}

fn view2<T>(s: &[T], rows: usize, cols: usize) -> ArrayView2<'_, T> {
    match ArrayView2::from_shape((rows, cols), &s[..rows * cols]) {
        Ok(v) => v,
        Err(e) => panic!("autodidact internal error: matmul view: {e}"),
    }
}

/// `op(a) @ op(b)` where `op` transposes the last two axes when its flag is set; the GEMM reads
/// transposed operands through strides, so no transpose is ever materialised.
pub(crate) fn matmul_value<T: Float>(
    a: &ArrayD<T>,
    b: &ArrayD<T>,
    ta: bool,
    tb: bool,
) -> ArrayD<T> {
    let (sa, sb) = (a.shape(), b.shape());
    let op = match (ta, tb) {
        (false, false) => "matmul",
        (false, true) => "matmul_nt",
        (true, false) => "matmul_tn",
        (true, true) => "matmul_tt",
    };
    if sa.len() < 2 || sb.len() < 2 {
        super::shape_panic(op, sa, sb, "both inputs need rank >= 2");
    }
    // Stored (rows, cols) of each operand, then the logical shapes after the flags.
    let (ra, ca) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (rb, cb) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    let (n, k) = if ta { (ca, ra) } else { (ra, ca) };
    let (k2, m) = if tb { (cb, rb) } else { (rb, cb) };
    if k != k2 {
        super::shape_panic(op, sa, sb, "inner dimensions differ");
    }
    let (da, db) = (contiguous(a), contiguous(b));
    let mm = |ai: &[T], bi: &[T], out: &mut [T]| {
        let av = view2(ai, ra, ca);
        let bv = view2(bi, rb, cb);
        let mut c = match ArrayViewMut2::from_shape((n, m), out) {
            Ok(c) => c,
            Err(e) => panic!("autodidact internal error: matmul out view: {e}"),
        };
        match (ta, tb) {
            (false, false) => general_mat_mul(T::one(), &av, &bv, T::zero(), &mut c),
            (false, true) => general_mat_mul(T::one(), &av, &bv.t(), T::zero(), &mut c),
            (true, false) => general_mat_mul(T::one(), &av.t(), &bv, T::zero(), &mut c),
            (true, true) => general_mat_mul(T::one(), &av.t(), &bv.t(), T::zero(), &mut c),
        }
    };
    if sb.len() == 2 && !ta {
        // [B…, n, k] @ [k, m]: one GEMM over all rows.
        let rows = sa[..sa.len() - 1].iter().product();
        let mut out = crate::pool::take::<T>(rows * m);
        out.resize(rows * m, T::zero());
        let mut c = match ArrayViewMut2::from_shape((rows, m), &mut out) {
            Ok(c) => c,
            Err(e) => panic!("autodidact internal error: matmul out view: {e}"),
        };
        let bv = view2(&db, rb, cb);
        if tb {
            general_mat_mul(T::one(), &view2(&da, rows, k), &bv.t(), T::zero(), &mut c);
        } else {
            general_mat_mul(T::one(), &view2(&da, rows, k), &bv, T::zero(), &mut c);
        }
        let mut shape = sa.to_vec();
        let last = shape.len() - 1;
        shape[last] = m;
        return from_vec(&shape, out);
    }
    let batch_shape = if sb.len() == 2 {
        sa[..sa.len() - 2].to_vec()
    } else if sa.len() == 2 || sa[..sa.len() - 2] == sb[..sb.len() - 2] {
        sb[..sb.len() - 2].to_vec()
    } else {
        super::shape_panic(op, sa, sb, "batch dimensions differ")
    };
    let batch: usize = batch_shape.iter().product();
    let a_stride = if sa.len() == 2 { 0 } else { ra * ca };
    let b_stride = if sb.len() == 2 { 0 } else { rb * cb };
    let mut out = crate::pool::take::<T>(batch * n * m);
    out.resize(batch * n * m, T::zero());
    if n * m > 0 {
        for (i, chunk) in out.chunks_mut(n * m).enumerate().take(batch) {
            mm(&da[i * a_stride..], &db[i * b_stride..], chunk);
        }
    }
    let mut shape = batch_shape;
    shape.push(n);
    shape.push(m);
    from_vec(&shape, out)
}

impl<T: Float> Var<T> {
    /// Matrix product over the last two axes; leading (batch) axes must match, or one side is
    /// 2-D and is shared by every batch entry.
    pub fn matmul(self, other: Var<T>) -> Var<T> {
        self.matmul_t(other, false, false)
    }

    /// `self @ otherᵀ` (transposing `other`'s last two axes), without materialising the transpose.
    pub fn matmul_nt(self, other: Var<T>) -> Var<T> {
        self.matmul_t(other, false, true)
    }

    /// `selfᵀ @ other`, without materialising the transpose.
    pub fn matmul_tn(self, other: Var<T>) -> Var<T> {
        self.matmul_t(other, true, false)
    }

    /// `op(self) @ op(other)`, each transposed (last two axes) when its flag is set.
    pub fn matmul_t(self, other: Var<T>, ta: bool, tb: bool) -> Var<T> {
        self.binary(other, Op::Matmul(self.id, other.id, ta, tb), |a, b| {
            matmul_value(a, b, ta, tb)
        })
    }
}
