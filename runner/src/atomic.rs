//! Atomic file writes: a temporary file in the same folder, flushed to disk, then renamed over
//! the target. A killed process leaves either the old file or the new one, never half of one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::errors::{Result, RunnerError};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The temporary name used for `path` (hidden, unique per process and call).
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Whether `name` is one of [`temp_path`]'s names (`.NAME.tmp-PID-N`), and not this process's.
fn is_stale_temporary(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.') else {
        return false;
    };
    let Some((target, tail)) = rest.rsplit_once(".tmp-") else {
        return false;
    };
    let Some((pid, n)) = tail.split_once('-') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // Our own temporaries may be in flight on another thread (a sweep's parallel runs).
    !target.is_empty() && digits(pid) && digits(n) && pid != std::process::id().to_string()
}

/// Removes the temporary files a killed writer left in `dir` (only names of [`temp_path`]'s
/// pattern, never this process's); returns how many were removed. Best effort: a file that
/// cannot be removed is left.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| is_stale_temporary(&e.file_name().to_string_lossy()))
        .filter(|e| fs::remove_file(e.path()).is_ok())
        .count()
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(RunnerError::write(path, e));
    }
    Ok(())
}

/// Writes a string to `path` atomically.
pub fn write_str(path: &Path, text: &str) -> Result<()> {
    write(path, text.as_bytes())
}

/// Writes `value` as pretty JSON (with a final newline) to `path` atomically.
pub fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| RunnerError::Failed(format!("cannot encode {}: {e}", path.display())))?;
    text.push('\n');
    write_str(path, &text)
}

/// Creates a folder and its parents.
pub fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| RunnerError::write(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("autodidact-atomic-{}", std::process::id()));
        create_dir(&dir).unwrap();
        let p = dir.join("a.txt");
        write_str(&p, "one").unwrap();
        write_str(&p, "two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(write_str(&dir.join("missing/b.txt"), "x").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn recognises_only_other_processes_temporaries() {
        let tmp = temp_path(Path::new("d/checkpoint.ckpt"));
        let own = tmp.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!is_stale_temporary(&own), "{own}");
        let other = std::process::id().wrapping_add(1);
        assert!(is_stale_temporary(&format!(
            ".checkpoint.ckpt.tmp-{other}-0"
        )));
        assert!(is_stale_temporary(&format!(
            ".metrics.jsonl.tmp-{other}-12"
        )));
        for name in [
            "checkpoint.ckpt.tmp-1-0",
            ".checkpoint.ckpt.tmp-1",
            ".checkpoint.ckpt.tmp-x-0",
            ".checkpoint.ckpt.tmp-1-0.bak",
            "..tmp-1-0",
            ".notes.txt",
        ] {
            assert!(!is_stale_temporary(name), "{name}");
        }
    }
}
