//! The continual-learning results: every strategy on the gaussian-classes permuted and split
//! streams, Omniglot-small and the class-incremental BANKING77 stream, over several seeds;
//! ACC, BWT, FWT and forgetting with 95 % confidence intervals, R[i][i] for every i, and a
//! heat-map of each strategy's accuracy matrix (first seed).
//!
//! ```text
//! cargo run --release -p autodidact-continual --example continual_results -- \
//!     [--streams a,b] [--methods a,b] [--seeds N] [--first-seed S] [--out DIR]
//!     [--set key=value ...]
//!     [--gaussian "classes=10,dim=32,..."] [--redraw]
//! ```
//!
//! Streams: gaussian-permuted, gaussian-split-task, gaussian-split-class, omniglot-class,
//! omniglot-task (a head per experience), omniglot-permuted (every character in every
//! experience, pixels permuted per experience), banking77-class, banking77-class-official
//! (BANKING77's own train.csv / test.csv split). Methods: naive, ewc, si, lwf,
//! replay-100, replay-500, replay-1000, agem,
//! joint (and replay-N for any N). Each finished run is appended to `DIR/runs.jsonl` and
//! skipped when the command is run again; `DIR/results.md` is rewritten from every run, and
//! `--redraw` redraws the first seed's heat-maps from `runs.jsonl`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use autodidact_continual::heatmap::draw_matrix;
use autodidact_continual::hyperparams::{defaults_for, ContinualParams};
use autodidact_continual::metrics::mean_ci95;
use autodidact_continual::{AccuracyMatrix, ContinualLearner, Method};
use autodidact_core::Hyperparams as _;
use autodidact_core::{Algorithm, Config, EnvInstance, Seed, TaskStream};
use autodidact_envs::streams::{permuted_stream_from_config, split_stream_from_config};
use serde_json::{json, Value};

const DATA: &str = "../shared/data";

/// The gaussian-classes source of the synthetic streams.
const GAUSSIAN: &str =
    "classes = 10\ndim = 32\nexamples_per_class = 100\nmean_scale = 1.0\nnoise = 1.0\n";

/// A stream's configuration, and whether it is a `permuted` stream (else `split`).
fn stream_config(name: &str, gaussian: &str) -> (String, bool) {
    let gauss = format!("source = \"gaussian-classes\"\n{gaussian}");
    let omniglot = format!(
        "source = \"omniglot\"\ndata_dir = [\"{DATA}/omniglot/images_background_small1.zip\", \"{DATA}/omniglot/images_background_small2.zip\"]\nimage_size = 28\n"
    );
    let banking =
        format!("source = \"intents\"\ndata_dir = \"{DATA}/banking77\"\nexperiences = 7\n");
    match name {
        "gaussian-permuted" => (format!("{gauss}experiences = 5\n"), true),
        "gaussian-split-task" => (
            format!("{gauss}experiences = 5\nscenario = \"task-incremental\"\n"),
            false,
        ),
        "gaussian-split-class" => (
            format!("{gauss}experiences = 5\nscenario = \"class-incremental\"\n"),
            false,
        ),
        "omniglot-class" => (
            format!("{omniglot}experiences = 10\nscenario = \"class-incremental\"\n"),
            false,
        ),
        "omniglot-permuted" => (format!("{omniglot}experiences = 5\n"), true),
        "omniglot-task" => (
            format!("{omniglot}experiences = 10\nscenario = \"task-incremental\"\n"),
            false,
        ),
        "banking77-class" => (
            format!("{banking}scenario = \"class-incremental\"\n"),
            false,
        ),
        // The same stream on BANKING77's own split: train.csv to train on, test.csv (40 texts
        // per intent) to test on, as in the literature.
        "banking77-class-official" => (
            format!("{banking}scenario = \"class-incremental\"\nholdout = \"source\"\n"),
            false,
        ),
        other => panic!("unknown stream `{other}`"),
    }
}

fn build_stream(config: &str, permuted: bool, seed: Seed) -> Box<dyn TaskStream> {
    let cfg: Config = toml::from_str(config).unwrap();
    if permuted {
        Box::new(permuted_stream_from_config(&cfg, seed).unwrap())
    } else {
        Box::new(split_stream_from_config(&cfg, seed).unwrap())
    }
}

fn stream(name: &str, seed: Seed, gaussian: &str) -> Box<dyn TaskStream> {
    let (config, permuted) = stream_config(name, gaussian);
    build_stream(&config, permuted, seed)
}

/// The task-incremental twin of a class-incremental stream: the same classes, order and
/// examples (both drawn from the seed alone), with each experience's index as its task id.
/// Evaluating a class-incremental model on it masks the logits to each experience's classes,
/// which separates what the model still knows within an experience from the competition
/// between experiences in the one head.
fn task_aware_twin(name: &str, seed: Seed, gaussian: &str) -> Option<Box<dyn TaskStream>> {
    let (config, permuted) = stream_config(name, gaussian);
    let class_il = "scenario = \"class-incremental\"";
    config.contains(class_il).then(|| {
        build_stream(
            &config.replace(class_il, "scenario = \"task-incremental\""),
            permuted,
            seed,
        )
    })
}

/// Hyperparameters of a method (`replay-N`: replay with N examples) on a stream.
fn hyperparams(method: &str, stream: &str, sets: &[(String, String)]) -> (Method, ContinualParams) {
    let (m, buffer) = match method.strip_prefix("replay-") {
        Some(n) => (Method::Replay, Some(n.parse::<usize>().unwrap())),
        None => (Method::from_name(method).unwrap(), None),
    };
    let mut hp = defaults_for(m.name());
    if let Some(b) = buffer {
        hp.buffer_size = b;
    }
    match stream {
        s if s.starts_with("gaussian") => {
            hp.hidden = vec![128, 128];
            hp.epochs = 5;
        }
        "omniglot-class" | "omniglot-task" | "omniglot-permuted" => {
            // An MLP on the 28 x 28 pixels: Conv4 takes ~30 times longer per run here.
            hp.backbone = autodidact_core::layers::BackboneKind::Mlp;
            hp.hidden = vec![256, 256];
            hp.epochs = 10;
        }
        _ => {
            hp.hidden = vec![256, 256];
            hp.epochs = 5;
        }
    }
    let mut table = toml::Table::try_from(&hp).unwrap();
    for (k, v) in sets {
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("x = {v}"))
            .map(|t| t["x"].clone())
            .unwrap_or_else(|_| toml::Value::String(v.clone()));
        table.insert(k.clone(), value);
    }
    (m, table.try_into().unwrap())
}

fn run(
    stream_name: &str,
    method: &str,
    seed: u64,
    sets: &[(String, String)],
    gaussian: &str,
    out: &Path,
) -> Value {
    let s = stream(stream_name, Seed(seed), gaussian);
    let (m, hp) = hyperparams(method, stream_name, sets);
    let t0 = Instant::now();
    let mut l =
        ContinualLearner::with_stream(m, hp.clone().check().unwrap(), s.as_ref(), Seed(seed))
            .unwrap();
    while l.matrix().trained() < l.data().len() {
        l.train_epoch().unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    let (task_aware_acc, task_aware) = match task_aware_twin(stream_name, Seed(seed), gaussian) {
        Some(twin) => {
            // The twin must hold the very same experiences, only with task ids.
            for (t, e) in twin.experiences().iter().zip(s.experiences()) {
                assert_eq!((&t.classes, &t.test_y), (&e.classes, &e.test_y));
                assert_eq!(t.test_x, e.test_x);
            }
            let m = l.evaluate(Some(&EnvInstance::Stream(twin))).unwrap();
            let per: Vec<f64> = (0..l.data().len())
                .map(|j| m[&format!("acc_{j}")])
                .collect();
            (json!(m["acc"]), json!(per))
        }
        None => (Value::Null, Value::Null),
    };
    let mx = l.matrix();
    if seed == 0 {
        let title = format!("{method} on {stream_name} (seed 0)");
        for ext in ["png", "svg"] {
            draw_matrix(
                mx,
                &title,
                &out.join(format!("heatmaps/{stream_name}-{method}.{ext}")),
            )
            .unwrap();
        }
    }
    json!({
        "stream": stream_name, "method": method, "seed": seed, "seconds": secs,
        "acc": mx.acc(), "bwt": mx.bwt(), "fwt": mx.fwt(), "forgetting": mx.forgetting(),
        "diagonal": mx.diagonal(), "rows": mx.rows, "init": mx.init,
        "dead_units": l.dead_units(),
        "task_aware_acc": task_aware_acc, "task_aware": task_aware,
        "hyperparameters": toml::Table::try_from(&hp).map(|t| serde_json::to_value(t).unwrap()).unwrap(),
    })
}

fn load_runs(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn pct(xs: &[f64]) -> String {
    let (m, h) = mean_ci95(xs);
    format!("{:.1} ± {:.1}", 100.0 * m, 100.0 * h)
}

fn write_report(runs: &[Value], path: &Path) {
    let mut groups: BTreeMap<(String, usize, String), Vec<&Value>> = BTreeMap::new();
    let order = [
        "naive",
        "ewc",
        "si",
        "lwf",
        "agem",
        "replay-100",
        "replay-500",
        "replay-1000",
        "joint",
    ];
    for r in runs {
        let m = r["method"].as_str().unwrap().to_string();
        let rank = order.iter().position(|o| *o == m).unwrap_or(order.len());
        groups
            .entry((r["stream"].as_str().unwrap().to_string(), rank, m))
            .or_default()
            .push(r);
    }
    let mut md = String::new();
    let mut last = String::new();
    for ((stream, _, method), rs) in &groups {
        if *stream != last {
            md.push_str(&format!(
                "\n### {stream}\n\n| method | seeds | ACC % | BWT % | FWT % | forgetting % | R[i][i] % (mean over seeds), i = 0, 1, … | min R[i][i] % | s/run |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
            ));
            last = stream.clone();
        }
        let get = |k: &str| {
            rs.iter()
                .map(|r| r[k].as_f64().unwrap())
                .collect::<Vec<_>>()
        };
        let diags: Vec<Vec<f64>> = rs
            .iter()
            .map(|r| {
                r["diagonal"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
            .collect();
        let t = diags[0].len();
        let mean_diag: Vec<String> = (0..t)
            .map(|i| {
                format!(
                    "{:.0}",
                    100.0 * diags.iter().map(|d| d[i]).sum::<f64>() / diags.len() as f64
                )
            })
            .collect();
        let min_diag = diags
            .iter()
            .flatten()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let secs = get("seconds").iter().sum::<f64>() / rs.len() as f64;
        md.push_str(&format!(
            "| {method} | {} | {} | {} | {} | {} | {} | {:.0} | {:.0} |\n",
            rs.len(),
            pct(&get("acc")),
            pct(&get("bwt")),
            pct(&get("fwt")),
            pct(&get("forgetting")),
            mean_diag.join(" "),
            100.0 * min_diag,
            secs
        ));
    }
    // The class-incremental runs that measured it: what the final model knows within each
    // experience (logits masked to its classes) against its accuracy over every class seen.
    let aware: Vec<_> = groups
        .iter()
        .map(|(k, rs)| {
            let rs: Vec<&&Value> = rs.iter().filter(|r| r["task_aware_acc"].is_f64()).collect();
            (k, rs)
        })
        .filter(|(_, rs)| !rs.is_empty())
        .collect();
    if !aware.is_empty() {
        md.push_str("\n### Task-aware accuracy of the final class-incremental models\n\nThe final model evaluated with each test example's logits masked to its experience's classes (the task-incremental twin of the stream), next to its class-incremental ACC on the same seeds; \"paired gap\" is task-aware − class-incremental per seed.\n\n| stream | method | seeds | task-aware ACC % | ACC % | paired gap |\n| --- | --- | --- | --- | --- | --- |\n");
        for ((stream, _, method), rs) in aware {
            let get = |k: &str| {
                rs.iter()
                    .map(|r| r[k].as_f64().unwrap())
                    .collect::<Vec<_>>()
            };
            let gap: Vec<f64> = get("task_aware_acc")
                .iter()
                .zip(get("acc"))
                .map(|(a, b)| a - b)
                .collect();
            md.push_str(&format!(
                "| {stream} | {method} | {} | {} | {} | {} |\n",
                rs.len(),
                pct(&get("task_aware_acc")),
                pct(&get("acc")),
                pct(&gap)
            ));
        }
    }
    std::fs::write(path, md).unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut streams = vec![
        "gaussian-permuted".to_string(),
        "gaussian-split-task".into(),
        "gaussian-split-class".into(),
        "banking77-class".into(),
    ];
    let mut methods: Vec<String> = [
        "naive",
        "ewc",
        "si",
        "lwf",
        "agem",
        "replay-100",
        "replay-500",
        "replay-1000",
        "joint",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut seeds = 5u64;
    let mut first_seed = 0u64;
    let mut out = PathBuf::from("bench/continual/results");
    let mut sets = Vec::new();
    let mut gaussian = GAUSSIAN.to_string();
    let mut redraw = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().expect("a value after the flag").clone();
        match a.as_str() {
            "--streams" => streams = val().split(',').map(str::to_string).collect(),
            "--methods" => methods = val().split(',').map(str::to_string).collect(),
            "--seeds" => seeds = val().parse().unwrap(),
            "--first-seed" => first_seed = val().parse().unwrap(),
            "--out" => out = PathBuf::from(val()),
            "--redraw" => redraw = true,
            "--gaussian" => gaussian = val().replace(',', "\n") + "\n",
            "--set" => {
                let kv = val();
                let (k, v) = kv.split_once('=').expect("--set key=value");
                sets.push((k.to_string(), v.to_string()));
            }
            other => panic!("unknown argument `{other}`"),
        }
    }
    std::fs::create_dir_all(&out).unwrap();
    let log = out.join("runs.jsonl");
    let done = load_runs(&log);
    for s in &streams {
        for m in &methods {
            for seed in first_seed..first_seed + seeds {
                if done.iter().any(|r| {
                    r["stream"] == s.as_str() && r["method"] == m.as_str() && r["seed"] == seed
                }) {
                    continue;
                }
                let r = run(s, m, seed, &sets, &gaussian, &out);
                let diag: Vec<String> = r["diagonal"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| format!("{:.0}", 100.0 * x.as_f64().unwrap()))
                    .collect();
                println!(
                    "{s} {m} seed {seed}: ACC {:.1} (task-aware {}) BWT {:.1} forgetting {:.1} R[i][i] [{}] dead {:?} ({:.0} s)",
                    100.0 * r["acc"].as_f64().unwrap(),
                    r["task_aware_acc"]
                        .as_f64()
                        .map_or("-".to_string(), |a| format!("{:.1}", 100.0 * a)),
                    100.0 * r["bwt"].as_f64().unwrap(),
                    100.0 * r["forgetting"].as_f64().unwrap(),
                    diag.join(" "),
                    r["dead_units"],
                    r["seconds"].as_f64().unwrap()
                );
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap();
                writeln!(f, "{r}").unwrap();
            }
        }
    }
    let all = load_runs(&log);
    if redraw {
        for r in all.iter().filter(|r| r["seed"] == 0) {
            let (s, m) = (r["stream"].as_str().unwrap(), r["method"].as_str().unwrap());
            let rows: Vec<Vec<f64>> = serde_json::from_value(r["rows"].clone()).unwrap();
            let init: Vec<f64> = serde_json::from_value(r["init"].clone()).unwrap();
            let mx = AccuracyMatrix::from_rows(init, rows);
            for ext in ["png", "svg"] {
                let path = out.join(format!("heatmaps/{s}-{m}.{ext}"));
                draw_matrix(&mx, &format!("{m} on {s} (seed 0)"), &path).unwrap();
            }
        }
    }
    write_report(&all, &out.join("results.md"));
}
