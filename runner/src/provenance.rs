//! `plugins.json`: which plugin files a run was trained with. A run whose algorithm or
//! environment came from a plugin records each such file's absolute path and SHA-256, so
//! `resume` and `eval` can load the very same file again without being told, refuse a file
//! that changed since (a resumed run must continue bit for bit), and say exactly which
//! `--plugin` to pass when the file is gone.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::checkpoint::sha256_hex;
use crate::errors::{Result, RunnerError};
use crate::plugin::LoadedPlugin;

/// The record's file name in a run folder.
pub const PLUGINS_FILE: &str = "plugins.json";

/// One plugin file a run needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRecord {
    /// The file, as an absolute path.
    pub path: PathBuf,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
    /// What the run took from it: algorithm names.
    pub algorithms: Vec<String>,
    /// What the run took from it: environment names.
    pub envs: Vec<String>,
}

/// The SHA-256 of a file.
pub fn file_sha256(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| RunnerError::read(path, e))?;
    Ok(sha256_hex(&bytes))
}

/// The loaded plugins that provide `algorithm` or `env`.
pub fn records_for(
    loaded: &[LoadedPlugin],
    algorithm: &str,
    env: &str,
) -> Result<Vec<PluginRecord>> {
    let mut out = Vec::new();
    for p in loaded {
        let algorithms: Vec<String> = p
            .algorithms
            .iter()
            .filter(|a| **a == algorithm)
            .map(|a| (*a).to_string())
            .collect();
        let envs: Vec<String> = p
            .envs
            .iter()
            .filter(|e| **e == env)
            .map(|e| (*e).to_string())
            .collect();
        if algorithms.is_empty() && envs.is_empty() {
            continue;
        }
        let path = std::fs::canonicalize(&p.path).map_err(|e| RunnerError::read(&p.path, e))?;
        out.push(PluginRecord {
            sha256: file_sha256(&path)?,
            path,
            algorithms,
            envs,
        });
    }
    Ok(out)
}

/// Writes `dir/plugins.json` (nothing when the run needs no plugin).
pub fn write(dir: &Path, records: &[PluginRecord]) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let value = serde_json::to_value(records)
        .map_err(|e| RunnerError::Failed(format!("cannot encode {PLUGINS_FILE}: {e}")))?;
    atomic::write_json(&dir.join(PLUGINS_FILE), &value)
}

/// Reads `dir/plugins.json` (none when the file is absent: the run needs no plugin).
pub fn read(dir: &Path) -> Result<Vec<PluginRecord>> {
    let path = dir.join(PLUGINS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RunnerError::read(&path, e)),
    };
    serde_json::from_str(&text).map_err(|e| {
        RunnerError::parse(
            &path,
            format!("is not a list of plugin records (path, sha256, algorithms, envs): {e}"),
        )
    })
}

/// ` --plugin PATH` for each record: what a hint must add to a command line.
pub fn cli_args(records: &[PluginRecord]) -> String {
    records
        .iter()
        .map(|r| format!(" --plugin {}", r.path.display()))
        .collect()
}

/// How strictly a recorded plugin must match the file loaded for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strictness {
    /// `resume`: the same bytes, or the continued run would not be the same run.
    SameFile,
    /// `eval`: another build is allowed, with a warning.
    Warn,
}

/// The plugin files `resume` / `eval` of the run in `dir` must load beside the `given` ones:
/// each recorded plugin that none of the given files matches (by SHA-256) is loaded from its
/// recorded path when that file is unchanged; otherwise the error says which `--plugin` to
/// pass.
pub fn required(dir: &Path, given: &[PathBuf], strictness: Strictness) -> Result<Vec<PathBuf>> {
    let records = read(dir)?;
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let given_hashes: Vec<String> = given.iter().filter_map(|p| file_sha256(p).ok()).collect();
    let mut extra = Vec::new();
    for r in &records {
        if given_hashes.contains(&r.sha256) {
            continue;
        }
        let what = describe(r);
        let at_path = file_sha256(&r.path).ok();
        if at_path.as_deref() == Some(r.sha256.as_str()) {
            extra.push(r.path.clone());
            continue;
        }
        let problem = match at_path {
            Some(now) => format!(
                "{} has changed since the run was trained (SHA-256 now {}, then {})",
                r.path.display(),
                short(&now),
                short(&r.sha256)
            ),
            None => format!("{} is not there any more", r.path.display()),
        };
        if !given.is_empty() && strictness == Strictness::Warn {
            eprintln!(
                "autodidact: warning: the run in {} was trained with {what}, but {problem} \
                 and no --plugin file is that build (SHA-256 {}); evaluating with the plugins given",
                dir.display(),
                short(&r.sha256)
            );
            continue;
        }
        return Err(RunnerError::Config(format!(
            "the run in {} was trained with {what}, but {problem}; pass --plugin FILE with the \
             build it was trained with (SHA-256 {}){}",
            dir.display(),
            r.sha256,
            if strictness == Strictness::SameFile {
                ": a resumed run must continue with the same code"
            } else {
                ""
            }
        )));
    }
    Ok(extra)
}

fn describe(r: &PluginRecord) -> String {
    let mut names: Vec<String> = r
        .algorithms
        .iter()
        .map(|a| format!("algorithm `{a}`"))
        .collect();
    names.extend(r.envs.iter().map(|e| format!("environment `{e}`")));
    format!("the plugin {} ({})", r.path.display(), names.join(", "))
}

fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "autodidact-provenance-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn record(dir: &Path, lib: &Path) -> PluginRecord {
        let r = PluginRecord {
            path: lib.to_path_buf(),
            sha256: file_sha256(lib).unwrap(),
            algorithms: vec!["x".into()],
            envs: vec![],
        };
        write(dir, std::slice::from_ref(&r)).unwrap();
        r
    }

    #[test]
    fn an_unchanged_recorded_plugin_is_loaded_from_its_path() {
        let d = temp("same");
        let lib = d.join("libx.so");
        std::fs::write(&lib, b"code v1").unwrap();
        let r = record(&d, &lib);
        assert_eq!(read(&d).unwrap(), vec![r.clone()]);
        assert_eq!(
            required(&d, &[], Strictness::SameFile).unwrap(),
            vec![lib.clone()]
        );
        // Given explicitly (same bytes at another path): nothing extra.
        let copy = d.join("copy.so");
        std::fs::copy(&lib, &copy).unwrap();
        assert!(required(&d, &[copy], Strictness::SameFile)
            .unwrap()
            .is_empty());
        assert_eq!(cli_args(&[r]), format!(" --plugin {}", lib.display()));
    }

    #[test]
    fn a_changed_or_missing_plugin_is_named_with_what_to_pass() {
        let d = temp("changed");
        let lib = d.join("libx.so");
        std::fs::write(&lib, b"code v1").unwrap();
        let r = record(&d, &lib);
        std::fs::write(&lib, b"code v2").unwrap();
        let e = required(&d, &[], Strictness::SameFile).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let m = e.to_string();
        assert!(m.contains("has changed since the run was trained"), "{m}");
        assert!(
            m.contains(&r.sha256) && m.contains("pass --plugin FILE"),
            "{m}"
        );
        // eval with another build given: a warning, not an error.
        assert!(required(&d, std::slice::from_ref(&lib), Strictness::Warn)
            .unwrap()
            .is_empty());
        // resume with another build given: refused.
        assert!(required(&d, std::slice::from_ref(&lib), Strictness::SameFile).is_err());
        std::fs::remove_file(&lib).unwrap();
        let m = required(&d, &[], Strictness::Warn).unwrap_err().to_string();
        assert!(m.contains("is not there any more"), "{m}");
    }

    #[test]
    fn no_record_needs_nothing_and_a_bad_record_names_the_file() {
        let d = temp("none");
        assert!(required(&d, &[], Strictness::SameFile).unwrap().is_empty());
        std::fs::write(d.join(PLUGINS_FILE), b"{not json").unwrap();
        let m = required(&d, &[], Strictness::SameFile)
            .unwrap_err()
            .to_string();
        assert!(m.contains(PLUGINS_FILE), "{m}");
    }
}
