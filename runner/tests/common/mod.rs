//! Helpers for the runner's command-line tests: run the real `autodidact` binary, fresh
//! folders, summaries without their wall-clock part.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The binary under test.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_autodidact"));
    c.env_remove("AUTODIDACT_PLUGINS")
        .env_remove("RUST_BACKTRACE");
    c
}

/// What a finished command said.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts the exit code and that stderr is one `autodidact:` line (no panic text).
    pub fn fails(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one line on stderr, got:\n{}",
            self.stderr
        );
        assert!(lines[0].starts_with("autodidact: "), "{}", self.stderr);
        assert!(!self.stderr.contains("thread '") && !self.stderr.contains("RUST_BACKTRACE"));
        self
    }

    pub fn err_has(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks `{text}`:\n{}",
            self.stderr
        );
        self
    }

    pub fn out_has(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "stdout lacks `{text}`:\n{}",
            self.stdout
        );
        self
    }
}

pub fn finish(out: Output) -> Ran {
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `autodidact ARGS` in `cwd`.
pub fn run_in(cwd: &Path, args: &[&str]) -> Ran {
    finish(bin().current_dir(cwd).args(args).output().unwrap())
}

/// A fresh empty folder for one test.
pub fn fresh(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "runner-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `summary.json` without `timing`.
pub fn summary_without_timing(dir: &Path) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let timing = v.as_object_mut().unwrap().remove("timing");
    assert!(timing.is_some(), "summary.json has no timing");
    v
}

pub fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

/// Asserts that no temporary file is left in `dir`.
pub fn no_temporaries(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp-"), "temporary file left: {name}");
    }
}

/// `run test-linear --env sinusoid -q --out OUT` and `extra`.
#[allow(dead_code)]
pub fn run_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "run",
        "test-linear",
        "--env",
        "sinusoid",
        "-q",
        "--out",
        out,
    ];
    a.extend_from_slice(extra);
    a
}
