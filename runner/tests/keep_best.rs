//! Issue 18, item 19: `--keep-best` keeps the best-evaluated state of any algorithm, restores
//! it at the end, and reports both the final and the best evaluation; `eval` evaluates the
//! kept state (`--last` the final one); a stopped run resumes to the same result.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use serde_json::Value;

/// Every `eval.test_mse` logged during training, by step.
fn logged_evaluations(dir: &std::path::Path) -> Vec<(u64, f64)> {
    read(dir.join("metrics.jsonl"))
        .lines()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let mse = v.get("eval.test_mse")?.as_f64()?;
            Some((v["step"].as_u64().unwrap(), mse))
        })
        .collect()
}

const FORGETFUL: [&str; 8] = [
    "--set",
    "iterations=40",
    "--set",
    "forget_after=21",
    "--set",
    "lr=0.05",
    "--checkpoint-every",
    "5",
];

#[test]
fn the_best_state_is_kept_restored_and_reported_beside_the_final_one() {
    let root = fresh("keep-best");
    let mut args = FORGETFUL.to_vec();
    args.push("--keep-best");
    run_in(&root, &run_args("r", &args))
        .ok()
        .out_has("Kept the best state");
    let dir = root.join("r");
    let evals = logged_evaluations(&dir);
    // Evaluated at every checkpoint (no --eval-every given).
    assert_eq!(
        evals.iter().map(|e| e.0).collect::<Vec<_>>(),
        (1..=8).map(|i| i * 5).collect::<Vec<_>>()
    );
    let (best_step, best_mse) =
        evals
            .iter()
            .copied()
            .fold((0, f64::INFINITY), |b, e| if e.1 < b.1 { e } else { b });
    assert!(
        best_step < 40,
        "the forgetting run's last state is not its best"
    );

    let s: Value = serde_json::from_str(&read(dir.join("summary.json"))).unwrap();
    let best = &s["best"];
    assert_eq!(best["iteration"].as_u64(), Some(best_step));
    assert_eq!(best["metric"], "test_mse");
    assert_eq!(best["better"], "lower");
    // The restored state evaluates exactly as it did when it was kept.
    assert_eq!(best["evaluation"]["test_mse"].as_f64(), Some(best_mse));
    let finals = &s["final_metrics"];
    assert_eq!(finals["best.test_mse"].as_f64(), Some(best_mse));
    assert_eq!(finals["best.iteration"].as_f64(), Some(best_step as f64));
    let final_mse = finals["test_mse"].as_f64().unwrap();
    assert_eq!(Some(final_mse), evals.last().map(|e| e.1));
    assert!(final_mse > best_mse);

    // `eval` evaluates the kept state; `--last` the final one.
    run_in(&root, &["eval", "--run", "r"])
        .ok()
        .out_has("the kept best state");
    let e: Value = serde_json::from_str(&read(dir.join("eval.json"))).unwrap();
    assert_eq!(e["checkpoint"], "best.ckpt");
    assert_eq!(e["checkpoint_iteration"].as_u64(), Some(best_step));
    assert_eq!(e["metrics"]["test_mse"].as_f64(), Some(best_mse));
    run_in(&root, &["eval", "--run", "r", "--last"]).ok();
    let e: Value = serde_json::from_str(&read(dir.join("eval.json"))).unwrap();
    assert_eq!(e["checkpoint"], "checkpoint.ckpt");
    assert_eq!(e["metrics"]["test_mse"].as_f64(), Some(final_mse));
    no_temporaries(&dir);
}

#[test]
fn a_stopped_run_with_keep_best_resumes_to_the_same_result() {
    let root = fresh("keep-best-resume");
    let mut whole = FORGETFUL.to_vec();
    whole.push("--keep-best");
    run_in(&root, &run_args("whole", &whole)).ok();
    let mut stopped = whole.clone();
    stopped.extend(["--stop-after", "27"]);
    run_in(&root, &run_args("stopped", &stopped)).fails(1);
    assert!(root.join("stopped/best.ckpt").is_file());
    run_in(&root, &["resume", "stopped", "-q"]).ok();
    assert_eq!(
        summary_without_timing(&root.join("whole")),
        summary_without_timing(&root.join("stopped"))
    );
}

#[test]
fn without_keep_best_nothing_is_kept() {
    let root = fresh("keep-best-off");
    run_in(&root, &run_args("r", &FORGETFUL)).ok();
    assert!(!root.join("r/best.ckpt").exists());
    let s: Value = serde_json::from_str(&read(root.join("r/summary.json"))).unwrap();
    assert!(s.get("best").is_none());
}
