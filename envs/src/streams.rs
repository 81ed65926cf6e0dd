//! Continual-learning streams over any classification source (`source`: gaussian-classes,
//! omniglot, intents).
//!
//! - `split`: the classes in an order drawn from the seed, cut into `experiences` groups;
//!   task-incremental (task ids given) or class-incremental (one head over every class seen).
//!   Over BANKING77 the class-incremental stream is the customer-service scenario: new
//!   intents arrive over time and the old ones must still be recognised.
//! - `permuted`: every class in every experience, each experience with its own fixed
//!   permutation of the input features (the first is the identity): domain-incremental.
//!
//! Each class's examples are shuffled by the seed and `test_fraction` of them held out for
//! testing (`holdout = "random"`), or the data's own test split is kept (`holdout = "source"`:
//! BANKING77's `test.csv`, so figures compare with the literature's). Global class ids number the classes in the order they arrive (0, 1, …).
//!
//! `online = true` (either stream) makes it an *online* stream, the same examples and test
//! sets: a learner takes one training example per step, each exactly once, and (split) the
//! examples of each experience come class after class, in the order the classes arrive. It is a
//! key of the stream, not a separate environment, so an online run and an epoch run with the
//! same seed see the very same examples and are compared by one key.
//! `pretrain_classes = k` (split) keeps the first k classes of the seeded order out of the
//! stream, as the training classes a representation is pretrained or meta-trained on before
//! the stream (the OML protocol); `stream_classes = n` keeps the next n in the stream (0: all the
//! rest), so runs with different n share their training classes.
//! Parameters other than the stream's own go to the source.

use std::sync::Arc;

use autodidact_core::{
    Choice, Config, EnvInstance, EnvKind, Experience, Hyperparams, ParamDoc, Scenario, Seed,
    TaskStream,
};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::classification::{load_source, source_docs, to_tensor, LabelledDataset, Source};
use crate::error::{EnvsError, Result};

/// The scenarios a `split` stream can be (a `permuted` stream is domain-incremental).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum SplitScenario {
    /// No task id at test time: one head over every class seen.
    ClassIncremental,
    /// The task id is given at test time.
    TaskIncremental,
}

impl From<SplitScenario> for Scenario {
    fn from(s: SplitScenario) -> Scenario {
        match s {
            SplitScenario::ClassIncremental => Scenario::ClassIncremental,
            SplitScenario::TaskIncremental => Scenario::TaskIncremental,
        }
    }
}

/// How each class's examples are cut into training and test examples, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum HoldoutKind {
    /// Each class's examples shuffled by the seed, `test_fraction` of them held out.
    Random,
    /// The data's own test split (intents: the `test_files`, e.g. BANKING77's `test.csv`).
    Source,
}

/// Parameters of the `split` stream (other keys go to the source).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct SplitStreamParams {
    /// The classification source; its own keys (data_dir, …) are passed on to it.
    pub source: Source,
    /// Number of experiences.
    #[param(min = 1, max = 1e6)]
    pub experiences: usize,
    /// Whether task ids are given at test time.
    pub scenario: SplitScenario,
    /// Share of each class's examples held out for testing (with holdout = "random").
    #[param(gt = 0, lt = 1)]
    pub test_fraction: f64,
    /// Where the test examples come from.
    pub holdout: HoldoutKind,
    /// At most this many examples per class (0: all; with holdout = "source", training
    /// examples only).
    pub max_per_class: usize,
    /// Online protocol: one example per step, each once, classes in order.
    pub online: bool,
    /// Classes kept out of the stream for pretraining / meta-training (the first of the order).
    #[param(max = 1e6)]
    pub pretrain_classes: usize,
    /// Classes in the stream after the pretraining ones (0: all the rest).
    #[param(max = 1e6)]
    pub stream_classes: usize,
}

impl Default for SplitStreamParams {
    fn default() -> Self {
        SplitStreamParams {
            source: Source::GaussianClasses,
            experiences: 5,
            scenario: SplitScenario::ClassIncremental,
            test_fraction: 0.2,
            holdout: HoldoutKind::Random,
            max_per_class: 0,
            online: false,
            pretrain_classes: 0,
            stream_classes: 0,
        }
    }
}

/// Options of a split stream beyond its experiences and holdout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// Online protocol: one example per step, each once, classes in order.
    pub online: bool,
    /// Classes kept out of the stream for pretraining (the first of the seeded order).
    pub pretrain_classes: usize,
    /// Classes in the stream after them (0: all the rest).
    pub stream_classes: usize,
}

/// Parameters of the `permuted` stream (other keys go to the source).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct PermutedStreamParams {
    /// The classification source; its own keys (data_dir, …) are passed on to it.
    pub source: Source,
    /// Number of experiences (permutations).
    #[param(min = 1, max = 1e6)]
    pub experiences: usize,
    /// Share of each class's examples held out for testing (with holdout = "random").
    #[param(gt = 0, lt = 1)]
    pub test_fraction: f64,
    /// Where the test examples come from.
    pub holdout: HoldoutKind,
    /// At most this many examples per class (0: all; with holdout = "source", training
    /// examples only).
    pub max_per_class: usize,
    /// Online protocol: one example per step, each once, in the stream's order.
    pub online: bool,
}

impl Default for PermutedStreamParams {
    fn default() -> Self {
        PermutedStreamParams {
            source: Source::GaussianClasses,
            experiences: 5,
            test_fraction: 0.2,
            holdout: HoldoutKind::Random,
            max_per_class: 0,
            online: false,
        }
    }
}

/// The stream's own docs followed by those of every source (keys not already listed).
fn with_source_docs(own: Vec<ParamDoc>) -> Vec<ParamDoc> {
    let mut docs = own;
    for &s in Source::ALL {
        for d in source_docs(s) {
            if !docs.iter().any(|o| o.key == d.key) {
                docs.push(d);
            }
        }
    }
    docs
}

/// How each class's examples are cut into training and test examples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Holdout {
    /// Each class's examples shuffled by the seed and this share of them held out.
    Random(f64),
    /// The data's own test split ([`ClassData::source_split`](crate::classification::ClassData::source_split)).
    Source,
}

impl Holdout {
    /// The holdout the `holdout` and `test_fraction` keys describe.
    pub fn from_params(holdout: HoldoutKind, test_fraction: f64) -> Holdout {
        match holdout {
            HoldoutKind::Random => Holdout::Random(test_fraction),
            HoldoutKind::Source => Holdout::Source,
        }
    }
}

/// Each class's examples cut into (train, test) indices: shuffled by the seed with
/// `test_fraction` held out, or the source's own split (training examples shuffled by the
/// seed, so `max_per_class` keeps a seeded subset of them).
fn holdout(
    data: &LabelledDataset,
    holdout: Holdout,
    max_per_class: usize,
    seed: Seed,
) -> Result<Vec<(Vec<usize>, Vec<usize>)>> {
    let seed = seed.derive("holdout");
    if holdout == Holdout::Source && !data.has_source_split() {
        return Err(EnvsError::param(
            "holdout",
            format!(
                "\"source\" needs a source with its own test split, and `{}` has none here (intents: name the test files in `test_files`); use \"random\"",
                data.name()
            ),
        ));
    }
    (0..data.num_classes())
        .map(|c| {
            let class = data.class(c);
            let mut rng = seed.index(c as u64).rng("examples");
            match holdout {
                Holdout::Source => {
                    let (mut train, test) = class.source_split().ok_or_else(|| {
                        EnvsError::param(
                            "holdout",
                            format!("class `{}` has no split of its own", class.name),
                        )
                    })?;
                    train.shuffle(&mut rng);
                    if max_per_class > 0 {
                        train.truncate(max_per_class);
                    }
                    if train.is_empty() || test.is_empty() {
                        return Err(EnvsError::param(
                            "holdout",
                            format!(
                                "class `{}` has {} training and {} test examples in the data's own split (intents: rows outside / inside the `test_files`); \"source\" needs at least one of each",
                                class.name,
                                train.len(),
                                test.len()
                            ),
                        ));
                    }
                    Ok((train, test))
                }
                Holdout::Random(test_fraction) => {
                    let mut idx: Vec<usize> = (0..class.len()).collect();
                    idx.shuffle(&mut rng);
                    if max_per_class > 0 {
                        idx.truncate(max_per_class);
                    }
                    let n = idx.len();
                    if n < 2 {
                        return Err(EnvsError::NotEnoughExamples {
                            class: class.name.clone(),
                            available: n,
                            needed: 2,
                            detail: "one to train on and one to test on".into(),
                        });
                    }
                    let n_test = ((test_fraction * n as f64).round() as usize).clamp(1, n - 1);
                    let test = idx.split_off(n - n_test);
                    Ok((idx, test))
                }
            }
        })
        .collect()
}

/// Gathers examples `(class, index)` (permuted by `perm` if given) into `[n, …shape]`.
fn gather(
    data: &LabelledDataset,
    picks: &[(usize, usize, usize)],
    perm: Option<&[usize]>,
) -> Result<(autodidact_core::Tensor<f32>, Vec<usize>)> {
    let dim = data.dim();
    let mut xs = Vec::with_capacity(picks.len() * dim);
    let mut ys = Vec::with_capacity(picks.len());
    for &(c, i, label) in picks {
        let x = data.example(c, i);
        match perm {
            Some(p) => xs.extend(p.iter().map(|&j| x[j])),
            None => xs.extend_from_slice(x),
        }
        ys.push(label);
    }
    Ok((to_tensor(xs, ys.len(), data.input_shape())?, ys))
}

/// A class-split stream.
#[derive(Clone, Debug)]
pub struct SplitStream {
    scenario: Scenario,
    input_shape: Vec<usize>,
    class_names: Vec<String>,
    experiences: Vec<Experience>,
    online: bool,
    pretraining: Option<Experience>,
    pretraining_names: Vec<String>,
}

impl SplitStream {
    /// Cuts `data`'s classes, in an order drawn from `seed`, into `experiences` groups (the
    /// first `classes % experiences` get one class more).
    pub fn new(
        data: &LabelledDataset,
        experiences: usize,
        scenario: Scenario,
        holdout_by: Holdout,
        max_per_class: usize,
        seed: Seed,
    ) -> Result<Self> {
        Self::with_options(
            data,
            experiences,
            scenario,
            holdout_by,
            max_per_class,
            seed,
            StreamOptions::default(),
        )
    }

    /// [`SplitStream::new`] with pretraining classes kept apart, a number of stream classes,
    /// and the online protocol.
    pub fn with_options(
        data: &LabelledDataset,
        experiences: usize,
        scenario: Scenario,
        holdout_by: Holdout,
        max_per_class: usize,
        seed: Seed,
        options: StreamOptions,
    ) -> Result<Self> {
        if scenario == Scenario::DomainIncremental {
            return Err(EnvsError::param(
                "scenario",
                "a split stream is class- or task-incremental",
            ));
        }
        let total = data.num_classes();
        let k = options.pretrain_classes;
        if k >= total {
            return Err(EnvsError::param(
                "pretrain_classes",
                format!(
                    "{k} pretraining classes leave none of the source's {total} for the stream"
                ),
            ));
        }
        let n = if options.stream_classes == 0 {
            total - k
        } else {
            options.stream_classes
        };
        if k + n > total {
            return Err(EnvsError::param(
                "stream_classes",
                format!("{n} stream classes after {k} pretraining ones, but the source has {total} classes"),
            ));
        }
        if experiences == 0 || experiences > n {
            return Err(EnvsError::Invalid(format!(
                "asked for {experiences} experiences but the stream has {n} classes (each experience needs at least one)"
            )));
        }
        let mut order: Vec<usize> = (0..total).collect();
        order.shuffle(&mut seed.rng("class-order"));
        let parts = holdout(data, holdout_by, max_per_class, seed)?;
        let pretraining = if k > 0 {
            let mut train = Vec::new();
            let mut test = Vec::new();
            for (g, &c) in order[..k].iter().enumerate() {
                train.extend(parts[c].0.iter().map(|&i| (c, i, g)));
                test.extend(parts[c].1.iter().map(|&i| (c, i, g)));
            }
            let (train_x, train_y) = gather(data, &train, None)?;
            let (test_x, test_y) = gather(data, &test, None)?;
            Some(Experience {
                index: 0,
                train_x,
                train_y,
                test_x,
                test_y,
                task_id: None,
                classes: (0..k).collect(),
            })
        } else {
            None
        };
        let pretraining_names = order[..k]
            .iter()
            .map(|&c| data.class(c).name.clone())
            .collect();
        // The stream's classes, numbered 0..n in the order they arrive.
        let order: Vec<usize> = order[k..k + n].to_vec();
        let (base, extra) = (n / experiences, n % experiences);
        let mut out = Vec::with_capacity(experiences);
        let mut next = 0;
        for e in 0..experiences {
            let k = base + usize::from(e < extra);
            let globals: Vec<usize> = (next..next + k).collect();
            let mut train = Vec::new();
            let mut test = Vec::new();
            for &g in &globals {
                let c = order[g];
                train.extend(parts[c].0.iter().map(|&i| (c, i, g)));
                test.extend(parts[c].1.iter().map(|&i| (c, i, g)));
            }
            // Online, the classes arrive in order (each class's examples in their seeded
            // order); otherwise the experience's examples are shuffled together.
            if !options.online {
                train.shuffle(&mut seed.derive("train-order").index(e as u64).rng("shuffle"));
            }
            let (train_x, train_y) = gather(data, &train, None)?;
            let (test_x, test_y) = gather(data, &test, None)?;
            out.push(Experience {
                index: e,
                train_x,
                train_y,
                test_x,
                test_y,
                task_id: (scenario == Scenario::TaskIncremental).then_some(e),
                classes: globals,
            });
            next += k;
        }
        Ok(SplitStream {
            scenario,
            input_shape: data.input_shape().to_vec(),
            class_names: order.iter().map(|&c| data.class(c).name.clone()).collect(),
            experiences: out,
            online: options.online,
            pretraining,
            pretraining_names,
        })
    }

    /// The source class name of each global class id.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The source class name of each pretraining class.
    pub fn pretraining_class_names(&self) -> &[String] {
        &self.pretraining_names
    }

    /// The same stream under the online protocol (or not).
    pub fn set_online(&mut self, online: bool) {
        self.online = online;
    }
}

impl TaskStream for SplitStream {
    fn scenario(&self) -> Scenario {
        self.scenario
    }
    fn input_shape(&self) -> Vec<usize> {
        self.input_shape.clone()
    }
    fn num_classes(&self) -> usize {
        self.class_names.len()
    }
    fn experiences(&self) -> &[Experience] {
        &self.experiences
    }
    fn online(&self) -> bool {
        self.online
    }
    fn pretraining(&self) -> Option<&Experience> {
        self.pretraining.as_ref()
    }
}

/// A permuted-features stream.
#[derive(Clone, Debug)]
pub struct PermutedStream {
    input_shape: Vec<usize>,
    class_names: Vec<String>,
    permutations: Vec<Vec<usize>>,
    experiences: Vec<Experience>,
    online: bool,
}

impl PermutedStream {
    /// `experiences` copies of `data`, each with its own permutation of the features (the
    /// first the identity), drawn from `seed`.
    pub fn new(
        data: &LabelledDataset,
        experiences: usize,
        holdout_by: Holdout,
        max_per_class: usize,
        seed: Seed,
    ) -> Result<Self> {
        if experiences == 0 {
            return Err(EnvsError::param("experiences", "must be at least 1"));
        }
        let parts = holdout(data, holdout_by, max_per_class, seed)?;
        let mut train = Vec::new();
        let mut test = Vec::new();
        for (c, (tr, te)) in parts.iter().enumerate() {
            train.extend(tr.iter().map(|&i| (c, i, c)));
            test.extend(te.iter().map(|&i| (c, i, c)));
        }
        train.shuffle(&mut seed.rng("train-order"));
        let dim = data.dim();
        let mut permutations = Vec::with_capacity(experiences);
        let mut out = Vec::with_capacity(experiences);
        for e in 0..experiences {
            let mut perm: Vec<usize> = (0..dim).collect();
            if e > 0 {
                perm.shuffle(&mut seed.derive("permutation").index(e as u64).rng("perm"));
            }
            let (train_x, train_y) = gather(data, &train, Some(&perm))?;
            let (test_x, test_y) = gather(data, &test, Some(&perm))?;
            out.push(Experience {
                index: e,
                train_x,
                train_y,
                test_x,
                test_y,
                task_id: None,
                classes: (0..data.num_classes()).collect(),
            });
            permutations.push(perm);
        }
        Ok(PermutedStream {
            input_shape: data.input_shape().to_vec(),
            class_names: data.classes().iter().map(|c| c.name.clone()).collect(),
            permutations,
            experiences: out,
            online: false,
        })
    }

    /// The same stream under the online protocol (or not).
    pub fn set_online(&mut self, online: bool) {
        self.online = online;
    }

    /// The feature permutation of each experience (`x'[j] = x[perm[j]]`).
    pub fn permutations(&self) -> &[Vec<usize>] {
        &self.permutations
    }
    /// The source class name of each class id.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }
}

impl TaskStream for PermutedStream {
    fn scenario(&self) -> Scenario {
        Scenario::DomainIncremental
    }
    fn input_shape(&self) -> Vec<usize> {
        self.input_shape.clone()
    }
    fn num_classes(&self) -> usize {
        self.class_names.len()
    }
    fn experiences(&self) -> &[Experience] {
        &self.experiences
    }
    fn online(&self) -> bool {
        self.online
    }
}

/// Splits a configuration into the stream's own keys and the source's.
fn split_config(config: &Config, own: &[ParamDoc]) -> (Config, Config) {
    let mut mine = Config::new();
    let mut source = Config::new();
    for (k, v) in config {
        if own.iter().any(|d| d.key == k) {
            mine.insert(k.clone(), v.clone());
        } else {
            source.insert(k.clone(), v.clone());
        }
    }
    (mine, source)
}

/// Builds a split stream from a configuration (stream keys and source keys) and a seed.
pub fn split_stream_from_config(config: &Config, seed: Seed) -> Result<SplitStream> {
    let (mine, src) = split_config(config, &SplitStreamParams::docs());
    let p = SplitStreamParams::from_config(&mine).map_err(core_to_envs)?;
    let data: Arc<LabelledDataset> = load_source(p.source, &src, seed.derive("source"))?;
    SplitStream::with_options(
        &data,
        p.experiences,
        p.scenario.into(),
        Holdout::from_params(p.holdout, p.test_fraction),
        p.max_per_class,
        seed,
        StreamOptions {
            online: p.online,
            pretrain_classes: p.pretrain_classes,
            stream_classes: p.stream_classes,
        },
    )
}

/// Builds a permuted stream from a configuration (stream keys and source keys) and a seed.
pub fn permuted_stream_from_config(config: &Config, seed: Seed) -> Result<PermutedStream> {
    let (mine, src) = split_config(config, &PermutedStreamParams::docs());
    let p = PermutedStreamParams::from_config(&mine).map_err(core_to_envs)?;
    let data = load_source(p.source, &src, seed.derive("source"))?;
    let mut s = PermutedStream::new(
        &data,
        p.experiences,
        Holdout::from_params(p.holdout, p.test_fraction),
        p.max_per_class,
        seed,
    )?;
    s.set_online(p.online);
    Ok(s)
}

fn core_to_envs(e: autodidact_core::CoreError) -> EnvsError {
    match e {
        autodidact_core::CoreError::Config { key, reason } => EnvsError::Param { key, reason },
        other => EnvsError::Invalid(other.to_string()),
    }
}

fn split_docs() -> Vec<ParamDoc> {
    with_source_docs(SplitStreamParams::docs())
}

fn permuted_docs() -> Vec<ParamDoc> {
    with_source_docs(PermutedStreamParams::docs())
}

fn build_split(config: &Config, seed: Seed) -> autodidact_core::Result<EnvInstance> {
    Ok(EnvInstance::Stream(Box::new(split_stream_from_config(
        config, seed,
    )?)))
}

fn build_permuted(config: &Config, seed: Seed) -> autodidact_core::Result<EnvInstance> {
    Ok(EnvInstance::Stream(Box::new(permuted_stream_from_config(
        config, seed,
    )?)))
}

autodidact_core::register_env! {
    name: "split",
    kind: EnvKind::Continual,
    summary: "class-split continual stream (class- or task-incremental) over gaussian-classes, omniglot or intents",
    params: split_docs,
    default_config: SplitStreamParams::default_config,
    build: build_split,
}

autodidact_core::register_env! {
    name: "permuted",
    kind: EnvKind::Continual,
    summary: "permuted-features continual stream (domain-incremental) over gaussian-classes, omniglot or intents",
    params: permuted_docs,
    default_config: PermutedStreamParams::default_config,
    build: build_permuted,
}
