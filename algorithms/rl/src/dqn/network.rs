//! The Q-network: an MLP from observations to one value per action, with an optional
//! dueling head `Q(s, a) = V(s) + A(s, a) − mean_a' A(s, a')` (Wang et al., 2016).
//!
//! Two forward passes share the parameters: [`QNetwork::forward`] records on the tape (for
//! the TD loss), [`QNetwork::q_values`] computes plain values with no tape (acting, targets,
//! evaluation), which is what needs no gradient and runs most often.

use autodidact_core::{Activation, Init, Linear, Mlp, Params, Rng, Tensor, Var};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, Ix2};
use serde::{Deserialize, Serialize};

use crate::errors::{Result, RlError};

/// A Q-network's layers (indices into a [`Params`] store).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QNetwork {
    /// `[obs_dim, hidden…, n_actions]`; with a dueling head its last layer is the advantage.
    pub mlp: Mlp,
    /// The dueling head's state value `V(s)`.
    pub value_head: Option<Linear>,
    /// Floats per observation.
    pub obs_dim: usize,
    /// Number of actions.
    pub n_actions: usize,
}

#[inline]
fn activate(a: Activation, x: f32) -> f32 {
    match a {
        Activation::Relu => x.max(0.0),
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => {
            if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                let e = x.exp();
                e / (1.0 + e)
            }
        }
        Activation::LeakyRelu => {
            if x > 0.0 {
                x
            } else {
                0.01 * x
            }
        }
        Activation::Elu => {
            if x > 0.0 {
                x
            } else {
                x.exp() - 1.0
            }
        }
        Activation::Identity => x,
    }
}

impl QNetwork {
    /// Adds a Q-network's parameters to `params` (`q.0`, `q.1`, …, and `q.value` when
    /// dueling).
    pub fn new(
        params: &mut Params<f32>,
        obs_dim: usize,
        hidden: &[usize],
        n_actions: usize,
        dueling: bool,
        activation: Activation,
        init: Init,
        rng: &mut Rng,
    ) -> QNetwork {
        let mut widths = vec![obs_dim];
        widths.extend_from_slice(hidden);
        widths.push(n_actions);
        let mlp = Mlp::new(params, "q", &widths, activation, init, rng);
        let feat = widths[widths.len() - 2];
        let value_head = dueling.then(|| Linear::new(params, "q.value", feat, 1, true, init, rng));
        QNetwork {
            mlp,
            value_head,
            obs_dim,
            n_actions,
        }
    }

    /// Q-values of a batch `x [B, obs_dim]` on the tape: `[B, n_actions]`.
    pub fn forward(&self, p: &[Var<f32>], x: Var<f32>) -> Var<f32> {
        match &self.value_head {
            None => self.mlp.forward(p, x),
            Some(vh) => {
                let h = self.mlp.features(p, x);
                let adv = match self.mlp.layers.last() {
                    Some(l) => l.forward(p, h),
                    None => h,
                };
                let v = vh.forward(p, h);
                v + adv - adv.mean_axes(&[1], true)
            }
        }
    }

    /// Q-values of a batch `x [B, obs_dim]` without a tape: `[B, n_actions]`.
    pub fn q_values(&self, params: &Params<f32>, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let t = params.tensors();
        let n = self.mlp.layers.len();
        let mut h = x.to_owned();
        for l in &self.mlp.layers[..n.saturating_sub(1)] {
            h = linear(t, l, h.view())?;
            let a = self.mlp.activation;
            h.mapv_inplace(|v| activate(a, v));
        }
        let Some(last) = self.mlp.layers.last() else {
            return Ok(h);
        };
        let adv = linear(t, last, h.view())?;
        match &self.value_head {
            None => Ok(adv),
            Some(vh) => {
                let v = linear(t, vh, h.view())?;
                let na = adv.ncols() as f32;
                let mut q = adv;
                for (mut row, vv) in q.rows_mut().into_iter().zip(v.column(0)) {
                    let mean = row.sum() / na;
                    row.mapv_inplace(|a| (vv + a) - mean);
                }
                Ok(q)
            }
        }
    }

    /// Q-values of one observation without a tape (a plain loop, no GEMM packing).
    pub fn q_values_one(&self, params: &Params<f32>, x: &[f32]) -> Result<Vec<f32>> {
        let t = params.tensors();
        let n = self.mlp.layers.len();
        let mut h = x.to_vec();
        for l in &self.mlp.layers[..n.saturating_sub(1)] {
            h = linear_one(t, l, &h)?;
            let a = self.mlp.activation;
            h.iter_mut().for_each(|v| *v = activate(a, *v));
        }
        let Some(last) = self.mlp.layers.last() else {
            return Ok(h);
        };
        let adv = linear_one(t, last, &h)?;
        match &self.value_head {
            None => Ok(adv),
            Some(vh) => {
                let v = linear_one(t, vh, &h)?[0];
                let mean = adv.iter().sum::<f32>() / adv.len() as f32;
                Ok(adv.iter().map(|&a| (v + a) - mean).collect())
            }
        }
    }
}

fn weight<'a>(t: &'a [Tensor<f32>], l: &Linear) -> Result<ArrayView2<'a, f32>> {
    t[l.weight]
        .view()
        .into_dimensionality::<Ix2>()
        .map_err(|e| RlError::Numerical(format!("a Q-network weight is not a matrix: {e}")))
}

/// `x W + b` with a GEMM.
fn linear(t: &[Tensor<f32>], l: &Linear, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
    let w = weight(t, l)?;
    let mut out = Array2::<f32>::zeros((x.nrows(), l.out_dim));
    general_mat_mul(1.0, &x, &w, 0.0, &mut out);
    if let Some(b) = l.bias {
        let b = t[b].view();
        for mut row in out.rows_mut() {
            row.zip_mut_with(&b, |o, &bb| *o += bb);
        }
    }
    Ok(out)
}

/// `x W + b` for one row: accumulates the weight rows of the nonzero inputs.
fn linear_one(t: &[Tensor<f32>], l: &Linear, x: &[f32]) -> Result<Vec<f32>> {
    let w = weight(t, l)?;
    let mut out = vec![0.0f32; l.out_dim];
    match w.as_slice() {
        Some(ws) => {
            for (i, &xi) in x.iter().enumerate() {
                if xi == 0.0 {
                    continue;
                }
                let row = &ws[i * l.out_dim..(i + 1) * l.out_dim];
                for (o, &wij) in out.iter_mut().zip(row) {
                    *o += xi * wij;
                }
            }
        }
        None => {
            for (i, &xi) in x.iter().enumerate() {
                for (o, &wij) in out.iter_mut().zip(w.row(i)) {
                    *o += xi * wij;
                }
            }
        }
    }
    if let Some(b) = l.bias {
        for (o, &bb) in out.iter_mut().zip(t[b].iter()) {
            *o += bb;
        }
    }
    Ok(out)
}
