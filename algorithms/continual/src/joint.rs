//! Joint training, the upper bound: each experience's epochs run over the training data of
//! every experience seen so far (cumulative training).
//!
//! Online (one example per step, each once), the i.i.d. upper bound over the same examples:
//! each incoming example is trained together with a uniform sample of *every* example seen so
//! far, from an unbounded memory, so each update's gradient is an unbiased estimate of the
//! loss on everything seen — as i.i.d. as a single pass over the stream's examples can be,
//! with the same number of updates as every other strategy.

use autodidact_core::Rng;
use serde::{Deserialize, Serialize};

use crate::data::Batch;
use crate::errors::Result;
use crate::replay::{Buffer, Policy};
use crate::strategy::Strategy;

/// Joint (cumulative) training.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Joint {
    /// Online: every example seen so far.
    pub seen: Option<Buffer>,
}

impl Joint {
    /// Joint training for the online protocol (an unbounded memory of the stream).
    pub fn online() -> Joint {
        Joint {
            seen: Some(Buffer::new(usize::MAX, Policy::Reservoir)),
        }
    }
}

impl Strategy for Joint {
    fn name(&self) -> &'static str {
        "joint"
    }
    fn training_experiences(&self, current: usize) -> Vec<usize> {
        (0..=current).collect()
    }
    fn replay(&mut self, n: usize, rng: &mut Rng) -> Option<Batch> {
        self.seen
            .as_ref()
            .filter(|b| !b.is_empty())
            .map(|b| b.sample(n, rng))
    }
    fn after_example(&mut self, example: &Batch, rng: &mut Rng) {
        if let Some(b) = self.seen.as_mut() {
            b.add_all(example, rng);
        }
    }
    fn save_state(&self) -> Result<serde_json::Value> {
        Ok(match &self.seen {
            Some(b) => serde_json::to_value(b)?,
            None => serde_json::Value::Null,
        })
    }
    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        if !state.is_null() {
            self.seen = Some(serde_json::from_value(state)?);
        }
        Ok(())
    }
}
