//! The plugin declaration a third-party `cdylib` exports, and the checks the host makes before
//! calling into it.
//!
//! Only FFI-safe fields (an integer and byte strings) are read before the checks pass; the
//! Rust-ABI `register` function is called only when the ABI version, the core crate's version,
//! the compiler's version and the versions of the crates whose types cross the boundary
//! (ndarray, rand, serde, toml: [`DEP_VERSIONS`]) all match the host's.

use crate::error::{CoreError, Result};
use crate::registry::{AlgorithmEntry, EnvEntry};

/// Bumped whenever the declaration's layout or the registry types change (2: `Algorithm`
/// gained `matrices`; 3: `Algorithm` gained `is_finite` and hyperparameters became typed;
/// 4: the declaration gained `dep_versions` and `Algorithm` gained `selection_metric` — each
/// changes what crosses the boundary).
pub const ABI_VERSION: u32 = 4;

/// This core crate's version.
pub const CORE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The compiler that built this crate.
pub const RUSTC_VERSION: &str = env!("AUTODIDACT_RUSTC_VERSION");

/// The versions of the crates whose types cross the plugin boundary, as this core was built
/// with them: `ndarray=0.17.2;rand=0.9.5;serde=1.0.229;toml=…` (`unknown` where the build
/// could not tell: its target folder was outside its workspace).
pub const DEP_VERSIONS: &str = env!("AUTODIDACT_DEP_VERSIONS");

/// The symbol a plugin exports (`extern "C" fn() -> *const PluginDeclaration`).
pub const DECLARATION_SYMBOL: &[u8] = b"autodidact_plugin_declaration";

/// A borrowed UTF-8 string in an FFI-safe form.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FfiStr {
    /// Start of the bytes.
    pub ptr: *const u8,
    /// Number of bytes.
    pub len: usize,
}

impl FfiStr {
    /// Wraps a static string.
    pub const fn new(s: &'static str) -> FfiStr {
        FfiStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// Reads the string back.
    ///
    /// # Safety
    /// `ptr` and `len` must describe live bytes (true for a declaration from a loaded library).
    #[allow(unsafe_code)]
    pub unsafe fn to_string_lossy(&self) -> String {
        if self.ptr.is_null() {
            return String::new();
        }
        // SAFETY: the caller guarantees ptr/len describe live bytes.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// Receives a plugin's registry entries.
pub trait PluginRegistrar {
    /// Adds an algorithm.
    fn add_algorithm(&mut self, entry: &'static AlgorithmEntry);
    /// Adds an environment.
    fn add_env(&mut self, entry: &'static EnvEntry);
}

/// What a plugin exports: checked field by field before `register` is called.
#[repr(C)]
pub struct PluginDeclaration {
    /// Must equal the host's [`ABI_VERSION`].
    pub abi_version: u32,
    /// Must equal the host's [`CORE_VERSION`].
    pub core_version: FfiStr,
    /// Must equal the host's [`RUSTC_VERSION`].
    pub rustc_version: FfiStr,
    /// Must agree with the host's [`DEP_VERSIONS`], crate by crate.
    pub dep_versions: FfiStr,
    /// Hands the plugin's entries to the host.
    pub register: fn(&mut dyn PluginRegistrar),
}

// SAFETY-free marker: the declaration only holds pointers to static data.
#[allow(unsafe_code)]
unsafe impl Sync for PluginDeclaration {}

impl PluginDeclaration {
    /// Compares with the host; an error names the field (or crate) and both values. Returns
    /// warnings: crates whose version one side could not record.
    ///
    /// # Safety
    /// The string fields must point to live bytes (true while the library stays loaded).
    #[allow(unsafe_code)]
    pub unsafe fn check(&self) -> Result<Vec<String>> {
        if self.abi_version != ABI_VERSION {
            return Err(mismatch(
                "abi_version",
                &self.abi_version.to_string(),
                &ABI_VERSION.to_string(),
            ));
        }
        // SAFETY: forwarded from the caller.
        let core = unsafe { self.core_version.to_string_lossy() };
        if core != CORE_VERSION {
            return Err(mismatch("core_version", &core, CORE_VERSION));
        }
        // SAFETY: forwarded from the caller.
        let rustc = unsafe { self.rustc_version.to_string_lossy() };
        if rustc != RUSTC_VERSION {
            return Err(mismatch("rustc_version", &rustc, RUSTC_VERSION));
        }
        // SAFETY: forwarded from the caller (the ABI version matched: the field exists).
        let deps = unsafe { self.dep_versions.to_string_lossy() };
        compare_dep_versions(&deps, DEP_VERSIONS)
    }
}

/// `name=version` pairs of a `dep_versions` string.
fn dep_pairs(s: &str) -> Vec<(&str, &str)> {
    s.split(';')
        .filter_map(|p| p.split_once('='))
        .map(|(n, v)| (n.trim(), v.trim()))
        .collect()
}

/// Compares a plugin's `dep_versions` with the host's: a crate both sides know at different
/// versions is refused (its types would differ in layout across the boundary); a crate one
/// side could not record is a warning.
pub fn compare_dep_versions(plugin: &str, host: &str) -> Result<Vec<String>> {
    let theirs = dep_pairs(plugin);
    let mut warnings = Vec::new();
    for (name, ours) in dep_pairs(host) {
        let Some(&(_, their)) = theirs.iter().find(|(n, _)| *n == name) else {
            warnings.push(format!(
                "the plugin does not record which {name} it was built with"
            ));
            continue;
        };
        if their == "unknown" || ours == "unknown" {
            warnings.push(format!(
                "cannot tell whether the plugin's {name} ({their}) is this autodidact's ({ours})"
            ));
        } else if their != ours {
            return Err(CoreError::Env(format!(
                "plugin declaration mismatch in `dep_versions`: the plugin was built with {name} \
                 {their}, this autodidact with {name} {ours}; rebuild the plugin against the \
                 same versions (`cargo update -p {name} --precise {ours}`)"
            )));
        }
    }
    Ok(warnings)
}

fn mismatch(field: &str, plugin: &str, host: &str) -> CoreError {
    CoreError::Env(format!(
        "plugin declaration mismatch in `{field}`: the plugin has `{plugin}`, this autodidact has `{host}`"
    ))
}

/// The register function `declare_plugin!` installs: hands every entry this library's
/// inventory holds to the host.
pub fn register_inventory(registrar: &mut dyn PluginRegistrar) {
    for a in inventory::iter::<AlgorithmEntry> {
        registrar.add_algorithm(a);
    }
    for e in inventory::iter::<EnvEntry> {
        registrar.add_env(e);
    }
}

/// Makes this `cdylib` a plugin: exports the version-checked declaration whose `register`
/// hands every `register_algorithm!` / `register_env!` entry of the library to the host.
#[macro_export]
macro_rules! declare_plugin {
    () => {
        #[doc(hidden)]
        #[no_mangle]
        pub extern "C" fn autodidact_plugin_declaration() -> *const $crate::plugin::PluginDeclaration {
            static DECLARATION: $crate::plugin::PluginDeclaration = $crate::plugin::PluginDeclaration {
                abi_version: $crate::plugin::ABI_VERSION,
                core_version: $crate::plugin::FfiStr::new($crate::plugin::CORE_VERSION),
                rustc_version: $crate::plugin::FfiStr::new($crate::plugin::RUSTC_VERSION),
                dep_versions: $crate::plugin::FfiStr::new($crate::plugin::DEP_VERSIONS),
                register: $crate::plugin::register_inventory,
            };
            &DECLARATION
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_build_knows_the_versions_of_every_crossing_crate() {
        let pairs = dep_pairs(DEP_VERSIONS);
        let names: Vec<&str> = pairs.iter().map(|p| p.0).collect();
        assert_eq!(names, ["ndarray", "rand", "serde", "toml"]);
        for (name, v) in pairs {
            assert!(
                v.split('.').count() >= 3 && v != "unknown",
                "{name} = {v} in {DEP_VERSIONS}"
            );
        }
    }

    #[test]
    fn a_different_version_is_refused_naming_the_crate_and_both_versions() {
        let host = "ndarray=0.17.2;rand=0.9.5";
        assert!(compare_dep_versions(host, host).unwrap().is_empty());
        let e = compare_dep_versions("ndarray=0.17.1;rand=0.9.5", host)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`dep_versions`"), "{e}");
        assert!(
            e.contains("ndarray 0.17.1") && e.contains("ndarray 0.17.2"),
            "{e}"
        );
        let w = compare_dep_versions("ndarray=unknown", host).unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("ndarray") && w[1].contains("rand"), "{w:?}");
    }
}
