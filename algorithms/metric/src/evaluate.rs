//! Evaluation on held-out episodes: query accuracy with a 95 % confidence interval, and the
//! raw-feature nearest-prototype baseline on the same episodes when inputs are vectors.

use autodidact_core::parallel::{ordered_map, ThreadPool};
use autodidact_core::{
    mean_ci95, no_grad, BatchNormMode, BatchNormStats, Metrics, Params, Seed, Split, Tape,
    TaskDistribution,
};

use crate::baseline::nearest_prototype_accuracy;
use crate::episode::Episode;
use crate::errors::{MetricError, Result};
use crate::model::Model;

/// Fraction of rows of `[n, ways]` scores whose argmax is the label.
pub fn score_accuracy(scores: &autodidact_core::Tensor<f32>, labels: &[usize]) -> f64 {
    let pred = autodidact_core::argmax(scores, 1);
    let hits = pred.iter().zip(labels).filter(|(p, l)| *p == *l).count();
    hits as f64 / labels.len().max(1) as f64
}

/// Query accuracy and loss of one episode, without recording gradients, batch norm reading
/// its running statistics.
pub fn episode_accuracy(
    model: &Model,
    params: &Params<f32>,
    stats: &[BatchNormStats<f32>],
    task: &autodidact_core::Task,
) -> Result<(f64, f64)> {
    let ep = Episode::new(task)?;
    let tape = Tape::<f32>::new();
    let p = tape.params(params);
    let mut st = stats.to_vec();
    no_grad(|| {
        let out = model.episode(&p, &ep, BatchNormMode::Eval, &mut st)?;
        let acc = out
            .scores
            .with_value(|s| score_accuracy(s, ep.query_labels));
        Ok((acc, out.loss.item()))
    })
}

/// Evaluates on episodes `0..n` of `split` drawn with `seed`; metric names start with
/// `prefix` ("" or "val_"). `baseline` adds the raw-feature nearest-prototype accuracy and
/// the model's gain over it, paired episode by episode (`gain_over_baseline` and its 95 %
/// interval).
pub fn evaluate_episodes(
    model: &Model,
    params: &Params<f32>,
    stats: &[BatchNormStats<f32>],
    dist: &dyn TaskDistribution,
    split: Split,
    n: usize,
    seed: Seed,
    prefix: &str,
    baseline: bool,
    pool: Option<&ThreadPool>,
) -> Result<Metrics> {
    // Episodes are independent and drawn by index, so they run on any thread; the results
    // come back in index order and are summed in it, whatever the thread count.
    let indices: Vec<u64> = (0..n as u64).collect();
    let results = ordered_map(pool, &indices, |&i| -> Result<(f64, f64, Option<f64>)> {
        let task = dist.task(split, seed, i)?;
        let (acc, loss) = episode_accuracy(model, params, stats, &task)?;
        if !loss.is_finite() {
            return Err(MetricError::NonFinite {
                iteration: i,
                value: loss,
            });
        }
        let base = if baseline {
            let ways = Episode::new(&task)?.ways;
            Some(nearest_prototype_accuracy(&task, ways)?)
        } else {
            None
        };
        Ok((acc, loss, base))
    });
    let mut accs = Vec::with_capacity(n);
    let mut losses = Vec::with_capacity(n);
    let mut base = Vec::new();
    for r in results {
        let (acc, loss, b) = r?;
        accs.push(acc);
        losses.push(loss);
        base.extend(b);
    }
    let mut m = Metrics::new();
    let (acc, ci) = mean_ci95(&accs);
    m.insert(format!("{prefix}query_accuracy"), acc);
    m.insert(format!("{prefix}query_accuracy_ci95"), ci);
    m.insert(format!("{prefix}query_loss"), mean_ci95(&losses).0);
    m.insert(format!("{prefix}eval_episodes"), n as f64);
    if baseline {
        let (b, bci) = mean_ci95(&base);
        m.insert(format!("{prefix}baseline_accuracy"), b);
        m.insert(format!("{prefix}baseline_accuracy_ci95"), bci);
        // Paired over the same episodes: far tighter than comparing the two intervals.
        let diff: Vec<f64> = accs.iter().zip(&base).map(|(a, b)| a - b).collect();
        let (d, dci) = mean_ci95(&diff);
        m.insert(format!("{prefix}gain_over_baseline"), d);
        m.insert(format!("{prefix}gain_over_baseline_ci95"), dci);
    }
    Ok(m)
}
