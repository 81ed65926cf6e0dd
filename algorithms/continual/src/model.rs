//! The network: an MLP or Conv4 backbone with one head over every class, or one head per
//! task (task-incremental), run functionally on a parameter list; routing of each example to
//! its head and to the classes it may predict.

use autodidact_core::layers::{Activation, Backbone, BackboneSpec, Conv4, Init, Linear};
use autodidact_core::{
    cross_entropy, layer_norm, BatchNormMode, BatchNormStats, Params, Rng, Scenario, Tensor, Var,
};
use ndarray::{Array2, IxDyn};
use serde::{Deserialize, Serialize};

use crate::data::{Batch, StreamData};
use crate::errors::{ContinualError, Result};
use crate::hyperparams::{ContinualParams, Head, Norm};

/// The logit given to classes a row may not predict.
pub const MASKED: f32 = -1.0e9;

/// One hidden layer of the MLP: a linear map, optionally layer-normalised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HiddenLayer {
    /// The linear map.
    pub linear: Linear,
    /// Layer-norm scale and shift indices, when normalised.
    pub norm: Option<(usize, usize)>,
}

/// The backbone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Body {
    /// Hidden layers on flattened inputs, each followed by the activation.
    Mlp {
        /// The hidden layers.
        layers: Vec<HiddenLayer>,
        /// The activation.
        activation: Activation,
    },
    /// Conv4 features.
    Conv4(Conv4),
}

/// The model: a backbone and its heads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The backbone.
    pub body: Body,
    /// One head over every class, or one per task.
    pub heads: Vec<Linear>,
    /// Whether there is one head per task.
    pub multi_head: bool,
    /// The global classes of each head's outputs, in output order.
    pub head_classes: Vec<Vec<usize>>,
    /// Shape of one example.
    pub input_shape: Vec<usize>,
    /// Classes over the whole stream.
    pub num_classes: usize,
}

/// Where each row of a batch goes: its head, its label on that head, and (single head) the
/// classes it may predict.
#[derive(Clone, Debug, PartialEq)]
pub struct Routing {
    /// Head index per row.
    pub head: Vec<usize>,
    /// Label per row, as an output index of its head.
    pub label: Vec<usize>,
    /// Additive `[rows, classes]` mask (0 or [`MASKED`]) for a single head, if any.
    pub mask: Option<Tensor<f32>>,
}

impl Model {
    /// Builds the model for a stream, adding its parameters to `params`.
    pub fn build(
        hp: &ContinualParams,
        data: &StreamData,
        params: &mut Params<f32>,
        rng: &mut Rng,
    ) -> Result<Model> {
        let shape = &data.input_shape;
        let spec = BackboneSpec {
            kind: hp.backbone,
            hidden: hp.hidden.clone(),
            activation: hp.activation,
            init: Init::KaimingUniform,
            filters: hp.filters,
            out_dim: None,
            layer_norm: hp.norm == Norm::Layer,
        };
        let built = Backbone::build(&spec, shape, "body", params, rng)
            .map_err(|e| ContinualError::Incompatible(e.to_string()))?;
        let (body, feature_dim) = match built {
            Backbone::Conv4(conv) => {
                let d = conv.feature_dim();
                (Body::Conv4(conv), d)
            }
            Backbone::Mlp { mlp, norms, .. } => {
                let d = mlp.layers.last().map_or(data.dim, |l| l.out_dim);
                let mut norms = norms.into_iter();
                let layers = mlp
                    .layers
                    .into_iter()
                    .map(|linear| HiddenLayer {
                        linear,
                        norm: if spec.layer_norm { norms.next() } else { None },
                    })
                    .collect();
                let activation = mlp.activation;
                (Body::Mlp { layers, activation }, d)
            }
            Backbone::Diagonal { .. } => {
                return Err(ContinualError::Incompatible(
                    "the continual strategies train an mlp or conv4 backbone, not diagonal".into(),
                ))
            }
        };
        let multi_head = match hp.head {
            Head::Multi => true,
            Head::Single => false,
            Head::Auto => data.scenario == Scenario::TaskIncremental,
        };
        if multi_head && data.scenario != Scenario::TaskIncremental {
            return Err(ContinualError::Incompatible(format!(
                "one head per task needs task ids at test time: a task-incremental stream, not {:?}",
                data.scenario
            )));
        }
        let head_classes: Vec<Vec<usize>> = if multi_head {
            data.experiences.iter().map(|e| e.classes.clone()).collect()
        } else {
            vec![(0..data.num_classes).collect()]
        };
        let heads = head_classes
            .iter()
            .enumerate()
            .map(|(t, c)| {
                let name = if multi_head {
                    format!("head.{t}")
                } else {
                    "head".to_string()
                };
                Linear::new(
                    params,
                    &name,
                    feature_dim,
                    c.len(),
                    true,
                    Init::XavierUniform,
                    rng,
                )
            })
            .collect();
        Ok(Model {
            body,
            heads,
            multi_head,
            head_classes,
            input_shape: shape.clone(),
            num_classes: data.num_classes,
        })
    }

    /// Running batch-norm statistics the backbone needs (empty for an MLP).
    pub fn new_stats(&self) -> Vec<BatchNormStats<f32>> {
        match &self.body {
            Body::Conv4(c) => c.new_stats(),
            Body::Mlp { .. } => Vec::new(),
        }
    }

    /// Puts `n` examples back to back in the layout the body expects.
    pub fn input(&self, x: &[f32], n: usize) -> Var<f32> {
        let mut shape = vec![n];
        match &self.body {
            Body::Mlp { .. } => shape.push(self.input_shape.iter().product()),
            Body::Conv4(_) => shape.extend_from_slice(&self.input_shape),
        }
        let t = Tensor::from_shape_vec(IxDyn(&shape), x.to_vec())
            .unwrap_or_else(|_| Tensor::zeros(IxDyn(&shape)));
        Var::constant(t)
    }

    /// Backbone features. With `stats`, Conv4's batch norm trains (updating them) when
    /// `train`, else normalises with them; without, it uses batch statistics.
    pub fn features(
        &self,
        p: &[Var<f32>],
        x: Var<f32>,
        train: bool,
        stats: Option<&mut [BatchNormStats<f32>]>,
    ) -> Var<f32> {
        match &self.body {
            Body::Mlp { layers, activation } => layers.iter().fold(x, |h, l| {
                let mut z = l.linear.forward(p, h);
                if let Some((g, b)) = l.norm {
                    z = layer_norm(z, p[g], p[b], 1e-5);
                }
                activation.apply(z)
            }),
            Body::Conv4(c) => {
                let mode = match (&stats, train) {
                    (None, _) => BatchNormMode::BatchStats,
                    (Some(_), true) => BatchNormMode::Train,
                    (Some(_), false) => BatchNormMode::Eval,
                };
                c.forward(p, x, mode, stats)
            }
        }
    }

    /// The outputs of head `head` on features.
    pub fn head(&self, p: &[Var<f32>], h: Var<f32>, head: usize) -> Var<f32> {
        self.heads[head].forward(p, h)
    }

    /// Routes a batch: `allowed(e)` gives the classes a row of experience `e` may predict on a
    /// single head (`None`: every class).
    pub fn route<'a>(
        &self,
        batch: &Batch,
        data: &StreamData,
        mut allowed: impl FnMut(usize) -> Option<&'a [bool]>,
    ) -> Routing {
        let n = batch.len();
        if self.multi_head {
            let head: Vec<usize> = batch
                .exp
                .iter()
                .map(|&e| {
                    data.experiences[e]
                        .task_id
                        .unwrap_or(e)
                        .min(self.heads.len() - 1)
                })
                .collect();
            let label = batch
                .y
                .iter()
                .zip(&head)
                .map(|(&y, &h)| {
                    self.head_classes[h]
                        .iter()
                        .position(|&c| c == y)
                        .unwrap_or(0)
                })
                .collect();
            return Routing {
                head,
                label,
                mask: None,
            };
        }
        let c = self.num_classes;
        let mut mask: Option<Array2<f32>> = None;
        for (r, &e) in batch.exp.iter().enumerate() {
            if let Some(ok) = allowed(e) {
                let m = mask.get_or_insert_with(|| Array2::zeros((n, c)));
                for (k, &yes) in ok.iter().enumerate().take(c) {
                    if !yes {
                        m[[r, k]] = MASKED;
                    }
                }
            }
        }
        Routing {
            head: vec![0; n],
            label: batch.y.clone(),
            mask: mask.map(|m| m.into_dyn()),
        }
    }

    /// Masked logits of a single head (rows as routed).
    fn single_logits(&self, p: &[Var<f32>], h: Var<f32>, routing: &Routing) -> Var<f32> {
        let logits = self.head(p, h, 0);
        match &routing.mask {
            Some(m) => logits + Var::constant_from(m),
            None => logits,
        }
    }

    /// Mean cross-entropy of routed rows (multi-head: each head on its rows, weighted by
    /// their share of the batch).
    pub fn loss(&self, p: &[Var<f32>], h: Var<f32>, routing: &Routing) -> Var<f32> {
        if !self.multi_head {
            return cross_entropy(self.single_logits(p, h, routing), &routing.label);
        }
        let n = routing.head.len().max(1) as f64;
        let mut total: Option<Var<f32>> = None;
        for (head, rows) in group_rows(&routing.head) {
            let labels: Vec<usize> = rows.iter().map(|&r| routing.label[r]).collect();
            let part = cross_entropy(self.head(p, h.index_select(&rows), head), &labels)
                * (rows.len() as f64 / n);
            total = Some(match total {
                Some(t) => t + part,
                None => part,
            });
        }
        total.unwrap_or_else(|| Var::scalar(0.0))
    }

    /// Number of routed rows predicted right.
    pub fn correct(&self, p: &[Var<f32>], h: Var<f32>, routing: &Routing) -> usize {
        let count = |logits: Var<f32>, labels: &[usize]| {
            let pred = logits.argmax(1);
            pred.iter().zip(labels).filter(|(a, b)| *a == *b).count()
        };
        if !self.multi_head {
            return count(self.single_logits(p, h, routing), &routing.label);
        }
        group_rows(&routing.head)
            .into_iter()
            .map(|(head, rows)| {
                let labels: Vec<usize> = rows.iter().map(|&r| routing.label[r]).collect();
                count(self.head(p, h.index_select(&rows), head), &labels)
            })
            .sum()
    }
}

/// Rows grouped by head, heads in increasing order.
pub fn group_rows(heads: &[usize]) -> Vec<(usize, Vec<usize>)> {
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (r, &h) in heads.iter().enumerate() {
        groups.entry(h).or_default().push(r);
    }
    groups.into_iter().collect()
}
