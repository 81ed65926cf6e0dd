//! The inference path of [`Bert::encode`](super::Bert::encode) and
//! [`Bert::hidden_states`](super::Bert::hidden_states): the same arithmetic as the layers on
//! the tape, written as fused passes over flat buffers that are reused from layer to layer and
//! batch to batch.
//!
//! What makes it faster than running the layers without a tape:
//! - **No padding.** The real tokens of a batch are packed into one `[tokens, hidden]` matrix;
//!   every per-token stage (the projections, the feed-forward block, the layer norms) runs on
//!   real tokens only, and attention runs sequence by sequence over its own tokens. A padded key
//!   gets exactly zero weight in the masked softmax (its score is `f32::MIN`), so the result is
//!   the same.
//! - **Q, K and V in one buffer** `[tokens, 3·hidden]` (three GEMMs writing column blocks of
//!   it), read by the attention in place: no split, permute or transpose copies.
//! - **Bias and residual inside the GEMM**: the output buffer is prefilled with them and the
//!   GEMM adds the product onto it ([`gemm_acc`]), then the layer norm runs in place.
//! - **One small attention kernel** per sequence and head (scores, softmax, weighted sum of
//!   values for one query row at a time, `head_dim` wide), instead of batched GEMMs on tiny
//!   `[seq, seq]` blocks.
//! - The element-wise passes (GELU, softmax, layer norm, attention) run under `pulp`'s runtime
//!   dispatch, so they are compiled for AVX2/AVX-512 (the baseline target has only SSE2).
//! - **Threads.** Called on a worker pool's thread (a learner's `threads` > 1, or
//!   `parallel::pool(n).install`), a large batch's GEMMs run in pieces of 64 token rows and its
//!   attention in pieces of 4 sequences on the pool. The cut depends on the batch alone and
//!   the pieces write disjoint rows, so the output has the same bits on one thread, on two,
//!   and outside any pool.

use std::any::TypeId;
use std::borrow::Cow;

use super::{Bert, BertBatch, LayerNorm, PackedWeights};
use crate::float::Float;
use crate::layers::Linear;
use crate::ops::elementwise::{exp_neg_f32, gelu, gelu_f32_fast};
use crate::ops::matmul::gemm_acc;
use crate::ops::panels::{self, as_f32, as_f32_mut};
use crate::ops::pieces;
use crate::parallel::chunks;
use crate::params::Params;
use crate::Tensor;

/// Buffers reused from batch to batch (grown to the largest batch, never shrunk).
pub(crate) struct Workspace<T> {
    /// Hidden states `[tokens, hidden]`.
    x: Vec<T>,
    /// The next hidden states (swapped with `x` after each block).
    y: Vec<T>,
    /// Q, K, V side by side, `[tokens, 3·hidden]`.
    qkv: Vec<T>,
    /// Attention context `[tokens, hidden]`.
    ctx: Vec<T>,
    /// Feed-forward activations `[tokens, intermediate]`.
    inter: Vec<T>,
    /// One head's keys transposed and one row of attention scores.
    scores: Vec<T>,
    /// `(first token, tokens)` of each sequence of the batch, in row order.
    rows: Vec<(usize, usize)>,
}

impl<T: Float> Workspace<T> {
    pub(crate) fn new() -> Self {
        Workspace {
            x: Vec::new(),
            y: Vec::new(),
            qkv: Vec::new(),
            ctx: Vec::new(),
            inter: Vec::new(),
            scores: Vec::new(),
            rows: Vec::new(),
        }
    }
}

/// Grows `v` to at least `len` (new elements zero) and returns its first `len`.
fn at_least<T: Float>(v: &mut Vec<T>, len: usize) -> &mut [T] {
    if v.len() < len {
        v.resize(len, T::zero());
    }
    &mut v[..len]
}

/// A tensor's elements in row-major order (borrowed when it is contiguous, as every parameter
/// built or loaded here is).
fn flat<T: Float>(t: &Tensor<T>) -> Cow<'_, [T]> {
    match t.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(t.iter().copied().collect()),
    }
}

/// The parameters as flat slices, by index, and the linear weights' panels when packed.
struct Weights<'a, T: Float> {
    all: Vec<Cow<'a, [T]>>,
    packed: Option<&'a PackedWeights>,
}

impl<'a, T: Float> Weights<'a, T> {
    fn of(params: &'a Params<T>, packed: Option<&'a PackedWeights>) -> Weights<'a, T> {
        Weights {
            all: params.tensors().iter().map(flat).collect(),
            packed,
        }
    }
    fn get(&self, i: usize) -> &[T] {
        &self.all[i]
    }
    /// Parameter `i` as panels, when it was packed.
    fn panels(&self, i: usize) -> Option<&'a [f32]> {
        self.packed.and_then(|p| p.panels(i))
    }
}

/// Runs the embeddings and the first `layers` encoder layers on `batch`, leaving the hidden
/// states of its real tokens in `ws.x` (`[tokens, hidden]`, sequences in row order) and the
/// sequences' spans in `ws.rows`; returns the number of tokens.
pub(crate) fn run<T: Float>(
    bert: &Bert,
    (params, packed): (&Params<T>, Option<&PackedWeights>),
    batch: &BertBatch,
    layers: usize,
    ws: &mut Workspace<T>,
) -> usize {
    pulp::Arch::new().dispatch(Run {
        bert,
        params,
        packed,
        batch,
        layers,
        ws,
    })
}

/// [`run`] for `pulp`'s dispatch: everything it inlines (all the element-wise helpers below
/// are `#[inline(always)]`) is compiled for the best instruction set the CPU has.
struct Run<'a, T> {
    bert: &'a Bert,
    params: &'a Params<T>,
    packed: Option<&'a PackedWeights>,
    batch: &'a BertBatch,
    layers: usize,
    ws: &'a mut Workspace<T>,
}

impl<T: Float> pulp::WithSimd for Run<'_, T> {
    type Output = usize;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> usize {
        let w = Weights::of(self.params, self.packed);
        run_impl(self.bert, &w, self.batch, self.layers, self.ws)
    }
}

#[inline(always)]
fn run_impl<T: Float>(
    bert: &Bert,
    w: &Weights<'_, T>,
    batch: &BertBatch,
    layers: usize,
    ws: &mut Workspace<T>,
) -> usize {
    let c = &bert.config;
    let h = c.hidden_size;
    let e = &bert.embeddings;
    // Pack the real tokens: their word, position (the padded column, as the tape's forward
    // adds the position of the column) and segment rows, layer-normalised.
    ws.rows.clear();
    let mut n = 0;
    for r in 0..batch.batch {
        let first = n;
        for j in 0..batch.seq {
            if batch.mask[r * batch.seq + j] != 0 {
                n += 1;
            }
        }
        ws.rows.push((first, n - first));
    }
    let x = at_least(&mut ws.x, n * h);
    let (word, pos, seg) = (w.get(e.word), w.get(e.position), w.get(e.token_type));
    let mut t = 0;
    for r in 0..batch.batch {
        for j in 0..batch.seq {
            let k = r * batch.seq + j;
            if batch.mask[k] == 0 {
                continue;
            }
            let id = batch.ids[k];
            let ty = batch.type_ids.as_ref().map_or(0, |v| v[k]);
            let out = &mut x[t * h..][..h];
            let (wr, pr, sr) = (
                &word[id * h..][..h],
                &pos[j * h..][..h],
                &seg[ty * h..][..h],
            );
            for i in 0..h {
                out[i] = wr[i] + pr[i] + sr[i];
            }
            t += 1;
        }
    }
    layer_norm_rows(x, h, w, &e.norm);
    for layer in bert.layers.iter().take(layers) {
        let a = &layer.attention;
        // Q, K, V: [n, 3h], biases prefilled, the three products added onto them.
        let qkv = at_least(&mut ws.qkv, n * 3 * h);
        for (col, lin) in [&a.query, &a.key, &a.value].into_iter().enumerate() {
            prefill(qkv, n, 3 * h, col * h, h, bias(w, lin), None);
            linear_acc(&ws.x[..n * h], n, w, lin, &mut qkv[col * h..], 3 * h);
        }
        let ctx = at_least(&mut ws.ctx, n * h);
        attention_all(qkv, &ws.rows, h, a.heads, &mut ws.scores, ctx);
        // LayerNorm(x + ctx·W_o + b_o).
        let y = at_least(&mut ws.y, n * h);
        prefill(y, n, h, 0, h, bias(w, &a.output), Some(&ws.x[..n * h]));
        linear_acc(ctx, n, w, &a.output, y, h);
        layer_norm_rows(y, h, w, &a.norm);
        std::mem::swap(&mut ws.x, &mut ws.y);
        // LayerNorm(x + gelu(x·W₁ + b₁)·W₂ + b₂).
        let f = &layer.feed_forward;
        let m = f.intermediate.out_dim;
        let inter = at_least(&mut ws.inter, n * m);
        prefill(inter, n, m, 0, m, bias(w, &f.intermediate), None);
        linear_acc(&ws.x[..n * h], n, w, &f.intermediate, inter, m);
        gelu_in_place(inter);
        let y = at_least(&mut ws.y, n * h);
        prefill(y, n, h, 0, h, bias(w, &f.output), Some(&ws.x[..n * h]));
        linear_acc(inter, n, w, &f.output, y, h);
        layer_norm_rows(y, h, w, &f.norm);
        std::mem::swap(&mut ws.x, &mut ws.y);
    }
    n
}

fn bias<'a, T: Float>(w: &'a Weights<'_, T>, lin: &Linear) -> Option<&'a [T]> {
    lin.bias.map(|b| w.get(b))
}

/// Sets columns `col..col + m` of the `n` rows of `out` (row stride `ld`) to the bias plus the
/// residual row (`residual` is `[n, m]`), either of them absent meaning zero.
#[inline(always)]
fn prefill<T: Float>(
    out: &mut [T],
    n: usize,
    ld: usize,
    col: usize,
    m: usize,
    bias: Option<&[T]>,
    residual: Option<&[T]>,
) {
    for i in 0..n {
        let o = &mut out[i * ld + col..][..m];
        match (bias, residual) {
            (Some(b), Some(r)) => {
                let r = &r[i * m..][..m];
                for j in 0..m {
                    o[j] = r[j] + b[j];
                }
            }
            (Some(b), None) => o.copy_from_slice(&b[..m]),
            (None, Some(r)) => o.copy_from_slice(&r[i * m..][..m]),
            (None, None) => o.fill(T::zero()),
        }
    }
}

/// Rows in each piece of a product cut for threads (as `gemm_into` in `ops::matmul`).
const PIECE_ROWS: usize = 64;
/// Sequences in each piece of the attention cut for threads.
const PIECE_SEQUENCES: usize = 4;
/// `out[:, ..out_dim] += x · W` for `x [n, in_dim]` and the layer's `W [in_dim, out_dim]`,
/// `out` with row stride `ld`. A product of at least `2 · PIECE_ROWS` rows is cut into pieces
/// of about `PIECE_ROWS` rows, fixed by `n` alone, which run on the caller's pool when there
/// is one: the bits never depend on the thread count. With the weight in panels (f32,
/// [`Bert::pack`](super::Bert::pack)) and a CPU that runs their kernel, a product of few rows
/// streams the panels instead of calling `gemm` (see `ops::panels`); which of the two runs
/// depends on the piece's row count alone, never on the threads.
fn linear_acc<T: Float>(
    x: &[T],
    n: usize,
    w: &Weights<'_, T>,
    lin: &Linear,
    out: &mut [T],
    ld: usize,
) {
    let (k, m) = (lin.in_dim, lin.out_dim);
    let wt = w.get(lin.weight);
    let packed = w
        .panels(lin.weight)
        .filter(|_| panels::available() && as_f32(x).is_some());
    let product = |x: &[T], n: usize, out: &mut [T]| {
        if let Some(p) = packed.filter(|_| n <= panels::MAX_ROWS) {
            if let (Some(x), Some(out)) = (as_f32(x), as_f32_mut(out)) {
                // Cannot decline: the kernel is available and n is within its rows.
                panels::product((n, k, m), x, p, out, ld);
                return;
            }
        }
        gemm_acc((n, k, m), (x, k, 1), (wt, m, 1), (out, ld), T::one());
    };
    if n < 2 * PIECE_ROWS {
        product(x, n, out);
        return;
    }
    let cut = chunks(n, PIECE_ROWS);
    pieces::for_each(pieces::split_rows(out, ld, &cut), |(r, o)| {
        product(&x[r.start * k..], r.len(), o);
    });
}

/// Layer norm of each `h`-wide row in place (as the composed op: centre, divide by
/// `√(var + ε)`, scale, shift).
#[inline(always)]
fn layer_norm_rows<T: Float>(x: &mut [T], h: usize, w: &Weights<'_, T>, norm: &LayerNorm) {
    let (g, b) = (w.get(norm.gamma), w.get(norm.beta));
    let hn = T::of(h as f64);
    let eps = T::of(norm.eps);
    for row in x.chunks_exact_mut(h) {
        let mean = sum(row) / hn;
        for v in row.iter_mut() {
            *v -= mean;
        }
        let var = dot(row, row) / hn;
        let sd = (var + eps).sqrt();
        for i in 0..h {
            row[i] = row[i] / sd * g[i] + b[i];
        }
    }
}

/// GELU (BERT's erf form) in place: on `f32` the branch-free vectorisable form the tape's
/// no-grad GELU uses, on `f64` the exact one.
#[inline(always)]
fn gelu_in_place<T: Float>(x: &mut [T]) {
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        for v in x.iter_mut() {
            *v = T::of(f64::from(gelu_f32_fast(v.as_f64() as f32)));
        }
    } else {
        for v in x.iter_mut() {
            *v = gelu(*v);
        }
    }
}

/// `eʸ` for `y ≤ 0` (a softmax's shifted scores): the vectorisable polynomial on `f32`
/// (relative error below 2e-7), the exact one on `f64`.
#[inline(always)]
fn exp_nonpositive<T: Float>(y: T) -> T {
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        T::of(f64::from(exp_neg_f32(y.as_f64() as f32)))
    } else {
        y.exp()
    }
}

/// `Σ a`, in eight interleaved partial sums so the compiler keeps them in vector lanes.
#[inline(always)]
fn sum<T: Float>(a: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let mut chunks = a.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            acc[l] += c[l];
        }
    }
    let tail: T = chunks.remainder().iter().copied().sum();
    acc.iter().copied().sum::<T>() + tail
}

/// `Σ aᵢbᵢ`, in eight interleaved partial sums (see [`sum`]).
#[inline(always)]
fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: T = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| x * y)
        .sum();
    acc.iter().copied().sum::<T>() + tail
}

/// `max a` (−∞ for an empty slice), in eight interleaved lanes (see [`sum`]).
#[inline(always)]
fn max_of<T: Float>(a: &[T]) -> T {
    let mut acc = [T::neg_infinity(); 8];
    let mut chunks = a.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            acc[l] = if c[l] > acc[l] { c[l] } else { acc[l] };
        }
    }
    let m = chunks
        .remainder()
        .iter()
        .fold(T::neg_infinity(), |m, &x| m.max(x));
    acc.iter().fold(m, |m, &x| m.max(x))
}

/// `y += alpha · x`.
#[inline(always)]
fn axpy<T: Float>(alpha: T, x: &[T], y: &mut [T]) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o += alpha * v;
    }
}

/// Self-attention of every sequence of the batch (`rows`: first token and length of each),
/// writing `ctx`. A batch of more than `PIECE_SEQUENCES` sequences is cut into pieces of
/// sequences (fixed by the batch alone) that run on the caller's pool when there is one, each
/// with its own scratch; a sequence's arithmetic is the same whichever piece it is in.
#[inline(always)]
fn attention_all<T: Float>(
    qkv: &[T],
    rows: &[(usize, usize)],
    h: usize,
    heads: usize,
    scratch: &mut Vec<T>,
    ctx: &mut [T],
) {
    let longest = rows.iter().map(|r| r.1).max().unwrap_or(0);
    let need = (h / heads + 1) * longest;
    // Scores q·kᵀ and the weighted sum of values: two [len, len, h] products per sequence.
    for &(_, len) in rows {
        crate::flops::add(2 * len, len, h);
    }
    if rows.len() <= PIECE_SEQUENCES || !pieces::on_pool() {
        let scores = at_least(scratch, need);
        for &(first, len) in rows {
            attention(qkv, (first, len), h, heads, scores, (&mut *ctx, 0));
        }
        return;
    }
    // Pieces of sequences, as row ranges of `ctx` (a sequence's rows are contiguous).
    let cut: Vec<std::ops::Range<usize>> = chunks(rows.len(), PIECE_SEQUENCES)
        .into_iter()
        .map(|s| rows[s.start].0..rows[s.end - 1].0 + rows[s.end - 1].1)
        .collect();
    let seqs = chunks(rows.len(), PIECE_SEQUENCES);
    let work: Vec<_> = pieces::split_rows(ctx, h, &cut)
        .into_iter()
        .zip(seqs)
        .collect();
    pieces::for_each(work, |((span, ctx), seqs)| {
        // On a pool thread this runs outside the caller's dispatch: dispatch again so the
        // element-wise loops are compiled for the CPU's vector width.
        pulp::Arch::new().dispatch(
            #[inline(always)]
            || {
                // Moved in, so the closure is `FnOnce` and its body is what the dispatch inlines
                // (an `Fn` closure goes through a call shim compiled for the baseline target).
                let (ctx, seqs) = (ctx, seqs);
                let mut scores = vec![T::zero(); need];
                for &(first, len) in &rows[seqs] {
                    attention(
                        qkv,
                        (first, len),
                        h,
                        heads,
                        &mut scores,
                        (&mut *ctx, span.start),
                    );
                }
            },
        );
    });
}

/// Self-attention of one sequence (`len` tokens from `first`) over its own tokens, every head:
/// `ctx_i = Σ_j softmax_j(q_i·k_j / √d) v_j`, one query row at a time. `qkv` is
/// `[tokens, 3h]` (Q, K, V side by side), `ctx` `[tokens, h]`; `scratch` holds
/// `(head_dim + 1) · len` values: the head's keys transposed to `[d, len]`, so a query's scores
/// are `d` vectorised `axpy`s across the keys, and one row of scores. `ctx` holds the
/// batch's token rows from `ctx_row` on (a piece of the batch's rows).
#[inline(always)]
fn attention<T: Float>(
    qkv: &[T],
    (first, len): (usize, usize),
    h: usize,
    heads: usize,
    scratch: &mut [T],
    (ctx, ctx_row): (&mut [T], usize),
) {
    let d = h / heads;
    let ld = 3 * h;
    let scale = T::of(1.0 / (d as f64).sqrt());
    let (kt, scores) = scratch[..(d + 1) * len].split_at_mut(d * len);
    for head in 0..heads {
        let (qo, ko, vo) = (head * d, h + head * d, 2 * h + head * d);
        for j in 0..len {
            let k = &qkv[(first + j) * ld + ko..][..d];
            for p in 0..d {
                kt[p * len + j] = k[p];
            }
        }
        for i in 0..len {
            let q = &qkv[(first + i) * ld + qo..][..d];
            scores.fill(T::zero());
            for p in 0..d {
                axpy(q[p] * scale, &kt[p * len..][..len], scores);
            }
            let max = max_of(scores);
            for s in scores.iter_mut() {
                *s = exp_nonpositive(*s - max);
            }
            let inv = T::one() / sum(scores);
            let c = &mut ctx[(first + i - ctx_row) * h + qo..][..d];
            c.fill(T::zero());
            for j in 0..len {
                axpy(scores[j] * inv, &qkv[(first + j) * ld + vo..][..d], c);
            }
        }
    }
}

/// Sentence embeddings `[batch, hidden]` of one batch: the mean of the last hidden states over
/// each sequence's tokens (zero for an empty one), L2-normalised when `normalize`.
pub(crate) fn encode_batch<T: Float>(
    bert: &Bert,
    weights: (&Params<T>, Option<&PackedWeights>),
    batch: &BertBatch,
    normalize: bool,
    ws: &mut Workspace<T>,
) -> Tensor<T> {
    let h = bert.config.hidden_size;
    run(bert, weights, batch, bert.layers.len(), ws);
    let mut out = vec![T::zero(); batch.batch * h];
    for (r, &(first, len)) in ws.rows.iter().enumerate() {
        let o = &mut out[r * h..][..h];
        for t in first..first + len {
            for (a, &v) in o.iter_mut().zip(&ws.x[t * h..][..h]) {
                *a += v;
            }
        }
        // As sentence-transformers: divide by max(count, 1e-9), then by max(‖·‖₂, 1e-12).
        let count = T::of((len as f64).max(1e-9));
        for a in o.iter_mut() {
            *a /= count;
        }
        if normalize {
            let norm = o.iter().map(|&v| v * v).sum::<T>().sqrt().max(T::of(1e-12));
            for a in o.iter_mut() {
                *a /= norm;
            }
        }
    }
    crate::ops::from_vec(&[batch.batch, h], out)
}

/// The hidden states after the first `layers` layers, `[batch, seq, hidden]` in the batch's
/// padded layout (zeros at padded positions).
pub(crate) fn hidden_states<T: Float>(
    bert: &Bert,
    weights: (&Params<T>, Option<&PackedWeights>),
    batch: &BertBatch,
    layers: usize,
    ws: &mut Workspace<T>,
) -> Tensor<T> {
    let h = bert.config.hidden_size;
    run(bert, weights, batch, layers, ws);
    let mut out = vec![T::zero(); batch.batch * batch.seq * h];
    let mut t = 0;
    for r in 0..batch.batch {
        for j in 0..batch.seq {
            if batch.mask[r * batch.seq + j] != 0 {
                out[(r * batch.seq + j) * h..][..h].copy_from_slice(&ws.x[t * h..][..h]);
                t += 1;
            }
        }
    }
    crate::ops::from_vec(&[batch.batch, batch.seq, h], out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::bert::BertConfig;
    use crate::{Seed, Tape};
    use rand::Rng as _;

    /// A random f32 BERT whose widths are not multiples of the kernels' 16-lane panels.
    fn model() -> (Bert, Params<f32>) {
        model_of(40, 72)
    }

    /// A random f32 BERT `hidden` wide with a feed-forward block `intermediate` wide.
    fn model_of(hidden: usize, intermediate: usize) -> (Bert, Params<f32>) {
        let config = BertConfig {
            vocab_size: 50,
            hidden_size: hidden,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: intermediate,
            max_position_embeddings: 24,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            pad_token_id: 0,
        };
        let mut params = Params::<f32>::new();
        let bert = Bert::new(&mut params, &config, &mut Seed(5).rng("init"));
        let mut rng = Seed(6).rng("weights");
        for (name, t) in params.names().to_vec().iter().zip(params.tensors_mut()) {
            let base = if name.ends_with("LayerNorm.weight") {
                1.0
            } else {
                0.0
            };
            t.mapv_inplace(|_| base + 0.3 * (rng.random::<f32>() * 2.0 - 1.0));
        }
        (bert, params)
    }

    /// `count` sentences of 3 to 20 tokens, `[CLS] … [SEP]`.
    fn sentences(count: usize) -> Vec<Vec<u32>> {
        let mut rng = Seed(7).rng("ids");
        (0..count)
            .map(|_| {
                let len = 3 + rng.random_range(0..18usize);
                let mut s = vec![1u32];
                s.extend((0..len - 2).map(|_| rng.random_range(3..50u32)));
                s.push(2);
                s
            })
            .collect()
    }

    fn batches(bert: &Bert, seqs: &[Vec<u32>], size: usize) -> Vec<BertBatch> {
        seqs.chunks(size)
            .map(|c| BertBatch::new(c, &bert.config).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    /// The fused path on `f32` (whole GEMMs at batch 1, GEMMs and attention in pieces at
    /// batch 32) against the tape's composed forward.
    #[test]
    fn f32_encode_matches_the_tape_at_batch_1_and_32() {
        let (bert, params) = model();
        let seqs = sentences(40);
        for size in [1, 32] {
            let bs = batches(&bert, &seqs, size);
            let fast = bert.encode(&params, &bs, true);
            let tape = Tape::<f32>::new();
            let p = tape.params(&params);
            for (b, got) in bs.iter().zip(&fast) {
                let want = bert.sentence_embeddings(&p, b, true).value();
                assert_eq!(got.shape(), want.shape());
                let worst = got
                    .iter()
                    .zip(want.iter())
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0f32, f32::max);
                assert!(worst < 2e-5, "batch size {size}: differs by {worst}");
            }
        }
    }

    /// A batch of 32 sentences (GEMMs and attention cut into pieces) has the same bits outside
    /// any pool, on one thread and on two.
    #[test]
    fn encode_has_the_same_bits_on_any_thread_count() {
        let (bert, params) = model();
        let bs = batches(&bert, &sentences(32), 32);
        let bits = |v: &[Tensor<f32>]| {
            v.iter()
                .flat_map(|t| t.iter().map(|x| x.to_bits()))
                .collect::<Vec<_>>()
        };
        let here = bits(&bert.encode(&params, &bs, true));
        let states = bert.hidden_states(&params, &bs[0], 2);
        for threads in [1, 2] {
            let pool = crate::parallel::pool(threads).unwrap_or_else(|e| panic!("{e}"));
            let there = pool.install(|| bits(&bert.encode(&params, &bs, true)));
            assert_eq!(here, there, "{threads} threads");
            let s = pool.install(|| bert.hidden_states(&params, &bs[0], 2));
            assert!(states
                .iter()
                .zip(s.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    /// The panel path (widths that are multiples of 32, so every linear weight is packed)
    /// against the tape at batch 1 and 32, and against the unpacked path.
    #[test]
    fn packed_encode_matches_the_tape_at_batch_1_and_32() {
        let (bert, params) = model_of(64, 96);
        let packed = bert.pack(&params);
        assert_eq!(packed.len(), 12, "6 linear weights in each of 2 layers");
        let seqs = sentences(40);
        for size in [1, 32] {
            let bs = batches(&bert, &seqs, size);
            let fast = bert
                .encode_packed(&params, &packed, &bs, true)
                .unwrap_or_else(|e| panic!("{e}"));
            let plain = bert.encode(&params, &bs, true);
            let tape = Tape::<f32>::new();
            let p = tape.params(&params);
            for ((b, got), unpacked) in bs.iter().zip(&fast).zip(&plain) {
                let want = bert.sentence_embeddings(&p, b, true).value();
                let worst = |other: &Tensor<f32>| {
                    got.iter()
                        .zip(other.iter())
                        .map(|(x, y)| (x - y).abs())
                        .fold(0.0f32, f32::max)
                };
                assert!(
                    worst(&want) < 2e-5,
                    "batch size {size}: differs by {}",
                    worst(&want)
                );
                assert!(
                    worst(unpacked) < 2e-5,
                    "batch size {size}: from gemm's by {}",
                    worst(unpacked)
                );
            }
        }
    }

    /// The panel path has the same bits outside any pool, on one thread and on two.
    #[test]
    fn packed_encode_has_the_same_bits_on_any_thread_count() {
        let (bert, params) = model_of(64, 96);
        let packed = bert.pack(&params);
        let bs = batches(&bert, &sentences(32), 32);
        let bits = || {
            bert.encode_packed(&params, &packed, &bs, true)
                .unwrap_or_else(|e| panic!("{e}"))
                .iter()
                .flat_map(|t| t.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        };
        let here = bits();
        for threads in [1, 2] {
            let pool = crate::parallel::pool(threads).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(here, pool.install(bits), "{threads} threads");
        }
    }

    /// Weights changed after packing are refused, naming the parameter.
    #[test]
    fn packed_weights_of_changed_params_are_refused() {
        let (bert, mut params) = model_of(64, 96);
        let packed = bert.pack(&params);
        let bs = batches(&bert, &sentences(2), 2);
        let i = params
            .index_of("encoder.layer.1.output.dense.weight")
            .unwrap_or_else(|e| panic!("{e}"));
        params.tensors_mut()[i].mapv_inplace(|v| v * 0.5);
        let err = bert
            .encode_packed(&params, &packed, &bs, true)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("encoder.layer.1.output.dense.weight") && err.contains("pack them again"),
            "{err}"
        );
        let again = bert.pack(&params);
        assert!(bert.encode_packed(&params, &again, &bs, true).is_ok());
    }
}
