//! Issue 18 ("Hardening"), runner side: checkpoints are integrity-checked, stale temporaries
//! are removed on resume, NaN handling, signals, exit codes and bad values naming their key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;

use common::*;
use sha2::{Digest, Sha256};

/// The checkpoint's bytes split at the end of the first line.
fn split_first_line(bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let at = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    (bytes[..at].to_vec(), bytes[at..].to_vec())
}

/// Changes one digit of the first weight in the algorithm's bytes (after the state line).
fn edit_weights(payload: &[u8]) -> Vec<u8> {
    let state_end = payload.iter().position(|&b| b == b'\n').unwrap() + 1;
    let w = state_end
        + payload[state_end..]
            .windows(5)
            .position(|x| x == b"\"w\":[")
            .unwrap();
    let mut out = payload.to_vec();
    let at = w + out[w..]
        .iter()
        .position(|b| (b'1'..=b'8').contains(b))
        .unwrap();
    out[at] += 1;
    out
}

fn write_with_checksum(path: &Path, payload: &[u8]) {
    let hex: String = Sha256::digest(payload)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut bytes = format!("AUTODIDACT-CHECKPOINT 2 sha256={hex}\n").into_bytes();
    bytes.extend_from_slice(payload);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn an_edited_checkpoint_is_refused_by_resume_and_eval() {
    let root = fresh("ckpt-edit");
    let extra = ["--set", "iterations=30", "--stop-after", "12"];
    run_in(&root, &run_args("r", &extra)).fails(1);
    let ckpt = root.join("r/checkpoint.ckpt");
    let good = std::fs::read(&ckpt).unwrap();
    let (first, payload) = split_first_line(&good);
    assert!(String::from_utf8_lossy(&first).starts_with("AUTODIDACT-CHECKPOINT 2 sha256="));

    // One digit of a weight changed.
    let edited = [first.clone(), edit_weights(&payload)].concat();
    std::fs::write(&ckpt, &edited).unwrap();
    for cmd in [&["resume", "r"][..], &["eval", "--run", "r"][..]] {
        run_in(&root, cmd)
            .fails(2)
            .err_has("r/checkpoint.ckpt: checksum mismatch");
    }

    // The step count edited (12 -> 13) in the runner's state.
    let text = String::from_utf8(payload.clone()).unwrap();
    let step_edit = text.replacen("\"step\":12,", "\"step\":13,", 1);
    assert_ne!(step_edit, text);
    std::fs::write(
        &ckpt,
        [first.clone(), step_edit.clone().into_bytes()].concat(),
    )
    .unwrap();
    for cmd in [&["resume", "r"][..], &["eval", "--run", "r"][..]] {
        run_in(&root, cmd)
            .fails(2)
            .err_has("r/checkpoint.ckpt: checksum mismatch");
    }
    // Even with a checksum that agrees, eval refuses a step count its state does not have,
    // as resume does.
    write_with_checksum(&ckpt, step_edit.as_bytes());
    for cmd in [&["resume", "r"][..], &["eval", "--run", "r"][..]] {
        run_in(&root, cmd)
            .fails(2)
            .err_has("the algorithm's state is at step 12, the runner's at step 13");
    }

    // A format-1 checkpoint (no checksum) is refused, saying why.
    std::fs::write(
        &ckpt,
        [b"AUTODIDACT-CHECKPOINT 1\n".to_vec(), payload.clone()].concat(),
    )
    .unwrap();
    run_in(&root, &["eval", "--run", "r"])
        .fails(2)
        .err_has("format-1 checkpoint");

    // The untouched file still resumes.
    std::fs::write(&ckpt, &good).unwrap();
    run_in(&root, &["eval", "--run", "r"]).ok();
    run_in(&root, &["resume", "r", "-q"]).ok();
}

#[test]
fn resume_removes_stale_temporaries_only() {
    let root = fresh("stale-tmp");
    run_in(
        &root,
        &run_args("r", &["--set", "iterations=20", "--stop-after", "5"]),
    )
    .fails(1);
    let dir = root.join("r");
    let stale = [
        ".checkpoint.ckpt.tmp-999999-0",
        ".metrics.jsonl.tmp-999999-3",
    ];
    let kept = ["notes.tmp-1-0", ".checkpoint.ckpt.tmp-old", "mine.txt"];
    for name in stale.iter().chain(&kept) {
        std::fs::write(dir.join(name), "x").unwrap();
    }
    run_in(&root, &["resume", "r", "-q"]).ok();
    for name in stale {
        assert!(!dir.join(name).exists(), "{name} left");
    }
    for name in kept {
        assert!(dir.join(name).exists(), "{name} removed");
    }
}

#[test]
fn no_checkpoint_holds_diverged_parameters() {
    let root = fresh("diverge");
    // The weights go NaN at step 12, which logs nothing (log_every 5): only is_finite tells.
    run_in(
        &root,
        &run_args(
            "r",
            &[
                "--set",
                "iterations=40",
                "--set",
                "log_every=5",
                "--set",
                "diverge_at=12",
                "--checkpoint-every",
                "2",
            ],
        ),
    )
    .fails(1)
    .err_has("training stopped at iteration 12: the parameters are NaN or infinite")
    .err_has("the last good checkpoint is r/checkpoint.ckpt (iteration 10)");
    let e = run_in(&root, &["eval", "--run", "r"]);
    e.ok();
    let v: serde_json::Value = serde_json::from_str(&read(root.join("r/eval.json"))).unwrap();
    assert_eq!(v["checkpoint_iteration"], 10);
    assert!(v["metrics"]["test_mse"].as_f64().unwrap().is_finite());
}

#[test]
fn a_nan_validation_metric_stops_before_the_checkpoint() {
    let root = fresh("nan-eval");
    // Diverged at 4 (no log), evaluated at 4: the evaluation is NaN and names the iteration.
    run_in(
        &root,
        &run_args(
            "r",
            &[
                "--set",
                "iterations=20",
                "--set",
                "log_every=5",
                "--set",
                "diverge_at=4",
                "--eval-every",
                "4",
                "--checkpoint-every",
                "3",
            ],
        ),
    )
    .fails(1)
    .err_has("training stopped at iteration 4: `eval.test_mse` is NaN")
    .err_has("(iteration 3)");
}

#[cfg(unix)]
fn spawn_run(root: &Path, args: &[&str]) -> std::process::Child {
    bin()
        .current_dir(root)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[cfg(unix)]
fn wait_for_lines(path: &Path, lines: usize) {
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(path).map_or(0, |t| t.lines().count()) < lines {
        assert!(t0.elapsed().as_secs() < 60, "the run never logged");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[cfg(unix)]
fn sigterm(pid: u32, times: usize) {
    let pid = pid.to_string();
    let mut args = vec!["-TERM"];
    // One `kill` with the pid repeated: the signals arrive together, as from GNU timeout.
    args.extend(std::iter::repeat_n(pid.as_str(), times));
    assert!(std::process::Command::new("kill")
        .args(&args)
        .status()
        .unwrap()
        .success());
}

#[cfg(unix)]
#[test]
fn sigterm_during_the_final_evaluation_exits_interrupted_and_resume_finishes() {
    let root = fresh("sigterm-eval");
    let child = spawn_run(
        &root,
        &run_args(
            "r",
            &["--set", "iterations=5", "--set", "eval_delay_ms=1500"],
        ),
    );
    // All five lines are written with the final checkpoint, just before the evaluation.
    wait_for_lines(&root.join("r/metrics.jsonl"), 5);
    std::thread::sleep(std::time::Duration::from_millis(300));
    sigterm(child.id(), 1);
    let r = finish(child.wait_with_output().unwrap());
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.err_has("interrupted at iteration 5 of 5")
        .err_has("autodidact resume r");
    assert!(!root.join("r/summary.json").exists());
    run_in(&root, &["resume", "r", "-q"]).ok();
    assert!(root.join("r/summary.json").exists());
}

#[cfg(unix)]
#[test]
fn the_same_sigterm_delivered_twice_still_checkpoints() {
    let root = fresh("sigterm-twice");
    let child = spawn_run(
        &root,
        &run_args("r", &["--set", "iterations=400", "--set", "delay_ms=5"]),
    );
    wait_for_lines(&root.join("r/metrics.jsonl"), 1);
    sigterm(child.id(), 2);
    let r = finish(child.wait_with_output().unwrap());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("interrupted again"), "{}", r.stderr);
    r.err_has("interrupted at iteration");
    run_in(&root, &["resume", "r", "-q"]).ok();
}

#[test]
fn eval_on_data_that_do_not_fit_the_model_is_an_input_error() {
    let root = fresh("eval-shape");
    run_in(
        &root,
        &[
            "run",
            "maml",
            "--env",
            "gaussian-classes",
            "--set",
            "meta_iterations=1",
            "-q",
            "--out",
            "m",
        ],
    )
    .ok();
    run_in(&root, &["eval", "--run", "m", "--set", "env.dim=8"])
        .fails(2)
        .err_has("cannot evaluate the run's maml on gaussian-classes")
        .err_has("inputs [8]");
}

#[test]
fn bench_refuses_zero_steps() {
    let root = fresh("bench-zero");
    run_in(
        &root,
        &["bench", "test-linear", "--env", "sinusoid", "--steps", "0"],
    )
    .fails(2)
    .err_has("bench --steps must be at least 1");
}

#[test]
fn compare_names_the_file_and_line_of_a_garbage_metrics_line() {
    let root = fresh("compare-garbage");
    run_in(
        &root,
        &run_args(
            "runs/r",
            &["--set", "iterations=10", "--set", "log_every=5"],
        ),
    )
    .ok();
    let m = root.join("runs/r/metrics.jsonl");
    std::fs::write(&m, read(&m) + "not json at all\n").unwrap();
    run_in(&root, &["compare", "runs", "--plot", "p.svg"])
        .fails(2)
        .err_has("runs/r/metrics.jsonl: line 3");
    run_in(&root, &["compare", "runs", "--first", "good=loss<=100"])
        .fails(2)
        .err_has("runs/r/metrics.jsonl: line 3");
}

/// `(args, the key the message must name)`: a bad value names its key, never only the value.
fn bad_values() -> Vec<(Vec<&'static str>, &'static str)> {
    let maml = ["run", "maml", "--env", "sinusoid", "-q", "--out", "x"];
    let dqn = ["run", "dqn", "--env", "gridworld", "-q", "--out", "x"];
    let proto = ["run", "proto-net", "--env", "omniglot", "-q", "--out", "x"];
    let with = |base: &[&'static str], set: &'static str| {
        let mut a = base.to_vec();
        a.extend(["--set", set]);
        a
    };
    vec![
        (
            with(&maml, "meta_iterations=-5"),
            "key `meta_iterations`: got -5",
        ),
        (with(&maml, "first_order=1"), "key `first_order`: got 1"),
        (with(&maml, "hidden=[40, -1]"), "key `hidden`: got [40, -1]"),
        (with(&maml, "env.shots=-1"), "key `env.shots`: got -1"),
        (with(&dqn, "gamma=true"), "key `gamma`: got true"),
        // Paths: the expected type in words, and an empty one named (item 5).
        (
            with(&proto, "env.data_dir=5"),
            "key `env.data_dir`: got 5, expected string or list of strings",
        ),
        (
            with(&proto, "env.data_dir=\"\""),
            "key `env.data_dir`: an empty path: give an Omniglot folder or zip file",
        ),
        // Thread counts are bounded before any thread starts (item 3).
        (
            with(&maml, "threads=100000"),
            "key `threads`: 100000 is outside the allowed range 0 ..= 256",
        ),
        (
            with(&dqn, "threads=100000"),
            "key `threads`: 100000 is outside the allowed range 0 ..= 256",
        ),
    ]
}

#[test]
fn sweep_jobs_are_bounded() {
    let root = fresh("sweep-jobs");
    // clap's own usage error (several lines), exit 2.
    let r = run_in(
        &root,
        &[
            "sweep", "maml", "--env", "sinusoid", "--jobs", "100000", "--out", "s",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    r.err_has("'100000' for '--jobs <N>': 100000 is not in 1..=1024");
    assert!(!root.join("s").exists());
}

#[test]
fn a_run_on_a_test_only_split_is_refused_before_any_work() {
    let root = fresh("test-only-run");
    run_in(
        &root,
        &[
            "run",
            "proto-net",
            "--env",
            "omniglot",
            "-q",
            "--out",
            "x",
            "--set",
            "env.split=test-only",
        ],
    )
    .fails(2)
    .err_has("key `env.split`")
    .err_has("autodidact eval");
    assert!(!root.join("x").exists());
}

#[test]
fn bad_values_name_their_key_from_set_and_from_a_file() {
    let root = fresh("bad-values");
    for (args, key) in bad_values() {
        run_in(&root, &args).fails(2).err_has(key);
        // The same value from a --config file.
        let set = args[args.len() - 1];
        let (k, v) = set.split_once('=').unwrap();
        let toml = match k.strip_prefix("env.") {
            Some(k) => format!("[env]\n{k} = {v}\n"),
            None => format!("{k} = {v}\n"),
        };
        std::fs::write(root.join("c.toml"), toml).unwrap();
        let mut from_file = args[..args.len() - 2].to_vec();
        from_file.extend(["--config", "c.toml"]);
        run_in(&root, &from_file).fails(2).err_has(key);
    }
    // With two --set flags, the bad one is named, whichever comes first.
    for order in [
        ["meta_iterations=3", "first_order=1"],
        ["first_order=1", "meta_iterations=3"],
    ] {
        let r = run_in(
            &root,
            &[
                "run", "maml", "--env", "sinusoid", "-q", "--out", "x", "--set", order[0], "--set",
                order[1],
            ],
        );
        r.fails(2).err_has("key `first_order`: got 1");
        assert!(!r.stderr.contains("meta_iterations"), "{}", r.stderr);
    }
    assert!(!root.join("x").exists());
}

#[test]
fn nan_messages_number_iterations_from_one_everywhere() {
    let root = fresh("nan-numbering");
    // A huge inner rate: the very first meta-loss is NaN. The runner and MAML must both call
    // it iteration 1.
    run_in(
        &root,
        &[
            "run",
            "maml",
            "--env",
            "sinusoid",
            "--set",
            "meta_iterations=5",
            "--set",
            "meta_batch=2",
            "--set",
            "inner_lr=1000",
            "--set",
            "inner_steps=5",
            "--set",
            "first_order=true",
            "-q",
            "--out",
            "q",
        ],
    )
    .fails(1)
    .err_has(
        "training failed at iteration 1: numerical error: meta-iteration 1: the meta-loss is NaN",
    )
    .err_has("(iteration 0)");
}

/// A CSV of `classes` intents named `PREFIX_NN`, `per` messages each, with class words.
fn intents_csv(prefix: &str, classes: usize, per: usize) -> String {
    let words = [
        "card", "transfer", "refund", "top", "up", "pin", "atm", "fee", "exchange", "rate", "cash",
        "lost", "loan", "app", "limit", "salary",
    ];
    let mut s = "text,category\n".to_string();
    for c in 0..classes {
        for i in 0..per {
            let (a, b) = (words[c % words.len()], words[(c * 3 + 1) % words.len()]);
            let w = words[(i * 5 + c) % words.len()];
            s.push_str(&format!("my {a} {b} {a} issue {w},{prefix}_{c:02}\n"));
        }
    }
    s
}

#[test]
fn a_trained_run_is_evaluated_on_new_data_with_a_test_only_split() {
    let root = fresh("eval-new-data");
    std::fs::write(root.join("a.csv"), intents_csv("old", 16, 20)).unwrap();
    // Four new intents: too few for a three-way split of 5-way episodes.
    std::fs::write(root.join("b.csv"), intents_csv("new", 5, 20)).unwrap();
    let small = [
        "--set",
        "meta_iterations=30",
        "--set",
        "eval_episodes=20",
        "--set",
        "val_every=0",
        "--set",
        "env.ways=3",
        "--set",
        "env.shots=2",
        "--set",
        "env.queries=3",
        "--set",
        "env.dim=128",
    ];
    let mut args = vec![
        "run",
        "proto-net",
        "--env",
        "intents",
        "-q",
        "--out",
        "r",
        "--set",
    ];
    args.push("env.data_dir=a.csv");
    args.extend(small);
    run_in(&root, &args).ok();
    // Without test-only, the new data cannot fill the three splits.
    run_in(
        &root,
        &["eval", "--run", "r", "--set", "env.data_dir=b.csv"],
    )
    .fails(2);
    run_in(
        &root,
        &[
            "eval",
            "--run",
            "r",
            "--set",
            "env.data_dir=b.csv",
            "--set",
            "env.split=test-only",
            "--output",
            "r/eval-new.json",
        ],
    )
    .ok()
    .out_has("query_accuracy");
    let e: serde_json::Value = serde_json::from_str(&read(root.join("r/eval-new.json"))).unwrap();
    assert_eq!(e["env_params"]["split"], "test-only");
    let acc = e["metrics"]["query_accuracy"].as_f64().unwrap();
    assert!(
        acc > 1.0 / 3.0,
        "3-way accuracy {acc} on new intents should beat chance"
    );
}

#[test]
fn an_episode_whose_activations_cannot_fit_is_refused_before_any_work() {
    let root = fresh("episode-memory");
    // About 244 GiB of activations for one episode: more than any test machine has.
    run_in(
        &root,
        &[
            "run",
            "maml",
            "--env",
            "sinusoid",
            "-q",
            "--out",
            "x",
            "--set",
            "env.shots=1000000",
            "--set",
            "hidden=[4096, 4096]",
        ],
    )
    .fails(2)
    .err_has("key `env.shots`: one episode (1000010 examples")
    .err_has("available; make it smaller");
    assert!(!root.join("x").exists());
}
