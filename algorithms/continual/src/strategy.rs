//! The strategy trait: what a continual-learning method adds to plain fine-tuning, as hooks
//! around each experience and each update, and the objective it shares with the learner.

use autodidact_core::optim::values;
use autodidact_core::{
    BatchNormStats, CreateGraph, Metrics, Params, Rng, Scenario, Tape, Tensor, Var,
};

use crate::data::{Batch, StreamData};
use crate::errors::Result;
use crate::model::{Model, Routing};

/// The training loss as the learner defines it at one point of the stream: which classes each
/// example may be predicted as, and how the backbone normalises.
pub struct Objective<'a> {
    /// The model.
    pub model: &'a Model,
    /// The stream.
    pub data: &'a StreamData,
    /// Per experience, which global classes it holds.
    pub exp_classes: &'a [Vec<bool>],
    /// Classes seen up to and including the current experience.
    pub seen: &'a [bool],
    /// The experience being trained (or just trained).
    pub current: usize,
    /// Class-incremental: restrict rows to the classes seen so far.
    pub mask_unseen: bool,
    /// Labels trick / ER-ACE: the current experience's rows are restricted to its own classes.
    pub ace: bool,
    /// Conv4 running statistics, used (not updated) by [`Objective::loss`].
    pub stats: &'a [BatchNormStats<f32>],
}

impl<'a> Objective<'a> {
    /// The classes a row of experience `e` may be predicted as on a single head (`None`:
    /// all).
    pub fn allowed(&self, e: usize) -> Option<&'a [bool]> {
        match self.data.scenario {
            Scenario::TaskIncremental => Some(&self.exp_classes[e]),
            Scenario::ClassIncremental => {
                if self.ace && e == self.current {
                    Some(&self.exp_classes[e])
                } else if self.mask_unseen && self.seen.iter().any(|&s| s) {
                    Some(self.seen)
                } else {
                    None
                }
            }
            Scenario::DomainIncremental => None,
        }
    }

    /// The routing of a batch.
    pub fn routing(&self, batch: &Batch) -> Routing {
        self.model.route(batch, self.data, |e| self.allowed(e))
    }

    /// Backbone features in evaluation mode (Conv4: the running statistics).
    pub fn features(&self, p: &[Var<f32>], x: Var<f32>) -> Var<f32> {
        if self.stats.is_empty() {
            self.model.features(p, x, false, None)
        } else {
            let mut st = self.stats.to_vec();
            self.model.features(p, x, false, Some(&mut st))
        }
    }

    /// The mean loss of a batch with parameters `p`.
    pub fn loss(&self, p: &[Var<f32>], batch: &Batch) -> Var<f32> {
        let x = self.model.input(&batch.x, batch.len());
        let h = self.features(p, x);
        self.model.loss(p, h, &self.routing(batch))
    }

    /// The gradient of the mean loss of a batch at `params`, and the loss.
    pub fn gradient(&self, params: &Params<f32>, batch: &Batch) -> (Vec<Tensor<f32>>, f64) {
        let tape = Tape::<f32>::new();
        let vars = tape.params(params);
        let loss = self.loss(&vars, batch);
        let g = values(&tape.grad(&loss, &vars, CreateGraph::No));
        (g, loss.item())
    }
}

/// What a strategy sees at an experience boundary or an update.
pub struct Context<'a, 'o> {
    /// The objective.
    pub objective: &'o Objective<'a>,
    /// The parameters.
    pub params: &'o Params<f32>,
    /// The experience.
    pub experience: usize,
    /// The strategy's generator (checkpointed by the learner).
    pub rng: &'o mut Rng,
}

/// What a strategy sees when it adds a penalty to a minibatch's loss.
pub struct PenaltyInput<'a, 'o> {
    /// The objective.
    pub objective: &'o Objective<'a>,
    /// The parameters as variables.
    pub vars: &'o [Var<f32>],
    /// The minibatch.
    pub batch: &'o Batch,
    /// Its inputs as the body takes them.
    pub x: Var<f32>,
    /// Its backbone features.
    pub features: Var<f32>,
}

/// What a strategy that makes its own updates sees (MER).
pub struct UpdateInput<'a, 'o> {
    /// The objective.
    pub objective: &'o Objective<'a>,
    /// The parameters, to update in place.
    pub params: &'o mut Params<f32>,
    /// The incoming examples, in order.
    pub batch: &'o Batch,
    /// The strategy's generator.
    pub rng: &'o mut Rng,
}

/// A continual-learning strategy: hooks around experiences and updates. Every hook has a
/// default that does nothing, so Naive fine-tuning implements none.
pub trait Strategy: Send {
    /// The registry name.
    fn name(&self) -> &'static str;

    /// Called before the first epoch of an experience.
    fn before_experience(&mut self, _ctx: &mut Context<'_, '_>) -> Result<()> {
        Ok(())
    }

    /// Called after the last epoch of an experience (before its evaluation).
    fn after_experience(&mut self, _ctx: &mut Context<'_, '_>) -> Result<()> {
        Ok(())
    }

    /// The experiences whose training data make up an epoch on experience `current`.
    fn training_experiences(&self, current: usize) -> Vec<usize> {
        vec![current]
    }

    /// Examples to mix into a minibatch (experience replay).
    fn replay(&mut self, _n: usize, _rng: &mut Rng) -> Option<Batch> {
        None
    }

    /// A term added to the minibatch's loss (regularisation, distillation).
    fn penalty(&self, _input: &PenaltyInput<'_, '_>) -> Option<Var<f32>> {
        None
    }

    /// Changes the update direction before the optimiser step (gradient projection).
    fn project(&mut self, _grads: &mut [Tensor<f32>], _ctx: &mut Context<'_, '_>) -> Result<()> {
        Ok(())
    }

    /// Whether [`Strategy::after_update`] needs the parameters before and after each step.
    fn tracks_updates(&self) -> bool {
        false
    }

    /// Called after each optimiser step with the parameters before and after it and the
    /// gradient of the task loss alone (without the penalty).
    fn after_update(
        &mut self,
        _before: &Params<f32>,
        _after: &Params<f32>,
        _task_grads: &[Tensor<f32>],
    ) {
    }

    /// Replaces the learner's optimiser step on a minibatch of incoming examples (MER's
    /// per-example meta-updates); returns the mean loss, or `None` to let the learner update.
    fn update(&mut self, _input: UpdateInput<'_, '_>) -> Result<Option<f64>> {
        Ok(None)
    }

    /// Online protocol: called after the update on each incoming example (a memory offers it
    /// a place here, since the example will not come again).
    fn after_example(&mut self, _example: &Batch, _rng: &mut Rng) {}

    /// Metrics about the strategy's state (memory size, projections).
    fn metrics(&self) -> Metrics {
        Metrics::new()
    }

    /// The strategy's whole state, for a checkpoint.
    fn save_state(&self) -> Result<serde_json::Value>;

    /// Restores a state written by [`Strategy::save_state`].
    fn load_state(&mut self, state: serde_json::Value) -> Result<()>;
}

/// `Σₖ weightsₖ ⊙ (θₖ − anchorₖ)²` as a variable.
pub fn weighted_sq_distance(
    vars: &[Var<f32>],
    weights: &[Tensor<f32>],
    anchor: &[Tensor<f32>],
) -> Var<f32> {
    let mut total: Option<Var<f32>> = None;
    for ((&v, w), a) in vars.iter().zip(weights).zip(anchor) {
        let term = (Var::constant_from(w) * (v - Var::constant_from(a)).square()).sum();
        total = Some(match total {
            Some(t) => t + term,
            None => term,
        });
    }
    total.unwrap_or_else(|| Var::scalar(0.0))
}

/// Dot product of two gradient lists.
pub fn dot(a: &[Tensor<f32>], b: &[Tensor<f32>]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            x.iter()
                .zip(y.iter())
                .map(|(&p, &q)| p as f64 * q as f64)
                .sum::<f64>()
        })
        .sum()
}
