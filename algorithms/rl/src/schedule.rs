//! Schedules of ε (exploration) and other annealed values, as functions of training progress.
//!
//! Progress is `steps_done / total_steps` in `0 ..= 1`. A schedule is pure, so a resumed run
//! recomputes the same values; it is stored in checkpoints all the same, so a checkpoint
//! says which schedule produced it.

use serde::{Deserialize, Serialize};

use crate::errors::{Result, RlError};
use crate::hyperparams::ScheduleKind;

/// A value annealed over training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// Always the same value.
    Constant(f64),
    /// From `start` to `end` linearly over the first `fraction` of training, then `end`
    /// (Stable-Baselines3's `get_linear_fn`).
    Linear {
        /// Value at progress 0.
        start: f64,
        /// Value from progress `fraction` on.
        end: f64,
        /// Share of training the decay takes, in `(0, 1]`.
        fraction: f64,
    },
    /// From `start` to `end` geometrically over the first `fraction` of training, then `end`
    /// (`start · (end/start)^(progress/fraction)`; both must be positive).
    Exponential {
        /// Value at progress 0.
        start: f64,
        /// Value from progress `fraction` on.
        end: f64,
        /// Share of training the decay takes, in `(0, 1]`.
        fraction: f64,
    },
}

impl Schedule {
    /// A schedule by name: `linear`, `exponential` or `constant` (which takes `start`).
    pub fn new(name: ScheduleKind, start: f64, end: f64, fraction: f64) -> Result<Schedule> {
        match name {
            ScheduleKind::Linear => Ok(Schedule::Linear {
                start,
                end,
                fraction,
            }),
            ScheduleKind::Exponential if start > 0.0 && end > 0.0 => Ok(Schedule::Exponential {
                start,
                end,
                fraction,
            }),
            ScheduleKind::Exponential => Err(RlError::Config {
                key: "epsilon_schedule".into(),
                reason: format!(
                    "an exponential schedule needs positive ends, got {start} and {end}"
                ),
            }),
            ScheduleKind::Constant => Ok(Schedule::Constant(start)),
        }
    }

    /// The value at `progress` (clamped to `0 ..= 1`).
    pub fn value(&self, progress: f64) -> f64 {
        let p = progress.clamp(0.0, 1.0);
        match *self {
            Schedule::Constant(v) => v,
            Schedule::Linear {
                start,
                end,
                fraction,
            } => {
                if p > fraction {
                    end
                } else {
                    start + p * (end - start) / fraction
                }
            }
            Schedule::Exponential {
                start,
                end,
                fraction,
            } => {
                if p > fraction {
                    end
                } else {
                    start * (end / start).powf(p / fraction)
                }
            }
        }
    }

    /// The value after `steps` of `total` steps.
    pub fn at(&self, steps: u64, total: u64) -> f64 {
        self.value(steps as f64 / total.max(1) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_matches_sb3() {
        let s = Schedule::Linear {
            start: 1.0,
            end: 0.04,
            fraction: 0.16,
        };
        assert_eq!(s.value(0.0), 1.0);
        assert!((s.value(0.08) - 0.52).abs() < 1e-12);
        assert_eq!(s.value(0.5), 0.04);
        assert_eq!(s.at(50_000, 50_000), 0.04);
    }

    #[test]
    fn exponential_hits_both_ends() {
        let s = Schedule::new(ScheduleKind::Exponential, 1.0, 0.01, 0.5).unwrap();
        assert!((s.value(0.0) - 1.0).abs() < 1e-12);
        assert!((s.value(0.25) - 0.1).abs() < 1e-12);
        assert!((s.value(0.5) - 0.01).abs() < 1e-12);
        assert_eq!(s.value(0.9), 0.01);
        assert!(Schedule::new(ScheduleKind::Exponential, 0.0, 0.01, 0.5).is_err());
        assert_eq!(
            Schedule::new(ScheduleKind::Constant, 0.3, 0.0, 1.0)
                .unwrap()
                .value(0.7),
            0.3
        );
    }
}
