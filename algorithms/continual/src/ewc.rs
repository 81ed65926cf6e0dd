//! Elastic Weight Consolidation (Kirkpatrick et al. 2017) with a diagonal Fisher, separate
//! (one Fisher and anchor per experience) or online (Schwarz et al. 2018: one running Fisher,
//! decayed by γ, anchored at the latest parameters).
//!
//! The Fisher is the empirical one: the mean over examples of the squared gradient of each
//! example's log-likelihood of its label, `F = (1/N) Σₙ (∇θ log p(yₙ|xₙ))²`. The penalty is
//! `λ/2 · Σ_anchors Σₖ Fₖ (θₖ − θ*ₖ)²`.
//!
//! A sum of quadratics is one quadratic: `Σₐ Fₐ (θ − θₐ)² = F̄ (θ − θ̄)² + C` with `F̄ = Σₐ Fₐ`,
//! `θ̄ = Σₐ Fₐ θₐ / F̄` and `C = Σₐ Fₐ θₐ² − F̄ θ̄²`, a constant. So however many experiences
//! separate EWC has consolidated, each minibatch's penalty costs one pass over the parameters
//! (as online EWC's does), not one per anchor; the anchors themselves are kept (checkpoints,
//! inspection) and the merged form is rebuilt whenever they change.

use autodidact_core::layers::Linear;
use autodidact_core::optim::values;
use autodidact_core::{cross_entropy, CreateGraph, Params, Tape, Tensor, Var};
use ndarray::{Axis, Ix2};
use rand::seq::index::sample;
use serde::{Deserialize, Serialize};

use crate::data::Batch;
use crate::errors::Result;
use crate::model::{group_rows, Body};
use crate::strategy::{weighted_sq_distance, Context, Objective, PenaltyInput, Strategy};

/// One consolidated experience: its Fisher diagonal and the parameters it was anchored at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anchor {
    /// Diagonal Fisher, per parameter tensor.
    pub fisher: Vec<Tensor<f32>>,
    /// θ* per parameter tensor.
    pub params: Vec<Tensor<f32>>,
}

/// Every anchor's quadratic merged into one: `Σ weight (θ − centre)² + offset`.
#[derive(Clone, Debug, PartialEq)]
struct Merged {
    weight: Vec<Tensor<f32>>,
    centre: Vec<Tensor<f32>>,
    offset: f64,
}

impl Merged {
    /// Merges the anchors (in f64, then rounded); `None` when there is none. One anchor is
    /// taken as it is, so online EWC and separate EWC's first experience are unchanged.
    fn of(anchors: &[Anchor]) -> Option<Merged> {
        let first = anchors.first()?;
        if anchors.len() == 1 {
            return Some(Merged {
                weight: first.fisher.clone(),
                centre: first.params.clone(),
                offset: 0.0,
            });
        }
        let mut weight = Vec::with_capacity(first.fisher.len());
        let mut centre = Vec::with_capacity(first.fisher.len());
        let mut offset = 0.0f64;
        for (t, first_theta) in first.params.iter().enumerate() {
            let n = first_theta.len();
            let (mut f_sum, mut f_theta, mut f_theta2) =
                (vec![0.0f64; n], vec![0.0f64; n], vec![0.0f64; n]);
            for a in anchors {
                for (i, (&f, &th)) in a.fisher[t].iter().zip(a.params[t].iter()).enumerate() {
                    let (f, th) = (f as f64, th as f64);
                    f_sum[i] += f;
                    f_theta[i] += f * th;
                    f_theta2[i] += f * th * th;
                }
            }
            // Where no anchor weighs a parameter its centre is irrelevant; keep the first θ*.
            let mut c = first_theta.clone();
            for (i, v) in c.iter_mut().enumerate() {
                if f_sum[i] > 0.0 {
                    let bar = f_theta[i] / f_sum[i];
                    *v = bar as f32;
                    // Σ F θ² − F̄ θ̄² ≥ 0 (Cauchy–Schwarz); clamp the rounding below zero.
                    offset += (f_theta2[i] - f_theta[i] * bar).max(0.0);
                }
            }
            let mut w = first_theta.clone();
            for (v, &f) in w.iter_mut().zip(&f_sum) {
                *v = f as f32;
            }
            weight.push(w);
            centre.push(c);
        }
        Some(Merged {
            weight,
            centre,
            offset,
        })
    }
}

/// EWC.
#[derive(Clone, Debug, PartialEq)]
pub struct Ewc {
    /// Penalty strength λ.
    pub lambda: f64,
    /// Online EWC: keep one running Fisher.
    pub online: bool,
    /// Online decay γ.
    pub decay: f64,
    /// Examples per Fisher estimate (0: all).
    pub samples: usize,
    /// The anchors (one when online).
    anchors: Vec<Anchor>,
    /// The anchors' penalties merged into one quadratic (rebuilt whenever they change).
    merged: Option<Merged>,
}

impl Ewc {
    /// EWC with no anchor yet.
    pub fn new(lambda: f64, online: bool, decay: f64, samples: usize) -> Ewc {
        Ewc {
            lambda,
            online,
            decay,
            samples,
            anchors: Vec::new(),
            merged: None,
        }
    }

    /// The anchors consolidated so far (one when online).
    pub fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }

    /// Adds an anchor as separate EWC does after an experience.
    pub fn push_anchor(&mut self, anchor: Anchor) {
        self.anchors.push(anchor);
        self.merged = Merged::of(&self.anchors);
    }
}

/// The empirical diagonal Fisher of `params` on `batch`: the mean over its examples of each
/// example's squared loss gradient.
///
/// For an MLP backbone without layer norm (any head layout) it is one batched pass: one
/// backward pass of the summed loss gives every example's gradient `δₙ` at each linear
/// layer's outputs, and since that layer's per-example weight gradient is the outer product
/// `aₙ δₙᵀ` of its input and `δₙ`, the sum of their squares is `(a²)ᵀ (δ²)` (bias: `Σₙ δₙ²`)
/// — one matrix product per layer (Goodfellow 2015). Other backbones (Conv4, layer norm) take
/// one backward pass per example ([`empirical_fisher_per_example`]); both give the same
/// values up to rounding.
pub fn empirical_fisher(
    objective: &Objective<'_>,
    params: &Params<f32>,
    batch: &Batch,
) -> Vec<Tensor<f32>> {
    batched_fisher(objective, params, batch)
        .unwrap_or_else(|| empirical_fisher_per_example(objective, params, batch))
}

/// [`empirical_fisher`] by one backward pass per example (any backbone).
pub fn empirical_fisher_per_example(
    objective: &Objective<'_>,
    params: &Params<f32>,
    batch: &Batch,
) -> Vec<Tensor<f32>> {
    let mut fisher = params.zeros_like();
    let n = batch.len();
    let dim = batch.x.len().checked_div(n).unwrap_or(0);
    for i in 0..n {
        let mut one = Batch::default();
        one.push(&batch.x[i * dim..(i + 1) * dim], batch.y[i], batch.exp[i]);
        let (g, _) = objective.gradient(params, &one);
        for (f, g) in fisher.iter_mut().zip(&g) {
            f.zip_mut_with(g, |f, &g| *f += g * g);
        }
    }
    let scale = 1.0 / n.max(1) as f32;
    for f in &mut fisher {
        f.mapv_inplace(|v| v * scale);
    }
    fisher
}

/// Adds `Σₙ (aₙ δₙᵀ)²` to a `[in, out]` weight's Fisher and `Σₙ δₙ²` to its bias's.
fn add_linear_fisher(
    fisher: &mut [Tensor<f32>],
    linear: &Linear,
    a: &Tensor<f32>,
    delta: &Tensor<f32>,
) -> Option<()> {
    let a2 = a.view().into_dimensionality::<Ix2>().ok()?.mapv(|v| v * v);
    let d2 = delta
        .view()
        .into_dimensionality::<Ix2>()
        .ok()?
        .mapv(|v| v * v);
    let w = a2.t().dot(&d2);
    let fw = fisher.get_mut(linear.weight)?;
    if fw.shape() != w.shape() {
        return None;
    }
    fw.zip_mut_with(&w.into_dyn(), |f, &g| *f += g);
    if let Some(b) = linear.bias {
        let fb = fisher.get_mut(b)?;
        fb.zip_mut_with(&d2.sum_axis(Axis(0)).into_dyn(), |f, &g| *f += g);
    }
    Some(())
}

/// The batched [`empirical_fisher`] of an MLP without layer norm; `None` for other backbones.
fn batched_fisher(
    objective: &Objective<'_>,
    params: &Params<f32>,
    batch: &Batch,
) -> Option<Vec<Tensor<f32>>> {
    let model = objective.model;
    let Body::Mlp { layers, activation } = &model.body else {
        return None;
    };
    if layers.iter().any(|l| l.norm.is_some()) {
        return None;
    }
    let n = batch.len();
    let mut fisher = params.zeros_like();
    if n == 0 {
        return Some(fisher);
    }
    let tape = Tape::<f32>::new();
    let p = tape.params(params);
    let mut h = model.input(&batch.x, n);
    // Each linear layer's input (values) and output (a variable whose gradient is δ).
    let mut taps: Vec<(&Linear, Tensor<f32>, Var<f32>)> = Vec::new();
    for l in layers {
        let z = l.linear.forward(&p, h);
        taps.push((&l.linear, h.value(), z));
        h = activation.apply(z);
    }
    // The summed loss over the batch, as `Model::loss` routes it (it returns the mean).
    let routing = objective.routing(batch);
    let features = h.value();
    let mut loss: Option<Var<f32>> = None;
    let mut add = |part: Var<f32>| {
        loss = Some(match loss.take() {
            Some(t) => t + part,
            None => part,
        });
    };
    if model.multi_head {
        for (head, rows) in group_rows(&routing.head) {
            let labels: Vec<usize> = rows.iter().map(|&r| routing.label[r]).collect();
            let hs = h.index_select(&rows);
            let z = model.head(&p, hs, head);
            taps.push((&model.heads[head], hs.value(), z));
            add(cross_entropy(z, &labels) * rows.len() as f64);
        }
    } else {
        let z = model.head(&p, h, 0);
        taps.push((&model.heads[0], features, z));
        let logits = match &routing.mask {
            Some(m) => z + Var::constant_from(m),
            None => z,
        };
        add(cross_entropy(logits, &routing.label) * n as f64);
    }
    let loss = loss?;
    let outputs: Vec<Var<f32>> = taps.iter().map(|t| t.2).collect();
    let deltas = values(&tape.grad(&loss, &outputs, CreateGraph::No));
    for ((linear, a, _), delta) in taps.iter().zip(&deltas) {
        add_linear_fisher(&mut fisher, linear, a, delta)?;
    }
    let scale = 1.0 / n as f32;
    for f in &mut fisher {
        f.mapv_inplace(|v| v * scale);
    }
    Some(fisher)
}

impl Strategy for Ewc {
    fn name(&self) -> &'static str {
        "ewc"
    }

    fn after_experience(&mut self, ctx: &mut Context<'_, '_>) -> Result<()> {
        let exp = &ctx.objective.data.experiences[ctx.experience];
        let n = exp.train.len();
        let k = if self.samples == 0 {
            n
        } else {
            self.samples.min(n)
        };
        let mut idx = sample(ctx.rng, n, k).into_vec();
        idx.sort_unstable();
        let batch = Batch::gather(exp, &idx, false);
        let fisher = empirical_fisher(ctx.objective, ctx.params, &batch);
        let params = ctx.params.tensors().to_vec();
        if self.online {
            if let Some(old) = self.anchors.first() {
                let decay = self.decay as f32;
                let mut merged = fisher;
                for (m, o) in merged.iter_mut().zip(&old.fisher) {
                    m.zip_mut_with(o, |m, &o| *m += decay * o);
                }
                self.anchors = vec![Anchor {
                    fisher: merged,
                    params,
                }];
            } else {
                self.anchors = vec![Anchor { fisher, params }];
            }
        } else {
            self.anchors.push(Anchor { fisher, params });
        }
        self.merged = Merged::of(&self.anchors);
        Ok(())
    }

    fn penalty(&self, input: &PenaltyInput<'_, '_>) -> Option<autodidact_core::Var<f32>> {
        if self.lambda == 0.0 {
            return None;
        }
        let m = self.merged.as_ref()?;
        let d = weighted_sq_distance(input.vars, &m.weight, &m.centre);
        // The constant keeps the reported penalty equal to the sum over anchors.
        let d = if m.offset > 0.0 { d + m.offset } else { d };
        Some(d * (self.lambda / 2.0))
    }

    fn metrics(&self) -> autodidact_core::Metrics {
        let mut m = autodidact_core::Metrics::new();
        m.insert("ewc_anchors".into(), self.anchors.len() as f64);
        m
    }

    fn save_state(&self) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(&self.anchors)?)
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        self.anchors = serde_json::from_value(state)?;
        self.merged = Merged::of(&self.anchors);
        Ok(())
    }
}
