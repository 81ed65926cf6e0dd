//! The checkpoint file: the runner's state and the algorithm's bytes in one file, written
//! atomically, so the two can never disagree.
//!
//! Layout: a first line `AUTODIDACT-CHECKPOINT 2 sha256=HEX`, a second line with the runner's
//! state as JSON ([`CheckpointHeader`]), then the algorithm's bytes ([`Algorithm::save`]) to the
//! end. HEX is the SHA-256 of everything after the first line, so one changed digit of a weight
//! or of the step count is refused instead of silently changing the results. Format 1 (no
//! checksum) is refused with a message saying so: it cannot be told apart from an edited file.
//!
//! [`Algorithm::save`]: autodidact_core::Algorithm::save

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use autodidact_core::Algorithm;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::atomic;
use crate::config::RunSpec;
use crate::errors::{Result, RunnerError};

/// The checkpoint's file name in a run folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.ckpt";
/// The best-evaluated state's file name (`--keep-best`), in the same format.
pub const BEST_FILE: &str = "best.ckpt";

/// The best evaluation so far of a run with `--keep-best`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestRecord {
    /// The step it was evaluated after (the step of `best.ckpt`).
    pub step: u64,
    /// The metric that ranks evaluations.
    pub metric: String,
    /// Its value then.
    pub value: f64,
}

/// The first line's start; the format number follows it.
const MAGIC: &str = "AUTODIDACT-CHECKPOINT ";
/// The format written and read: 2 has a checksum.
const FORMAT: &str = "2";
/// The checksum's label on the first line.
const SHA_LABEL: &str = " sha256=";

/// The lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

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
    /// Whether the run keeps its best-evaluated state in `best.ckpt` (`--keep-best`).
    #[serde(default)]
    pub keep_best: bool,
    /// The best evaluation so far (with `keep_best`).
    #[serde(default)]
    pub best: Option<BestRecord>,
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
        let mut payload = Vec::with_capacity(header.len() + self.algorithm.len() + 1);
        payload.extend_from_slice(header.as_bytes());
        payload.push(b'\n');
        payload.extend_from_slice(&self.algorithm);
        let first = format!("{MAGIC}{FORMAT}{SHA_LABEL}{}\n", sha256_hex(&payload));
        let mut out = Vec::with_capacity(first.len() + payload.len());
        out.extend_from_slice(first.as_bytes());
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Parses a checkpoint file's bytes, verifying its checksum.
    pub fn decode(path: &Path, bytes: &[u8]) -> Result<Checkpoint> {
        let bad = |m: &str| RunnerError::parse(path, format!("not an autodidact checkpoint ({m})"));
        let first = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("no header"))?;
        let line = std::str::from_utf8(&bytes[..first]).map_err(|_| bad("wrong first line"))?;
        let rest_of_line = line
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("wrong first line"))?;
        let (format, expected) = match rest_of_line.split_once(SHA_LABEL) {
            Some((f, sum)) => (f, Some(sum)),
            None => (rest_of_line, None),
        };
        if format == "1" && expected.is_none() {
            return Err(RunnerError::parse(
                path,
                "is a format-1 checkpoint, written before checkpoints had a checksum; this \
                 autodidact reads format 2 only, since an unchecked file may have been edited \
                 (resume or evaluate it with the autodidact that wrote it, or run it again)",
            ));
        }
        if format != FORMAT {
            return Err(bad(&format!("unknown format `{format}`")));
        }
        let expected = expected.ok_or_else(|| bad("no checksum"))?;
        let payload = &bytes[first + 1..];
        if sha256_hex(payload) != expected {
            return Err(RunnerError::parse(
                path,
                "checksum mismatch: the checkpoint was edited or damaged after it was written; \
                 refusing it rather than continuing from altered weights",
            ));
        }
        let second = payload
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("no state line"))?;
        let header: CheckpointHeader = serde_json::from_slice(&payload[..second])
            .map_err(|e| RunnerError::parse(path, format!("its state does not parse: {e}")))?;
        Ok(Checkpoint {
            header,
            algorithm: payload[second + 1..].to_vec(),
        })
    }

    /// Loads the algorithm's state into `alg` (built from [`Checkpoint::spec`]) and checks that
    /// it is at the step the runner recorded; `path` names the file in errors.
    pub fn restore(&self, path: &Path, alg: &mut dyn Algorithm) -> Result<()> {
        // A plugin may panic on bytes it does not expect; that is an input error, not a crash.
        let loaded = catch_unwind(AssertUnwindSafe(|| alg.load(&self.algorithm)))
            .map_err(|_| RunnerError::parse(path, "the algorithm panicked loading its state"))?;
        loaded.map_err(|e| {
            RunnerError::parse(path, format!("the algorithm refused its state: {e}"))
        })?;
        if alg.steps_done() != self.header.step {
            return Err(RunnerError::parse(
                path,
                format!(
                    "the algorithm's state is at step {}, the runner's at step {}",
                    alg.steps_done(),
                    self.header.step
                ),
            ));
        }
        Ok(())
    }

    /// Reads `dir/checkpoint.ckpt`.
    pub fn read(dir: &Path) -> Result<Checkpoint> {
        Checkpoint::read_file(dir, CHECKPOINT_FILE)
    }

    /// Reads `dir/NAME` (the checkpoint or the best state).
    pub fn read_file(dir: &Path, name: &str) -> Result<Checkpoint> {
        let path = dir.join(name);
        if !dir.is_dir() {
            return Err(RunnerError::Usage(format!(
                "{} is not a folder",
                dir.display()
            )));
        }
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                RunnerError::Usage(format!(
                    "{} holds no checkpoint ({name}): is it a run folder?",
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
        self.write_file(dir, CHECKPOINT_FILE)
    }

    /// Writes `dir/NAME` atomically.
    pub fn write_file(&self, dir: &Path, name: &str) -> Result<()> {
        atomic::write(&dir.join(name), &self.encode()?)
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
                keep_best: true,
                best: Some(BestRecord {
                    step: 2,
                    metric: "acc".into(),
                    value: 0.5,
                }),
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

    #[test]
    fn refuses_any_changed_byte_and_the_old_format() {
        let c = Checkpoint {
            header: CheckpointHeader {
                spec_toml: "algorithm = \"x\"\n".into(),
                step: 3,
                total_steps: 10,
                checkpoint_every: 1,
                eval_every: None,
                keep_best: false,
                best: None,
                metrics_bytes: 0,
                metrics_lines: 0,
                metrics_fnv1a: "0".into(),
                last_metrics: BTreeMap::new(),
                train_seconds: 0.0,
                sessions: 1,
                core_version: "0.1.0".into(),
                rustc_version: "rustc".into(),
            },
            algorithm: b"weights 0.125".to_vec(),
        };
        let bytes = c.encode().unwrap();
        let start = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        for i in start..bytes.len() {
            let mut edited = bytes.clone();
            edited[i] ^= 1;
            let e = Checkpoint::decode(Path::new("r/c.ckpt"), &edited).unwrap_err();
            assert!(e.to_string().contains("r/c.ckpt: checksum mismatch"), "{e}");
            assert_eq!(e.exit_code(), 2);
        }
        let old = [b"AUTODIDACT-CHECKPOINT 1\n".as_slice(), &bytes[start..]].concat();
        let e = Checkpoint::decode(Path::new("c"), &old).unwrap_err();
        assert!(e.to_string().contains("format-1 checkpoint"), "{e}");
    }
}
