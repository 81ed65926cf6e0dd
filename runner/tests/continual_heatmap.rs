//! A continual-learning run end to end: `summary.json` holds the accuracy matrix as a table
//! (`matrices.accuracy_matrix`, no `r_i_j` keys), the run folder its heat-map
//! (`accuracy_matrix.png` and `.svg`); `plot` draws the pictures again from the raw files;
//! the task-aware evaluation on the task-incremental twin joins `compare` as `task-aware.*`;
//! `compare --export` writes a `runs.jsonl` that `compare --markdown` and `plot` read back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;

const TINY: [&str; 8] = [
    "--set",
    "epochs=1",
    "--set",
    "hidden=[16]",
    "--set",
    "env.experiences=3",
    "--set",
    "env.examples_per_class=20",
];

#[test]
fn a_continual_run_reports_and_draws_its_accuracy_matrix() {
    let root = fresh("continual-heatmap");
    let mut args = vec!["run", "naive", "--env", "split", "-q", "--out", "r"];
    args.extend(TINY);
    run_in(&root, &args).ok();
    let dir = root.join("r");
    let s: serde_json::Value = serde_json::from_str(&read(dir.join("summary.json"))).unwrap();
    let r = s["matrices"]["accuracy_matrix"].as_array().unwrap();
    assert_eq!(r.len(), 3, "{s}");
    assert!(r.iter().all(|row| row.as_array().unwrap().len() == 3));
    assert!(r[2][0].is_number(), "{s}");
    let fm = s["final_metrics"].as_object().unwrap();
    assert!(!fm.keys().any(|k| k.starts_with("r_")), "{s}");
    let png = std::fs::read(dir.join("accuracy_matrix.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let svg = read(dir.join("accuracy_matrix.svg"));
    assert!(svg.contains("<svg") && svg.contains("after experience i"));
    // The learning curves show `acc`, not one panel per experience.
    let curve = read(dir.join("learning_curve.svg"));
    assert!(!curve.contains("init_acc_0") && !curve.contains("just_trained_0"));

    // The pictures come back from the raw files alone.
    for f in [
        "accuracy_matrix.png",
        "accuracy_matrix.svg",
        "learning_curve.png",
        "learning_curve.svg",
    ] {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
    run_in(&root, &["plot", "r"]).ok().out_has("1 run folders");
    assert_eq!(read(dir.join("accuracy_matrix.svg")), svg);
    assert!(dir.join("learning_curve.png").is_file());
    no_temporaries(&dir);
}

#[test]
fn task_aware_accuracy_and_exports_go_through_compare() {
    let root = fresh("continual-compare");
    let mut args = vec![
        "sweep", "naive", "--env", "split", "--seeds", "0..2", "--jobs", "1", "--out", "s",
    ];
    args.extend(TINY);
    run_in(&root, &args).ok();
    for seed in [0, 1] {
        let run = format!("s/naive-split-seed{seed}");
        let out = format!("{run}/eval-task-aware.json");
        run_in(
            &root,
            &[
                "eval",
                "--run",
                &run,
                "--set",
                "env.scenario=task-incremental",
                "--output",
                &out,
            ],
        )
        .ok();
    }
    // Masked to each experience's classes, the model does at least as well.
    let compared = run_in(
        &root,
        &[
            "compare",
            "s",
            "--markdown",
            "--percent",
            "--metrics",
            "acc,task-aware.acc,gap,just_trained_*",
            "--derive",
            "gap=task-aware.acc - acc",
            "--export",
            "s/runs.jsonl",
        ],
    );
    compared.ok().out_has(
        "| group | seeds | acc % | task-aware.acc % | gap % | just_trained_0 % | just_trained_1 % | just_trained_2 % |",
    );
    let row = compared
        .stdout
        .lines()
        .find(|l| l.starts_with("| naive on split | 2 |"))
        .unwrap()
        .to_string();
    // The export holds the two summaries with their evaluations; compare reads it alike.
    let lines = read(root.join("s/runs.jsonl"));
    assert_eq!(lines.lines().count(), 2);
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert!(
        first["evaluations"]["task-aware"]["acc"].is_number(),
        "{first}"
    );
    assert!(first["matrices"]["accuracy_matrix"].is_array());
    let again = run_in(
        &root,
        &[
            "compare",
            "s/runs.jsonl",
            "--markdown",
            "--percent",
            "--metrics",
            "acc,task-aware.acc,gap,just_trained_*",
            "--derive",
            "gap=task-aware.acc - acc",
        ],
    );
    again.ok().out_has(&row);
    // The export's heat-maps, one per line.
    run_in(&root, &["plot", "s/runs.jsonl"])
        .ok()
        .out_has("2 runs.jsonl lines");
    let png = std::fs::read(root.join("s/heatmaps/naive-split-seed1-accuracy_matrix.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}
