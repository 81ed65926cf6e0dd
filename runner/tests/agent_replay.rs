//! `autodidact agent replay` end to end on a small synthetic stream: the run folder, the
//! summary with its targets, the pictures (drawn again by `autodidact plot`), a finished folder
//! refused, and bad flags named.

// Tests: a failed setup step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::fmt::Write as _;
use std::path::Path;

use common::{fresh, read, run_in};

/// Six intents with their own keywords: 20 training and 6 test rows each.
fn write_data(dir: &Path) {
    let (mut train, mut test) = (String::from("text,label\n"), String::from("text,label\n"));
    for intent in 0..6 {
        for row in 0..26 {
            let text = format!(
                "please k{intent}a help k{intent}b with my account {} k{intent}c",
                ["today", "now", "thanks", "again"][row % 4]
            );
            let target = if row < 20 { &mut train } else { &mut test };
            writeln!(target, "\"{text}\",intent_{intent}").unwrap();
        }
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("train.csv"), train).unwrap();
    std::fs::write(dir.join("test.csv"), test).unwrap();
}

const CONFIG: &str = r#"
featurizer = { kind = "hashed", dim = 256 }
[learning]
bootstrap_episodes = 20
episodes = 10
ways = 2
rank = 4
[consolidation]
every_examples = 10
"#;

#[test]
fn replay_writes_a_run_folder_and_plot_redraws_it() {
    let dir = fresh("agent-replay");
    write_data(&dir.join("data"));
    std::fs::write(dir.join("agent.toml"), CONFIG).unwrap();
    let args = [
        "agent",
        "replay",
        "--data",
        "data",
        "--featurizer",
        "hashed",
        "--config",
        "agent.toml",
        "--waves",
        "3",
        "--intro",
        "3",
        "--queries",
        "30",
        "--variants",
        "feedback,replay,joint",
        "--out",
        "run",
    ];
    run_in(&dir, &args)
        .ok()
        .out_has("replay")
        .out_has("Run folder");
    let run = dir.join("run");
    for f in [
        "config.json",
        "metrics.jsonl",
        "summary.json",
        "held_out.svg",
        "held_out.png",
        "dialogue.svg",
        "dialogue.png",
        "work/bootstrap/train.csv",
        "work/replay.db",
    ] {
        assert!(run.join(f).is_file(), "{f} is missing");
    }
    // Bootstrap, then introduced + end for each of the two later waves, per variant.
    let lines: Vec<serde_json::Value> = read(run.join("metrics.jsonl"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3 * 5);
    assert!(lines
        .iter()
        .all(|l| l["held_out"]["all"].as_f64().is_some()));
    let summary: serde_json::Value = serde_json::from_str(&read(run.join("summary.json"))).unwrap();
    assert_eq!(summary["variants"].as_array().unwrap().len(), 3);
    assert_eq!(summary["targets"]["variant"], "replay");
    assert!(summary["targets"]["final_all"]["met"].is_boolean());
    assert_eq!(summary["waves"].as_array().unwrap().len(), 3);
    // The pictures come back from the raw results alone.
    for f in ["held_out.png", "dialogue.svg"] {
        std::fs::remove_file(run.join(f)).unwrap();
    }
    run_in(&dir, &["plot", "run"]).ok();
    assert!(run.join("held_out.png").is_file() && run.join("dialogue.svg").is_file());
    // A finished folder is never overwritten.
    run_in(&dir, &args).fails(2).err_has("summary.json");
}

#[test]
fn bad_replay_flags_are_named() {
    let dir = fresh("agent-replay-bad");
    write_data(&dir.join("data"));
    let base = [
        "agent",
        "replay",
        "--data",
        "data",
        "--featurizer",
        "hashed",
    ];
    let with = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        run_in(&dir, &a)
    };
    with(&["--variants", "replay,bogus"])
        .fails(2)
        .err_has("bogus");
    with(&["--waves", "1"]).fails(2).err_has("waves");
    with(&["--noise", "2"]).fails(2).err_has("noise");
    with(&["--variants", "server"]).fails(2).err_has("--url");
    run_in(
        &dir,
        &[
            "agent",
            "replay",
            "--data",
            "missing",
            "--featurizer",
            "hashed",
        ],
    )
    .fails(2)
    .err_has("missing");
    with(&["--url", "http://127.0.0.1:9"])
        .fails(2)
        .err_has("--client-token");
}
