//! The model-based learner the runner drives: one update on a batch of late-label episodes
//! per step, validation with early stopping (the best-validation parameters kept in memory),
//! accuracy by instance on held-out episodes, and exact checkpoints.

use std::sync::Arc;

use autodidact_core::config::Checked;
use autodidact_core::episodic::{evaluation_distribution, EpisodicLearner, Progress};
use autodidact_core::optim::{clip_grad_norm, values, Optimizer};
use autodidact_core::parallel::{self, ordered_map, ThreadPool};
use autodidact_core::{
    no_grad, Adam, Algorithm, BatchNormMode, BatchNormStats, Better, Config, CoreError,
    CreateGraph, EnvInstance, EnvSpec, Metrics, Params, Seed, Split, Tape, TaskDistribution,
    TaskKind,
};

use crate::errors::{ModelBasedError, Result};
use crate::evaluate::{episode_accuracies, InstanceAccuracy};
use crate::hyperparams::{resolve, ModelBasedParams};
use crate::model::{Method, Model};
use crate::sequence::{Sequence, SequenceBatch};

pub use autodidact_core::episodic::BestValidation;

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
    progress: Progress,
    /// Workers for training steps and evaluation batches (`threads` > 1; shared with the
    /// step run on it).
    pool: Option<Arc<ThreadPool>>,
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
        let pool = parallel::pool_for(hp.threads)?.map(Arc::new);
        Ok(ModelBasedLearner {
            method,
            hp,
            model,
            params,
            stats,
            opt,
            dist,
            seed,
            progress: Progress::default(),
            pool,
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
        self.progress.best.as_ref()
    }

    /// One update on the current iteration's batch of training episodes; returns its loss and
    /// accuracy over every step (before the update).
    pub fn update(&mut self) -> Result<(f64, f64)> {
        let bs = self.hp.batch_size;
        let batch = episode_batch(
            self.dist.as_ref(),
            Split::Train,
            self.seed.derive("meta-train"),
            self.progress.iteration * bs as u64,
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
                iteration: self.progress.iteration + 1,
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
        self.progress.iteration += 1;
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
        let bs = self.hp.batch_size.max(1);
        let max_instance = self.hp.instances;
        // Batches are fixed by `batch_size` alone and drawn by index, so they run on any
        // thread; their results are added in batch order, whatever the thread count.
        let starts: Vec<usize> = (0..n).step_by(bs).collect();
        let batches = ordered_map(self.pool.as_deref(), &starts, |&first| {
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
                    iteration: self.progress.iteration,
                    value: loss,
                });
            }
            let accs = out
                .logits
                .with_value(|l| episode_accuracies(l, &batch, max_instance));
            Ok((accs, loss))
        });
        let mut acc = InstanceAccuracy::default();
        for b in batches {
            let (accs, loss) = b?;
            acc.add(accs, loss);
        }
        Ok(acc.metrics(prefix))
    }
}

impl EpisodicLearner for ModelBasedLearner {
    fn algorithm_name(&self) -> &str {
        self.method.name()
    }

    autodidact_core::episodic_parts!();

    fn meta_update(&mut self) -> autodidact_core::Result<(f64, f64)> {
        Ok(self.update()?)
    }

    fn validation_metrics(&mut self) -> autodidact_core::Result<Metrics> {
        let n = self.hp.val_episodes;
        Ok(self.evaluate_on(self.dist.as_ref(), Split::Validation, n, "val_")?)
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
        self.progress.iteration
    }

    fn train_step(&mut self) -> autodidact_core::Result<Metrics> {
        // On the pool, so the step's large products split their rows across the workers.
        let pool = self.pool.clone();
        parallel::install(pool.as_deref(), || self.episodic_step())
    }

    fn evaluate(&mut self, env: Option<&EnvInstance>) -> autodidact_core::Result<Metrics> {
        let own = self.dist.as_ref();
        let dist = evaluation_distribution(
            self.method.name(),
            own,
            env,
            "the same inputs and number of classes",
            |d| d.input_shape() == own.input_shape() && d.kind() == own.kind(),
        )?;
        Ok(self.evaluate_on(dist, Split::Test, self.hp.eval_episodes, "")?)
    }

    fn save(&self) -> autodidact_core::Result<Vec<u8>> {
        self.save_episodic()
    }

    fn load(&mut self, bytes: &[u8]) -> autodidact_core::Result<()> {
        self.load_episodic(bytes)
    }

    fn selection_metric(&self) -> Option<(String, Better)> {
        Some(("accuracy".into(), Better::Higher))
    }

    fn headline_metric(&self) -> &'static str {
        "loss"
    }
}
