//! Hyperparameters: typed, checked, and documented from the struct itself.
//!
//! A hyperparameter struct derives [`Hyperparams`](macro@crate::Hyperparams): each field's doc
//! comment is its documentation, its type says what values it takes (a choice is an enum that
//! derives [`Choice`](macro@crate::Choice)), and `#[param(..)]` states its bounds. The same
//! bounds drive `autodidact describe` and the checks, so they cannot disagree.
//!
//! A learner is built only from a [`Checked`] value, which only [`Hyperparams::check`] and
//! [`Hyperparams::from_config`] make (linfa's `ParamGuard` idea): unvalidated parameters never
//! reach a constructor.
//!
//! ```
//! use autodidact_core::{Choice, Config, Hyperparams};
//! use serde::{Deserialize, Serialize};
//!
//! /// How to pick the next action.
//! #[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Choice)]
//! #[serde(rename_all = "kebab-case")]
//! enum Policy {
//!     /// Always the best-looking action.
//!     Greedy,
//!     /// A random action with probability ε.
//!     EpsilonGreedy,
//! }
//!
//! /// A toy learner's hyperparameters.
//! #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
//! #[serde(default, deny_unknown_fields)]
//! #[hyperparams(check = Toy::relations)]
//! struct Toy {
//!     /// Learning rate.
//!     #[param(gt = 0, max = 10)]
//!     lr: f64,
//!     /// Hidden widths.
//!     #[param(min = 1, max = 65_536, min_len = 1)]
//!     hidden: Vec<usize>,
//!     /// Action selection.
//!     policy: Policy,
//!     /// Exploration rate (with epsilon-greedy).
//!     #[param(min = 0, max = 1)]
//!     epsilon: f64,
//! }
//!
//! impl Default for Toy {
//!     fn default() -> Self {
//!         Toy { lr: 0.1, hidden: vec![40], policy: Policy::EpsilonGreedy, epsilon: 0.1 }
//!     }
//! }
//!
//! impl Toy {
//!     fn relations(&self) -> autodidact_core::Result<()> {
//!         if self.policy == Policy::Greedy && self.epsilon > 0.0 {
//!             return Err(autodidact_core::config::invalid("epsilon", "must be 0 with the greedy policy"));
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let config: Config = toml::from_str("lr = 0.5\npolicy = \"greedy\"\nepsilon = 0.0").unwrap();
//! let toy = Toy::from_config(&config).unwrap();
//! assert_eq!(toy.policy, Policy::Greedy);
//!
//! let bad: Config = toml::from_str("hidden = [40, -1]").unwrap();
//! let err = Toy::from_config(&bad).unwrap_err().to_string();
//! assert!(err.contains("`hidden`") && err.contains("-1"), "{err}");
//!
//! let docs = Toy::docs();
//! assert_eq!(docs[2].range, "one of: greedy, epsilon-greedy");
//! assert_eq!(docs[0].range, "> 0 and <= 10");
//! ```

use std::ops::Deref;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

/// A configuration: TOML keys to values (an algorithm's hyperparameters, an environment's
/// parameters).
pub type Config = toml::Table;

/// One configuration value.
pub type Value = toml::Value;

/// One documented parameter, for `autodidact describe`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDoc {
    /// The key.
    pub key: &'static str,
    /// Its type in words ("float", "integer", "string", "bool", "list of integers").
    pub ty: String,
    /// The valid values in words ("> 0", "0 ..= 1", "one of: mlp, conv4").
    pub range: String,
    /// What it means, in one line.
    pub doc: &'static str,
}

impl ParamDoc {
    /// The documentation of a field of type `T` with `bounds` (what the derive writes).
    pub fn of<T: ParamType>(key: &'static str, doc: &'static str, bounds: &Bounds) -> ParamDoc {
        let choices = T::choices();
        let range = if !choices.is_empty() {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            format!("one of: {}", names.join(", "))
        } else {
            bounds
                .describe(T::is_list())
                .unwrap_or_else(|| T::default_range())
        };
        ParamDoc {
            key,
            ty: T::type_name(),
            range,
            doc,
        }
    }
}

/// A value a hyperparameter can hold: how it is named in documentation and errors, and the
/// numbers its bounds apply to.
pub trait ParamType {
    /// The type in words ("float", "list of integers").
    fn type_name() -> String;

    /// What a value must be, for an error message ("integer >= 0"); the type by default.
    fn expected() -> String {
        Self::type_name()
    }

    /// The spellings and one-line documentation of a choice (empty for other types).
    fn choices() -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }

    /// What the documentation says when no bound is given.
    fn default_range() -> String {
        "any".to_string()
    }

    /// Whether the value is a list (bounds then apply to each item).
    fn is_list() -> bool {
        false
    }

    /// The numbers that bounds apply to (the value itself, or each item of a list).
    fn numbers(&self) -> Vec<f64> {
        Vec::new()
    }

    /// The length of a list value.
    fn item_count(&self) -> Option<usize> {
        None
    }
}

macro_rules! numeric_param {
    ($name:literal, $expected:literal: $($t:ty),*) => {$(
        impl ParamType for $t {
            fn type_name() -> String {
                $name.to_string()
            }
            fn expected() -> String {
                $expected.to_string()
            }
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
            fn numbers(&self) -> Vec<f64> {
                vec![*self as f64]
            }
        }
    )*};
}
numeric_param!("float", "float": f32, f64);
numeric_param!("integer", "integer": i32, i64);
numeric_param!("integer", "integer >= 0": u8, u16, u32, u64, usize);

impl ParamType for bool {
    fn type_name() -> String {
        "bool".to_string()
    }
    fn default_range() -> String {
        "true or false".to_string()
    }
}

impl ParamType for String {
    fn type_name() -> String {
        "string".to_string()
    }
}

impl ParamType for PathBuf {
    fn type_name() -> String {
        "path".to_string()
    }
}

impl ParamType for Config {
    fn type_name() -> String {
        "table".to_string()
    }
}

impl<T: ParamType> ParamType for Vec<T> {
    fn type_name() -> String {
        format!("list of {}s", T::type_name())
    }
    fn expected() -> String {
        match T::expected().as_str() {
            "integer >= 0" => "list of integers >= 0".to_string(),
            e => format!("list of {e}s"),
        }
    }
    fn choices() -> Vec<(&'static str, &'static str)> {
        T::choices()
    }
    fn is_list() -> bool {
        true
    }
    fn numbers(&self) -> Vec<f64> {
        self.iter().flat_map(ParamType::numbers).collect()
    }
    fn item_count(&self) -> Option<usize> {
        Some(self.len())
    }
}

impl<T: ParamType> ParamType for Option<T> {
    fn type_name() -> String {
        format!("{} (optional)", T::type_name())
    }
    fn expected() -> String {
        T::expected()
    }
    fn choices() -> Vec<(&'static str, &'static str)> {
        T::choices()
    }
    fn default_range() -> String {
        T::default_range()
    }
    fn is_list() -> bool {
        T::is_list()
    }
    fn numbers(&self) -> Vec<f64> {
        self.as_ref().map(ParamType::numbers).unwrap_or_default()
    }
    fn item_count(&self) -> Option<usize> {
        self.as_ref().and_then(ParamType::item_count)
    }
}

/// The bounds of one hyperparameter, as `#[param(..)]` states them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bounds {
    /// Smallest allowed value (inclusive).
    pub min: Option<f64>,
    /// Largest allowed value (inclusive).
    pub max: Option<f64>,
    /// Exclusive lower bound.
    pub gt: Option<f64>,
    /// Exclusive upper bound.
    pub lt: Option<f64>,
    /// Fewest items of a list.
    pub min_len: Option<usize>,
    /// Most items of a list.
    pub max_len: Option<usize>,
}

/// Relative tolerance of float bounds: `0.1 + 0.9` must still be `<= 1`.
const BOUND_TOLERANCE: f64 = 1e-9;

fn slack(bound: f64) -> f64 {
    BOUND_TOLERANCE * bound.abs().max(1.0)
}

/// A number as a person writes it (`1`, not `1.0`; `0.001`).
pub fn fmt_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

impl Bounds {
    /// The bounds in words ("> 0 and <= 10", "each >= 1; 1 to 8 items"), or `None` when there
    /// are none.
    pub fn describe(&self, list: bool) -> Option<String> {
        let mut parts = Vec::new();
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => {
                parts.push(format!("{} ..= {}", fmt_number(lo), fmt_number(hi)))
            }
            (Some(lo), None) => parts.push(format!(">= {}", fmt_number(lo))),
            (None, Some(hi)) => parts.push(format!("<= {}", fmt_number(hi))),
            (None, None) => {}
        }
        if let Some(g) = self.gt {
            parts.insert(0, format!("> {}", fmt_number(g)));
        }
        if let Some(l) = self.lt {
            parts.push(format!("< {}", fmt_number(l)));
        }
        let mut text = parts.join(" and ");
        if list && !text.is_empty() {
            text = format!("each {text}");
        }
        let len = match (self.min_len, self.max_len) {
            (Some(a), Some(b)) => Some(format!("{a} to {b} items")),
            (Some(a), None) => Some(format!(
                "at least {a} item{}",
                if a == 1 { "" } else { "s" }
            )),
            (None, Some(b)) => Some(format!("at most {b} items")),
            (None, None) => None,
        };
        if let Some(len) = len {
            text = if text.is_empty() {
                len
            } else {
                format!("{text}; {len}")
            };
        }
        (!text.is_empty()).then_some(text)
    }

    /// Whether one number lies within the bounds (float bounds with a small tolerance).
    pub fn admits(&self, x: f64) -> bool {
        x.is_finite()
            && self.min.is_none_or(|lo| x >= lo - slack(lo))
            && self.max.is_none_or(|hi| x <= hi + slack(hi))
            && self.gt.is_none_or(|g| x > g)
            && self.lt.is_none_or(|l| x < l)
    }
}

/// Checks a field's value against its bounds; the error names the key, the value and the range.
pub fn check_bounds<T: ParamType>(key: &str, value: &T, bounds: &Bounds) -> Result<()> {
    let list = T::is_list();
    let range = || bounds.describe(list).unwrap_or_default();
    if let Some(n) = value.item_count() {
        if bounds.min_len.is_some_and(|m| n < m) || bounds.max_len.is_some_and(|m| n > m) {
            return Err(invalid(key, format!("has {n} items; allowed: {}", range())));
        }
    }
    for x in value.numbers() {
        if !bounds.admits(x) {
            let shown = fmt_number(x);
            let what = if list { format!("item {shown}") } else { shown };
            return Err(invalid(
                key,
                format!("{what} is outside the allowed range {}", range()),
            ));
        }
    }
    Ok(())
}

/// A configuration error on `key`.
pub fn invalid(key: &str, reason: impl Into<String>) -> CoreError {
    CoreError::Config {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// The error for a key the struct does not have, listing the valid ones.
pub fn unknown_key(key: &str, valid: &[&str]) -> CoreError {
    invalid(
        key,
        format!("unknown key (valid keys: {})", valid.join(", ")),
    )
}

/// A value in TOML spelling, shortened for an error message.
fn show(value: &Value) -> String {
    let s = match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// Reads one key's value as `T`; the error names the key, the value given and what `T` takes.
pub fn parse_value<T: ParamType + DeserializeOwned>(key: &str, value: &Value) -> Result<T> {
    T::deserialize(value.clone()).map_err(|_| {
        let choices = T::choices();
        let expected = if choices.is_empty() {
            T::expected()
        } else {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            format!("one of: {}", names.join(", "))
        };
        invalid(key, format!("got {}, expected {expected}", show(value)))
    })
}

/// Parameters that passed [`Hyperparams::validate`]: the only form a learner accepts.
///
/// It dereferences to the parameters; there is no way to build one without checking.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Checked<P>(P);

impl<P> Deref for Checked<P> {
    type Target = P;
    fn deref(&self) -> &P {
        &self.0
    }
}

impl<P> Checked<P> {
    /// The parameters, to change and check again.
    pub fn into_inner(self) -> P {
        self.0
    }
}

impl<P: Hyperparams> Default for Checked<P> {
    /// The defaults, which must pass their own checks (a test per struct proves it).
    fn default() -> Self {
        Checked(P::default())
    }
}

/// A hyperparameter (or environment parameter) struct: serde with defaults, validated,
/// documented. Derive it (`#[derive(Hyperparams)]`) rather than implementing it by hand.
pub trait Hyperparams: Serialize + DeserializeOwned + Default + Clone {
    /// One entry per key, in the struct's order.
    fn docs() -> Vec<ParamDoc>;

    /// Sets one key from a configuration value; the error names the key and the value.
    fn set(&mut self, key: &str, value: &Value) -> Result<()>;

    /// Checks every value (bounds, then relations between fields); an error names the key.
    fn validate(&self) -> Result<()>;

    /// Validates and wraps: the only way to a [`Checked`] value.
    fn check(self) -> Result<Checked<Self>> {
        self.validate()?;
        Ok(Checked(self))
    }

    /// Reads from a configuration (missing keys take defaults, unknown keys are refused, each
    /// value is read with an error naming its key) and checks.
    fn from_config(config: &Config) -> Result<Checked<Self>> {
        Self::default().with_config(config)
    }

    /// Lays a configuration over these values (each key read with an error naming it) and
    /// checks the result.
    fn with_config(mut self, config: &Config) -> Result<Checked<Self>> {
        for (key, value) in config {
            self.set(key, value)?;
        }
        self.check()
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

/// A list a configuration may give as one value or as a list (`data_dir = "a"` or
/// `data_dir = ["a", "b"]`); it reads as a `Vec`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<T> {
            One(T),
            Many(Vec<T>),
        }
        Ok(OneOrMany(match Either::deserialize(d)? {
            Either::One(x) => vec![x],
            Either::Many(v) => v,
        }))
    }
}

impl<T> Deref for OneOrMany<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<'a, T> IntoIterator for &'a OneOrMany<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T> From<Vec<T>> for OneOrMany<T> {
    fn from(v: Vec<T>) -> Self {
        OneOrMany(v)
    }
}

impl<T: ParamType> ParamType for OneOrMany<T> {
    fn type_name() -> String {
        let inner = T::type_name();
        format!("{inner} or list of {inner}s")
    }
    fn is_list() -> bool {
        true
    }
    fn numbers(&self) -> Vec<f64> {
        self.0.iter().flat_map(ParamType::numbers).collect()
    }
    fn item_count(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// An error unless `lo <= value <= hi` (with the bounds' float tolerance).
pub fn check_range(key: &str, value: f64, lo: f64, hi: f64) -> Result<()> {
    check_bounds(
        key,
        &value,
        &Bounds {
            min: Some(lo),
            max: Some(hi),
            ..Bounds::default()
        },
    )
}

/// An error unless `value > 0` (and finite).
pub fn check_positive(key: &str, value: f64) -> Result<()> {
    check_bounds(
        key,
        &value,
        &Bounds {
            gt: Some(0.0),
            ..Bounds::default()
        },
    )
}
