//! The trust-region outer step (TRPO, Schulman et al. 2015), the meta-update Finn et al. took
//! for MAML-RL. Each task `j`'s episodes are sampled first (before and after adaptation, as
//! for Adam); then, with those episodes fixed, θ is moved to maximise the importance-weighted
//! post-adaptation objective
//!
//! ```text
//! L(θ) = mean_j (1/n) Σ_{i,t} π_{θ'_j}(a|s) / π_{θ'_j,old}(a|s) · A_t
//!   subject to  KL(θ) = mean_j mean_t KL(π_{θ'_j,old}(·|s) ‖ π_{θ'_j}(·|s)) ≤ δ,
//! ```
//!
//! where `θ'_j = θ + α ∇L^in_j(θ)` is the adaptation on task `j`'s pre-adaptation episodes,
//! recorded on the tape with its DiCE inner objective, so both `L` and the KL see θ through
//! the inner step. `∇L` at the old θ is the policy gradient through the adaptation (DiCE's
//! meta-gradient). The direction solves `H x = ∇L` by conjugate gradient, `H` the KL's
//! Hessian at the old θ, from Hessian-vector products of the autodiff — the backward of the
//! KL's recorded gradient, a third derivative through the inner step; the step is
//! `√(2δ / xᵀHx) · x`, shrunk by a backtracking line search until `L` improves and the KL is
//! within δ (else θ stays).

use autodidact_core::{grad, CreateGraph, Float, Tensor, Var};
use ndarray::{Array1, Array2};

use super::dice::Advantages;
use super::hyperparams::Estimator;
use super::learner::{ascend, objective};
use super::policy::Policy;
use super::sampler::Episodes;
use crate::errors::{Result, RlError};
use crate::pg::network::{mlp_forward, ActionKind};

/// One task's fixed data for the trust-region step.
#[derive(Clone, Debug)]
pub struct TaskEpisodes {
    /// The episodes and advantages of each inner step (under θ, then each adapted policy).
    pub pre: Vec<(Episodes, Advantages)>,
    /// The episodes of the adapted policy.
    pub post: Episodes,
    /// Their advantages.
    pub post_adv: Advantages,
    /// The old adapted policy's outputs (logits or Gaussian means) on `post`'s rows,
    /// `[rows, head]`.
    pub old_out: Array2<f64>,
    /// The old adapted policy's log standard deviation (Gaussian policies).
    pub old_log_std: Option<Array1<f64>>,
    /// The old adapted policy's `log π(a|s)` of `post`'s rows (0 on padding).
    pub old_log_probs: Vec<f64>,
}

impl TaskEpisodes {
    /// A task's episodes with the outputs of the adapted weights `fast` that sampled `post`
    /// (the old policy of the trust region).
    pub fn new<T: Float>(
        policy: &Policy,
        fast: &[Var<T>],
        pre: Vec<(Episodes, Advantages)>,
        post: Episodes,
        post_adv: Advantages,
    ) -> Result<TaskEpisodes> {
        let out = mlp_forward(&policy.mlp, fast, observations(&post)?);
        let old_out = out
            .value()
            .mapv(|v| v.as_f64())
            .into_dimensionality::<ndarray::Ix2>()
            .map_err(|err| RlError::Numerical(format!("policy outputs: {err}")))?;
        let old_log_probs = policy
            .log_probs_of(fast, out, &post.actions)?
            .value()
            .iter()
            .map(|v| v.as_f64())
            .collect();
        let old_log_std = policy
            .log_std
            .map(|i| Array1::from_iter(fast[i].value().iter().map(|v| v.as_f64())));
        Ok(TaskEpisodes {
            pre,
            post,
            post_adv,
            old_out,
            old_log_std,
            old_log_probs,
        })
    }
}

/// What the adaptation needs: the inner rate (or learned rates) and the inner objective.
#[derive(Clone, Copy, Debug)]
pub struct Adaptation {
    /// Inner learning rate (when no rates are learned).
    pub inner_lr: f64,
    /// The inner objective.
    pub estimator: Estimator,
    /// Record the inner gradients (second order) or take them as constants.
    pub create: CreateGraph,
}

/// The adapted weights `θ'` from `theta` on the fixed inner-step episodes `pre`.
pub fn adapt<T: Float>(
    policy: &Policy,
    theta: &[Var<T>],
    rates: Option<&[Var<T>]>,
    pre: &[(Episodes, Advantages)],
    a: Adaptation,
) -> Result<Vec<Var<T>>> {
    let mut fast = theta.to_vec();
    for (e, adv) in pre {
        let obj = objective(policy, &fast, e, adv, a.estimator)?;
        let g = grad(&[obj], &fast, a.create);
        fast = ascend(&fast, &g, a.inner_lr, rates);
    }
    Ok(fast)
}

/// The observations of a batch of episodes as a constant `[rows, obs_dim]`.
fn observations<T: Float>(e: &Episodes) -> Result<Var<T>> {
    let x = Array2::from_shape_vec(
        (e.n * e.horizon, e.obs_dim),
        e.obs.iter().map(|&v| T::of(f64::from(v))).collect(),
    )
    .map_err(|err| RlError::Numerical(format!("episode observations: {err}")))?;
    Ok(Var::constant(x.into_dyn()))
}

fn constant<T: Float>(a: &ndarray::ArrayD<f64>) -> Var<T> {
    Var::constant(a.mapv(T::of))
}

/// The surrogate `L` and the mean KL of one task under the adapted weights `fast`.
pub fn task_surrogate_and_kl<T: Float>(
    policy: &Policy,
    fast: &[Var<T>],
    task: &TaskEpisodes,
) -> Result<(Var<T>, Var<T>)> {
    let e = &task.post;
    let rows = e.n * e.horizon;
    let mask = Array1::from(e.mask.clone()).into_dyn();
    let real = e.mask.iter().sum::<f64>().max(1.0);
    let out = mlp_forward(&policy.mlp, fast, observations(e)?);
    let lp = policy.log_probs_of(fast, out, &e.actions)?;
    let old_lp = Array1::from(task.old_log_probs.clone()).into_dyn();
    let adv = Array1::from(task.post_adv.values.clone()).into_dyn();
    // exp(l − l_old) on real rows; padding rows get weight 0 through the advantage.
    let ratio = (lp - constant::<T>(&old_lp)).exp();
    let surrogate = (ratio * constant::<T>(&adv)).sum() * (1.0 / e.n.max(1) as f64);
    let kl_rows = match (&policy.action, policy.log_std, &task.old_log_std) {
        (ActionKind::Discrete(_), _, _) => {
            let old_logp = log_softmax_rows(&task.old_out);
            let p_old = old_logp.mapv(f64::exp);
            let new_logp = out.log_softmax(1);
            (constant::<T>(&p_old.into_dyn()) * (constant::<T>(&old_logp.into_dyn()) - new_logp))
                .sum_axes(&[1], false)
        }
        (ActionKind::Continuous { .. }, Some(ls), Some(old_ls)) => {
            // Σ_d log σ_new − log σ_old + (σ_old² + (μ_old − μ_new)²) / (2 σ_new²) − ½.
            let ls_new = fast[ls];
            let var_old = old_ls.mapv(|l| (2.0 * l).exp()).into_dyn();
            let diff = constant::<T>(&task.old_out.clone().into_dyn()) - out;
            let spread = (diff.square() + constant::<T>(&var_old)) * (ls_new * -2.0).exp() * 0.5;
            (spread + ls_new - constant::<T>(&old_ls.clone().into_dyn()) - 0.5)
                .sum_axes(&[1], false)
        }
        _ => {
            return Err(RlError::Numerical(
                "a Gaussian policy without its (old) log standard deviation".into(),
            ))
        }
    };
    if kl_rows.shape() != [rows] {
        return Err(RlError::Numerical(format!(
            "KL of shape {:?} for {rows} rows",
            kl_rows.shape()
        )));
    }
    let kl = (kl_rows * constant::<T>(&mask)).sum() * (1.0 / real);
    Ok((surrogate, kl))
}

/// `log softmax` of each row, in `f64`.
fn log_softmax_rows(x: &Array2<f64>) -> Array2<f64> {
    let mut out = x.clone();
    for mut row in out.rows_mut() {
        let max = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let lse = row.iter().map(|&v| (v - max).exp()).sum::<f64>().ln() + max;
        row.mapv_inplace(|v| v - lse);
    }
    out
}

/// The mean over tasks of the surrogate and of the KL, with θ (and any learned rates) taken
/// through each task's adaptation.
pub fn surrogate_and_kl<T: Float>(
    policy: &Policy,
    theta: &[Var<T>],
    rates: Option<&[Var<T>]>,
    tasks: &[TaskEpisodes],
    a: Adaptation,
) -> Result<(Var<T>, Var<T>)> {
    let scale = 1.0 / tasks.len().max(1) as f64;
    let mut total: Option<(Var<T>, Var<T>)> = None;
    for task in tasks {
        let fast = adapt(policy, theta, rates, &task.pre, a)?;
        let (l, k) = task_surrogate_and_kl(policy, &fast, task)?;
        total = Some(match total {
            None => (l, k),
            Some((lt, kt)) => (lt + l, kt + k),
        });
    }
    let (l, k) =
        total.ok_or_else(|| RlError::Numerical("a trust-region step without tasks".into()))?;
    Ok((l * scale, k * scale))
}

/// `Σ_i ⟨a_i, b_i⟩` over a list of tensors.
pub fn dot(a: &[Tensor<f64>], b: &[Tensor<f64>]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.iter().zip(y.iter()).map(|(u, v)| u * v).sum::<f64>())
        .sum()
}

/// `y ← y + s x`.
fn axpy(y: &mut [Tensor<f64>], s: f64, x: &[Tensor<f64>]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        yi.scaled_add(s, xi);
    }
}

/// Conjugate gradient for `(H + damping I) x = g`, `H` given by its products with vectors;
/// at most `iterations` products, stopping early when the residual's squared norm falls
/// below `1e-10` or along a direction of non-positive curvature.
pub fn conjugate_gradient(
    mut hvp: impl FnMut(&[Tensor<f64>]) -> Result<Vec<Tensor<f64>>>,
    g: &[Tensor<f64>],
    iterations: usize,
    damping: f64,
) -> Result<Vec<Tensor<f64>>> {
    let mut x: Vec<Tensor<f64>> = g.iter().map(|t| Tensor::zeros(t.raw_dim())).collect();
    let mut r = g.to_vec();
    let mut p = g.to_vec();
    let mut rr = dot(&r, &r);
    for _ in 0..iterations {
        if rr < 1e-10 {
            break;
        }
        let mut hp = hvp(&p)?;
        axpy(&mut hp, damping, &p);
        let php = dot(&p, &hp);
        if !php.is_finite() {
            return Err(RlError::Numerical(format!(
                "the KL's curvature along a conjugate direction is {php}"
            )));
        }
        if php <= 0.0 {
            // A sampled Hessian (DiCE's, through the inner step) need not be positive
            // definite: stop at the last direction of positive curvature.
            break;
        }
        let alpha = rr / php;
        axpy(&mut x, alpha, &p);
        axpy(&mut r, -alpha, &hp);
        let next = dot(&r, &r);
        for (pi, ri) in p.iter_mut().zip(&r) {
            pi.zip_mut_with(ri, |pv, &rv| *pv = rv + (next / rr) * *pv);
        }
        rr = next;
    }
    Ok(x)
}

/// The product of the Hessian of `kl` with respect to `wrt` with `v`, through the recorded
/// gradient `kl_grad` (taken with [`CreateGraph::Yes`]).
pub fn hessian_vector<T: Float>(
    kl_grad: &[Var<T>],
    wrt: &[Var<T>],
    v: &[Tensor<f64>],
) -> Vec<Tensor<f64>> {
    let mut dot: Option<Var<T>> = None;
    for (g, vi) in kl_grad.iter().zip(v) {
        let term = (*g * Var::constant(vi.mapv(T::of))).sum();
        dot = Some(match dot {
            None => term,
            Some(d) => d + term,
        });
    }
    match dot {
        Some(d) => grad(&[d], wrt, CreateGraph::No)
            .iter()
            .map(|h| h.value().mapv(|x| x.as_f64()))
            .collect(),
        None => Vec::new(),
    }
}
