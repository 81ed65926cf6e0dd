//! The checkpoint file: the runner's state and the algorithm's bytes in one file, written
//! atomically, so the two can never disagree.
//!
//! Layout: a first line `AUTODIDACT-CHECKPOINT 1`, a second line with the runner's state as
//! JSON ([`CheckpointHeader`]), then the algorithm's bytes ([`Algorithm::save`]) to the end.
//!
//! [`Algorithm::save`]: autodidact_core::Algorithm::save

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::config::RunSpec;
use crate::errors::{Result, RunnerError};

/// The checkpoint's file name in a run folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.ckpt";

const MAGIC: &str = "AUTODIDACT-CHECKPOINT 1";

/// The runner's state at a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHeader {
    /// The run's resolved configuration, as TOML (exact for every float).
    pub spec_toml: String,
    /// Steps done.
    pub step: u64,
    /// Steps in all.
    pub total_steps: u64,
    /// Steps between periodic checkpoints.
    pub checkpoint_every: u64,
    /// Steps between evaluations during training (`--eval-every`), if any; absent in older
    /// checkpoints.
    #[serde(default)]
    pub eval_every: Option<u64>,
    /// Bytes of `metrics.jsonl` that belong to this checkpoint.
    pub metrics_bytes: u64,
    /// Lines of `metrics.jsonl` that belong to this checkpoint.
    pub metrics_lines: u64,
    /// FNV-1a of those bytes, hex.
    pub metrics_fnv1a: String,
    /// The last metrics a step logged.
    pub last_metrics: BTreeMap<String, f64>,
    /// Seconds spent in training steps so far, over every session.
    pub train_seconds: f64,
    /// Sessions so far (1 + resumes).
    pub sessions: u64,
    /// The core version that wrote it.
    pub core_version: String,
    /// The compiler that built the writer.
    pub rustc_version: String,
}

/// A checkpoint: the runner's state and the algorithm's bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The runner's state.
    pub header: CheckpointHeader,
    /// What `Algorithm::save` returned.
    pub algorithm: Vec<u8>,
}

impl Checkpoint {
    /// The file's bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let header = serde_json::to_string(&self.header)
            .map_err(|e| RunnerError::Failed(format!("cannot encode the checkpoint: {e}")))?;
        let mut out = Vec::with_capacity(MAGIC.len() + header.len() + self.algorithm.len() + 2);
        out.extend_from_slice(MAGIC.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(header.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(&self.algorithm);
        Ok(out)
    }

    /// Parses a checkpoint file's bytes.
    pub fn decode(path: &Path, bytes: &[u8]) -> Result<Checkpoint> {
        let bad = |m: &str| RunnerError::parse(path, format!("not an autodidact checkpoint ({m})"));
        let first = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("no header"))?;
        if &bytes[..first] != MAGIC.as_bytes() {
            return Err(bad("wrong first line"));
        }
        let rest = &bytes[first + 1..];
        let second = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("no state line"))?;
        let header: CheckpointHeader = serde_json::from_slice(&rest[..second])
            .map_err(|e| RunnerError::parse(path, format!("its state does not parse: {e}")))?;
        Ok(Checkpoint {
            header,
            algorithm: rest[second + 1..].to_vec(),
        })
    }

    /// Reads `dir/checkpoint.ckpt`.
    pub fn read(dir: &Path) -> Result<Checkpoint> {
        let path = dir.join(CHECKPOINT_FILE);
        if !dir.is_dir() {
            return Err(RunnerError::Usage(format!(
                "{} is not a folder",
                dir.display()
            )));
        }
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                RunnerError::Usage(format!(
                    "{} holds no checkpoint ({CHECKPOINT_FILE}): is it a run folder?",
                    dir.display()
                ))
            } else {
                RunnerError::read(&path, e)
            }
        })?;
        Checkpoint::decode(&path, &bytes)
    }

    /// Writes `dir/checkpoint.ckpt` atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        atomic::write(&dir.join(CHECKPOINT_FILE), &self.encode()?)
    }

    /// The run's configuration.
    pub fn spec(&self, dir: &Path) -> Result<RunSpec> {
        RunSpec::from_toml(&dir.join(CHECKPOINT_FILE), &self.header.spec_toml)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_files() {
        let mut last = BTreeMap::new();
        last.insert("loss".to_string(), 0.1 + 0.2);
        let c = Checkpoint {
            header: CheckpointHeader {
                spec_toml: "algorithm = \"x\"\n".into(),
                step: 3,
                total_steps: 10,
                checkpoint_every: 1,
                eval_every: Some(5),
                metrics_bytes: 12,
                metrics_lines: 1,
                metrics_fnv1a: "ab".into(),
                last_metrics: last,
                train_seconds: 0.5,
                sessions: 1,
                core_version: "0.1.0".into(),
                rustc_version: "rustc".into(),
            },
            algorithm: b"\x00\nbinary\n".to_vec(),
        };
        let bytes = c.encode().unwrap();
        assert_eq!(Checkpoint::decode(Path::new("c"), &bytes).unwrap(), c);
        let e = Checkpoint::decode(Path::new("c"), b"hello\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an autodidact checkpoint"), "{e}");
    }
}
