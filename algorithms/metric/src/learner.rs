//! The metric-based learner the runner drives: one training episode per step, validation with
//! early stopping (the best-validation parameters kept in memory), evaluation on held-out
//! episodes, and exact checkpoints.

use std::sync::Arc;

use autodidact_core::episodic::{evaluation_distribution, EpisodicLearner, Progress};
use autodidact_core::optim::{clip_grad_norm, values, Optimizer};
use autodidact_core::parallel::{self, ThreadPool};
use autodidact_core::{
    Adam, Algorithm, BatchNormMode, BatchNormStats, Better, Config, CoreError, CreateGraph,
    EnvInstance, EnvSpec, Metrics, Params, Seed, Split, Tape, Task, TaskDistribution,
};

use crate::episode::Episode;
use crate::errors::{MetricError, Result};
use crate::evaluate::{evaluate_episodes, score_accuracy};
use crate::hyperparams::{resolve, MetricParams, RelationInit};
use crate::model::{Method, Model};
use crate::proto::class_pooling;
use autodidact_core::config::Checked;

pub use autodidact_core::episodic::BestValidation;

/// A metric-based meta-learner bound to a few-shot classification distribution.
pub struct MetricLearner {
    method: Method,
    hp: MetricParams,
    model: Model,
    params: Params<f32>,
    stats: Vec<BatchNormStats<f32>>,
    opt: Adam<f32>,
    dist: Box<dyn TaskDistribution>,
    train_dist: Option<Box<dyn TaskDistribution>>,
    seed: Seed,
    progress: Progress,
    /// Workers for training steps and evaluation episodes (`threads` > 1; shared with the
    /// step run on it).
    pool: Option<Arc<ThreadPool>>,
}

fn tasks_of(inst: EnvInstance, method: Method, env: &str) -> Result<Box<dyn TaskDistribution>> {
    match inst {
        EnvInstance::Tasks(d) => Ok(d),
        other => Err(MetricError::Core(CoreError::WrongEnvKind {
            algorithm: method.name().into(),
            expected: "a few-shot classification task distribution".into(),
            env: env.into(),
            actual: other.kind().describe().into(),
        })),
    }
}

impl MetricLearner {
    /// Builds a learner for `method` from a configuration over its defaults.
    ///
    /// With `train_ways`, `train_shots` or `train_queries` set, training episodes come from a
    /// second instance of the same environment with those keys replaced (same seed, hence
    /// the same class splits).
    pub fn new(method: Method, config: &Config, env: &EnvSpec, seed: Seed) -> Result<Self> {
        Self::on_env(method, resolve(method.name(), config)?, env, seed)
    }

    /// Builds a learner from checked parameters on a registered environment.
    pub fn on_env(
        method: Method,
        hp: Checked<MetricParams>,
        env: &EnvSpec,
        seed: Seed,
    ) -> Result<Self> {
        let env_seed = seed.derive("env");
        let dist = tasks_of(env.instantiate(env_seed)?, method, env.name())?;
        let overrides = [
            ("ways", hp.train_ways),
            ("shots", hp.train_shots),
            ("queries", hp.train_queries),
        ];
        let train_dist = if overrides.iter().any(|(_, v)| *v > 0) {
            let mut cfg = env.config.clone();
            for (key, v) in overrides {
                if v == 0 {
                    continue;
                }
                if !cfg.contains_key(key) {
                    return Err(MetricError::Incompatible(format!(
                        "train_{key} is set, but environment {} has no `{key}` parameter",
                        env.name()
                    )));
                }
                cfg.insert(key.into(), toml::Value::Integer(v as i64));
            }
            let spec = EnvSpec {
                entry: env.entry,
                config: cfg,
            };
            Some(tasks_of(spec.instantiate(env_seed)?, method, env.name())?)
        } else {
            None
        };
        Self::with_distributions(method, hp, dist, train_dist, seed)
    }

    /// Builds a learner on task distributions directly (no registry): `dist` for validation
    /// and testing, `train_dist` (default: `dist`) for training episodes.
    pub fn with_distributions(
        method: Method,
        hp: Checked<MetricParams>,
        dist: Box<dyn TaskDistribution>,
        train_dist: Option<Box<dyn TaskDistribution>>,
        seed: Seed,
    ) -> Result<Self> {
        let hp = hp.into_inner();
        if !matches!(
            dist.kind(),
            autodidact_core::TaskKind::Classification { .. }
        ) {
            return Err(MetricError::Incompatible(format!(
                "{} classifies; the environment's tasks are {:?}",
                method.name(),
                dist.kind()
            )));
        }
        if let Some(t) = &train_dist {
            if t.input_shape() != dist.input_shape() {
                return Err(MetricError::Incompatible(format!(
                    "training inputs {:?} differ from evaluation inputs {:?}",
                    t.input_shape(),
                    dist.input_shape()
                )));
            }
        }
        let mut params = Params::new();
        let mut rng = seed.rng("init");
        let model = Model::build(method, &hp, &dist.input_shape(), &mut params, &mut rng)?;
        // One training episode's activations must fit before training starts.
        let probe = train_dist
            .as_deref()
            .unwrap_or(dist.as_ref())
            .sample(Split::Train, &mut seed.rng("memory-probe"))?;
        let examples = probe.support_x.shape().first().copied().unwrap_or(0)
            + probe.query_x.shape().first().copied().unwrap_or(0);
        crate::backbone::spec(&hp).check_episode(&dist.input_shape(), examples, 1.0)?;
        let stats = model.backbone.new_stats();
        let mut opt = if hp.weight_decay > 0.0 {
            Adam::adamw(hp.lr, hp.weight_decay)
        } else {
            Adam::new(hp.lr)
        };
        if let Some(relation) = &model.relation {
            for layer in &relation.mlp.layers {
                for index in std::iter::once(layer.weight).chain(layer.bias) {
                    opt.set_lr_scale(index, hp.relation_lr_scale);
                }
            }
        }
        let pool = parallel::pool_for(hp.threads)?.map(Arc::new);
        Ok(MetricLearner {
            method,
            hp,
            model,
            params,
            stats,
            opt,
            dist,
            train_dist,
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
    pub fn hyperparams(&self) -> &MetricParams {
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
    /// The optimiser (its state and per-tensor learning-rate scales).
    pub fn optimizer(&self) -> &Adam<f32> {
        &self.opt
    }
    /// The batch-norm running statistics (empty for the MLP backbone).
    pub fn bn_stats(&self) -> &[BatchNormStats<f32>] {
        &self.stats
    }
    /// The best validation point so far.
    pub fn best_validation(&self) -> Option<&BestValidation> {
        self.progress.best.as_ref()
    }
    /// The distribution training episodes are drawn from.
    pub fn train_distribution(&self) -> &dyn TaskDistribution {
        self.train_dist.as_deref().unwrap_or(self.dist.as_ref())
    }
    /// The distribution validation and test episodes are drawn from.
    pub fn distribution(&self) -> &dyn TaskDistribution {
        self.dist.as_ref()
    }

    /// The learning rate at the current iteration (step decay).
    fn current_lr(&self) -> f64 {
        if self.hp.lr_decay_every == 0 {
            return self.hp.lr;
        }
        let k = (self.progress.iteration / self.hp.lr_decay_every).min(i32::MAX as u64) as i32;
        self.hp.lr * self.hp.lr_decay.powi(k)
    }

    /// One gradient step on `task`; returns the episode's loss and query accuracy (before the
    /// step). Does not advance the iteration counter.
    pub fn train_on(&mut self, task: &Task) -> Result<(f64, f64)> {
        let ep = Episode::new(task)?;
        if self.progress.iteration == 0
            && self.hp.relation_init == RelationInit::DifferenceCalibrated
        {
            self.calibrate_relation(&ep)?;
        }
        let tape = Tape::<f32>::new();
        let vars = tape.params(&self.params);
        let out = self
            .model
            .episode(&vars, &ep, BatchNormMode::Train, &mut self.stats)?;
        let loss = out.loss.item();
        if !loss.is_finite() {
            return Err(MetricError::NonFinite {
                // 1-based, as the runner numbers iterations in its messages.
                iteration: self.progress.iteration + 1,
                value: loss,
            });
        }
        let acc = out
            .scores
            .with_value(|s| score_accuracy(s, ep.query_labels));
        let mut grads = values(&tape.grad(&out.loss, &vars, CreateGraph::No));
        if self.hp.grad_clip > 0.0 {
            clip_grad_norm(&mut grads, self.hp.grad_clip);
        }
        self.opt.set_lr(self.current_lr());
        self.opt.step(&mut self.params, &grads)?;
        Ok((loss, acc))
    }

    /// Scales a difference-initialised relation module's output on the first training
    /// episode (`relation_init = "difference-calibrated"`); nothing is recorded for gradients.
    fn calibrate_relation(&mut self, ep: &Episode<'_>) -> Result<()> {
        let Some(relation) = &self.model.relation else {
            return Ok(());
        };
        let tape = Tape::<f32>::new();
        let vars = tape.params(&self.params);
        // Batch statistics on a copy: calibration must not move the running statistics.
        let mut stats = self.stats.clone();
        let (support, query) =
            self.model
                .embed_episode(&vars, ep, BatchNormMode::BatchStats, &mut stats)?;
        let classes =
            class_pooling(ep.support_labels, ep.ways, relation.mean_pooling).matmul(support);
        relation.calibrate(&mut self.params, &vars, query, classes);
        Ok(())
    }

    /// The training episode of the current iteration.
    pub fn next_task(&self) -> Result<Task> {
        let seed = self.seed.derive("meta-train");
        Ok(self
            .train_distribution()
            .task(Split::Train, seed, self.progress.iteration)?)
    }

    /// One training episode; returns its loss and query accuracy.
    pub fn episode_step(&mut self) -> Result<(f64, f64)> {
        let task = self.next_task()?;
        let r = self.train_on(&task)?;
        self.progress.iteration += 1;
        Ok(r)
    }

    /// Evaluates on `n` episodes of a split of `dist` (the baseline too when inputs are
    /// feature vectors).
    pub fn evaluate_on(
        &self,
        dist: &dyn TaskDistribution,
        split: Split,
        n: usize,
        prefix: &str,
    ) -> Result<Metrics> {
        let seed = self.seed.derive(split.name()).derive("evaluation");
        let baseline = dist.input_shape().len() == 1;
        evaluate_episodes(
            &self.model,
            &self.params,
            &self.stats,
            dist,
            split,
            n,
            seed,
            prefix,
            baseline,
            self.pool.as_deref(),
        )
    }
}

impl EpisodicLearner for MetricLearner {
    fn algorithm_name(&self) -> &str {
        self.method.name()
    }

    autodidact_core::episodic_parts!();

    fn meta_update(&mut self) -> autodidact_core::Result<(f64, f64)> {
        Ok(self.episode_step()?)
    }

    fn validation_metrics(&mut self) -> autodidact_core::Result<Metrics> {
        let n = self.hp.val_episodes;
        Ok(self.evaluate_on(self.dist.as_ref(), Split::Validation, n, "val_")?)
    }

    fn validation_key(&self) -> &'static str {
        "val_query_accuracy"
    }

    fn log_extra(&self, metrics: &mut Metrics) {
        metrics.insert("lr".into(), self.current_lr());
    }
}

impl Algorithm for MetricLearner {
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
        let dist = evaluation_distribution(self.method.name(), own, env, "the same inputs", |d| {
            d.input_shape() == own.input_shape()
        })?;
        Ok(self.evaluate_on(dist, Split::Test, self.hp.eval_episodes, "")?)
    }

    fn save(&self) -> autodidact_core::Result<Vec<u8>> {
        self.save_episodic()
    }

    fn load(&mut self, bytes: &[u8]) -> autodidact_core::Result<()> {
        self.load_episodic(bytes)
    }

    fn selection_metric(&self) -> Option<(String, Better)> {
        Some(("query_accuracy".into(), Better::Higher))
    }

    fn headline_metric(&self) -> &'static str {
        "loss"
    }
}
