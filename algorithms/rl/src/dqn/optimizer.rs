//! The Q-network's optimiser. Adam is implemented here on contiguous slices (the same
//! update as core's `Adam` and PyTorch's: bias-corrected moments, `ε` added to
//! `√v̂`), because core's element-wise `Zip` over dynamic-rank arrays does not vectorise and
//! took 40 % of a DQN gradient step, and because moments must be kept out of the subnormal
//! range (see [`TINY`]); RMSprop and SGD are core's.

use autodidact_core::{Optimizer, Params, RmsProp, Sgd, Tensor};
use serde::{Deserialize, Serialize};

use crate::errors::Result;

/// Moments smaller than this are stored as 0 (see [`SliceAdam::step`]).
pub const TINY: f32 = 1e-30;

/// Adam over a parameter store, state kept as flat vectors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SliceAdam {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay β₁.
    pub beta1: f64,
    /// Second-moment decay β₂.
    pub beta2: f64,
    /// Denominator floor ε.
    pub eps: f64,
    t: u64,
    #[serde(with = "vec_bits")]
    m: Vec<Vec<f32>>,
    #[serde(with = "vec_bits")]
    v: Vec<Vec<f32>>,
}

mod vec_bits {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[Vec<f32>], s: S) -> Result<S::Ok, S::Error> {
        let bits: Vec<Vec<u32>> = v
            .iter()
            .map(|x| x.iter().map(|f| f.to_bits()).collect())
            .collect();
        bits.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f32>>, D::Error> {
        let bits = Vec::<Vec<u32>>::deserialize(d)?;
        Ok(bits
            .into_iter()
            .map(|x| x.into_iter().map(f32::from_bits).collect())
            .collect())
    }
}

impl SliceAdam {
    /// Adam with β = (0.9, 0.999).
    pub fn new(lr: f64, eps: f64) -> SliceAdam {
        SliceAdam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// One update of `params` with `grads` (in the store's order).
    pub fn step(&mut self, params: &mut Params<f32>, grads: &[Tensor<f32>]) -> Result<()> {
        if grads.len() != params.len() {
            return Err(crate::errors::RlError::Numerical(format!(
                "{} gradients for {} parameters",
                grads.len(),
                params.len()
            )));
        }
        if self.m.len() != grads.len() {
            self.m = params
                .tensors()
                .iter()
                .map(|t| vec![0.0; t.len()])
                .collect();
            self.v = self.m.clone();
        }
        self.t += 1;
        let t = self.t as i32;
        let c1 = 1.0 - self.beta1.powi(t);
        let c2 = 1.0 - self.beta2.powi(t);
        let step = (self.lr / c1) as f32;
        let inv_c2s = (1.0 / c2.sqrt()) as f32;
        let (b1, b2, eps) = (self.beta1 as f32, self.beta2 as f32, self.eps as f32);
        for (((p, g), m), v) in params
            .tensors_mut()
            .iter_mut()
            .zip(grads)
            .zip(self.m.iter_mut())
            .zip(self.v.iter_mut())
        {
            let g_owned;
            let gs: &[f32] = match g.as_slice() {
                Some(s) => s,
                None => {
                    g_owned = g.iter().copied().collect::<Vec<f32>>();
                    &g_owned
                }
            };
            // Moments below TINY are flushed to 0: left alone they decay into subnormal
            // floats, on which x86 multiplies and square roots take microcode assists
            // (this made the whole step ten times slower). Their share of an update is
            // below lr · 1e-22.
            let update = |w: &mut f32, g: f32, m: &mut f32, v: &mut f32| {
                let mn = b1 * *m + (1.0 - b1) * g;
                let vn = b2 * *v + (1.0 - b2) * g * g;
                *m = if mn.abs() < TINY { 0.0 } else { mn };
                *v = if vn < TINY { 0.0 } else { vn };
                *w -= step * *m / (v.sqrt() * inv_c2s + eps);
            };
            match p.as_slice_mut() {
                Some(ws) => {
                    for (((w, &g), m), v) in
                        ws.iter_mut().zip(gs).zip(m.iter_mut()).zip(v.iter_mut())
                    {
                        update(w, g, m, v);
                    }
                }
                None => {
                    for (((w, &g), m), v) in
                        p.iter_mut().zip(gs).zip(m.iter_mut()).zip(v.iter_mut())
                    {
                        update(w, g, m, v);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The optimiser chosen by `optimizer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DqnOptimizer {
    /// Adam.
    Adam(SliceAdam),
    /// RMSprop (core's).
    RmsProp(RmsProp<f32>),
    /// SGD (core's).
    Sgd(Sgd<f32>),
}

impl DqnOptimizer {
    /// The optimiser by name: `adam`, `rmsprop` or `sgd`.
    pub fn by_name(name: &str, lr: f64, eps: f64) -> DqnOptimizer {
        match name {
            "rmsprop" => {
                let mut r = RmsProp::new(lr);
                r.eps = eps;
                DqnOptimizer::RmsProp(r)
            }
            "sgd" => DqnOptimizer::Sgd(Sgd::new(lr)),
            _ => DqnOptimizer::Adam(SliceAdam::new(lr, eps)),
        }
    }

    /// Sets the step size.
    pub fn set_lr(&mut self, lr: f64) {
        match self {
            DqnOptimizer::Adam(a) => a.lr = lr,
            DqnOptimizer::RmsProp(r) => r.set_lr(lr),
            DqnOptimizer::Sgd(s) => s.set_lr(lr),
        }
    }

    /// One update.
    pub fn step(&mut self, params: &mut Params<f32>, grads: &[Tensor<f32>]) -> Result<()> {
        match self {
            DqnOptimizer::Adam(a) => a.step(params, grads),
            DqnOptimizer::RmsProp(r) => Ok(r.step(params, grads)?),
            DqnOptimizer::Sgd(s) => Ok(s.step(params, grads)?),
        }
    }
}
