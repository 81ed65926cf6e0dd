//! A continual-learning run end to end: its folder holds the accuracy matrix as a heat-map
//! (`accuracy_matrix.png` and `.svg`), and the learning-curve plot leaves out the matrix's
//! per-cell keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[test]
fn a_continual_run_draws_its_accuracy_matrix() {
    let root = fresh("continual-heatmap");
    run_in(
        &root,
        &[
            "run",
            "naive",
            "--env",
            "split",
            "--set",
            "epochs=1",
            "--set",
            "hidden=[16]",
            "--set",
            "env.experiences=3",
            "-q",
            "--out",
            "r",
        ],
    )
    .ok();
    let dir = root.join("r");
    let s: serde_json::Value = serde_json::from_str(&read(dir.join("summary.json"))).unwrap();
    assert!(s["final_metrics"]["r_2_0"].is_number(), "{s}");
    let png = std::fs::read(dir.join("accuracy_matrix.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let svg = read(dir.join("accuracy_matrix.svg"));
    assert!(svg.contains("<svg") && svg.contains("after experience i"));
    // The learning curves show `acc`, not one panel per matrix cell.
    let curve = read(dir.join("learning_curve.svg"));
    assert!(!curve.contains("r_0_0") && !curve.contains("init_acc_0"));
    no_temporaries(&dir);
}
