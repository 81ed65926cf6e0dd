//! The Q-network's optimiser, chosen by name among core's: one enum rather than a boxed trait
//! object so that its state goes into the checkpoint as it is.

use super::hyperparams::DqnOptimizerKind;
use autodidact_core::{Adam, Optimizer, Params, RmsProp, Sgd, Tensor};
use serde::{Deserialize, Serialize};

/// The optimiser chosen by `optimizer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DqnOptimizer {
    /// Adam (core's).
    Adam(Adam<f32>),
    /// RMSprop (core's).
    RmsProp(RmsProp<f32>),
    /// SGD (core's).
    Sgd(Sgd<f32>),
}

impl DqnOptimizer {
    /// The optimiser by name: `adam`, `rmsprop` or `sgd`; `eps` is Adam's and RMSprop's
    /// denominator floor.
    pub fn new(kind: DqnOptimizerKind, lr: f64, eps: f64) -> DqnOptimizer {
        match kind {
            DqnOptimizerKind::Rmsprop => {
                let mut r = RmsProp::new(lr);
                r.eps = eps;
                DqnOptimizer::RmsProp(r)
            }
            DqnOptimizerKind::Sgd => DqnOptimizer::Sgd(Sgd::new(lr)),
            DqnOptimizerKind::Adam => {
                let mut a = Adam::new(lr);
                a.eps = eps;
                DqnOptimizer::Adam(a)
            }
        }
    }

    fn inner(&mut self) -> &mut dyn Optimizer<f32> {
        match self {
            DqnOptimizer::Adam(a) => a,
            DqnOptimizer::RmsProp(r) => r,
            DqnOptimizer::Sgd(s) => s,
        }
    }
}

impl Optimizer<f32> for DqnOptimizer {
    fn step(
        &mut self,
        params: &mut Params<f32>,
        grads: &[Tensor<f32>],
    ) -> autodidact_core::Result<()> {
        self.inner().step(params, grads)
    }
    fn lr(&self) -> f64 {
        match self {
            DqnOptimizer::Adam(a) => a.lr(),
            DqnOptimizer::RmsProp(r) => r.lr(),
            DqnOptimizer::Sgd(s) => s.lr(),
        }
    }
    fn set_lr(&mut self, lr: f64) {
        self.inner().set_lr(lr);
    }
}
