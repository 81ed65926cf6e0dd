//! `autodidact bench`: builds an algorithm on an environment, runs a few warm-up steps, then
//! times a fixed number of training steps and reports steps per second; then one more step,
//! untimed, under core's FLOP meter, for the matrix products' FLOPs per step and the achieved
//! GFLOP/s (the roofline in `docs/benchmarks.md`). Nothing is written.

use std::time::Instant;

use autodidact_core::Registry;
use serde_json::json;

use crate::config::RunSpec;
use crate::errors::{one_line, Result, RunnerError};
use crate::run::panic_message;
use crate::table::fmt_num;

/// What to time.
#[derive(Clone, Debug)]
pub struct BenchRequest {
    /// The configuration.
    pub spec: RunSpec,
    /// Timed steps.
    pub steps: u64,
    /// Untimed steps first.
    pub warmup: u64,
    /// Print JSON instead of a sentence.
    pub json: bool,
}

/// A measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchResult {
    /// Steps timed (fewer than asked when the run is shorter).
    pub steps: u64,
    /// Seconds they took.
    pub seconds: f64,
    /// Seconds the build took.
    pub build_seconds: f64,
    /// The matrix products' FLOPs (two per multiply-add) of one step, when a step was left to
    /// meter after the timed ones.
    pub flops_per_step: Option<f64>,
}

impl BenchResult {
    /// Steps per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.steps as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// Achieved GFLOP/s of the matrix products over the timed steps.
    pub fn gflops(&self) -> Option<f64> {
        self.flops_per_step.map(|f| f * self.rate() / 1e9)
    }
}

/// Times the training steps.
pub fn bench(registry: &Registry, req: &BenchRequest) -> Result<BenchResult> {
    if req.steps == 0 {
        // Zero timed steps would report 0 / 0 steps per second.
        return Err(RunnerError::Usage(
            "bench --steps must be at least 1 (there is nothing to time in zero steps)".into(),
        ));
    }
    let t0 = Instant::now();
    req.spec.check_trainable()?;
    let mut alg = req.spec.build(registry)?;
    let build_seconds = t0.elapsed().as_secs_f64();
    let step = |alg: &mut Box<dyn autodidact_core::Algorithm>| -> Result<bool> {
        if alg.steps_done() >= alg.total_steps() {
            return Ok(false);
        }
        let at = alg.steps_done() + 1;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| alg.train_step()))
            .map_err(|p| {
                RunnerError::Failed(format!(
                    "panicked at iteration {at}: {}",
                    panic_message(p.as_ref())
                ))
            })?
            .map_err(|e| {
                RunnerError::Failed(format!(
                    "training failed at iteration {at}: {}",
                    one_line(&e.to_string())
                ))
            })?;
        Ok(true)
    };
    for _ in 0..req.warmup {
        if !step(&mut alg)? {
            break;
        }
    }
    let t = Instant::now();
    let mut steps = 0;
    while steps < req.steps && step(&mut alg)? {
        steps += 1;
    }
    let seconds = t.elapsed().as_secs_f64();
    let meter = autodidact_core::flops::Meter::start();
    let metered = step(&mut alg)?;
    let multiply_adds = meter.stop();
    let result = BenchResult {
        steps,
        seconds,
        build_seconds,
        flops_per_step: metered.then_some(2.0 * multiply_adds as f64),
    };
    let s = &req.spec;
    if req.json {
        outln!(
            "{}",
            json!({
                "algorithm": s.algorithm,
                "env": s.env,
                "seed": s.seed,
                "warmup": req.warmup,
                "steps": result.steps,
                "seconds": result.seconds,
                "steps_per_second": result.rate(),
                "build_seconds": result.build_seconds,
                "flops_per_step": result.flops_per_step,
                "gflops": result.gflops(),
            })
        );
    } else {
        let per_step = if result.steps > 0 {
            format!(
                " ({} ms/step)",
                fmt_num(1000.0 * result.seconds / result.steps as f64)
            )
        } else {
            String::new()
        };
        let gflops = match (result.flops_per_step, result.gflops()) {
            (Some(f), Some(g)) => format!(
                "; matrix products {} MFLOP/step, {} GFLOP/s",
                fmt_num(f / 1e6),
                fmt_num(g)
            ),
            _ => String::new(),
        };
        outln!(
            "{} on {}: {} steps in {} s: {} steps/s{per_step}{gflops}; build {} s, {} warm-up steps{}",
            s.algorithm,
            s.env,
            result.steps,
            fmt_num(result.seconds),
            fmt_num(result.rate()),
            fmt_num(result.build_seconds),
            req.warmup,
            if result.steps < req.steps {
                format!(" (the run ends after {} steps)", req.warmup + result.steps)
            } else {
                String::new()
            }
        );
    }
    Ok(result)
}
