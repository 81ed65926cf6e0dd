//! `autodidact sweep --shard-from-env N`: the share's index from `SLURM_ARRAY_TASK_ID` (a
//! Slurm array task) or `JOB_COMPLETION_INDEX` (a Kubernetes indexed Job), end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;

use common::*;

/// `sweep` of 4 tiny runs with `--shard-from-env 2` in `root`, the index variables set as
/// given (and every other one unset).
fn sweep(root: &Path, out: &str, vars: &[(&str, &str)], extra: &[&str]) -> Ran {
    let mut cmd = bin();
    cmd.current_dir(root)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .args([
            "sweep",
            "test-linear",
            "--env",
            "sinusoid",
            "--seeds",
            "0..4",
            "--set",
            "iterations=3",
            "--out",
            out,
        ])
        .args(extra);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    finish(cmd.output().unwrap())
}

fn seeds_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.rsplit_once("-seed").map(|(_, s)| s.to_string()))
        .collect();
    names.sort();
    names
}

#[test]
fn the_share_comes_from_slurm_or_kubernetes() {
    let root = fresh("shard-env");
    let two = ["--shard-from-env", "2"];
    sweep(&root, "k8s", &[("JOB_COMPLETION_INDEX", "1")], &two)
        .ok()
        .out_has("shard 1/2 runs 2 of them");
    assert_eq!(seeds_in(&root.join("k8s")), ["1", "3"]);
    sweep(&root, "slurm", &[("SLURM_ARRAY_TASK_ID", "0")], &two).ok();
    assert_eq!(seeds_in(&root.join("slurm")), ["0", "2"]);

    // Neither variable, an index past N, or both --shard and --shard-from-env: usage errors.
    sweep(&root, "none", &[], &two)
        .fails(2)
        .err_has("SLURM_ARRAY_TASK_ID")
        .err_has("JOB_COMPLETION_INDEX");
    sweep(&root, "past", &[("SLURM_ARRAY_TASK_ID", "2")], &two)
        .fails(2)
        .err_has("SLURM_ARRAY_TASK_ID=2");
    sweep(
        &root,
        "both",
        &[("JOB_COMPLETION_INDEX", "0")],
        &["--shard", "0/2", "--shard-from-env", "2"],
    )
    .fails(2);
}
