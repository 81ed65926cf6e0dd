//! The `meta-net` learner the runner drives: one update on a batch of episodes per step,
//! validation with early stopping, query accuracy with a 95 % interval on held-out episodes,
//! and exact checkpoints.

use std::sync::Arc;

use autodidact_core::config::Checked;
use autodidact_core::episodic::{evaluation_distribution, EpisodicLearner, Progress};
use autodidact_core::optim::{clip_grad_norm, values, Optimizer};
use autodidact_core::parallel::{self, ordered_map, ThreadPool};
use autodidact_core::{
    mean_ci95, Adam, Algorithm, BatchNormMode, BatchNormStats, Better, Config, CoreError,
    CreateGraph, EnvInstance, EnvSpec, Metrics, Params, Seed, Split, Tape, TaskDistribution,
    TaskKind, Var,
};

use super::baseline::nearest_prototype_accuracy;
use super::episode::Episode;
use super::model::MetaNet;
use super::params::{resolve_metanet, MetaNetParams};
use crate::errors::{ModelBasedError, Result};
use crate::learner::BestValidation;

/// The registry name.
pub const NAME: &str = "meta-net";

/// A MetaNet bound to a few-shot classification distribution.
pub struct MetaNetLearner {
    hp: MetaNetParams,
    model: MetaNet,
    params: Params<f32>,
    stats: Vec<BatchNormStats<f32>>,
    opt: Adam<f32>,
    dist: Box<dyn TaskDistribution>,
    seed: Seed,
    progress: Progress,
    /// Workers for training steps and evaluation episodes (`threads` > 1; shared with the
    /// step run on it).
    pool: Option<Arc<ThreadPool>>,
}

/// Fraction of rows of `[n, ways]` logits whose argmax is the label.
fn accuracy(logits: &Var<f32>, labels: &[usize]) -> f64 {
    let pred = logits.argmax(1);
    let hits = pred.iter().zip(labels).filter(|(p, l)| *p == *l).count();
    hits as f64 / labels.len().max(1) as f64
}

impl MetaNetLearner {
    /// Builds a learner from a configuration over `meta-net`'s defaults.
    pub fn new(config: &Config, env: &EnvSpec, seed: Seed) -> Result<Self> {
        Self::on_env(resolve_metanet(config)?, env, seed)
    }

    /// Builds a learner from checked parameters on a registered environment.
    pub fn on_env(hp: Checked<MetaNetParams>, env: &EnvSpec, seed: Seed) -> Result<Self> {
        match env.instantiate(seed.derive("env"))? {
            EnvInstance::Tasks(d) => Self::with_distribution(hp, d, seed),
            other => Err(ModelBasedError::Core(CoreError::WrongEnvKind {
                algorithm: NAME.into(),
                expected: "a few-shot classification task distribution".into(),
                env: env.name().into(),
                actual: other.kind().describe().into(),
            })),
        }
    }

    /// Builds a learner on a task distribution directly (no registry).
    pub fn with_distribution(
        hp: Checked<MetaNetParams>,
        dist: Box<dyn TaskDistribution>,
        seed: Seed,
    ) -> Result<Self> {
        let hp = hp.into_inner();
        let TaskKind::Classification { ways } = dist.kind() else {
            return Err(ModelBasedError::Incompatible(format!(
                "{NAME} classifies; the environment's tasks are {:?}",
                dist.kind()
            )));
        };
        // One episode must build before training starts (labels, support and query present).
        Episode::new(&dist.task(Split::Train, seed.derive("probe"), 0)?, ways)?;
        let mut params = Params::new();
        let mut rng = seed.rng("init");
        let model = MetaNet::build(&hp, &dist.input_shape(), ways, &mut params, &mut rng)?;
        let stats = model.new_stats();
        let opt = Adam::new(hp.lr);
        let pool = parallel::pool_for(hp.threads)?.map(Arc::new);
        Ok(MetaNetLearner {
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

    /// The hyperparameters.
    pub fn hyperparams(&self) -> &MetaNetParams {
        &self.hp
    }
    /// The model.
    pub fn model(&self) -> &MetaNet {
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

    fn episode(
        &self,
        dist: &dyn TaskDistribution,
        split: Split,
        seed: Seed,
        i: u64,
    ) -> Result<Episode> {
        let ways = match dist.kind() {
            TaskKind::Classification { ways } => ways,
            other => {
                return Err(ModelBasedError::Incompatible(format!(
                    "{NAME} classifies; the environment's tasks are {other:?}"
                )))
            }
        };
        Episode::new(&dist.task(split, seed, i)?, ways)
    }

    /// One update on the current iteration's batch of training episodes; returns its mean
    /// query loss and accuracy (before the update).
    pub fn update(&mut self) -> Result<(f64, f64)> {
        let bs = self.hp.batch_size;
        let seed = self.seed.derive("meta-train");
        let tape = Tape::<f32>::new();
        let vars = tape.params(&self.params);
        let mut total: Option<Var<f32>> = None;
        let (mut loss_sum, mut acc_sum) = (0.0, 0.0);
        for b in 0..bs as u64 {
            let ep = self.episode(
                self.dist.as_ref(),
                Split::Train,
                seed,
                self.progress.iteration * bs as u64 + b,
            )?;
            let out = self
                .model
                .forward(&vars, &ep, BatchNormMode::Train, &mut self.stats)?;
            loss_sum += out.loss.item();
            acc_sum += accuracy(&out.logits, &ep.query_labels);
            total = Some(match total {
                Some(t) => t + out.loss,
                None => out.loss,
            });
        }
        let (loss, acc) = (loss_sum / bs as f64, acc_sum / bs as f64);
        if !loss.is_finite() {
            return Err(ModelBasedError::NonFinite {
                iteration: self.progress.iteration + 1,
                value: loss,
            });
        }
        let Some(total) = total else {
            return Ok((loss, acc));
        };
        let objective = total * (1.0 / bs as f64);
        let mut grads = values(&tape.grad(&objective, &vars, CreateGraph::No));
        if self.hp.grad_clip > 0.0 {
            clip_grad_norm(&mut grads, self.hp.grad_clip);
        }
        self.opt.step(&mut self.params, &grads)?;
        self.progress.iteration += 1;
        Ok((loss, acc))
    }

    /// Query accuracy (with its 95 % interval over episodes) and loss on episodes `0..n` of
    /// `split` of `dist`, metric names starting with `prefix`; batch norm reads its running
    /// statistics. The support gradients are still taken (they are the model's input), but
    /// nothing is updated.
    pub fn evaluate_on(
        &self,
        dist: &dyn TaskDistribution,
        split: Split,
        n: usize,
        prefix: &str,
    ) -> Result<Metrics> {
        let seed = self.seed.derive(split.name()).derive("evaluation");
        // On vector inputs (BANKING77's features), the untrained reference on the same episodes.
        let vectors = dist.input_shape().len() == 1;
        // Episodes are drawn by index, so they run on any thread; their results come back and
        // are summed in index order, whatever the thread count.
        let indices: Vec<u64> = (0..n as u64).collect();
        let results = ordered_map(self.pool.as_deref(), &indices, |&i| {
            let ep = self.episode(dist, split, seed, i)?;
            let tape = Tape::<f32>::new();
            let vars = tape.params(&self.params);
            let mut stats = self.stats.clone();
            let out = self
                .model
                .forward(&vars, &ep, BatchNormMode::Eval, &mut stats)?;
            let loss = out.loss.item();
            if !loss.is_finite() {
                return Err(ModelBasedError::NonFinite {
                    iteration: self.progress.iteration,
                    value: loss,
                });
            }
            let base = vectors.then(|| nearest_prototype_accuracy(&ep, ep.ways));
            Ok((accuracy(&out.logits, &ep.query_labels), loss, base))
        });
        let (mut accs, mut losses) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut base = Vec::new();
        for r in results {
            let (acc, loss, b) = r?;
            accs.push(acc);
            losses.push(loss);
            base.extend(b);
        }
        let mut m = Metrics::new();
        let (acc, ci) = mean_ci95(&accs);
        m.insert(format!("{prefix}accuracy"), acc);
        m.insert(format!("{prefix}accuracy_ci95"), ci);
        m.insert(format!("{prefix}loss"), mean_ci95(&losses).0);
        m.insert(format!("{prefix}episodes"), n as f64);
        if vectors {
            let (b, bci) = mean_ci95(&base);
            m.insert(format!("{prefix}baseline_accuracy"), b);
            m.insert(format!("{prefix}baseline_accuracy_ci95"), bci);
            // Paired over the same episodes: far tighter than comparing the two intervals.
            let diff: Vec<f64> = accs.iter().zip(&base).map(|(a, b)| a - b).collect();
            let (g, gci) = mean_ci95(&diff);
            m.insert(format!("{prefix}gain_over_baseline"), g);
            m.insert(format!("{prefix}gain_over_baseline_ci95"), gci);
        }
        Ok(m)
    }
}

impl EpisodicLearner for MetaNetLearner {
    fn algorithm_name(&self) -> &str {
        NAME
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

impl Algorithm for MetaNetLearner {
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
        let trained_ways = self.model.ways;
        // Fewer classes than trained for are fine: an episode uses the first output units.
        let dist = evaluation_distribution(
            NAME,
            own,
            env,
            "the same inputs and at most as many classes",
            |d| {
                d.input_shape() == own.input_shape()
                    && matches!(d.kind(), TaskKind::Classification { ways } if ways <= trained_ways)
            },
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
