//! Relation Networks (Sung et al. 2018): each query embedding is concatenated with each class
//! embedding (the sum of that class's support embeddings), a learned relation module scores
//! the pair in (0, 1), and the loss is the MSE of the scores against one-hot targets.
//!
//! The relation module here is an MLP `[2D, hidden, 1]` with a sigmoid output on flat
//! embeddings (Sung et al. use two conv blocks on unpooled Conv4 maps, then this MLP; at
//! 28×28 our Conv4 features are 64×1×1, so the conv blocks would have no spatial extent).

use autodidact_core::layers::{Activation, Init, Mlp};
use autodidact_core::ndarray::IxDyn;
use autodidact_core::{mse, one_hot_var, Params, Rng, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::proto::class_pooling;

/// The relation module g_φ.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelationModule {
    /// `[2D, hidden, 1]` (or `[3D, hidden, 1]` with `sqdiff`), ReLU inside.
    pub mlp: Mlp,
    /// Class embeddings are means of the support embeddings instead of sums.
    #[serde(default)]
    pub mean_pooling: bool,
    /// The pair is `[a, b, (a − b)²]` instead of `[a, b]`.
    #[serde(default)]
    pub sqdiff: bool,
}

impl RelationModule {
    /// Adds the module for embeddings of width `dim` to `params` (Kaiming initialisation);
    /// `sqdiff` appends the squared differences to each concatenated pair.
    pub fn new(
        params: &mut Params<f32>,
        dim: usize,
        hidden: usize,
        sqdiff: bool,
        rng: &mut Rng,
    ) -> Self {
        let input = if sqdiff { 3 * dim } else { 2 * dim };
        RelationModule {
            mlp: Mlp::new(
                params,
                "relation",
                &[input, hidden, 1],
                Activation::Relu,
                Init::KaimingUniform,
                rng,
            ),
            mean_pooling: false,
            sqdiff,
        }
    }

    /// A module that starts as a distance, with output `sigmoid(−s · distance)`, `s = 1/√D`:
    ///
    /// - on `[a, b]` (`sqdiff = false`; hidden width 2D) the L1 distance: hidden unit `d`
    ///   computes `relu(a_d − b_d)` and unit `D + d` computes `relu(b_d − a_d)`;
    /// - on `[a, b, (a − b)²]` (hidden width D) the squared Euclidean one: unit `d` passes
    ///   `(a_d − b_d)²` through, and the weights on `a` and `b` start at zero.
    ///
    /// Still Sung et al.'s MLP on the concatenated pair, and every weight is trained; only the
    /// starting point differs. From a random start the module has to discover that a pair's
    /// two halves should be compared, which a few dozen training classes (BANKING77's 46
    /// intents) do not teach: it falls into the all-zero scores that the MSE against one-hot
    /// targets rewards. Starting at a distance, the untrained module ranks classes like a
    /// nearest-prototype classifier, and training reweighs and reshapes the comparison.
    pub fn difference(params: &mut Params<f32>, dim: usize, sqdiff: bool, rng: &mut Rng) -> Self {
        let hidden = if sqdiff { dim } else { 2 * dim };
        let module = RelationModule::new(params, dim, hidden, sqdiff, rng);
        let (first, last) = (&module.mlp.layers[0], &module.mlp.layers[1]);
        let input = module.mlp.layers[0].in_dim;
        let w1 = Tensor::from_shape_fn(IxDyn(&[input, hidden]), |ix| {
            let (i, o) = (ix[0], ix[1]);
            if sqdiff {
                // Only the squared-difference block, feature by feature.
                return if i >= 2 * dim && i - 2 * dim == o {
                    1.0
                } else {
                    0.0
                };
            }
            // Input i < D is a (the query), i >= D is b (the class); unit o < D is a − b.
            let (feature, sign) = if i < dim { (i, 1.0) } else { (i - dim, -1.0) };
            if o % dim != feature {
                0.0
            } else if o < dim {
                sign
            } else {
                -sign
            }
        });
        let s = 1.0 / (dim as f32).sqrt();
        let w2 = Tensor::from_elem(IxDyn(&[hidden, 1]), -s);
        let t = params.tensors_mut();
        t[first.weight] = w1;
        t[last.weight] = w2;
        for b in [first.bias, last.bias].into_iter().flatten() {
            t[b].fill(0.0);
        }
        module
    }

    /// The same module, pooling each class's support embeddings by their mean (`true`) or
    /// sum (`false`, Sung et al.).
    pub fn with_mean_pooling(mut self, mean: bool) -> Self {
        self.mean_pooling = mean;
        self
    }

    /// Relation scores `[n_query, ways]` of every query with every class embedding.
    pub fn scores(&self, p: &[Var<f32>], query: Var<f32>, classes: Var<f32>) -> Var<f32> {
        self.logits(p, query, classes).sigmoid()
    }

    /// The scores before the sigmoid, `[n_query, ways]`.
    pub fn logits(&self, p: &[Var<f32>], query: Var<f32>, classes: Var<f32>) -> Var<f32> {
        let (m, ways) = (query.shape()[0], classes.shape()[0]);
        self.mlp
            .forward(p, self.pairs(query, classes))
            .reshape(&[m, ways])
    }

    /// The module's input rows, query-major: `[a, b]` or `[a, b, (a − b)²]` for every query
    /// `a` and class embedding `b`.
    pub fn pairs(&self, query: Var<f32>, classes: Var<f32>) -> Var<f32> {
        let m = query.shape()[0];
        let ways = classes.shape()[0];
        let qi: Vec<usize> = (0..m).flat_map(|q| std::iter::repeat_n(q, ways)).collect();
        let ci: Vec<usize> = (0..m).flat_map(|_| 0..ways).collect();
        let (a, b) = (query.index_select(&qi), classes.index_select(&ci));
        if self.sqdiff {
            Var::concat(&[a, b, (a - b).square()], 1)
        } else {
            Var::concat(&[a, b], 1)
        }
    }

    /// Rescales a two-layer module on one episode's embeddings (`relation_init =
    /// "difference-calibrated"`), so that training starts from a distance it can reshape:
    ///
    /// 1. the first layer by `1/μ`, `μ` the mean hidden activation over the episode's
    ///    query–class pairs, so hidden units carry values of order 1 — on a difference start
    ///    each unit is one feature's `(a_d − b_d)²` (or `|a_d − b_d|`), which for 5-shot means
    ///    of sparse text features is of order 1e-3, so the first Adam steps on the pair
    ///    weights (each moving by about the learning rate) would outweigh it;
    /// 2. the output layer so that a logit becomes `κ·(1 − 2·d/d̄)` (κ = [`CALIBRATED_LOGIT`],
    ///    `d̄` the episode's mean distance): `+κ` for identical embeddings, 0 at half the mean
    ///    distance, `−κ` at the mean, instead of scores that all sit near 0.5.
    ///
    /// Both are positive rescalings (ReLU is positively homogeneous) plus a constant, so the
    /// ranking of classes is unchanged. Does nothing unless the module has two layers and the
    /// episode has a positive mean activation and distance.
    pub fn calibrate(
        &self,
        params: &mut Params<f32>,
        p: &[Var<f32>],
        query: Var<f32>,
        classes: Var<f32>,
    ) {
        let [first, last] = self.mlp.layers.as_slice() else {
            return;
        };
        let hidden = self
            .mlp
            .activation
            .apply(first.forward(p, self.pairs(query, classes)))
            .value();
        let mu = hidden.mean().unwrap_or(0.0);
        let logits = self.logits(p, query, classes).value();
        let b2 = last.bias.map_or(0.0, |b| params.tensors()[b].sum());
        // Mean of `w2·h` after the first layer's rescaling.
        let spread = (logits.mean().unwrap_or(0.0) - b2) / mu;
        if !(mu > 0.0 && mu.is_finite() && spread < 0.0 && spread.is_finite()) {
            return;
        }
        let alpha = -2.0 * CALIBRATED_LOGIT / spread;
        let t = params.tensors_mut();
        for index in std::iter::once(first.weight).chain(first.bias) {
            t[index].mapv_inplace(|w| w / mu);
        }
        t[last.weight].mapv_inplace(|w| w * alpha);
        if let Some(b) = last.bias {
            t[b].fill(CALIBRATED_LOGIT);
        }
    }
}

/// The logit a calibrated difference start gives to identical embeddings (and minus it at
/// the episode's mean distance): sigmoid(±2) = 0.88 / 0.12.
pub const CALIBRATED_LOGIT: f32 = 2.0;

/// Class embeddings `[ways, D]`: the sum of each class's support embeddings.
pub fn class_embeddings(support: Var<f32>, labels: &[usize], ways: usize) -> Var<f32> {
    class_pooling(labels, ways, false).matmul(support)
}

/// The episode loss (MSE to one-hot targets) and the relation scores.
pub fn relation_loss(
    module: &RelationModule,
    p: &[Var<f32>],
    support: Var<f32>,
    support_labels: &[usize],
    query: Var<f32>,
    query_labels: &[usize],
    ways: usize,
) -> (Var<f32>, Var<f32>) {
    let classes = class_pooling(support_labels, ways, module.mean_pooling).matmul(support);
    let scores = module.scores(p, query, classes);
    (mse(scores, one_hot_var(query_labels, ways)), scores)
}
