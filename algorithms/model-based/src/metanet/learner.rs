//! The `meta-net` learner the runner drives: one update on a batch of episodes per step,
//! validation with early stopping, query accuracy with a 95 % interval on held-out episodes,
//! and exact checkpoints.

use autodidact_core::config::Checked;
use autodidact_core::optim::{clip_grad_norm, values, Optimizer};
use autodidact_core::{
    mean_ci95, Adam, Algorithm, BatchNormMode, BatchNormStats, Better, Config, CoreError,
    CreateGraph, EnvInstance, EnvSpec, Metrics, Params, Seed, Split, Tape, TaskDistribution,
    TaskKind, Var,
};
use serde::{Deserialize, Serialize};

use super::baseline::nearest_prototype_accuracy;
use super::episode::Episode;
use super::model::MetaNet;
use super::params::{resolve_metanet, MetaNetParams};
use crate::errors::{ModelBasedError, Result};
use crate::learner::BestValidation;

/// The registry name.
pub const NAME: &str = "meta-net";

/// Everything a checkpoint holds. Episodes are drawn by index from the run's seed, so no
/// generator state is needed beyond the iteration.
#[derive(Serialize, Deserialize)]
struct State {
    algorithm: String,
    iteration: u64,
    params: Params<f32>,
    stats: Vec<BatchNormStats<f32>>,
    opt: Adam<f32>,
    best: Option<BestValidation>,
    loss_sum: f64,
    acc_sum: f64,
    count: u64,
}

/// A MetaNet bound to a few-shot classification distribution.
pub struct MetaNetLearner {
    hp: MetaNetParams,
    model: MetaNet,
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
        Ok(MetaNetLearner {
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
        self.best.as_ref()
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
                self.iteration * bs as u64 + b,
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
                iteration: self.iteration + 1,
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
        self.iteration += 1;
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
        let (mut accs, mut losses) = (Vec::with_capacity(n), Vec::with_capacity(n));
        // On vector inputs (BANKING77's features), the untrained reference on the same episodes.
        let vectors = dist.input_shape().len() == 1;
        let mut base = Vec::new();
        for i in 0..n as u64 {
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
                    iteration: self.iteration,
                    value: loss,
                });
            }
            accs.push(accuracy(&out.logits, &ep.query_labels));
            losses.push(loss);
            if vectors {
                base.push(nearest_prototype_accuracy(&ep, ep.ways));
            }
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

impl Algorithm for MetaNetLearner {
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
                // Fewer classes than trained for are fine: an episode uses the first output units.
                let fits = matches!(d.kind(), TaskKind::Classification { ways } if ways <= self.model.ways);
                if d.input_shape() != self.dist.input_shape() || !fits {
                    return Err(CoreError::Env(format!(
                        "this checkpoint was trained on {:?} inputs, {:?} (it evaluates episodes of at most as many classes); the evaluation environment has {:?} inputs, {:?}",
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
                    "{NAME} evaluates on few-shot classification distributions, not on {}",
                    other.kind().describe()
                )))
            }
        };
        Ok(self.evaluate_on(dist, Split::Test, self.hp.eval_episodes, "")?)
    }

    fn save(&self) -> autodidact_core::Result<Vec<u8>> {
        let state = State {
            algorithm: NAME.into(),
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
        let state: State = serde_json::from_slice(bytes)
            .map_err(|e| CoreError::Checkpoint(format!("not a {NAME} checkpoint: {e}")))?;
        if state.algorithm != NAME {
            return Err(CoreError::Checkpoint(format!(
                "the checkpoint is of {}, not {NAME}",
                state.algorithm
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
