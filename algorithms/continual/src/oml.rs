//! Online-aware Meta-Learning (Javed and White 2019): a representation network (RLN, θ)
//! under a prediction network (PLN, W). At meta-test the RLN is frozen and the PLN learns
//! online, one SGD step per example; meta-training makes that work:
//!
//! 1. sample a trajectory of a few new classes from the training classes, class after class;
//! 2. from W₀ = W (the trajectory classes' output weights reset to zero, so each meta-step
//!    learns them afresh, as meta-test will), one SGD step per example on the PLN only:
//!    W_j = W_{j−1} − α ∇_W ℓ(PLN(W_{j−1}, RLN(θ, x_j)), y_j);
//! 3. the meta-loss is ℓ of (θ, W_k) on the trajectory and a "remember" batch drawn from all
//!    training classes; its gradient with respect to θ and W runs back through every inner
//!    step (second order: the inner gradients are recorded, `CreateGraph::Yes`).
//!
//! The RLN's features of the trajectory are computed once (the RLN does not change in the
//! inner loop), so the inner loop's graph is only the PLN's. Everything here is generic over
//! the element type, so the tests check it in `f64` (`check_meta_gradient`; the closed form
//! on linear regression through two online steps).

use autodidact_core::layers::{Activation, Init, Linear};
use autodidact_core::Choice;
use autodidact_core::{cross_entropy, grad, CreateGraph, Float, Params, Rng, Tensor, Var};
use ndarray::{Array1, Axis};
use serde::{Deserialize, Serialize};

/// The RLN and the PLN, as indices into one parameter store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OmlNet {
    /// The representation's layers, each followed by the activation.
    pub rln: Vec<Linear>,
    /// The prediction network's hidden layers, each followed by the activation.
    pub pln: Vec<Linear>,
    /// The output layer (last of the PLN).
    pub head: Linear,
    /// The hidden activation.
    pub activation: Activation,
}

impl OmlNet {
    /// An RLN `input → rln…` and a PLN `→ pln… → outputs`, added to `params` (`rln.i`,
    /// `pln.i`, `head`; Kaiming-uniform hidden layers, Xavier-uniform head).
    pub fn build<T: Float>(
        input: usize,
        rln: &[usize],
        pln: &[usize],
        outputs: usize,
        activation: Activation,
        params: &mut Params<T>,
        rng: &mut Rng,
    ) -> OmlNet {
        let mut d = input;
        let mut layer = |name: String, out: usize, d: &mut usize| {
            let l = Linear::new(params, &name, *d, out, true, Init::KaimingUniform, rng);
            *d = out;
            l
        };
        let rln: Vec<Linear> = rln
            .iter()
            .enumerate()
            .map(|(i, &w)| layer(format!("rln.{i}"), w, &mut d))
            .collect();
        let pln: Vec<Linear> = pln
            .iter()
            .enumerate()
            .map(|(i, &w)| layer(format!("pln.{i}"), w, &mut d))
            .collect();
        let head = Linear::new(params, "head", d, outputs, true, Init::XavierUniform, rng);
        OmlNet {
            rln,
            pln,
            head,
            activation,
        }
    }

    /// Width of the representation.
    pub fn feature_dim(&self) -> usize {
        self.pln
            .first()
            .map(|l| l.in_dim)
            .unwrap_or(self.head.in_dim)
    }

    /// Indices of the PLN's parameters (hidden layers and head), the ones the inner loop
    /// adapts.
    pub fn pln_indices(&self) -> Vec<usize> {
        self.pln
            .iter()
            .chain([&self.head])
            .flat_map(|l| [Some(l.weight), l.bias])
            .flatten()
            .collect()
    }

    /// Indices of the RLN's parameters.
    pub fn rln_indices(&self) -> Vec<usize> {
        self.rln
            .iter()
            .flat_map(|l| [Some(l.weight), l.bias])
            .flatten()
            .collect()
    }

    /// RLN(θ, x): the representation of a batch `[n, input]`.
    pub fn features<T: Float>(&self, p: &[Var<T>], x: Var<T>) -> Var<T> {
        self.rln
            .iter()
            .fold(x, |h, l| self.activation.apply(l.forward(p, h)))
    }

    /// PLN(W, h): the outputs on a representation `[n, feature_dim]`.
    pub fn predict<T: Float>(&self, p: &[Var<T>], h: Var<T>) -> Var<T> {
        let h = self
            .pln
            .iter()
            .fold(h, |h, l| self.activation.apply(l.forward(p, h)));
        self.head.forward(p, h)
    }

    /// The parameters with the output weights (and biases) of `classes` multiplied by zero:
    /// the trajectory's classes start from nothing, as new classes do at meta-test.
    pub fn reset_classes<T: Float>(&self, p: &[Var<T>], classes: &[usize]) -> Vec<Var<T>> {
        let mut out = p.to_vec();
        let n = self.head.out_dim;
        let keep: Vec<T> = (0..n)
            .map(|c| {
                if classes.contains(&c) {
                    T::zero()
                } else {
                    T::one()
                }
            })
            .collect();
        let keep: Tensor<T> = Array1::from(keep).into_dyn();
        let w = self.head.weight;
        let row = keep.clone().insert_axis(Axis(0));
        out[w] = p[w] * Var::constant(row);
        if let Some(b) = self.head.bias {
            out[b] = p[b] * Var::constant(keep);
        }
        out
    }
}

/// Which output weights a meta-training step zeroes before its inner loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
pub enum HeadReset {
    /// None: the inner loop starts from the meta-learnt output layer.
    None,
    /// The trajectory's classes only (Javed and White's form).
    Trajectory,
    /// Every class: the inner loop starts, as the meta-test stream does, from a zero output
    /// layer, so the meta-loss sees the interference of learning from nothing.
    All,
}

impl HeadReset {
    /// The classes whose outputs this reset zeroes, for a trajectory labelled `traj_y` and
    /// `outputs` classes.
    pub fn classes(self, traj_y: &[usize], outputs: usize) -> Vec<usize> {
        match self {
            HeadReset::None => Vec::new(),
            HeadReset::Trajectory => {
                let mut c = traj_y.to_vec();
                c.sort_unstable();
                c.dedup();
                c
            }
            HeadReset::All => (0..outputs).collect(),
        }
    }
}

/// The online inner loop: from the parameters `p`, one SGD step of size `alpha` on the PLN per
/// row of the representation `h` (in order), on `loss(PLN output of row j, j)`. With
/// [`CreateGraph::Yes`] the returned weights are differentiable functions of `p` (RLN and PLN)
/// through every step.
pub fn inner_trajectory<T: Float>(
    net: &OmlNet,
    p: &[Var<T>],
    h: Var<T>,
    alpha: f64,
    create: CreateGraph,
    loss: impl Fn(Var<T>, usize) -> Var<T>,
) -> Vec<Var<T>> {
    let rows = h.shape().first().copied().unwrap_or(0);
    let idx = net.pln_indices();
    let mut fast = p.to_vec();
    for j in 0..rows {
        let l = loss(net.predict(&fast, h.narrow(0, j, 1)), j);
        let wrt: Vec<Var<T>> = idx.iter().map(|&i| fast[i]).collect();
        let g = grad(&[l], &wrt, create);
        for (gi, &i) in g.iter().zip(&idx) {
            fast[i] = fast[i] - *gi * alpha;
        }
    }
    fast
}

/// OML's meta-loss on one trajectory: zero the outputs `reset` names, run
/// the inner loop on the trajectory `(traj_x, traj_y)`, then the cross-entropy of the adapted
/// network on `(eval_x, eval_y)` (the trajectory and the remember batch).
#[allow(clippy::too_many_arguments)]
pub fn oml_meta_loss<T: Float>(
    net: &OmlNet,
    p: &[Var<T>],
    traj_x: Var<T>,
    traj_y: &[usize],
    eval_x: Var<T>,
    eval_y: &[usize],
    alpha: f64,
    reset: HeadReset,
    create: CreateGraph,
) -> Var<T> {
    let classes = reset.classes(traj_y, net.head.out_dim);
    let start = if classes.is_empty() {
        p.to_vec()
    } else {
        net.reset_classes(p, &classes)
    };
    let h = net.features(&start, traj_x);
    let fast = inner_trajectory(net, &start, h, alpha, create, |out, j| {
        cross_entropy(out, &traj_y[j..j + 1])
    });
    let he = net.features(&fast, eval_x);
    cross_entropy(net.predict(&fast, he), eval_y)
}
