//! MAML-RL's policy: the policy-gradient family's MLP and action distributions (categorical
//! over logits, or a diagonal Gaussian with a learned state-independent log standard
//! deviation, its sample clipped into the action box), without a value head — MAML-RL's
//! baseline is the linear feature baseline fitted per task ([`super::baseline`]).
//!
//! The weights are given as a slice (θ, or adapted fast weights θ'): on the tape for the
//! objectives ([`Policy::log_probs`]), as plain values for acting ([`Policy::act`]).

use autodidact_core::{Action, Activation, Float, Init, Mlp, Params, Rng, Tensor, Var};
use ndarray::{Array2, ArrayD, ArrayView2, IxDyn};
use serde::{Deserialize, Serialize};

use crate::errors::{Result, RlError};
use crate::pg::distribution::{
    categorical_log_prob, gaussian_log_prob, sample_categorical, sample_gaussian,
};
use crate::pg::network::{mlp_forward, orthogonal, plain_mlp, ActionKind};
use crate::pg::PgInit;

/// A policy's layout: indices into a [`Params`] store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Observation → logits or Gaussian mean.
    pub mlp: Mlp,
    /// The Gaussian's log standard deviation `[d]` (continuous actions).
    pub log_std: Option<usize>,
    /// Floats per observation.
    pub obs_dim: usize,
    /// The action space.
    pub action: ActionKind,
}

impl Policy {
    /// Adds the policy's parameters (`pi.*`, `log_std`) to `params`.
    pub fn new(
        params: &mut Params<f32>,
        obs_dim: usize,
        action: ActionKind,
        hidden: &[usize],
        activation: Activation,
        init: PgInit,
        log_std_init: f64,
        rng: &mut Rng,
    ) -> Policy {
        let mut widths = vec![obs_dim];
        widths.extend_from_slice(hidden);
        widths.push(action.head_dim());
        let mlp = Mlp::new(params, "pi", &widths, activation, Init::TorchDefault, rng);
        if init == PgInit::Orthogonal {
            let n = mlp.layers.len();
            let t = params.tensors_mut();
            for (i, l) in mlp.layers.iter().enumerate() {
                let gain = if i + 1 == n {
                    0.01
                } else {
                    std::f64::consts::SQRT_2
                };
                t[l.weight] = orthogonal(l.in_dim, l.out_dim, gain, rng).into_dyn();
                if let Some(b) = l.bias {
                    t[b].fill(0.0);
                }
            }
        }
        let log_std = match &action {
            ActionKind::Continuous { low, .. } => Some(params.insert(
                "log_std",
                ArrayD::from_elem(IxDyn(&[low.len()]), log_std_init as f32),
            )),
            ActionKind::Discrete(_) => None,
        };
        Policy {
            mlp,
            log_std,
            obs_dim,
            action,
        }
    }

    /// Floats per stored action (1 for a choice).
    pub fn act_dim(&self) -> usize {
        match &self.action {
            ActionKind::Discrete(_) => 1,
            ActionKind::Continuous { low, .. } => low.len(),
        }
    }

    /// `log π(a|s)` of rows `obs [B, obs_dim]` with stored actions `[B · act_dim]` → `[B]`.
    pub fn log_probs<T: Float>(
        &self,
        p: &[Var<T>],
        obs: Var<T>,
        actions: &[f32],
    ) -> Result<Var<T>> {
        self.log_probs_of(p, mlp_forward(&self.mlp, p, obs), actions)
    }

    /// `log π(a|s)` from the network's outputs `out` (logits or Gaussian means, `[B, head]`)
    /// under weights `p` (for the log standard deviation) → `[B]`.
    pub fn log_probs_of<T: Float>(
        &self,
        p: &[Var<T>],
        out: Var<T>,
        actions: &[f32],
    ) -> Result<Var<T>> {
        let rows = out.shape()[0];
        match (&self.action, self.log_std) {
            (ActionKind::Discrete(n), _) => {
                let idx: Vec<usize> = actions.iter().map(|&a| a as usize).collect();
                if idx.len() != rows || idx.iter().any(|&a| a >= *n) {
                    return Err(RlError::Numerical(format!(
                        "{} stored actions for {rows} rows of {n} choices",
                        idx.len()
                    )));
                }
                Ok(categorical_log_prob(out, &idx))
            }
            (ActionKind::Continuous { low, .. }, Some(ls)) => {
                let u = Array2::from_shape_vec(
                    (rows, low.len()),
                    actions.iter().map(|&a| T::of(f64::from(a))).collect(),
                )
                .map_err(|e| RlError::Numerical(format!("stored continuous actions: {e}")))?;
                Ok(gaussian_log_prob(out, p[ls], Var::constant(u.into_dyn())))
            }
            (ActionKind::Continuous { .. }, None) => Err(RlError::Numerical(
                "a Gaussian policy without its log standard deviation".into(),
            )),
        }
    }

    /// Actions for rows `obs [B · obs_dim]` under weights `w`: sampled (`rng`), or the most
    /// likely (the Gaussian's mean) when `rng` is `None`. Returns what to store (the choice,
    /// or the Gaussian sample before clipping) and what to send to the environment.
    pub fn act(
        &self,
        w: &[Tensor<f32>],
        obs: &[f32],
        mut rng: Option<&mut Rng>,
    ) -> Result<Vec<(Vec<f32>, Action)>> {
        let rows = obs.len() / self.obs_dim.max(1);
        let x = ArrayView2::from_shape((rows, self.obs_dim), obs)
            .map_err(|e| RlError::Numerical(format!("observations: {e}")))?;
        let out = plain_mlp(w, &self.mlp, x)?;
        let log_std: Vec<f32> = self
            .log_std
            .map(|i| w[i].iter().copied().collect())
            .unwrap_or_default();
        let mut acts = Vec::with_capacity(rows);
        for row in out.rows() {
            let row = row.to_vec();
            acts.push(match &self.action {
                ActionKind::Discrete(_) => {
                    let a = match rng.as_deref_mut() {
                        Some(r) => sample_categorical(&row, r),
                        None => autodidact_core::argmax_slice(&row),
                    };
                    (vec![a as f32], Action::Discrete(a))
                }
                ActionKind::Continuous { low, high } => {
                    let u = match rng.as_deref_mut() {
                        Some(r) => sample_gaussian(&row, &log_std, r).0,
                        None => row,
                    };
                    let a = u
                        .iter()
                        .zip(low.iter().zip(high))
                        .map(|(&x, (&l, &h))| x.clamp(l, h))
                        .collect();
                    (u, Action::Continuous(a))
                }
            });
        }
        Ok(acts)
    }
}
