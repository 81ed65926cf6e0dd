//! The meta-learner the runner drives: one meta-iteration per training step, validation,
//! evaluation on held-out tasks, and exact checkpoints.

use autodidact_core::optim::{clip_grad_norm, values, Optimizer};
use autodidact_core::{
    Adam, Algorithm, Config, CoreError, CreateGraph, EnvInstance, EnvSpec, Metrics, Params, Seed,
    Split, Tape, Task, TaskDistribution, Tensor,
};
use serde::{Deserialize, Serialize};

use crate::anil::anil_meta_loss;
use crate::errors::{GradientError, Result};
use crate::evaluate::{evaluate_tasks, TestAdaptation};
use crate::hyperparams::{resolve, MetaParams};
use crate::maml::maml_meta_loss;
use crate::meta_sgd::meta_sgd_meta_loss;
use crate::model::Model;
use crate::reptile::reptile_update;

/// Which gradient-based method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// MAML (second order unless `first_order`).
    Maml,
    /// First-order MAML.
    FoMaml,
    /// Reptile.
    Reptile,
    /// Meta-SGD.
    MetaSgd,
    /// ANIL.
    Anil,
}

impl Method {
    /// The registry name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Maml => "maml",
            Method::FoMaml => "fomaml",
            Method::Reptile => "reptile",
            Method::MetaSgd => "meta-sgd",
            Method::Anil => "anil",
        }
    }
}

/// Everything a checkpoint holds.
#[derive(Serialize, Deserialize)]
struct State {
    method: Method,
    iteration: u64,
    params: Params<f32>,
    opt: Adam<f32>,
    loss_sum: f64,
    loss_count: u64,
}

/// A gradient-based meta-learner bound to a few-shot task distribution.
pub struct MetaLearner {
    method: Method,
    hp: MetaParams,
    model: Model,
    /// θ, then (Meta-SGD) the learned inner rates.
    params: Params<f32>,
    n_model: usize,
    opt: Adam<f32>,
    dist: Box<dyn TaskDistribution>,
    seed: Seed,
    iteration: u64,
    loss_sum: f64,
    loss_count: u64,
}

impl MetaLearner {
    /// Builds a learner for `method` from a configuration over its defaults.
    pub fn new(method: Method, config: &Config, env: &EnvSpec, seed: Seed) -> Result<MetaLearner> {
        let hp = resolve(method.name(), config)?;
        let dist = match env.instantiate(seed.derive("env"))? {
            EnvInstance::Tasks(d) => d,
            other => {
                return Err(GradientError::Core(CoreError::WrongEnvKind {
                    algorithm: method.name().into(),
                    expected: "a few-shot task distribution".into(),
                    env: env.name().into(),
                    actual: other.kind().describe().into(),
                }))
            }
        };
        Self::with_distribution(method, hp, dist, seed)
    }

    /// Builds a learner on a task distribution directly (no registry).
    pub fn with_distribution(
        method: Method,
        hp: MetaParams,
        dist: Box<dyn TaskDistribution>,
        seed: Seed,
    ) -> Result<MetaLearner> {
        let mut params = Params::new();
        let mut rng = seed.rng("init");
        let model = Model::build(&hp, dist.kind(), &dist.input_shape(), &mut params, &mut rng)?;
        let n_model = params.len();
        if method == Method::MetaSgd {
            for i in 0..n_model {
                let name = format!("inner_lr.{}", params.names()[i]);
                let alpha = Tensor::from_elem(params.tensors()[i].raw_dim(), hp.inner_lr as f32);
                params.insert(name, alpha);
            }
        }
        let opt = Adam::new(hp.outer_lr);
        Ok(MetaLearner {
            method,
            hp,
            model,
            params,
            n_model,
            opt,
            dist,
            seed,
            iteration: 0,
            loss_sum: 0.0,
            loss_count: 0,
        })
    }

    /// The hyperparameters.
    pub fn hyperparams(&self) -> &MetaParams {
        &self.hp
    }

    /// The parameters (θ, then Meta-SGD's rates).
    pub fn params(&self) -> &Params<f32> {
        &self.params
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    fn first_order(&self) -> bool {
        self.method == Method::FoMaml || self.hp.first_order
    }

    fn train_tasks(&self) -> Result<Vec<Task>> {
        let b = self.hp.meta_batch as u64;
        let seed = self.seed.derive("meta-train");
        (0..b)
            .map(|i| Ok(self.dist.task(Split::Train, seed, self.iteration * b + i)?))
            .collect()
    }

    /// One meta-iteration; returns the meta-loss (the mean query loss after adaptation).
    pub fn meta_step(&mut self) -> Result<f64> {
        let tasks = self.train_tasks()?;
        let hp = &self.hp;
        let loss = if self.method == Method::Reptile {
            let eps = if hp.anneal {
                hp.outer_lr * (1.0 - self.iteration as f64 / hp.meta_iterations as f64)
            } else {
                hp.outer_lr
            };
            let new = reptile_update(
                &self.model,
                &self.params,
                &tasks,
                hp.inner_lr,
                hp.inner_steps,
                eps,
            );
            self.params.assign(new)?;
            // Reptile has no meta-loss of its own; report the post-adaptation query loss.
            let tape = Tape::<f32>::new();
            let theta = tape.params(&self.params);
            maml_meta_loss(
                &self.model,
                &theta,
                &tasks,
                hp.inner_lr,
                hp.inner_steps,
                true,
            )
            .item()
        } else {
            let tape = Tape::<f32>::new();
            let vars = tape.params(&self.params);
            let (theta, alphas) = vars.split_at(self.n_model);
            let fo = self.first_order();
            let meta = match self.method {
                Method::MetaSgd => {
                    meta_sgd_meta_loss(&self.model, theta, alphas, &tasks, hp.inner_steps, fo)
                }
                Method::Anil => {
                    anil_meta_loss(&self.model, theta, &tasks, hp.inner_lr, hp.inner_steps, fo)
                }
                _ => maml_meta_loss(&self.model, theta, &tasks, hp.inner_lr, hp.inner_steps, fo),
            };
            let value = meta.item();
            if !value.is_finite() {
                return Err(GradientError::NonFinite {
                    iteration: self.iteration,
                    value,
                });
            }
            let mut grads = values(&tape.grad(&meta, &vars, CreateGraph::No));
            if hp.grad_clip > 0.0 {
                clip_grad_norm(&mut grads, hp.grad_clip);
            }
            self.opt.step(&mut self.params, &grads)?;
            value
        };
        self.iteration += 1;
        Ok(loss)
    }

    fn adaptation(&self, steps: usize) -> TestAdaptation {
        TestAdaptation {
            steps,
            inner_lr: self.hp.inner_lr,
            learned_lr_from: (self.method == Method::MetaSgd).then_some(self.n_model),
            head_only: self.method == Method::Anil,
        }
    }

    /// Evaluates on held-out tasks of a split (the training distribution, or another).
    pub fn evaluate_on(
        &self,
        dist: &dyn TaskDistribution,
        split: Split,
        n_tasks: usize,
        prefix: &str,
    ) -> Result<Metrics> {
        let seed = self.seed.derive(split.name()).derive("evaluation");
        let how = self.adaptation(self.hp.test_inner_steps);
        evaluate_tasks(
            &self.model,
            &self.params,
            self.n_model,
            dist,
            split,
            n_tasks,
            seed,
            &how,
            prefix,
        )
    }
}

impl Algorithm for MetaLearner {
    fn total_steps(&self) -> u64 {
        self.hp.meta_iterations
    }

    fn steps_done(&self) -> u64 {
        self.iteration
    }

    fn train_step(&mut self) -> autodidact_core::Result<Metrics> {
        let loss = self.meta_step()?;
        self.loss_sum += loss;
        self.loss_count += 1;
        let mut m = Metrics::new();
        let done = self.iteration == self.hp.meta_iterations;
        if self.iteration.is_multiple_of(self.hp.log_every) || done {
            m.insert(
                "meta_loss".into(),
                self.loss_sum / self.loss_count.max(1) as f64,
            );
            self.loss_sum = 0.0;
            self.loss_count = 0;
        }
        if self.hp.val_every > 0 && (self.iteration.is_multiple_of(self.hp.val_every) || done) {
            let v = self.evaluate_on(
                self.dist.as_ref(),
                Split::Validation,
                self.hp.val_tasks,
                "val_",
            )?;
            m.extend(v);
        }
        Ok(m)
    }

    fn evaluate(&mut self, env: Option<&EnvInstance>) -> autodidact_core::Result<Metrics> {
        let dist: &dyn TaskDistribution = match env {
            None => self.dist.as_ref(),
            Some(EnvInstance::Tasks(d)) => {
                if d.kind() != self.dist.kind() || d.input_shape() != self.dist.input_shape() {
                    return Err(CoreError::Env(format!(
                        "this checkpoint was trained on {:?} tasks with inputs {:?}; the evaluation environment has {:?} with inputs {:?}",
                        self.dist.kind(),
                        self.dist.input_shape(),
                        d.kind(),
                        d.input_shape()
                    )));
                }
                d.as_ref()
            }
            Some(other) => {
                return Err(CoreError::Env(format!(
                    "{} evaluates on few-shot task distributions, not on {}",
                    self.method.name(),
                    other.kind().describe()
                )))
            }
        };
        Ok(self.evaluate_on(dist, Split::Test, self.hp.eval_tasks, "")?)
    }

    fn save(&self) -> autodidact_core::Result<Vec<u8>> {
        let state = State {
            method: self.method,
            iteration: self.iteration,
            params: self.params.clone(),
            opt: self.opt.clone(),
            loss_sum: self.loss_sum,
            loss_count: self.loss_count,
        };
        serde_json::to_vec(&state).map_err(|e| CoreError::Serde(e.to_string()))
    }

    fn load(&mut self, bytes: &[u8]) -> autodidact_core::Result<()> {
        let state: State = serde_json::from_slice(bytes).map_err(|e| {
            CoreError::Checkpoint(format!("not a {} checkpoint: {e}", self.method.name()))
        })?;
        if state.method != self.method {
            return Err(CoreError::Checkpoint(format!(
                "the checkpoint is of {}, not {}",
                state.method.name(),
                self.method.name()
            )));
        }
        self.params.check_compatible(&state.params)?;
        self.params = state.params;
        self.opt = state.opt;
        self.iteration = state.iteration;
        self.loss_sum = state.loss_sum;
        self.loss_count = state.loss_count;
        Ok(())
    }

    fn headline_metric(&self) -> &'static str {
        "meta_loss"
    }
}
