//! Property-based fuzzing of core's parsers: TOML configuration text read into typed
//! hyperparameters (`Hyperparams::from_config`, `set`, `config::parse_value`) and the plugin
//! declaration a loaded library exports (`PluginDeclaration::check`). Each case runs under the
//! memory cap and time limit of `autodidact_core::testing::fuzz`: a valid result or an error
//! naming the key or field, never a panic, a hang or a runaway allocation.
//!
//! `PROPTEST_CASES=N cargo test -p autodidact-core --test fuzz` runs N cases per property
//! (docs/testing.md records the long runs).
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The plugin property builds declarations over its own byte strings.
#![allow(unsafe_code)]

use std::path::PathBuf;

use autodidact_core::config::{parse_value, OneOrMany, Value};
use autodidact_core::layers::{Activation, Init};
use autodidact_core::plugin::{
    FfiStr, PluginDeclaration, PluginRegistrar, ABI_VERSION, CORE_VERSION, DEP_VERSIONS,
    RUSTC_VERSION,
};
use autodidact_core::testing::fuzz::{self, arb_input, CountingAllocator, Outcome};
use autodidact_core::{Choice, Config, Hyperparams, ParamType};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// Cases per property in an ordinary `cargo test` (CI): docs/testing.md has the timings.
const CI_CASES: u32 = 1024;

// ---------------------------------------------------------------- a struct of every type

/// A choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    /// One way.
    Standard,
    /// Another.
    LabelsTrick,
}

/// Every kind of field a hyperparameter struct has, with bounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
struct Every {
    /// Steps.
    #[param(min = 1, max = 1_000_000)]
    steps: u64,
    /// Rate.
    #[param(gt = 0, max = 10)]
    lr: f64,
    /// Widths.
    #[param(min = 1, max = 4096, min_len = 1, max_len = 8)]
    hidden: Vec<usize>,
    /// Fraction.
    #[param(min = 0, max = 1)]
    fraction: f64,
    /// Signed.
    #[param(min = -5, max = 5)]
    offset: i64,
    /// A choice.
    mode: Mode,
    /// A choice from core.
    activation: Activation,
    /// An optional choice.
    init: Option<Init>,
    /// An optional number.
    #[param(min = 0, max = 100)]
    seed: Option<u64>,
    /// A flag.
    verbose: bool,
    /// Text.
    name: String,
    /// One path or several.
    #[param(min_len = 1)]
    data_dir: OneOrMany<String>,
    /// A path.
    out: PathBuf,
}

impl Default for Every {
    fn default() -> Self {
        Every {
            steps: 10,
            lr: 0.1,
            hidden: vec![40, 40],
            fraction: 0.5,
            offset: 0,
            mode: Mode::Standard,
            activation: Activation::Relu,
            init: None,
            seed: None,
            verbose: false,
            name: "x".into(),
            data_dir: vec!["data".to_string()].into(),
            out: PathBuf::from("out"),
        }
    }
}

const KEYS: &[&str] = &[
    "steps",
    "lr",
    "hidden",
    "fraction",
    "offset",
    "mode",
    "activation",
    "init",
    "seed",
    "verbose",
    "name",
    "data_dir",
    "out",
];

// ---------------------------------------------------------------- inputs

fn toml_seeds() -> Vec<Vec<u8>> {
    vec![
        b"steps = 100\nlr = 0.5\nhidden = [64, 64]\nmode = \"labels-trick\"\n".to_vec(),
        b"fraction = 0.25\noffset = -3\nactivation = \"tanh\"\ninit = \"xavier-uniform\"\nseed = 7\nverbose = true\n".to_vec(),
        b"name = 'a \\u00e9 b'\ndata_dir = [\"a\", \"b\"]\nout = \"/tmp/x\"\n[env]\nshots = 5\n".to_vec(),
        b"# comment\nsteps = 1_000\nlr = 1e-3\n\"quoted key\" = { a = 1, b = [1.5, \"x\"] }\n[[t]]\nx = 1979-05-27T07:32:00Z\n".to_vec(),
    ]
}

/// TOML syntax and values a mutation inserts: brackets for nesting, huge and special numbers,
/// escapes, dates, the struct's keys.
const TOML_TOKENS: &[&[u8]] = &[
    b"[",
    b"]",
    b"[[",
    b"{",
    b"}",
    b"=",
    b"\"",
    b"'''",
    b"\"\"\"",
    b"\\u0000",
    b"\\U0010ffff",
    b"\n",
    b".",
    b",",
    b"#",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"{a={a={a={a={a={a={a={a={a={a={a=",
    b"a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a",
    b"99999999999999999999999",
    b"-9223372036854775809",
    b"18446744073709551615",
    b"1e999",
    b"-0.0",
    b"nan",
    b"+inf",
    b"0x7fffffffffffffff",
    b"0b1",
    b"1979-05-27T07:32:00Z",
    b"true",
    b"steps",
    b"hidden",
    b"mode",
    b"data_dir",
    b"init",
    b"\xff",
];

/// Any TOML value, nested a few levels.
fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::Integer),
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
            Just(1e300)
        ]
        .prop_map(Value::Float),
        any::<bool>().prop_map(Value::Boolean),
        prop_oneof![
            Just(String::new()),
            Just("relu".to_string()),
            Just("labels-trick".to_string()),
            Just("xavier-uniform".to_string()),
            ".{0,40}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Table(m.into_iter().collect())),
        ]
    })
}

/// Reads `value` as `T` and checks the outcome: a value, or an error naming the key.
fn read_as<T: ParamType + DeserializeOwned>(value: &Value) -> Result<(), String> {
    match parse_value::<T>("the_key", value) {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = e.to_string();
            if e.contains("key `the_key`") && e.contains("expected") {
                Ok(())
            } else {
                Err(format!("{}: {e}", std::any::type_name::<T>()))
            }
        }
    }
}

// ---------------------------------------------------------------- properties

/// A configuration file's text: parsed as TOML, then read into typed, checked
/// hyperparameters; an error names the key at fault.
#[test]
fn toml_configs() {
    let inputs = arb_input(toml_seeds(), TOML_TOKENS, 4096);
    fuzz::run("TOML config", file!(), CI_CASES, inputs, |bytes| {
        let out = fuzz::guard("TOML config", move || {
            let text = String::from_utf8_lossy(&bytes);
            let config: Config = match toml::from_str(&text) {
                Ok(c) => c,
                Err(e) => return Err(format!("TOML: {}", e.message())),
            };
            let keys: Vec<String> = config.keys().cloned().collect();
            match Every::from_config(&config) {
                Ok(p) => {
                    // What was read passes its own checks again and round-trips.
                    let again = Every::from_config(&p.to_config())
                        .map_err(|e| format!("round trip: {e}"))?;
                    if *again != *p {
                        return Err(format!("round trip changed {:?} into {:?}", *p, *again));
                    }
                    Ok(())
                }
                Err(e) => {
                    let e = e.to_string();
                    if keys
                        .iter()
                        .map(String::as_str)
                        .chain(KEYS.iter().copied())
                        .any(|k| e.contains(&format!("`{k}`")))
                    {
                        Err(format!("typed: {e}"))
                    } else {
                        Err(format!("the error names no key: {e}"))
                    }
                }
            }
        })?;
        if let Err(e) = &out {
            prop_assert!(e.starts_with("TOML: ") || e.starts_with("typed: "), "{e}");
        }
        Ok(Outcome::from(&out))
    });
}

/// Deeply nested TOML (arrays, inline tables, dotted keys, table headers): a recursion
/// limit or a value, never a stack overflow.
#[test]
fn toml_deep_nesting() {
    let inputs = (prop_oneof![0usize..200, 200usize..10_000], 0u8..4);
    fuzz::run(
        "TOML nesting",
        file!(),
        CI_CASES,
        inputs,
        |(depth, kind)| {
            let text = match kind {
                0 => format!("steps = {}1{}", "[".repeat(depth), "]".repeat(depth)),
                1 => format!("steps = {}1{}", "{a=".repeat(depth), "}".repeat(depth)),
                2 => format!("{} = 1", vec!["a"; depth + 1].join(".")),
                _ => format!("[{}]\nx = 1", vec!["a"; depth + 1].join(".")),
            };
            let out = fuzz::guard("TOML nesting", move || {
                let config = toml::from_str::<Config>(&text).map_err(|e| e.to_string())?;
                Every::from_config(&config)
                    .map(drop)
                    .map_err(|e| e.to_string())
            })?;
            Ok(Outcome::from(&out))
        },
    );
}

/// One value for one key (what `--set KEY=VALUE` and each config line come down to), read
/// as every parameter type, then set on the struct: a value or an error naming the key.
#[test]
fn values_of_every_type() {
    let inputs = (arb_value(), proptest::sample::select(KEYS));
    fuzz::run(
        "values of every type",
        file!(),
        CI_CASES,
        inputs,
        |(value, key)| {
            let v = value.clone();
            let out = fuzz::guard("parse_value", move || -> Result<bool, String> {
                read_as::<f64>(&v)?;
                read_as::<f32>(&v)?;
                read_as::<u64>(&v)?;
                read_as::<usize>(&v)?;
                read_as::<u8>(&v)?;
                read_as::<i64>(&v)?;
                read_as::<bool>(&v)?;
                read_as::<String>(&v)?;
                read_as::<PathBuf>(&v)?;
                read_as::<Vec<usize>>(&v)?;
                read_as::<Vec<f64>>(&v)?;
                read_as::<Option<u64>>(&v)?;
                read_as::<OneOrMany<String>>(&v)?;
                read_as::<Activation>(&v)?;
                read_as::<Option<Init>>(&v)?;
                read_as::<Config>(&v)?;
                let mut p = Every::default();
                match p.set(key, &v) {
                    Ok(()) => Ok(true),
                    Err(e) if e.to_string().contains(&format!("`{key}`")) => Ok(false),
                    Err(e) => Err(format!("set {key}: {e}")),
                }
            })?;
            match out {
                Ok(true) => Ok(Outcome::Valid),
                Ok(false) => Ok(Outcome::Refused),
                Err(e) => Err(TestCaseError::fail(format!("{e} (for {value})"))),
            }
        },
    );
}

/// A plugin's declaration with any ABI number and any bytes as its version strings:
/// accepted exactly when all three match the host, else refused naming the field.
#[test]
fn plugin_declarations() {
    let inputs = (
        prop_oneof![Just(ABI_VERSION), any::<u32>()],
        prop_oneof![
            Just(CORE_VERSION.as_bytes().to_vec()),
            arb_input(
                vec![CORE_VERSION.as_bytes().to_vec()],
                &[b".", b"0", b"-", b"\xff", b"\x00"],
                64
            ),
        ],
        prop_oneof![
            Just(RUSTC_VERSION.as_bytes().to_vec()),
            arb_input(
                vec![RUSTC_VERSION.as_bytes().to_vec()],
                &[b" ", b"(", b".", b"\xff", b"\x00"],
                4096
            ),
        ],
        proptest::bool::weighted(0.05),
        prop_oneof![
            Just(DEP_VERSIONS.as_bytes().to_vec()),
            arb_input(
                vec![DEP_VERSIONS.as_bytes().to_vec()],
                &[b";", b"=", b".", b"unknown", b"\xff", b"\x00"],
                4096
            ),
        ],
    );
    fuzz::run(
        "plugin declarations",
        file!(),
        CI_CASES,
        inputs,
        |(abi, core, rustc, null_core, deps)| {
            let fixed_fields_match = abi == ABI_VERSION
                && core == CORE_VERSION.as_bytes()
                && rustc == RUSTC_VERSION.as_bytes()
                && !null_core;
            let same_deps = deps == DEP_VERSIONS.as_bytes();
            let out = fuzz::guard("plugin declaration", move || {
                let declaration = PluginDeclaration {
                    abi_version: abi,
                    core_version: if null_core {
                        FfiStr {
                            ptr: std::ptr::null(),
                            len: 0,
                        }
                    } else {
                        FfiStr {
                            ptr: core.as_ptr(),
                            len: core.len(),
                        }
                    },
                    rustc_version: FfiStr {
                        ptr: rustc.as_ptr(),
                        len: rustc.len(),
                    },
                    dep_versions: FfiStr {
                        ptr: deps.as_ptr(),
                        len: deps.len(),
                    },
                    register: no_registration,
                };
                // SAFETY: the strings point into `core`, `rustc` and `deps`, alive for this call.
                let checked = unsafe { declaration.check() };
                drop((core, rustc, deps));
                checked.map_err(|e| e.to_string())
            })?;
            match &out {
                Ok(warnings) => {
                    prop_assert!(fixed_fields_match, "a mismatched declaration was accepted");
                    prop_assert!(
                        !same_deps || warnings.is_empty(),
                        "the host's own versions gave warnings: {warnings:?}"
                    );
                }
                Err(e) => {
                    prop_assert!(
                        !(fixed_fields_match && same_deps),
                        "a matching declaration was refused: {e}"
                    );
                    prop_assert!(e.contains("plugin declaration mismatch in `"), "{e}");
                }
            }
            Ok(Outcome::from(&out))
        },
    );
}

fn no_registration(_: &mut dyn PluginRegistrar) {}

/// A configuration without a problem reads back: the property's "valid result" side is
/// reachable.
#[test]
fn the_seeds_read_as_configurations() {
    for seed in toml_seeds().iter().take(2) {
        let config: Config = toml::from_str(std::str::from_utf8(seed).unwrap()).unwrap();
        Every::from_config(&config).unwrap();
    }
}
