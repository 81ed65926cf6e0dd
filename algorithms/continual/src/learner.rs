//! The continual learner the runner drives: one epoch on the current experience per training
//! step — or, on an online stream, one incoming example per step, each once ([`crate::online`])
//! — after an experience's last epoch (or example), the strategy's consolidation and an
//! evaluation on every experience's test set (a row of the accuracy matrix); exact checkpoints.

use std::sync::Arc;

use autodidact_core::optim::{clip_grad_norm, values, Optimizer};
use autodidact_core::parallel::{self, ThreadPool};
use autodidact_core::{
    no_grad, Adam, Algorithm, BatchNormStats, Better, Config, CoreError, CreateGraph, EnvInstance,
    EnvSpec, Matrices, Metrics, Params, Rng, Scenario, Seed, Sgd, Tape, TaskStream, Tensor,
};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::agem::Agem;
use crate::data::{Batch, StreamData};
use crate::errors::{ContinualError, Result};
use crate::ewc::Ewc;
use crate::hyperparams::{resolve, ContinualParams, EwcMode, OptimizerKind};
use crate::joint::Joint;
use crate::lwf::Lwf;
use crate::mer::{Mer, MerSettings};
use crate::metrics::AccuracyMatrix;
use crate::model::{Body, Model};
use crate::naive::Naive;
use crate::online::OnlineProgress;
use crate::replay::Replay;
use crate::si::Si;
use crate::strategy::{Context, Objective, PenaltyInput, Strategy, UpdateInput};
use autodidact_core::config::Checked;

/// Which strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// Naive fine-tuning.
    Naive,
    /// Elastic Weight Consolidation.
    Ewc,
    /// Synaptic Intelligence.
    Si,
    /// Learning without Forgetting.
    Lwf,
    /// Experience replay.
    Replay,
    /// Averaged GEM.
    Agem,
    /// Joint (cumulative) training.
    Joint,
    /// Meta-Experience Replay.
    Mer,
}

impl Method {
    /// The seven reference strategies (every method but [`Method::Mer`], whose per-example
    /// meta-updates make it an online learner first).
    pub const ALL: [Method; 7] = [
        Method::Naive,
        Method::Ewc,
        Method::Si,
        Method::Lwf,
        Method::Replay,
        Method::Agem,
        Method::Joint,
    ];

    /// The registry name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Naive => "naive",
            Method::Ewc => "ewc",
            Method::Si => "si",
            Method::Lwf => "lwf",
            Method::Replay => "replay",
            Method::Agem => "agem",
            Method::Joint => "joint",
            Method::Mer => "mer",
        }
    }

    /// The method of a registry name.
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .chain([Method::Mer])
            .find(|m| m.name() == name)
    }

    /// A fresh strategy with the given hyperparameters (`online`: for the online protocol).
    pub fn strategy(self, hp: &ContinualParams, online: bool) -> Box<dyn Strategy> {
        let policy = hp.buffer_policy;
        match self {
            Method::Naive => Box::new(Naive),
            Method::Ewc => Box::new(Ewc::new(
                hp.ewc_lambda,
                hp.ewc_mode == EwcMode::Online,
                hp.ewc_decay,
                hp.fisher_samples,
            )),
            Method::Si => Box::new(Si::new(hp.si_lambda, hp.si_epsilon)),
            Method::Lwf => Box::new(Lwf::new(hp.lwf_alpha, hp.lwf_temperature)),
            Method::Replay => Box::new(Replay::new(hp.buffer_size, policy).with_online(online)),
            Method::Agem => {
                Box::new(Agem::new(hp.buffer_size, policy, hp.agem_sample).with_online(online))
            }
            Method::Joint if online => Box::new(Joint::online()),
            Method::Joint => Box::new(Joint::default()),
            Method::Mer => Box::new(Mer::new(
                hp.buffer_size,
                policy,
                MerSettings {
                    batches: hp.mer_batches,
                    batch_size: hp.mer_batch_size,
                    lr: hp.lr,
                    beta: hp.mer_beta,
                    gamma: hp.mer_gamma,
                },
            )),
        }
    }
}

/// The optimiser, with its state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Opt {
    /// Adam.
    Adam(Adam<f32>),
    /// SGD.
    Sgd(Sgd<f32>),
}

impl Opt {
    /// A fresh optimiser from the hyperparameters.
    pub fn new(hp: &ContinualParams) -> Opt {
        if hp.optimizer == OptimizerKind::Sgd {
            Opt::Sgd(
                Sgd::new(hp.lr)
                    .with_momentum(hp.momentum, false)
                    .with_weight_decay(hp.weight_decay),
            )
        } else {
            let mut a = Adam::new(hp.lr);
            a.weight_decay = hp.weight_decay;
            Opt::Adam(a)
        }
    }

    fn step(&mut self, params: &mut Params<f32>, grads: &[Tensor<f32>]) -> Result<()> {
        match self {
            Opt::Adam(o) => o.step(params, grads)?,
            Opt::Sgd(o) => o.step(params, grads)?,
        }
        Ok(())
    }
}

/// Everything a checkpoint holds.
#[derive(Serialize, Deserialize)]
struct State {
    method: Method,
    step: u64,
    params: Params<f32>,
    opt: Opt,
    batch_rng: Rng,
    strategy_rng: Rng,
    strategy: serde_json::Value,
    matrix: AccuracyMatrix,
    stats: Vec<BatchNormStats<f32>>,
    dead_units: Vec<Option<f64>>,
    #[serde(default)]
    online: OnlineProgress,
}

/// A continual learner bound to a stream.
pub struct ContinualLearner {
    method: Method,
    hp: ContinualParams,
    data: StreamData,
    exp_classes: Vec<Vec<bool>>,
    model: Model,
    params: Params<f32>,
    stats: Vec<BatchNormStats<f32>>,
    opt: Opt,
    strategy: Box<dyn Strategy>,
    batch_rng: Rng,
    strategy_rng: Rng,
    step: u64,
    matrix: AccuracyMatrix,
    dead_units: Vec<Option<f64>>,
    online: OnlineProgress,
    /// Workers for training steps and the evaluation of each experience (`threads` > 1).
    pool: Option<Arc<ThreadPool>>,
}

impl ContinualLearner {
    /// Builds a learner for `method` from a configuration over its defaults.
    pub fn new(
        method: Method,
        config: &Config,
        env: &EnvSpec,
        seed: Seed,
    ) -> Result<ContinualLearner> {
        Self::on_env(method, resolve(method.name(), config)?, env, seed)
    }

    /// Builds a learner from checked parameters on a registered environment.
    pub fn on_env(
        method: Method,
        hp: Checked<ContinualParams>,
        env: &EnvSpec,
        seed: Seed,
    ) -> Result<ContinualLearner> {
        let stream = match env.instantiate(seed.derive("env"))? {
            EnvInstance::Stream(s) => s,
            other => {
                return Err(ContinualError::Core(CoreError::WrongEnvKind {
                    algorithm: method.name().into(),
                    expected: "a continual-learning stream".into(),
                    env: env.name().into(),
                    actual: other.kind().describe().into(),
                }))
            }
        };
        Self::with_stream(method, hp, stream.as_ref(), seed)
    }

    /// Builds a learner on a stream directly (no registry).
    pub fn with_stream(
        method: Method,
        hp: Checked<ContinualParams>,
        stream: &dyn TaskStream,
        seed: Seed,
    ) -> Result<ContinualLearner> {
        let hp = hp.into_inner();
        let data = StreamData::from_stream(stream)?;
        let mut params = Params::new();
        let model = Model::build(&hp, &data, &mut params, &mut seed.rng("init"))?;
        if method == Method::Mer && matches!(model.body, Body::Conv4(_)) {
            return Err(ContinualError::Incompatible(
                "mer takes single-example SGD steps, which would never update Conv4's batch-norm statistics: use backbone = \"mlp\"".into(),
            ));
        }
        let exp_classes = data
            .experiences
            .iter()
            .map(|e| {
                let mut m = vec![false; data.num_classes];
                for &c in &e.classes {
                    if c < m.len() {
                        m[c] = true;
                    }
                }
                m
            })
            .collect();
        let stats = model.new_stats();
        let pool = parallel::pool_for(hp.threads)?.map(Arc::new);
        let mut learner = ContinualLearner {
            method,
            opt: Opt::new(&hp),
            strategy: method.strategy(&hp, data.online),
            hp,
            exp_classes,
            model,
            params,
            stats,
            batch_rng: seed.rng("minibatches"),
            strategy_rng: seed.rng("strategy"),
            step: 0,
            matrix: AccuracyMatrix::default(),
            dead_units: Vec::new(),
            online: OnlineProgress::default(),
            data,
            pool,
        };
        let init = learner.accuracies(None);
        learner.matrix = AccuracyMatrix::new(init);
        Ok(learner)
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }
    /// The hyperparameters.
    pub fn hyperparams(&self) -> &ContinualParams {
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
    /// The stream's data.
    pub fn data(&self) -> &StreamData {
        &self.data
    }
    /// The accuracy matrix so far.
    pub fn matrix(&self) -> &AccuracyMatrix {
        &self.matrix
    }
    /// Per trained experience, the share of the last hidden layer's units never positive on
    /// its test set right after training on it (MLP only).
    pub fn dead_units(&self) -> &[Option<f64>] {
        &self.dead_units
    }
    /// The strategy.
    pub fn strategy(&self) -> &dyn Strategy {
        self.strategy.as_ref()
    }

    /// Total epochs over the stream (online: total examples, one step each).
    pub fn total_epochs(&self) -> u64 {
        if self.data.online {
            self.data.train_examples() as u64
        } else {
            (self.hp.epochs * self.data.len()) as u64
        }
    }

    /// The online protocol's curve so far.
    pub fn online_progress(&self) -> &OnlineProgress {
        &self.online
    }

    /// Classes of experiences `0..=upto`.
    fn seen_upto(&self, upto: Option<usize>) -> Vec<bool> {
        let mut seen = vec![false; self.data.num_classes];
        if let Some(u) = upto {
            for m in &self.exp_classes[..=u.min(self.data.len() - 1)] {
                for (s, &c) in seen.iter_mut().zip(m) {
                    *s |= c;
                }
            }
        }
        seen
    }

    fn objective<'a>(&'a self, seen: &'a [bool], current: usize) -> Objective<'a> {
        Objective {
            model: &self.model,
            data: &self.data,
            exp_classes: &self.exp_classes,
            seen,
            current,
            mask_unseen: self.hp.mask_unseen,
            ace: self.hp.labels_trick,
            stats: &self.stats,
        }
    }

    /// Test accuracy on every experience with the classes seen up to `upto` (`None`: before
    /// training).
    fn accuracies(&self, upto: Option<usize>) -> Vec<f64> {
        let seen = self.seen_upto(upto);
        let obj = self.objective(&seen, upto.unwrap_or(0));
        let (params, eval_batch) = (&self.params, self.hp.eval_batch);
        self.each_experience(&obj, |j| accuracy_on(&obj, params, j, eval_batch, false).0)
    }

    /// `f` of every experience of `obj`'s stream, in experience order, on the worker pool when
    /// there is one (an experience's test set is scored with no random draw, so the pieces are
    /// independent).
    fn each_experience<R: Send>(
        &self,
        obj: &Objective<'_>,
        f: impl Fn(usize) -> R + Sync + Send,
    ) -> Vec<R> {
        let experiences: Vec<usize> = (0..obj.data.len()).collect();
        parallel::ordered_map(self.pool.as_deref(), &experiences, |&j| f(j))
    }

    /// Test accuracy of the current model on every experience of another stream with the
    /// same input shape and classes.
    pub fn accuracies_on(&self, other: &StreamData) -> Result<Vec<f64>> {
        if other.input_shape != self.data.input_shape
            || other.num_classes != self.data.num_classes
            || other.len() != self.data.len()
        {
            return Err(ContinualError::Incompatible(format!(
                "this learner was trained on a stream of {} experiences, inputs {:?} and {} classes; the evaluation stream has {}, {:?} and {}",
                self.data.len(),
                self.data.input_shape,
                self.data.num_classes,
                other.len(),
                other.input_shape,
                other.num_classes
            )));
        }
        let last = self.last_started();
        let seen = self.seen_upto(last);
        let obj = Objective {
            data: other,
            ..self.objective(&seen, last.unwrap_or(0))
        };
        let (params, eval_batch) = (&self.params, self.hp.eval_batch);
        Ok(self.each_experience(&obj, |j| accuracy_on(&obj, params, j, eval_batch, false).0))
    }

    /// The last experience training has started on.
    fn last_started(&self) -> Option<usize> {
        if self.data.online {
            return (self.step > 0)
                .then(|| self.data.online_position(self.step - 1).map(|p| p.0))
                .flatten();
        }
        (self.step > 0).then(|| ((self.step - 1) / self.hp.epochs as u64) as usize)
    }

    /// Online protocol: learns the next example of the stream (its update, with the strategy's
    /// memory sample), once; after an experience's last example, the consolidation and the
    /// evaluation, with the curve of accuracy against classes seen.
    pub fn train_example(&mut self) -> Result<Metrics> {
        let Some((e, i)) = self.data.online_position(self.step) else {
            return Err(ContinualError::Incompatible(format!(
                "the stream is done: all {} examples learnt",
                self.step
            )));
        };
        let seen = self.seen_upto(Some(e));
        if i == 0 {
            self.before_experience(e, &seen)?;
        }
        let example = {
            let ex = &self.data.experiences[e].train;
            let mut b = Batch::default();
            b.push(ex.row(i), ex.y[i], e);
            b
        };
        let mut batch = example.clone();
        if let Some(r) = self
            .strategy
            .replay(self.hp.replay_batch_size(), &mut self.strategy_rng)
        {
            batch.extend(&r);
        }
        let (loss, pen) = self.update(&batch, &seen, e)?;
        if !loss.is_finite() || !pen.is_finite() {
            return Err(ContinualError::NonFinite {
                experience: e,
                epoch: 0,
                value: loss + pen,
            });
        }
        self.strategy
            .after_example(&example, &mut self.strategy_rng);
        self.online.add_loss(loss, pen);
        self.step += 1;
        let mut m = Metrics::new();
        if i + 1 == self.data.experiences[e].train.len() {
            m.extend(self.online.take_loss());
            m.insert("experience".into(), e as f64);
            self.finish_experience(e, &seen)?;
            let point = crate::online::curve_point(
                &self.objective(&seen, e),
                &self.params,
                e,
                self.hp.eval_batch,
                &self.matrix,
            );
            self.online.curve.push(point);
            m.extend(self.matrix_metrics());
            m.extend(self.strategy.metrics());
        }
        Ok(m)
    }

    fn before_experience(&mut self, e: usize, seen: &[bool]) -> Result<()> {
        if self.hp.reset_optimizer {
            self.opt = Opt::new(&self.hp);
        }
        let obj = Objective {
            model: &self.model,
            data: &self.data,
            exp_classes: &self.exp_classes,
            seen,
            current: e,
            mask_unseen: self.hp.mask_unseen,
            ace: false,
            stats: &self.stats,
        };
        let mut ctx = Context {
            objective: &obj,
            params: &self.params,
            experience: e,
            rng: &mut self.strategy_rng,
        };
        self.strategy.before_experience(&mut ctx)
    }

    /// One epoch; returns its metrics (after an experience's last epoch, the matrix's too).
    pub fn train_epoch(&mut self) -> Result<Metrics> {
        if self.data.online {
            return self.train_example();
        }
        if self.step >= self.total_epochs() {
            return Err(ContinualError::Incompatible(format!(
                "the stream is done: {} epochs of {} trained",
                self.step,
                self.total_epochs()
            )));
        }
        let epochs = self.hp.epochs as u64;
        let e = (self.step / epochs) as usize;
        let epoch = (self.step % epochs) as usize;
        let seen = self.seen_upto(Some(e));
        if epoch == 0 {
            self.before_experience(e, &seen)?;
        }
        let mut order: Vec<(usize, usize)> = Vec::new();
        for x in self.strategy.training_experiences(e) {
            order.extend((0..self.data.experiences[x].train.len()).map(|i| (x, i)));
        }
        order.shuffle(&mut self.batch_rng);
        let (mut loss_sum, mut pen_sum, mut nb) = (0.0, 0.0, 0u64);
        for chunk in order.chunks(self.hp.batch_size) {
            let mut batch = Batch::default();
            for &(x, i) in chunk {
                let ex = &self.data.experiences[x].train;
                batch.push(ex.row(i), ex.y[i], x);
            }
            if let Some(r) = self
                .strategy
                .replay(self.hp.replay_batch_size(), &mut self.strategy_rng)
            {
                batch.extend(&r);
            }
            let (loss, pen) = self.update(&batch, &seen, e)?;
            if !loss.is_finite() || !pen.is_finite() {
                return Err(ContinualError::NonFinite {
                    experience: e,
                    epoch,
                    value: loss + pen,
                });
            }
            loss_sum += loss;
            pen_sum += pen;
            nb += 1;
        }
        self.step += 1;
        let mut m = Metrics::new();
        m.insert("loss".into(), loss_sum / nb.max(1) as f64);
        if pen_sum != 0.0 {
            m.insert("penalty".into(), pen_sum / nb.max(1) as f64);
        }
        m.insert("experience".into(), e as f64);
        if epoch + 1 == self.hp.epochs {
            self.finish_experience(e, &seen)?;
            m.extend(self.matrix_metrics());
            m.extend(self.strategy.metrics());
        }
        Ok(m)
    }

    /// One update on a minibatch; returns the task loss and the penalty.
    fn update(&mut self, batch: &Batch, seen: &[bool], e: usize) -> Result<(f64, f64)> {
        {
            let obj = Objective {
                model: &self.model,
                data: &self.data,
                exp_classes: &self.exp_classes,
                seen,
                current: e,
                mask_unseen: self.hp.mask_unseen,
                ace: self.hp.labels_trick,
                stats: &self.stats,
            };
            let own = self.strategy.update(UpdateInput {
                objective: &obj,
                params: &mut self.params,
                batch,
                rng: &mut self.strategy_rng,
            })?;
            if let Some(loss) = own {
                return Ok((loss, 0.0));
            }
        }
        let (task_grads, mut grads, loss, pen) = {
            let mut stats = std::mem::take(&mut self.stats);
            let obj = Objective {
                model: &self.model,
                data: &self.data,
                exp_classes: &self.exp_classes,
                seen,
                current: e,
                mask_unseen: self.hp.mask_unseen,
                ace: self.hp.labels_trick,
                stats: &[],
            };
            let tape = Tape::<f32>::new();
            let vars = tape.params(&self.params);
            let x = self.model.input(&batch.x, batch.len());
            let h = self.model.features(
                &vars,
                x,
                true,
                (!stats.is_empty()).then_some(stats.as_mut_slice()),
            );
            let routing = obj.routing(batch);
            let task = self.model.loss(&vars, h, &routing);
            let obj = Objective {
                stats: &stats,
                ..obj
            };
            let penalty = self.strategy.penalty(&PenaltyInput {
                objective: &obj,
                vars: &vars,
                batch,
                x,
                features: h,
            });
            let task_grads = values(&tape.grad(&task, &vars, CreateGraph::No));
            let (grads, pen) = match penalty {
                Some(p) => {
                    let pg = values(&tape.grad(&p, &vars, CreateGraph::No));
                    let total: Vec<Tensor<f32>> =
                        task_grads.iter().zip(&pg).map(|(a, b)| a + b).collect();
                    (total, p.item())
                }
                None => (task_grads.clone(), 0.0),
            };
            let loss = task.item();
            drop(tape);
            self.stats = stats;
            (task_grads, grads, loss, pen)
        };
        {
            let obj = Objective {
                model: &self.model,
                data: &self.data,
                exp_classes: &self.exp_classes,
                seen,
                current: e,
                mask_unseen: self.hp.mask_unseen,
                ace: false,
                stats: &self.stats,
            };
            let mut ctx = Context {
                objective: &obj,
                params: &self.params,
                experience: e,
                rng: &mut self.strategy_rng,
            };
            self.strategy.project(&mut grads, &mut ctx)?;
        }
        if self.hp.grad_clip > 0.0 {
            clip_grad_norm(&mut grads, self.hp.grad_clip);
        }
        let before = self.strategy.tracks_updates().then(|| self.params.clone());
        self.opt.step(&mut self.params, &grads)?;
        if let Some(before) = before {
            self.strategy
                .after_update(&before, &self.params, &task_grads);
        }
        Ok((loss, pen))
    }

    fn finish_experience(&mut self, e: usize, seen: &[bool]) -> Result<()> {
        {
            let obj = Objective {
                model: &self.model,
                data: &self.data,
                exp_classes: &self.exp_classes,
                seen,
                current: e,
                mask_unseen: self.hp.mask_unseen,
                ace: false,
                stats: &self.stats,
            };
            let mut ctx = Context {
                objective: &obj,
                params: &self.params,
                experience: e,
                rng: &mut self.strategy_rng,
            };
            self.strategy.after_experience(&mut ctx)?;
        }
        let obj = self.objective(seen, e);
        // Online class-incremental streams have one block per class or few: the future blocks'
        // classes are masked, so their accuracy is 0 by construction and is not computed.
        let future_masked = self.data.online
            && self.data.scenario == Scenario::ClassIncremental
            && self.hp.mask_unseen;
        let (params, eval_batch) = (&self.params, self.hp.eval_batch);
        let cells = self.each_experience(&obj, |j| {
            if future_masked && j > e {
                (0.0, None)
            } else {
                accuracy_on(&obj, params, j, eval_batch, j == e)
            }
        });
        let dead = cells.get(e).and_then(|c| c.1);
        let row = cells.into_iter().map(|c| c.0).collect();
        self.matrix.push_row(row);
        self.dead_units.push(dead);
        Ok(())
    }

    fn state(&self) -> Result<State> {
        Ok(State {
            method: self.method,
            step: self.step,
            params: self.params.clone(),
            opt: self.opt.clone(),
            batch_rng: self.batch_rng.clone(),
            strategy_rng: self.strategy_rng.clone(),
            strategy: self.strategy.save_state()?,
            matrix: self.matrix.clone(),
            stats: self.stats.clone(),
            dead_units: self.dead_units.clone(),
            online: self.online.clone(),
        })
    }

    /// Every metric of the matrix so far, and the dead-unit shares (online: the curve's
    /// latest point and the forgetting of each block).
    pub fn matrix_metrics(&self) -> Metrics {
        let mut m = self.matrix.to_metrics();
        m.extend(self.online.to_metrics(&self.matrix));
        for (i, d) in self.dead_units.iter().enumerate() {
            if let Some(d) = d {
                m.insert(format!("dead_units_{i}"), *d);
            }
        }
        m
    }
}

/// Accuracy on experience `j`'s test set; with `dead`, also the share of the last hidden
/// layer's units never positive on it (MLP only).
fn accuracy_on(
    obj: &Objective<'_>,
    params: &Params<f32>,
    j: usize,
    eval_batch: usize,
    dead: bool,
) -> (f64, Option<f64>) {
    let exp = &obj.data.experiences[j];
    let n = exp.test.len();
    let mut correct = 0usize;
    let want_dead =
        dead && matches!(obj.model.body, Body::Mlp { ref layers, .. } if !layers.is_empty());
    let mut alive: Vec<bool> = Vec::new();
    no_grad(|| {
        let all: Vec<usize> = (0..n).collect();
        for chunk in all.chunks(eval_batch.max(1)) {
            let tape = Tape::<f32>::new();
            let vars = tape.params(params);
            let batch = Batch::gather(exp, chunk, true);
            let x = obj.model.input(&batch.x, batch.len());
            let h = obj.features(&vars, x);
            if want_dead {
                h.with_value(|v| {
                    let width = v.shape().get(1).copied().unwrap_or(0);
                    if alive.len() != width {
                        alive = vec![false; width];
                    }
                    for (k, &a) in v.iter().enumerate() {
                        if a > 0.0 {
                            alive[k % width] = true;
                        }
                    }
                });
            }
            correct += obj.model.correct(&vars, h, &obj.routing(&batch));
            drop(tape);
        }
    });
    let dead_share = want_dead.then(|| {
        let w = alive.len().max(1);
        alive.iter().filter(|&&a| !a).count() as f64 / w as f64
    });
    (correct as f64 / n.max(1) as f64, dead_share)
}

impl Algorithm for ContinualLearner {
    fn is_finite(&self) -> bool {
        self.params.all_finite()
    }

    fn total_steps(&self) -> u64 {
        self.total_epochs()
    }

    fn steps_done(&self) -> u64 {
        self.step
    }

    fn train_step(&mut self) -> autodidact_core::Result<Metrics> {
        // On the pool, so the batches' large products split their rows across the workers.
        let pool = self.pool.clone();
        Ok(parallel::install(pool.as_deref(), || self.train_epoch())?)
    }

    fn evaluate(&mut self, env: Option<&EnvInstance>) -> autodidact_core::Result<Metrics> {
        match env {
            None => Ok(self.matrix_metrics()),
            Some(EnvInstance::Stream(s)) => {
                let other = StreamData::from_stream(s.as_ref())?;
                let accs = self.accuracies_on(&other)?;
                let mut m = Metrics::new();
                for (j, &a) in accs.iter().enumerate() {
                    m.insert(format!("acc_{j}"), a);
                }
                m.insert(
                    "acc".into(),
                    accs.iter().sum::<f64>() / accs.len().max(1) as f64,
                );
                Ok(m)
            }
            Some(other) => Err(CoreError::Env(format!(
                "{} evaluates on continual-learning streams, not on {}",
                self.method.name(),
                other.kind().describe()
            ))),
        }
    }

    fn save(&self) -> autodidact_core::Result<Vec<u8>> {
        let state = self.state()?;
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
        if state.matrix.experiences != self.data.len() {
            return Err(CoreError::Checkpoint(format!(
                "the checkpoint is of a stream of {} experiences, this one has {}",
                state.matrix.experiences,
                self.data.len()
            )));
        }
        self.strategy.load_state(state.strategy)?;
        self.params = state.params;
        self.opt = state.opt;
        self.batch_rng = state.batch_rng;
        self.strategy_rng = state.strategy_rng;
        self.matrix = state.matrix;
        self.stats = state.stats;
        self.dead_units = state.dead_units;
        self.online = state.online;
        self.step = state.step;
        Ok(())
    }

    fn selection_metric(&self) -> Option<(String, Better)> {
        Some(("acc".into(), Better::Higher))
    }

    fn headline_metric(&self) -> &'static str {
        "acc"
    }

    fn matrices(&self) -> Matrices {
        Matrices::from([("accuracy_matrix".to_string(), self.matrix.to_matrix())])
    }
}
