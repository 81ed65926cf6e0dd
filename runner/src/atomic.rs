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
}
