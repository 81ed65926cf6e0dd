//! Naive fine-tuning: train on each experience in turn with nothing against forgetting (the
//! lower bound).

use serde::{Deserialize, Serialize};

use crate::errors::Result;
use crate::strategy::Strategy;

/// Naive fine-tuning.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Naive;

impl Strategy for Naive {
    fn name(&self) -> &'static str {
        "naive"
    }
    fn save_state(&self) -> Result<serde_json::Value> {
        Ok(serde_json::Value::Null)
    }
    fn load_state(&mut self, _state: serde_json::Value) -> Result<()> {
        Ok(())
    }
}
