//! `autodidact resume`: continues a stopped run from its checkpoint. The algorithm is rebuilt
//! from the recorded configuration and seed, its state loaded, `metrics.jsonl` cut back to
//! what the checkpoint had, and training goes on — ending with the same metrics, bit for bit,
//! as a run that was never stopped.

use std::path::Path;
use std::time::{Duration, SystemTime};

use autodidact_core::Registry;

use crate::checkpoint::{Checkpoint, CHECKPOINT_FILE};
use crate::config::find_algorithm;
use crate::errors::{Result, RunnerError};
use crate::metrics::{fnv1a, METRICS_FILE};
use crate::run::{RunOptions, RunOutcome, Session};

/// Continues the run in `dir` from its checkpoint.
pub fn resume(registry: &Registry, dir: &Path, opts: &RunOptions) -> Result<RunOutcome> {
    let ckpt = Checkpoint::read(dir)?;
    // A run killed mid-write (kill -9, power loss) leaves its temporaries behind; they are
    // never read, so only clutter the folder.
    crate::atomic::remove_stale_temporaries(dir);
    let spec = ckpt.spec(dir)?;
    if find_algorithm(registry, &spec.algorithm).is_err() {
        return Err(RunnerError::Config(format!(
            "the run in {} uses algorithm `{}`, which is not registered here (if it comes from a plugin, pass it with --plugin)",
            dir.display(),
            spec.algorithm
        )));
    }
    let mut alg = spec.build(registry)?;
    ckpt.restore(&dir.join(CHECKPOINT_FILE), alg.as_mut())?;
    let h = &ckpt.header;
    let metrics_path = dir.join(METRICS_FILE);
    let mut log = std::fs::read(&metrics_path).map_err(|e| RunnerError::read(&metrics_path, e))?;
    let keep = usize::try_from(h.metrics_bytes).unwrap_or(usize::MAX);
    if log.len() < keep || format!("{:016x}", fnv1a(&log[..keep])) != h.metrics_fnv1a {
        return Err(RunnerError::parse(
            &metrics_path,
            "does not match the checkpoint (it was edited or truncated)",
        ));
    }
    log.truncate(keep);
    let keep_best = crate::run::best::selection(alg.as_ref(), &spec.algorithm, h.keep_best)?;
    let session = Session {
        dir: dir.to_path_buf(),
        algorithm_crate: find_algorithm(registry, &spec.algorithm)?.crate_name,
        spec,
        alg,
        log,
        lines: h.metrics_lines,
        last_metrics: h.last_metrics.clone(),
        checkpoint_every: opts.checkpoint_every.unwrap_or(h.checkpoint_every).max(1),
        last_checkpoint: h.step,
        eval_every: opts.eval_every.or(h.eval_every).filter(|&n| n > 0),
        keep_best,
        best: h.best.clone(),
        plugin_args: crate::provenance::cli_args(&crate::provenance::read(dir)?),
        earlier_train_seconds: h.train_seconds,
        train_time: Duration::ZERO,
        sessions: h.sessions + 1,
        started: SystemTime::now(),
        start_step: h.step,
    };
    // The metrics file holds exactly what the checkpoint had.
    session.write_metrics()?;
    session.train_and_finish(opts)
}
