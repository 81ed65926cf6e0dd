//! What every policy-gradient loss is built from: the log-probability of the actions taken,
//! the policy's entropy and the state values of a batch, on the tape; and the gradient step
//! that follows (clipping, learning rate, optimiser).

use autodidact_core::{clip_grad_norm, optim, Float, Optimizer, Params, Tape, Tensor, Var};
use ndarray::{Array1, Array2};

use super::distribution::{
    categorical_entropy, categorical_log_prob, gaussian_entropy, gaussian_log_prob,
};
use super::network::{ActionKind, ActorCritic};
use crate::dqn::optimizer::DqnOptimizer;
use crate::errors::{Result, RlError};

/// A batch's policy and value terms on the tape.
pub struct Terms<T: Float> {
    /// `log π(a|s)` of each row `[B]`.
    pub log_prob: Var<T>,
    /// The policy's mean entropy over the batch (a scalar).
    pub entropy: Var<T>,
    /// `V(s)` of each row `[B]`.
    pub value: Var<T>,
}

/// The terms of rows `obs [B, obs_dim]` with actions `[B, act_dim]` (a choice, or the
/// Gaussian sample `u`).
pub fn evaluate_actions<T: Float>(
    net: &ActorCritic,
    p: &[Var<T>],
    obs: Var<T>,
    actions: &[f32],
) -> Result<Terms<T>> {
    let heads = net.forward(p, obs);
    let rows = heads.value.shape()[0];
    let (log_prob, entropy) = match (&net.action, heads.log_std) {
        (ActionKind::Discrete(n), _) => {
            let idx: Vec<usize> = actions.iter().map(|&a| a as usize).collect();
            if idx.len() != rows || idx.iter().any(|&a| a >= *n) {
                return Err(RlError::Numerical(format!(
                    "{} stored actions for {rows} rows of {n} choices",
                    idx.len()
                )));
            }
            (
                categorical_log_prob(heads.policy, &idx),
                categorical_entropy(heads.policy).mean(),
            )
        }
        (ActionKind::Continuous { low, .. }, Some(log_std)) => {
            let u = Array2::from_shape_vec(
                (rows, low.len()),
                actions.iter().map(|&a| T::of(f64::from(a))).collect(),
            )
            .map_err(|e| RlError::Numerical(format!("stored continuous actions: {e}")))?;
            (
                gaussian_log_prob(heads.policy, log_std, Var::constant(u.into_dyn())),
                gaussian_entropy(log_std),
            )
        }
        (ActionKind::Continuous { .. }, None) => {
            return Err(RlError::Numerical(
                "a Gaussian policy without its log standard deviation".into(),
            ))
        }
    };
    Ok(Terms {
        log_prob,
        entropy,
        value: heads.value,
    })
}

/// A `[B]` constant from `f64` values.
pub fn column<T: Float>(x: &[f64]) -> Var<T> {
    Var::constant(Array1::from_iter(x.iter().map(|&v| T::of(v))).into_dyn())
}

/// `[B, obs_dim]` observations of rows `idx` (all rows when `None`) as a constant.
pub fn obs_batch<T: Float>(obs: &[f32], obs_dim: usize, idx: Option<&[usize]>) -> Result<Var<T>> {
    let data: Vec<T> = match idx {
        Some(idx) => idx
            .iter()
            .flat_map(|&r| obs[r * obs_dim..(r + 1) * obs_dim].iter())
            .map(|&x| T::of(f64::from(x)))
            .collect(),
        None => obs.iter().map(|&x| T::of(f64::from(x))).collect(),
    };
    let rows = data.len() / obs_dim.max(1);
    Array2::from_shape_vec((rows, obs_dim), data)
        .map(|a| Var::constant(a.into_dyn()))
        .map_err(|e| RlError::Numerical(format!("observation batch: {e}")))
}

/// What one gradient step reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepReport {
    /// Global gradient norm before clipping (0 when the step was skipped).
    pub grad_norm: f64,
    /// Whether the parameters were updated.
    pub stepped: bool,
}

/// Builds a loss with `build` on a fresh tape over `params`; unless `build` says to skip the
/// step (PPO's KL stop), differentiates it, clips the global gradient norm to
/// `max_grad_norm` (when positive) and steps the optimiser at `lr`.
pub fn gradient_step<F>(
    params: &mut Params<f32>,
    opt: &mut DqnOptimizer,
    lr: f64,
    max_grad_norm: f64,
    build: F,
) -> Result<StepReport>
where
    F: FnOnce(&[Var<f32>]) -> Result<(Var<f32>, bool)>,
{
    let tape = Tape::<f32>::new();
    let p = tape.params(params);
    let (loss, step) = build(&p)?;
    if !step {
        return Ok(StepReport::default());
    }
    if !loss.item().is_finite() {
        return Err(RlError::Numerical(format!(
            "the policy-gradient loss is {}",
            loss.item()
        )));
    }
    let mut grads: Vec<Tensor<f32>> =
        optim::values(&tape.grad(&loss, &p, autodidact_core::CreateGraph::No));
    let grad_norm = if max_grad_norm > 0.0 {
        clip_grad_norm(&mut grads, max_grad_norm)
    } else {
        grads
            .iter()
            .flat_map(|g| g.iter())
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt()
    };
    opt.set_lr(lr);
    opt.step(params, &grads)?;
    Ok(StepReport {
        grad_norm,
        stepped: true,
    })
}
