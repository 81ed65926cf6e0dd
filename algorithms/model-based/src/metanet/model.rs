//! Meta Networks (Munkhdalai & Yu 2017): a base learner and a meta learner that parameterises
//! it, per query, with fast weights generated from loss gradients.
//!
//! One episode, as in the paper's training procedure:
//! 1. Representation meta information: the loss of the representation function `u` (slow
//!    weights Q) on chunks of the support set; its gradients, read in turn by the LSTM `d`,
//!    give the task-level fast weights `Q*`.
//! 2. Keys: every example's representation `u(Q, Q*, x)` (layer augmentation: slow and fast
//!    branches summed).
//! 3. Base meta information: each support example's loss gradient of the base learner `b`
//!    (slow weights W); `m` maps it to that example's fast weights `W*_i`, written to memory
//!    under the example's key.
//! 4. Each query reads the memory by attention (softmax of cosine similarities of its key to
//!    the support keys) and is classified by `b` with its slow weights and the fast weights
//!    read (slow and fast branches summed after their activations). The query loss trains
//!    every slow weight and both generators.

use autodidact_core::layers::{Backbone, BackboneSpec};
use autodidact_core::{
    cross_entropy, pairwise_cosine_similarity, Activation, BatchNormMode, BatchNormStats,
    CreateGraph, Float, Init, Linear, Params, Rng, Tensor, Var,
};
use serde::{Deserialize, Serialize};

use super::episode::Episode;
use super::generators::{ExampleGenerator, TaskGenerator};
use super::meta_info::{chunk_means, head_gradients};
use super::params::MetaNetParams;
use crate::errors::{ModelBasedError, Result};

/// What one episode gives.
#[derive(Clone, Copy, Debug)]
pub struct Output<T: Float> {
    /// Mean cross-entropy of the queries.
    pub loss: Var<T>,
    /// `[n_query, episode ways]` logits.
    pub logits: Var<T>,
}

/// A MetaNet: base learner, dynamic representation function and the two generators.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetaNet {
    /// The base learner's feature extractor (slow weights).
    pub base: Backbone,
    /// The base learner's hidden layer, slow + example-level fast weights.
    pub base_hidden: Linear,
    /// The base learner's output layer, slow + example-level fast weights.
    pub base_out: Linear,
    /// The representation function's feature extractor (slow weights).
    pub rep: Backbone,
    /// The representation layer (the keys), slow + task-level fast weights.
    pub rep_key: Linear,
    /// The classifier defining the representation loss (slow weights).
    pub rep_out: Linear,
    /// `m`: support gradients → example-level fast weights.
    pub example_gen: ExampleGenerator,
    /// `d`: representation-loss gradients → task-level fast weights.
    pub task_gen: TaskGenerator,
    /// Classes per episode.
    pub ways: usize,
    /// Support chunks `d` reads.
    pub rep_chunks: usize,
    /// Whether the meta information is differentiated through.
    pub second_order: bool,
}

/// The statistics of a backbone, or none for one without batch norm.
fn some<T: Float>(s: &mut [BatchNormStats<T>]) -> Option<&mut [BatchNormStats<T>]> {
    (!s.is_empty()).then_some(s)
}

/// The first `k` of `full` columns: an episode of fewer classes than the model was built for
/// uses the first `k` output units (the environment numbers an episode's classes 0..k).
fn first_columns<T: Float>(v: Var<T>, k: usize, full: usize) -> Var<T> {
    if k < full {
        v.narrow(1, 0, k)
    } else {
        v
    }
}

/// `x [Q, a]` times a weight per row `[Q, a, b]` → `[Q, b]`: each query's own fast weights.
fn per_row<T: Float>(x: Var<T>, w: Var<T>) -> Var<T> {
    (x.unsqueeze(2) * w).sum_axes(&[1], false)
}

impl MetaNet {
    /// Builds the model for `ways` classes of inputs of `input_shape`, adding its parameters to
    /// `params`.
    pub fn build<T: Float>(
        hp: &MetaNetParams,
        input_shape: &[usize],
        ways: usize,
        params: &mut Params<T>,
        rng: &mut Rng,
    ) -> Result<MetaNet> {
        let spec = BackboneSpec {
            kind: hp.backbone,
            hidden: hp.hidden.clone(),
            activation: Activation::Relu,
            init: Init::KaimingUniform,
            filters: hp.filters,
            out_dim: Some(hp.embedding_dim),
            layer_norm: false,
        };
        let base = Backbone::build(&spec, input_shape, "base.backbone", params, rng)?;
        let d = base.out_dim();
        let linear = |params: &mut Params<T>, rng: &mut Rng, name: &str, a: usize, b: usize| {
            Linear::new(params, name, a, b, true, Init::KaimingUniform, rng)
        };
        let base_hidden = linear(params, rng, "base.hidden", d, hp.base_hidden);
        let base_out = linear(params, rng, "base.out", hp.base_hidden, ways);
        let rep = Backbone::build(&spec, input_shape, "rep.backbone", params, rng)?;
        let rep_key = linear(params, rng, "rep.key", d, hp.key_dim);
        let rep_out = linear(params, rng, "rep.out", hp.key_dim, ways);
        let p = hp.grad_preprocess_p;
        let example_gen = ExampleGenerator::new(params, "gen.m", hp.generator_hidden, p, rng);
        let task_gen = TaskGenerator::new(params, "gen.d", hp.generator_hidden, p, rng);
        Ok(MetaNet {
            base,
            base_hidden,
            base_out,
            rep,
            rep_key,
            rep_out,
            example_gen,
            task_gen,
            ways,
            rep_chunks: hp.rep_chunks,
            second_order: hp.second_order,
        })
    }

    /// Fresh batch-norm running statistics: the base learner's, then the representation's.
    pub fn new_stats<T: Float>(&self) -> Vec<BatchNormStats<T>> {
        let mut s = self.base.new_stats();
        s.extend(self.rep.new_stats());
        s
    }

    /// Task-level fast weights `Q*` of the key layer from the support features `hs`.
    fn task_fast_weights<T: Float>(
        &self,
        w: &[Var<T>],
        hs: Var<T>,
        labels: &[usize],
        k: usize,
        create: CreateGraph,
    ) -> Var<T> {
        let pre = self.rep_key.forward(w, hs);
        let act = pre.relu();
        let logits = first_columns(self.rep_out.forward(w, act), k, self.ways);
        let w2 = first_columns(w[self.rep_out.weight], k, self.ways);
        let g = head_gradients(hs, pre, act, logits, w2, labels, create);
        let (a, b) = (self.rep_key.in_dim, self.rep_key.out_dim);
        let chunks = chunk_means(g.narrow(1, 0, a * b), self.rep_chunks);
        self.task_gen.forward(w, chunks).reshape(&[a, b])
    }

    /// The memory: example-level fast weights `[n_support, |W₁| + |W₂|]` (W₂'s first `k`
    /// columns).
    fn example_fast_weights<T: Float>(
        &self,
        w: &[Var<T>],
        hs: Var<T>,
        labels: &[usize],
        k: usize,
        create: CreateGraph,
    ) -> Var<T> {
        let pre = self.base_hidden.forward(w, hs);
        let act = pre.relu();
        let logits = first_columns(self.base_out.forward(w, act), k, self.ways);
        let w2 = first_columns(w[self.base_out.weight], k, self.ways);
        let g = head_gradients(hs, pre, act, logits, w2, labels, create);
        self.example_gen.forward(w, g)
    }

    /// Runs one episode with parameters `w`; batch norm (Conv4) as `mode` says.
    pub fn forward<T: Float>(
        &self,
        w: &[Var<T>],
        ep: &Episode,
        mode: BatchNormMode,
        stats: &mut [BatchNormStats<T>],
    ) -> Result<Output<T>> {
        let expected = self.new_stats::<T>().len();
        if stats.len() != expected {
            return Err(ModelBasedError::Incompatible(format!(
                "{} batch-norm statistics given, the model has {expected}",
                stats.len()
            )));
        }
        let k = ep.ways;
        if k > self.ways {
            return Err(ModelBasedError::Incompatible(format!(
                "a {k}-way episode for a model built for {} classes",
                self.ways
            )));
        }
        let cast = |x: &Tensor<f32>| x.mapv(|v| T::of(f64::from(v)));
        let x = Var::constant(cast(&ep.x));
        let (sb, sr) = stats.split_at_mut(self.base.new_stats::<T>().len());
        let hb = self.base.forward(w, x, mode, some(sb));
        let hr = self.rep.forward(w, x, mode, some(sr));
        let (n, q) = (ep.n_support(), ep.query_labels.len());
        let create = if self.second_order {
            CreateGraph::Yes
        } else {
            CreateGraph::No
        };

        // Task level: fast weights of the representation, then every example's key.
        let q_star = self.task_fast_weights(w, hr.narrow(0, 0, n), &ep.support_labels, k, create);
        let keys = self.rep_key.forward(w, hr) + hr.matmul(q_star);
        let (support_keys, query_keys) = (keys.narrow(0, 0, n), keys.narrow(0, n, q));

        // Example level: the memory of fast weights, read by attention for each query.
        let memory =
            self.example_fast_weights(w, hb.narrow(0, 0, n), &ep.support_labels, k, create);
        let attention = pairwise_cosine_similarity(query_keys, support_keys, 1e-8).softmax(1);
        let fast = attention.matmul(memory);
        let (a, h) = (self.base_hidden.in_dim, self.base_hidden.out_dim);
        let w1 = fast.narrow(1, 0, a * h).reshape(&[q, a, h]);
        let w2 = fast.narrow(1, a * h, h * k).reshape(&[q, h, k]);

        // The base learner, layer-augmented: slow and fast branches summed after activation.
        let hq = hb.narrow(0, n, q);
        let hidden = self.base_hidden.forward(w, hq).relu() + per_row(hq, w1).relu();
        let logits =
            first_columns(self.base_out.forward(w, hidden), k, self.ways) + per_row(hidden, w2);
        let loss = cross_entropy(logits, &ep.query_labels);
        Ok(Output { loss, logits })
    }
}
