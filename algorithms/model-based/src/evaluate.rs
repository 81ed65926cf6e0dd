//! Accuracy by instance (Santoro et al.'s Table 1): over held-out episodes, how often the
//! prediction is right at the 1st, 2nd, … presentation of a class, with 95 % intervals.

use autodidact_core::{argmax_slice, mean_ci95, Metrics};

use crate::sequence::SequenceBatch;

/// The presentations reported, as in the paper's Table 1.
pub const REPORTED_INSTANCES: [usize; 6] = [1, 2, 3, 4, 5, 10];

/// Per episode of a batch, the accuracy at each presentation `1..=max_instance`
/// (`None` where the episode has no step of that presentation) and over all steps.
pub fn episode_accuracies(
    logits: &autodidact_core::Tensor<f32>,
    batch: &SequenceBatch,
    max_instance: usize,
) -> Vec<(Vec<Option<f64>>, f64)> {
    let ways = batch.ways;
    let flat = logits.as_standard_layout();
    let rows = flat.as_slice().unwrap_or(&[]);
    (0..batch.batch)
        .map(|b| {
            let mut hits = vec![0usize; max_instance + 1];
            let mut counts = vec![0usize; max_instance + 1];
            let mut all = 0usize;
            for t in 0..batch.steps {
                let r = t * batch.batch + b;
                let Some(row) = rows.get(r * ways..(r + 1) * ways) else {
                    continue;
                };
                let right = argmax_slice(row) == batch.labels[r];
                all += usize::from(right);
                let k = batch.instance[r];
                if k <= max_instance {
                    hits[k] += usize::from(right);
                    counts[k] += 1;
                }
            }
            let by_instance = (0..=max_instance)
                .map(|k| (counts[k] > 0).then(|| hits[k] as f64 / counts[k] as f64))
                .collect();
            (by_instance, all as f64 / batch.steps.max(1) as f64)
        })
        .collect()
}

/// Collects per-episode accuracies into metrics named with `prefix`: `accuracy` over every
/// step, `instance_k_accuracy` for each reported k, each with `_ci95`.
#[derive(Clone, Debug, Default)]
pub struct InstanceAccuracy {
    overall: Vec<f64>,
    by_instance: Vec<Vec<f64>>,
    losses: Vec<f64>,
}

impl InstanceAccuracy {
    /// Adds a batch's episodes and its mean loss.
    pub fn add(&mut self, episodes: Vec<(Vec<Option<f64>>, f64)>, loss: f64) {
        self.losses.push(loss);
        for (by, all) in episodes {
            self.overall.push(all);
            if self.by_instance.len() < by.len() {
                self.by_instance.resize(by.len(), Vec::new());
            }
            for (k, a) in by.into_iter().enumerate() {
                if let Some(a) = a {
                    self.by_instance[k].push(a);
                }
            }
        }
    }

    /// The metrics.
    pub fn metrics(&self, prefix: &str) -> Metrics {
        let mut m = Metrics::new();
        let (acc, ci) = mean_ci95(&self.overall);
        m.insert(format!("{prefix}accuracy"), acc);
        m.insert(format!("{prefix}accuracy_ci95"), ci);
        m.insert(format!("{prefix}loss"), mean_ci95(&self.losses).0);
        m.insert(format!("{prefix}episodes"), self.overall.len() as f64);
        for k in REPORTED_INSTANCES {
            if let Some(xs) = self.by_instance.get(k).filter(|xs| !xs.is_empty()) {
                let (a, c) = mean_ci95(xs);
                m.insert(format!("{prefix}instance_{k}_accuracy"), a);
                m.insert(format!("{prefix}instance_{k}_accuracy_ci95"), c);
            }
        }
        m
    }
}
