//! Evaluation on held-out tasks: the query score before adaptation, after one inner step and
//! after the configured test steps, each with a 95 % confidence interval.

use autodidact_core::{
    grad, mean_ci95, CreateGraph, Metrics, Params, Seed, Split, Tape, TaskDistribution, Var,
};

use autodidact_core::parallel;

use crate::adapt::InnerLr;
use crate::errors::Result;
use crate::model::Model;

/// How a learner adapts at test time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TestAdaptation {
    /// Inner steps.
    pub steps: usize,
    /// Scalar inner learning rate (ignored with learned rates).
    pub inner_lr: f64,
    /// Meta-SGD: the learned rates are the store's tensors from this index on.
    pub learned_lr_from: Option<usize>,
    /// ANIL: adapt only the head.
    pub head_only: bool,
}

/// Scores of one task: before adaptation, after each inner step.
fn task_curve(
    model: &Model,
    params: &Params<f32>,
    n_model: usize,
    task: &autodidact_core::Task,
    how: &TestAdaptation,
) -> Vec<f64> {
    let tape = Tape::<f32>::new();
    let all = tape.params(params);
    let (theta, rest) = all.split_at(n_model);
    let lr = match how.learned_lr_from {
        Some(_) => InnerLr::PerParam(rest),
        None => InnerLr::Scalar(how.inner_lr),
    };
    let xs = model.input(&task.support_x);
    let xq = model.input(&task.query_x);
    let head = model.head_params();
    let idx: Vec<usize> = if how.head_only {
        head
    } else {
        (0..n_model).collect()
    };
    let mut fast: Vec<Var<f32>> = theta.to_vec();
    let mut scores = vec![model.score(model.forward(&fast, xq), &task.query_y)];
    for _ in 0..how.steps {
        let loss = model.loss(model.forward(&fast, xs), &task.support_y);
        let wrt: Vec<Var<f32>> = idx.iter().map(|&i| fast[i]).collect();
        let g = grad(&[loss], &wrt, CreateGraph::No);
        for (k, &i) in idx.iter().enumerate() {
            // Each step's weights become fresh leaves: nothing is differentiated through the
            // test-time steps, but the next step still needs gradients with respect to them.
            let next = match lr {
                InnerLr::Scalar(a) => fast[i] - g[k] * a,
                InnerLr::PerParam(al) => fast[i] - al[i] * g[k],
            };
            fast[i] = Var::leaf(next.value());
        }
        scores.push(model.score(model.forward(&fast, xq), &task.query_y));
    }
    scores
}

/// Evaluates on `n_tasks` tasks of `split`; metric names start with `prefix` ("" or "val_").
///
/// With a worker `pool` the tasks are adapted in parallel (each on a tape of its own thread);
/// every task's draw depends only on its index and the curves are kept in task order, so the
/// numbers are the same for any thread count.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_tasks(
    model: &Model,
    params: &Params<f32>,
    n_model: usize,
    dist: &dyn TaskDistribution,
    split: Split,
    n_tasks: usize,
    seed: Seed,
    how: &TestAdaptation,
    prefix: &str,
    pool: Option<&parallel::ThreadPool>,
) -> Result<Metrics> {
    let curve_of = |i: usize| -> Result<Vec<f64>> {
        let task = dist.task(split, seed, i as u64)?;
        Ok(task_curve(model, params, n_model, &task, how))
    };
    let indices: Vec<usize> = (0..n_tasks).collect();
    let curves: Vec<Vec<f64>> = parallel::ordered_map(pool, &indices, |&i| curve_of(i))
        .into_iter()
        .collect::<Result<_>>()?;
    let name = if model.classification {
        "query_accuracy"
    } else {
        "query_mse"
    };
    let mut m = Metrics::new();
    let mut put = |key: String, at: usize| {
        let xs: Vec<f64> = curves.iter().map(|c| c[at]).collect();
        let (mean, ci) = mean_ci95(&xs);
        m.insert(key.clone(), mean);
        m.insert(format!("{key}_ci95"), ci);
    };
    put(format!("{prefix}{name}_before"), 0);
    if how.steps >= 1 {
        put(format!("{prefix}{name}_after_1"), 1);
    }
    put(format!("{prefix}{name}_after"), how.steps);
    if model.classification {
        // The plain name is the headline: accuracy after the configured test steps.
        put(format!("{prefix}{name}"), how.steps);
    }
    m.insert(format!("{prefix}eval_tasks"), n_tasks as f64);
    m.insert(format!("{prefix}test_inner_steps"), how.steps as f64);
    Ok(m)
}
