//! Records the git commit the runner is built from (when it is built from a git checkout), so
//! every `summary.json` names the code that produced it.
use std::path::{Path, PathBuf};

fn git_dir(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let candidate = d.join(".git");
        if candidate.is_dir() {
            return Some(candidate);
        }
        if candidate.is_file() {
            // A worktree: `gitdir: <path>`.
            let text = std::fs::read_to_string(&candidate).ok()?;
            let target = text.strip_prefix("gitdir:")?.trim();
            return Some(d.join(target));
        }
        dir = d.parent();
    }
    None
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let Ok(manifest) = std::env::var("CARGO_MANIFEST_DIR") else {
        return;
    };
    let Some(git) = git_dir(Path::new(&manifest)) else {
        return;
    };
    let head_path = git.join("HEAD");
    println!("cargo:rerun-if-changed={}", head_path.display());
    let Ok(head) = std::fs::read_to_string(&head_path) else {
        return;
    };
    let head = head.trim();
    let commit = match head.strip_prefix("ref:") {
        None => Some(head.to_string()),
        Some(reference) => {
            let reference = reference.trim();
            // Worktrees keep branch refs in the common dir.
            let common = std::fs::read_to_string(git.join("commondir"))
                .map(|c| git.join(c.trim()))
                .unwrap_or_else(|_| git.clone());
            let loose = common.join(reference);
            println!("cargo:rerun-if-changed={}", loose.display());
            println!(
                "cargo:rerun-if-changed={}",
                common.join("packed-refs").display()
            );
            std::fs::read_to_string(&loose)
                .ok()
                .map(|s| s.trim().to_string())
                .or_else(|| {
                    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
                    packed.lines().find_map(|l| {
                        let (hash, name) = l.split_once(' ')?;
                        (name.trim() == reference).then(|| hash.to_string())
                    })
                })
        }
    };
    if let Some(c) = commit.filter(|c| c.len() >= 7 && c.chars().all(|ch| ch.is_ascii_hexdigit())) {
        println!("cargo:rustc-env=AUTODIDACT_GIT_COMMIT={c}");
    }
}
