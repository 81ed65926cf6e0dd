//! Joint training: each experience's epochs run over the training data of every experience
//! seen so far (the cumulative upper bound).

use serde::{Deserialize, Serialize};

use crate::errors::Result;
use crate::strategy::Strategy;

/// Joint (cumulative) training.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Joint;

impl Strategy for Joint {
    fn name(&self) -> &'static str {
        "joint"
    }
    fn training_experiences(&self, current: usize) -> Vec<usize> {
        (0..=current).collect()
    }
    fn save_state(&self) -> Result<serde_json::Value> {
        Ok(serde_json::Value::Null)
    }
    fn load_state(&mut self, _state: serde_json::Value) -> Result<()> {
        Ok(())
    }
}
