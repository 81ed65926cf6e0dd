//! Training the embedding head: Prototypical Networks episodes (Snell et al. 2017, the metric
//! family's `proto_loss`) drawn from stored examples, under a continual-learning strategy
//! from the continual family (class-balanced replay memory, EWC's penalty, LwF's
//! distillation), so that learning new intents does not undo the old ones.

use std::collections::BTreeMap;

use autodidact_continual::lwf::distillation;
use autodidact_continual::replay::{Buffer, Policy};
use autodidact_continual::strategy::weighted_sq_distance;
use autodidact_core::optim::{clip_grad_norm, values, Adam, Optimizer};
use autodidact_core::{no_grad, CreateGraph, Rng, Tape, Tensor, Var};
use autodidact_metric::proto::{proto_logits, prototypes, Distance};
use ndarray::Array2;
use rand::seq::{IndexedRandom, SliceRandom};
use serde::{Deserialize, Serialize};

use crate::error::{AgentError, Result};
use crate::features::Row;
use crate::head::Head;

/// What a consolidation trains on and how it protects what the head knew.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Episodes from the new examples only (plain fine-tuning; forgets).
    Naive,
    /// Episodes from the new examples and a class-balanced memory of the old ones.
    #[default]
    Replay,
    /// Episodes from the new examples with EWC's quadratic penalty around the current head,
    /// weighted by its diagonal empirical Fisher on old episodes.
    Ewc,
    /// Episodes from the new examples with LwF's distillation of the current head's episode
    /// logits.
    Lwf,
    /// Episodes from every example (what retraining from scratch does).
    Joint,
}

/// Episode and optimiser settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearnConfig {
    /// Most episodes (optimiser steps) per consolidation.
    pub episodes: usize,
    /// Passes over the training pool: a run takes at most `epochs · pool / episode size`
    /// episodes, so a small pool is not overfitted by a fixed step count.
    pub epochs: usize,
    /// Episodes of the bootstrap model's meta-training.
    pub bootstrap_episodes: usize,
    /// Intents per episode.
    pub ways: usize,
    /// Support examples per intent.
    pub shots: usize,
    /// Query examples per intent.
    pub queries: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Logit scale: logits are `-scale · ‖q − c‖²` (features are unit vectors, so distances
    /// lie in [0, 4]; a scale near 10 gives the softmax room).
    pub scale: f64,
    /// Rank of the head's correction.
    pub rank: usize,
    /// Replay memory, in examples (class-balanced).
    pub memory: usize,
    /// EWC's λ.
    pub ewc_lambda: f64,
    /// Old episodes the EWC Fisher is estimated on.
    pub ewc_episodes: usize,
    /// LwF's weight of the distillation term.
    pub lwf_alpha: f64,
    /// LwF's softmax temperature.
    pub lwf_temperature: f64,
    /// Gradient-norm clip.
    pub clip: f64,
}

impl Default for LearnConfig {
    fn default() -> Self {
        LearnConfig {
            episodes: 200,
            epochs: 10,
            bootstrap_episodes: 600,
            ways: 10,
            shots: 5,
            queries: 5,
            lr: 5e-4,
            scale: 10.0,
            rank: 64,
            memory: 2000,
            ewc_lambda: 100.0,
            ewc_episodes: 20,
            lwf_alpha: 1.0,
            lwf_temperature: 2.0,
            clip: 5.0,
        }
    }
}

impl LearnConfig {
    /// Checks every field, naming the first bad one (`prefix` is the config path).
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let field = |f: &str| format!("{prefix}.{f}");
        let ranges: [(&str, usize, usize, usize); 8] = [
            ("episodes", self.episodes, 0, 1_000_000),
            ("epochs", self.epochs, 1, 1_000_000),
            ("bootstrap_episodes", self.bootstrap_episodes, 0, 1_000_000),
            ("ways", self.ways, 2, 1000),
            ("shots", self.shots, 1, 1000),
            ("queries", self.queries, 1, 1000),
            ("rank", self.rank, 1, 4096),
            ("memory", self.memory, 1, 10_000_000),
        ];
        for (name, v, lo, hi) in ranges {
            if !(lo..=hi).contains(&v) {
                return Err(AgentError::config(
                    field(name),
                    format!("{v} is not in {lo}..={hi}"),
                ));
            }
        }
        for (name, v) in [
            ("lr", self.lr),
            ("scale", self.scale),
            ("lwf_temperature", self.lwf_temperature),
            ("clip", self.clip),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(AgentError::config(
                    field(name),
                    format!("{v} must be positive"),
                ));
            }
        }
        for (name, v) in [
            ("ewc_lambda", self.ewc_lambda),
            ("lwf_alpha", self.lwf_alpha),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(AgentError::config(
                    field(name),
                    format!("{v} must be zero or positive"),
                ));
            }
        }
        if self.ewc_episodes == 0 || self.ewc_episodes > 10_000 {
            return Err(AgentError::config(
                field("ewc_episodes"),
                format!("{} is not in 1..=10000", self.ewc_episodes),
            ));
        }
        Ok(())
    }
}

/// Labelled feature rows, borrowed from where the features are kept (the agent's example
/// cache): a consolidation splits, trains and scores on these without copying the feature
/// matrix, so its memory does not grow with every example stored (each copy of 30,000
/// 4,096-wide hashed rows is 480 MB).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labelled<'a> {
    /// Row width.
    pub dim: usize,
    /// The rows (dense or sparse, borrowed).
    pub x: Vec<Row<'a>>,
    /// Class index of each row.
    pub y: Vec<usize>,
}

impl<'a> Labelled<'a> {
    /// An empty set of `dim`-wide rows.
    pub fn new(dim: usize) -> Labelled<'a> {
        Labelled {
            dim,
            ..Labelled::default()
        }
    }
    /// Adds a row (ignored when its width is wrong).
    pub fn push(&mut self, x: impl Into<Row<'a>>, y: usize) {
        let x = x.into();
        if x.dim() == self.dim {
            self.x.push(x);
            self.y.push(y);
        }
    }
    /// Rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }
    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    /// Row `i`.
    pub fn row(&self, i: usize) -> Row<'a> {
        self.x[i]
    }
    /// Appends every row of `other`.
    pub fn extend(&mut self, other: &Labelled<'a>) {
        for i in 0..other.len() {
            self.push(other.row(i), other.y[i]);
        }
    }
    /// Row indices per class.
    fn by_class(&self) -> BTreeMap<usize, Vec<usize>> {
        let mut m: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, &y) in self.y.iter().enumerate() {
            m.entry(y).or_default().push(i);
        }
        m
    }
}

/// What a training run did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// The strategy.
    pub strategy: Option<Strategy>,
    /// Episodes trained.
    pub episodes: usize,
    /// Rows the episodes were drawn from.
    pub pool: usize,
    /// Classes they were drawn from.
    pub classes: usize,
    /// Mean episode loss over the first and the last tenth of the run.
    pub loss_first: Option<f64>,
    /// See `loss_first`.
    pub loss_last: Option<f64>,
}

/// One episode: rows of the pool and their episode labels.
struct Episode {
    support: Vec<usize>,
    support_y: Vec<usize>,
    query: Vec<usize>,
    query_y: Vec<usize>,
    ways: usize,
}

/// Draws episodes from a pool of rows: `ways` classes among those with 2 or more rows, up to
/// `shots` support rows each (always one row left for the query), up to `queries` queries.
struct Sampler {
    classes: Vec<Vec<usize>>,
}

impl Sampler {
    fn new(pool: &Labelled<'_>) -> Sampler {
        Sampler {
            classes: pool
                .by_class()
                .into_values()
                .filter(|rows| rows.len() >= 2)
                .collect(),
        }
    }

    fn usable(&self) -> bool {
        self.classes.len() >= 2
    }

    fn draw(&self, cfg: &LearnConfig, rng: &mut Rng) -> Episode {
        let ways = cfg.ways.min(self.classes.len());
        let chosen: Vec<&Vec<usize>> = self.classes.choose_multiple(rng, ways).collect();
        let mut e = Episode {
            support: Vec::new(),
            support_y: Vec::new(),
            query: Vec::new(),
            query_y: Vec::new(),
            ways,
        };
        for (c, rows) in chosen.into_iter().enumerate() {
            let mut rows = rows.clone();
            rows.shuffle(rng);
            let s = cfg.shots.min(rows.len() - 1);
            let q = cfg.queries.min(rows.len() - s);
            e.support.extend_from_slice(&rows[..s]);
            e.support_y.extend(std::iter::repeat_n(c, s));
            e.query.extend_from_slice(&rows[s..s + q]);
            e.query_y.extend(std::iter::repeat_n(c, q));
        }
        e
    }
}

/// `[rows.len(), dim]` constant of the chosen pool rows: the one place a training episode
/// needs its rows dense (a matrix product takes them so), an episode's worth at a time.
fn rows_var(pool: &Labelled<'_>, rows: &[usize]) -> Var<f32> {
    let mut m = vec![0.0f32; rows.len() * pool.dim];
    if pool.dim > 0 {
        for (out, &i) in m.chunks_exact_mut(pool.dim).zip(rows) {
            pool.row(i).write_into(out);
        }
    }
    let m = Array2::from_shape_vec((rows.len(), pool.dim), m)
        .unwrap_or_else(|_| Array2::zeros((rows.len(), pool.dim)));
    Var::constant(m.into_dyn())
}

/// The episode's logits under head parameters `p`.
fn episode_logits(p: &[Var<f32>], pool: &Labelled<'_>, e: &Episode, scale: f64) -> Var<f32> {
    let zs = Head::forward(p, rows_var(pool, &e.support));
    let zq = Head::forward(p, rows_var(pool, &e.query));
    let protos = prototypes(zs, &e.support_y, e.ways);
    proto_logits(zq, protos, Distance::Euclidean, scale)
}

/// The diagonal empirical Fisher of the episode loss at `head` over episodes of `old`.
fn fisher(head: &Head, old: &Labelled<'_>, cfg: &LearnConfig, rng: &mut Rng) -> Vec<Tensor<f32>> {
    let mut acc: Vec<Tensor<f32>> = head
        .params()
        .tensors()
        .iter()
        .map(|t| Tensor::zeros(t.raw_dim()))
        .collect();
    let sampler = Sampler::new(old);
    if !sampler.usable() {
        return acc;
    }
    for _ in 0..cfg.ewc_episodes {
        let e = sampler.draw(cfg, rng);
        let tape = Tape::<f32>::new();
        let vars = tape.params(head.params());
        let loss =
            autodidact_core::cross_entropy(episode_logits(&vars, old, &e, cfg.scale), &e.query_y);
        let g = values(&tape.grad(&loss, &vars, CreateGraph::No));
        for (a, g) in acc.iter_mut().zip(&g) {
            a.zip_mut_with(g, |a, g| *a += g * g);
        }
    }
    let n = cfg.ewc_episodes as f32;
    acc.iter_mut().for_each(|a| a.mapv_inplace(|v| v / n));
    acc
}

/// The new rows and a class-balanced memory of `cfg.memory` old ones (the continual family's
/// replay buffer, offered the old rows in a random order).
///
/// The memory keeps row numbers, not rows: each offer is an empty input tagged with the row's
/// index as its experience, so choosing the old rows copies none of them (`memory` 4,096-wide
/// rows were 32 MB per consolidation). The policy's draws depend on labels only, so it
/// chooses what it chose when it held copies.
fn replay_pool<'a>(
    old: &Labelled<'a>,
    new: &Labelled<'a>,
    cfg: &LearnConfig,
    rng: &mut Rng,
) -> Labelled<'a> {
    let mut memory = Buffer::new(cfg.memory, Policy::ClassBalanced);
    let mut order: Vec<usize> = (0..old.len()).collect();
    order.shuffle(rng);
    for i in order {
        memory.add(&[], old.y[i], i, rng);
    }
    let mut pool = new.clone();
    for (&i, &y) in memory.items.exp.iter().zip(&memory.items.y) {
        pool.push(old.row(i), y);
    }
    pool
}

/// Trains a copy of `head` on `new` (and, by the strategy, on `old`), both indexed by the
/// same classes. With fewer than two classes of two or more rows to draw from, nothing is
/// trained and the copy is returned as it was.
pub fn train(
    head: &Head,
    old: &Labelled<'_>,
    new: &Labelled<'_>,
    strategy: Strategy,
    episodes: usize,
    cfg: &LearnConfig,
    rng: &mut Rng,
) -> Result<(Head, TrainReport)> {
    let pool = match strategy {
        Strategy::Naive | Strategy::Ewc | Strategy::Lwf => new.clone(),
        Strategy::Joint => {
            let mut all = old.clone();
            all.extend(new);
            all
        }
        Strategy::Replay => replay_pool(old, new, cfg, rng),
    };
    let sampler = Sampler::new(&pool);
    let mut report = TrainReport {
        strategy: Some(strategy),
        pool: pool.len(),
        classes: sampler.classes.len(),
        ..TrainReport::default()
    };
    let mut out = head.clone();
    let ways = cfg.ways.min(sampler.classes.len()).max(1);
    let episode_rows = ways * (cfg.shots + cfg.queries);
    let episodes = episodes.min((cfg.epochs * pool.len()).div_ceil(episode_rows));
    if !sampler.usable() || episodes == 0 {
        return Ok((out, report));
    }
    let anchor: Vec<Tensor<f32>> = head.params().tensors().to_vec();
    let weights = match strategy {
        Strategy::Ewc if cfg.ewc_lambda > 0.0 => Some(fisher(head, old, cfg, rng)),
        _ => None,
    };
    let mut adam = Adam::<f32>::new(cfg.lr);
    let tenth = (episodes / 10).max(1);
    let (mut first, mut last) = (Vec::new(), Vec::new());
    for step in 0..episodes {
        let e = sampler.draw(cfg, rng);
        let tape = Tape::<f32>::new();
        let vars = tape.params(out.params());
        let logits = episode_logits(&vars, &pool, &e, cfg.scale);
        let task = autodidact_core::cross_entropy(logits, &e.query_y);
        let mut loss = task;
        if let Some(w) = &weights {
            loss = loss + weighted_sq_distance(&vars, w, &anchor) * (cfg.ewc_lambda / 2.0);
        }
        if strategy == Strategy::Lwf && cfg.lwf_alpha > 0.0 {
            let old_logits = no_grad(|| {
                let fixed: Vec<Var<f32>> = anchor.iter().map(Var::constant_from).collect();
                episode_logits(&fixed, &pool, &e, cfg.scale)
            })
            .detach();
            loss =
                loss + distillation(logits, old_logits, cfg.lwf_temperature, None) * cfg.lwf_alpha;
        }
        let task_value = task.item();
        if !task_value.is_finite() {
            return Err(AgentError::Internal(format!(
                "training diverged at episode {step} (loss {task_value}); lower consolidation.lr"
            )));
        }
        if step < tenth {
            first.push(task_value);
        }
        if step + tenth >= episodes {
            last.push(task_value);
        }
        let mut g = values(&tape.grad(&loss, &vars, CreateGraph::No));
        clip_grad_norm(&mut g, cfg.clip);
        adam.step(out.params_mut(), &g)
            .map_err(|e| AgentError::Internal(format!("optimiser: {e}")))?;
        report.episodes += 1;
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    report.loss_first = mean(&first);
    report.loss_last = mean(&last);
    Ok((out, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use autodidact_core::rng::Seed;
    use rand::Rng as _;

    /// Classes whose rows share a direction in the first half of the features and carry
    /// the same shared noise direction in the second half, so raw prototypes confuse them
    /// and a learned head can separate them: `(row, class)`.
    fn clusters(classes: usize, per: usize, dim: usize, seed: u64) -> Vec<(Vec<f32>, usize)> {
        let mut rng = Seed(seed).rng("clusters");
        let mut out = Vec::new();
        for c in 0..classes {
            for _ in 0..per {
                let mut x = vec![0.0f32; dim];
                x[c % (dim / 2)] = 0.3;
                for v in x.iter_mut().skip(dim / 2) {
                    *v = rng.random_range(-1.0..1.0);
                }
                let n = x.iter().map(|v| v * v).sum::<f32>().sqrt();
                x.iter_mut().for_each(|v| *v /= n);
                out.push((x, c));
            }
        }
        out
    }

    /// The rows as a borrowed set.
    fn labelled(rows: &[(Vec<f32>, usize)], dim: usize) -> Labelled<'_> {
        let mut out = Labelled::new(dim);
        for (x, c) in rows {
            out.push(x, *c);
        }
        out
    }

    #[test]
    fn training_lowers_the_episode_loss() {
        let rows = clusters(6, 12, 16, 4);
        let data = labelled(&rows, 16);
        let mut rng = Seed(5).rng("t");
        let head = Head::new(16, 4, &mut rng).unwrap();
        let cfg = LearnConfig {
            ways: 4,
            lr: 1e-2,
            epochs: 1000,
            ..LearnConfig::default()
        };
        for s in [
            Strategy::Naive,
            Strategy::Replay,
            Strategy::Ewc,
            Strategy::Lwf,
            Strategy::Joint,
        ] {
            let (trained, report) =
                train(&head, &Labelled::new(16), &data, s, 150, &cfg, &mut rng).unwrap();
            assert_eq!(report.episodes, 150, "{s:?}");
            let (a, b) = (report.loss_first.unwrap(), report.loss_last.unwrap());
            assert!(b < 0.7 * a, "{s:?}: {a} -> {b}");
            assert_ne!(trained, head);
        }
    }

    #[test]
    fn the_replay_memory_of_row_numbers_holds_the_rows_a_memory_of_copies_holds() {
        // What the memory held before it kept row numbers: copies of the rows.
        let rows = clusters(7, 30, 8, 9);
        let old = labelled(&rows, 8);
        let cfg = LearnConfig {
            memory: 40,
            ..LearnConfig::default()
        };
        let mut copies = Buffer::new(cfg.memory, Policy::ClassBalanced);
        let mut rng = Seed(3).rng("memory");
        let mut order: Vec<usize> = (0..old.len()).collect();
        order.shuffle(&mut rng);
        for i in order {
            copies.add(&old.row(i).to_vec(), old.y[i], 0, &mut rng);
        }
        let pool = replay_pool(&old, &Labelled::new(8), &cfg, &mut Seed(3).rng("memory"));
        assert_eq!(pool.len(), 40);
        assert_eq!(pool.y, copies.items.y);
        let held: Vec<f32> = pool.x.iter().flat_map(|r| r.to_vec()).collect();
        assert_eq!(held, copies.items.x);
        // Nothing was copied: every pool row is one of the old rows themselves.
        let start = |r: &Row<'_>| match r {
            Row::Dense(x) => x.as_ptr(),
            Row::Sparse { entries, .. } => entries.as_ptr().cast(),
        };
        assert!(pool
            .x
            .iter()
            .all(|r| old.x.iter().any(|o| std::ptr::eq(start(r), start(o)))));
    }

    #[test]
    fn nothing_to_draw_from_trains_nothing() {
        let (a, b) = ([1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]);
        let mut one = Labelled::new(4);
        one.push(&a, 0);
        one.push(&b, 0);
        let mut rng = Seed(6).rng("t");
        let head = Head::new(4, 2, &mut rng).unwrap();
        let (h, r) = train(
            &head,
            &Labelled::new(4),
            &one,
            Strategy::Naive,
            10,
            &LearnConfig::default(),
            &mut rng,
        )
        .unwrap();
        assert_eq!(r.episodes, 0);
        assert_eq!(h, head);
    }

    #[test]
    fn bad_settings_name_their_field() {
        let cfg = LearnConfig {
            ways: 1,
            ..LearnConfig::default()
        };
        let e = cfg.validate("consolidation").unwrap_err().to_string();
        assert!(e.contains("consolidation.ways"), "{e}");
    }
}
