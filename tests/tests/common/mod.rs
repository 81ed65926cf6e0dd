//! Helpers: the runner in this process, fresh folders, summaries without wall-clock fields.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use autodidact_runner::RunnerError;

/// `autodidact ARGS` in this process.
pub fn autodidact(args: &[&str]) -> Result<(), RunnerError> {
    autodidact_runner::execute_args(std::iter::once("autodidact").chain(args.iter().copied()))
}

/// A fresh empty folder.
pub fn fresh(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "workspace-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

pub fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&read(dir.join("summary.json"))).unwrap()
}

/// `summary.json` without `timing` (its only wall-clock part).
pub fn summary_without_timing(dir: &Path) -> serde_json::Value {
    let mut v = summary(dir);
    assert!(v.as_object_mut().unwrap().remove("timing").is_some());
    v
}

/// Asserts that two run folders ended the same: metrics byte for byte, summaries but timing.
pub fn assert_same_run(a: &Path, b: &Path) {
    assert_eq!(
        std::fs::read(a.join("metrics.jsonl")).unwrap(),
        std::fs::read(b.join("metrics.jsonl")).unwrap(),
        "{} and {} logged different metrics",
        a.display(),
        b.display()
    );
    assert_eq!(summary_without_timing(a), summary_without_timing(b));
}
