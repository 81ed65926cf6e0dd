//! The plugin declaration a third-party `cdylib` exports, and the checks the host makes before
//! calling into it.
//!
//! Only FFI-safe fields (an integer and byte strings) are read before the checks pass; the
//! Rust-ABI `register` function is called only when the ABI version, the core crate's version
//! and the compiler's version all match the host's.

use crate::error::{CoreError, Result};
use crate::registry::{AlgorithmEntry, EnvEntry};

/// Bumped whenever the declaration's layout or the registry types change (2: `Algorithm`
/// gained `matrices`; 3: `Algorithm` gained `is_finite` and hyperparameters became typed —
/// each changes what crosses the boundary).
pub const ABI_VERSION: u32 = 3;

/// This core crate's version.
pub const CORE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The compiler that built this crate.
pub const RUSTC_VERSION: &str = env!("AUTODIDACT_RUSTC_VERSION");

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
    /// Hands the plugin's entries to the host.
    pub register: fn(&mut dyn PluginRegistrar),
}

// SAFETY-free marker: the declaration only holds pointers to static data.
#[allow(unsafe_code)]
unsafe impl Sync for PluginDeclaration {}

impl PluginDeclaration {
    /// Compares with the host; an error names the field and both values.
    ///
    /// # Safety
    /// The string fields must point to live bytes (true while the library stays loaded).
    #[allow(unsafe_code)]
    pub unsafe fn check(&self) -> Result<()> {
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
        Ok(())
    }
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
                register: $crate::plugin::register_inventory,
            };
            &DECLARATION
        }
    };
}
