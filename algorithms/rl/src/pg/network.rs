//! The actor-critic network: a policy head (logits, or a Gaussian mean with a learned
//! state-independent log standard deviation) and a state-value head, as two MLPs or one shared
//! trunk with two linear heads.
//!
//! [`ActorCritic::forward`] records on the tape (the losses); [`ActorCritic::act_values`]
//! computes plain values (acting, bootstrapping, evaluation), which need no gradient and run
//! at every environment step.

use autodidact_core::{Activation, Float, Init, Mlp, Params, Rng, Tensor, Var};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayD, ArrayView2, Ix2, IxDyn};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::activation::{activate_in_place, activate_var};
use super::hyperparams::PgInit;
use crate::errors::{Result, RlError};

/// The action space a policy acts in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ActionKind {
    /// `n` choices: a categorical policy.
    Discrete(usize),
    /// A box: a diagonal Gaussian policy, its actions brought within the bounds.
    Continuous {
        /// Lower bounds.
        low: Vec<f32>,
        /// Upper bounds.
        high: Vec<f32>,
    },
}

impl ActionKind {
    /// The policy head's width: logits, or the mean.
    pub fn head_dim(&self) -> usize {
        match self {
            ActionKind::Discrete(n) => *n,
            ActionKind::Continuous { low, .. } => low.len(),
        }
    }
}

/// An actor-critic network's layout (indices into a [`Params`] store).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActorCritic {
    /// The shared trunk (its output activated), when the heads share one.
    pub trunk: Option<Mlp>,
    /// The policy network (or head), to logits or the Gaussian mean.
    pub actor: Mlp,
    /// The value network (or head), to one value.
    pub critic: Mlp,
    /// The Gaussian's log standard deviation `[d]` (continuous actions only).
    pub log_std: Option<usize>,
    /// Floats per observation.
    pub obs_dim: usize,
    /// The action space.
    pub action: ActionKind,
}

/// What the network gives for a batch on the tape.
pub struct Heads<T: Float> {
    /// Logits `[B, n]` or the Gaussian mean `[B, d]`.
    pub policy: Var<T>,
    /// State values `[B]`.
    pub value: Var<T>,
    /// The log standard deviation `[d]` (continuous actions).
    pub log_std: Option<Var<T>>,
}

impl ActorCritic {
    /// Adds the network's parameters to `params`: `pi.*`, `vf.*`, `trunk.*` when shared, and
    /// `log_std`.
    pub fn new(
        params: &mut Params<f32>,
        obs_dim: usize,
        action: ActionKind,
        hidden: &[usize],
        activation: Activation,
        shared: bool,
        init: PgInit,
        log_std_init: f64,
        rng: &mut Rng,
    ) -> ActorCritic {
        let out = action.head_dim();
        let build = |params: &mut Params<f32>, name: &str, w: &[usize], rng: &mut Rng| {
            Mlp::new(params, name, w, activation, Init::TorchDefault, rng)
        };
        let (trunk, head_in) = match hidden.last() {
            Some(&last) if shared => {
                let mut w = vec![obs_dim];
                w.extend_from_slice(hidden);
                (Some(build(params, "trunk", &w, rng)), last)
            }
            _ => (None, obs_dim),
        };
        let widths = |o: usize| {
            let mut w = vec![head_in];
            if trunk.is_none() {
                w.extend_from_slice(hidden);
            }
            w.push(o);
            w
        };
        let actor = build(params, "pi", &widths(out), rng);
        let critic = build(params, "vf", &widths(1), rng);
        let log_std = match &action {
            ActionKind::Continuous { low, .. } => Some(params.insert(
                "log_std",
                ArrayD::from_elem(IxDyn(&[low.len()]), log_std_init as f32),
            )),
            ActionKind::Discrete(_) => None,
        };
        let net = ActorCritic {
            trunk,
            actor,
            critic,
            log_std,
            obs_dim,
            action,
        };
        if init == PgInit::Orthogonal {
            net.orthogonal_init(params, rng);
        }
        net
    }

    /// Orthogonal weights (gain √2 on hidden layers, 0.01 on the policy's last layer, 1 on
    /// the value's) and zero biases: small initial logits and means make the first policy
    /// nearly uniform (or centred), which is what makes Stable-Baselines3's tuned
    /// hyperparameters work.
    fn orthogonal_init(&self, params: &mut Params<f32>, rng: &mut Rng) {
        let hidden_gain = std::f64::consts::SQRT_2;
        let mut layers: Vec<(&autodidact_core::Linear, f64)> = Vec::new();
        if let Some(t) = &self.trunk {
            layers.extend(t.layers.iter().map(|l| (l, hidden_gain)));
        }
        for (mlp, last_gain) in [(&self.actor, 0.01), (&self.critic, 1.0)] {
            let n = mlp.layers.len();
            for (i, l) in mlp.layers.iter().enumerate() {
                layers.push((l, if i + 1 == n { last_gain } else { hidden_gain }));
            }
        }
        let tensors = params.tensors_mut();
        for (l, gain) in layers {
            tensors[l.weight] = orthogonal(l.in_dim, l.out_dim, gain, rng).into_dyn();
            if let Some(b) = l.bias {
                tensors[b].fill(0.0);
            }
        }
    }

    /// The heads of a batch `obs [B, obs_dim]` on the tape.
    pub fn forward<T: Float>(&self, p: &[Var<T>], obs: Var<T>) -> Heads<T> {
        let x = match &self.trunk {
            Some(t) => activate_var(t.activation, mlp_forward(t, p, obs)),
            None => obs,
        };
        let value = mlp_forward(&self.critic, p, x);
        let b = value.shape()[0];
        Heads {
            policy: mlp_forward(&self.actor, p, x),
            value: value.reshape(&[b]),
            log_std: self.log_std.map(|i| p[i]),
        }
    }

    /// Policy outputs `[B, head]` and values `[B]` of a batch, without a tape.
    pub fn act_values(
        &self,
        params: &Params<f32>,
        obs: ArrayView2<'_, f32>,
    ) -> Result<(Array2<f32>, Vec<f32>)> {
        let t = params.tensors();
        let x = match &self.trunk {
            Some(trunk) => {
                let mut h = plain_mlp(t, trunk, obs)?;
                activate_in_place(trunk.activation, &mut h);
                h
            }
            None => obs.to_owned(),
        };
        let pi = plain_mlp(t, &self.actor, x.view())?;
        let v = plain_mlp(t, &self.critic, x.view())?;
        Ok((pi, v.column(0).to_vec()))
    }

    /// The log standard deviation now (continuous actions), else empty.
    pub fn log_std_values(&self, params: &Params<f32>) -> Vec<f32> {
        self.log_std
            .map(|i| params.tensors()[i].iter().copied().collect())
            .unwrap_or_default()
    }
}

/// A `rows × cols` matrix with orthonormal columns (or rows, whichever are fewer), times
/// `gain`: Gram–Schmidt on a Gaussian matrix, with column signs fixed as in a QR with a
/// positive diagonal, so the draw is Haar-distributed.
pub fn orthogonal(rows: usize, cols: usize, gain: f64, rng: &mut Rng) -> Array2<f32> {
    let (tall, short) = (rows.max(cols), rows.min(cols));
    // `short` orthonormal vectors of length `tall`.
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(short);
    while q.len() < short {
        let mut v: Vec<f64> = (0..tall).map(|_| StandardNormal.sample(rng)).collect();
        for u in &q {
            let d: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= d * b);
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        // A draw in the span of the others has probability 0; drawing again keeps it exact.
        if norm > 1e-10 {
            q.push(v.into_iter().map(|a| a / norm).collect());
        }
    }
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        let x = if rows >= cols { q[j][i] } else { q[i][j] };
        (gain * x) as f32
    })
}

/// An MLP on the tape, with this module's activations (core's `Mlp::forward` with the faster
/// tanh).
pub(crate) fn mlp_forward<T: Float>(mlp: &Mlp, p: &[Var<T>], x: Var<T>) -> Var<T> {
    let n = mlp.layers.len();
    mlp.layers.iter().enumerate().fold(x, |h, (i, l)| {
        let y = l.forward(p, h);
        if i + 1 < n {
            activate_var(mlp.activation, y)
        } else {
            y
        }
    })
}

/// An MLP without a tape: `x W + b` with a GEMM, activation between layers.
pub(crate) fn plain_mlp(
    t: &[Tensor<f32>],
    mlp: &Mlp,
    x: ArrayView2<'_, f32>,
) -> Result<Array2<f32>> {
    let mut h = x.to_owned();
    let n = mlp.layers.len();
    for (i, l) in mlp.layers.iter().enumerate() {
        let w = t[l.weight]
            .view()
            .into_dimensionality::<Ix2>()
            .map_err(|e| RlError::Numerical(format!("a policy weight is not a matrix: {e}")))?;
        let mut out = Array2::<f32>::zeros((h.nrows(), l.out_dim));
        general_mat_mul(1.0, &h, &w, 0.0, &mut out);
        if let Some(b) = l.bias {
            let b = t[b].view();
            for mut row in out.rows_mut() {
                row.zip_mut_with(&b, |o, &bb| *o += bb);
            }
        }
        if i + 1 < n {
            activate_in_place(mlp.activation, &mut out);
        }
        h = out;
    }
    Ok(h)
}
