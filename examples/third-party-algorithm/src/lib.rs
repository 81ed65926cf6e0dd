//! # third-party-algorithm
//!
//! A template for your own Autodidact algorithm crate: one real algorithm, registered by
//! name, usable both as a plain dependency and as a plugin.
//!
//! The algorithm, `linear-protonet`, is a prototypical network (Snell et al., 2017) whose
//! embedding is a learned linear map `z = x W`: each class's prototype is the mean embedding
//! of its support examples, a query is scored by its negative squared distance to every
//! prototype, and `W` is meta-trained with Adam on the query cross-entropy over batches of
//! few-shot classification tasks. Because the prototypes are built from the support set, one
//! trained `W` serves any number of ways: train 5-way, evaluate 20-way.
//!
//! What a new algorithm needs, in this file's order:
//! 1. a hyperparameter struct (serde, defaults, [`Hyperparams`] with docs and validation);
//! 2. a differentiable loss written with core's ops ([`episode_loss`], gradient-checked in
//!    `tests/gradients.rs` with core's public `testing` API);
//! 3. a type implementing [`Algorithm`]: `train_step`, `evaluate`, `save`, `load`;
//! 4. `register_algorithm!` (its name on the command line) and, for the plugin build,
//!    `declare_plugin!()`.
//!
//! ```
//! use third_party_algorithm as _; // links the registration in
//! use autodidact_envs as _;
//!
//! let registry = autodidact_core::Registry::from_inventory().unwrap();
//! assert!(registry.algorithm("linear-protonet").is_some());
//! ```
#![warn(missing_docs)]

use autodidact_core::config::Checked;
use autodidact_core::ndarray;
use autodidact_core::optim::values;
use autodidact_core::{
    accuracy, cross_entropy, no_grad, pairwise_sq_distance, Adam, Algorithm, Better, Config,
    CoreError, CreateGraph, EnvInstance, EnvKind, EnvSpec, Float, Hyperparams, Init, Metrics,
    Optimizer, Params, Result, Seed, Split, Tape, Targets, Task, TaskDistribution, TaskKind,
    Tensor, Var,
};
use serde::{Deserialize, Serialize};

/// The algorithm's name on the command line.
pub const NAME: &str = "linear-protonet";

/// Hyperparameters of [`LinearProtoNet`]. Unknown keys are refused (listing the valid ones);
/// values out of range name the key and the range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct ProtoNetParams {
    /// Meta-training steps (one batch of tasks each).
    #[param(min = 1, max = 1e9)]
    pub iterations: u64,
    /// Size of the learned linear embedding.
    #[param(min = 1, max = 4096)]
    pub embedding_dim: usize,
    /// Adam's learning rate.
    #[param(gt = 0, max = 10)]
    pub lr: f64,
    /// Tasks per meta-batch.
    #[param(min = 1, max = 10_000)]
    pub tasks_per_batch: usize,
    /// Log training metrics every this many steps.
    #[param(min = 1)]
    pub log_every: u64,
    /// Test tasks drawn by the final evaluation.
    #[param(min = 1, max = 10_000_000)]
    pub eval_tasks: usize,
}

impl Default for ProtoNetParams {
    fn default() -> Self {
        ProtoNetParams {
            iterations: 300,
            embedding_dim: 16,
            lr: 0.01,
            tasks_per_batch: 4,
            log_every: 10,
            eval_tasks: 200,
        }
    }
}

/// The averaging matrix `[ways, n]` whose row `c` holds `1 / count(c)` where a label is `c`:
/// multiplied with the support embeddings it gives the class prototypes.
///
/// A class without a support example is an error (its prototype would be undefined).
pub fn prototype_matrix<T: Float>(labels: &[usize], ways: usize) -> Result<Tensor<T>> {
    let mut counts = vec![0usize; ways];
    for &l in labels {
        if l >= ways {
            return Err(CoreError::Env(format!(
                "support label {l} is not below the number of ways {ways}"
            )));
        }
        counts[l] += 1;
    }
    if let Some(c) = counts.iter().position(|&n| n == 0) {
        return Err(CoreError::Env(format!(
            "class {c} has no support example, so it has no prototype"
        )));
    }
    let mut m = Tensor::<T>::zeros(ndarray::IxDyn(&[ways, labels.len()]));
    for (i, &l) in labels.iter().enumerate() {
        m[[l, i]] = T::of(1.0 / counts[l] as f64);
    }
    Ok(m)
}

/// The logits of one episode: `−‖x_q W − p_c‖²` for every query row and class prototype
/// `p_c = mean of x_s W over class c's support rows`.
///
/// `w` is `[dim, embedding]`, `support_x` `[n_s, dim]`, `query_x` `[n_q, dim]`, `prototypes`
/// the [`prototype_matrix`] of the support labels. Written with core's differentiable ops, so
/// its gradient (and its gradient's gradient) comes from the tape.
pub fn episode_logits<T: Float>(
    w: Var<T>,
    support_x: Var<T>,
    query_x: Var<T>,
    prototypes: Var<T>,
) -> Var<T> {
    let support = support_x.matmul(w);
    let centroids = prototypes.matmul(support);
    -pairwise_sq_distance(query_x.matmul(w), centroids)
}

/// The episode's loss: the query cross-entropy of [`episode_logits`].
pub fn episode_loss<T: Float>(
    w: Var<T>,
    support_x: Var<T>,
    query_x: Var<T>,
    prototypes: Var<T>,
    query_y: &[usize],
) -> Var<T> {
    cross_entropy(episode_logits(w, support_x, query_x, prototypes), query_y)
}

/// One task as `f64` matrices (`[n, dim]`) and labels.
struct Episode {
    support_x: Tensor<f64>,
    query_x: Tensor<f64>,
    prototypes: Tensor<f64>,
    query_y: Vec<usize>,
}

impl Episode {
    fn new(task: Task, ways: usize, dim: usize) -> Result<Episode> {
        let labels = |t: &Targets| {
            t.labels().map(<[usize]>::to_vec).ok_or_else(|| {
                CoreError::Env("linear-protonet needs class labels, not regression targets".into())
            })
        };
        let support_y = labels(&task.support_y)?;
        let query_y = labels(&task.query_y)?;
        Ok(Episode {
            support_x: flatten(&task.support_x, dim)?,
            query_x: flatten(&task.query_x, dim)?,
            prototypes: prototype_matrix(&support_y, ways)?,
            query_y,
        })
    }

    /// The loss and the query accuracy with the embedding `w`.
    fn score(&self, w: Var<f64>) -> (Var<f64>, f64) {
        let logits = episode_logits(
            w,
            Var::constant(self.support_x.clone()),
            Var::constant(self.query_x.clone()),
            Var::constant(self.prototypes.clone()),
        );
        let acc = accuracy(logits, &self.query_y);
        (cross_entropy(logits, &self.query_y), acc)
    }
}

/// `[n, …shape]` as `[n, dim]` in `f64`.
fn flatten(x: &Tensor<f32>, dim: usize) -> Result<Tensor<f64>> {
    let n = x.shape().first().copied().unwrap_or(0);
    if x.len() != n * dim {
        return Err(CoreError::Shape {
            op: "linear-protonet input",
            detail: format!(
                "examples of shape {:?} do not have {dim} features",
                &x.shape()[1..]
            ),
        });
    }
    let data: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    Tensor::from_shape_vec(ndarray::IxDyn(&[n, dim]), data)
        .map_err(|e| CoreError::Serde(e.to_string()))
}

/// What a checkpoint holds: every piece of state, so a resumed run continues exactly. The
/// tasks need no generator state: task `i` of a step is drawn from the seed and its index.
#[derive(Serialize, Deserialize)]
struct State {
    step: u64,
    params: Params<f64>,
    adam: Adam<f64>,
}

/// A prototypical network with a learned linear embedding, trained on few-shot
/// classification tasks.
///
/// It computes in `f64`: the model is small, and `f64` checkpoints written by `serde_json`
/// (with `float_roundtrip`) read back bit for bit.
pub struct LinearProtoNet {
    hp: ProtoNetParams,
    tasks: Box<dyn TaskDistribution>,
    dim: usize,
    seed: Seed,
    params: Params<f64>,
    adam: Adam<f64>,
    step: u64,
}

impl LinearProtoNet {
    /// A fresh learner on `tasks` (N-way classification), `W` drawn from `seed`.
    pub fn new(
        hp: Checked<ProtoNetParams>,
        tasks: Box<dyn TaskDistribution>,
        seed: Seed,
    ) -> Result<LinearProtoNet> {
        let hp = hp.into_inner();
        classification_ways(tasks.as_ref())?;
        let dim: usize = tasks.input_shape().iter().product();
        let mut params = Params::new();
        let w = Init::XavierNormal.sample::<f64>(
            &[dim, hp.embedding_dim],
            dim,
            hp.embedding_dim,
            &mut seed.rng("init"),
        );
        params.insert("embedding.weight", w);
        Ok(LinearProtoNet {
            adam: Adam::new(hp.lr),
            hp,
            tasks,
            dim,
            seed,
            params,
            step: 0,
        })
    }

    /// The embedding matrix `W`, `[dim, embedding_dim]`.
    pub fn embedding(&self) -> &Tensor<f64> {
        &self.params.tensors()[0]
    }

    fn episode(&self, dist: &dyn TaskDistribution, split: Split, index: u64) -> Result<Episode> {
        let ways = classification_ways(dist)?;
        let task = dist.task(split, self.seed.derive(split.name()), index)?;
        Episode::new(task, ways, self.dim)
    }
}

fn classification_ways(tasks: &dyn TaskDistribution) -> Result<usize> {
    match tasks.kind() {
        TaskKind::Classification { ways } => Ok(ways),
        TaskKind::Regression { .. } => Err(CoreError::Env(
            "linear-protonet trains on few-shot classification tasks, not regression".into(),
        )),
    }
}

impl Algorithm for LinearProtoNet {
    fn total_steps(&self) -> u64 {
        self.hp.iterations
    }

    fn steps_done(&self) -> u64 {
        self.step
    }

    fn train_step(&mut self) -> Result<Metrics> {
        let batch = self.hp.tasks_per_batch;
        let episodes = (0..batch as u64)
            .map(|b| {
                self.episode(
                    self.tasks.as_ref(),
                    Split::Train,
                    self.step * batch as u64 + b,
                )
            })
            .collect::<Result<Vec<_>>>()?;

        let tape = Tape::<f64>::new();
        let w = tape.params(&self.params);
        let mut loss = tape.scalar(0.0);
        let mut acc = 0.0;
        for e in &episodes {
            let (l, a) = e.score(w[0]);
            loss = loss + l;
            acc += a;
        }
        let loss = loss * (1.0 / batch as f64);
        let grads = tape.grad(&loss, &w, CreateGraph::No);
        self.adam.step(&mut self.params, &values(&grads))?;
        self.step += 1;

        let mut metrics = Metrics::new();
        if self.step.is_multiple_of(self.hp.log_every) || self.step == self.hp.iterations {
            metrics.insert("loss".into(), loss.item());
            metrics.insert("accuracy".into(), acc / batch as f64);
        }
        Ok(metrics)
    }

    fn evaluate(&mut self, env: Option<&EnvInstance>) -> Result<Metrics> {
        let dist: &dyn TaskDistribution = match env {
            None => self.tasks.as_ref(),
            Some(EnvInstance::Tasks(t)) => t.as_ref(),
            Some(other) => {
                return Err(CoreError::Env(format!(
                    "linear-protonet evaluates on few-shot classification tasks, not on {}",
                    other.kind().describe()
                )))
            }
        };
        let dim: usize = dist.input_shape().iter().product();
        if dim != self.dim {
            return Err(CoreError::Env(format!(
                "the model was trained on {} input features, this environment has {dim}",
                self.dim
            )));
        }
        let n = self.hp.eval_tasks;
        let mut accs = Vec::with_capacity(n);
        let mut loss = 0.0;
        no_grad(|| -> Result<()> {
            let _tape = Tape::<f64>::new();
            let w = Var::constant(self.embedding().clone());
            for i in 0..n as u64 {
                let (l, a) = self.episode(dist, Split::Test, i)?.score(w);
                loss += l.item();
                accs.push(a);
            }
            Ok(())
        })?;
        let mean = accs.iter().sum::<f64>() / n as f64;
        let var = accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64;
        let mut m = Metrics::new();
        m.insert("test_accuracy".into(), mean);
        m.insert("test_accuracy_ci95".into(), 1.96 * (var / n as f64).sqrt());
        m.insert("test_loss".into(), loss / n as f64);
        Ok(m)
    }

    fn save(&self) -> Result<Vec<u8>> {
        let state = State {
            step: self.step,
            params: self.params.clone(),
            adam: self.adam.clone(),
        };
        serde_json::to_vec(&state).map_err(|e| CoreError::Serde(e.to_string()))
    }

    fn load(&mut self, bytes: &[u8]) -> Result<()> {
        let state: State = serde_json::from_slice(bytes)
            .map_err(|e| CoreError::Checkpoint(format!("not a linear-protonet checkpoint: {e}")))?;
        self.params.check_compatible(&state.params)?;
        self.params = state.params;
        self.adam = state.adam;
        self.step = state.step;
        Ok(())
    }

    fn selection_metric(&self) -> Option<(String, Better)> {
        Some(("test_accuracy".into(), Better::Higher))
    }

    fn headline_metric(&self) -> &'static str {
        "loss"
    }
}

/// The registry's constructor: validated hyperparameters, the environment built with the
/// run's seed.
fn build(config: &Config, env: &EnvSpec, seed: Seed) -> Result<Box<dyn Algorithm>> {
    let hp = ProtoNetParams::from_config(config)?;
    match env.instantiate(seed)? {
        EnvInstance::Tasks(tasks) => Ok(Box::new(LinearProtoNet::new(hp, tasks, seed)?)),
        other => Err(CoreError::Env(format!(
            "linear-protonet trains on few-shot classification tasks; {} is {}",
            env.name(),
            other.kind().describe()
        ))),
    }
}

autodidact_core::register_algorithm! {
    name: NAME,
    family: "metric-based meta-learning (template plugin)",
    summary: "prototypical network with a learned linear embedding (the third-party template)",
    accepts: &[EnvKind::FewShotClassification],
    params: ProtoNetParams::docs,
    default_config: ProtoNetParams::default_config,
    build: build,
}

// The plugin build: exports the version-checked declaration `autodidact --plugin` reads.
#[cfg(feature = "plugin")]
autodidact_core::declare_plugin!();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prototype_matrix_averages_each_class() {
        let m = prototype_matrix::<f64>(&[0, 1, 0], 2).unwrap();
        assert_eq!(m[[0, 0]], 0.5);
        assert_eq!(m[[0, 2]], 0.5);
        assert_eq!(m[[1, 1]], 1.0);
        assert_eq!(m[[1, 0]], 0.0);
        assert!(prototype_matrix::<f64>(&[0, 0], 2).is_err());
        assert!(prototype_matrix::<f64>(&[0, 2], 2).is_err());
    }

    #[test]
    fn hyperparameters_are_validated() {
        let mut c = ProtoNetParams::default_config();
        c.insert("lr".into(), (-1.0).into());
        let e = ProtoNetParams::from_config(&c).unwrap_err().to_string();
        assert!(e.contains("lr"), "{e}");
        let mut c = ProtoNetParams::default_config();
        c.insert("learning_rate".into(), 0.1.into());
        let e = ProtoNetParams::from_config(&c).unwrap_err().to_string();
        assert!(
            e.contains("valid keys") && e.contains("embedding_dim"),
            "{e}"
        );
    }
}
