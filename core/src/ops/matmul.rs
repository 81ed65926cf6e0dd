//! Matrix products: 2-D, batched (`[B…, n, k] @ [B…, k, m]`) and broadcast
//! (`[B…, n, k] @ [k, m]` as one GEMM; `[n, k] @ [B…, k, m]`).

use std::any::TypeId;
use std::borrow::Cow;

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayD, ArrayView2, ArrayViewMut2};

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

/// Which GEMM runs: `gemm` (runtime-dispatched AVX-512/AVX2 kernels) unless the environment
/// variable `AUTODIDACT_MATMUL=ndarray` selects ndarray's `matrixmultiply` (read once; for A/B
/// benchmarks in one binary). Only `f32` and `f64` go to `gemm`; empty products never do.
fn use_gemm<T: Float>(n: usize, k: usize, m: usize) -> bool {
    static NDARRAY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ndarray =
        *NDARRAY.get_or_init(|| std::env::var("AUTODIDACT_MATMUL").is_ok_and(|v| v == "ndarray"));
    let id = TypeId::of::<T>();
    !ndarray && n > 0 && k > 0 && m > 0 && (id == TypeId::of::<f32>() || id == TypeId::of::<f64>())
}

/// `gemm` copies ("packs") the left operand of its column-major product — our right operand,
/// e.g. a layer's weights — into a micro-panel layout when our left operand has more than
/// `threshold · 6` rows; its default threshold (8, so 48 rows) repacked a layer's weights in
/// every product of a 64-row batch, 8 % of an MLP training step. Raised so that batches up to
/// 96 rows read the weights in place (they are contiguous along the kernel's vectors already).
/// Packing is a copy: the multiply-adds and their order are the same either way, so the bits
/// are too. `AUTODIDACT_GEMM_LHS_PACK=N` overrides it (read once; for A/B benchmarks).
const LHS_PACK_THRESHOLD: usize = 16;

/// Sets `gemm`'s packing threshold ([`LHS_PACK_THRESHOLD`]) once per process, before the first
/// product. Single-threaded calls only read it (every call here is `Parallelism::None`).
#[inline]
fn tune_gemm() {
    static TUNED: std::sync::Once = std::sync::Once::new();
    TUNED.call_once(|| {
        let t = std::env::var("AUTODIDACT_GEMM_LHS_PACK")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(LHS_PACK_THRESHOLD);
        gemm::set_lhs_packing_threshold_single_thread(t);
    });
}

/// Rows in each piece of a large product.
const PIECE_ROWS: usize = 64;
/// Multiply-adds from which a product is cut into pieces of rows.
const PIECE_MIN_WORK: usize = 1 << 21;

/// `out := op(a) @ op(b)` as [`gemm_rows`] computes it, a large product cut into pieces of
/// [`PIECE_ROWS`] rows — or, when it has too few rows and enough columns (a batch of 64 through
/// a wide layer), of [`PIECE_ROWS`] columns. The cut depends on the shape alone, so the bits of
/// the result never depend on the thread count; the pieces run on the current worker pool when
/// the caller is one of its threads (a learner's `threads` > 1), else one after another on this
/// thread.
fn gemm_into<T: Float>(
    n: usize,
    k: usize,
    m: usize,
    a: &[T],
    a_rs: usize,
    a_cs: usize,
    b: &[T],
    b_rs: usize,
    b_cs: usize,
    out: &mut [T],
) {
    if n.saturating_mul(k).saturating_mul(m) < PIECE_MIN_WORK {
        gemm_rows(n, k, m, a, a_rs, a_cs, b, b_rs, b_cs, out);
        return;
    }
    if n < 2 * PIECE_ROWS {
        if m >= 2 * PIECE_ROWS {
            gemm_columns(n, k, m, a, a_rs, a_cs, b, b_rs, b_cs, out);
        } else {
            gemm_rows(n, k, m, a, a_rs, a_cs, b, b_rs, b_cs, out);
        }
        return;
    }
    let cut = crate::parallel::chunks(n, PIECE_ROWS);
    // Row `i` of op(a) starts at `i * a_rs`, so a piece's rows are the same strides from there.
    super::pieces::for_each(
        super::pieces::split_rows(&mut out[..n * m], m, &cut),
        |(r, piece)| {
            gemm_rows(
                r.len(),
                k,
                m,
                &a[r.start * a_rs..],
                a_rs,
                a_cs,
                b,
                b_rs,
                b_cs,
                piece,
            );
        },
    );
}

/// [`gemm_into`]'s cut for few rows: pieces of [`PIECE_ROWS`] columns of `op(b)`, each product
/// into a buffer of its own (a piece of `out`'s columns is not contiguous), then copied into
/// place in column order.
fn gemm_columns<T: Float>(
    n: usize,
    k: usize,
    m: usize,
    a: &[T],
    a_rs: usize,
    a_cs: usize,
    b: &[T],
    b_rs: usize,
    b_cs: usize,
    out: &mut [T],
) {
    let pieces = crate::parallel::chunks(m, PIECE_ROWS);
    // Column `j` of op(b) starts at `j * b_cs`, so a piece's columns are the same strides from
    // there.
    let run = |r: &std::ops::Range<usize>| {
        let mut piece = vec![T::zero(); n * r.len()];
        gemm_rows(
            n,
            k,
            r.len(),
            a,
            a_rs,
            a_cs,
            &b[r.start * b_cs..],
            b_rs,
            b_cs,
            &mut piece,
        );
        piece
    };
    let done: Vec<Vec<T>> = super::pieces::map(pieces.clone(), |r| run(&r));
    for (r, piece) in pieces.iter().zip(&done) {
        for (row, src) in out[..n * m].chunks_mut(m).zip(piece.chunks(r.len())) {
            row[r.clone()].copy_from_slice(src);
        }
    }
}

/// `out := op(a) @ op(b)`, with `op(a)` the logical `[n, k]` matrix whose element `(i, p)` is
/// `a[i * a_rs + p * a_cs]`, `op(b)` the logical `[k, m]` matrix with element `(p, j)` at
/// `b[p * b_rs + j * b_cs]`, and `out` row-major `[n, m]` (overwritten, not read). One `gemm`
/// call on this thread.
///
/// Panics (before any unsafe code runs) unless every index the product can touch is in bounds.
#[allow(unsafe_code)]
fn gemm_rows<T: Float>(
    n: usize,
    k: usize,
    m: usize,
    a: &[T],
    a_rs: usize,
    a_cs: usize,
    b: &[T],
    b_rs: usize,
    b_cs: usize,
    out: &mut [T],
) {
    // The bounds the SAFETY argument rests on. All dimensions are >= 1, so the largest index
    // read from `a` is (n-1)*a_rs + (k-1)*a_cs (strides are non-negative), from `b`
    // (k-1)*b_rs + (m-1)*b_cs, and the largest written to `out` is (n-1)*m + (m-1) = n*m - 1.
    // `checked_*` rules out overflow, so every offset also fits in isize (slices are at most
    // isize::MAX bytes long, elements are at least 4 bytes).
    assert!(
        n > 0 && k > 0 && m > 0,
        "autodidact internal error: empty gemm"
    );
    let last = |r: usize, rs: usize, c: usize, cs: usize| {
        (r - 1)
            .checked_mul(rs)
            .and_then(|x| (c - 1).checked_mul(cs).and_then(|y| x.checked_add(y)))
    };
    assert!(
        last(n, a_rs, k, a_cs).is_some_and(|i| i < a.len()),
        "autodidact internal error: gemm lhs out of bounds"
    );
    assert!(
        last(k, b_rs, m, b_cs).is_some_and(|i| i < b.len()),
        "autodidact internal error: gemm rhs out of bounds"
    );
    assert!(
        n.checked_mul(m).is_some_and(|len| len <= out.len()),
        "autodidact internal error: gemm dst out of bounds"
    );
    let id = TypeId::of::<T>();
    assert!(
        id == TypeId::of::<f32>() || id == TypeId::of::<f64>(),
        "autodidact internal error: gemm on {}",
        T::NAME
    );
    // SAFETY: the asserts above prove every element `gemm` addresses is inside its slice:
    // lhs (i, p) at i*a_rs + p*a_cs <= (n-1)*a_rs + (k-1)*a_cs < a.len(); rhs (p, j) at
    // p*b_rs + j*b_cs < b.len(); dst (i, j) at i*m + j < n*m <= out.len(), each offset fitting
    // in isize because it indexes an existing slice. `out` is a unique `&mut` borrow, so dst
    // aliases neither lhs nor rhs (shared borrows), and nothing else touches it during the call.
    // `T` is f32 or f64 (asserted), the types `gemm` dispatches to its real kernels (it checks
    // `TypeId` itself); `conj_*` are no-ops for reals. `read_dst = false` means `out` is only
    // written (`alpha` is ignored), so its previous contents need not be initialised values of
    // any particular kind (they are initialised `T`s anyway). `Parallelism::None` runs on this
    // thread: no data race, deterministic summation order.
    //
    // The call computes the transpose, out^T = op(b)^T @ op(a)^T, because `gemm` works in
    // column-major terms: row-major `out` is column-major `out^T`, so every operand arrives in
    // `gemm`'s native layout and it skips a repacking pass (about 4 % of a small MAML step).
    // Element (i', j') of its dst is out[j' * m + i'] (rows m, cols n), of its lhs
    // op(b)(j, p) = b[p * b_rs + j * b_cs], of its rhs op(a)(i, p) = a[i * a_rs + p * a_cs]:
    // the same elements the bounds above cover.
    tune_gemm();
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            m as isize,
            1,
            false,
            b.as_ptr(),
            b_rs as isize,
            b_cs as isize,
            a.as_ptr(),
            a_rs as isize,
            a_cs as isize,
            T::zero(),
            T::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `out := out + scale · op(a) @ op(b)`, with `op(a)` and `op(b)` strided as in [`gemm_into`]
/// and `out` row-major `[n, m]` with row stride `out_rs >= m` (a block of columns of a wider
/// matrix): for the fused inference kernels, which prefill `out` with a bias (and residual)
/// so the GEMM adds onto it instead of a separate pass. Single thread; `T` is `f32` or `f64`.
///
/// Panics (before any unsafe code runs) unless every index the product can touch is in bounds.
#[allow(unsafe_code)]
pub(crate) fn gemm_acc<T: Float>(
    (n, k, m): (usize, usize, usize),
    (a, a_rs, a_cs): (&[T], usize, usize),
    (b, b_rs, b_cs): (&[T], usize, usize),
    (out, out_rs): (&mut [T], usize),
    scale: T,
) {
    if n == 0 || m == 0 || k == 0 {
        return;
    }
    crate::flops::add(n, k, m);
    let last = |r: usize, rs: usize, c: usize, cs: usize| {
        (r - 1)
            .checked_mul(rs)
            .and_then(|x| (c - 1).checked_mul(cs).and_then(|y| x.checked_add(y)))
    };
    assert!(
        last(n, a_rs, k, a_cs).is_some_and(|i| i < a.len()),
        "autodidact internal error: gemm_acc lhs out of bounds"
    );
    assert!(
        last(k, b_rs, m, b_cs).is_some_and(|i| i < b.len()),
        "autodidact internal error: gemm_acc rhs out of bounds"
    );
    assert!(
        out_rs >= m && last(n, out_rs, m, 1).is_some_and(|i| i < out.len()),
        "autodidact internal error: gemm_acc dst out of bounds"
    );
    let id = TypeId::of::<T>();
    assert!(
        id == TypeId::of::<f32>() || id == TypeId::of::<f64>(),
        "autodidact internal error: gemm on {}",
        T::NAME
    );
    // SAFETY: as in `gemm_into`: the asserts prove every element addressed is inside its
    // slice — lhs (i, p) at i*a_rs + p*a_cs, rhs (p, j) at p*b_rs + j*b_cs, dst (i, j) at
    // i*out_rs + j <= (n-1)*out_rs + m-1 < out.len() — with no overflow (checked). Because
    // out_rs >= m, distinct (i, j) are distinct elements, so the destination never overlaps
    // itself; it is a unique `&mut` borrow, so it aliases neither source. `read_dst = true`
    // reads `out`, which holds initialised `T`s. `T` is f32 or f64 (asserted). The call is the
    // transposed product out^T = op(b)^T op(a)^T in `gemm`'s column-major terms (see
    // `gemm_into`): dst element (j, i) at j*1 + i*out_rs, lhs (j, p) at j*b_cs + p*b_rs, rhs
    // (p, i) at p*a_cs + i*a_rs. gemm's alpha (1) scales the old dst, its beta (`scale`) the
    // product. `Parallelism::None`: this thread, a fixed summation order.
    tune_gemm();
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            out_rs as isize,
            1,
            true,
            b.as_ptr(),
            b_rs as isize,
            b_cs as isize,
            a.as_ptr(),
            a_rs as isize,
            a_cs as isize,
            T::one(),
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `c := alpha · a @ b + beta · c` on 2-D views (BLAS `gemm` semantics; `c` is not read when
/// `beta` is 0), on the same kernels as [`Var::matmul`]: for hand-fused kernels that work
/// outside the tape (the fused Conv4 blocks). Any strides work: views with negative
/// strides, a `c` whose layout is not plainly row- or column-major, and `AUTODIDACT_MATMUL=ndarray`
/// go through ndarray's `general_mat_mul` instead.
///
/// # Panics
/// If the shapes do not chain (`a: [n, k]`, `b: [k, m]`, `c: [n, m]`), naming all three.
pub(crate) fn gemm_views<T: Float>(
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let ((n, k), (k2, m), (cn, cm)) = (a.dim(), b.dim(), c.dim());
    if k != k2 || cn != n || cm != m {
        panic!(
            "shape error in gemm_views: a {:?} @ b {:?} into c {:?}",
            a.shape(),
            b.shape(),
            c.shape()
        );
    }
    if n == 0 || m == 0 {
        return;
    }
    crate::flops::add(n, k, m);
    let non_negative = |s: &[isize]| s.iter().all(|&x| x >= 0);
    let (cs0, cs1) = (c.strides()[0], c.strides()[1]);
    // `c`'s elements are pairwise distinct when one axis is unit-stride and the other steps
    // over a whole line of it (row- or column-major with any leading dimension).
    let distinct =
        (cs1 == 1 && (n == 1 || cs0 >= m as isize)) || (cs0 == 1 && (m == 1 || cs1 >= n as isize));
    if k == 0
        || !use_gemm::<T>(n, k, m)
        || !non_negative(a.strides())
        || !non_negative(b.strides())
        || !distinct
    {
        general_mat_mul(alpha, a, b, beta, c);
        return;
    }
    gemm_views_unchecked(alpha, a, b, beta, c);
}

/// The `gemm` call of [`gemm_views`], once it has checked the shapes chain, every stride is
/// non-negative, `c`'s elements are distinct and `T` is `f32` or `f64`.
#[allow(unsafe_code)]
fn gemm_views_unchecked<T: Float>(
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let ((n, k), m) = (a.dim(), b.dim().1);
    let id = TypeId::of::<T>();
    assert!(
        id == TypeId::of::<f32>() || id == TypeId::of::<f64>(),
        "autodidact internal error: gemm on {}",
        T::NAME
    );
    let (ar, ac) = (a.strides()[0], a.strides()[1]);
    let (br, bc) = (b.strides()[0], b.strides()[1]);
    let (cr, cc) = (c.strides()[0], c.strides()[1]);
    let read_dst = beta != T::zero();
    // SAFETY: an ndarray view guarantees that every index inside its shape addresses an
    // element of its allocation through its pointer and strides, so each (i, p) of `a`, (p, j)
    // of `b` and (i, j) of `c` that `gemm` visits (i < n, p < k, j < m, the views' own shapes)
    // is valid; the caller checked that the strides are non-negative (the form `gemm` reads)
    // and that `c`'s elements are pairwise distinct. `c` is a unique `&mut` borrow and `a`,
    // `b` shared ones, so the destination aliases neither source and nothing else touches it
    // during the call. `T` is f32 or f64 (asserted), which `gemm` dispatches on by `TypeId`;
    // the conjugation flags are no-ops for reals. `gemm` computes
    // dst := alpha_gemm · dst + beta_gemm · lhs · rhs, reading dst only when `read_dst`; so our
    // `beta` goes in its alpha slot and our `alpha` in its beta slot. `Parallelism::None`:
    // this thread only, a fixed summation order. As in `gemm_into`, the call computes the
    // transpose c^T = b^T a^T (rows m, columns n): element (i', j') of its dst is c(j', i'),
    // of its lhs b(p, i'), of its rhs a(j', p) — the same elements, reached with the strides
    // swapped, so row-major operands arrive in `gemm`'s native column-major layout.
    tune_gemm();
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            cr,
            cc,
            read_dst,
            b.as_ptr(),
            br,
            bc,
            a.as_ptr(),
            ar,
            ac,
            beta,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
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
    // Strides (row, column) of the logical `op(a)` [n, k] and `op(b)` [k, m] over their stored
    // row-major [ra, ca] and [rb, cb] buffers: a transpose swaps the two strides.
    let (a_rs, a_cs) = if ta { (1, ca) } else { (ca, 1) };
    let (b_rs, b_cs) = if tb { (1, cb) } else { (cb, 1) };
    let mm = |ai: &[T], bi: &[T], out: &mut [T]| {
        if use_gemm::<T>(n, k, m) {
            gemm_into(n, k, m, ai, a_rs, a_cs, bi, b_rs, b_cs, out);
            return;
        }
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
        crate::flops::add(rows, k, m);
        let mut shape = sa.to_vec();
        let last = shape.len() - 1;
        shape[last] = m;
        let mut result = crate::pool::scratch::<T>(&shape);
        let out = crate::pool::slice_mut(&mut result);
        if use_gemm::<T>(rows, k, m) {
            gemm_into(rows, k, m, &da, k, 1, &db, b_rs, b_cs, out);
            return result;
        }
        // `general_mat_mul` with beta 0 overwrites `c` without reading it.
        let mut c = match ArrayViewMut2::from_shape((rows, m), out) {
            Ok(c) => c,
            Err(e) => panic!("autodidact internal error: matmul out view: {e}"),
        };
        let bv = view2(&db, rb, cb);
        if tb {
            general_mat_mul(T::one(), &view2(&da, rows, k), &bv.t(), T::zero(), &mut c);
        } else {
            general_mat_mul(T::one(), &view2(&da, rows, k), &bv, T::zero(), &mut c);
        }
        return result;
    }
    let batch_shape = if sb.len() == 2 {
        sa[..sa.len() - 2].to_vec()
    } else if sa.len() == 2 || sa[..sa.len() - 2] == sb[..sb.len() - 2] {
        sb[..sb.len() - 2].to_vec()
    } else {
        super::shape_panic(op, sa, sb, "batch dimensions differ")
    };
    let batch: usize = batch_shape.iter().product();
    crate::flops::add(batch * n, k, m);
    let a_stride = if sa.len() == 2 { 0 } else { ra * ca };
    let b_stride = if sb.len() == 2 { 0 } else { rb * cb };
    let mut shape = batch_shape;
    shape.push(n);
    shape.push(m);
    let mut result = crate::pool::scratch::<T>(&shape);
    let out = crate::pool::slice_mut(&mut result);
    if n * m > 0 {
        for (i, chunk) in out.chunks_mut(n * m).enumerate().take(batch) {
            mm(&da[i * a_stride..], &db[i * b_stride..], chunk);
        }
    }
    result
}

impl<T: Float> Var<T> {
    /// `self @ w + b`, a linear layer: one op when `w` is 2-D and `b` is a bias row (`[m]` or
    /// `[1, m]`) — one node instead of two, the bias added in the product's output buffer —
    /// otherwise `self.matmul(w) + b` with broadcasting. Same values and gradients either way.
    pub fn affine(self, w: Var<T>, b: Var<T>) -> Var<T> {
        let rec = crate::tape::is_grad_enabled();
        let fused = T::with_tape(|s| {
            let (x, wn, bn) = (s.node(self), s.node(w), s.node(b));
            let (sx, sw, sb) = (x.value.shape(), wn.value.shape(), bn.value.shape());
            let row = sw.len() == 2 && (sb == [sw[1]] || sb == [1, sw[1]]);
            if !row || sx.len() < 2 || sx[sx.len() - 1] != sw[0] {
                return None;
            }
            let mut value = matmul_value(&x.value, &wn.value, false, false);
            let bias = contiguous(&bn.value);
            if !bias.is_empty() {
                for row in crate::pool::slice_mut(&mut value).chunks_exact_mut(bias.len()) {
                    for (o, &c) in row.iter_mut().zip(bias.iter()) {
                        *o += c;
                    }
                }
            }
            let rg = rec && (x.requires_grad || wn.requires_grad || bn.requires_grad);
            let op = if rg {
                Op::Affine(self.id, w.id, b.id)
            } else {
                Op::Const
            };
            Some(s.push(value, op, rg))
        });
        fused.unwrap_or_else(|| self.matmul(w) + b)
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::IxDyn;

    /// Naive `op(a) @ op(b)` on one 2-D slice pair.
    fn naive<T: Float>(
        a: &[T],
        b: &[T],
        (ra, ca, rb, cb): (usize, usize, usize, usize),
        ta: bool,
        tb: bool,
    ) -> Vec<T> {
        let (n, k) = if ta { (ca, ra) } else { (ra, ca) };
        let m = if tb { rb } else { cb };
        let at = |i: usize, p: usize| if ta { a[p * ca + i] } else { a[i * ca + p] };
        let bt = |p: usize, j: usize| if tb { b[j * cb + p] } else { b[p * cb + j] };
        let mut out = vec![T::zero(); n * m];
        for i in 0..n {
            for j in 0..m {
                let mut s = T::zero();
                for p in 0..k {
                    s += at(i, p) * bt(p, j);
                }
                out[i * m + j] = s;
            }
        }
        out
    }

    fn arr<T: Float>(shape: &[usize], seed: usize) -> ArrayD<T> {
        let len: usize = shape.iter().product();
        let v = (0..len)
            .map(|i| T::of((((i * 7 + seed * 13) % 23) as f64 - 11.0) / 8.0))
            .collect();
        ArrayD::from_shape_vec(IxDyn(shape), v).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every flavour (nn, nt, tn, tt) and layout (2-D, batched, `[B,n,k]@[k,m]`,
    /// `[n,k]@[B,k,m]`) through `gemm` agrees with a naive product (the gradient tests only use
    /// shapes below 5; these also reach the kernels' full tiles and edges).
    fn check<T: Float>(tol: f64) {
        for &(n, k, m) in &[
            (1, 1, 1),
            (3, 1, 5),
            (1, 7, 1),
            (17, 33, 19),
            (64, 40, 9),
            (10, 40, 40),
        ] {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let sa2 = if ta { [k, n] } else { [n, k] };
                let sb2 = if tb { [m, k] } else { [k, m] };
                let bt = 3;
                let cases: [(Vec<usize>, Vec<usize>); 4] = [
                    (sa2.to_vec(), sb2.to_vec()),
                    ([&[bt][..], &sa2].concat(), [&[bt][..], &sb2].concat()),
                    ([&[bt][..], &sa2].concat(), sb2.to_vec()),
                    (sa2.to_vec(), [&[bt][..], &sb2].concat()),
                ];
                for (sa, sb) in cases {
                    let (a, b) = (arr::<T>(&sa, 1), arr::<T>(&sb, 2));
                    let got = matmul_value(&a, &b, ta, tb);
                    let (asl, bsl) = (a.as_slice().unwrap_or(&[]), b.as_slice().unwrap_or(&[]));
                    let dims = (sa2[0], sa2[1], sb2[0], sb2[1]);
                    let batch = if sa.len() == 3 || sb.len() == 3 {
                        bt
                    } else {
                        1
                    };
                    let (ast, bst) = (
                        if sa.len() == 3 { n * k } else { 0 },
                        if sb.len() == 3 { k * m } else { 0 },
                    );
                    let want: Vec<T> = (0..batch)
                        .flat_map(|i| naive(&asl[i * ast..], &bsl[i * bst..], dims, ta, tb))
                        .collect();
                    let g = got.as_slice().unwrap_or(&[]);
                    assert_eq!(g.len(), want.len(), "{sa:?} {sb:?} {ta} {tb}");
                    for (x, y) in g.iter().zip(&want) {
                        assert!(
                            (x.as_f64() - y.as_f64()).abs() <= tol * (1.0 + y.as_f64().abs()),
                            "{} {sa:?} {sb:?} ta {ta} tb {tb}: {x} vs {y}",
                            T::NAME
                        );
                    }
                }
            }
        }
    }

    /// `gemm_views` against a naive product: transposed and strided sources, a destination
    /// with a leading dimension wider than its rows, alpha and beta (beta 0 must not read `c`,
    /// so it starts as NaN there).
    #[test]
    fn gemm_views_matches_blas_semantics() {
        use ndarray::{s, Array2, ShapeBuilder};
        for &(n, k, m) in &[
            (1, 1, 1),
            (3, 5, 2),
            (17, 33, 19),
            (64, 40, 9),
            (0, 3, 2),
            (2, 0, 3),
        ] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                for &(alpha, beta) in &[(1.0, 0.0), (2.0, 1.0), (0.5, -1.5)] {
                    let fill = |r: usize, c: usize, seed: usize| {
                        Array2::from_shape_fn((r, c), |(i, j)| {
                            (((i * 7 + j * 3 + seed * 13) % 23) as f64 - 11.0) / 8.0
                        })
                    };
                    // Stored transposed when the flag is set, then viewed back as [n, k].
                    let a_store = if ta { fill(k, n, 1) } else { fill(n, k, 1) };
                    let b_store = if tb { fill(m, k, 2) } else { fill(k, m, 2) };
                    let a = if ta { a_store.t() } else { a_store.view() };
                    let b = if tb { b_store.t() } else { b_store.view() };
                    let c0 = fill(n, m, 3);
                    // Destination inside a wider buffer (leading dimension m + 3).
                    let mut buf = Array2::<f64>::from_elem((n, m + 3), f64::NAN);
                    if beta != 0.0 {
                        buf.slice_mut(s![.., ..m]).assign(&c0);
                    }
                    gemm_views(alpha, &a, &b, beta, &mut buf.slice_mut(s![.., ..m]));
                    for i in 0..n {
                        for j in 0..m {
                            let dot: f64 = (0..k).map(|p| a[(i, p)] * b[(p, j)]).sum();
                            let want =
                                alpha * dot + if beta != 0.0 { beta * c0[(i, j)] } else { 0.0 };
                            let got = buf[(i, j)];
                            assert!(
                                (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                                "{n}x{k}x{m} ta {ta} tb {tb} a {alpha} b {beta}: {got} vs {want}"
                            );
                        }
                        for j in m..m + 3 {
                            assert!(buf[(i, j)].is_nan(), "wrote outside the view");
                        }
                    }
                    // A column-major destination takes the kernel path too.
                    let mut cf = Array2::<f64>::zeros((n, m).f());
                    gemm_views(1.0, &a, &b, 0.0, &mut cf.view_mut());
                    for i in 0..n {
                        for j in 0..m {
                            let dot: f64 = (0..k).map(|p| a[(i, p)] * b[(p, j)]).sum();
                            assert!((cf[(i, j)] - dot).abs() <= 1e-12 * (1.0 + dot.abs()));
                        }
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "shape error in gemm_views")]
    fn gemm_views_names_mismatched_shapes() {
        let a = ndarray::Array2::<f32>::zeros((2, 3));
        let b = ndarray::Array2::<f32>::zeros((4, 5));
        let mut c = ndarray::Array2::<f32>::zeros((2, 5));
        gemm_views(1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut());
    }

    #[test]
    fn gemm_matches_naive_every_flavour_f64() {
        check::<f64>(1e-12);
    }

    #[test]
    fn gemm_matches_naive_every_flavour_f32() {
        check::<f32>(1e-4);
    }

    #[test]
    fn a_product_cut_into_pieces_has_the_same_bits_on_any_thread_count() {
        // 300 rows x 128 x 96: above the cut, five pieces of 60 rows; 64 rows x 784 x 200:
        // too few rows, four pieces of 50 columns; every flavour.
        for (n, k, m) in [(300, 128, 96), (64, 784, 200)] {
            assert!(n * k * m >= PIECE_MIN_WORK);
            assert!(n >= 2 * PIECE_ROWS || m >= 2 * PIECE_ROWS);
            pieces_match(n, k, m);
        }
    }

    fn pieces_match(n: usize, k: usize, m: usize) {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let (sa, sb) = (
                if ta { [k, n] } else { [n, k] },
                if tb { [m, k] } else { [k, m] },
            );
            let (a, b) = (arr::<f32>(&sa, 3), arr::<f32>(&sb, 4));
            let here = matmul_value(&a, &b, ta, tb);
            let pool = crate::parallel::pool(2).unwrap_or_else(|e| panic!("{e}"));
            let there = pool.install(|| matmul_value(&a, &b, ta, tb));
            let bits = |x: &ArrayD<f32>| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&here), bits(&there), "ta {ta} tb {tb}");
            // And it is the product: against f64 sums.
            let (a64, b64) = (a.mapv(f64::from), b.mapv(f64::from));
            let exact = matmul_value(&a64, &b64, ta, tb);
            let worst = here
                .iter()
                .zip(exact.iter())
                .map(|(x, y)| (f64::from(*x) - y).abs())
                .fold(0.0, f64::max);
            // f32 rounding grows with the length of the sums.
            let tolerance = 1e-3 * k as f64 / 128.0;
            assert!(worst < tolerance, "ta {ta} tb {tb}: {worst}");
        }
    }
}
