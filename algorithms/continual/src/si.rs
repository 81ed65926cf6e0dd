//! Synaptic Intelligence (Zenke, Poole and Ganguli 2017).
//!
//! During an experience each parameter accumulates its contribution to the drop in loss,
//! `ωₖ += −gₖ Δθₖ` at every update (g: the gradient of the task loss alone). At the end,
//! `Ωₖ += max(0, ωₖ / ((θₖ − θₖ^start)² + ξ))` (floored at 0: an adaptive optimiser's step
//! need not follow −g), ω is reset and θ* anchored. The penalty is `c · Σₖ Ωₖ (θₖ − θ*ₖ)²`.

use autodidact_core::{Params, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::errors::Result;
use crate::strategy::{weighted_sq_distance, Context, PenaltyInput, Strategy};

/// SI's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SiState {
    /// Running path integral ω of the current experience.
    pub omega: Vec<Tensor<f32>>,
    /// Consolidated importance Ω.
    pub importance: Vec<Tensor<f32>>,
    /// θ at the start of the current experience.
    pub start: Vec<Tensor<f32>>,
    /// θ* (the parameters after the last experience); empty before the first.
    pub anchor: Vec<Tensor<f32>>,
}

/// Synaptic Intelligence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Si {
    /// Penalty strength c.
    pub lambda: f64,
    /// Damping ξ.
    pub epsilon: f64,
    /// The state.
    pub state: SiState,
}

impl Si {
    /// SI with no importance yet.
    pub fn new(lambda: f64, epsilon: f64) -> Si {
        Si {
            lambda,
            epsilon,
            state: SiState::default(),
        }
    }
}

impl Strategy for Si {
    fn name(&self) -> &'static str {
        "si"
    }

    fn before_experience(&mut self, ctx: &mut Context<'_, '_>) -> Result<()> {
        let p = ctx.params;
        self.state.start = p.tensors().to_vec();
        self.state.omega = p.zeros_like();
        if self.state.importance.len() != p.len() {
            self.state.importance = p.zeros_like();
        }
        Ok(())
    }

    fn tracks_updates(&self) -> bool {
        true
    }

    fn after_update(
        &mut self,
        before: &Params<f32>,
        after: &Params<f32>,
        task_grads: &[Tensor<f32>],
    ) {
        for (((w, b), a), g) in self
            .state
            .omega
            .iter_mut()
            .zip(before.tensors())
            .zip(after.tensors())
            .zip(task_grads)
        {
            ndarray::Zip::from(w)
                .and(b)
                .and(a)
                .and(g)
                .for_each(|w, &b, &a, &g| *w -= g * (a - b));
        }
    }

    fn after_experience(&mut self, ctx: &mut Context<'_, '_>) -> Result<()> {
        let xi = self.epsilon as f32;
        let st = &mut self.state;
        for (((imp, w), s), p) in st
            .importance
            .iter_mut()
            .zip(&st.omega)
            .zip(&st.start)
            .zip(ctx.params.tensors())
        {
            ndarray::Zip::from(imp)
                .and(w)
                .and(s)
                .and(p)
                .for_each(|imp, &w, &s, &p| {
                    let d = p - s;
                    *imp += (w / (d * d + xi)).max(0.0);
                });
        }
        st.omega = ctx.params.zeros_like();
        st.anchor = ctx.params.tensors().to_vec();
        Ok(())
    }

    fn penalty(&self, input: &PenaltyInput<'_, '_>) -> Option<Var<f32>> {
        if self.state.anchor.is_empty() || self.lambda == 0.0 {
            return None;
        }
        Some(
            weighted_sq_distance(input.vars, &self.state.importance, &self.state.anchor)
                * self.lambda,
        )
    }

    fn save_state(&self) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(&self.state)?)
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        self.state = serde_json::from_value(state)?;
        Ok(())
    }
}
