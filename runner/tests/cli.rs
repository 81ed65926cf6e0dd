//! The `autodidact` command end to end, on `test-linear` (feature `test-algorithms`): a tiny
//! deterministic algorithm with failure injection, on the `sinusoid` environment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;

use common::*;

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn every_command_has_help() {
    let root = fresh("help");
    for cmd in [
        "list", "describe", "run", "eval", "resume", "sweep", "compare", "plot", "bench", "serve",
    ] {
        let r = run_in(&root, &[cmd, "--help"]);
        r.ok();
        assert!(
            r.stdout.contains("Usage: autodidact"),
            "{cmd}: {}",
            r.stdout
        );
    }
    run_in(&root, &["--help"]).ok().out_has("Exit codes");
    run_in(&root, &["--version"]).ok().out_has("autodidact");
    let r = run_in(&root, &["run"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run_in(&root, &["frobnicate"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn list_and_describe() {
    let root = fresh("list");
    let r = run_in(&root, &["list", "--json"]);
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let names = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names("algorithms").contains(&"test-linear".to_string()));
    for env in [
        "sinusoid",
        "gaussian-classes",
        "gridworld",
        "cartpole",
        "split",
    ] {
        assert!(names("environments").contains(&env.to_string()), "{env}");
    }
    let t = run_in(&root, &["list"]);
    t.ok()
        .out_has("test-linear")
        .out_has("few-shot-regression")
        .out_has("sinusoid");

    // describe prints TOML that parses back to the defaults.
    let d = run_in(&root, &["describe", "test-linear"]);
    d.ok().out_has("# SGD step size (float, 0 ..= 10)");
    let parsed: toml::Table = d.stdout.parse().unwrap();
    assert_eq!(parsed["lr"], toml::Value::Float(0.02));
    assert_eq!(parsed["iterations"], toml::Value::Integer(100));
    let e = run_in(&root, &["describe", "sinusoid"]);
    let parsed: toml::Table = e.ok().stdout.parse().unwrap();
    assert_eq!(parsed["env"]["shots"], toml::Value::Integer(10));

    run_in(&root, &["describe", "sinusiod"])
        .fails(2)
        .err_has("unknown algorithm or environment `sinusiod`; did you mean `sinusoid`?");
}

#[test]
fn a_run_writes_its_folder() {
    let root = fresh("run");
    let r = run_in(
        &root,
        &[
            "run",
            "test-linear",
            "--env",
            "sinusoid",
            "--set",
            "iterations=40",
            "--out",
            "r",
        ],
    );
    r.ok()
        .out_has("Final metrics:")
        .out_has("test_mse")
        .out_has("Summary: r/summary.json")
        .out_has("Plot:    r/learning_curve.png");
    let dir = root.join("r");
    for f in [
        "config.toml",
        "metrics.jsonl",
        "summary.json",
        "checkpoint.ckpt",
        "learning_curve.svg",
        "learning_curve.png",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    no_temporaries(&dir);
    let lines: Vec<String> = read(dir.join("metrics.jsonl"))
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 40);
    assert!(
        lines[0].starts_with("{\"step\":1,\"loss\":"),
        "{}",
        lines[0]
    );
    let s: serde_json::Value = serde_json::from_str(&read(dir.join("summary.json"))).unwrap();
    assert_eq!(s["algorithm"], "test-linear");
    assert_eq!(s["env"], "sinusoid");
    assert_eq!(s["seed"], 0);
    assert_eq!(s["iterations"], 40);
    assert!(s["final_metrics"]["test_mse"].as_f64().unwrap() > 0.0);
    assert!(s["final_metrics"]["loss"].is_number());
    assert_eq!(
        s["versions"]["rustc"].as_str().unwrap().split(' ').next(),
        Some("rustc")
    );
    assert!(s["versions"]["autodidact"].is_string());
    for k in [
        "started",
        "finished",
        "session_wall_seconds",
        "train_seconds",
        "steps_per_second",
    ] {
        assert!(s["timing"].get(k).is_some(), "timing.{k}");
    }
    // test-linear has no `threads` key: it runs on the calling thread.
    assert_eq!(
        s["threads"],
        serde_json::json!({ "setting": null, "workers": 1 })
    );
    // The resolved configuration is a valid --config file.
    let config: toml::Table = read(dir.join("config.toml")).parse().unwrap();
    assert_eq!(config["iterations"], toml::Value::Integer(40));
    assert_eq!(config["env"]["shots"], toml::Value::Integer(10));
    let png = std::fs::read(dir.join("learning_curve.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");

    // A folder that holds a run is not overwritten.
    run_in(&root, &run_args("r", &["--set", "iterations=5"]))
        .fails(2)
        .err_has("already holds a run")
        .err_has("autodidact resume r");
}

#[test]
fn the_summary_reports_the_threads_setting_and_its_workers() {
    let root = fresh("threads");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (out, set, setting, workers) in [
        ("two", Some("threads=2"), 2, 2),
        ("default", None, 0, cores),
    ] {
        let mut a = vec![
            "run",
            "maml",
            "--env",
            "sinusoid",
            "--set",
            "meta_iterations=2",
            "--set",
            "meta_batch=2",
            "--set",
            "eval_tasks=2",
            "--set",
            "val_every=0",
            "--out",
            out,
        ];
        if let Some(set) = set {
            a.extend(["--set", set]);
        }
        run_in(&root, &a).ok();
        let s: serde_json::Value =
            serde_json::from_str(&read(root.join(out).join("summary.json"))).unwrap();
        assert_eq!(
            s["threads"],
            serde_json::json!({ "setting": setting, "workers": workers }),
            "{out}"
        );
        assert_eq!(s["hyperparameters"]["threads"], setting, "{out}");
    }
    // Out of range: refused with the key named, before anything runs.
    run_in(
        &root,
        &[
            "run",
            "maml",
            "--env",
            "sinusoid",
            "--set",
            "threads=257",
            "--out",
            "bad",
        ],
    )
    .fails(2)
    .err_has("threads");
}

#[test]
fn the_default_folder_is_under_runs() {
    let root = fresh("default-out");
    run_in(
        &root,
        &[
            "run",
            "test-linear",
            "--env",
            "sinusoid",
            "-q",
            "--set",
            "iterations=3",
        ],
    )
    .ok();
    let runs: Vec<_> = std::fs::read_dir(root.join("runs")).unwrap().collect();
    assert_eq!(runs.len(), 1);
    let name = runs[0]
        .as_ref()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with("test-linear-sinusoid-20"), "{name}");
}

#[test]
fn same_seed_same_bytes_other_seed_other_numbers() {
    let root = fresh("determinism");
    let extra = ["--set", "iterations=50", "--seed", "7"];
    run_in(&root, &run_args("a", &extra)).ok();
    run_in(&root, &run_args("b", &extra)).ok();
    run_in(
        &root,
        &run_args("c", &["--set", "iterations=50", "--seed", "8"]),
    )
    .ok();
    let (a, b, c) = (root.join("a"), root.join("b"), root.join("c"));
    assert_eq!(read(a.join("metrics.jsonl")), read(b.join("metrics.jsonl")));
    assert_eq!(summary_without_timing(&a), summary_without_timing(&b));
    assert_ne!(read(a.join("metrics.jsonl")), read(c.join("metrics.jsonl")));
}

/// Straight through vs. stopped (twice) and resumed: the same bytes.
#[test]
fn interrupted_then_resumed_ends_bit_for_bit_like_straight_through() {
    let root = fresh("resume");
    let extra = [
        "--set",
        "iterations=90",
        "--set",
        "log_every=3",
        "--seed",
        "3",
    ];
    run_in(&root, &run_args("straight", &extra)).ok();

    let mut stopped = extra.to_vec();
    stopped.extend(["--stop-after", "31", "--checkpoint-every", "10"]);
    run_in(&root, &run_args("resumed", &stopped))
        .fails(1)
        .err_has("interrupted at iteration 31 of 90")
        .err_has("autodidact resume resumed");
    assert!(!root.join("resumed/summary.json").exists());
    let lines = read(root.join("resumed/metrics.jsonl")).lines().count();
    assert_eq!(lines, 10, "metrics up to the stop are saved");
    run_in(&root, &["resume", "resumed", "-q", "--stop-after", "62"])
        .fails(1)
        .err_has("interrupted at iteration 62 of 90");
    run_in(&root, &["resume", "resumed"])
        .ok()
        .out_has("Final metrics:");

    let (s, r) = (root.join("straight"), root.join("resumed"));
    assert_eq!(
        std::fs::read(s.join("metrics.jsonl")).unwrap(),
        std::fs::read(r.join("metrics.jsonl")).unwrap()
    );
    assert_eq!(summary_without_timing(&s), summary_without_timing(&r));
    let sessions = serde_json::from_str::<serde_json::Value>(&read(r.join("summary.json")))
        .unwrap()["timing"]["sessions"]
        .as_u64();
    assert_eq!(sessions, Some(3));
    no_temporaries(&r);
}

/// `--eval-every` logs `eval.KEY` every N steps and at the end, survives a resume bit for bit,
/// and `compare --first` finds the first step at a threshold.
#[test]
fn evaluations_during_training_are_logged_and_resume_alike() {
    let root = fresh("eval-every");
    let extra = [
        "--set",
        "iterations=40",
        "--set",
        "log_every=4",
        "--eval-every",
        "10",
    ];
    run_in(&root, &run_args("straight", &extra)).ok();
    let log = read(root.join("straight/metrics.jsonl"));
    let eval_steps: Vec<u64> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| {
            v.as_object()
                .unwrap()
                .keys()
                .any(|k| k.starts_with("eval."))
        })
        .map(|v| v["step"].as_u64().unwrap())
        .collect();
    assert_eq!(eval_steps, [10, 20, 30, 40], "{log}");

    let mut stopped = extra.to_vec();
    stopped.extend(["--stop-after", "15", "--checkpoint-every", "5"]);
    run_in(&root, &run_args("resumed", &stopped)).fails(1);
    run_in(&root, &["resume", "resumed", "-q"]).ok();
    assert_eq!(log, read(root.join("resumed/metrics.jsonl")));

    // The first evaluation at the lowest test MSE is found again by compare.
    let evals: Vec<(u64, f64)> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| Some((v["step"].as_u64()?, v["eval.test_mse"].as_f64()?)))
        .collect();
    let best = evals.iter().map(|e| e.1).fold(f64::INFINITY, f64::min);
    let at = evals.iter().find(|e| e.1 <= best).unwrap().0;
    let r = run_in(
        &root,
        &[
            "compare",
            "straight",
            "--markdown",
            "--metrics",
            "reached",
            "--first",
            &format!("reached=eval.test_mse<={best:e}"),
        ],
    );
    r.ok().out_has(&format!("| 1 | {at} |"));
}

/// A metrics file longer than its checkpoint (a crash between the two writes) is cut back;
/// an edited one is refused.
#[test]
fn resume_cuts_metrics_back_to_the_checkpoint() {
    let root = fresh("resume-cut");
    let extra = ["--set", "iterations=30", "--seed", "1"];
    run_in(&root, &run_args("straight", &extra)).ok();
    let mut stopped = extra.to_vec();
    stopped.extend(["--stop-after", "12"]);
    run_in(&root, &run_args("r", &stopped)).fails(1);
    let metrics = root.join("r/metrics.jsonl");
    let mut text = read(&metrics);
    text.push_str("{\"step\":13,\"loss\":1.0}\n{\"step\":14,\"lo");
    std::fs::write(&metrics, &text).unwrap();
    run_in(&root, &["resume", "r", "-q"]).ok();
    assert_eq!(read(root.join("straight/metrics.jsonl")), read(&metrics));

    run_in(
        &root,
        &run_args("e", &["--set", "iterations=30", "--stop-after", "12"]),
    )
    .fails(1);
    let m = root.join("e/metrics.jsonl");
    std::fs::write(&m, read(&m).replacen("\"step\":2", "\"step\":5", 1)).unwrap();
    run_in(&root, &["resume", "e"])
        .fails(2)
        .err_has("does not match the checkpoint");
    run_in(&root, &["resume", "nowhere"])
        .fails(2)
        .err_has("not a folder");
    std::fs::create_dir_all(root.join("empty")).unwrap();
    run_in(&root, &["resume", "empty"])
        .fails(2)
        .err_has("holds no checkpoint");
}

/// A real SIGTERM in the middle of a run: checkpoint, non-zero exit, resume ends like
/// straight through. (The stopped run sleeps in each step so the signal lands mid-run; the
/// sleep changes nothing else, so the straight run skips it.)
#[cfg(unix)]
#[test]
fn sigterm_stops_with_a_checkpoint_and_resume_finishes_the_same() {
    let root = fresh("sigterm");
    let common = ["--set", "iterations=400", "--checkpoint-every", "5"];
    run_in(&root, &run_args("straight", &common)).ok();

    let mut slow = common.to_vec();
    slow.extend(["--set", "delay_ms=5"]);
    let child = bin()
        .current_dir(&root)
        .args(run_args("killed", &slow))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let metrics = root.join("killed/metrics.jsonl");
    let t0 = std::time::Instant::now();
    while std::fs::metadata(&metrics).map_or(0, |m| m.len()) == 0 {
        assert!(t0.elapsed().as_secs() < 60, "the run never logged");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let r = finish(child.wait_with_output().unwrap());
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.err_has("stopping after the current step")
        .err_has("interrupted at iteration")
        .err_has("autodidact resume killed");
    assert!(
        !root.join("killed/summary.json").exists(),
        "stopped before the end"
    );
    run_in(&root, &["resume", "killed", "-q"]).ok();
    assert_eq!(read(root.join("straight/metrics.jsonl")), read(&metrics));
    let without_delay = |dir: &str| {
        let mut v = summary_without_timing(&root.join(dir));
        v["hyperparameters"]
            .as_object_mut()
            .unwrap()
            .remove("delay_ms");
        v
    };
    assert_eq!(without_delay("straight"), without_delay("killed"));
}

#[test]
fn a_nan_stops_naming_the_iteration_and_the_last_good_checkpoint() {
    let root = fresh("nan");
    run_in(
        &root,
        &run_args("r", &["--set", "nan_at=25", "--checkpoint-every", "10"]),
    )
    .fails(1)
    .err_has("training stopped at iteration 25: `loss` is NaN")
    .err_has("the last good checkpoint is r/checkpoint.ckpt (iteration 20)");
    assert_eq!(read(root.join("r/metrics.jsonl")).lines().count(), 24);
    assert!(!root.join("r/summary.json").exists());
}

#[test]
fn failures_and_panics_are_one_line_with_exit_1() {
    let root = fresh("fail");
    run_in(
        &root,
        &run_args("f", &["--set", "fail_at=7", "--checkpoint-every", "5"]),
    )
    .fails(1)
    .err_has("training failed at iteration 7: numerical error: injected failure")
    .err_has("(iteration 5)");
    run_in(&root, &run_args("p", &["--set", "panic_at=3"]))
        .fails(1)
        .err_has("test-linear panicked at iteration 3: injected panic");
}

#[test]
fn configuration_resolves_defaults_file_then_set() {
    let root = fresh("config");
    std::fs::write(
        root.join("c.toml"),
        "iterations = 12\nlr = 0.05\n\n[env]\nshots = 4\nqueries = 3\n",
    )
    .unwrap();
    run_in(
        &root,
        &run_args(
            "r",
            &[
                "--config",
                "c.toml",
                "--set",
                "lr=0.01",
                "--set",
                "env.queries=6",
            ],
        ),
    )
    .ok();
    let c: toml::Table = read(root.join("r/config.toml")).parse().unwrap();
    assert_eq!(c["iterations"], toml::Value::Integer(12)); // file
    assert_eq!(c["lr"], toml::Value::Float(0.01)); // --set over file
    assert_eq!(c["batch"], toml::Value::Integer(4)); // default
    assert_eq!(c["env"]["shots"], toml::Value::Integer(4));
    assert_eq!(c["env"]["queries"], toml::Value::Integer(6));
    // An integer where a float is expected is taken as a float.
    run_in(
        &root,
        &run_args("i", &["--set", "lr=1", "--set", "iterations=2"]),
    )
    .ok();
    let c: toml::Table = read(root.join("i/config.toml")).parse().unwrap();
    assert_eq!(c["lr"], toml::Value::Float(1.0));
    // The resolved file repeats the run.
    run_in(&root, &run_args("again", &["--config", "r/config.toml"])).ok();
    assert_eq!(
        read(root.join("r/metrics.jsonl")),
        read(root.join("again/metrics.jsonl"))
    );
}

#[test]
fn input_errors_are_one_line_with_exit_2() {
    let root = fresh("input");
    run_in(&root, &run_args("a", &["--set", "lrate=0.1"]))
        .fails(2)
        .err_has("unknown key `lrate` for algorithm test-linear")
        .err_has("valid keys: iterations, lr, log_every");
    run_in(&root, &run_args("a", &["--set", "lr=-1"]))
        .fails(2)
        .err_has("key `lr`")
        .err_has("0 ..= 10");
    run_in(&root, &run_args("a", &["--set", "env.shot=3"]))
        .fails(2)
        .err_has("unknown key `env.shot` for environment sinusoid (did you mean `env.shots`?)");
    run_in(&root, &run_args("a", &["--set", "env.shots=0"]))
        .fails(2)
        .err_has("shots");
    run_in(&root, &run_args("a", &["--set", "lr"]))
        .fails(2)
        .err_has("is not KEY=VALUE");
    run_in(&root, &["run", "test-linear", "--env", "gridworld"])
        .fails(2)
        .err_has("test-linear trains on a few-shot regression task distribution or a few-shot classification task distribution; gridworld is an RL environment");
    run_in(&root, &["run", "test-linaer", "--env", "sinusoid"])
        .fails(2)
        .err_has("unknown algorithm `test-linaer`; did you mean `test-linear`?");
    run_in(&root, &["run", "test-linear", "--env", "sinusiod"])
        .fails(2)
        .err_has("unknown environment `sinusiod`; did you mean `sinusoid`?");
    run_in(&root, &["run", "sinusoid", "--env", "sinusoid"])
        .fails(2)
        .err_has("`sinusoid` is an environment, not an algorithm");
    run_in(&root, &run_args("a", &["--config", "missing.toml"]))
        .fails(2)
        .err_has("cannot read missing.toml");
    std::fs::write(root.join("bad.toml"), "lr = 0.1\nbatch = = 2\n").unwrap();
    run_in(&root, &run_args("a", &["--config", "bad.toml"]))
        .fails(2)
        .err_has("bad.toml: line 2");
    std::fs::write(root.join("unknown.toml"), "[env]\nwidth = 3\n").unwrap();
    run_in(&root, &run_args("a", &["--config", "unknown.toml"]))
        .fails(2)
        .err_has("unknown key `env.width`");
    // Nothing was created by the failed commands.
    assert!(!root.join("a").exists());
}

#[test]
fn eval_on_the_run_and_on_another_environment_of_the_same_kind() {
    let root = fresh("eval");
    run_in(&root, &run_args("r", &["--set", "iterations=20"])).ok();
    let own = run_in(&root, &["eval", "--run", "r"]);
    own.ok().out_has("test_mse");
    let v: serde_json::Value = serde_json::from_str(&read(root.join("r/eval.json"))).unwrap();
    let s: serde_json::Value = serde_json::from_str(&read(root.join("r/summary.json"))).unwrap();
    assert_eq!(v["metrics"]["test_mse"], s["evaluation"]["test_mse"]);
    assert_eq!(v["checkpoint_iteration"], 20);

    run_in(
        &root,
        &[
            "eval",
            "--run",
            "r",
            "--set",
            "env.amplitude_max=1.0",
            "--output",
            "narrow.json",
        ],
    )
    .ok();
    let n: serde_json::Value = serde_json::from_str(&read(root.join("narrow.json"))).unwrap();
    assert_eq!(n["env_params"]["amplitude_max"], 1.0);
    assert_ne!(n["metrics"]["test_mse"], v["metrics"]["test_mse"]);

    run_in(&root, &["eval", "--run", "r", "--env", "gaussian-classes"])
        .fails(2)
        .err_has("eval needs an environment of the same kind");
    run_in(&root, &["eval", "--run", "r", "--set", "lr=0.1"])
        .fails(2)
        .err_has("eval takes environment parameters only");
    run_in(&root, &["eval", "--run", "nothing"]).fails(2);
}

#[test]
fn sweep_is_deterministic_whatever_jobs_and_shards_merge() {
    let root = fresh("sweep");
    let base = [
        "sweep",
        "test-linear",
        "--env",
        "sinusoid",
        "--seeds",
        "0..3",
        "--grid",
        "lr=0.01,0.03",
        "--set",
        "iterations=25",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let one = with(&["--jobs", "1", "--out", "one"]);
    run_in(&root, &args(&one))
        .ok()
        .out_has("6 finished runs in 2 groups")
        .out_has("lr=0.03");
    let two = with(&["--jobs", "2", "--out", "two"]);
    run_in(&root, &args(&two)).ok();
    let s0 = with(&["--jobs", "2", "--out", "sharded", "--shard", "0/2"]);
    run_in(&root, &args(&s0))
        .ok()
        .out_has("autodidact compare sharded");
    let s1 = with(&["--jobs", "1", "--out", "sharded", "--shard", "1/2"]);
    run_in(&root, &args(&s1)).ok();

    let mut names: Vec<String> = std::fs::read_dir(root.join("one"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 6);
    assert_eq!(names[0], "test-linear-sinusoid-lr=0.01-seed0");
    for n in &names {
        let a = root.join("one").join(n);
        for other in ["two", "sharded"] {
            let b = root.join(other).join(n);
            assert_eq!(
                read(a.join("metrics.jsonl")),
                read(b.join("metrics.jsonl")),
                "{other}/{n}"
            );
            assert_eq!(
                summary_without_timing(&a),
                summary_without_timing(&b),
                "{other}/{n}"
            );
        }
    }
    // A sweep run again skips what is finished.
    run_in(&root, &args(&one))
        .ok()
        .err_has("already finished, skipped");

    // Compare merges folders and groups by configuration.
    let c = run_in(&root, &["compare", "one", "--plot", "curves.png"]);
    c.ok()
        .out_has("6 finished runs in 2 groups")
        .out_has("test-linear on sinusoid, lr=0.01")
        .out_has("mean ± 95% CI")
        .out_has("Curves: curves.png");
    assert_eq!(
        &std::fs::read(root.join("curves.png")).unwrap()[1..4],
        b"PNG"
    );
    let j = run_in(
        &root,
        &["compare", "one", "two", "--json", "--plot", "curves.svg"],
    );
    let groups: serde_json::Value = serde_json::from_str(&j.ok().stdout).unwrap();
    assert_eq!(groups.as_array().unwrap().len(), 2);
    assert_eq!(
        groups[0]["seeds"].as_array().unwrap().len(),
        6,
        "both folders merge"
    );
    assert!(groups[0]["metrics"]["test_mse"]["ci95"].as_f64().unwrap() > 0.0);
    assert!(read(root.join("curves.svg")).starts_with("<svg"));

    run_in(&root, &["compare", "nowhere"]).fails(2);
    std::fs::create_dir_all(root.join("empty")).unwrap();
    run_in(&root, &["compare", "empty"])
        .fails(2)
        .err_has("no finished run");
    run_in(&root, &["compare", "one", "--plot", "x.pdf"])
        .fails(2)
        .err_has(".svg or .png");
    run_in(&root, &args(&with(&["--shard", "2/2"])))
        .fails(2)
        .err_has("must be below N");
    run_in(
        &root,
        &["sweep", "test-linear", "--env", "sinusoid", "--seeds", "x"],
    )
    .fails(2)
    .err_has("not a seed range");
}

#[test]
fn a_sweep_reports_failed_runs_and_exits_1() {
    let root = fresh("sweep-fail");
    let r = run_in(
        &root,
        &[
            "sweep",
            "test-linear",
            "--env",
            "sinusoid",
            "--seeds",
            "0",
            "--grid",
            "fail_at=0,3",
            "--set",
            "iterations=5",
            "--out",
            "s",
            "--jobs",
            "2",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("FAILED: training failed at iteration 3"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("autodidact: error: 1 of 2 runs failed"),
        "{}",
        r.stderr
    );
}

#[test]
fn bench_reports_steps_per_second() {
    let root = fresh("bench");
    let r = run_in(
        &root,
        &[
            "bench",
            "test-linear",
            "--env",
            "sinusoid",
            "--steps",
            "20",
            "--warmup",
            "2",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(r.ok().stdout.trim()).unwrap();
    assert_eq!(v["steps"], 20);
    assert!(v["steps_per_second"].as_f64().unwrap() > 0.0);
    // One more step under the FLOP meter: MAML on a 1-40-40-1 MLP, 2 tasks of 10 + 10 points,
    // one inner step, second order: at least the forward products of every task's support and
    // query passes (2 · 20 points · (40 + 1600 + 40) multiply-adds per task).
    let r = run_in(
        &root,
        &[
            "bench",
            "maml",
            "--env",
            "sinusoid",
            "--set",
            "meta_batch=2",
            "--set",
            "inner_steps=1",
            "--steps",
            "2",
            "--warmup",
            "0",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(r.ok().stdout.trim()).unwrap();
    let flops = v["flops_per_step"].as_f64().unwrap();
    assert!(flops >= 2.0 * 2.0 * 20.0 * 1680.0, "{v}");
    assert!(v["gflops"].as_f64().unwrap() > 0.0, "{v}");
    run_in(
        &root,
        &[
            "bench",
            "test-linear",
            "--env",
            "sinusoid",
            "--set",
            "iterations=5",
            "--steps",
            "10",
        ],
    )
    .ok()
    .out_has("the run ends after 5 steps");
    assert!(
        std::fs::read_dir(&root).unwrap().next().is_none(),
        "bench writes nothing"
    );
}

#[test]
fn files_are_written_atomically_even_when_stopped() {
    let root = fresh("atomic");
    run_in(
        &root,
        &run_args("r", &["--set", "iterations=30", "--stop-after", "10"]),
    )
    .fails(1);
    no_temporaries(Path::new(&root.join("r")));
    assert!(
        root.join("r/learning_curve.png").is_file(),
        "the curve so far is drawn on a stop"
    );
}
