//! Property-based fuzzing of every file and value a user feeds the `autodidact` command:
//! `--set KEY=VALUE`, `--config` files, checkpoints (format 2, SHA-256; also re-signed after
//! the edit so it reaches the header, the spec and the algorithm's own bytes), `metrics.jsonl`
//! (read by `compare`, `plot` and `resume`) and `--plugin` files. Each case feeds at most
//! `fuzz::MAX_INPUT` bytes, arbitrary or a mutation of a valid input, under the memory cap and
//! time limit of `autodidact_core::testing::fuzz`: a valid result or an error naming the file,
//! line or key, never a panic, a hang or a runaway allocation.
//!
//! `PROPTEST_CASES=N cargo test -p autodidact-runner --test fuzz` runs N cases per property
//! (docs/testing.md records the long runs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use autodidact_core::testing::fuzz::{self, arb_input, CountingAllocator, Outcome};
use autodidact_core::{Hyperparams, Metrics, Registry};
use autodidact_runner::checkpoint::{Checkpoint, CheckpointHeader};
use autodidact_runner::config::{read_config_file, Override, RunSpec};
use autodidact_runner::metrics::{format_line, parse_log, read_log};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// Cases per property in an ordinary `cargo test` (CI): docs/testing.md has the timings.
const CI_CASES: u32 = 1024;
/// Cases of the properties that write a run folder or draw heat-maps per case.
const CI_CASES_SLOW: u32 = 512;

// ---------------------------------------------------------------- helpers

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        autodidact_runner::plugin::registry_with_plugins(&[])
            .unwrap()
            .0
    })
}

/// This process's temp folder.
fn temp_root() -> PathBuf {
    // Under cargo's temp folder for integration tests (`target/tmp`), gone with `cargo clean`.
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("runner-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh file (or folder) name under [`temp_root`].
fn temp_path(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    temp_root().join(format!("{}-{name}", N.fetch_add(1, Ordering::Relaxed)))
}

/// The (algorithm, environment) pairs the configuration properties resolve against.
const PAIRS: &[(&str, &str)] = &[
    ("maml", "sinusoid"),
    ("q-learning", "gridworld"),
    ("dqn", "cartpole"),
    ("proto-net", "omniglot"),
    ("ewc", "split"),
    ("value-iteration", "gridworld"),
];

/// Reads a resolved spec into the typed parameters of its algorithm and environment (what
/// building does first), without building: an error names a key.
fn check_typed(spec: &RunSpec) -> Result<(), String> {
    let h = &spec.hyperparameters;
    let alg = match spec.algorithm.as_str() {
        "maml" => autodidact_gradient::hyperparams::MetaParams::from_config(h).map(drop),
        "q-learning" => autodidact_rl::QLearningParams::from_config(h).map(drop),
        "dqn" => autodidact_rl::DqnParams::from_config(h).map(drop),
        "proto-net" => autodidact_metric::hyperparams::MetricParams::from_config(h).map(drop),
        "ewc" => autodidact_continual::hyperparams::ContinualParams::from_config(h).map(drop),
        "value-iteration" => autodidact_rl::ValueIterationParams::from_config(h).map(drop),
        _ => Ok(()),
    };
    let e = &spec.env_params;
    let env = match spec.env.as_str() {
        "sinusoid" => autodidact_envs::SinusoidParams::from_config(e).map(drop),
        "gridworld" => autodidact_envs::GridworldParams::from_config(e).map(drop),
        "cartpole" => autodidact_envs::CartPoleParams::from_config(e).map(drop),
        "omniglot" => autodidact_envs::OmniglotParams::from_config(e).map(drop),
        "split" => autodidact_envs::SplitStreamParams::from_config(e).map(drop),
        "gridworld-goals" => autodidact_envs::GridworldGoalsParams::from_config(e).map(drop),
        _ => Ok(()),
    };
    alg.and(env).map_err(|e| e.to_string())
}

/// Whether `message` names `key` (as given, or its last part).
fn names_key(message: &str, key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    message.contains(key) || message.contains(&format!("`{last}`")) || message.contains("key `")
}

/// Values a `--set` or a config line takes: numbers at and past every bound, lists, tables,
/// strings, nesting.
const VALUE_TOKENS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"1.5",
    b"1e999",
    b"-0.0",
    b"nan",
    b"inf",
    b"true",
    b"1000000000000",
    b"18446744073709551615",
    b"99999999999999999999999",
    b"[",
    b"]",
    b"[1, 2]",
    b"{a = 1}",
    b"\"",
    b"'",
    b",",
    b".",
    b"=",
    b"\n",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"env.",
    b"\xff",
];

fn value_seeds() -> Vec<Vec<u8>> {
    [
        "0.5",
        "100",
        "[40, 40]",
        "true",
        "relu",
        "\"text\"",
        "/data/omniglot",
        "[\"a\", \"b\"]",
        "1e-3",
        "{ a = 1 }",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// The keys of a pair, environment keys `env.`-prefixed.
fn keys_of(pair: (&str, &str)) -> Vec<String> {
    let r = registry();
    let a = r.algorithm(pair.0).unwrap();
    let e = r.env(pair.1).unwrap();
    let mut keys: Vec<String> = (a.default_config)().keys().cloned().collect();
    keys.extend((e.default_config)().keys().map(|k| format!("env.{k}")));
    keys
}

fn config_seeds() -> Vec<Vec<u8>> {
    vec![
        b"inner_lr = 0.01\nmeta_batch = 25\n\n[env]\nshots = 5\n".to_vec(),
        b"# a comment\nlr = 1e-3\nhidden = [64, 64]\n[env]\nmap = \"cliff-walking\"\nslip = 0.1\n"
            .to_vec(),
        b"gamma = 0.99\nbatch_size = 32\n[env]\nmax_steps = 200\n".to_vec(),
        b"[env]\ndata_dir = [\"a\", \"b\"]\nways = 5\n".to_vec(),
    ]
}

/// The first line of a format-2 checkpoint over `payload`.
fn sign(payload: &[u8]) -> Vec<u8> {
    let hex: String = Sha256::digest(payload)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut out = format!("AUTODIDACT-CHECKPOINT 2 sha256={hex}\n").into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Valid checkpoints of small runs (two steps done) and their specs.
fn checkpoint_seeds() -> &'static Vec<(RunSpec, Vec<u8>)> {
    static S: OnceLock<Vec<(RunSpec, Vec<u8>)>> = OnceLock::new();
    S.get_or_init(|| {
        [
            ("test-linear", "sinusoid", vec![]),
            ("q-learning", "gridworld", vec![]),
            (
                "maml",
                "sinusoid",
                vec!["hidden=[8]", "meta_batch=2", "inner_steps=1"],
            ),
        ]
        .into_iter()
        .map(|(a, e, sets)| {
            let sets: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
            let spec = RunSpec::resolve(registry(), a, e, None, &sets, 3).unwrap();
            let mut alg = spec.build(registry()).unwrap();
            let mut last = BTreeMap::new();
            for _ in 0..2 {
                last = alg.train_step().unwrap();
            }
            let log: String = (1..=2u64).map(|s| format_line(s, &last)).collect();
            let ckpt = Checkpoint {
                header: CheckpointHeader {
                    spec_toml: spec.to_toml().unwrap(),
                    step: alg.steps_done(),
                    total_steps: 10,
                    checkpoint_every: 1,
                    eval_every: Some(5),
                    keep_best: true,
                    best: Some(autodidact_runner::checkpoint::BestRecord {
                        step: 1,
                        metric: "test_mse".into(),
                        value: 0.5,
                    }),
                    metrics_bytes: log.len() as u64,
                    metrics_lines: 2,
                    metrics_fnv1a: format!(
                        "{:016x}",
                        autodidact_runner::metrics::fnv1a(log.as_bytes())
                    ),
                    last_metrics: last,
                    train_seconds: 0.25,
                    sessions: 1,
                    core_version: autodidact_core::plugin::CORE_VERSION.into(),
                    rustc_version: autodidact_core::plugin::RUSTC_VERSION.into(),
                },
                algorithm: alg.save().unwrap(),
            };
            (spec, ckpt.encode().unwrap())
        })
        .collect()
    })
}

/// JSON syntax a mutation inserts into checkpoints and metrics logs.
const JSON_TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"\n",
    b"null",
    b"true",
    b"-",
    b"1e999",
    b"-1",
    b"18446744073709551616",
    b"0.30000000000000004",
    b"\\u0000",
    b"\\ud800",
    b"\"step\":",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":",
    b"\xff",
    b"spec_toml",
    b"hidden = [",
    b"\\n",
];

fn metrics_seeds() -> Vec<Vec<u8>> {
    let mut m = Metrics::new();
    m.insert("loss".into(), 0.1 + 0.2);
    m.insert("accuracy".into(), 1.0 / 3.0);
    let mut n = Metrics::new();
    n.insert("return".into(), -12.5);
    vec![
        (1..=5u64)
            .map(|s| format_line(s, &m))
            .collect::<String>()
            .into_bytes(),
        (0..3u64)
            .map(|s| format_line(s * 100, &n))
            .collect::<String>()
            .into_bytes(),
        b"{\"step\":1,\"loss\":null}\n\n{\"step\":2,\"loss\":1e300}\n".to_vec(),
    ]
}

// ---------------------------------------------------------------- properties

/// `--set KEY=VALUE`: parsed, resolved against the algorithm's and the environment's keys,
/// then read into their typed parameters; an error names the key.
#[test]
fn set_values() {
    let inputs = (
        proptest::sample::select(PAIRS),
        any::<prop::sample::Index>(),
        arb_input(value_seeds(), VALUE_TOKENS, 256),
        proptest::option::weighted(
            0.2,
            arb_input(
                vec![b"env.shots=5".to_vec(), b"lr=0.1".to_vec()],
                VALUE_TOKENS,
                256,
            ),
        ),
    );
    fuzz::run(
        "--set values",
        file!(),
        CI_CASES,
        inputs,
        |(pair, pick, value, raw_text)| {
            let keys = keys_of(pair);
            let key = pick.get(&keys).clone();
            let text = match raw_text {
                Some(t) => String::from_utf8_lossy(&t).into_owned(),
                None => format!("{key}={}", String::from_utf8_lossy(&value)),
            };
            let shown = text.clone();
            let out = fuzz::guard("--set", move || -> Result<(), String> {
                let o = match Override::parse(&text) {
                    Ok(o) => o,
                    Err(e) => return Err(format!("parse: {e}")),
                };
                let given = o.key();
                let spec = RunSpec::resolve(
                    registry(),
                    pair.0,
                    pair.1,
                    None,
                    std::slice::from_ref(&o),
                    0,
                )
                .map_err(|e| format!("{given}|{e}"))?;
                check_typed(&spec).map_err(|e| format!("{given}|{e}"))
            })?;
            if let Err(e) = &out {
                if let Some(rest) = e.strip_prefix("parse: ") {
                    prop_assert!(
                        rest.contains("KEY=VALUE")
                            || rest.contains("not a valid key")
                            || rest.contains("`env`"),
                        "{shown}: {rest}"
                    );
                } else {
                    let (given, message) = e.split_once('|').unwrap();
                    prop_assert!(
                        names_key(message, given),
                        "{shown}: the error does not name `{given}`: {message}"
                    );
                }
            }
            Ok(Outcome::from(&out))
        },
    );
}

/// A `--config` file: TOML with the algorithm's keys and an `[env]` table; an error names
/// the file (with the line, for a syntax error) or the key.
#[test]
fn config_files() {
    let inputs = (
        arb_input(config_seeds(), VALUE_TOKENS, 4096),
        proptest::sample::select(PAIRS),
    );
    fuzz::run(
        "--config files",
        file!(),
        CI_CASES,
        inputs,
        |(bytes, pair)| {
            let path = temp_path("config.toml");
            std::fs::write(&path, &bytes).unwrap();
            let p = path.clone();
            let out = fuzz::guard("--config file", move || -> Result<(), String> {
                let file = read_config_file(&p).map_err(|e| format!("read: {e}"))?;
                let spec = RunSpec::resolve(registry(), pair.0, pair.1, Some(&file), &[], 0)
                    .map_err(|e| format!("resolve: {e}"))?;
                check_typed(&spec).map_err(|e| format!("typed: {e}"))
            })?;
            std::fs::remove_file(&path).ok();
            if let Err(e) = &out {
                if let Some(rest) = e.strip_prefix("read: ") {
                    prop_assert!(rest.starts_with(&format!("{}: ", path.display())), "{rest}");
                } else {
                    prop_assert!(e.contains("key `") || e.contains("` for "), "{e}");
                }
            }
            Ok(Outcome::from(&out))
        },
    );
}

/// A checkpoint file, edited (and, half the time, re-signed so the edit passes the
/// checksum): refused naming the file, or read, its spec parsed, and, when the spec is a
/// known one, the algorithm restored from the edited bytes and stepped once.
#[test]
fn checkpoints() {
    let inputs = (
        0usize..3,
        proptest::collection::vec(fuzz::arb_edit(JSON_TOKENS), 0..8),
        any::<bool>(),
        proptest::option::weighted(0.1, proptest::collection::vec(any::<u8>(), 0..512)),
    );
    fuzz::run(
        "checkpoints",
        file!(),
        CI_CASES,
        inputs,
        |(seed, edits, resign, junk)| {
            let (spec0, valid) = &checkpoint_seeds()[seed];
            let spec0 = spec0.clone();
            let bytes = match junk {
                Some(j) => j,
                None if resign => {
                    let start = valid.iter().position(|&b| b == b'\n').unwrap() + 1;
                    sign(&fuzz::mutate(&valid[start..], &edits))
                }
                None => fuzz::mutate(valid, &edits),
            };
            let dir = temp_path("run");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("checkpoint.ckpt"), &bytes).unwrap();
            let d = dir.clone();
            let out = fuzz::guard("checkpoint", move || -> Result<(), String> {
                let ckpt = Checkpoint::read(&d).map_err(|e| e.to_string())?;
                let spec = ckpt.spec(&d).map_err(|e| e.to_string())?;
                if spec != spec0 {
                    return check_typed(&spec).map_err(|e| format!("typed: {e}"));
                }
                let mut alg = spec.build(registry()).map_err(|e| format!("build: {e}"))?;
                ckpt.restore(&d.join("checkpoint.ckpt"), alg.as_mut())
                    .map_err(|e| e.to_string())?;
                // A restored state must be one the algorithm can train from (or refuse cleanly).
                alg.train_step().map(drop).map_err(|e| format!("step: {e}"))
            })?;
            std::fs::remove_dir_all(&dir).ok();
            if let Err(e) = &out {
                if !e.starts_with("typed: ") && !e.starts_with("step: ") {
                    prop_assert!(
                        e.starts_with(&dir.join("checkpoint.ckpt").display().to_string()),
                        "{e}"
                    );
                }
            }
            Ok(Outcome::from(&out))
        },
    );
}

/// A `metrics.jsonl`: steps and metrics, or an error naming the file and the line.
#[test]
fn metrics_logs() {
    let inputs = arb_input(metrics_seeds(), JSON_TOKENS, 8192);
    fuzz::run("metrics.jsonl", file!(), CI_CASES, inputs, |bytes| {
        let path = temp_path("metrics.jsonl");
        std::fs::write(&path, &bytes).unwrap();
        let p = path.clone();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let out = fuzz::guard("metrics.jsonl", move || {
            let from_text = parse_log(Path::new("m.jsonl"), &text)
                .map(|l| l.len())
                .map_err(|e| e.to_string());
            let from_file = read_log(&p).map(|l| l.len()).map_err(|e| e.to_string());
            (from_text, from_file)
        })?;
        std::fs::remove_file(&path).ok();
        if let Err(e) = &out.0 {
            prop_assert!(e.starts_with("m.jsonl: line "), "{e}");
        }
        if let Err(e) = &out.1 {
            prop_assert!(e.starts_with(&format!("{}: line ", path.display())), "{e}");
        }
        Ok(Outcome::from(&out.1))
    });
}

/// A `--plugin` file that is not a plugin (arbitrary bytes, some behind an ELF magic):
/// refused naming the file, never loaded.
#[test]
fn plugin_files() {
    let inputs = (
        proptest::collection::vec(any::<u8>(), 0..2048),
        any::<bool>(),
    );
    fuzz::run(
        "--plugin files",
        file!(),
        CI_CASES,
        inputs,
        |(mut bytes, magic)| {
            if magic {
                bytes.splice(0..0, *b"\x7fELF\x02\x01\x01\x00");
                // Header only: a loader maps what a whole ELF header describes, so a fuzzed one
                // past the header is not a parser input but a program.
                bytes.truncate(48);
            }
            let path = temp_path("libfuzz.so");
            std::fs::write(&path, &bytes).unwrap();
            let p = path.clone();
            let out = fuzz::guard("--plugin file", move || {
                let mut r = Registry::default();
                autodidact_runner::plugin::load_plugin(&mut r, &p)
                    .map(drop)
                    .map_err(|e| e.to_string())
            })?;
            std::fs::remove_file(&path).ok();
            match &out {
                Ok(()) => prop_assert!(false, "junk loaded as a plugin"),
                Err(e) => prop_assert!(
                    e.starts_with(&format!("plugin {}: ", path.display())),
                    "{e}"
                ),
            }
            Ok(Outcome::from(&out))
        },
    );
}

/// A `--plugin` value that names no file (any text): refused naming it.
#[test]
fn plugin_paths() {
    fuzz::run(
        "--plugin paths",
        file!(),
        CI_CASES,
        "\\PC{0,64}",
        |text: String| {
            let shown = text.clone();
            let out = fuzz::guard("--plugin path", move || {
                let mut r = Registry::default();
                autodidact_runner::plugin::load_plugin(&mut r, Path::new(&text))
                    .map(drop)
                    .map_err(|e| e.to_string())
            })?;
            if let Err(e) = &out {
                prop_assert!(e.starts_with("plugin "), "{shown}: {e}");
            }
            Ok(Outcome::from(&out))
        },
    );
}

/// A finished run of `test-linear` on `sinusoid` (a few steps), made once by the real
/// command: its folder, `summary.json` and `metrics.jsonl`.
fn finished_run() -> &'static (PathBuf, Vec<u8>, Vec<u8>) {
    static R: OnceLock<(PathBuf, Vec<u8>, Vec<u8>)> = OnceLock::new();
    R.get_or_init(|| {
        let out = temp_path("runs");
        autodidact_runner::execute_args([
            "autodidact",
            "run",
            "test-linear",
            "--env",
            "sinusoid",
            "-q",
            "--out",
            out.to_str().unwrap(),
        ])
        .unwrap();
        let mut stack = vec![out];
        while let Some(d) = stack.pop() {
            if d.join("summary.json").is_file() {
                let summary = std::fs::read(d.join("summary.json")).unwrap();
                let metrics = std::fs::read(d.join("metrics.jsonl")).unwrap();
                return (d, summary, metrics);
            }
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                }
            }
        }
        panic!("the run wrote no summary.json");
    })
}

/// `summary.json` of a run folder (read by `compare` and `plot`): the run's record, or an
/// error naming the file.
#[test]
fn run_summaries() {
    let (_, summary, _) = finished_run();
    let inputs = arb_input(vec![summary.clone()], JSON_TOKENS, 8192);
    fuzz::run("summary.json", file!(), CI_CASES_SLOW, inputs, |bytes| {
        let dir = temp_path("run");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("summary.json"), &bytes).unwrap();
        let d = dir.clone();
        let out = fuzz::guard("summary.json", move || {
            autodidact_runner::summary::read_summary(&d)
                .map(drop)
                .map_err(|e| e.to_string())
        })?;
        std::fs::remove_dir_all(&dir).ok();
        if let Err(e) = &out {
            prop_assert!(e.contains(&dir.display().to_string()), "{e}");
        }
        Ok(Outcome::from(&out))
    });
}

/// A `runs.jsonl` export (read by `compare` and drawn by `plot`): records and heat-maps, or an
/// error naming the file and the line. Lines start as the run's summary on one line, and as
/// an older continual driver's line.
#[test]
fn run_exports() {
    let (_, summary, _) = finished_run();
    let v: serde_json::Value = serde_json::from_slice(summary).unwrap();
    let line = format!("{v}\n{v}\n");
    let legacy = "{\"method\":\"ewc\",\"stream\":\"split\",\"seed\":1,\"rows\":[[0.9,0.1],[0.5,0.8]],\"init\":[0.1,0.1]}\n";
    let inputs = arb_input(
        vec![line.into_bytes(), legacy.as_bytes().to_vec()],
        JSON_TOKENS,
        8192,
    );
    fuzz::run("runs.jsonl", file!(), CI_CASES_SLOW, inputs, |bytes| {
        let dir = temp_path("export");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runs.jsonl");
        std::fs::write(&path, &bytes).unwrap();
        let p = path.clone();
        let out = fuzz::guard("runs.jsonl", move || {
            let records = autodidact_runner::export::read_export(&p).map(|r| r.len());
            let drawn = autodidact_runner::replot::redraw_export(&p).map(|(n, _)| n);
            (
                records.map_err(|e| e.to_string()),
                drawn.map_err(|e| e.to_string()),
            )
        })?;
        std::fs::remove_dir_all(&dir).ok();
        for e in [&out.0, &out.1]
            .into_iter()
            .filter_map(|r| r.as_ref().err())
        {
            prop_assert!(e.starts_with(&path.display().to_string()), "{e}");
        }
        Ok(Outcome::from(&out.0))
    });
}

/// The seeds are valid: a checkpoint reads back and restores, a config file reads.
#[test]
fn the_seeds_are_valid_inputs() {
    for (spec, bytes) in checkpoint_seeds() {
        let ckpt = Checkpoint::decode(Path::new("c"), bytes).unwrap();
        let mut alg = spec.build(registry()).unwrap();
        ckpt.restore(Path::new("c"), alg.as_mut()).unwrap();
    }
    let p = temp_path("config.toml");
    std::fs::write(&p, &config_seeds()[0]).unwrap();
    let file = read_config_file(&p).unwrap();
    let spec = RunSpec::resolve(registry(), "maml", "sinusoid", Some(&file), &[], 0).unwrap();
    check_typed(&spec).unwrap();
}

/// Found by `config_files` and `metrics_logs`: a file that is not UTF-8 was refused with the
/// standard library's "stream did not contain valid UTF-8"; now the line and column are named.
#[test]
fn files_that_are_not_utf8_name_the_line_and_column() {
    let p = temp_path("config.toml");
    std::fs::write(&p, b"lr = 0.1\nname = \"caf\xe9\"\n").unwrap();
    let e = read_config_file(&p).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: line 2, column 12: not UTF-8 text (byte 0xe9); expected a UTF-8 text file",
            p.display()
        )
    );
    let p = temp_path("metrics.jsonl");
    std::fs::write(&p, b"\xb1X").unwrap();
    let e = read_log(&p).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: line 1, column 1: not UTF-8", p.display())),
        "{e}"
    );
}

/// Found while fuzzing the readers of `plot`: an older continual driver line in `runs.jsonl`
/// declaring 20,000 tasks in `init` (40 KB of text) was expanded into a 20,000 x 20,000
/// matrix (6.4 GB) before drawing. Now the line is refused naming the file and the line.
#[test]
fn an_export_line_declaring_a_huge_matrix_is_refused() {
    let dir = temp_path("export");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("runs.jsonl");
    let init = vec!["0"; 20_000].join(",");
    std::fs::write(
        &path,
        format!("{{\"method\":\"ewc\",\"stream\":\"split\",\"rows\":[[0.5]],\"init\":[{init}]}}\n"),
    )
    .unwrap();
    let p = path.clone();
    let (e, m) = fuzz::guard_with("plot runs.jsonl", 8 << 20, fuzz::TIME_LIMIT, move || {
        autodidact_runner::replot::redraw_export(&p)
            .map(|(lines, _)| lines)
            .unwrap_err()
            .to_string()
    })
    .unwrap();
    assert!(
        e.starts_with(&format!(
            "{}: line 1: its accuracy matrix spans 20000 tasks",
            path.display()
        )),
        "{e}"
    );
    assert!(m.peak_bytes < 8 << 20, "{m:?}");
}

/// Found by `run_exports` (50,000 cases): an older continual driver line whose `stream` held a
/// NUL byte failed on writing its heat-map ("file name contained an unexpected NUL byte"),
/// and one holding `../` wrote outside `heatmaps/`. Names taken from a line are now sanitised
/// (and kept short).
#[test]
fn export_lines_cannot_choose_where_heat_maps_go() {
    let dir = temp_path("export");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("runs.jsonl");
    let long = "s".repeat(400);
    std::fs::write(
        &path,
        format!(
            "{{\"method\":\"ewc\",\"stream\":\"../../escape\\u0000\",\"seed\":1,\"rows\":[[0.9]]}}\n\
             {{\"method\":\"ewc\",\"stream\":\"{long}\",\"seed\":1,\"rows\":[[0.9]]}}\n"
        ),
    )
    .unwrap();
    let (lines, drawn) = autodidact_runner::replot::redraw_export(&path).unwrap();
    assert_eq!(lines, 2);
    for p in &drawn {
        assert_eq!(p.parent().unwrap(), dir.join("heatmaps"), "{}", p.display());
    }
    assert!(drawn[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(".._.._escape_-ewc-seed1"));
    assert!(!dir.parent().unwrap().join("escape").exists());
}
