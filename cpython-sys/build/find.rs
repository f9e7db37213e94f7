//! Locating the CPython install prefix and learning how to build against it.
//!
//! The prefix comes from `CPYTHON_PREFIX`, else from the one-line pointer file that
//! `cargo xtask build-python` writes to `<workspace>/target/cpython/current-prefix`, else
//! from its copy in the download cache (`$SUBINTERP_CACHE_DIR`, `$XDG_CACHE_HOME/subinterp` or
//! `~/.cache/subinterp`), which is how a crate using subinterp from git or a registry (whose
//! checkout has no `target/`) finds the CPython built in a subinterp clone.
//! The library name and ABI flags come from the prefix's own `python3.13*-config`
//! (so debug `d` and free-threaded `t` builds work), with a probe of `lib/` and
//! `include/` as a fallback for prefixes without that script.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::env;

/// The CPython minor version these bindings are for (also the crate's `links` name).
const VERSION: &str = "3.13";

/// ABI flag combinations CPython 3.13 can be built with, most common first.
const ABIFLAGS: [&str; 4] = ["", "t", "d", "td"];

/// Everything the rest of the build needs to know about one CPython install.
#[derive(Debug)]
pub struct Python {
    /// The install prefix (`--prefix` of CPython's configure).
    pub prefix: PathBuf,
    /// Directory holding `Python.h`, e.g. `<prefix>/include/python3.13t`.
    pub include_dir: PathBuf,
    /// Directory holding the shared libpython.
    pub lib_dir: PathBuf,
    /// Name to link, without `lib`/`.so`, e.g. `python3.13` or `python3.13t`.
    pub lib_name: String,
    /// ABI flags: `""`, `"t"`, `"d"` or `"td"`.
    pub abiflags: String,
    /// `Py_GIL_DISABLED` is defined (free-threaded build).
    pub gil_disabled: bool,
    /// `Py_DEBUG` is defined (debug build).
    pub debug: bool,
}

/// Finds the prefix and describes it, or returns the one-line error shown to the user.
pub fn python(workspace_root: &Path) -> Result<Python, String> {
    let prefix = prefix(workspace_root)?;
    let not_built = || not_built(&prefix);
    if !prefix.is_dir() {
        return Err(not_built());
    }

    let (lib_dir, lib_name, include_dir) = match config_script(&prefix) {
        Some(script) => query_config_script(&script).ok_or_else(not_built)?,
        None => probe(&prefix).ok_or_else(not_built)?,
    };
    let abiflags = lib_name
        .strip_prefix(&format!("python{VERSION}"))
        .unwrap_or_default()
        .to_owned();

    let shared = lib_dir.join(format!("lib{lib_name}.so"));
    if !shared.exists() {
        return Err(format!(
            "cpython-sys: {} has no shared libpython ({} is missing); build CPython with --enable-shared",
            prefix.display(),
            shared.display()
        ));
    }
    let pyconfig_h = include_dir.join("pyconfig.h");
    let pyconfig = std::fs::read_to_string(&pyconfig_h).map_err(|_| not_built())?;
    // A rebuilt prefix in place (other configure flags) must regenerate the bindings.
    println!("cargo::rerun-if-changed={}", pyconfig_h.display());
    println!("cargo::rerun-if-changed={}", shared.display());

    Ok(Python {
        gil_disabled: defines(&pyconfig, "Py_GIL_DISABLED"),
        debug: defines(&pyconfig, "Py_DEBUG"),
        prefix,
        include_dir,
        lib_dir,
        lib_name,
        abiflags,
    })
}

/// `CPYTHON_PREFIX` if set, else the prefix named by the xtask's pointer file in this
/// workspace, else by its copy in the cache.
fn prefix(workspace_root: &Path) -> Result<PathBuf, String> {
    if let Some(prefix) = env("CPYTHON_PREFIX").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(prefix));
    }
    let local = workspace_root.join("target/cpython/current-prefix");
    let shared = cache_dir().map(|dir| dir.join("current-prefix"));
    let Some((pointer, text)) = std::iter::once(local.clone())
        .chain(shared)
        .find_map(|p| std::fs::read_to_string(&p).ok().map(|text| (p, text)))
    else {
        return Err(not_built(&local));
    };
    // Only watched once it exists: a missing file would make Cargo rerun us on every build.
    println!("cargo::rerun-if-changed={}", pointer.display());
    let line = text.lines().next().unwrap_or_default().trim();
    if line.is_empty() {
        return Err(not_built(&pointer));
    }
    Ok(workspace_root.join(line))
}

/// The xtask's download cache (the same rule as `xtask/src/layout.rs`).
fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = env("SUBINTERP_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(dir.into());
    }
    if let Some(dir) = env("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("subinterp"));
    }
    env("HOME").map(|home| PathBuf::from(home).join(".cache").join("subinterp"))
}

/// The single-line message for "there is nothing to build against".
fn not_built(looked_for: &Path) -> String {
    format!(
        "cpython-sys: no built CPython found (looked for {}); run `cargo xtask build-python` (or set CPYTHON_PREFIX)",
        looked_for.display()
    )
}

/// `<prefix>/bin/python3.13<abiflags>-config`, the first that exists.
fn config_script(prefix: &Path) -> Option<PathBuf> {
    ABIFLAGS
        .iter()
        .map(|flags| prefix.join(format!("bin/python{VERSION}{flags}-config")))
        .find(|script| script.is_file())
}

/// Runs the config script: `(lib_dir, lib_name, include_dir)`.
fn query_config_script(script: &Path) -> Option<(PathBuf, String, PathBuf)> {
    let ldflags = run(script, &["--ldflags", "--embed"])?;
    let includes = run(script, &["--includes"])?;

    let lib_name = ldflags
        .split_whitespace()
        .filter_map(|flag| flag.strip_prefix("-l"))
        .find(|lib| lib.starts_with("python"))?
        .to_owned();
    let lib_dir = ldflags
        .split_whitespace()
        .filter_map(|flag| flag.strip_prefix("-L"))
        .map(PathBuf::from)
        .find(|dir| dir.join(format!("lib{lib_name}.so")).exists())?;
    let include_dir = includes
        .split_whitespace()
        .filter_map(|flag| flag.strip_prefix("-I"))
        .map(PathBuf::from)
        .find(|dir| dir.join("Python.h").is_file())?;
    Some((lib_dir, lib_name, include_dir))
}

/// Looks for `lib/libpython3.13<flags>.so` with a matching `include/python3.13<flags>`.
fn probe(prefix: &Path) -> Option<(PathBuf, String, PathBuf)> {
    let lib_dir = prefix.join("lib");
    ABIFLAGS.iter().find_map(|flags| {
        let lib_name = format!("python{VERSION}{flags}");
        let include_dir = prefix.join("include").join(&lib_name);
        (lib_dir.join(format!("lib{lib_name}.so")).exists()
            && include_dir.join("Python.h").is_file())
        .then(|| (lib_dir.clone(), lib_name, include_dir))
    })
}

/// Stdout of a successful command, or `None`.
fn run(program: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Whether `pyconfig.h` contains `#define NAME 1`.
fn defines(pyconfig_h: &str, name: &str) -> bool {
    pyconfig_h.lines().any(|line| {
        let mut words = line.split_whitespace();
        words.next() == Some("#define") && words.next() == Some(name)
    })
}
