//! `autodidact eval`: evaluates a run's checkpoint on its own environment's held-out split, or
//! on another environment of the same kind (another Omniglot folder, 20-way instead of 5-way),
//! and writes `eval.json`.

use std::path::{Path, PathBuf};

use autodidact_core::{EnvSpec, Metrics, Registry, Seed};
use serde_json::json;

use crate::atomic;
use crate::checkpoint::{Checkpoint, BEST_FILE, CHECKPOINT_FILE};
use crate::config::{find_algorithm, find_env, resolve_env_params, Override};
use crate::errors::{one_line, Result, RunnerError};
use crate::run::panic_message;
use crate::summary::{final_table, metrics_json, toml_to_json, versions};

/// The evaluation's file name in a run folder.
pub const EVAL_FILE: &str = "eval.json";

/// What to evaluate.
#[derive(Clone, Debug, Default)]
pub struct EvalRequest {
    /// The run folder.
    pub dir: PathBuf,
    /// Another environment (of the same kind) to evaluate on.
    pub env: Option<String>,
    /// Environment parameters (`env.KEY=VALUE`) over the run's (or the other environment's
    /// defaults).
    pub sets: Vec<Override>,
    /// Where to write the result (default: `DIR/eval.json`).
    pub output: Option<PathBuf>,
    /// Evaluate the final state (`checkpoint.ckpt`) even when the run kept a best one
    /// (`best.ckpt`, which is evaluated by default).
    pub last: bool,
    /// Print the metrics.
    pub print: bool,
}

/// The result of an evaluation.
#[derive(Clone, Debug)]
pub struct EvalOutcome {
    /// The metrics.
    pub metrics: Metrics,
    /// Where they were written.
    pub path: PathBuf,
}

/// Evaluates a run's checkpoint.
pub fn evaluate(registry: &Registry, req: &EvalRequest) -> Result<EvalOutcome> {
    let dir = req.dir.as_path();
    // A run with --keep-best restored its best state at the end: that is the run's model.
    let file = if !req.last && dir.join(BEST_FILE).is_file() {
        BEST_FILE
    } else {
        CHECKPOINT_FILE
    };
    let ckpt = Checkpoint::read_file(dir, file)?;
    let spec = ckpt.spec(dir)?;
    if let Some(o) = req.sets.iter().find(|o| !o.env) {
        return Err(RunnerError::Usage(format!(
            "eval takes environment parameters only (env.KEY=VALUE); `{}` would change the trained algorithm",
            o.key()
        )));
    }
    let alg_entry = find_algorithm(registry, &spec.algorithm).map_err(|_| {
        RunnerError::Config(format!(
            "the run in {} uses algorithm `{}`, which is not registered here (if it comes from a plugin, pass it with --plugin)",
            dir.display(),
            spec.algorithm
        ))
    })?;
    let mut alg = spec.build(registry)?;
    // The same checks as resume: an edited step count is refused here too.
    ckpt.restore(&dir.join(file), alg.as_mut())?;

    let other = req.env.is_some() || !req.sets.is_empty();
    let (env_name, env_params, metrics) = if other {
        let name = req.env.clone().unwrap_or_else(|| spec.env.clone());
        let entry = find_env(registry, &name)?;
        let trained_on = find_env(registry, &spec.env)?;
        if entry.kind != trained_on.kind {
            return Err(RunnerError::Config(format!(
                "the run trained on {}, which is {}; {} is {}: eval needs an environment of the same kind",
                trained_on.name,
                trained_on.kind.describe(),
                entry.name,
                entry.kind.describe()
            )));
        }
        Registry::check_kind(alg_entry, entry.name, entry.kind)
            .map_err(|e| RunnerError::Config(e.to_string()))?;
        let base = (entry.name == spec.env).then_some(&spec.env_params);
        let params = resolve_env_params(entry, base, &req.sets)?;
        let env_spec = EnvSpec {
            entry,
            config: params.clone(),
        };
        // The seed every family builds its training environment from, so an override of one
        // parameter changes only that parameter: a split stream keeps its classes, order and
        // examples (a class-incremental run evaluated on its task-incremental twin).
        let instance = env_spec
            .instantiate(Seed(spec.seed).derive("env"))
            .map_err(|e| {
                RunnerError::Config(format!(
                    "cannot build environment {}: {}",
                    entry.name,
                    one_line(&e.to_string())
                ))
            })?;
        let m = run_eval(&spec.algorithm, Some(entry.name), || {
            alg.evaluate(Some(&instance))
        })?;
        (entry.name.to_string(), params, m)
    } else {
        let m = run_eval(&spec.algorithm, None, || alg.evaluate(None))?;
        (spec.env.clone(), spec.env_params.clone(), m)
    };

    let path = req.output.clone().unwrap_or_else(|| dir.join(EVAL_FILE));
    let value = json!({
        "run": dir.display().to_string(),
        "algorithm": spec.algorithm,
        "seed": spec.seed,
        "checkpoint": file,
        "checkpoint_iteration": ckpt.header.step,
        "trained_on": spec.env,
        "env": env_name,
        "env_params": toml_to_json(&env_params),
        "metrics": metrics_json(&metrics),
        "versions": versions(),
    });
    atomic::write_json(&path, &value)?;
    if req.print {
        let which = if file == BEST_FILE {
            " (the kept best state; --last for the final one)"
        } else {
            ""
        };
        outln!(
            "{} (iteration {}{which}) evaluated on {env_name}:",
            spec.algorithm,
            ckpt.header.step
        );
        out!("{}", final_table(&metrics));
        outln!("Written to {}", display(&path));
    }
    Ok(EvalOutcome { metrics, path })
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// Runs an evaluation; on another environment (`other`), an error about the data not fitting
/// the trained model (shape, size, kind) is an input error (exit 2), as the documentation
/// promises, not a failed run.
fn run_eval(
    algorithm: &str,
    other: Option<&str>,
    f: impl FnOnce() -> autodidact_core::Result<Metrics>,
) -> Result<Metrics> {
    use autodidact_core::CoreError;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        RunnerError::Failed(format!(
            "{algorithm} panicked while evaluating: {}",
            one_line(&panic_message(p.as_ref()))
        ))
    })?;
    result.map_err(|e| match (other, &e) {
        (
            Some(env),
            CoreError::Shape { .. }
            | CoreError::Incompatible(_)
            | CoreError::Env(_)
            | CoreError::Config { .. }
            | CoreError::WrongEnvKind { .. },
        ) => RunnerError::Config(format!(
            "cannot evaluate the run's {algorithm} on {env}: {}",
            one_line(&e.to_string())
        )),
        _ => RunnerError::Failed(format!("evaluation failed: {}", one_line(&e.to_string()))),
    })
}
