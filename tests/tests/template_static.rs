//! The template third-party crate used the static way: a plain dependency and
//! `use third_party_algorithm as _;`, driven through the runner's library (what a third
//! party's own `main` calling `autodidact_runner::main()` does).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_core::Registry;
use common::*;
use third_party_algorithm as _;

#[test]
fn the_static_registry_holds_the_template_next_to_the_built_in_crates() {
    let r = Registry::from_inventory().unwrap();
    let a = r
        .algorithm("linear-protonet")
        .expect("registered by linking the crate");
    assert_eq!(a.crate_name, "third-party-algorithm");
    assert!(r.env("gaussian-classes").is_some());
}

#[test]
fn it_trains_stops_resumes_and_evaluates_through_the_runner() {
    let root = fresh("template");
    let (straight, resumed) = (root.join("straight"), root.join("resumed"));
    let args = |out: &str| {
        vec![
            "run".to_string(),
            "linear-protonet".into(),
            "--env".into(),
            "gaussian-classes".into(),
            "--set".into(),
            "iterations=30".into(),
            "--set".into(),
            "eval_tasks=30".into(),
            "--set".into(),
            "env.dim=8".into(),
            "--seed".into(),
            "4".into(),
            "-q".into(),
            "--out".into(),
            out.to_string(),
        ]
    };
    let run = |v: Vec<String>| autodidact(&v.iter().map(String::as_str).collect::<Vec<_>>());
    run(args(s(&straight))).unwrap();
    let mut stopped = args(s(&resumed));
    stopped.extend(["--stop-after".to_string(), "13".to_string()]);
    let err = run(stopped).unwrap_err();
    assert_eq!(err.exit_code(), 1);
    assert!(
        err.to_string()
            .contains("interrupted at iteration 13 of 30"),
        "{err}"
    );
    autodidact(&["resume", s(&resumed), "-q"]).unwrap();
    assert_same_run(&straight, &resumed);
    let acc = summary(&straight)["final_metrics"]["test_accuracy"]
        .as_f64()
        .unwrap();
    assert!(acc > 0.4, "5-way test accuracy {acc}");

    autodidact(&["eval", "--run", s(&straight), "--set", "env.ways=3"]).unwrap();
    let e: serde_json::Value = serde_json::from_str(&read(straight.join("eval.json"))).unwrap();
    assert!(
        e["metrics"]["test_accuracy"].as_f64().unwrap() > acc,
        "3-way is easier than 5-way"
    );

    let err = autodidact(&["run", "linear-protonet", "--env", "sinusoid"]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert_eq!(
        err.to_string(),
        "linear-protonet trains on a few-shot classification task distribution; sinusoid is a few-shot regression task distribution"
    );
}
