//! Configuration values, hyperparameter structs and their documentation.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{CoreError, Result};

/// A configuration: TOML keys to values (an algorithm's hyperparameters, an environment's
/// parameters).
pub type Config = toml::Table;

/// One documented parameter, for `autodidact describe`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDoc {
    /// The key.
    pub key: &'static str,
    /// Its type in words ("float", "integer", "string", "bool", "list of integers").
    pub ty: &'static str,
    /// The valid range in words ("> 0", "0 ..= 1", "one of: mlp, conv4").
    pub range: &'static str,
    /// What it means, in one line.
    pub doc: &'static str,
}

/// A hyperparameter (or environment parameter) struct: serde with defaults, validated.
///
/// Implementors derive `Serialize`, `Deserialize` (with `#[serde(default, deny_unknown_fields)]`)
/// and `Default` (the papers' values).
pub trait Hyperparams: Serialize + DeserializeOwned + Default {
    /// One entry per key, in the struct's order.
    fn docs() -> Vec<ParamDoc>;

    /// Checks every value; an error names the key and the valid range.
    fn validate(&self) -> Result<()>;

    /// Reads from a configuration (missing keys take defaults, unknown keys are refused) and
    /// validates.
    fn from_config(config: &Config) -> Result<Self> {
        let value = toml::Value::Table(config.clone());
        let parsed: Self = value.try_into().map_err(|e: toml::de::Error| {
            let keys: Vec<&str> = Self::docs().iter().map(|d| d.key).collect();
            CoreError::Config {
                key: unknown_key(&e.to_string()).unwrap_or_else(|| "?".into()),
                reason: format!("{} (valid keys: {})", e.message().trim(), keys.join(", ")),
            }
        })?;
        parsed.validate()?;
        Ok(parsed)
    }

    /// The values as a configuration.
    fn to_config(&self) -> Config {
        match toml::Value::try_from(self) {
            Ok(toml::Value::Table(t)) => t,
            _ => Config::new(),
        }
    }

    /// The defaults as a configuration.
    fn default_config() -> Config {
        Self::default().to_config()
    }
}

fn unknown_key(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_string())
}

/// An error unless `lo <= value <= hi`.
pub fn check_range(key: &str, value: f64, lo: f64, hi: f64) -> Result<()> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(CoreError::Config {
            key: key.to_string(),
            reason: format!("{value} is outside the valid range {lo} ..= {hi}"),
        })
    }
}

/// An error unless `value > 0` (and finite).
pub fn check_positive(key: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(CoreError::Config {
            key: key.to_string(),
            reason: format!("{value} must be > 0"),
        })
    }
}

/// An error unless `value` is one of `allowed`.
pub fn check_one_of(key: &str, value: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(CoreError::Config {
            key: key.to_string(),
            reason: format!("`{value}` is not one of: {}", allowed.join(", ")),
        })
    }
}
