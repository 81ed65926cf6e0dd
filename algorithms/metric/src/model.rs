//! A metric-based model: the embedding backbone and, per method, what compares embeddings
//! (prototypes, attention with optional full-context embeddings, a relation module).

use autodidact_core::{BatchNormMode, BatchNormStats, Params, Rng, Var};
use serde::{Deserialize, Serialize};

use crate::backbone::Backbone;
use crate::episode::Episode;
use crate::errors::{MetricError, Result};
use crate::fce::FullContext;
use crate::hyperparams::{MetricParams, Pooling, RelationInit, RelationInput};
use crate::matching::matching_loss;
use crate::proto::{proto_loss, Distance};
use crate::relation::{relation_loss, RelationModule};

/// Which metric-based method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// Matching Networks (Vinyals et al. 2016).
    Matching,
    /// Prototypical Networks (Snell et al. 2017).
    Proto,
    /// Relation Networks (Sung et al. 2018).
    Relation,
}

impl Method {
    /// The registry name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Matching => "matching-net",
            Method::Proto => "proto-net",
            Method::Relation => "relation-net",
        }
    }
}

/// What one episode's forward pass gives.
#[derive(Clone, Copy, Debug)]
pub struct EpisodeOutput {
    /// The training loss.
    pub loss: Var<f32>,
    /// `[n_query, ways]` scores whose argmax is the prediction (logits, probabilities or
    /// relation scores).
    pub scores: Var<f32>,
}

/// A metric-based few-shot classifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The method.
    pub method: Method,
    /// The embedding network.
    pub backbone: Backbone,
    /// Matching Networks' full-context embeddings, when on.
    pub fce: Option<FullContext>,
    /// Relation Networks' relation module.
    pub relation: Option<RelationModule>,
    /// Prototypical Networks' comparison.
    pub distance: Distance,
    /// Logit multiplier.
    pub scale: f64,
}

impl Model {
    /// Builds the model for an input shape, adding its parameters to `params`.
    pub fn build(
        method: Method,
        hp: &MetricParams,
        input_shape: &[usize],
        params: &mut Params<f32>,
        rng: &mut Rng,
    ) -> Result<Model> {
        let backbone = Backbone::build(hp, input_shape, params, rng)?;
        let dim = backbone.dim();
        let fce = (method == Method::Matching && hp.fce)
            .then(|| FullContext::new(params, dim, hp.fce_steps, rng));
        let relation = (method == Method::Relation).then(|| {
            let sqdiff = hp.relation_input == RelationInput::ConcatSqdiff;
            let module = if hp.relation_init != RelationInit::Kaiming {
                RelationModule::difference(params, dim, sqdiff, rng)
            } else {
                RelationModule::new(params, dim, hp.relation_hidden, sqdiff, rng)
            };
            module.with_mean_pooling(hp.relation_pooling == Pooling::Mean)
        });
        Ok(Model {
            method,
            backbone,
            fce,
            relation,
            distance: hp.distance,
            scale: hp.logit_scale,
        })
    }

    /// Support and query embeddings `([n_s, D], [n_q, D])` from one backbone pass.
    pub fn embed_episode(
        &self,
        p: &[Var<f32>],
        ep: &Episode<'_>,
        mode: BatchNormMode,
        stats: &mut [BatchNormStats<f32>],
    ) -> Result<(Var<f32>, Var<f32>)> {
        let x = ep.inputs()?;
        let z = self.backbone.embed(p, &x, mode, stats);
        let (ns, nq) = (ep.n_support(), ep.n_query());
        Ok((z.narrow(0, 0, ns), z.narrow(0, ns, nq)))
    }

    /// The loss and scores of an episode from its embeddings.
    pub fn head(
        &self,
        p: &[Var<f32>],
        ep: &Episode<'_>,
        support: Var<f32>,
        query: Var<f32>,
    ) -> Result<EpisodeOutput> {
        let (sy, qy, ways) = (ep.support_labels, ep.query_labels, ep.ways);
        let (loss, scores) = match self.method {
            Method::Proto => proto_loss(support, sy, query, qy, ways, self.distance, self.scale),
            Method::Matching => {
                let (s, q) = match &self.fce {
                    Some(f) => {
                        let g = f.support(p, support);
                        (g, f.query(p, query, g))
                    }
                    None => (support, query),
                };
                matching_loss(q, s, sy, qy, ways, self.scale)
            }
            Method::Relation => match &self.relation {
                Some(r) => relation_loss(r, p, support, sy, query, qy, ways),
                None => {
                    return Err(MetricError::Incompatible(
                        "a relation-net model needs its relation module".into(),
                    ))
                }
            },
        };
        Ok(EpisodeOutput { loss, scores })
    }

    /// The whole episode: embed, compare, score.
    pub fn episode(
        &self,
        p: &[Var<f32>],
        ep: &Episode<'_>,
        mode: BatchNormMode,
        stats: &mut [BatchNormStats<f32>],
    ) -> Result<EpisodeOutput> {
        let (s, q) = self.embed_episode(p, ep, mode, stats)?;
        self.head(p, ep, s, q)
    }
}
