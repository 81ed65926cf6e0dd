//! A labelled dataset held as one contiguous `f32` buffer per class, class splits, and the
//! N-way K-shot episode sampler shared by Omniglot, intents and the continual streams.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use autodidact_core::{
    Config, Rng, Seed, Split, Targets, Task, TaskDistribution, TaskKind, Tensor,
};
use ndarray::IxDyn;
use rand::seq::SliceRandom;

use crate::error::{EnvsError, Result};

/// One class: its name, the group it is split by, and its examples back to back.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassData {
    /// The class name (`Greek/character01`, `card_arrival`, `Greek/character01@90`).
    pub name: String,
    /// The group the class belongs to for splitting (the character for a rotated class).
    pub group: String,
    data: Vec<f32>,
    count: usize,
    /// Which examples the source holds out as its own test set, by position (`None`: the
    /// source has no test split).
    source_test: Option<Vec<bool>>,
}

impl ClassData {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.count
    }
    /// Whether the class has no example.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Every example, back to back (`len() * dim` values).
    pub fn data(&self) -> &[f32] {
        &self.data
    }
    /// The source's own split of this class, as `(training, test)` example indices, when the
    /// source has one (BANKING77's `train.csv` and `test.csv`); `None` otherwise.
    pub fn source_split(&self) -> Option<(Vec<usize>, Vec<usize>)> {
        self.source_test.as_ref().map(|is_test| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..self.count).partition(|&i| is_test[i]);
            (train, test)
        })
    }
}

/// A classification source: named classes of fixed-shape examples.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelledDataset {
    name: String,
    input_shape: Vec<usize>,
    dim: usize,
    classes: Vec<ClassData>,
}

impl LabelledDataset {
    /// An empty dataset whose examples have `input_shape`.
    pub fn new(name: impl Into<String>, input_shape: Vec<usize>) -> Self {
        let dim = input_shape.iter().product();
        LabelledDataset {
            name: name.into(),
            input_shape,
            dim,
            classes: Vec::new(),
        }
    }

    /// Adds a class whose examples are `data`, back to back; its length must be a multiple
    /// of the example size.
    pub fn push_class(
        &mut self,
        name: impl Into<String>,
        group: impl Into<String>,
        data: Vec<f32>,
    ) -> Result<()> {
        let name = name.into();
        if self.dim == 0 || !data.len().is_multiple_of(self.dim) {
            return Err(EnvsError::Invalid(format!(
                "class `{name}`: {} values is not a whole number of examples of shape {:?}",
                data.len(),
                self.input_shape
            )));
        }
        let count = data.len() / self.dim;
        self.classes.push(ClassData {
            name,
            group: group.into(),
            data,
            count,
            source_test: None,
        });
        Ok(())
    }

    /// Adds a class like [`push_class`](Self::push_class) whose examples `i` with
    /// `is_test[i]` are the source's own test examples (read back by
    /// [`ClassData::source_split`]); `is_test` has one entry per example.
    pub fn push_class_with_test(
        &mut self,
        name: impl Into<String>,
        group: impl Into<String>,
        data: Vec<f32>,
        is_test: Vec<bool>,
    ) -> Result<()> {
        let name = name.into();
        if is_test.len().saturating_mul(self.dim) != data.len() {
            return Err(EnvsError::Invalid(format!(
                "class `{name}`: {} test marks for {} values of examples of shape {:?}",
                is_test.len(),
                data.len(),
                self.input_shape
            )));
        }
        self.push_class(name.clone(), group, data)?;
        let class = self
            .classes
            .last_mut()
            .ok_or_else(|| EnvsError::Invalid(format!("class `{name}` was not added")))?;
        class.source_test = Some(is_test);
        Ok(())
    }

    /// Whether every class carries the source's own train/test split.
    pub fn has_source_split(&self) -> bool {
        !self.classes.is_empty() && self.classes.iter().all(|c| c.source_test.is_some())
    }

    /// What the data is ("omniglot", "intents").
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Shape of one example.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }
    /// Values in one example.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }
    /// Total number of examples.
    pub fn num_examples(&self) -> usize {
        self.classes.iter().map(|c| c.count).sum()
    }
    /// Every class.
    pub fn classes(&self) -> &[ClassData] {
        &self.classes
    }
    /// Class `c`.
    pub fn class(&self, c: usize) -> &ClassData {
        &self.classes[c]
    }
    /// Example `i` of class `c`.
    pub fn example(&self, c: usize, i: usize) -> &[f32] {
        &self.classes[c].data[i * self.dim..(i + 1) * self.dim]
    }
    /// The distinct group names, sorted.
    pub fn groups(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self.classes.iter().map(|c| c.group.as_str()).collect();
        set.into_iter().map(str::to_string).collect()
    }
}

/// Disjoint class lists for the train, validation and test splits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassSplits {
    /// Meta-training classes.
    pub train: Vec<usize>,
    /// Validation classes.
    pub validation: Vec<usize>,
    /// Test classes.
    pub test: Vec<usize>,
}

impl ClassSplits {
    /// The classes of one split.
    pub fn get(&self, split: Split) -> &[usize] {
        match split {
            Split::Train => &self.train,
            Split::Validation => &self.validation,
            Split::Test => &self.test,
        }
    }

    /// Splits the groups (characters, intents) at random by `seed`: a share `train` to
    /// training, `validation` to validation, the rest to test. Classes of one group stay
    /// together; the result does not depend on the order the data was read in.
    pub fn by_seed(
        data: &LabelledDataset,
        train: f64,
        validation: f64,
        seed: Seed,
    ) -> Result<ClassSplits> {
        let groups: Vec<&str> = data.classes().iter().map(|c| c.group.as_str()).collect();
        Ok(Self::for_groups_by_seed(&groups, train, validation, seed))
    }

    /// [`ClassSplits::by_seed`] for classes given by their group names.
    pub fn for_groups_by_seed(
        class_groups: &[&str],
        train: f64,
        validation: f64,
        seed: Seed,
    ) -> ClassSplits {
        let set: BTreeSet<&str> = class_groups.iter().copied().collect();
        let mut groups: Vec<&str> = set.into_iter().collect();
        let mut rng = seed.rng("class-split");
        groups.shuffle(&mut rng);
        let n = groups.len();
        let n_train = ((train * n as f64).round() as usize).min(n);
        let n_val = ((validation * n as f64).round() as usize).min(n - n_train);
        let mut which: BTreeMap<&str, Split> = BTreeMap::new();
        for (i, g) in groups.iter().enumerate() {
            let s = if i < n_train {
                Split::Train
            } else if i < n_train + n_val {
                Split::Validation
            } else {
                Split::Test
            };
            which.insert(g, s);
        }
        Self::assign(class_groups, |g| which.get(g).copied())
    }

    /// Splits by given lists: an entry names a group (`Greek/character01`) or every group
    /// under a prefix (`Greek`). Groups in no list are left out; an unknown entry or a group
    /// in two lists is an error naming it.
    pub fn from_lists(
        data: &LabelledDataset,
        train: &[String],
        validation: &[String],
        test: &[String],
    ) -> Result<ClassSplits> {
        let groups: Vec<&str> = data.classes().iter().map(|c| c.group.as_str()).collect();
        Self::for_groups_from_lists(&groups, train, validation, test)
    }

    /// [`ClassSplits::from_lists`] for classes given by their group names.
    pub fn for_groups_from_lists(
        class_groups: &[&str],
        train: &[String],
        validation: &[String],
        test: &[String],
    ) -> Result<ClassSplits> {
        let set: BTreeSet<&str> = class_groups.iter().copied().collect();
        let groups: Vec<&str> = set.into_iter().collect();
        let mut which: BTreeMap<&str, Split> = BTreeMap::new();
        for (list, split) in [
            (train, Split::Train),
            (validation, Split::Validation),
            (test, Split::Test),
        ] {
            for entry in list {
                let prefix = format!("{entry}/");
                let matched: Vec<&str> = groups
                    .iter()
                    .copied()
                    .filter(|g| *g == entry || g.starts_with(&prefix))
                    .collect();
                if matched.is_empty() {
                    return Err(EnvsError::Invalid(format!(
                        "the {} list names `{entry}`, which is no class or prefix of a class in the data ({} classes, e.g. `{}`)",
                        split.name(),
                        groups.len(),
                        groups.first().copied().unwrap_or("none")
                    )));
                }
                for g in matched {
                    if let Some(prev) = which.insert(g, split) {
                        if prev != split {
                            return Err(EnvsError::Invalid(format!(
                                "class `{g}` is in both the {} and the {} list",
                                prev.name(),
                                split.name()
                            )));
                        }
                    }
                }
            }
        }
        Ok(Self::assign(class_groups, |g| which.get(g).copied()))
    }

    /// Every class a test class: for evaluating a trained model on new data.
    pub fn test_only(classes: usize) -> ClassSplits {
        ClassSplits {
            train: Vec::new(),
            validation: Vec::new(),
            test: (0..classes).collect(),
        }
    }

    /// Whether only the test split holds classes ([`ClassSplits::test_only`]).
    pub fn is_test_only(&self) -> bool {
        self.train.is_empty() && self.validation.is_empty() && !self.test.is_empty()
    }

    /// By `mode`: every class a test class, or split by lists when any is given, else by seed.
    pub fn by_lists_or_seed(
        mode: SplitMode,
        class_groups: &[&str],
        lists: [&[String]; 3],
        train: f64,
        validation: f64,
        seed: Seed,
    ) -> Result<ClassSplits> {
        if mode == SplitMode::TestOnly {
            if lists.iter().any(|l| !l.is_empty()) {
                return Err(EnvsError::param(
                    "split",
                    "is \"test-only\", which takes every class as a test class: leave \
                     train_classes, validation_classes and test_classes empty",
                ));
            }
            return Ok(Self::test_only(class_groups.len()));
        }
        if lists.iter().any(|l| !l.is_empty()) {
            Self::for_groups_from_lists(class_groups, lists[0], lists[1], lists[2])
        } else {
            Ok(Self::for_groups_by_seed(
                class_groups,
                train,
                validation,
                seed,
            ))
        }
    }

    fn assign(class_groups: &[&str], which: impl Fn(&str) -> Option<Split>) -> ClassSplits {
        let mut s = ClassSplits {
            train: Vec::new(),
            validation: Vec::new(),
            test: Vec::new(),
        };
        for (c, group) in class_groups.iter().enumerate() {
            match which(group) {
                Some(Split::Train) => s.train.push(c),
                Some(Split::Validation) => s.validation.push(c),
                Some(Split::Test) => s.test.push(c),
                None => {}
            }
        }
        s
    }
}

/// N-way K-shot Q-query episodes from a [`LabelledDataset`] and its [`ClassSplits`].
#[derive(Clone, Debug)]
pub struct FewShotClassification {
    data: Arc<LabelledDataset>,
    splits: ClassSplits,
    ways: usize,
    shots: usize,
    queries: usize,
}

impl FewShotClassification {
    /// A sampler; every split must hold at least `ways` classes and every class at least
    /// `shots + queries` examples.
    pub fn new(
        data: Arc<LabelledDataset>,
        splits: ClassSplits,
        ways: usize,
        shots: usize,
        queries: usize,
    ) -> Result<Self> {
        if ways == 0 || shots == 0 {
            return Err(EnvsError::param(
                if ways == 0 { "ways" } else { "shots" },
                "must be at least 1",
            ));
        }
        for split in [Split::Train, Split::Validation, Split::Test] {
            if splits.is_test_only() && split != Split::Test {
                continue;
            }
            let available = splits.get(split).len();
            if available < ways {
                return Err(EnvsError::NotEnoughClasses {
                    ways,
                    available,
                    split: split.name().to_string(),
                });
            }
            for &c in splits.get(split) {
                let class = data.class(c);
                if class.len() < shots + queries {
                    return Err(EnvsError::NotEnoughExamples {
                        class: class.name.clone(),
                        available: class.len(),
                        needed: shots + queries,
                        detail: format!("shots {shots} + queries {queries}"),
                    });
                }
            }
        }
        Ok(FewShotClassification {
            data,
            splits,
            ways,
            shots,
            queries,
        })
    }

    /// The dataset.
    pub fn data(&self) -> &Arc<LabelledDataset> {
        &self.data
    }
    /// The class splits.
    pub fn splits(&self) -> &ClassSplits {
        &self.splits
    }
    /// Classes per episode.
    pub fn ways(&self) -> usize {
        self.ways
    }
    /// Support examples per class.
    pub fn shots(&self) -> usize {
        self.shots
    }
    /// Query examples per class.
    pub fn queries(&self) -> usize {
        self.queries
    }

    /// Draws an episode; also returns the dataset class of each episode label.
    pub fn episode(&self, split: Split, rng: &mut Rng) -> Result<(Task, Vec<usize>)> {
        let pool = self.splits.get(split);
        if pool.is_empty() && self.splits.is_test_only() {
            return Err(EnvsError::param(
                "split",
                format!(
                    "is \"test-only\": every class is a test class, for `autodidact eval`; \
                     there is no {} split to draw from (train with split = \"train-validation-test\")",
                    split.name()
                ),
            ));
        }
        if pool.len() < self.ways {
            return Err(EnvsError::NotEnoughClasses {
                ways: self.ways,
                available: pool.len(),
                split: split.name().to_string(),
            });
        }
        let chosen: Vec<usize> = rand::seq::index::sample(rng, pool.len(), self.ways)
            .into_iter()
            .map(|i| pool[i])
            .collect();
        let dim = self.data.dim();
        let per = self.shots + self.queries;
        let mut sx = Vec::with_capacity(self.ways * self.shots * dim);
        let mut qx = Vec::with_capacity(self.ways * self.queries * dim);
        let mut sy = Vec::with_capacity(self.ways * self.shots);
        let mut qy = Vec::with_capacity(self.ways * self.queries);
        for (label, &c) in chosen.iter().enumerate() {
            let class = self.data.class(c);
            let picks = rand::seq::index::sample(rng, class.len(), per);
            for (j, i) in picks.into_iter().enumerate() {
                let x = &class.data[i * dim..(i + 1) * dim];
                if j < self.shots {
                    sx.extend_from_slice(x);
                    sy.push(label);
                } else {
                    qx.extend_from_slice(x);
                    qy.push(label);
                }
            }
        }
        let task = Task {
            support_x: to_tensor(sx, sy.len(), self.data.input_shape())?,
            support_y: Targets::Labels(sy),
            query_x: to_tensor(qx, qy.len(), self.data.input_shape())?,
            query_y: Targets::Labels(qy),
        };
        Ok((task, chosen))
    }
}

/// `values` as a tensor of shape `[n, …shape]`.
pub(crate) fn to_tensor(values: Vec<f32>, n: usize, shape: &[usize]) -> Result<Tensor<f32>> {
    let mut full = Vec::with_capacity(shape.len() + 1);
    full.push(n);
    full.extend_from_slice(shape);
    Tensor::from_shape_vec(IxDyn(&full), values)
        .map_err(|e| EnvsError::Invalid(format!("tensor of shape {full:?}: {e}")))
}

impl TaskDistribution for FewShotClassification {
    fn input_shape(&self) -> Vec<usize> {
        self.data.input_shape().to_vec()
    }
    fn kind(&self) -> TaskKind {
        TaskKind::Classification { ways: self.ways }
    }
    fn sample(&self, split: Split, rng: &mut Rng) -> autodidact_core::Result<Task> {
        Ok(self.episode(split, rng)?.0)
    }
}

/// How an environment's classes are divided among training, validation and test.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    autodidact_core::Choice,
)]
#[serde(rename_all = "kebab-case")]
pub enum SplitMode {
    /// Training, validation and test classes (by the lists, else by the fractions).
    #[default]
    TrainValidationTest,
    /// Every class is a test class: for `autodidact eval` of a trained model on new data
    /// (`--set env.split=test-only`); nothing can be trained on it.
    TestOnly,
}

/// The classification sources a continual stream may be built on (`env.source`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, autodidact_core::Choice,
)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// Gaussian clusters in feature space (`gaussian-classes`).
    GaussianClasses,
    /// Omniglot characters.
    Omniglot,
    /// Text intents (BANKING77 by default).
    Intents,
}

/// Loads the dataset of the source named `name`, configured by `config` (that source's own
/// keys; unknown ones are refused).
pub fn load_source(name: Source, config: &Config, seed: Seed) -> Result<Arc<LabelledDataset>> {
    use autodidact_core::Hyperparams;
    let core = |e: autodidact_core::CoreError| match e {
        autodidact_core::CoreError::Config { key, reason } => EnvsError::Param { key, reason },
        other => EnvsError::Invalid(other.to_string()),
    };
    match name {
        Source::GaussianClasses => {
            let p = crate::gaussian::GaussianClassesParams::from_config(config).map_err(core)?;
            Ok(Arc::new(
                crate::gaussian::GaussianClasses::new(p.into_inner())?.dataset(seed)?,
            ))
        }
        Source::Omniglot => {
            let p = crate::omniglot::OmniglotParams::from_config(config).map_err(core)?;
            crate::omniglot::Omniglot::load_dataset(&p)
        }
        Source::Intents => {
            let p = crate::intents::IntentsParams::from_config(config).map_err(core)?;
            Ok(Arc::new(crate::intents::Intents::load_data(&p, seed)?.data))
        }
    }
}

/// The documented keys of the source named `name`.
pub fn source_docs(name: Source) -> Vec<autodidact_core::ParamDoc> {
    use autodidact_core::Hyperparams;
    match name {
        Source::GaussianClasses => crate::gaussian::GaussianClassesParams::docs(),
        Source::Omniglot => crate::omniglot::OmniglotParams::docs(),
        Source::Intents => crate::intents::IntentsParams::docs(),
    }
}
