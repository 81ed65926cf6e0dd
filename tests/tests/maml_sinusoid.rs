//! MAML on sinusoid through the runner: the pre- and post-adaptation MSE are reported, a run
//! stopped and resumed ends bit for bit like one that ran straight through, a sweep gives the
//! same bytes whatever `--jobs`, and a checkpoint evaluates on other task parameters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;

use common::*;

/// A short MAML configuration (the defaults train for minutes).
const SMALL: [&str; 14] = [
    "--set",
    "meta_iterations=24",
    "--set",
    "meta_batch=4",
    "--set",
    "eval_tasks=20",
    "--set",
    "val_every=8",
    "--set",
    "val_tasks=8",
    "--set",
    "log_every=2",
    "--set",
    "test_inner_steps=3",
];

fn maml(out: &Path, extra: &[&str]) -> Result<(), autodidact_runner::RunnerError> {
    let mut args = vec!["run", "maml", "--env", "sinusoid", "-q", "--out", s(out)];
    args.extend(SMALL);
    args.extend(extra);
    autodidact(&args)
}

#[test]
fn maml_stopped_and_resumed_ends_bit_for_bit_like_straight_through() {
    let root = fresh("maml-resume");
    let (straight, resumed) = (root.join("straight"), root.join("resumed"));
    maml(&straight, &["--seed", "2"]).unwrap();
    let err = maml(
        &resumed,
        &[
            "--seed",
            "2",
            "--stop-after",
            "11",
            "--checkpoint-every",
            "4",
        ],
    )
    .unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
    autodidact(&["resume", s(&resumed), "-q", "--stop-after", "17"]).unwrap_err();
    autodidact(&["resume", s(&resumed), "-q"]).unwrap();
    assert_same_run(&straight, &resumed);

    // The pre- and post-adaptation MSE are in the final metrics.
    let f = &summary(&straight)["final_metrics"];
    let keys: Vec<&String> = f.as_object().unwrap().keys().collect();
    assert!(
        keys.iter().any(|k| k.contains("before")) && keys.iter().any(|k| k.contains("after")),
        "no pre/post-adaptation metric in {keys:?}"
    );

    // Another sinusoid (smaller amplitudes) evaluates the same checkpoint.
    let out = root.join("narrow.json");
    autodidact(&[
        "eval",
        "--run",
        s(&straight),
        "--set",
        "env.amplitude_max=1.0",
        "--output",
        s(&out),
    ])
    .unwrap();
    let e: serde_json::Value = serde_json::from_str(&read(&out)).unwrap();
    assert_eq!(e["env_params"]["amplitude_max"], 1.0);
}

#[test]
fn a_maml_sweep_gives_the_same_bytes_whatever_jobs() {
    let root = fresh("maml-sweep");
    let sweep = |out: &Path, jobs: &str| {
        let mut args = vec![
            "sweep",
            "maml",
            "--env",
            "sinusoid",
            "--seeds",
            "0..2",
            "--grid",
            "inner_lr=0.01,0.02",
            "--jobs",
            jobs,
            "--out",
            s(out),
        ];
        args.extend(SMALL);
        autodidact(&args).unwrap();
    };
    let (one, two) = (root.join("one"), root.join("two"));
    sweep(&one, "1");
    sweep(&two, "2");
    let mut n = 0;
    for e in std::fs::read_dir(&one).unwrap() {
        let name = e.unwrap().file_name();
        assert_same_run(&one.join(&name), &two.join(&name));
        n += 1;
    }
    assert_eq!(n, 4);
}
