//! The meta-learner the runner drives: one meta-iteration per training step, validation,
//! evaluation on held-out tasks, and exact checkpoints.

use std::sync::Arc;

use autodidact_core::config::Checked;
use autodidact_core::episodic::evaluation_distribution;
use autodidact_core::optim::{clip_grad_norm, values, Optimizer};
use autodidact_core::parallel;
use autodidact_core::{
    Adam, Algorithm, Better, Config, CoreError, CreateGraph, EnvInstance, EnvSpec, Metrics, Params,
    Seed, Split, Tape, Task, TaskDistribution, Tensor,
};
use serde::{Deserialize, Serialize};

use crate::anil::anil_meta_loss;
use crate::errors::{GradientError, Result};
use crate::evaluate::{evaluate_tasks, TestAdaptation};
use crate::hyperparams::{resolve, MetaParams};
use crate::maml::{maml_meta_loss, maml_meta_loss_batched};
use crate::meta_sgd::meta_sgd_meta_loss;
use crate::model::Model;
use crate::reptile::{reptile_combine, reptile_task};

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
    /// Workers for the meta-iteration (its tasks, and the large products within them) and the
    /// evaluation's tasks (`threads` > 1).
    pool: Option<Arc<parallel::ThreadPool>>,
}

impl MetaLearner {
    /// Builds a learner for `method` from a configuration over its defaults.
    pub fn new(method: Method, config: &Config, env: &EnvSpec, seed: Seed) -> Result<MetaLearner> {
        Self::on_env(method, resolve(method.name(), config)?, env, seed)
    }

    /// Builds a learner for `method` from checked parameters on a registered environment.
    pub fn on_env(
        method: Method,
        hp: Checked<MetaParams>,
        env: &EnvSpec,
        seed: Seed,
    ) -> Result<MetaLearner> {
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
        hp: Checked<MetaParams>,
        dist: Box<dyn TaskDistribution>,
        seed: Seed,
    ) -> Result<MetaLearner> {
        let mut params = Params::new();
        let mut rng = seed.rng("init");
        let model = Model::build(&hp, dist.kind(), &dist.input_shape(), &mut params, &mut rng)?;
        // One episode's activations must fit before training starts: a second-order
        // meta-gradient keeps every inner step's graph.
        let probe = dist.sample(Split::Train, &mut seed.rng("memory-probe"))?;
        let examples = probe.support_x.shape().first().copied().unwrap_or(0)
            + probe.query_x.shape().first().copied().unwrap_or(0);
        let second_order =
            !(method == Method::FoMaml || method == Method::Reptile || hp.first_order);
        let passes = if second_order {
            hp.inner_steps as f64 + 1.0
        } else {
            1.0
        };
        hp.backbone_spec(model.outputs)
            .check_episode(&dist.input_shape(), examples, passes)?;
        let n_model = params.len();
        if method == Method::MetaSgd {
            for i in 0..n_model {
                let name = format!("inner_lr.{}", params.names()[i]);
                let alpha = Tensor::from_elem(params.tensors()[i].raw_dim(), hp.inner_lr as f32);
                params.insert(name, alpha);
            }
        }
        let hp = hp.into_inner();
        let opt = Adam::new(hp.outer_lr);
        let pool = parallel::pool_for(hp.threads)?.map(Arc::new);
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
            pool,
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

    /// Runs `f` on every task, on the worker pool when there is one; results come back in
    /// task order, so whatever is summed from them does not depend on the thread count.
    fn map_tasks<R: Send>(&self, tasks: &[Task], f: impl Fn(&Task) -> R + Sync + Send) -> Vec<R> {
        parallel::ordered_map(self.pool.as_deref(), tasks, f)
    }

    /// One meta-iteration; returns the meta-loss (the mean query loss after adaptation).
    ///
    /// Each task gets a tape of its own: its meta-gradient is taken and the tape dropped
    /// before the next task, so memory holds one task's graph at a time (second-order Conv4
    /// graphs are hundreds of MB each), and tasks can run on several threads.
    pub fn meta_step(&mut self) -> Result<f64> {
        let tasks = self.train_tasks()?;
        let hp = &self.hp;
        let (model, params, n_model) = (&self.model, &self.params, self.n_model);
        let loss = if self.method == Method::Reptile {
            let eps = if hp.anneal {
                hp.outer_lr * (1.0 - self.iteration as f64 / hp.meta_iterations as f64)
            } else {
                hp.outer_lr
            };
            let per_task = self.map_tasks(&tasks, |task| {
                reptile_task(model, params, task, hp.inner_lr, hp.inner_steps)
            });
            let loss = per_task.iter().map(|(_, l)| l).sum::<f64>() / tasks.len().max(1) as f64;
            let phis: Vec<Vec<Tensor<f32>>> = per_task.into_iter().map(|(p, _)| p).collect();
            let new = reptile_combine(&self.params, &phis, eps);
            self.params.assign(new)?;
            loss
        } else {
            let fo = self.first_order();
            let method = self.method;
            // MAML on an MLP (sinusoid, feature vectors): every task in one batched pass on one
            // tape (the graph is small), whatever the thread count, so the numbers do not
            // depend on it. Conv4 graphs stay one task per tape.
            let batched = matches!(method, Method::Maml | Method::FoMaml)
                && crate::maml::batchable(model, &tasks);
            let (value, mut grads) = if batched {
                let tape = Tape::<f32>::new();
                let theta = tape.params(params);
                let loss =
                    maml_meta_loss_batched(model, &theta, &tasks, hp.inner_lr, hp.inner_steps, fo);
                // Already the mean over the meta-batch, as is its gradient.
                (
                    loss.item(),
                    values(&tape.grad(&loss, &theta, CreateGraph::No)),
                )
            } else {
                let per_task = self.map_tasks(&tasks, |task| {
                    let tape = Tape::<f32>::new();
                    let vars = tape.params(params);
                    let (theta, alphas) = vars.split_at(n_model);
                    let one = std::slice::from_ref(task);
                    let (lr, steps) = (hp.inner_lr, hp.inner_steps);
                    let loss = match method {
                        Method::MetaSgd => meta_sgd_meta_loss(model, theta, alphas, one, steps, fo),
                        Method::Anil => anil_meta_loss(model, theta, one, lr, steps, fo),
                        _ => maml_meta_loss(model, theta, one, lr, steps, fo),
                    };
                    (
                        loss.item(),
                        values(&tape.grad(&loss, &vars, CreateGraph::No)),
                    )
                });
                let scale = 1.0 / tasks.len().max(1) as f32;
                let mut value = 0.0;
                let mut grads: Vec<Tensor<f32>> = self.params.zeros_like();
                for (loss, g) in &per_task {
                    value += loss;
                    for (acc, gi) in grads.iter_mut().zip(g) {
                        acc.scaled_add(scale, gi);
                    }
                }
                (value / tasks.len().max(1) as f64, grads)
            };
            if !value.is_finite() {
                return Err(GradientError::NonFinite {
                    // 1-based, as the runner numbers iterations in its messages.
                    iteration: self.iteration + 1,
                    value,
                });
            }
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
            self.pool.as_deref(),
        )
    }
}

impl Algorithm for MetaLearner {
    fn total_steps(&self) -> u64 {
        self.hp.meta_iterations
    }

    fn is_finite(&self) -> bool {
        // Meta-SGD's rates live in the same store, so they are checked too.
        self.params.all_finite()
    }

    fn steps_done(&self) -> u64 {
        self.iteration
    }

    fn train_step(&mut self) -> autodidact_core::Result<Metrics> {
        // On the pool, so a batched MAML pass or a one-task meta-batch splits its large
        // products across the workers as well.
        let pool = self.pool.clone();
        let loss = parallel::install(pool.as_deref(), || self.meta_step())?;
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
        let own = self.dist.as_ref();
        let dist = evaluation_distribution(
            self.method.name(),
            own,
            env,
            "tasks of the same kind and inputs",
            |d| d.kind() == own.kind() && d.input_shape() == own.input_shape(),
        )?;
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

    fn selection_metric(&self) -> Option<(String, Better)> {
        // The same keys `evaluate` reports: accuracy after adaptation, or the regression
        // error after adaptation.
        Some(if self.model.classification {
            ("query_accuracy".into(), Better::Higher)
        } else {
            ("query_mse_after".into(), Better::Lower)
        })
    }

    fn headline_metric(&self) -> &'static str {
        "meta_loss"
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use autodidact_core::Hyperparams as _;
    use autodidact_envs::{Sinusoid, SinusoidParams};

    #[test]
    fn is_finite_sees_a_nan_parameter() {
        let mut l = MetaLearner::with_distribution(
            Method::MetaSgd,
            crate::hyperparams::defaults_for(Method::MetaSgd.name())
                .check()
                .unwrap(),
            Box::new(Sinusoid::new(SinusoidParams::default()).unwrap()),
            Seed(0),
        )
        .unwrap();
        assert!(l.is_finite());
        if let Some(x) = l
            .params
            .tensors_mut()
            .last_mut()
            .and_then(|t| t.iter_mut().next())
        {
            *x = f32::NAN;
        }
        assert!(!l.is_finite());
    }
}
