//! The tape: an append-only arena of nodes, variables as copyable handles into it, and `grad`.
//!
//! Each thread has one tape per element type. A [`Tape`] guard opens a scope on it; every
//! variable created while the guard lives is a node in the arena, and dropping the guard
//! truncates the arena back (its capacity is kept, so the next step reuses it). Node ids are
//! already in topological order, so backward is one reverse loop.
//!
//! Every backward rule (see `backward.rs`) is written with the same differentiable ops as the
//! forward pass. With [`CreateGraph::Yes`] the gradient computation is recorded like any other
//! and can be differentiated again, to any order; with [`CreateGraph::No`] recording is off and
//! the gradients are plain values.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;

use ndarray::ArrayD;

use crate::float::Float;
use crate::Tensor;

/// Index of a node in the arena.
pub(crate) type Id = u32;

/// A permutation of up to eight axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Perm {
    pub(crate) axes: [u8; 8],
    pub(crate) len: u8,
}

impl Perm {
    pub(crate) fn as_vec(&self) -> Vec<usize> {
        self.axes[..self.len as usize]
            .iter()
            .map(|&a| a as usize)
            .collect()
    }
    pub(crate) fn inverse(&self) -> Perm {
        let mut inv = [0u8; 8];
        for (i, &a) in self.axes[..self.len as usize].iter().enumerate() {
            inv[a as usize] = i as u8;
        }
        Perm {
            axes: inv,
            len: self.len,
        }
    }
}

/// Geometry of an `unfold` (im2col) / `fold` (col2im) pair on `[N, C, H, W]` inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    /// Input channels.
    pub channels: usize,
    /// Input height (before padding).
    pub height: usize,
    /// Input width (before padding).
    pub width: usize,
    /// Kernel height and width.
    pub kernel: (usize, usize),
    /// Stride along height and width.
    pub stride: (usize, usize),
    /// Zero padding along height and width.
    pub padding: (usize, usize),
}

impl ConvGeom {
    /// Output height and width.
    pub fn out_hw(&self) -> (usize, usize) {
        let ho = (self.height + 2 * self.padding.0 - self.kernel.0) / self.stride.0 + 1;
        let wo = (self.width + 2 * self.padding.1 - self.kernel.1) / self.stride.1 + 1;
        (ho, wo)
    }
    /// Length of one unfolded patch: `C * kh * kw`.
    pub fn patch_len(&self) -> usize {
        self.channels * self.kernel.0 * self.kernel.1
    }
}

/// What produced a node, with what its backward rule needs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    Leaf,
    Const,
    Add(Id, Id),
    Sub(Id, Id),
    Mul(Id, Id),
    Div(Id, Id),
    Neg(Id),
    AddScalar(Id),
    MulScalar(Id, f64),
    PowScalar(Id, f64),
    Exp(Id),
    Log(Id),
    Sqrt(Id),
    Abs(Id),
    Sin(Id),
    Cos(Id),
    Tanh(Id),
    Sigmoid(Id),
    Relu(Id),
    LeakyRelu(Id, f64),
    Softplus(Id),
    Erf(Id),
    /// `op(a) @ op(b)`, with transpose flags for each side.
    Matmul(Id, Id, bool, bool),
    /// `x @ w + b`: a 2-D `w` and a bias row `b` (`[m]` or `[1, m]`) added to every row.
    Affine(Id, Id, Id),
    /// `g` where `a > 0`, else 0: ReLU's backward as one op (`a` is not differentiated).
    ReluMask(Id, Id),
    /// `mean((a − b)²)` over two tensors of one shape.
    Mse(Id, Id),
    Permute(Id, Perm),
    Reshape(Id),
    BroadcastTo(Id),
    SumToShape(Id),
    /// Sum over the axes in the bit mask; keepdim.
    Sum(Id, u8, bool),
    /// Max (or min when the flag is set) over one axis; keepdim.
    MaxAxis(Id, u8, bool, bool),
    /// Narrow along an axis from a start.
    Narrow(Id, u8, u32),
    /// Zero-pad along an axis: the input lands at `start` in a longer axis.
    Pad(Id, u8, u32),
    /// Concatenate `n` inputs listed in the id side table from `start`, along an axis.
    Concat(u32, u32, u8),
    /// Rows picked by `n` indices from the index side table at `start`.
    IndexSelect(Id, u32, u32),
    /// Rows added into a zero tensor at `n` indices from the side table at `start`.
    IndexAdd(Id, u32, u32),
    /// One element per row picked by an index (side table at `start`).
    Gather(Id, u32),
    /// One element per row placed into a zero row at an index (side table at `start`).
    Scatter(Id, u32),
    /// `mask * a + (1 - mask) * b`, the mask a constant node of zeros and ones.
    Where(Id, Id, Id),
    Unfold(Id, ConvGeom),
    Fold(Id, ConvGeom),
    /// A user-defined op: inputs in the id side table (`start`, `n`), rule in the custom table.
    Custom(u32, u32, u32),
}

impl Op {
    /// Calls `f` for every input id of the op.
    fn for_each_input(&self, ids: &[Id], mut f: impl FnMut(Id)) {
        use Op::*;
        match *self {
            Leaf | Const => {}
            Add(a, b) | Sub(a, b) | Mul(a, b) | Div(a, b) | Matmul(a, b, _, _) | Mse(a, b) => {
                f(a);
                f(b)
            }
            Where(_, a, b) => {
                f(a);
                f(b)
            }
            Affine(x, w, b) => {
                f(x);
                f(w);
                f(b)
            }
            ReluMask(g, _) => f(g),
            Neg(a)
            | AddScalar(a)
            | MulScalar(a, _)
            | PowScalar(a, _)
            | Exp(a)
            | Log(a)
            | Sqrt(a)
            | Abs(a)
            | Sin(a)
            | Cos(a)
            | Tanh(a)
            | Sigmoid(a)
            | Relu(a)
            | LeakyRelu(a, _)
            | Softplus(a)
            | Erf(a)
            | Permute(a, _)
            | Reshape(a)
            | BroadcastTo(a)
            | SumToShape(a)
            | Sum(a, _, _)
            | MaxAxis(a, _, _, _)
            | Narrow(a, _, _)
            | Pad(a, _, _)
            | IndexSelect(a, _, _)
            | IndexAdd(a, _, _)
            | Gather(a, _)
            | Scatter(a, _)
            | Unfold(a, _)
            | Fold(a, _) => f(a),
            Concat(start, n, _) | Custom(start, n, _) => {
                for &id in &ids[start as usize..(start + n) as usize] {
                    f(id)
                }
            }
        }
    }
}

pub(crate) struct Node<T> {
    pub(crate) value: ArrayD<T>,
    pub(crate) op: Op,
    pub(crate) requires_grad: bool,
    epoch: u32,
}

/// A user-defined differentiable op (see [`Var::custom`]).
///
/// `backward` must be written with `Var` ops, so that the op can be differentiated to any order.
pub trait CustomOp<T: Float> {
    /// The op's name, for messages and gradient-check reports.
    fn name(&self) -> &str;
    /// Computes the output value from the input values.
    fn forward(&self, inputs: &[&ArrayD<T>]) -> ArrayD<T>;
    /// Returns one gradient per input, given the inputs, the output and the output's gradient.
    fn backward(&self, inputs: &[Var<T>], output: Var<T>, grad: Var<T>) -> Vec<Var<T>>;
}

/// The per-thread arena behind [`Tape`]. Not used directly.
#[doc(hidden)]
pub struct TapeState<T: 'static> {
    pub(crate) nodes: Vec<Node<T>>,
    pub(crate) ids: Vec<Id>,
    pub(crate) indices: Vec<usize>,
    customs: Vec<Rc<dyn CustomOp<T>>>,
    epoch: u32,
    open: u32,
}

impl<T: Float> TapeState<T> {
    pub(crate) fn new() -> Self {
        TapeState {
            nodes: Vec::new(),
            ids: Vec::new(),
            indices: Vec::new(),
            customs: Vec::new(),
            epoch: 0,
            open: 0,
        }
    }

    #[inline]
    pub(crate) fn node(&self, v: Var<T>) -> &Node<T> {
        match self.nodes.get(v.id as usize) {
            Some(n) if n.epoch == v.epoch => n,
            _ => panic!(
                "autodidact: variable #{} belongs to a tape that was dropped; \
                 variables live only as long as the Tape that made them",
                v.id
            ),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, value: ArrayD<T>, op: Op, requires_grad: bool) -> Var<T> {
        assert!(
            self.open > 0,
            "autodidact: no Tape is open on this thread; open one with Tape::<{}>::new()",
            T::NAME
        );
        let id = self.nodes.len() as Id;
        self.nodes.push(Node {
            value,
            op,
            requires_grad,
            epoch: self.epoch,
        });
        Var {
            id,
            epoch: self.epoch,
            _t: PhantomData,
        }
    }

    /// A handle to node `id` (which must exist).
    #[inline]
    pub(crate) fn var(&self, id: Id) -> Var<T> {
        Var {
            id,
            epoch: self.nodes[id as usize].epoch,
            _t: PhantomData,
        }
    }

    pub(crate) fn push_ids(&mut self, ids: impl IntoIterator<Item = Id>) -> (u32, u32) {
        let start = self.ids.len();
        self.ids.extend(ids);
        (start as u32, (self.ids.len() - start) as u32)
    }

    pub(crate) fn push_indices(&mut self, idx: &[usize]) -> u32 {
        let start = self.indices.len();
        self.indices.extend_from_slice(idx);
        start as u32
    }
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops are being recorded for differentiation on this thread.
#[inline]
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Restores the recording flag when dropped (also on panic).
struct GradModeGuard(bool);
impl Drop for GradModeGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.0));
    }
}

fn set_grad_enabled(on: bool) -> GradModeGuard {
    GradModeGuard(GRAD_ENABLED.with(|g| g.replace(on)))
}

/// Runs `f` with recording off: every op inside yields a constant (evaluation, action
/// selection, target networks).
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = set_grad_enabled(false);
    f()
}

/// Whether `grad` records the gradient computation so it can be differentiated again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateGraph {
    /// Record: the gradients are differentiable variables (second-order MAML, Hessians).
    Yes,
    /// Do not record: the gradients are constants (plain training).
    No,
}

/// A scope on this thread's tape for element type `T`.
///
/// Variables made while it lives are valid until it drops; dropping it frees their nodes and
/// keeps the arena's capacity for the next step. Scopes may nest.
pub struct Tape<T: Float> {
    marks: (usize, usize, usize, usize),
    _t: PhantomData<*const T>,
}

impl<T: Float> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Tape<T> {
    /// Opens a tape scope on this thread.
    pub fn new() -> Self {
        let marks = T::with_tape(|s| {
            s.open += 1;
            s.epoch = s.epoch.wrapping_add(1);
            (s.nodes.len(), s.ids.len(), s.indices.len(), s.customs.len())
        });
        Tape {
            marks,
            _t: PhantomData,
        }
    }

    /// A leaf that needs a gradient (a parameter).
    pub fn param(&self, value: &Tensor<T>) -> Var<T> {
        Var::leaf(crate::pool::map_array(value, |x| x))
    }

    /// Leaves for every tensor of a parameter store, in the store's order.
    pub fn params(&self, params: &crate::Params<T>) -> Vec<Var<T>> {
        params.tensors().iter().map(|t| self.param(t)).collect()
    }

    /// A constant (no gradient flows into it).
    pub fn constant(&self, value: Tensor<T>) -> Var<T> {
        Var::constant(value)
    }

    /// A constant copied from data that outlives the step (a batch, a task's inputs) into a
    /// buffer from the array pool: unlike `constant(value.clone())` it allocates nothing once
    /// the pool is warm, which matters for small steps and for inputs above the allocator's
    /// `mmap` threshold (a fresh mapping, page faults and an unmap on every step).
    pub fn constant_from(&self, value: &Tensor<T>) -> Var<T> {
        Var::constant_from(value)
    }

    /// A scalar constant.
    pub fn scalar(&self, x: f64) -> Var<T> {
        Var::scalar(x)
    }

    /// Gradients of `output` (summed, if not a scalar) with respect to `inputs`.
    pub fn grad(&self, output: &Var<T>, inputs: &[Var<T>], create: CreateGraph) -> Vec<Var<T>> {
        grad(&[*output], inputs, create)
    }

    /// Number of nodes currently on this thread's tape (for tests of memory reuse).
    pub fn len(&self) -> usize {
        T::with_tape(|s| s.nodes.len())
    }

    /// Whether the tape holds no node.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Float> Drop for Tape<T> {
    fn drop(&mut self) {
        let (n, i, x, c) = self.marks;
        T::with_tape(|s| {
            for node in s.nodes.drain(n.min(s.nodes.len())..) {
                crate::pool::recycle(node.value);
            }
            s.ids.truncate(i);
            s.indices.truncate(x);
            s.customs.truncate(c);
            s.open -= 1;
            s.epoch = s.epoch.wrapping_add(1);
        });
    }
}

/// A variable: a copyable handle to a node on this thread's tape.
#[derive(Clone, Copy)]
pub struct Var<T: Float> {
    pub(crate) id: Id,
    epoch: u32,
    _t: PhantomData<*const T>,
}

impl<T: Float> fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Var#{}{:?}", self.id, self.shape())
    }
}

impl<T: Float> Var<T> {
    /// A leaf variable that needs a gradient.
    pub fn leaf(value: Tensor<T>) -> Var<T> {
        T::with_tape(|s| s.push(value, Op::Leaf, true))
    }

    /// A constant variable.
    pub fn constant(value: Tensor<T>) -> Var<T> {
        T::with_tape(|s| s.push(value, Op::Const, false))
    }

    /// A constant copied from borrowed data into a buffer from the array pool: the same as
    /// `Var::constant(value.clone())` without an allocation once the pool is warm.
    pub fn constant_from(value: &Tensor<T>) -> Var<T> {
        Var::constant(crate::pool::map_array(value, |x| x))
    }

    /// A scalar (rank-0) constant.
    pub fn scalar(x: f64) -> Var<T> {
        Var::constant(crate::pool::filled(&[], T::of(x)))
    }

    /// A constant of zeros.
    pub fn zeros(shape: &[usize]) -> Var<T> {
        Var::constant(crate::pool::filled(shape, T::zero()))
    }

    /// A constant of ones.
    pub fn ones(shape: &[usize]) -> Var<T> {
        Var::constant(crate::pool::filled(shape, T::one()))
    }

    /// The node's id on the tape (its position, hence its topological rank).
    pub fn id(&self) -> usize {
        self.id as usize
    }

    /// The shape of the value.
    pub fn shape(&self) -> Vec<usize> {
        T::with_tape(|s| s.node(*self).value.shape().to_vec())
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        T::with_tape(|s| s.node(*self).value.ndim())
    }

    /// A copy of the value.
    pub fn value(&self) -> Tensor<T> {
        T::with_tape(|s| s.node(*self).value.clone())
    }

    /// Runs `f` on the value without copying it.
    pub fn with_value<R>(&self, f: impl FnOnce(&Tensor<T>) -> R) -> R {
        T::with_tape(|s| f(&s.node(*self).value))
    }

    /// The single element of a one-element value, as `f64`.
    ///
    /// # Panics
    /// If the value has more than one element.
    pub fn item(&self) -> f64 {
        self.with_value(|v| {
            assert!(
                v.len() == 1,
                "autodidact: item() needs a one-element value, got shape {:?}",
                v.shape()
            );
            v.iter().next().map(|x| x.as_f64()).unwrap_or(f64::NAN)
        })
    }

    /// Whether gradients flow into this variable.
    pub fn requires_grad(&self) -> bool {
        T::with_tape(|s| s.node(*self).requires_grad)
    }

    /// The same value, cut from the graph: no gradient flows through it.
    pub fn detach(&self) -> Var<T> {
        T::with_tape(|s| {
            let v = s.node(*self).value.clone();
            s.push(v, Op::Const, false)
        })
    }

    /// Applies a user-defined op to `inputs` (see [`CustomOp`]).
    pub fn custom(op: Rc<dyn CustomOp<T>>, inputs: &[Var<T>]) -> Var<T> {
        let rec = is_grad_enabled();
        T::with_tape(|s| {
            let values: Vec<&ArrayD<T>> = inputs.iter().map(|v| &s.node(*v).value).collect();
            let out = op.forward(&values);
            let rg = rec && inputs.iter().any(|v| s.node(*v).requires_grad);
            if rg {
                let (start, n) = s.push_ids(inputs.iter().map(|v| v.id));
                let k = s.customs.len() as u32;
                s.customs.push(op);
                s.push(out, Op::Custom(start, n, k), true)
            } else {
                s.push(out, Op::Const, false)
            }
        })
    }

    /// Records a unary op: `f` computes the value from the input's value.
    #[inline]
    pub(crate) fn unary(self, op: Op, f: impl FnOnce(&ArrayD<T>) -> ArrayD<T>) -> Var<T> {
        let rec = is_grad_enabled();
        T::with_tape(|s| {
            let n = s.node(self);
            let value = f(&n.value);
            let rg = rec && n.requires_grad;
            s.push(value, if rg { op } else { Op::Const }, rg)
        })
    }

    /// Records a binary op.
    #[inline]
    pub(crate) fn binary(
        self,
        other: Var<T>,
        op: Op,
        f: impl FnOnce(&ArrayD<T>, &ArrayD<T>) -> ArrayD<T>,
    ) -> Var<T> {
        let rec = is_grad_enabled();
        T::with_tape(|s| {
            let a = s.node(self);
            let b = s.node(other);
            let value = f(&a.value, &b.value);
            let rg = rec && (a.requires_grad || b.requires_grad);
            s.push(value, if rg { op } else { Op::Const }, rg)
        })
    }
}

/// Gradients of the sum of `outputs` with respect to `inputs` (the vector-Jacobian product
/// with a seed of ones).
///
/// An input that the outputs do not depend on gets zeros. With [`CreateGraph::Yes`] the
/// returned variables are part of the graph and can be differentiated again.
pub fn grad<T: Float>(outputs: &[Var<T>], inputs: &[Var<T>], create: CreateGraph) -> Vec<Var<T>> {
    let seeds: Vec<Var<T>> = outputs
        .iter()
        .map(|o| Var::constant(crate::pool::filled(&o.shape(), T::one())))
        .collect();
    grad_with_seeds(outputs, &seeds, inputs, create)
}

/// Vector-Jacobian products: the gradient of `Σ_k <seed_k, output_k>` with respect to `inputs`.
///
/// Seeds may themselves be variables (for Hessian-vector products, pass recorded seeds and
/// [`CreateGraph::Yes`]).
pub fn grad_with_seeds<T: Float>(
    outputs: &[Var<T>],
    seeds: &[Var<T>],
    inputs: &[Var<T>],
    create: CreateGraph,
) -> Vec<Var<T>> {
    assert_eq!(
        outputs.len(),
        seeds.len(),
        "autodidact: grad needs one seed per output"
    );
    let zeros_like = |v: &Var<T>| Var::constant(crate::pool::filled(&v.shape(), T::zero()));
    if inputs.is_empty() {
        return Vec::new();
    }
    let lo = inputs.iter().map(|v| v.id).min().unwrap_or(0);
    let hi = outputs.iter().map(|v| v.id).max().unwrap_or(0);
    if outputs.is_empty() || hi < lo {
        return inputs.iter().map(zeros_like).collect();
    }
    let len = (hi - lo + 1) as usize;

    // Only nodes that are ancestors of an output (`needed`) and descendants of an input
    // (`reach`) can carry a gradient. The first pass runs backwards from the outputs, so nodes
    // of unrelated computations in between (earlier tasks of a meta-batch) cost one check each.
    let reach: Vec<bool> = T::with_tape(|s| {
        for v in inputs.iter().chain(outputs) {
            s.node(*v);
        }
        let mut needed = vec![false; len];
        for v in outputs {
            needed[(v.id - lo) as usize] = true;
        }
        for k in (0..len).rev() {
            if !needed[k] {
                continue;
            }
            let node = &s.nodes[lo as usize + k];
            if !node.requires_grad {
                continue;
            }
            node.op.for_each_input(&s.ids, |p| {
                if p >= lo {
                    needed[(p - lo) as usize] = true;
                }
            });
        }
        let mut reach = vec![false; len];
        for v in inputs {
            let k = (v.id - lo) as usize;
            reach[k] = needed[k];
        }
        for i in 0..len {
            if reach[i] || !needed[i] {
                continue;
            }
            let node = &s.nodes[lo as usize + i];
            if !node.requires_grad {
                continue;
            }
            let mut r = false;
            node.op.for_each_input(&s.ids, |p| {
                if p >= lo && reach[(p - lo) as usize] {
                    r = true;
                }
            });
            reach[i] = r;
        }
        reach
    });

    let _mode = set_grad_enabled(create == CreateGraph::Yes);
    let mut grads: Vec<Option<Var<T>>> = vec![None; len];
    for (o, seed) in outputs.iter().zip(seeds) {
        let k = (o.id - lo) as usize;
        if reach[k] {
            grads[k] = Some(match grads[k] {
                Some(g) => g + *seed,
                None => *seed,
            });
        }
    }
    let mut is_input = vec![false; len];
    for v in inputs {
        is_input[(v.id - lo) as usize] = true;
    }
    for k in (0..len).rev() {
        let Some(g) = grads[k] else { continue };
        let id = lo + k as Id;
        let (op, out, custom) = T::with_tape(|s| {
            let node = &s.nodes[id as usize];
            let custom = match node.op {
                Op::Custom(_, _, c) => Some(s.customs[c as usize].clone()),
                _ => None,
            };
            (node.op, s.var(id), custom)
        });
        if matches!(op, Op::Leaf | Op::Const) {
            continue;
        }
        // An input's own parents matter only when another input lies below it.
        if is_input[k] && !has_reaching_parent::<T>(op, lo, &reach) {
            continue;
        }
        let mut emit = |input: Id, gi: Var<T>| {
            if input < lo {
                return;
            }
            let j = (input - lo) as usize;
            if !reach[j] {
                return;
            }
            grads[j] = Some(match grads[j] {
                Some(prev) => prev + gi,
                None => gi,
            });
        };
        if let Some(c) = custom {
            let ins: Vec<Var<T>> = T::with_tape(|s| {
                let Op::Custom(start, n, _) = op else {
                    unreachable!()
                };
                s.ids[start as usize..(start + n) as usize]
                    .iter()
                    .map(|&i| s.var(i))
                    .collect()
            });
            let gs = c.backward(&ins, out, g);
            assert_eq!(
                gs.len(),
                ins.len(),
                "autodidact: custom op `{}` returned {} gradients for {} inputs",
                c.name(),
                gs.len(),
                ins.len()
            );
            for (i, gi) in ins.iter().zip(gs) {
                emit(i.id, gi);
            }
        } else {
            crate::backward::vjp(op, out, g, &mut emit);
        }
    }
    inputs
        .iter()
        .map(|v| grads[(v.id - lo) as usize].unwrap_or_else(|| zeros_like(v)))
        .collect()
}

fn has_reaching_parent<T: Float>(op: Op, lo: Id, reach: &[bool]) -> bool {
    T::with_tape(|s| {
        let mut any = false;
        op.for_each_input(&s.ids, |p| {
            if p >= lo && reach[(p - lo) as usize] {
                any = true;
            }
        });
        any
    })
}
