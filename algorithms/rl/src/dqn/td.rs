//! The temporal-difference computations on a block of replay rows: the gradient of the TD
//! loss (on the tape), and the bootstrap values `max_a' Q⁻(s', a')` (no tape).

use autodidact_core::{argmax_slice, optim, CreateGraph, Params, Tape, Tensor, Var};
use ndarray::{Array1, Array2, ArrayView2};

use super::network::QNetwork;
use crate::errors::Result;

/// The TD loss of one row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TdLoss {
    /// Huber with threshold δ.
    Huber(f64),
    /// Squared error.
    Mse,
}

/// The gradient of a block of rows' share of the TD loss, and what is logged with it.
#[derive(Clone, Debug, PartialEq)]
pub struct TdGradient {
    /// Gradients of the block's share of the loss, in the store's order.
    pub grads: Vec<Tensor<f32>>,
    /// The block's share of the loss.
    pub loss: f64,
    /// TD errors `Q(s,a) − y` of the block's rows.
    pub td: Vec<f32>,
    /// Sum of `Q(s,a)` over the block's rows.
    pub q_sum: f64,
}

/// The rows of a minibatch a TD gradient is taken on.
#[derive(Clone, Copy, Debug)]
pub struct TdRows<'a> {
    /// Observations, one row each.
    pub obs: ArrayView2<'a, f32>,
    /// Actions taken.
    pub actions: &'a [usize],
    /// TD targets `y`.
    pub targets: &'a [f32],
    /// Importance weights (prioritised replay).
    pub weights: Option<&'a [f32]>,
}

/// The gradient of `scale · Σ_rows w · L(Q(s,a) − y)`: with `scale = 1 / B` for the whole
/// minibatch, blocks' shares add up to the (weighted) mean TD loss.
pub fn td_gradient(
    net: &QNetwork,
    params: &Params<f32>,
    rows: TdRows<'_>,
    scale: f64,
    loss: TdLoss,
) -> TdGradient {
    let tape = Tape::<f32>::new();
    let p = tape.params(params);
    let q = net
        .forward(&p, Var::constant(rows.obs.to_owned().into_dyn()))
        .gather(rows.actions);
    let y = Var::constant(Array1::from(rows.targets.to_vec()).into_dyn());
    let d = q - y;
    let elem = match loss {
        TdLoss::Huber(delta) => {
            let dt = delta as f32;
            let mask = d.with_value(|v| v.mapv(|x| if x.abs() <= dt { 1.0 } else { 0.0 }));
            Var::where_mask(mask, d.square() * 0.5, (d.abs() - 0.5 * delta) * delta)
        }
        TdLoss::Mse => d.square(),
    };
    let weighted = match rows.weights {
        Some(w) => elem * Var::constant(Array1::from(w.to_vec()).into_dyn()),
        None => elem,
    };
    let total = weighted.sum() * scale;
    let grads = optim::values(&tape.grad(&total, &p, CreateGraph::No));
    TdGradient {
        grads,
        loss: total.item(),
        td: d.with_value(|v| v.iter().copied().collect()),
        q_sum: q.with_value(|v| v.iter().map(|&x| f64::from(x)).sum()),
    }
}

/// `max_a' Q⁻(s', a')` of every row of `next_obs`, or with `online` Double DQN's
/// `Q⁻(s', argmax_a' Q(s', a'))`, in one pass.
pub fn bootstrap_values(
    net: &QNetwork,
    target: &Params<f32>,
    online: Option<&Params<f32>>,
    next_obs: ArrayView2<'_, f32>,
) -> Result<Vec<f32>> {
    let qt = net.q_values(target, next_obs)?;
    Ok(match online {
        Some(o) => {
            let qo: Array2<f32> = net.q_values(o, next_obs)?;
            qo.rows()
                .into_iter()
                .zip(qt.rows())
                .map(|(ro, rt)| {
                    let best = match ro.as_slice() {
                        Some(s) => argmax_slice(s),
                        None => argmax_slice(&ro.to_vec()),
                    };
                    rt[best]
                })
                .collect()
        }
        None => qt
            .rows()
            .into_iter()
            .map(|r| r.iter().copied().fold(f32::NEG_INFINITY, f32::max))
            .collect(),
    })
}
