//! The MAML-RL learner the runner drives: one meta-iteration per training step, evaluation
//! after 0, 1, 2, … inner steps on held-out tasks, exact checkpoints.

use std::sync::Arc;

use autodidact_core::config::Checked;
use autodidact_core::optim::{clip_grad_norm, values};
use autodidact_core::parallel::{self, ThreadPool};
use autodidact_core::{
    grad, Adam, CreateGraph, EnvDistribution, Environment, Float, Metrics, Optimizer, Params, Seed,
    Space, Split, TabularModel, Tape, Tensor, Var,
};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::baseline::linear_feature_baseline;
use super::dice::{dice_objective, surrogate_objective, Advantages};
use super::hyperparams::{BaselineKind, Estimator, MamlRlParams, OuterStep};
use super::policy::Policy;
use super::sampler::{sample_episodes, Episodes};
use super::trpo::{self, Adaptation, TaskEpisodes};
use crate::checkpoint::ParamsBits;
use crate::errors::{Result, RlError};
use crate::pg::network::ActionKind;

/// The advantages `γ^t (G_t − b_t)` of a batch, with the configured baseline and
/// normalisation.
pub fn advantages(e: &Episodes, baseline: BaselineKind, gamma: f64, normalize: bool) -> Advantages {
    let b = match baseline {
        BaselineKind::Linear => linear_feature_baseline(e, gamma),
        BaselineKind::None => vec![0.0; e.n * e.horizon],
    };
    Advantages::new(e.n, e.horizon, &e.rewards, &b, &e.mask, gamma, normalize)
}

/// The objective (to maximise) of a batch of episodes under weights `w` on the tape: DiCE,
/// or the REINFORCE surrogate.
pub fn objective<T: Float>(
    policy: &Policy,
    w: &[Var<T>],
    e: &Episodes,
    adv: &Advantages,
    estimator: Estimator,
) -> Result<Var<T>> {
    let rows = e.n * e.horizon;
    let x = Array2::from_shape_vec(
        (rows, e.obs_dim),
        e.obs.iter().map(|&v| T::of(f64::from(v))).collect(),
    )
    .map_err(|err| RlError::Numerical(format!("episode observations: {err}")))?;
    let lp = policy.log_probs(w, Var::constant(x.into_dyn()), &e.actions)?;
    let mask = Var::constant(Array1::from_iter(e.mask.iter().map(|&m| T::of(m))).into_dyn());
    let lp = (lp * mask).reshape(&[e.n, e.horizon]);
    Ok(match estimator {
        Estimator::Dice => dice_objective(lp, adv),
        Estimator::Surrogate => surrogate_objective(lp, adv),
    })
}

/// One inner step of gradient ascent: `θ'ᵢ = θᵢ + αᵢ gᵢ` (one rate, or one tensor of rates
/// per parameter).
pub fn ascend<T: Float>(
    w: &[Var<T>],
    g: &[Var<T>],
    lr: f64,
    rates: Option<&[Var<T>]>,
) -> Vec<Var<T>> {
    w.iter()
        .zip(g)
        .enumerate()
        .map(|(i, (&wi, &gi))| match rates {
            Some(a) => wi + a[i] * gi,
            None => wi + gi * lr,
        })
        .collect()
}

/// Sums of the training quantities since the last log line.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct LogSums {
    before: f64,
    after: f64,
    grad_norm: f64,
    tasks: u64,
    iterations: u64,
    env_steps: u64,
    /// TRPO: the KL of the steps taken, the line-search trials, the steps refused.
    #[serde(default)]
    kl: f64,
    #[serde(default)]
    trials: u64,
    #[serde(default)]
    refused: u64,
}

/// Everything a checkpoint holds (the rest is a function of the seed and the iteration).
#[derive(Serialize, Deserialize)]
struct State {
    policy: Policy,
    iteration: u64,
    params: ParamsBits,
    opt: Adam<f32>,
    log: LogSums,
    env_steps: u64,
}

/// A task's sampled episodes and the adapted weights that sampled the last batch.
struct Rollout {
    fast: Vec<Var<f32>>,
    pre: Vec<(Episodes, Advantages)>,
    post: Episodes,
    steps: u64,
}

/// MAML-RL bound to a distribution of environments.
pub struct MamlRl {
    pub(crate) hp: MamlRlParams,
    pub(crate) policy: Policy,
    /// θ, then (`learn_inner_lr`) one rate tensor per parameter.
    pub(crate) params: Params<f32>,
    pub(crate) n_policy: usize,
    pub(crate) opt: Adam<f32>,
    pub(crate) dist: Box<dyn EnvDistribution>,
    pub(crate) env_name: String,
    pub(crate) seed: Seed,
    pub(crate) iteration: u64,
    log: LogSums,
    env_steps: u64,
    /// Workers for the tasks of a meta-batch and of an evaluation (`threads` > 1).
    pub(crate) pool: Option<Arc<ThreadPool>>,
}

/// Returns after each number of inner steps on some tasks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AdaptationCurve {
    /// `returns[k][j]`: mean return of task `j`'s episodes after `k` inner steps.
    pub returns: Vec<Vec<f64>>,
    /// The optimal expected return of each task, when known.
    pub optimal: Vec<Option<f64>>,
}

impl MamlRl {
    /// MAML-RL on `dist` (named `env_name` in messages); generators derive from `seed`.
    pub fn new(
        hp: Checked<MamlRlParams>,
        dist: Box<dyn EnvDistribution>,
        env_name: &str,
        seed: Seed,
    ) -> Result<MamlRl> {
        let hp = hp.into_inner();
        let template = dist.template();
        let incompatible = |reason: String| RlError::Incompatible {
            algorithm: "maml-rl".into(),
            env: env_name.into(),
            reason,
        };
        let action = match template.action_space() {
            Space::Discrete(n) if n > 0 => ActionKind::Discrete(n),
            Space::Box { low, high, .. }
                if !low.is_empty()
                    && low.len() == high.len()
                    && low.iter().chain(&high).all(|b| b.is_finite()) =>
            {
                ActionKind::Continuous { low, high }
            }
            other => {
                return Err(incompatible(format!(
                    "it needs a discrete action space or a bounded box, the action space is \
                     {other:?}"
                )))
            }
        };
        let obs_dim = template.observation_space().flat_dim();
        let rows = hp.episodes_per_task as f64 * hp.horizon as f64;
        let width = hp.hidden.iter().copied().max().unwrap_or(1).max(obs_dim) as f64;
        // One task's recorded graph: every inner step's activations, kept for the outer
        // gradient (a few copies each for the backward of the backward).
        let passes = 4.0 * (hp.inner_steps as f64 + 1.0) * (hp.hidden.len() as f64 + 2.0);
        autodidact_core::memory::check_fits(
            "episodes_per_task",
            "one task's second-order graph",
            rows * width * passes * 4.0,
        )?;
        if hp.outer_step == OuterStep::Trpo {
            // The trust-region step keeps every task's graph, and the KL's recorded gradient
            // through it, on one tape.
            autodidact_core::memory::check_fits(
                "meta_batch",
                "the trust-region step's graph of every task",
                rows * width * passes * 4.0 * hp.meta_batch as f64 * 3.0,
            )?;
        }
        let mut params = Params::new();
        let policy = Policy::new(
            &mut params,
            obs_dim,
            action,
            &hp.hidden,
            hp.activation,
            hp.init,
            hp.log_std_init,
            &mut seed.rng("init"),
        );
        let n_policy = params.len();
        if hp.learn_inner_lr {
            for i in 0..n_policy {
                let name = format!("inner_lr.{}", params.names()[i]);
                let a = Tensor::from_elem(params.tensors()[i].raw_dim(), hp.inner_lr as f32);
                params.insert(name, a);
            }
        }
        let pool = parallel::pool_for(hp.threads)?.map(Arc::new);
        Ok(MamlRl {
            pool,
            opt: Adam::new(hp.outer_lr),
            hp,
            policy,
            params,
            n_policy,
            dist,
            env_name: env_name.into(),
            seed,
            iteration: 0,
            log: LogSums::default(),
            env_steps: 0,
        })
    }

    /// The hyperparameters.
    pub fn hyperparams(&self) -> &MamlRlParams {
        &self.hp
    }
    /// The policy's layout.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
    /// θ (and the learned inner rates after it).
    pub fn parameters(&self) -> &Params<f32> {
        &self.params
    }
    /// Meta-iterations done.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    fn advantages(&self, e: &Episodes) -> Advantages {
        advantages(
            e,
            self.hp.baseline,
            self.hp.gamma,
            self.hp.normalize_advantages,
        )
    }

    /// Task `j` of meta-iteration `it`: its environment and its seed.
    fn train_task(&self, it: u64, j: u64) -> Result<(Box<dyn Environment>, Seed)> {
        let s = self.seed.derive("meta-train").index(it).index(j);
        let env = self.dist.sample_env(Split::Train, &mut s.rng("task"))?;
        Ok((env, s))
    }

    /// A task's episodes as meta-training samples them: `inner_steps` batches, each under the
    /// current fast weights and followed by an inner step from `theta` (recorded with
    /// `create`), then the batch of the adapted policy.
    fn rollout(
        &self,
        env: &dyn Environment,
        s: Seed,
        theta: &[Var<f32>],
        rates: Option<&[Var<f32>]>,
        create: CreateGraph,
    ) -> Result<Rollout> {
        let hp = &self.hp;
        let mut fast = theta.to_vec();
        let mut pre = Vec::with_capacity(hp.inner_steps);
        let mut steps = 0u64;
        let sample = |w: &[Var<f32>], seed: Seed, act: Seed| {
            let w: Vec<Tensor<f32>> = w.iter().map(|v| v.value()).collect();
            let e = sample_episodes(
                env,
                &self.policy,
                &w,
                hp.episodes_per_task,
                hp.horizon,
                seed,
                Some(&mut act.rng("act")),
            )?;
            Ok::<_, RlError>(e)
        };
        for k in 0..hp.inner_steps {
            let k = k as u64;
            let e = sample(
                &fast,
                s.derive("inner").index(k),
                s.derive("inner-act").index(k),
            )?;
            steps += e.steps() as u64;
            let adv = self.advantages(&e);
            let obj = objective(&self.policy, &fast, &e, &adv, hp.estimator)?;
            let g = grad(&[obj], &fast, create);
            fast = ascend(&fast, &g, hp.inner_lr, rates);
            pre.push((e, adv));
        }
        let post = sample(&fast, s.derive("outer"), s.derive("outer-act"))?;
        steps += post.steps() as u64;
        Ok(Rollout {
            fast,
            pre,
            post,
            steps,
        })
    }

    /// One task's contribution: the meta-gradient of its post-adaptation objective, the
    /// returns before and after adaptation, and the environment steps taken.
    fn task_meta_gradient(
        &self,
        env: &dyn Environment,
        s: Seed,
    ) -> Result<(Vec<Tensor<f32>>, f64, f64, u64)> {
        let hp = &self.hp;
        let tape = Tape::<f32>::new();
        let vars = tape.params(&self.params);
        let (theta, rates) = vars.split_at(self.n_policy);
        let rates = hp.learn_inner_lr.then_some(rates);
        let r = self.rollout(env, s, theta, rates, self.adaptation().create)?;
        let after = r.post.mean_return();
        let before = r.pre.first().map_or(after, |(e, _)| e.mean_return());
        let adv = self.advantages(&r.post);
        let obj = objective(&self.policy, &r.fast, &r.post, &adv, Estimator::Dice)?;
        let loss = -obj;
        let g = values(&tape.grad(&loss, &vars, CreateGraph::No));
        Ok((g, before, after, r.steps))
    }

    /// One meta-iteration: `meta_batch` training tasks, one outer step (Adam on the mean of
    /// their meta-gradients, or a trust-region step). Returns the mean returns before and
    /// after adaptation.
    pub fn meta_step(&mut self) -> Result<(f64, f64)> {
        match self.hp.outer_step {
            OuterStep::Adam => self.adam_step(),
            OuterStep::Trpo => self.trpo_step(),
        }
    }

    /// One task's episodes for the trust-region step, sampled exactly as
    /// [`MamlRl::task_meta_gradient`] samples them, with the old adapted policy's outputs.
    fn task_episodes(&self, env: &dyn Environment, s: Seed) -> Result<(TaskEpisodes, f64, u64)> {
        let tape = Tape::<f32>::new();
        let vars = tape.params(&self.params);
        let (theta, rates) = vars.split_at(self.n_policy);
        let rates = self.hp.learn_inner_lr.then_some(rates);
        let r = self.rollout(env, s, theta, rates, CreateGraph::No)?;
        let post_adv = self.advantages(&r.post);
        let before = r
            .pre
            .first()
            .map_or(r.post.mean_return(), |(e, _)| e.mean_return());
        let task = TaskEpisodes::new(&self.policy, &r.fast, r.pre, r.post, post_adv)?;
        Ok((task, before, r.steps))
    }

    /// The adaptation as the trust-region step records it.
    fn adaptation(&self) -> Adaptation {
        Adaptation {
            inner_lr: self.hp.inner_lr,
            estimator: self.hp.estimator,
            create: if self.hp.first_order {
                CreateGraph::No
            } else {
                CreateGraph::Yes
            },
        }
    }

    /// The surrogate and the KL of `params` on the fixed episodes `tasks` (values only).
    fn surrogate_and_kl_at(
        &self,
        params: &Params<f32>,
        tasks: &[TaskEpisodes],
    ) -> Result<(f64, f64)> {
        let tape = Tape::<f32>::new();
        let vars = tape.params(params);
        let (theta, rates) = vars.split_at(self.n_policy);
        let rates = self.hp.learn_inner_lr.then_some(rates);
        let a = Adaptation {
            create: CreateGraph::No,
            ..self.adaptation()
        };
        let (l, kl) = trpo::surrogate_and_kl(&self.policy, theta, rates, tasks, a)?;
        Ok((l.item(), kl.item()))
    }

    /// One meta-iteration with the trust-region outer step ([`trpo`]).
    fn trpo_step(&mut self) -> Result<(f64, f64)> {
        let hp = self.hp.clone();
        let b = hp.meta_batch;
        let tasks: Vec<u64> = (0..b as u64).collect();
        let per_task = parallel::ordered_map(self.pool.as_deref(), &tasks, |&j| {
            let (env, s) = self.train_task(self.iteration, j)?;
            self.task_episodes(env.as_ref(), s)
        });
        let (mut before, mut after) = (0.0, 0.0);
        let mut batches = Vec::with_capacity(b);
        for task in per_task {
            let (t, rb, steps) = task?;
            before += rb / b as f64;
            after += t.post.mean_return() / b as f64;
            self.env_steps += steps;
            self.log.env_steps += steps;
            batches.push(t);
        }
        // The direction: H x = g by conjugate gradient, on one tape holding every task's graph.
        let (x, g, l_old, xhx) = {
            let tape = Tape::<f32>::new();
            let vars = tape.params(&self.params);
            let (theta, rates) = vars.split_at(self.n_policy);
            let rates = hp.learn_inner_lr.then_some(rates);
            let (l, kl) =
                trpo::surrogate_and_kl(&self.policy, theta, rates, &batches, self.adaptation())?;
            let g: Vec<Tensor<f64>> = grad(&[l], &vars, CreateGraph::No)
                .iter()
                .map(|v| v.value().mapv(f64::from))
                .collect();
            let kl_grad = grad(&[kl], &vars, CreateGraph::Yes);
            let hvp = |v: &[Tensor<f64>]| Ok(trpo::hessian_vector(&kl_grad, &vars, v));
            let x = trpo::conjugate_gradient(hvp, &g, hp.cg_iterations, hp.cg_damping)?;
            let hx = trpo::hessian_vector(&kl_grad, &vars, &x);
            let xhx = trpo::dot(&x, &hx);
            (x, g, l.item(), xhx)
        };
        let norm = trpo::dot(&g, &g).sqrt();
        if !(norm.is_finite() && xhx.is_finite()) {
            return Err(RlError::Numerical(format!(
                "the trust-region step of meta-iteration {} is not finite (|g| = {norm}, xᵀHx =                  {xhx})",
                self.iteration + 1
            )));
        }
        // Without positive curvature along x there is no step of KL `max_kl`: the step is
        // refused (θ stays).
        let scale = if xhx > 0.0 {
            (2.0 * hp.max_kl / xhx).sqrt()
        } else {
            0.0
        };
        let old = self.params.clone();
        let mut taken = None;
        let trials = if scale > 0.0 { hp.line_search_steps } else { 0 };
        for trial in 0..trials {
            let s = scale * hp.backtrack_ratio.powi(trial as i32);
            let mut candidate = old.clone();
            for (p, xi) in candidate.tensors_mut().iter_mut().zip(&x) {
                p.zip_mut_with(xi, |p, &d| *p += (s * d) as f32);
            }
            let (l_new, kl_new) = self.surrogate_and_kl_at(&candidate, &batches)?;
            self.log.trials += 1;
            if l_new.is_finite() && kl_new <= hp.max_kl && l_new > l_old {
                taken = Some((candidate, kl_new));
                break;
            }
        }
        match taken {
            Some((p, kl)) => {
                self.params = p;
                self.log.kl += kl;
            }
            None => self.log.refused += 1,
        }
        self.finish_iteration(before, after, norm);
        Ok((before, after))
    }

    /// Counts a meta-iteration done and adds its figures to the log sums.
    fn finish_iteration(&mut self, before: f64, after: f64, grad_norm: f64) {
        self.iteration += 1;
        let l = &mut self.log;
        l.before += before;
        l.after += after;
        l.grad_norm += grad_norm;
        l.tasks += self.hp.meta_batch as u64;
        l.iterations += 1;
    }

    /// One meta-iteration with Adam as the outer step.
    fn adam_step(&mut self) -> Result<(f64, f64)> {
        let b = self.hp.meta_batch;
        let mut grads: Vec<Tensor<f32>> = self.params.zeros_like();
        let (mut before, mut after) = (0.0, 0.0);
        let scale = 1.0 / b as f32;
        // Each task draws from generators of its own (derived from the seed, the iteration
        // and its index), so the tasks run on any thread; their gradients are added in task
        // order.
        let tasks: Vec<u64> = (0..b as u64).collect();
        let per_task = parallel::ordered_map(self.pool.as_deref(), &tasks, |&j| {
            let (env, s) = self.train_task(self.iteration, j)?;
            self.task_meta_gradient(env.as_ref(), s)
        });
        for task in per_task {
            let (g, rb, ra, steps) = task?;
            for (acc, gi) in grads.iter_mut().zip(&g) {
                acc.scaled_add(scale, gi);
            }
            before += rb / b as f64;
            after += ra / b as f64;
            self.env_steps += steps;
            self.log.env_steps += steps;
        }
        if grads.iter().any(|g| g.iter().any(|x| !x.is_finite())) {
            return Err(RlError::Numerical(format!(
                "the meta-gradient of meta-iteration {} is not finite",
                self.iteration + 1
            )));
        }
        let norm = if self.hp.grad_clip > 0.0 {
            clip_grad_norm(&mut grads, self.hp.grad_clip)
        } else {
            grads
                .iter()
                .flat_map(|g| g.iter())
                .map(|&x| f64::from(x).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        self.opt.step(&mut self.params, &grads)?;
        self.finish_iteration(before, after, norm);
        Ok((before, after))
    }

    /// The returns of `n_tasks` tasks of `split` after 0, 1, …, `steps` inner steps (each
    /// step on fresh episodes of the adapted policy, as in training), and each task's
    /// optimum when known. Task `j` and its episodes derive from `seed`.
    pub fn adaptation_curve(
        &self,
        dist: &dyn EnvDistribution,
        split: Split,
        n_tasks: usize,
        steps: usize,
        seed: Seed,
    ) -> Result<AdaptationCurve> {
        let mut curve = AdaptationCurve {
            returns: vec![Vec::with_capacity(n_tasks); steps + 1],
            optimal: Vec::with_capacity(n_tasks),
        };
        // Task `j` draws only from generators derived from `seed` and `j`: the tasks run on
        // any thread and are put in the curve in task order.
        let tasks: Vec<u64> = (0..n_tasks as u64).collect();
        let per_task = parallel::ordered_map(self.pool.as_deref(), &tasks, |&j| {
            self.task_curve(dist, split, steps, seed.index(j))
        });
        for task in per_task {
            let (returns, optimal) = task?;
            for (k, r) in returns.into_iter().enumerate() {
                curve.returns[k].push(r);
            }
            curve.optimal.push(optimal);
        }
        Ok(curve)
    }

    /// One task's returns after 0, 1, …, `steps` inner steps and its optimum when known; the
    /// task and its episodes derive from `s`.
    fn task_curve(
        &self,
        dist: &dyn EnvDistribution,
        split: Split,
        steps: usize,
        s: Seed,
    ) -> Result<(Vec<f64>, Option<f64>)> {
        let hp = &self.hp;
        let mut returns = Vec::with_capacity(steps + 1);
        let env = dist.sample_env(split, &mut s.rng("task"))?;
        let mut w: Vec<Tensor<f32>> = self.params.tensors()[..self.n_policy].to_vec();
        let mut optimal = None;
        for k in 0..=steps {
            let e = sample_episodes(
                env.as_ref(),
                &self.policy,
                &w,
                hp.episodes_per_task,
                hp.horizon,
                s.derive("episodes").index(k as u64),
                Some(&mut s.derive("act").index(k as u64).rng("act")),
            )?;
            returns.push(e.mean_return());
            if k == 0 {
                optimal = match e.optimal_return {
                    Some(v) => Some(v),
                    None => env.tabular().map(|m| {
                        let h = e.env_limit.unwrap_or(hp.horizon).min(hp.horizon);
                        finite_horizon_optimum(m, h)
                    }),
                };
            }
            if k == steps {
                break;
            }
            let tape = Tape::<f32>::new();
            let vars: Vec<Var<f32>> = w.iter().map(|t| tape.param(t)).collect();
            let rates: Vec<Var<f32>> = self.params.tensors()[self.n_policy..]
                .iter()
                .map(|t| tape.constant_from(t))
                .collect();
            let adv = self.advantages(&e);
            let obj = objective(&self.policy, &vars, &e, &adv, Estimator::Dice)?;
            let g = grad(&[obj], &vars, CreateGraph::No);
            let r = hp.learn_inner_lr.then_some(rates.as_slice());
            w = values(&ascend(&vars, &g, hp.inner_lr, r));
        }
        Ok((returns, optimal))
    }

    /// Evaluation metrics on `n_tasks` tasks of `split`: `{prefix}return_after_k` (mean over
    /// tasks) and its `_ci95` for `k = 0..=eval_inner_steps`, and `{prefix}optimal_return`
    /// when every task's optimum is known.
    pub fn evaluate_split(
        &self,
        dist: &dyn EnvDistribution,
        split: Split,
        n_tasks: usize,
        prefix: &str,
    ) -> Result<Metrics> {
        let seed = self.seed.derive(split.name()).derive("evaluation");
        let c = self.adaptation_curve(dist, split, n_tasks, self.hp.eval_inner_steps, seed)?;
        let mut m = Metrics::new();
        for (k, r) in c.returns.iter().enumerate() {
            let (mean, ci) = autodidact_core::mean_ci95(r);
            m.insert(format!("{prefix}return_after_{k}"), mean);
            m.insert(format!("{prefix}return_after_{k}_ci95"), ci);
        }
        let known: Vec<f64> = c.optimal.iter().flatten().copied().collect();
        if known.len() == c.optimal.len() && !known.is_empty() {
            let (mean, _) = autodidact_core::mean_ci95(&known);
            m.insert(format!("{prefix}optimal_return"), mean);
        }
        m.insert(format!("{prefix}eval_tasks"), n_tasks as f64);
        Ok(m)
    }

    /// The metrics of the log line due now; resets the running sums.
    pub(crate) fn log_metrics(&mut self) -> Metrics {
        let l = std::mem::take(&mut self.log);
        let mut m = Metrics::new();
        let it = l.iterations.max(1) as f64;
        m.insert("return_before".into(), l.before / it);
        m.insert("return_after".into(), l.after / it);
        m.insert("grad_norm".into(), l.grad_norm / it);
        m.insert("env_steps".into(), self.env_steps as f64);
        if self.hp.outer_step == OuterStep::Trpo {
            let taken = (l.iterations - l.refused.min(l.iterations)).max(1) as f64;
            m.insert("trpo_kl".into(), l.kl / taken);
            m.insert("trpo_line_search_trials".into(), l.trials as f64 / it);
            m.insert("trpo_refused".into(), l.refused as f64);
        }
        if self.hp.learn_inner_lr {
            let rates = &self.params.tensors()[self.n_policy..];
            let n: usize = rates.iter().map(|t| t.len()).sum();
            let s: f64 = rates
                .iter()
                .flat_map(|t| t.iter())
                .map(|&x| f64::from(x))
                .sum();
            m.insert("inner_lr_mean".into(), s / n.max(1) as f64);
        }
        m
    }

    /// The checkpoint's bytes.
    pub(crate) fn save_bytes(&self) -> Result<Vec<u8>> {
        let st = State {
            policy: self.policy.clone(),
            iteration: self.iteration,
            params: ParamsBits::of(&self.params),
            opt: self.opt.clone(),
            log: self.log.clone(),
            env_steps: self.env_steps,
        };
        serde_json::to_vec(&st).map_err(|e| RlError::Checkpoint(format!("cannot encode: {e}")))
    }

    /// Restores [`MamlRl::save_bytes`]'s state, refusing another policy's.
    pub(crate) fn load_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let st: State = serde_json::from_slice(bytes)
            .map_err(|e| RlError::Checkpoint(format!("not a maml-rl checkpoint: {e}")))?;
        if st.policy != self.policy {
            return Err(RlError::Checkpoint(format!(
                "the checkpoint's policy ({} inputs, {:?}) is not this one's ({} inputs, {:?} \
                 on {})",
                st.policy.obs_dim,
                st.policy.action,
                self.policy.obs_dim,
                self.policy.action,
                self.env_name
            )));
        }
        let mut params = self.params.clone();
        st.params.restore(&mut params)?;
        self.params = params;
        self.opt = st.opt;
        self.iteration = st.iteration;
        self.log = st.log;
        self.env_steps = st.env_steps;
        Ok(())
    }
}

/// The optimal expected undiscounted return of a tabular model within `h` steps (finite-
/// horizon value iteration from the start distribution).
pub fn finite_horizon_optimum<M: TabularModel + ?Sized>(m: &M, h: usize) -> f64 {
    let n = m.num_states();
    let mut v = vec![0.0; n];
    for _ in 0..h {
        let next: Vec<f64> = (0..n)
            .map(|s| {
                if m.is_terminal(s) {
                    return 0.0;
                }
                (0..m.num_actions())
                    .map(|a| {
                        m.transitions(s, a)
                            .iter()
                            .map(|t| t.prob * (t.reward + if t.done { 0.0 } else { v[t.next] }))
                            .sum::<f64>()
                    })
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        v = next;
    }
    m.initial_distribution()
        .iter()
        .map(|&(s, p)| p * v[s])
        .sum()
}
