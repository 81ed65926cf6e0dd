//! Broadcasting and its adjoint (summing down to a shape) on contiguous data, without
//! ndarray's dynamic-rank iterators: dimensions are merged into runs that are either copied or
//! repeated (summed), so the inner loops are plain slice loops.

use crate::float::Float;

/// The target's dimensions merged into runs of (length, repeated-in-source).
fn runs(src: &[usize], dst: &[usize]) -> Vec<(usize, bool)> {
    let pad = dst.len() - src.len();
    let mut out: Vec<(usize, bool)> = Vec::with_capacity(dst.len());
    for (d, &n) in dst.iter().enumerate() {
        if n == 1 {
            continue;
        }
        let s = if d < pad { 1 } else { src[d - pad] };
        let rep = s == 1;
        match out.last_mut() {
            Some((len, r)) if *r == rep => *len *= n,
            _ => out.push((n, rep)),
        }
    }
    if out.is_empty() {
        out.push((1, false));
    }
    out
}

/// Whether `src` broadcasts to `dst` (NumPy rules).
pub(crate) fn broadcasts(src: &[usize], dst: &[usize]) -> bool {
    src.len() <= dst.len()
        && src
            .iter()
            .rev()
            .zip(dst.iter().rev())
            .all(|(&s, &d)| s == d || s == 1)
}

/// Writes the broadcast of `src` into `out` from its start; returns the elements written.
fn bcast_rec<T: Float>(runs: &[(usize, bool)], src: &[T], out: &mut [T]) -> usize {
    let (len, rep) = runs[0];
    if runs.len() == 1 {
        if rep {
            out[..len].fill(src[0]);
        } else {
            out[..len].copy_from_slice(&src[..len]);
        }
        return len;
    }
    let inner: usize = runs[1..].iter().filter(|r| !r.1).map(|r| r.0).product();
    let mut at = 0;
    for i in 0..len {
        let off = if rep { 0 } else { i * inner };
        at += bcast_rec(&runs[1..], &src[off..], &mut out[at..]);
    }
    at
}

/// Repeats contiguous `src` of shape `sshape` to `dshape` into `out` (`prod(dshape)` long).
pub(crate) fn broadcast_into<T: Float>(
    src: &[T],
    sshape: &[usize],
    dshape: &[usize],
    out: &mut [T],
) {
    let r = runs(sshape, dshape);
    let written = bcast_rec(&r, src, out);
    debug_assert_eq!(written, out.len());
}

fn reduce_rec<T: Float>(runs: &[(usize, bool)], x: &[T], out: &mut [T]) {
    let (len, rep) = runs[0];
    if runs.len() == 1 {
        if rep {
            let s: T = x[..len].iter().copied().sum();
            out[0] += s;
        } else {
            for (o, &v) in out[..len].iter_mut().zip(&x[..len]) {
                *o += v;
            }
        }
        return;
    }
    let inner_x: usize = runs[1..].iter().map(|r| r.0).product();
    let inner_out: usize = runs[1..].iter().filter(|r| !r.1).map(|r| r.0).product();
    for i in 0..len {
        let o = if rep { 0 } else { i * inner_out };
        reduce_rec(&runs[1..], &x[i * inner_x..], &mut out[o..]);
    }
}

/// Sums contiguous `x` of shape `xshape` down to `shape` (the adjoint of broadcasting) into
/// `out`, which holds `prod(shape)` zeros.
pub(crate) fn reduce_into<T: Float>(x: &[T], xshape: &[usize], shape: &[usize], out: &mut [T]) {
    let r = runs(shape, xshape);
    reduce_rec(&r, x, out);
}
