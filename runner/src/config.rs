//! Configuration resolution: defaults < `--config` file < `--set key=value`, algorithm keys by
//! name and environment keys under `env.`; validation (unknown keys with the valid ones
//! listed, ranges by building); and the resolved [`RunSpec`] a run records and resumes from.
//!
//! A configuration file holds the algorithm's hyperparameters at the top level and the
//! environment's parameters in an `[env]` table:
//!
//! ```toml
//! inner_lr = 0.01
//! meta_batch_size = 25
//!
//! [env]
//! shots = 5
//! ```

use std::path::Path;

use autodidact_core::registry::edit_distance;
use autodidact_core::{
    Algorithm, AlgorithmEntry, Config, CoreError, EnvEntry, EnvSpec, ParamDoc, Registry, Seed,
};
use serde::{Deserialize, Serialize};

use crate::errors::{one_line, Result, RunnerError};

/// The prefix of environment keys in `--set`.
pub const ENV_PREFIX: &str = "env.";

/// Everything that defines a run: names, seed and the full resolved configuration (defaults
/// included, so a later change of defaults does not change a recorded run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The algorithm's registered name.
    pub algorithm: String,
    /// The environment's registered name.
    pub env: String,
    /// The run's seed.
    pub seed: u64,
    /// The algorithm's hyperparameters.
    pub hyperparameters: Config,
    /// The environment's parameters.
    pub env_params: Config,
}

/// One `--set KEY=VALUE` (or `--grid` value): where it goes, the parsed value and its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// The key without the `env.` prefix, split at dots.
    pub path: Vec<String>,
    /// Whether it is an environment key.
    pub env: bool,
    /// The value, parsed as TOML (a bare word falls back to a string).
    pub value: toml::Value,
    /// The value as written.
    pub raw: String,
}

impl Override {
    /// Parses `KEY=VALUE`.
    pub fn parse(text: &str) -> Result<Override> {
        let Some((key, raw)) = text.split_once('=') else {
            return Err(RunnerError::Usage(format!(
                "`{text}` is not KEY=VALUE (algorithm keys by name, environment keys as env.KEY)"
            )));
        };
        Override::new(key.trim(), raw.trim())
    }

    /// An override of `key` (possibly `env.`-prefixed) with the value text `raw`.
    pub fn new(key: &str, raw: &str) -> Result<Override> {
        let (env, rest) = match key.strip_prefix(ENV_PREFIX) {
            Some(rest) => (true, rest),
            None if key == "env" => {
                return Err(RunnerError::Usage(
                    "`env` is not a key: set environment parameters as env.KEY=VALUE".into(),
                ))
            }
            None => (false, key),
        };
        let path: Vec<String> = rest.split('.').map(str::to_string).collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(RunnerError::Usage(format!("`{key}` is not a valid key")));
        }
        Ok(Override {
            path,
            env,
            value: parse_value(raw),
            raw: raw.to_string(),
        })
    }

    /// The key as written (`env.`-prefixed for environment keys).
    pub fn key(&self) -> String {
        let k = self.path.join(".");
        if self.env {
            format!("{ENV_PREFIX}{k}")
        } else {
            k
        }
    }
}

/// A value as TOML (`0.01`, `true`, `[1, 2]`, `"text"`); anything else is a string.
pub fn parse_value(raw: &str) -> toml::Value {
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

/// A configuration file's two parts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigFile {
    /// Top-level keys: the algorithm's hyperparameters.
    pub hyperparameters: Config,
    /// The `[env]` table: the environment's parameters.
    pub env: Config,
}

/// Reads a configuration file (TOML; environment keys in `[env]`).
pub fn read_config_file(path: &Path) -> Result<ConfigFile> {
    let text = crate::errors::read_text(path)?;
    let mut table = parse_toml(path, &text)?;
    let env = match table.remove("env") {
        None => Config::new(),
        Some(toml::Value::Table(t)) => t,
        Some(_) => {
            return Err(RunnerError::parse(
                path,
                "`env` must be a table ([env]) of environment parameters",
            ))
        }
    };
    Ok(ConfigFile {
        hyperparameters: table,
        env,
    })
}

/// Parses TOML text; an error names the line and column.
pub fn parse_toml(path: &Path, text: &str) -> Result<toml::Table> {
    text.parse::<toml::Table>().map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("line {line}, column {col}: ")
            })
            .unwrap_or_default();
        RunnerError::parse(path, format!("{at}{}", one_line(e.message())))
    })
}

/// An algorithm by name; an unknown name suggests the closest ones.
pub fn find_algorithm(registry: &Registry, name: &str) -> Result<&'static AlgorithmEntry> {
    if let Some(a) = registry.algorithm(name) {
        return Ok(a);
    }
    if registry.env(name).is_some() {
        return Err(RunnerError::Config(format!(
            "`{name}` is an environment, not an algorithm (give it with --env; `autodidact list` shows the algorithms)"
        )));
    }
    Err(unknown(registry, "algorithm", name, |n| {
        registry.algorithm(n).is_some()
    }))
}

/// An environment by name; an unknown name suggests the closest ones.
pub fn find_env(registry: &Registry, name: &str) -> Result<&'static EnvEntry> {
    if let Some(e) = registry.env(name) {
        return Ok(e);
    }
    if registry.algorithm(name).is_some() {
        return Err(RunnerError::Config(format!(
            "`{name}` is an algorithm, not an environment (`autodidact list` shows the environments)"
        )));
    }
    Err(unknown(registry, "environment", name, |n| {
        registry.env(n).is_some()
    }))
}

/// The "unknown name" error with the closest names of the right kind (or any kind).
pub fn unknown(
    registry: &Registry,
    kind: &'static str,
    name: &str,
    of_kind: impl Fn(&str) -> bool,
) -> RunnerError {
    let all = registry.suggest(name);
    let mut suggestions: Vec<String> = all
        .iter()
        .filter(|n| of_kind(n))
        .map(|n| n.to_string())
        .collect();
    if suggestions.is_empty() {
        suggestions = all.iter().map(|n| n.to_string()).collect();
    }
    RunnerError::UnknownName {
        kind,
        name: name.to_string(),
        suggestions,
    }
}

/// The keys a configuration may hold: the documented ones, then any other default key.
pub fn valid_keys(docs: &[ParamDoc], defaults: &Config) -> Vec<String> {
    let mut keys: Vec<String> = docs.iter().map(|d| d.key.to_string()).collect();
    for k in defaults.keys() {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys
}

/// Refuses a key that is not valid, listing the valid ones (and the closest).
fn check_key(key: &str, valid: &[String], owner: &str, prefix: &str) -> Result<()> {
    if valid.iter().any(|k| k == key) {
        return Ok(());
    }
    let close = valid
        .iter()
        .filter(|k| edit_distance(key, k) <= 2.max(k.len() / 3))
        .min_by_key(|k| edit_distance(key, k));
    let hint = close.map_or(String::new(), |c| format!(" (did you mean `{prefix}{c}`?)"));
    let listed = if valid.is_empty() {
        "it takes no keys".to_string()
    } else {
        format!(
            "valid keys: {}",
            valid
                .iter()
                .map(|k| format!("{prefix}{k}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Err(RunnerError::Config(format!(
        "unknown key `{prefix}{key}` for {owner}{hint}; {listed}"
    )))
}

/// Converts `value` to the default's type where that is lossless and meant: an integer where
/// a float is expected, any bare word where a string is expected.
fn coerce(value: toml::Value, raw: Option<&str>, default: Option<&toml::Value>) -> toml::Value {
    use toml::Value as V;
    match (default, value) {
        (Some(V::Float(_)), V::Integer(i)) => V::Float(i as f64),
        (Some(V::String(_)), v @ V::String(_)) => v,
        (Some(V::String(_)), v) => match raw {
            Some(r) => V::String(r.to_string()),
            None => v,
        },
        (Some(V::Array(d)), V::Array(items)) => {
            let first = d.first();
            V::Array(items.into_iter().map(|x| coerce(x, None, first)).collect())
        }
        (_, v) => v,
    }
}

/// Sets `path` in `table` to `value` (creating tables on the way), coerced to the type of
/// `defaults` at the same place.
fn set_path(
    table: &mut Config,
    defaults: Option<&Config>,
    path: &[String],
    value: toml::Value,
    raw: Option<&str>,
    key: &str,
) -> Result<()> {
    let Some((head, rest)) = path.split_first() else {
        return Ok(());
    };
    let default = defaults.and_then(|d| d.get(head));
    if rest.is_empty() {
        table.insert(head.clone(), coerce(value, raw, default));
        return Ok(());
    }
    let entry = table
        .entry(head.clone())
        .or_insert_with(|| toml::Value::Table(Config::new()));
    let toml::Value::Table(inner) = entry else {
        return Err(RunnerError::Config(format!(
            "`{key}`: `{head}` is not a table"
        )));
    };
    let inner_defaults = match default {
        Some(toml::Value::Table(t)) => Some(t),
        _ => None,
    };
    set_path(inner, inner_defaults, rest, value, raw, key)
}

/// Merges `layer` over `base` key by key (tables merge recursively).
fn merge(base: &mut Config, layer: &Config, defaults: &Config) {
    for (k, v) in layer {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(l)) => {
                let empty = Config::new();
                let d = match defaults.get(k) {
                    Some(toml::Value::Table(t)) => t,
                    _ => &empty,
                };
                merge(b, l, d);
            }
            _ => {
                base.insert(k.clone(), coerce(v.clone(), None, defaults.get(k)));
            }
        }
    }
}

/// One side (algorithm or environment) of the resolution.
fn resolve_side(
    owner: &str,
    prefix: &str,
    docs: &[ParamDoc],
    defaults: Config,
    file: &Config,
    sets: &[&Override],
) -> Result<Config> {
    let valid = valid_keys(docs, &defaults);
    for k in file.keys() {
        check_key(k, &valid, owner, prefix)?;
    }
    for o in sets {
        check_key(&o.path[0], &valid, owner, prefix)?;
    }
    let mut config = defaults.clone();
    merge(&mut config, file, &defaults);
    for o in sets {
        set_path(
            &mut config,
            Some(&defaults),
            &o.path,
            o.value.clone(),
            Some(&o.raw),
            &o.key(),
        )?;
    }
    Ok(config)
}

/// An environment's parameters: `base` (or the environment's defaults) < `sets` (every one an
/// `env.` key), keys checked. For `eval` on another environment or with other parameters.
pub fn resolve_env_params(
    entry: &EnvEntry,
    base: Option<&Config>,
    sets: &[Override],
) -> Result<Config> {
    let refs: Vec<&Override> = sets.iter().collect();
    let defaults = (entry.default_config)();
    let layer = base.cloned().unwrap_or_default();
    resolve_side(
        &format!("environment {}", entry.name),
        ENV_PREFIX,
        &(entry.params)(),
        defaults,
        &layer,
        &refs,
    )
}

impl RunSpec {
    /// Resolves a run's configuration: defaults < `file` < `sets`, keys checked.
    pub fn resolve(
        registry: &Registry,
        algorithm: &str,
        env: &str,
        file: Option<&ConfigFile>,
        sets: &[Override],
        seed: u64,
    ) -> Result<RunSpec> {
        let a = find_algorithm(registry, algorithm)?;
        let e = find_env(registry, env)?;
        Registry::check_kind(a, e.name, e.kind)
            .map_err(|err| RunnerError::Config(err.to_string()))?;
        let empty = ConfigFile::default();
        let file = file.unwrap_or(&empty);
        let alg_sets: Vec<&Override> = sets.iter().filter(|o| !o.env).collect();
        let env_sets: Vec<&Override> = sets.iter().filter(|o| o.env).collect();
        let hyperparameters = resolve_side(
            &format!("algorithm {}", a.name),
            "",
            &(a.params)(),
            (a.default_config)(),
            &file.hyperparameters,
            &alg_sets,
        )?;
        let env_params = resolve_side(
            &format!("environment {}", e.name),
            ENV_PREFIX,
            &(e.params)(),
            (e.default_config)(),
            &file.env,
            &env_sets,
        )?;
        Ok(RunSpec {
            algorithm: a.name.to_string(),
            env: e.name.to_string(),
            seed,
            hyperparameters,
            env_params,
        })
    }

    /// The environment, by name, with its parameters.
    pub fn env_spec(&self, registry: &Registry) -> Result<EnvSpec> {
        Ok(EnvSpec {
            entry: find_env(registry, &self.env)?,
            config: self.env_params.clone(),
        })
    }

    /// Builds the algorithm on its environment; a refusal (a value out of range, data that
    /// cannot be found) is an input error.
    pub fn build(&self, registry: &Registry) -> Result<Box<dyn Algorithm>> {
        let a = find_algorithm(registry, &self.algorithm)?;
        let env = self.env_spec(registry)?;
        Registry::check_kind(a, env.name(), env.entry.kind)
            .map_err(|err| RunnerError::Config(err.to_string()))?;
        (a.build)(&self.hyperparameters, &env, Seed(self.seed)).map_err(|err| {
            let err = self.name_env_key(err);
            RunnerError::Config(format!(
                "cannot build {} on {}: {}",
                self.algorithm,
                self.env,
                one_line(&err.to_string())
            ))
        })
    }

    /// The environment checks its own parameters without knowing they are `env.KEY` to the
    /// user: name the key as it was typed, when it can only be the environment's.
    fn name_env_key(&self, err: CoreError) -> CoreError {
        match err {
            CoreError::Config { key, reason }
                if self.env_params.contains_key(&key)
                    && !self.hyperparameters.contains_key(&key) =>
            {
                CoreError::Config {
                    key: format!("{ENV_PREFIX}{key}"),
                    reason,
                }
            }
            other => other,
        }
    }

    /// The configuration in the `--config` file format (hyperparameters, then `[env]`), with
    /// a header saying how it was made.
    /// `plugin_args` (` --plugin FILE` each) goes into the command it names.
    pub fn config_toml(&self, plugin_args: &str) -> String {
        let mut table = self.hyperparameters.clone();
        table.insert(
            "env".to_string(),
            toml::Value::Table(self.env_params.clone()),
        );
        let body = toml::to_string(&table).unwrap_or_default();
        format!(
            "# Resolved configuration of `autodidact{plugin_args} run {} --env {} --seed {}`\n\
             # (defaults < --config file < --set). Repeat the run with --config on this file.\n\n{body}",
            self.algorithm, self.env, self.seed
        )
    }

    /// Refuses to train on an environment whose classes are all test classes
    /// (`split = "test-only"` is for `autodidact eval` on new data).
    pub fn check_trainable(&self) -> Result<()> {
        match self.env_params.get("split").and_then(toml::Value::as_str) {
            Some("test-only") => Err(RunnerError::Config(format!(
                "key `env.split`: \"test-only\" makes every class of {} a test class, which \
                 nothing can be trained on; it is for evaluating a trained run on new data \
                 (autodidact eval --run DIR --set env.data_dir=NEW --set env.split=test-only)",
                self.env
            ))),
            _ => Ok(()),
        }
    }

    /// The spec as TOML (stored in checkpoints; TOML keeps every float exactly).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self)
            .map_err(|e| RunnerError::Failed(format!("cannot encode the run's configuration: {e}")))
    }

    /// Reads a spec written by [`RunSpec::to_toml`].
    pub fn from_toml(path: &Path, text: &str) -> Result<RunSpec> {
        toml::from_str(text).map_err(|e| RunnerError::parse(path, e.message()))
    }

    /// A label of the run (`maml-sinusoid`), safe in a file name.
    pub fn slug(&self) -> String {
        sanitize(&format!("{}-{}", self.algorithm, self.env))
    }
}

/// Keeps letters, digits, `-`, `_`, `.`, `=` and `,`; anything else becomes `_`.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.=,".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_as_toml_or_strings() {
        assert_eq!(parse_value("0.5"), toml::Value::Float(0.5));
        assert_eq!(parse_value("3"), toml::Value::Integer(3));
        assert_eq!(parse_value("true"), toml::Value::Boolean(true));
        assert_eq!(parse_value("conv4"), toml::Value::String("conv4".into()));
        assert_eq!(
            parse_value("/data/omniglot"),
            toml::Value::String("/data/omniglot".into())
        );
        assert_eq!(
            parse_value("[1, 2]"),
            toml::Value::Array(vec![1.into(), 2.into()])
        );
    }

    #[test]
    fn overrides_split_env_keys() {
        let o = Override::parse("env.ways=20").unwrap();
        assert!(o.env);
        assert_eq!(o.path, vec!["ways"]);
        assert_eq!(o.key(), "env.ways");
        assert!(Override::parse("lr").is_err());
        assert!(Override::parse("env=3").is_err());
        assert!(Override::parse("a..b=3").is_err());
    }

    #[test]
    fn layers_merge_with_coercion_and_unknown_keys_are_refused() {
        let mut defaults = Config::new();
        defaults.insert("lr".into(), 0.1.into());
        defaults.insert("arch".into(), "mlp".into());
        defaults.insert("steps".into(), 5.into());
        let mut file = Config::new();
        file.insert("steps".into(), 7.into());
        let sets = [
            Override::parse("lr=1").unwrap(),
            Override::parse("arch=2").unwrap(),
        ];
        let refs: Vec<&Override> = sets.iter().collect();
        let c = resolve_side("algorithm x", "", &[], defaults.clone(), &file, &refs).unwrap();
        assert_eq!(c["lr"], toml::Value::Float(1.0));
        assert_eq!(c["arch"], toml::Value::String("2".into()));
        assert_eq!(c["steps"], toml::Value::Integer(7));

        let bad = [Override::parse("lrr=1").unwrap()];
        let refs: Vec<&Override> = bad.iter().collect();
        let e = resolve_side("algorithm x", "", &[], defaults, &Config::new(), &refs)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown key `lrr`"), "{e}");
        assert!(e.contains("did you mean `lr`"), "{e}");
        assert!(
            e.contains("valid keys: lr, arch, steps") || e.contains("valid keys: arch, lr, steps"),
            "{e}"
        );
    }

    #[test]
    fn toml_errors_name_the_line() {
        let e = parse_toml(Path::new("c.toml"), "a = 1\nb = = 2\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml: line 2"), "{e}");
        assert!(!e.contains('\n'));
    }
}
