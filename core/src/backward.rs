//! Every primitive's vector-Jacobian product, written with the same differentiable ops as the
//! forward pass, so that a gradient can be recorded and differentiated again.
//!
//! `vjp(op, out, g, emit)` receives the node's op, its output variable and the gradient flowing
//! into it, and calls `emit(input_id, gradient)` once per input.

use ndarray::{ArrayD, Dimension, IxDyn};

use crate::float::Float;
use crate::ops::reduce::keepdim_shape;
use crate::tape::{Id, Op, Var};

fn var<T: Float>(id: Id) -> Var<T> {
    T::with_tape(|s| s.var(id))
}

/// The shape of node `id` (held inline up to rank 4: no allocation).
fn shape_of<T: Float>(id: Id) -> IxDyn {
    T::with_tape(|s| s.nodes[id as usize].value.raw_dim())
}

fn indices<T: Float>(start: u32, n: usize) -> Vec<usize> {
    T::with_tape(|s| s.indices[start as usize..start as usize + n].to_vec())
}

/// A constant computed from an input's value (masks, signs).
fn const_from<T: Float>(id: Id, f: impl FnOnce(&ArrayD<T>) -> ArrayD<T>) -> Var<T> {
    let value = T::with_tape(|s| f(&s.nodes[id as usize].value));
    Var::constant(value)
}

pub(crate) fn vjp<T: Float>(op: Op, out: Var<T>, g: Var<T>, emit: &mut dyn FnMut(Id, Var<T>)) {
    use Op::*;
    match op {
        Leaf | Const => {}
        Add(a, b) => {
            if var::<T>(a).requires_grad() {
                emit(a, g.sum_to_shape(shape_of::<T>(a).slice()));
            }
            if var::<T>(b).requires_grad() {
                emit(b, g.sum_to_shape(shape_of::<T>(b).slice()));
            }
        }
        Sub(a, b) => {
            if var::<T>(a).requires_grad() {
                emit(a, g.sum_to_shape(shape_of::<T>(a).slice()));
            }
            // A constant target (a loss's `pred − target`) needs no negated gradient.
            if var::<T>(b).requires_grad() {
                emit(b, (-g).sum_to_shape(shape_of::<T>(b).slice()));
            }
        }
        Mul(a, b) => {
            let (va, vb) = (var::<T>(a), var::<T>(b));
            if va.requires_grad() {
                emit(a, (g * vb).sum_to_shape(shape_of::<T>(a).slice()));
            }
            if vb.requires_grad() {
                emit(b, (g * va).sum_to_shape(shape_of::<T>(b).slice()));
            }
        }
        Div(a, b) => {
            let vb = var::<T>(b);
            let ga = g / vb;
            emit(a, ga.sum_to_shape(shape_of::<T>(a).slice()));
            if vb.requires_grad() {
                // d(a/b)/db = −(a/b)/b
                emit(b, (-(ga * out)).sum_to_shape(shape_of::<T>(b).slice()));
            }
        }
        Neg(a) => emit(a, -g),
        AddScalar(a) => emit(a, g),
        MulScalar(a, c) => emit(a, g * c),
        PowScalar(a, p) => {
            let x = var::<T>(a);
            let d = if p == 2.0 {
                x * 2.0
            } else if p == 1.0 {
                Var::scalar(1.0)
            } else {
                x.powf(p - 1.0) * p
            };
            emit(a, g * d)
        }
        Exp(a) => emit(a, g * out),
        Log(a) => emit(a, g / var::<T>(a)),
        Sqrt(a) => emit(a, g / out * 0.5),
        Abs(a) => {
            let sign = const_from::<T>(a, |v| {
                crate::pool::map_array(v, |x| {
                    if x > T::zero() {
                        T::one()
                    } else if x < T::zero() {
                        -T::one()
                    } else {
                        T::zero()
                    }
                })
            });
            emit(a, g * sign)
        }
        Sin(a) => emit(a, g * var::<T>(a).cos()),
        Cos(a) => emit(a, -(g * var::<T>(a).sin())),
        Tanh(a) => emit(a, g * (1.0 - out.square())),
        Sigmoid(a) => emit(a, g * out * (1.0 - out)),
        Relu(a) => emit(a, g.relu_mask(var::<T>(a))),
        // Linear in `g`; its derivative in `a` is zero wherever it exists.
        ReluMask(gid, a) => emit(gid, g.relu_mask(var::<T>(a))),
        LeakyRelu(a, slope) => {
            let s = T::of(slope);
            let d = const_from::<T>(a, |v| {
                crate::pool::map_array(v, |x| if x > T::zero() { T::one() } else { s })
            });
            emit(a, g * d)
        }
        Softplus(a) => emit(a, g * var::<T>(a).sigmoid()),
        // d erf(x)/dx = 2/√π · e^(−x²), in differentiable ops (so every order follows).
        Erf(a) => {
            let x = var::<T>(a);
            emit(
                a,
                g * (-x.square()).exp() * std::f64::consts::FRAC_2_SQRT_PI,
            )
        }
        Matmul(a, b, ta, tb) => {
            // C = op(A) op(B). Each gradient is again a product with transpose flags:
            //   nn: dA = G Bᵀ,   dB = Aᵀ G
            //   nt: dA = G B,    dB = Gᵀ A
            //   tn: dA = B Gᵀ,   dB = A G
            //   tt: dA = Bᵀ Gᵀ,  dB = Gᵀ Aᵀ
            let (va, vb) = (var::<T>(a), var::<T>(b));
            let (da, db) = (shape_of::<T>(a), shape_of::<T>(b));
            let (sa, sb) = (da.slice(), db.slice());
            if va.requires_grad() {
                let ga = match (ta, tb) {
                    (false, false) => g.matmul_t(vb, false, true),
                    (false, true) => g.matmul_t(vb, false, false),
                    (true, false) => vb.matmul_t(g, false, true),
                    (true, true) => vb.matmul_t(g, true, true),
                };
                emit(a, ga.sum_to_shape(sa));
            }
            if vb.requires_grad() {
                let gb = if sa.len() > 2 && sb.len() == 2 && !ta {
                    shared_rhs_grad(va, g, tb)
                } else {
                    let gb = match (ta, tb) {
                        (false, false) => va.matmul_t(g, true, false),
                        (false, true) => g.matmul_t(va, true, false),
                        (true, false) => va.matmul_t(g, false, false),
                        (true, true) => g.matmul_t(va, true, true),
                    };
                    gb.sum_to_shape(sb)
                };
                emit(b, gb);
            }
        }
        Mse(a, b) => {
            // d/da mean((a − b)²) = 2(a − b)/n; the negative for b.
            let (va, vb) = (var::<T>(a), var::<T>(b));
            let n = shape_of::<T>(a).size().max(1);
            let ga = (va - vb) * (g * (2.0 / n as f64));
            if va.requires_grad() {
                emit(a, ga);
            }
            if vb.requires_grad() {
                emit(b, -ga);
            }
        }
        Affine(x, w, b) => {
            // y = x w + b: the matmul's rules for x and w, and b's gradient summed over rows.
            let (vx, vw, vb) = (var::<T>(x), var::<T>(w), var::<T>(b));
            if vx.requires_grad() {
                emit(x, g.matmul_t(vw, false, true));
            }
            if vw.requires_grad() {
                emit(w, shared_rhs_grad(vx, g, false));
            }
            if vb.requires_grad() {
                emit(b, g.sum_to_shape(shape_of::<T>(b).slice()));
            }
        }
        Permute(a, perm) => emit(a, g.permute(&perm.inverse().as_vec())),
        Reshape(a) => emit(a, g.reshape(shape_of::<T>(a).slice())),
        BroadcastTo(a) => emit(a, g.sum_to_shape(shape_of::<T>(a).slice())),
        SumToShape(a) => emit(a, g.broadcast_to(shape_of::<T>(a).slice())),
        Sum(a, mask, keepdim) => {
            let da = shape_of::<T>(a);
            let sa = da.slice();
            let gk = if keepdim {
                g
            } else {
                g.reshape(&keepdim_shape(sa, mask))
            };
            emit(a, gk.broadcast_to(sa))
        }
        MaxAxis(a, axis, keepdim, is_min) => {
            let axis = axis as usize;
            let da = shape_of::<T>(a);
            let sa = da.slice();
            // One-hot of the first extremal entry along the axis: a constant.
            let mask = const_from::<T>(a, |v| extremum_mask(v, axis, is_min));
            let gk = if keepdim { g } else { g.unsqueeze(axis) };
            emit(a, gk.broadcast_to(sa) * mask)
        }
        Narrow(a, axis, start) => {
            let total = shape_of::<T>(a)[axis as usize];
            emit(a, g.pad_axis(axis as usize, start as usize, total))
        }
        Pad(a, axis, start) => {
            let len = shape_of::<T>(a)[axis as usize];
            emit(a, g.narrow(axis as usize, start as usize, len))
        }
        Concat(start, n, axis) => {
            let ids: Vec<Id> =
                T::with_tape(|s| s.ids[start as usize..(start + n) as usize].to_vec());
            let mut off = 0;
            for id in ids {
                let len = shape_of::<T>(id)[axis as usize];
                emit(id, g.narrow(axis as usize, off, len));
                off += len;
            }
        }
        IndexSelect(a, start, n) => {
            let idx = indices::<T>(start, n as usize);
            let rows = shape_of::<T>(a)[0];
            emit(a, g.index_add(&idx, rows))
        }
        IndexAdd(a, start, n) => {
            let idx = indices::<T>(start, n as usize);
            emit(a, g.index_select(&idx))
        }
        Gather(a, start) => {
            let da = shape_of::<T>(a);
            let sa = da.slice();
            let idx = indices::<T>(start, sa[0]);
            emit(a, g.scatter(&idx, sa[1]))
        }
        Scatter(a, start) => {
            let n = shape_of::<T>(a)[0];
            let idx = indices::<T>(start, n);
            emit(a, g.gather(&idx))
        }
        Where(m, a, b) => {
            let mask = var::<T>(m);
            let (va, vb) = (var::<T>(a), var::<T>(b));
            let zero = Var::scalar(0.0);
            if va.requires_grad() {
                emit(
                    a,
                    Var::where_var(mask, g, zero).sum_to_shape(shape_of::<T>(a).slice()),
                );
            }
            if vb.requires_grad() {
                emit(
                    b,
                    Var::where_var(mask, zero, g).sum_to_shape(shape_of::<T>(b).slice()),
                );
            }
        }
        Unfold(a, geom) => emit(a, g.fold(geom)),
        Fold(a, geom) => emit(a, g.unfold(geom)),
        Custom(..) => unreachable!("custom ops are dispatched by grad"),
    }
}

/// The gradient of a 2-D right operand shared by every row of `a @ op(b)` (`a` of any rank,
/// `g` the output's gradient): `aᵀ g`, or `gᵀ a` when `b` is used transposed, with the
/// batch axes of `a` and `g` folded into their rows so that it is one GEMM.
fn shared_rhs_grad<T: Float>(a: Var<T>, g: Var<T>, transposed: bool) -> Var<T> {
    let (a2, g2) = if a.ndim() > 2 {
        let (sa, sg) = (shape_of::<T>(a.id), shape_of::<T>(g.id));
        (
            a.reshape(&[usize::MAX, sa[sa.ndim() - 1]]),
            g.reshape(&[usize::MAX, sg[sg.ndim() - 1]]),
        )
    } else {
        (a, g)
    };
    if transposed {
        g2.matmul_t(a2, true, false)
    } else {
        a2.matmul_t(g2, true, false)
    }
}

/// One-hot (per lane along `axis`) of the first maximal (or minimal) entry.
fn extremum_mask<T: Float>(v: &ArrayD<T>, axis: usize, is_min: bool) -> ArrayD<T> {
    if let Some(src) = v.as_slice() {
        // Contiguous: view as [outer, len, inner]; a lane is `len` entries `inner` apart.
        let shape = v.shape();
        let len = shape[axis];
        let inner: usize = shape[axis + 1..].iter().product();
        let mut out = crate::pool::take::<T>(src.len());
        out.resize(src.len(), T::zero());
        if len > 0 && inner > 0 {
            let better = |x: T, y: T| if is_min { x < y } else { x > y };
            for (block, dst) in src
                .chunks_exact(len * inner)
                .zip(out.chunks_exact_mut(len * inner))
            {
                if inner == 1 {
                    let mut best = 0;
                    for (i, &x) in block.iter().enumerate().skip(1) {
                        if better(x, block[best]) {
                            best = i;
                        }
                    }
                    dst[best] = T::one();
                    continue;
                }
                // Track the best row per inner position, scanning rows in order (first wins).
                let mut best = vec![0usize; inner];
                for i in 1..len {
                    let row = &block[i * inner..(i + 1) * inner];
                    for (k, (&x, b)) in row.iter().zip(best.iter_mut()).enumerate() {
                        if better(x, block[*b * inner + k]) {
                            *b = i;
                        }
                    }
                }
                for (k, &b) in best.iter().enumerate() {
                    dst[b * inner + k] = T::one();
                }
            }
        }
        return crate::ops::from_vec(shape, out);
    }
    let idx = if is_min {
        crate::ops::index::argmax(&crate::pool::map_array(v, |x| -x), axis)
    } else {
        crate::ops::index::argmax(v, axis)
    };
    let mut m = ArrayD::zeros(v.raw_dim());
    for (pos, &k) in idx.indexed_iter() {
        let mut full: Vec<usize> = ndarray::Dimension::slice(&pos).to_vec();
        full.insert(axis, k);
        m[full.as_slice()] = T::one();
    }
    m
}
