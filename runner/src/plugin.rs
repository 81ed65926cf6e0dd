//! Loading third-party algorithm and environment crates built as `cdylib` plugins.
//!
//! Only files the user names are loaded: `--plugin LIB` (repeatable) and the
//! `AUTODIDACT_PLUGINS` path list; nothing is scanned. For each file, the exported
//! `#[repr(C)]` declaration is read and checked (ABI version, core version, rustc version,
//! the versions of ndarray, rand, serde and toml)
//! before the plugin's Rust-ABI `register` function is called; a mismatch is refused naming
//! the field and both values. Loaded libraries are never unloaded: entries, vtables and
//! strings in them stay valid for the whole process.
#![allow(unsafe_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use autodidact_core::plugin::{PluginDeclaration, PluginRegistrar, DECLARATION_SYMBOL};
use autodidact_core::{AlgorithmEntry, EnvEntry, Registry};
use libloading::Library;

use crate::errors::{one_line, Result, RunnerError};

/// The environment variable holding extra plugin paths (`:`-separated on Unix, `;` on
/// Windows).
pub const PLUGINS_VAR: &str = "AUTODIDACT_PLUGINS";

/// Libraries loaded by this process. Never dropped, so never unloaded.
static LOADED: Mutex<Vec<(PathBuf, Library)>> = Mutex::new(Vec::new());

/// What one plugin file added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedPlugin {
    /// The file, as given.
    pub path: PathBuf,
    /// Names of the algorithms it registered.
    pub algorithms: Vec<&'static str>,
    /// Names of the environments it registered.
    pub envs: Vec<&'static str>,
}

/// The plugin files to load: `--plugin` values, then `AUTODIDACT_PLUGINS`, each once.
pub fn plugin_paths(from_cli: &[PathBuf]) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = from_cli.to_vec();
    if let Some(list) = std::env::var_os(PLUGINS_VAR) {
        paths.extend(std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()));
    }
    let mut seen = BTreeSet::new();
    paths.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    paths
}

/// Loads every file in `paths` into `registry`, in order.
pub fn load_plugins(registry: &mut Registry, paths: &[PathBuf]) -> Result<Vec<LoadedPlugin>> {
    paths.iter().map(|p| load_plugin(registry, p)).collect()
}

/// Collects a plugin's entries into the host's registry; a name already taken is remembered
/// and reported after `register` returns.
struct Registrar<'a> {
    registry: &'a mut Registry,
    loaded: LoadedPlugin,
    errors: Vec<String>,
}

impl PluginRegistrar for Registrar<'_> {
    fn add_algorithm(&mut self, entry: &'static AlgorithmEntry) {
        match self.registry.add_algorithm(entry) {
            Ok(()) => self.loaded.algorithms.push(entry.name),
            Err(e) => self.errors.push(e.to_string()),
        }
    }

    fn add_env(&mut self, entry: &'static EnvEntry) {
        match self.registry.add_env(entry) {
            Ok(()) => self.loaded.envs.push(entry.name),
            Err(e) => self.errors.push(e.to_string()),
        }
    }
}

/// `path` as the loader must see it to open that very file: a bare name (`libfoo.so`) would
/// make `dlopen` search the library path instead of the current directory, so a relative
/// path is given a `./` prefix.
fn as_file_path(path: &Path) -> PathBuf {
    if path.is_relative() {
        Path::new(".").join(path)
    } else {
        path.to_path_buf()
    }
}

/// Loads one plugin file (a relative path, even a bare name, is relative to the current
/// directory, never searched for on the library path).
pub fn load_plugin(registry: &mut Registry, path: &Path) -> Result<LoadedPlugin> {
    let refuse = |message: String| RunnerError::Plugin {
        path: path.to_path_buf(),
        message: one_line(&message),
    };
    if path.is_dir() {
        return Err(refuse(format!(
            "is a folder; --plugin takes the plugin's library file, e.g. {}",
            path.join(format!(
                "{}NAME{}",
                std::env::consts::DLL_PREFIX,
                std::env::consts::DLL_SUFFIX
            ))
            .display()
        )));
    }
    if !path.is_file() {
        return Err(refuse(
            "no such file (--plugin takes the path of a plugin's library file)".into(),
        ));
    }
    // SAFETY: loading a library runs its initialisers. The user named this file explicitly
    // (nothing is scanned), which is the trust decision a plugin system rests on.
    let library = unsafe { Library::new(as_file_path(path)) }
        .map_err(|e| refuse(format!("cannot load it as a shared library: {e}")))?;
    // SAFETY: the symbol's type is the one `declare_plugin!` exports:
    // `extern "C" fn() -> *const PluginDeclaration`.
    let declaration = unsafe {
        library.get::<extern "C" fn() -> *const PluginDeclaration>(DECLARATION_SYMBOL)
    }
    .map(|f| *f)
    .map_err(|_| {
        refuse(format!(
            "it does not export `{}`: is it a plugin built with `autodidact_core::declare_plugin!()`?",
            String::from_utf8_lossy(DECLARATION_SYMBOL)
        ))
    })?;
    // The library stays loaded for the rest of the process from here on, whatever happens
    // next: nothing it handed out may outlive its code.
    let mut loaded = LOADED
        .lock()
        .map_err(|_| refuse("the plugin table is poisoned".into()))?;
    loaded.push((path.to_path_buf(), library));
    drop(loaded);

    // Only a C-ABI function returning a pointer to `#[repr(C)]` data is called before the
    // checks pass.
    let ptr = declaration();
    if ptr.is_null() {
        return Err(refuse("its declaration is a null pointer".into()));
    }
    // SAFETY: the pointer comes from the plugin's declaration function and points to a static
    // in a library that is never unloaded.
    let declaration: &'static PluginDeclaration = unsafe { &*ptr };
    // SAFETY: the declaration's strings point into the same never-unloaded library.
    let warnings = unsafe { declaration.check() }.map_err(|e| refuse(e.to_string()))?;
    for w in warnings {
        eprintln!("autodidact: warning: plugin {}: {w}", path.display());
    }

    let mut registrar = Registrar {
        registry,
        loaded: LoadedPlugin {
            path: path.to_path_buf(),
            algorithms: Vec::new(),
            envs: Vec::new(),
        },
        errors: Vec::new(),
    };
    // The ABI, core and compiler versions match the host's: the Rust-ABI call is sound.
    (declaration.register)(&mut registrar);
    if let Some(first) = registrar.errors.first() {
        return Err(refuse(first.clone()));
    }
    Ok(registrar.loaded)
}

/// The registry of this process: every statically linked entry, then the plugins.
pub fn registry_with_plugins(paths: &[PathBuf]) -> Result<(Registry, Vec<LoadedPlugin>)> {
    let mut registry = Registry::from_inventory()
        .map_err(|e| RunnerError::Config(format!("the built-in registry is inconsistent: {e}")))?;
    let loaded = load_plugins(&mut registry, paths)?;
    Ok((registry, loaded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_anchored_in_the_current_directory() {
        assert_eq!(
            as_file_path(Path::new("libfoo.so")),
            Path::new("./libfoo.so")
        );
        assert_eq!(
            as_file_path(Path::new("a/libfoo.so")),
            Path::new("./a/libfoo.so")
        );
        let abs = std::env::temp_dir().join("libfoo.so");
        assert_eq!(as_file_path(&abs), abs);
    }

    #[test]
    fn missing_and_foreign_files_are_refused_naming_the_file() {
        let mut r = Registry::default();
        let e = load_plugin(&mut r, Path::new("/nonexistent/libx.so")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            "plugin /nonexistent/libx.so: no such file (--plugin takes the path of a plugin's library file)"
        );
        let e = load_plugin(&mut r, &std::env::temp_dir()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e
            .to_string()
            .contains("is a folder; --plugin takes the plugin's library file"));

        let f = std::env::temp_dir().join(format!("autodidact-notalib-{}.so", std::process::id()));
        std::fs::write(&f, b"not a library").unwrap();
        let e = load_plugin(&mut r, &f).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("plugin {}: cannot load it", f.display())),
            "{e}"
        );
        assert!(!e.contains('\n'));
        std::fs::remove_file(&f).unwrap();
    }
}
