//! The `oml` algorithm on a continual stream with pretraining classes
//! (`--set env.pretrain_classes=K`): meta-training on those classes ([`crate::oml`]), then the
//! stream learnt online — one example per step, each once — by SGD on the prediction network
//! with the representation frozen, evaluated like every continual strategy (R[i][j], ACC, BWT,
//! forgetting per block, accuracy on everything seen against classes seen: [`crate::online`]).
//!
//! `representation` picks where the frozen representation comes from, so the papers' baselines
//! run through the very same meta-test: `oml` (meta-learnt), `pretrained` (ordinary supervised
//! training of the same network on the same classes for the same number of steps: the
//! "pretraining" baseline) or `random` (no training: a random representation).

use std::sync::Arc;

use autodidact_core::config::Checked;
use autodidact_core::layers::Activation;
use autodidact_core::optim::{values, Optimizer};
use autodidact_core::parallel::{self, ThreadPool};
use autodidact_core::{
    cross_entropy, no_grad, Adam, Algorithm, Better, Choice, Config, CoreError, CreateGraph,
    EnvInstance, EnvKind, EnvSpec, Hyperparams, Matrices, Metrics, Params, Rng, Scenario, Seed,
    Tape, Tensor, Var,
};
use ndarray::IxDyn;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::data::{ExperienceData, StreamData};
use crate::errors::{ContinualError, Result};
use crate::metrics::AccuracyMatrix;
use crate::model::MASKED;
use crate::oml::{oml_meta_loss, HeadReset, OmlNet};
use crate::online::{curve_point_by, OnlineProgress};

/// Where the frozen representation comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum Representation {
    /// Meta-learnt by OML on the pretraining classes.
    Oml,
    /// Supervised pretraining on the pretraining classes (the papers' baseline).
    Pretrained,
    /// Random initialisation, no training.
    Random,
}

/// Hyperparameters of `oml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct OmlParams {
    /// Where the frozen representation comes from (oml, pretrained, random).
    pub representation: Representation,
    /// Hidden widths of the representation network (RLN).
    #[param(min = 1, max = 65_536, max_len = 64)]
    pub rln_hidden: Vec<usize>,
    /// Hidden widths of the prediction network (PLN) before its output layer.
    #[param(min = 1, max = 65_536, max_len = 64)]
    pub pln_hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
    /// Meta-training (or pretraining) steps.
    #[param(max = 1e9)]
    pub meta_iterations: usize,
    /// Adam's learning rate of the meta-update (and of pretraining).
    #[param(gt = 0, max = 10)]
    pub meta_lr: f64,
    /// SGD step α of the inner loop and of the online learning at meta-test.
    #[param(gt = 0, max = 100)]
    pub inner_lr: f64,
    /// Classes per meta-training trajectory.
    #[param(min = 1, max = 100_000)]
    pub traj_classes: usize,
    /// Examples per class in a trajectory (inner steps = traj_classes × traj_shots).
    #[param(min = 1, max = 100_000)]
    pub traj_shots: usize,
    /// Examples of the remember batch, drawn from all pretraining classes.
    #[param(max = 1_000_000)]
    pub remember: usize,
    /// Which output weights each meta-training step zeroes before its inner loop (none,
    /// trajectory: the paper's, all: start from a zero output layer as the meta-test stream does).
    pub head_reset: HeadReset,
    /// Minibatch size of supervised pretraining.
    #[param(min = 1, max = 1_000_000)]
    pub pretrain_batch: usize,
    /// Class-incremental: classes not seen yet take no part in the loss or the prediction.
    pub mask_unseen: bool,
    /// Examples per evaluation batch.
    #[param(min = 1, max = 1_000_000)]
    pub eval_batch: usize,
    /// Log the meta-loss every N meta-training steps.
    #[param(min = 1, max = 1e9)]
    pub log_every: usize,
    /// Worker threads (0: every core) for the steps' large products and the evaluation of
    /// each experience's test set; results do not depend on it.
    #[param(min = 0, max = 256)]
    pub threads: usize,
}

impl Default for OmlParams {
    fn default() -> Self {
        OmlParams {
            representation: Representation::Oml,
            rln_hidden: vec![256, 256],
            pln_hidden: Vec::new(),
            activation: Activation::Relu,
            meta_iterations: 1000,
            meta_lr: 1e-3,
            inner_lr: 0.03,
            traj_classes: 3,
            traj_shots: 5,
            remember: 20,
            head_reset: HeadReset::All,
            pretrain_batch: 32,
            mask_unseen: true,
            eval_batch: 512,
            log_every: 50,
            threads: 0,
        }
    }
}

/// Everything a checkpoint holds.
#[derive(Serialize, Deserialize)]
struct State {
    step: u64,
    params: Params<f32>,
    adam: Adam<f32>,
    test_params: Option<Params<f32>>,
    rng: Rng,
    matrix: AccuracyMatrix,
    online: OnlineProgress,
}

/// OML (or a baseline representation) on a stream.
pub struct OmlLearner {
    hp: OmlParams,
    data: StreamData,
    net: OmlNet,
    test_net: OmlNet,
    params: Params<f32>,
    adam: Adam<f32>,
    test_params: Option<Params<f32>>,
    rng: Rng,
    step: u64,
    matrix: AccuracyMatrix,
    online: OnlineProgress,
    by_class: Vec<Vec<usize>>,
    /// Workers for the steps and the evaluation of each experience (`threads` > 1).
    pool: Option<Arc<ThreadPool>>,
}

impl OmlLearner {
    /// Builds the learner on a registered environment.
    pub fn on_env(hp: Checked<OmlParams>, env: &EnvSpec, seed: Seed) -> Result<OmlLearner> {
        match env.instantiate(seed.derive("env"))? {
            EnvInstance::Stream(s) => Self::with_stream(hp, s.as_ref(), seed),
            other => Err(ContinualError::Core(CoreError::WrongEnvKind {
                algorithm: "oml".into(),
                expected: "a continual-learning stream".into(),
                env: env.name().into(),
                actual: other.kind().describe().into(),
            })),
        }
    }

    /// Builds the learner on a stream directly.
    pub fn with_stream(
        hp: Checked<OmlParams>,
        stream: &dyn autodidact_core::TaskStream,
        seed: Seed,
    ) -> Result<OmlLearner> {
        let hp = hp.into_inner();
        let data = StreamData::from_stream(stream)?;
        let pre_classes = data.pretraining.as_ref().map_or(0, |p| p.classes.len());
        if hp.representation != Representation::Random && pre_classes == 0 {
            return Err(ContinualError::Incompatible(format!(
                "representation = {:?} trains on classes kept out of the stream, and this stream has none: set env.pretrain_classes (or representation = \"random\")",
                hp.representation
            )));
        }
        if hp.representation == Representation::Oml && pre_classes < hp.traj_classes {
            return Err(ContinualError::Incompatible(format!(
                "traj_classes = {} but the stream keeps only {pre_classes} pretraining classes",
                hp.traj_classes
            )));
        }
        let mut params = Params::new();
        let net = OmlNet::build(
            data.dim,
            &hp.rln_hidden,
            &hp.pln_hidden,
            pre_classes.max(1),
            hp.activation,
            &mut params,
            &mut seed.rng("init"),
        );
        let mut test_net = net.clone();
        test_net.head.out_dim = data.num_classes;
        let mut by_class = vec![Vec::new(); pre_classes];
        if let Some(p) = &data.pretraining {
            for (i, &y) in p.train.y.iter().enumerate() {
                by_class[y].push(i);
            }
        }
        let pool = parallel::pool_for(hp.threads)?.map(Arc::new);
        Ok(OmlLearner {
            adam: Adam::new(hp.meta_lr),
            hp,
            data,
            net,
            test_net,
            params,
            test_params: None,
            rng: seed.rng("trajectories"),
            step: 0,
            matrix: AccuracyMatrix::default(),
            online: OnlineProgress::default(),
            by_class,
            pool,
        })
    }

    /// Meta-training (or pretraining) steps before the stream.
    pub fn meta_steps(&self) -> u64 {
        match self.hp.representation {
            Representation::Random => 0,
            _ => self.hp.meta_iterations as u64,
        }
    }

    /// The accuracy matrix of the stream so far.
    pub fn matrix(&self) -> &AccuracyMatrix {
        &self.matrix
    }

    /// The online curve so far.
    pub fn online_progress(&self) -> &OnlineProgress {
        &self.online
    }

    /// The network (head over the pretraining classes) and its parameters.
    pub fn net(&self) -> (&OmlNet, &Params<f32>) {
        (&self.net, &self.params)
    }

    fn pretraining(&self) -> Result<&ExperienceData> {
        self.data.pretraining.as_ref().ok_or_else(|| {
            ContinualError::Incompatible("the stream has no pretraining classes".into())
        })
    }

    /// Rows `idx` of the pretraining set as an input and labels.
    fn rows(&self, idx: &[usize]) -> Result<(Tensor<f32>, Vec<usize>)> {
        let p = self.pretraining()?;
        let mut x = Vec::with_capacity(idx.len() * self.data.dim);
        for &i in idx {
            x.extend_from_slice(p.train.row(i));
        }
        let y = idx.iter().map(|&i| p.train.y[i]).collect();
        Ok((matrix(x, idx.len(), self.data.dim)?, y))
    }

    /// A trajectory: `traj_classes` distinct classes, `traj_shots` examples each, class after
    /// class; and a remember batch drawn uniformly from every pretraining example.
    fn sample_trajectory(&mut self) -> (Vec<usize>, Vec<usize>) {
        let k = self.by_class.len();
        let classes =
            rand::seq::index::sample(&mut self.rng, k, self.hp.traj_classes.min(k)).into_vec();
        let mut traj = Vec::new();
        for c in classes {
            let pool = &self.by_class[c];
            if pool.len() >= self.hp.traj_shots {
                let pick = rand::seq::index::sample(&mut self.rng, pool.len(), self.hp.traj_shots);
                traj.extend(pick.into_iter().map(|i| pool[i]));
            } else {
                for _ in 0..self.hp.traj_shots {
                    traj.push(pool[self.rng.random_range(0..pool.len())]);
                }
            }
        }
        let n = self.by_class.iter().map(Vec::len).sum::<usize>();
        let remember = (0..self.hp.remember)
            .map(|_| self.rng.random_range(0..n.max(1)))
            .collect();
        (traj, remember)
    }

    /// One OML meta-update; returns the meta-loss.
    fn meta_step(&mut self) -> Result<f64> {
        let (traj, remember) = self.sample_trajectory();
        let (tx, ty) = self.rows(&traj)?;
        let all: Vec<usize> = traj.iter().chain(&remember).copied().collect();
        let (ex, ey) = self.rows(&all)?;
        let tape = Tape::<f32>::new();
        let vars = tape.params(&self.params);
        let loss = oml_meta_loss(
            &self.net,
            &vars,
            Var::constant(tx),
            &ty,
            Var::constant(ex),
            &ey,
            self.hp.inner_lr,
            self.hp.head_reset,
            CreateGraph::Yes,
        );
        let g = values(&tape.grad(&loss, &vars, CreateGraph::No));
        let l = loss.item();
        drop(tape);
        self.adam.step(&mut self.params, &g)?;
        Ok(l)
    }

    /// One supervised minibatch step on the pretraining classes; returns the loss.
    fn pretrain_step(&mut self) -> Result<f64> {
        let n = self.by_class.iter().map(Vec::len).sum::<usize>();
        let idx: Vec<usize> = (0..self.hp.pretrain_batch)
            .map(|_| self.rng.random_range(0..n.max(1)))
            .collect();
        let (x, y) = self.rows(&idx)?;
        let tape = Tape::<f32>::new();
        let vars = tape.params(&self.params);
        let x = Var::constant(x);
        let loss = cross_entropy(self.net.predict(&vars, self.net.features(&vars, x)), &y);
        let g = values(&tape.grad(&loss, &vars, CreateGraph::No));
        let l = loss.item();
        drop(tape);
        self.adam.step(&mut self.params, &g)?;
        Ok(l)
    }

    /// The meta-test network: the trained RLN and PLN, a zero output layer over the stream's
    /// classes (new classes start from nothing, as in the meta-training's resets).
    fn start_stream(&mut self) {
        let mut p = self.params.clone();
        let d = self.test_net.head.in_dim;
        let n = self.data.num_classes;
        p.tensors_mut()[self.test_net.head.weight] = Tensor::zeros(IxDyn(&[d, n]));
        if let Some(b) = self.test_net.head.bias {
            p.tensors_mut()[b] = Tensor::zeros(IxDyn(&[n]));
        }
        self.test_params = Some(p);
        let init = (0..self.data.len())
            .map(|j| self.accuracy(j, None, true))
            .collect();
        self.matrix = AccuracyMatrix::new(init);
    }

    /// Classes of experiences `0..=e`.
    fn seen_upto(&self, e: Option<usize>) -> Vec<bool> {
        let mut seen = vec![false; self.data.num_classes];
        if let Some(e) = e {
            for x in &self.data.experiences[..=e] {
                for &c in &x.classes {
                    if c < seen.len() {
                        seen[c] = true;
                    }
                }
            }
        }
        seen
    }

    /// The additive mask of classes not seen (none if nothing is seen or masking is off).
    fn mask(&self, seen: &[bool], rows: usize) -> Option<Tensor<f32>> {
        if !self.hp.mask_unseen || !seen.iter().any(|&s| s) {
            return None;
        }
        let row: Vec<f32> = seen.iter().map(|&s| if s { 0.0 } else { MASKED }).collect();
        let x: Vec<f32> = (0..rows).flat_map(|_| row.iter().copied()).collect();
        matrix(x, rows, seen.len()).ok()
    }

    /// Correct predictions of the meta-test network on experience `j` (test or training
    /// examples) with the classes of experiences `0..=upto` allowed.
    fn correct(&self, j: usize, upto: Option<usize>, test: bool) -> usize {
        let Some(p) = self.test_params.as_ref() else {
            return 0;
        };
        let exp = &self.data.experiences[j];
        let ex = if test { &exp.test } else { &exp.train };
        let seen = self.seen_upto(upto);
        let all: Vec<usize> = (0..ex.len()).collect();
        no_grad(|| {
            all.chunks(self.hp.eval_batch)
                .map(|chunk| {
                    let tape = Tape::<f32>::new();
                    let vars = tape.params(p);
                    let mut x = Vec::with_capacity(chunk.len() * ex.dim);
                    for &i in chunk {
                        x.extend_from_slice(ex.row(i));
                    }
                    let Ok(x) = matrix(x, chunk.len(), ex.dim) else {
                        return 0;
                    };
                    let x = Var::constant(x);
                    let mut logits = self
                        .test_net
                        .predict(&vars, self.test_net.features(&vars, x));
                    if let Some(m) = self.mask(&seen, chunk.len()) {
                        logits = logits + Var::constant(m);
                    }
                    let pred = logits.argmax(1);
                    let c = pred
                        .iter()
                        .zip(chunk)
                        .filter(|(p, &i)| **p == ex.y[i])
                        .count();
                    drop(tape);
                    c
                })
                .sum()
        })
    }

    fn accuracy(&self, j: usize, upto: Option<usize>, test: bool) -> f64 {
        let exp = &self.data.experiences[j];
        let n = if test {
            exp.test.len()
        } else {
            exp.train.len()
        };
        self.correct(j, upto, test) as f64 / n.max(1) as f64
    }

    /// One online SGD step of the prediction network on the next example of the stream.
    fn online_step(&mut self) -> Result<Metrics> {
        if self.test_params.is_none() {
            self.start_stream();
        }
        let s = self.step - self.meta_steps();
        let Some((e, i)) = self.data.online_position(s) else {
            return Err(ContinualError::Incompatible(format!(
                "the stream is done: all {s} examples learnt"
            )));
        };
        let seen = self.seen_upto(Some(e));
        let ex = &self.data.experiences[e].train;
        let x = matrix(ex.row(i).to_vec(), 1, ex.dim)?;
        let y = ex.y[i];
        let mask = self.mask(&seen, 1);
        let idx = self.test_net.pln_indices();
        let p = self
            .test_params
            .as_mut()
            .ok_or_else(|| ContinualError::Checkpoint("no meta-test network".into()))?;
        let tape = Tape::<f32>::new();
        let vars = tape.params(p);
        let h = self.test_net.features(&vars, Var::constant(x)).detach();
        let mut logits = self.test_net.predict(&vars, h);
        if let Some(m) = mask {
            logits = logits + Var::constant(m);
        }
        let loss = cross_entropy(logits, &[y]);
        let wrt: Vec<Var<f32>> = idx.iter().map(|&k| vars[k]).collect();
        let g = values(&tape.grad(&loss, &wrt, CreateGraph::No));
        let l = loss.item();
        drop(tape);
        if !l.is_finite() {
            return Err(ContinualError::NonFinite {
                experience: e,
                epoch: 0,
                value: l,
            });
        }
        let lr = self.hp.inner_lr as f32;
        for (g, &k) in g.iter().zip(&idx) {
            p.tensors_mut()[k].zip_mut_with(g, |w, &g| *w -= lr * g);
        }
        self.online.add_loss(l, 0.0);
        self.step += 1;
        let mut m = Metrics::new();
        if i + 1 == self.data.experiences[e].train.len() {
            m.extend(self.online.take_loss());
            m.insert("experience".into(), e as f64);
            // Future blocks' classes are masked: 0 by construction, not computed.
            let future_masked =
                self.hp.mask_unseen && self.data.scenario == Scenario::ClassIncremental;
            // Each experience's test set is scored with no random draw: the cells are
            // independent pieces, put in the row in experience order.
            let experiences: Vec<usize> = (0..self.data.len()).collect();
            let row = parallel::ordered_map(self.pool.as_deref(), &experiences, |&j| {
                if future_masked && j > e {
                    0.0
                } else {
                    self.accuracy(j, Some(e), true)
                }
            });
            self.matrix.push_row(row);
            let classes = seen.iter().filter(|&&s| s).count();
            let point = curve_point_by(&self.data, classes, e, &self.matrix, |x| {
                self.correct(x.index, Some(e), false)
            });
            self.online.curve.push(point);
            m.extend(self.all_metrics());
        }
        Ok(m)
    }

    fn all_metrics(&self) -> Metrics {
        let mut m = self.matrix.to_metrics();
        m.extend(self.online.to_metrics(&self.matrix));
        m
    }

    /// One step: a meta-training (or pretraining) step, then one online example per step.
    pub fn step(&mut self) -> Result<Metrics> {
        if self.step < self.meta_steps() {
            let loss = match self.hp.representation {
                Representation::Oml => self.meta_step()?,
                _ => self.pretrain_step()?,
            };
            if !loss.is_finite() {
                return Err(ContinualError::NonFinite {
                    experience: 0,
                    epoch: self.step as usize,
                    value: loss,
                });
            }
            self.step += 1;
            let mut m = Metrics::new();
            if self.step.is_multiple_of(self.hp.log_every as u64) || self.step == self.meta_steps()
            {
                m.insert("meta_loss".into(), loss);
            }
            return Ok(m);
        }
        self.online_step()
    }
}

/// A `[rows, cols]` tensor from row-major values.
fn matrix(x: Vec<f32>, rows: usize, cols: usize) -> Result<Tensor<f32>> {
    Tensor::from_shape_vec(IxDyn(&[rows, cols]), x)
        .map_err(|e| ContinualError::Incompatible(format!("a [{rows}, {cols}] batch: {e}")))
}

impl Algorithm for OmlLearner {
    fn is_finite(&self) -> bool {
        self.params.all_finite() && self.test_params.as_ref().is_none_or(|p| p.all_finite())
    }
    fn total_steps(&self) -> u64 {
        self.meta_steps() + self.data.train_examples() as u64
    }
    fn steps_done(&self) -> u64 {
        self.step
    }
    fn train_step(&mut self) -> autodidact_core::Result<Metrics> {
        // On the pool, so the steps' large products split their rows across the workers.
        let pool = self.pool.clone();
        Ok(parallel::install(pool.as_deref(), || self.step())?)
    }
    fn evaluate(&mut self, env: Option<&EnvInstance>) -> autodidact_core::Result<Metrics> {
        match env {
            None => Ok(self.all_metrics()),
            Some(_) => Err(CoreError::Env(
                "oml evaluates on the stream it learnt (evaluate without an environment)".into(),
            )),
        }
    }
    fn save(&self) -> autodidact_core::Result<Vec<u8>> {
        let state = State {
            step: self.step,
            params: self.params.clone(),
            adam: self.adam.clone(),
            test_params: self.test_params.clone(),
            rng: self.rng.clone(),
            matrix: self.matrix.clone(),
            online: self.online.clone(),
        };
        serde_json::to_vec(&state).map_err(|e| CoreError::Serde(e.to_string()))
    }
    fn load(&mut self, bytes: &[u8]) -> autodidact_core::Result<()> {
        let state: State = serde_json::from_slice(bytes)
            .map_err(|e| CoreError::Checkpoint(format!("not an oml checkpoint: {e}")))?;
        self.params.check_compatible(&state.params)?;
        self.step = state.step;
        self.params = state.params;
        self.adam = state.adam;
        self.test_params = state.test_params;
        self.rng = state.rng;
        self.matrix = state.matrix;
        self.online = state.online;
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

fn build_oml(
    config: &Config,
    env: &EnvSpec,
    seed: Seed,
) -> autodidact_core::Result<Box<dyn Algorithm>> {
    let hp = OmlParams::default().with_config(config)?;
    Ok(Box::new(OmlLearner::on_env(hp, env, seed)?))
}

autodidact_core::register_algorithm! {
    name: "oml",
    family: "continual learning",
    summary: "OML: meta-learnt representation, prediction network learnt online one example at a time (Javed and White 2019)",
    accepts: &[EnvKind::Continual],
    params: OmlParams::docs,
    default_config: OmlParams::default_config,
    build: build_oml,
}
