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

pub(crate) fn matmul_value<T: Float>(a: &ArrayD<T>, b: &ArrayD<T>) -> ArrayD<T> {
    let (sa, sb) = (a.shape(), b.shape());
    if sa.len() < 2 || sb.len() < 2 {
        super::shape_panic("matmul", sa, sb, "both inputs need rank >= 2");
    }
    let (n, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (k2, m) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    if k != k2 {
        super::shape_panic("matmul", sa, sb, "inner dimensions differ");
    }
    let (da, db) = (contiguous(a), contiguous(b));
    if sb.len() == 2 {
        // [B…, n, k] @ [k, m]: one GEMM over all rows.
        let rows = sa[..sa.len() - 1].iter().product();
        let mut out = vec![T::zero(); rows * m];
        let mut c = match ArrayViewMut2::from_shape((rows, m), &mut out) {
            Ok(c) => c,
            Err(e) => panic!("autodidact internal error: matmul out view: {e}"),
        };
        general_mat_mul(
            T::one(),
            &view2(&da, rows, k),
            &view2(&db, k, m),
            T::zero(),
            &mut c,
        );
        let mut shape = sa.to_vec();
        let last = shape.len() - 1;
        shape[last] = m;
        return from_vec(&shape, out);
    }
    let batch_shape = if sa.len() == 2 || sa[..sa.len() - 2] == sb[..sb.len() - 2] {
        sb[..sb.len() - 2].to_vec()
    } else {
        super::shape_panic("matmul", sa, sb, "batch dimensions differ")
    };
    let batch: usize = batch_shape.iter().product();
    let a_stride = if sa.len() == 2 { 0 } else { n * k };
    let mut out = vec![T::zero(); batch * n * m];
    for (i, chunk) in out.chunks_mut((n * m).max(1)).enumerate().take(batch) {
        let ai = view2(&da[i * a_stride..], n, k);
        let bi = view2(&db[i * k * m..], k, m);
        let mut ci = match ArrayViewMut2::from_shape((n, m), chunk) {
            Ok(c) => c,
            Err(e) => panic!("autodidact internal error: matmul out view: {e}"),
        };
        general_mat_mul(T::one(), &ai, &bi, T::zero(), &mut ci);
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
        self.binary(other, Op::Matmul(self.id, other.id), matmul_value)
    }
}
