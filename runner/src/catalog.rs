//! `autodidact list` and `autodidact describe`: what the registry holds, and each entry's
//! parameters as TOML ready to paste into a configuration file.

use autodidact_core::{AlgorithmEntry, Config, EnvEntry, ParamDoc, Registry};
use serde_json::{json, Value};

use crate::config::{unknown, valid_keys};
use crate::errors::Result;
use crate::plugin::LoadedPlugin;
use crate::table::Table;

fn source(crate_name: &str, name: &str, plugins: &[LoadedPlugin], algorithm: bool) -> String {
    plugins
        .iter()
        .find(|p| {
            if algorithm {
                p.algorithms.contains(&name)
            } else {
                p.envs.contains(&name)
            }
        })
        .map_or_else(
            || crate_name.to_string(),
            |p| format!("{crate_name} (plugin {})", p.path.display()),
        )
}

fn sorted_algorithms(registry: &Registry) -> Vec<&'static AlgorithmEntry> {
    let mut a = registry.algorithms().to_vec();
    a.sort_by_key(|e| (e.family, e.name));
    a
}

fn sorted_envs(registry: &Registry) -> Vec<&'static EnvEntry> {
    let mut e = registry.envs().to_vec();
    e.sort_by_key(|e| e.name);
    e
}

fn accepts(a: &AlgorithmEntry) -> Vec<String> {
    a.accepts.iter().map(|k| k.to_string()).collect()
}

/// The listing as JSON: `{"algorithms": [...], "environments": [...]}`, each entry with
/// `name`.
pub fn list_json(registry: &Registry, plugins: &[LoadedPlugin]) -> Value {
    json!({
        "algorithms": sorted_algorithms(registry).iter().map(|a| json!({
            "name": a.name,
            "family": a.family,
            "trains_on": accepts(a),
            "summary": a.summary,
            "crate": a.crate_name,
            "source": source(a.crate_name, a.name, plugins, true),
        })).collect::<Vec<_>>(),
        "environments": sorted_envs(registry).iter().map(|e| json!({
            "name": e.name,
            "kind": e.kind.to_string(),
            "summary": e.summary,
            "crate": e.crate_name,
            "source": source(e.crate_name, e.name, plugins, false),
        })).collect::<Vec<_>>(),
    })
}

/// The listing as tables.
pub fn list_text(registry: &Registry, plugins: &[LoadedPlugin]) -> String {
    let mut out = String::new();
    let algorithms = sorted_algorithms(registry);
    out.push_str(&format!("Algorithms ({}):\n", algorithms.len()));
    if algorithms.is_empty() {
        out.push_str("  none registered\n");
    } else {
        let mut t = Table::new(["name", "family", "trains on", "summary"]);
        for a in algorithms {
            t.row([
                a.name.to_string(),
                a.family.to_string(),
                accepts(a).join(", "),
                a.summary.to_string(),
            ]);
        }
        out.push_str(&t.render(2));
    }
    let envs = sorted_envs(registry);
    out.push_str(&format!("\nEnvironments ({}):\n", envs.len()));
    let mut t = Table::new(["name", "kind", "summary"]);
    for e in envs {
        t.row([
            e.name.to_string(),
            e.kind.to_string(),
            e.summary.to_string(),
        ]);
    }
    out.push_str(&t.render(2));
    for p in plugins {
        out.push_str(&format!(
            "\nPlugin {}: algorithms [{}], environments [{}]\n",
            p.path.display(),
            p.algorithms.join(", "),
            p.envs.join(", ")
        ));
    }
    out.push_str("\n`autodidact describe NAME` shows an entry's parameters.\n");
    out
}

/// A key as TOML writes it (bare when it can be).
fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        toml::Value::String(key.to_string()).to_string()
    }
}

/// `# doc (type, range)` and `key = default` for every key.
fn params_toml(docs: &[ParamDoc], defaults: &Config) -> String {
    let mut out = String::new();
    for key in valid_keys(docs, defaults) {
        match docs.iter().find(|d| d.key == key) {
            Some(d) => out.push_str(&format!("\n# {} ({}, {})\n", d.doc, d.ty, d.range)),
            None => out.push_str("\n# (undocumented)\n"),
        }
        match defaults.get(&key) {
            Some(v) => out.push_str(&format!("{} = {v}\n", toml_key(&key))),
            None => out.push_str(&format!("# {} = (no default)\n", toml_key(&key))),
        }
    }
    out
}

/// An algorithm's hyperparameters as commented TOML.
pub fn describe_algorithm(a: &AlgorithmEntry) -> String {
    let kinds: Vec<&str> = a.accepts.iter().map(|k| k.describe()).collect();
    format!(
        "# {}: {} (crate {})\n# {}\n# Trains on {}.\n# Hyperparameters with their defaults, ready for a --config file (or --set KEY=VALUE);\n# environment parameters go in an [env] table (see `autodidact describe ENV`).\n{}",
        a.name,
        a.family,
        a.crate_name,
        a.summary,
        kinds.join(" or "),
        params_toml(&(a.params)(), &(a.default_config)())
    )
}

/// An environment's parameters as commented TOML, in an `[env]` table.
pub fn describe_env(e: &EnvEntry) -> String {
    format!(
        "# {}: {} (crate {})\n# {}\n# Parameters with their defaults, for the [env] table of a --config file\n# (or --set env.KEY=VALUE).\n\n[env]{}",
        e.name,
        e.kind.describe(),
        e.crate_name,
        e.summary,
        params_toml(&(e.params)(), &(e.default_config)())
    )
}

/// `describe NAME`: the algorithm's or environment's parameters (both, if both exist).
pub fn describe(registry: &Registry, name: &str) -> Result<String> {
    let mut parts = Vec::new();
    if let Some(a) = registry.algorithm(name) {
        parts.push(describe_algorithm(a));
    }
    if let Some(e) = registry.env(name) {
        parts.push(describe_env(e));
    }
    if parts.is_empty() {
        return Err(unknown(registry, "algorithm or environment", name, |_| {
            true
        }));
    }
    Ok(parts.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_quoted_when_needed() {
        assert_eq!(toml_key("inner_lr"), "inner_lr");
        assert_eq!(toml_key("a b"), "\"a b\"");
    }

    #[test]
    fn params_render_as_valid_toml() {
        let docs = vec![ParamDoc {
            key: "lr",
            ty: "float".into(),
            range: "> 0".into(),
            doc: "learning rate",
        }];
        let mut d = Config::new();
        d.insert("lr".into(), 0.001.into());
        d.insert(
            "hidden".into(),
            toml::Value::Array(vec![40.into(), 40.into()]),
        );
        let text = params_toml(&docs, &d);
        assert!(
            text.contains("# learning rate (float, > 0)\nlr = 0.001\n"),
            "{text}"
        );
        let parsed: toml::Table = text.parse().unwrap();
        assert_eq!(parsed, d);
    }
}
