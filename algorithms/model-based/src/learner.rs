//! The model-based learner the runner drives: one update on a batch of late-label episodes
//! per step, validation with early stopping (the best-validation parameters kept in memory),
//! accuracy by instance on held-out episodes, and exact checkpoints.

use autodidact_core::config::Checked;
use autodidact_core::optim::{clip_grad_norm, values, Optimizer};
use autodidact_core::{
    no_grad, Adam, Algorithm, BatchNormMode, BatchNormStats, Better, Config, CoreError,
    CreateGraph, EnvInstance, EnvSpec, Metrics, Params, Seed, Split, Tape, TaskDistribution,
    TaskKind,
};
use serde::{Deserialize, Serialize};

use crate::errors::{ModelBasedError, Result};
use crate::evaluate::{episode_accuracies, InstanceAccuracy};
use crate::hyperparams::{resolve, ModelBasedParams};
use crate::model::{Method, Model};
use crate::sequence::{Sequence, SequenceBatch};

/// The best validation point so far (early stopping).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BestValidation {
    /// Updates done when it was reached.
    pub iteration: u64,
    /// Its validation accuracy over every step.
    pub accuracy: f64,
    /// The parameters then.
    pub params: Params<f32>,
    /// The batch-norm running statistics then.
    pub stats: Vec<BatchNormStats<f32>>,
}

/// Everything a checkpoint holds. Episodes are drawn by index from the run's seed, so no
/// generator state is needed beyond the iteration.
#[derive(Serialize, Deserialize)]
struct State {
    method: Method,
    iteration: u64,
    params: Params<f32>,
    stats: Vec<BatchNormStats<f32>>,
    opt: Adam<f32>,
    best: Option<BestValidation>,
    loss_sum: f64,
    acc_sum: f64,
    count: u64,
}

/// A model-based meta-learner bound to a few-shot classification distribution.
pub struct ModelBasedLearner {
    method: Method,
    hp: ModelBasedParams,
    model: Model,
    params: Params<f32>,
    stats: Vec<BatchNormStats<f32>>,
    opt: Adam<f32>,
    dist: Box<dyn TaskDistribution>,
    seed: Seed,
    iteration: u64,
    best: Option<BestValidation>,
    loss_sum: f64,
    acc_sum: f64,
    count: u64,
}

/// Episode `index` of `split`: the task drawn for it, turned into a late-label sequence with
/// its own generator (so every episode is reproducible on its own).
pub fn episode(
    dist: &dyn TaskDistribution,
    split: Split,
    seed: Seed,
    index: u64,
    instances: usize,
) -> Result<Sequence> {
    let task = dist.task(split, seed, index)?;
    let mut rng = seed.derive("sequence").index(index).rng(split.name());
    Sequence::from_task(&task, instances, &mut rng)
}

/// Episodes `first..first + n` of `split`, batched.
pub fn episode_batch(
    dist: &dyn TaskDistribution,
    split: Split,
    seed: Seed,
    first: u64,
    n: usize,
    instances: usize,
) -> Result<SequenceBatch> {
    let episodes = (0..n as u64)
        .map(|i| episode(dist, split, seed, first + i, instances))
        .collect::<Result<Vec<_>>>()?;
    SequenceBatch::new(&episodes)
}

impl ModelBasedLearner {
    /// Builds a learner for `method` from a configuration over its defaults.
    pub fn new(method: Method, config: &Config, env: &EnvSpec, seed: Seed) -> Result<Self> {
        Self::on_env(method, resolve(method.name(), config)?, env, seed)
    }

    /// Builds a learner from checked parameters on a registered environment.
    pub fn on_env(
        method: Method,
        hp: Checked<ModelBasedParams>,
        env: &EnvSpec,
        seed: Seed,
    ) -> Result<Self> {
        match env.instantiate(seed.derive("env"))? {
            EnvInstance::Tasks(d) => Self::with_distribution(method, hp, d, seed),
            other => Err(ModelBasedError::Core(CoreError::WrongEnvKind {
                algorithm: method.name().into(),
                expected: "a few-shot classification task distribution".into(),
                env: env.name().into(),
                actual: other.kind().describe().into(),
            })),
        }
    }

    /// Builds a learner on a task distribution directly (no registry).
    pub fn with_distribution(
        method: Method,
        hp: Checked<ModelBasedParams>,
        dist: Box<dyn TaskDistribution>,
        seed: Seed,
    ) -> Result<Self> {
        let hp = hp.into_inner();
        let TaskKind::Classification { ways } = dist.kind() else {
            return Err(ModelBasedError::Incompatible(format!(
                "{} classifies; the environment's tasks are {:?}",
                method.name(),
                dist.kind()
            )));
        };
        // One episode must build before training starts: an environment with too few examples
        // per class is refused here, naming the keys to change.
        episode(
            dist.as_ref(),
            Split::Train,
            seed.derive("probe"),
            0,
            hp.instances,
        )?;
        let mut params = Params::new();
        let mut rng = seed.rng("init");
        let model = Model::build(
            method,
            &hp,
            &dist.input_shape(),
            ways,
            &mut params,
            &mut rng,
        )?;
        let stats = model.new_stats();
        let opt = Adam::new(hp.lr);
        Ok(ModelBasedLearner {
            method,
            hp,
            model,
            params,
            stats,
            opt,
            dist,
            seed,
            iteration: 0,
            best: None,
            loss_sum: 0.0,
            acc_sum: 0.0,
            count: 0,
        })
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }
    /// The hyperparameters.
    pub fn hyperparams(&self) -> &ModelBasedParams {
        &self.hp
    }
    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }
    /// The parameters.
    pub fn params(&self) -> &Params<f32> {
        &self.params
    }
    /// The distribution episodes are drawn from.
    pub fn distribution(&self) -> &dyn TaskDistribution {
        self.dist.as_ref()
    }
    /// The best validation point so far.
    pub fn best_validation(&self) -> Option<&BestValidation> {
        self.best.as_ref()
    }

    /// One update on the current iteration's batch of training episodes; returns its loss and
    /// accuracy over every step (before the update).
    pub fn update(&mut self) -> Result<(f64, f64)> {
        let bs = self.hp.batch_size;
        let batch = episode_batch(
            self.dist.as_ref(),
            Split::Train,
            self.seed.derive("meta-train"),
            self.iteration * bs as u64,
            bs,
            self.hp.instances,
        )?;
        let tape = Tape::<f32>::new();
        let vars = tape.params(&self.params);
        let out = self
            .model
            .forward(&vars, &batch, BatchNormMode::Train, &mut self.stats)?;
        let loss = out.loss.item();
        if !loss.is_finite() {
            return Err(ModelBasedError::NonFinite {
                iteration: self.iteration + 1,
                value: loss,
            });
        }
        let acc = out.logits.with_value(|l| {
            let eps = episode_accuracies(l, &batch, 0);
            eps.iter().map(|e| e.1).sum::<f64>() / eps.len().max(1) as f64
        });
        let mut grads = values(&tape.grad(&out.loss, &vars, CreateGraph::No));
        if self.hp.grad_clip > 0.0 {
            clip_grad_norm(&mut grads, self.hp.grad_clip);
        }
        self.opt.step(&mut self.params, &grads)?;
        self.iteration += 1;
        Ok((loss, acc))
    }

    /// Accuracy by instance on episodes `0..n` of `split` of `dist`, metric names starting
    /// with `prefix`; batch norm reads its running statistics, nothing is recorded.
    pub fn evaluate_on(
        &self,
        dist: &dyn TaskDistribution,
        split: Split,
        n: usize,
        prefix: &str,
    ) -> Result<Metrics> {
        let seed = self.seed.derive(split.name()).derive("evaluation");
        let mut acc = InstanceAccuracy::default();
        let bs = self.hp.batch_size.max(1);
        let max_instance = self.hp.instances;
        let mut first = 0usize;
        while first < n {
            let size = bs.min(n - first);
            let batch = episode_batch(dist, split, seed, first as u64, size, self.hp.instances)?;
            let tape = Tape::<f32>::new();
            let vars = tape.params(&self.params);
            let mut stats = self.stats.clone();
            let out = no_grad(|| {
                self.model
                    .forward(&vars, &batch, BatchNormMode::Eval, &mut stats)
            })?;
            let loss = out.loss.item();
            if !loss.is_finite() {
                return Err(ModelBasedError::NonFinite {
                    iteration: self.iteration,
                    value: loss,
                });
            }
            acc.add(
                out.logits
                    .with_value(|l| episode_accuracies(l, &batch, max_instance)),
                loss,
            );
            first += size;
        }
        Ok(acc.metrics(prefix))
    }

    /// Validates, and keeps the parameters if they are the best so far.
    pub fn validate(&mut self) -> Result<Metrics> {
        let mut m = self.evaluate_on(
            self.dist.as_ref(),
            Split::Validation,
            self.hp.val_episodes,
            "val_",
        )?;
        let acc = m.get("val_accuracy").copied().unwrap_or(f64::NAN);
        if self.hp.early_stopping && self.best.as_ref().is_none_or(|b| acc > b.accuracy) {
            self.best = Some(BestValidation {
                iteration: self.iteration,
                accuracy: acc,
                params: self.params.clone(),
                stats: self.stats.clone(),
            });
        }
        if let Some(b) = &self.best {
            m.insert("val_best_accuracy".into(), b.accuracy);
            m.insert("val_best_iteration".into(), b.iteration as f64);
        }
        Ok(m)
    }

    /// Replaces the parameters with the best validation point's; returns whether there was one.
    pub fn restore_best(&mut self) -> bool {
        match &self.best {
            Some(b) => {
                self.params = b.params.clone();
                self.stats = b.stats.clone();
                true
            }
            None => false,
        }
    }
}

impl Algorithm for ModelBasedLearner {
    fn is_finite(&self) -> bool {
        self.params.all_finite()
    }

    fn total_steps(&self) -> u64 {
        self.hp.meta_iterations
    }

    fn steps_done(&self) -> u64 {
        self.iteration
    }

    fn train_step(&mut self) -> autodidact_core::Result<Metrics> {
        let (loss, acc) = self.update()?;
        self.loss_sum += loss;
        self.acc_sum += acc;
        self.count += 1;
        let mut m = Metrics::new();
        let done = self.iteration == self.hp.meta_iterations;
        if self.iteration.is_multiple_of(self.hp.log_every) || done {
            let n = self.count.max(1) as f64;
            m.insert("loss".into(), self.loss_sum / n);
            m.insert("train_accuracy".into(), self.acc_sum / n);
            self.loss_sum = 0.0;
            self.acc_sum = 0.0;
            self.count = 0;
        }
        if self.hp.val_every > 0 && (self.iteration.is_multiple_of(self.hp.val_every) || done) {
            m.extend(self.validate()?);
        }
        if done && self.hp.early_stopping {
            let it = self.best.as_ref().map(|b| b.iteration);
            if self.restore_best() {
                m.insert("restored_iteration".into(), it.unwrap_or(0) as f64);
            }
        }
        Ok(m)
    }

    fn evaluate(&mut self, env: Option<&EnvInstance>) -> autodidact_core::Result<Metrics> {
        let dist: &dyn TaskDistribution = match env {
            None => self.dist.as_ref(),
            Some(EnvInstance::Tasks(d)) => {
                if d.input_shape() != self.dist.input_shape() || d.kind() != self.dist.kind() {
                    return Err(CoreError::Env(format!(
                        "this checkpoint was trained on {:?} inputs, {:?}; the evaluation environment has {:?} inputs, {:?}",
                        self.dist.input_shape(),
                        self.dist.kind(),
                        d.input_shape(),
                        d.kind()
                    )));
                }
                d.as_ref()
            }
            Some(other) => {
                return Err(CoreError::Env(format!(
                    "{} evaluates on few-shot classification distributions, not on {}",
                    self.method.name(),
                    other.kind().describe()
                )))
            }
        };
        Ok(self.evaluate_on(dist, Split::Test, self.hp.eval_episodes, "")?)
    }

    fn save(&self) -> autodidact_core::Result<Vec<u8>> {
        let state = State {
            method: self.method,
            iteration: self.iteration,
            params: self.params.clone(),
            stats: self.stats.clone(),
            opt: self.opt.clone(),
            best: self.best.clone(),
            loss_sum: self.loss_sum,
            acc_sum: self.acc_sum,
            count: self.count,
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
        if state.stats.len() != self.stats.len() {
            return Err(CoreError::Checkpoint(format!(
                "{} batch-norm layers in the checkpoint, {} in the model",
                state.stats.len(),
                self.stats.len()
            )));
        }
        if let Some(b) = &state.best {
            self.params.check_compatible(&b.params)?;
        }
        self.params = state.params;
        self.stats = state.stats;
        self.opt = state.opt;
        self.best = state.best;
        self.iteration = state.iteration;
        self.loss_sum = state.loss_sum;
        self.acc_sum = state.acc_sum;
        self.count = state.count;
        Ok(())
    }

    fn selection_metric(&self) -> Option<(String, Better)> {
        Some(("accuracy".into(), Better::Higher))
    }

    fn headline_metric(&self) -> &'static str {
        "loss"
    }
}
