//! `autodidact agent import | bench` end to end through the binary: flags, output, exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::io::Write;
use std::process::Stdio;

use common::*;

const HEADER: &str = r#"{"kind":"header","format":1,"schema":20261206000002,"exported_at":0}"#;
const INTENT: &str = r#"{"kind":"intent","name":"card_arrival","answer":"Soon.","active":true,"created_ms":1,"updated_ms":1}"#;
const TOKEN: &str = r#"{"kind":"token","role":"client","sha256":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff","created_ms":1}"#;

fn export(trailer_intents: u64) -> String {
    format!(
        "{HEADER}\n{INTENT}\n{TOKEN}\n{{\"kind\":\"trailer\",\"counts\":{{\"intent\":{trailer_intents},\"token\":1}}}}\n"
    )
}

#[test]
fn agent_commands_have_help() {
    let root = fresh("agent-help");
    for args in [
        &["agent", "--help"][..],
        &["agent", "import", "--help"],
        &["agent", "bench", "--help"],
    ] {
        run_in(&root, args).ok().out_has("Usage: autodidact agent");
    }
    let r = run_in(&root, &["agent", "frobnicate"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn import_restores_once_and_names_the_bad_line() {
    let root = fresh("agent-import");
    std::fs::write(root.join("good.jsonl"), export(1)).unwrap();
    std::fs::write(root.join("bad.jsonl"), export(2)).unwrap();
    run_in(
        &root,
        &["agent", "import", "--db", "a.db", "--from", "good.jsonl"],
    )
    .ok()
    .out_has("Imported 4 lines");
    // The target now holds data.
    run_in(
        &root,
        &["agent", "import", "--db", "a.db", "--from", "good.jsonl"],
    )
    .fails(2)
    .err_has("holds data");
    // A count that disagrees: the line and field, and no database left behind.
    run_in(
        &root,
        &["agent", "import", "--db", "b.db", "--from", "bad.jsonl"],
    )
    .fails(2)
    .err_has("line 4: `counts.intent`");
    assert!(!root.join("b.db").exists());
    run_in(
        &root,
        &["agent", "import", "--db", "b.db", "--from", "missing.jsonl"],
    )
    .fails(2);
    // From standard input.
    let mut child = bin()
        .current_dir(&root)
        .args(["agent", "import", "--db", "c.db", "--from", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(export(1).as_bytes())
        .unwrap();
    finish(child.wait_with_output().unwrap())
        .ok()
        .out_has("1 intent");
}

#[test]
fn a_tiny_bench_runs_on_its_own_server() {
    let root = fresh("agent-bench");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut train = String::from("text,label\n");
    for (label, texts) in [
        (
            "card_arrival",
            [
                "where is my card",
                "my card has not arrived",
                "card still not here",
                "when does my card come",
            ],
        ),
        (
            "top_up",
            [
                "how do I top up",
                "add money to my account",
                "top up failed",
                "top up by transfer",
            ],
        ),
        (
            "lost_card",
            [
                "I lost my card",
                "my card was stolen",
                "cannot find my card",
                "report a lost card",
            ],
        ),
    ] {
        for t in texts {
            train.push_str(&format!("{t},{label}\n"));
        }
    }
    std::fs::write(data.join("train.csv"), train).unwrap();
    std::fs::write(
        data.join("test.csv"),
        "text,label\nwhere is the card,card_arrival\nI want to top up,top_up\n",
    )
    .unwrap();
    let r = run_in(
        &root,
        &[
            "agent",
            "bench",
            "--featurizer",
            "hashed",
            "--dim",
            "512",
            "--data",
            "data",
            "--requests",
            "30",
            "--concurrency",
            "3",
            "--warmup",
            "3",
            "--consolidate",
            "--out",
            "bench.json",
        ],
    );
    r.ok().out_has("requests/s").out_has("p99");
    let v: serde_json::Value = serde_json::from_str(&read(root.join("bench.json"))).unwrap();
    assert_eq!(v["errors"], 0);
    assert_eq!(v["requests"], 30);
    assert!(v["consolidations"].as_u64().unwrap() >= 1, "{v}");
    run_in(
        &root,
        &[
            "agent",
            "bench",
            "--data",
            "nowhere",
            "--featurizer",
            "hashed",
        ],
    )
    .fails(2);
    let out = bin()
        .current_dir(&root)
        .env_remove("AUTODIDACT_CLIENT_TOKEN")
        .args([
            "agent",
            "bench",
            "--url",
            "http://127.0.0.1:9",
            "--data",
            "data",
        ])
        .output()
        .unwrap();
    finish(out).fails(2).err_has("token");
}

#[test]
fn serve_refuses_a_damaged_database_with_exit_code_2() {
    let root = fresh("agent-serve-corrupt");
    std::fs::write(root.join("bad.db"), "not a database\n".repeat(500)).unwrap();
    let r = run_in(&root, &["serve", "--db", "bad.db", "--bind", "127.0.0.1:0"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("bad.db"), "{}", r.stderr);
    assert!(
        r.stderr.contains("not a valid SQLite database"),
        "{}",
        r.stderr
    );
}
