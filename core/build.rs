//! Records the compiler's version and the versions of the crates whose types cross the plugin
//! boundary (ndarray, rand, serde, toml), so a plugin's declaration can be compared with the
//! host's.
//!
//! The versions come from the `Cargo.lock` of the workspace being built: the first one found
//! walking up from `OUT_DIR` (inside that workspace's target folder). A build whose target
//! folder lies outside its workspace records `unknown`.
use std::path::{Path, PathBuf};
use std::process::Command;

/// The crates whose types a plugin and its host exchange.
const CROSSING: [&str; 4] = ["ndarray", "rand", "serde", "toml"];

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=AUTODIDACT_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");

    let lock = std::env::var_os("OUT_DIR").and_then(|d| find_lock(Path::new(&d)));
    let text = lock.as_ref().and_then(|p| std::fs::read_to_string(p).ok());
    if let Some(p) = &lock {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    let packages = text.as_deref().map(parse_lock).unwrap_or_default();
    let versions: Vec<String> = CROSSING
        .iter()
        .map(|name| {
            let v = version_used(&packages, name).unwrap_or_else(|| "unknown".to_string());
            format!("{name}={v}")
        })
        .collect();
    println!(
        "cargo:rustc-env=AUTODIDACT_DEP_VERSIONS={}",
        versions.join(";")
    );
}

fn find_lock(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|d| d.join("Cargo.lock"))
        .find(|p| p.is_file())
}

/// One `[[package]]` of a lock file.
#[derive(Default)]
struct Package {
    name: String,
    version: String,
    dependencies: Vec<String>,
}

/// A small reader of the lock format (a build dependency on a TOML parser would be heavier
/// than these lines): `name`, `version` and the `dependencies` list of each package.
fn parse_lock(text: &str) -> Vec<Package> {
    let mut out: Vec<Package> = Vec::new();
    let mut in_deps = false;
    for line in text.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            out.push(Package::default());
            in_deps = false;
            continue;
        }
        let Some(p) = out.last_mut() else { continue };
        if in_deps {
            if line.starts_with(']') {
                in_deps = false;
            } else if let Some(d) = quoted(line) {
                p.dependencies.push(d);
            }
            continue;
        }
        if let Some(v) = line.strip_prefix("name = ").and_then(quoted) {
            p.name = v;
        } else if let Some(v) = line.strip_prefix("version = ").and_then(quoted) {
            p.version = v;
        } else if line.starts_with("dependencies = [") {
            in_deps = !line.ends_with(']');
        }
    }
    out
}

fn quoted(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches(',');
    s.strip_prefix('"')?.strip_suffix('"').map(str::to_string)
}

/// The version of `name` that autodidact-core depends on in this lock.
fn version_used(packages: &[Package], name: &str) -> Option<String> {
    let core = packages.iter().find(|p| p.name == "autodidact-core")?;
    let dep = core
        .dependencies
        .iter()
        .find(|d| d.split(' ').next() == Some(name))?;
    if let Some((_, v)) = dep.split_once(' ') {
        return Some(v.to_string());
    }
    // A lone name: the lock holds one version of it.
    packages
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.version.clone())
}
