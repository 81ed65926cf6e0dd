//! The Kubernetes indexed Job of `docs/distributed.md` (`docs/examples/kubernetes/`), which no
//! cluster here can run, checked on paper: valid against the Job schema of Kubernetes 1.33
//! (vendored, no network), indexed, each pod one share through `--shard-from-env` with N equal
//! to `completions`; and the documentation shows this very file and the very `sweep.sbatch`
//! the Slurm test submits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn manifest() -> Value {
    serde_norway::from_str(&read(&examples().join("kubernetes/sweep-job.yaml"))).unwrap()
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&read(
        &examples().join("kubernetes/job-batch-v1.schema.json"),
    ))
    .unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn errors(v: &jsonschema::Validator, m: &Value) -> Vec<String> {
    v.iter_errors(m).map(|e| e.to_string()).collect()
}

#[test]
fn the_job_manifest_is_a_valid_indexed_job_of_one_share_per_pod() {
    let v = validator();
    let m = manifest();
    assert_eq!(errors(&v, &m), Vec::<String>::new());
    let spec = &m["spec"];
    assert_eq!(m["kind"], "Job");
    assert_eq!(spec["completionMode"], "Indexed");
    let completions = spec["completions"].as_u64().unwrap();
    assert!(spec["parallelism"].as_u64().unwrap() <= completions);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() >= 30);
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "sweep");
    let n = args
        .iter()
        .position(|a| *a == "--shard-from-env")
        .map(|i| args[i + 1])
        .unwrap();
    assert_eq!(n, completions.to_string(), "N must equal completions");

    // The check can fail: a misspelt field, a wrong type, a list where an object belongs. (The
    // schema gives `completionMode` as a free string, so a mode Kubernetes does not know would
    // pass it; the API server refuses that one.)
    let mut bad = m.clone();
    bad["spec"]["template"]["spec"]["containers"][0]["argz"] = json!([]);
    assert!(!errors(&v, &bad).is_empty());
    let mut bad = m.clone();
    bad["spec"]["completions"] = json!("eight");
    assert!(!errors(&v, &bad).is_empty());
    let mut bad = m;
    bad["spec"]["template"]["spec"] = json!([]);
    assert!(!errors(&v, &bad).is_empty());
}

#[test]
fn the_documentation_shows_the_tested_files() {
    let doc = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/distributed.md"));
    for (file, fence) in [
        ("sweep.sbatch", "```bash\n"),
        ("kubernetes/sweep-job.yaml", "```yaml\n"),
    ] {
        let text = read(&examples().join(file));
        assert!(
            doc.contains(&format!("{fence}{text}```")),
            "docs/distributed.md must show docs/examples/{file} verbatim in a {} block",
            fence.trim()
        );
    }
}
