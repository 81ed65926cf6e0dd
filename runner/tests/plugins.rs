//! Plugins end to end: the template crate `examples/third-party-algorithm`, built as a `cdylib`
//! (it is a dev-dependency of the runner, so cargo builds `libthird_party_algorithm.so` next to
//! this test), is listed, trained, resumed and evaluated through `--plugin` and
//! `AUTODIDACT_PLUGINS`; and a fixture library (`tests/fixtures/mismatched-plugin`, built here
//! with cargo) whose declaration mismatches one field at a time is refused, naming the field
//! and both values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use autodidact_core::plugin::{ABI_VERSION, CORE_VERSION, DEP_VERSIONS, RUSTC_VERSION};
use common::*;

/// The template plugin, built by cargo as a dependency of this test.
fn template_plugin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let name = format!(
        "{}third_party_algorithm{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let path = deps.join(&name);
    assert!(
        path.is_file(),
        "{} was not built next to the tests",
        path.display()
    );
    path
}

/// Builds the fixture (once per test process), with or without its declaration.
fn fixture(with_declaration: bool) -> PathBuf {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    let (with, without) = BUILT.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/mismatched-plugin/Cargo.toml");
        let build = |features: &[&str], dir: &str| -> PathBuf {
            let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir);
            let status = std::process::Command::new(env!("CARGO"))
                .args(["build", "--quiet", "--offline", "--manifest-path"])
                .arg(&manifest)
                .arg("--target-dir")
                .arg(&target)
                .args(features)
                .status()
                .unwrap();
            assert!(status.success(), "building the fixture failed");
            target.join("debug").join(format!(
                "{}mismatched_plugin{}",
                std::env::consts::DLL_PREFIX,
                std::env::consts::DLL_SUFFIX
            ))
        };
        (
            build(&[], "plugin-fixture"),
            build(&["--features", "no-declaration"], "plugin-fixture-nodecl"),
        )
    });
    if with_declaration {
        with.clone()
    } else {
        without.clone()
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn lib_arg(p: &Path) -> String {
    p.display().to_string()
}

fn canonical(p: &str) -> String {
    std::fs::canonicalize(p).unwrap().display().to_string()
}

#[test]
fn a_changed_or_missing_plugin_is_refused_by_resume_naming_what_to_pass() {
    let root = fresh("plugin-provenance");
    // Trained with a copy of the plugin, which then changes and disappears.
    let copy = root.join(format!(
        "{}copy{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    std::fs::copy(template_plugin(), &copy).unwrap();
    let lib = lib_arg(&copy);
    run_in(
        &root,
        &[
            "run",
            "linear-protonet",
            "--env",
            "gaussian-classes",
            "--plugin",
            &lib,
            "-q",
            "--out",
            "r",
            "--set",
            "iterations=20",
            "--set",
            "eval_tasks=5",
            "--stop-after",
            "7",
        ],
    )
    .fails(1);
    let mut bytes = std::fs::read(&copy).unwrap();
    bytes.extend_from_slice(b"rebuilt");
    std::fs::write(&copy, &bytes).unwrap();
    run_in(&root, &["resume", "r"])
        .fails(2)
        .err_has("has changed since the run was trained")
        .err_has("pass --plugin FILE");
    std::fs::remove_file(&copy).unwrap();
    run_in(&root, &["resume", "r"])
        .fails(2)
        .err_has("is not there any more")
        .err_has("pass --plugin FILE");
    // The same build at another path is accepted.
    let original = lib_arg(&template_plugin());
    run_in(&root, &["resume", "r", "-q", "--plugin", &original]).ok();
    run_in(&root, &["eval", "--run", "r", "--plugin", &original]).ok();
}

#[test]
fn the_template_is_listed_from_the_flag_and_the_environment_variable() {
    let root = fresh("plugin-list");
    let lib = lib_arg(&template_plugin());
    let r = run_in(&root, &["list", "--json", "--plugin", &lib]);
    let v: serde_json::Value = serde_json::from_str(&r.ok().stdout).unwrap();
    let entry = v["algorithms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "linear-protonet")
        .expect("linear-protonet is listed");
    assert_eq!(entry["crate"], "third-party-algorithm");
    assert!(
        entry["source"].as_str().unwrap().contains("plugin"),
        "{entry}"
    );
    assert_eq!(entry["trains_on"][0], "few-shot-classification");

    // Without the plugin, it is not there: nothing is loaded unless named.
    let plain = run_in(&root, &["list", "--json"]);
    assert!(!plain.ok().stdout.contains("linear-protonet"));

    let env = finish(
        bin()
            .current_dir(&root)
            .env("AUTODIDACT_PLUGINS", &lib)
            .args(["describe", "linear-protonet"])
            .output()
            .unwrap(),
    );
    env.ok().out_has("embedding_dim = 16");
}

#[test]
fn a_plugin_algorithm_trains_resumes_and_evaluates() {
    let root = fresh("plugin-run");
    let lib = lib_arg(&template_plugin());
    let args = |out: &str, extra: &[&str]| -> Vec<String> {
        [
            "run",
            "linear-protonet",
            "--env",
            "gaussian-classes",
            "--plugin",
            &lib,
            "-q",
            "--out",
            out,
            "--set",
            "iterations=40",
            "--set",
            "eval_tasks=40",
            "--set",
            "log_every=4",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
    };
    run_in(&root, &strs(&args("straight", &[])))
        .ok()
        .out_has("test_accuracy");
    let s: serde_json::Value =
        serde_json::from_str(&read(root.join("straight/summary.json"))).unwrap();
    assert_eq!(s["algorithm_crate"], "third-party-algorithm");
    let acc = s["final_metrics"]["test_accuracy"].as_f64().unwrap();
    assert!(
        acc > 0.4,
        "5-way accuracy {acc} should beat chance (0.2) clearly"
    );

    // The run records the plugin; the hint and config.toml name it.
    run_in(&root, &strs(&args("resumed", &["--stop-after", "17"])))
        .fails(1)
        .err_has(&format!(
            "continue with: autodidact resume resumed --plugin {}",
            canonical(&lib)
        ));
    let record: serde_json::Value =
        serde_json::from_str(&read(root.join("resumed/plugins.json"))).unwrap();
    assert_eq!(record[0]["path"], canonical(&lib));
    assert_eq!(record[0]["algorithms"][0], "linear-protonet");
    assert_eq!(record[0]["sha256"].as_str().unwrap().len(), 64);
    assert!(read(root.join("resumed/config.toml")).contains(&format!(
        "autodidact --plugin {} run linear-protonet",
        canonical(&lib)
    )));
    // Resumed without --plugin: the recorded file is loaded again.
    run_in(&root, &["resume", "resumed", "-q"])
        .ok()
        .err_has("the plugin the run was trained with");
    assert_eq!(
        read(root.join("straight/metrics.jsonl")),
        read(root.join("resumed/metrics.jsonl"))
    );
    assert_eq!(
        summary_without_timing(&root.join("straight")),
        summary_without_timing(&root.join("resumed"))
    );

    // Trained 5-way, evaluated 10-way (prototypes come from the support set).
    run_in(
        &root,
        &[
            "eval",
            "--run",
            "straight",
            "--plugin",
            &lib,
            "--set",
            "env.ways=10",
        ],
    )
    .ok()
    .out_has("test_accuracy");
    let e: serde_json::Value =
        serde_json::from_str(&read(root.join("straight/eval.json"))).unwrap();
    assert_eq!(e["env_params"]["ways"], 10);
    let acc10 = e["metrics"]["test_accuracy"].as_f64().unwrap();
    assert!(acc10 > 0.2 && acc10 < acc, "10-way {acc10} vs 5-way {acc}");
}

#[test]
fn mismatched_declarations_are_refused_naming_the_field_and_both_values() {
    let root = fresh("plugin-mismatch");
    let lib = fixture(true);
    let cases = [
        (
            "abi_version",
            (ABI_VERSION + 1).to_string(),
            CORE_VERSION.to_string(),
            RUSTC_VERSION.to_string(),
        ),
        (
            "core_version",
            ABI_VERSION.to_string(),
            "0.0.1-other".to_string(),
            RUSTC_VERSION.to_string(),
        ),
        (
            "rustc_version",
            ABI_VERSION.to_string(),
            CORE_VERSION.to_string(),
            "rustc 1.0.0 (other)".to_string(),
        ),
    ];
    for (field, abi, core, rustc) in cases {
        let r = finish(
            bin()
                .current_dir(&root)
                .env("FIXTURE_ABI_VERSION", &abi)
                .env("FIXTURE_CORE_VERSION", &core)
                .env("FIXTURE_RUSTC_VERSION", &rustc)
                .args(["list", "--plugin"])
                .arg(&lib)
                .output()
                .unwrap(),
        );
        let (plugin_value, host_value) = match field {
            "abi_version" => (abi.clone(), ABI_VERSION.to_string()),
            "core_version" => (core.clone(), CORE_VERSION.to_string()),
            _ => (rustc.clone(), RUSTC_VERSION.to_string()),
        };
        r.fails(2)
            .err_has(&format!("plugin {}", lib.display()))
            .err_has(&format!(
                "plugin declaration mismatch in `{field}`: the plugin has `{plugin_value}`, this autodidact has `{host_value}`"
            ));
    }
    // Every other field matches; one crate whose types cross the boundary differs.
    let host_ndarray = DEP_VERSIONS
        .split(';')
        .find_map(|p| p.strip_prefix("ndarray="))
        .unwrap();
    let theirs = DEP_VERSIONS.replace(&format!("ndarray={host_ndarray}"), "ndarray=0.15.6");
    finish(
        bin()
            .current_dir(&root)
            .env("FIXTURE_ABI_VERSION", ABI_VERSION.to_string())
            .env("FIXTURE_CORE_VERSION", CORE_VERSION)
            .env("FIXTURE_RUSTC_VERSION", RUSTC_VERSION)
            .env("FIXTURE_DEP_VERSIONS", &theirs)
            .args(["list", "--plugin"])
            .arg(&lib)
            .output()
            .unwrap(),
    )
    .fails(2)
    .err_has(&format!("plugin {}", lib.display()))
    .err_has("mismatch in `dep_versions`")
    .err_has(&format!(
        "the plugin was built with ndarray 0.15.6, this autodidact with ndarray {host_ndarray}"
    ));
}

#[test]
fn a_bare_file_name_is_loaded_from_the_current_directory() {
    let root = fresh("plugin-bare-name");
    // A name no library search path holds: dlopen of the bare name would fail.
    let name = format!(
        "{}autodidact_bare_name_test{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    std::fs::copy(template_plugin(), root.join(&name)).unwrap();
    let r = run_in(&root, &["list", "--json", "--plugin", &name]);
    assert!(r.ok().stdout.contains("linear-protonet"));
}

#[test]
fn unloadable_files_are_refused_naming_the_file() {
    let root = fresh("plugin-bad");
    run_in(&root, &["list", "--plugin", "missing.so"])
        .fails(2)
        .err_has("plugin missing.so: no such file");
    std::fs::write(root.join("text.so"), "not a library").unwrap();
    run_in(&root, &["list", "--plugin", "text.so"])
        .fails(2)
        .err_has("plugin text.so: cannot load it as a shared library");
    let nodecl = fixture(false);
    run_in(&root, &["list", "--plugin", &lib_arg(&nodecl)])
        .fails(2)
        .err_has("does not export `autodidact_plugin_declaration`");
    let env = finish(
        bin()
            .current_dir(&root)
            .env("AUTODIDACT_PLUGINS", "missing-too.so")
            .args(["list"])
            .output()
            .unwrap(),
    );
    env.fails(2).err_has("plugin missing-too.so: no such file");
}

#[test]
fn a_name_registered_twice_is_refused_naming_both_crates() {
    let root = fresh("plugin-dup");
    let lib = template_plugin();
    let copy = root.join(format!(
        "{}copy{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    std::fs::copy(&lib, &copy).unwrap();
    run_in(&root, &["list", "--plugin", &lib_arg(&lib), "--plugin", &lib_arg(&copy)])
        .fails(2)
        .err_has("algorithm `linear-protonet` is registered twice: by crate `third-party-algorithm` and by crate `third-party-algorithm`");
    // The same file named twice is loaded once.
    run_in(
        &root,
        &[
            "list",
            "--plugin",
            &lib_arg(&lib),
            "--plugin",
            &lib_arg(&lib),
        ],
    )
    .ok();
}
