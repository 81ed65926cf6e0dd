//! Experience replay (Chaudhry et al. 2019; Rolnick et al. 2019): a memory of past examples,
//! filled after each experience, mixed into every minibatch of the following ones.
//!
//! Two memory policies:
//! - reservoir (Vitter): every example seen has the same chance, `capacity / seen`, to be held;
//! - class-balanced (Chrysakis and Moens 2020, CBRS): when the memory is full, an example of
//!   a class that is not among the largest in memory replaces a random example of a largest
//!   class; one of a largest class goes through a reservoir draw within its own class. Every
//!   class ends with (close to) `capacity / classes` examples.

use std::collections::BTreeMap;

use autodidact_core::Rng;
use rand::seq::index::sample;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::data::Batch;
use crate::errors::Result;
use crate::strategy::{Context, Strategy};

/// How the memory chooses what to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, autodidact_core::Choice)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Uniform over everything seen.
    Reservoir,
    /// Class-balanced reservoir.
    ClassBalanced,
}

/// A bounded memory of examples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Buffer {
    /// Capacity in examples.
    pub capacity: usize,
    /// The policy.
    pub policy: Policy,
    /// Held examples (inputs, labels, experiences).
    pub items: Batch,
    /// Examples offered so far.
    pub seen: u64,
    /// Examples offered so far, per class.
    pub seen_per_class: BTreeMap<usize, u64>,
}

impl Buffer {
    /// An empty memory.
    pub fn new(capacity: usize, policy: Policy) -> Buffer {
        Buffer {
            capacity,
            policy,
            items: Batch::default(),
            seen: 0,
            seen_per_class: BTreeMap::new(),
        }
    }

    /// Held examples.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the memory is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn dim(&self) -> usize {
        self.items
            .x
            .len()
            .checked_div(self.items.len())
            .unwrap_or(0)
    }

    fn replace(&mut self, slot: usize, x: &[f32], y: usize, exp: usize) {
        let d = x.len();
        self.items.x[slot * d..(slot + 1) * d].copy_from_slice(x);
        self.items.y[slot] = y;
        self.items.exp[slot] = exp;
    }

    /// Held examples per class.
    pub fn class_counts(&self) -> BTreeMap<usize, usize> {
        let mut c = BTreeMap::new();
        for &y in &self.items.y {
            *c.entry(y).or_insert(0) += 1;
        }
        c
    }

    /// Offers one example to the memory.
    pub fn add(&mut self, x: &[f32], y: usize, exp: usize, rng: &mut Rng) {
        self.seen += 1;
        let seen_y = {
            let s = self.seen_per_class.entry(y).or_insert(0);
            *s += 1;
            *s
        };
        if self.items.len() < self.capacity {
            self.items.push(x, y, exp);
            return;
        }
        match self.policy {
            Policy::Reservoir => {
                let j = rng.random_range(0..self.seen);
                if (j as usize) < self.capacity {
                    self.replace(j as usize, x, y, exp);
                }
            }
            Policy::ClassBalanced => {
                let counts = self.class_counts();
                let largest = counts.values().copied().max().unwrap_or(0);
                let mine = counts.get(&y).copied().unwrap_or(0);
                if mine < largest {
                    let big: Vec<usize> = counts
                        .iter()
                        .filter(|(_, &n)| n == largest)
                        .map(|(&c, _)| c)
                        .collect();
                    let class = big[rng.random_range(0..big.len())];
                    let slot = self.random_slot_of(class, rng);
                    self.replace(slot, x, y, exp);
                } else {
                    let j = rng.random_range(0..seen_y);
                    if (j as usize) < mine {
                        let slot = self.random_slot_of(y, rng);
                        self.replace(slot, x, y, exp);
                    }
                }
            }
        }
    }

    fn random_slot_of(&self, class: usize, rng: &mut Rng) -> usize {
        let slots: Vec<usize> = (0..self.items.len())
            .filter(|&i| self.items.y[i] == class)
            .collect();
        slots[rng.random_range(0..slots.len())]
    }

    /// Offers every training example of a batch, in a random order.
    pub fn add_all(&mut self, batch: &Batch, rng: &mut Rng) {
        let n = batch.len();
        if n == 0 {
            return;
        }
        let d = batch.x.len() / n;
        let order = sample(rng, n, n).into_vec();
        for i in order {
            self.add(&batch.x[i * d..(i + 1) * d], batch.y[i], batch.exp[i], rng);
        }
    }

    /// `n` held examples drawn uniformly (without replacement when `n` ≤ the memory size).
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Batch {
        let len = self.items.len();
        let mut out = Batch::default();
        if len == 0 || n == 0 {
            return out;
        }
        let d = self.dim();
        let idx: Vec<usize> = if n <= len {
            sample(rng, len, n).into_vec()
        } else {
            (0..n).map(|_| rng.random_range(0..len)).collect()
        };
        for i in idx {
            out.push(
                &self.items.x[i * d..(i + 1) * d],
                self.items.y[i],
                self.items.exp[i],
            );
        }
        out
    }
}

/// Adds an experience's whole training set to a memory.
pub fn remember_experience(buffer: &mut Buffer, ctx: &mut Context<'_, '_>) {
    let exp = &ctx.objective.data.experiences[ctx.experience];
    let all: Vec<usize> = (0..exp.train.len()).collect();
    let batch = Batch::gather(exp, &all, false);
    buffer.add_all(&batch, ctx.rng);
}

/// Experience replay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    /// The memory.
    pub buffer: Buffer,
    /// Online protocol: each example is offered to the memory right after its update (it will
    /// not come again), instead of the whole experience after its epochs.
    #[serde(default)]
    pub online: bool,
}

impl Replay {
    /// Replay with an empty memory.
    pub fn new(capacity: usize, policy: Policy) -> Replay {
        Replay {
            buffer: Buffer::new(capacity, policy),
            online: false,
        }
    }

    /// The same, for the online protocol or not.
    pub fn with_online(self, online: bool) -> Replay {
        Replay { online, ..self }
    }
}

impl Strategy for Replay {
    fn name(&self) -> &'static str {
        "replay"
    }

    fn after_experience(&mut self, ctx: &mut Context<'_, '_>) -> Result<()> {
        if !self.online {
            remember_experience(&mut self.buffer, ctx);
        }
        Ok(())
    }

    fn after_example(&mut self, example: &Batch, rng: &mut Rng) {
        self.buffer.add_all(example, rng);
    }

    fn replay(&mut self, n: usize, rng: &mut Rng) -> Option<Batch> {
        (!self.buffer.is_empty()).then(|| self.buffer.sample(n, rng))
    }

    fn metrics(&self) -> autodidact_core::Metrics {
        let mut m = autodidact_core::Metrics::new();
        m.insert("memory".into(), self.buffer.len() as f64);
        m.insert(
            "memory_classes".into(),
            self.buffer.class_counts().len() as f64,
        );
        m
    }

    fn save_state(&self) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(&self.buffer)?)
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        self.buffer = serde_json::from_value(state)?;
        Ok(())
    }
}
