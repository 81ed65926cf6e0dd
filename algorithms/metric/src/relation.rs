//! Relation Networks (Sung et al. 2018): each query embedding is concatenated with each class
//! embedding (the sum of that class's support embeddings), a learned relation module scores
//! the pair in (0, 1), and the loss is the MSE of the scores against one-hot targets.
//!
//! The relation module here is an MLP `[2D, hidden, 1]` with a sigmoid output on flat
//! embeddings (Sung et al. use two conv blocks on unpooled Conv4 maps, then this MLP; at
//! 28×28 our Conv4 features are 64×1×1, so the conv blocks would have no spatial extent).

use autodidact_core::layers::{Activation, Init, Mlp};
use autodidact_core::{mse, one_hot_var, Params, Rng, Var};
use serde::{Deserialize, Serialize};

use crate::proto::class_pooling;

/// The relation module g_φ.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelationModule {
    /// `[2D, hidden, 1]`, ReLU inside.
    pub mlp: Mlp,
    /// Class embeddings are means of the support embeddings instead of sums.
    #[serde(default)]
    pub mean_pooling: bool,
}

impl RelationModule {
    /// Adds the module for embeddings of width `dim` to `params`.
    pub fn new(params: &mut Params<f32>, dim: usize, hidden: usize, rng: &mut Rng) -> Self {
        RelationModule {
            mlp: Mlp::new(
                params,
                "relation",
                &[2 * dim, hidden, 1],
                Activation::Relu,
                Init::KaimingUniform,
                rng,
            ),
            mean_pooling: false,
        }
    }

    /// The same module, pooling each class's support embeddings by their mean (`true`) or
    /// sum (`false`, Sung et al.).
    pub fn with_mean_pooling(mut self, mean: bool) -> Self {
        self.mean_pooling = mean;
        self
    }

    /// Relation scores `[n_query, ways]` of every query with every class embedding.
    pub fn scores(&self, p: &[Var<f32>], query: Var<f32>, classes: Var<f32>) -> Var<f32> {
        let m = query.shape()[0];
        let ways = classes.shape()[0];
        let qi: Vec<usize> = (0..m).flat_map(|q| std::iter::repeat_n(q, ways)).collect();
        let ci: Vec<usize> = (0..m).flat_map(|_| 0..ways).collect();
        let pairs = Var::concat(&[query.index_select(&qi), classes.index_select(&ci)], 1);
        self.mlp.forward(p, pairs).sigmoid().reshape(&[m, ways])
    }
}

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
