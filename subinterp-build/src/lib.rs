//! The build-script side of embedding [subinterp](https://docs.rs/subinterp) in a program.
//!
//! Cargo does not pass a dependency's linker arguments on to the packages that use it, so a
//! binary that depends on `subinterp` would be linked to libpython without a way to find it at
//! run time (`error while loading shared libraries: libpython3.13.so.1.0`). One line in the
//! program's `build.rs` fixes that:
//!
//! ```text
//! // build.rs
//! fn main() {
//!     subinterp_build::link();
//! }
//! ```
//!
//! with `subinterp` in `[dependencies]` and `subinterp-build` in `[build-dependencies]`.
//!
//! The binary then finds libpython in `lib/` beside itself first (a bundle made by `cargo
//! xtask bundle`, which can be copied anywhere), else in the CPython prefix that `subinterp`
//! was built against.

use std::path::PathBuf;

/// The CPython that `subinterp` was built against, as its build script exported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Python {
    /// The install prefix (holding `lib/python3.13`).
    pub prefix: PathBuf,
    /// The directory holding the shared libpython.
    pub lib_dir: PathBuf,
}

/// Reads what `subinterp`'s build script exported (`DEP_SUBINTERP_PREFIX`/`_LIBDIR`), which
/// Cargo gives the build script of every package that depends on `subinterp` directly.
///
/// # Panics
/// Outside such a build script, with a message that says what to add.
pub fn python() -> Python {
    Python {
        prefix: dep("PREFIX"),
        lib_dir: dep("LIBDIR"),
    }
}

/// Links the package's binaries, tests and examples so that they start without
/// `LD_LIBRARY_PATH`: an rpath to `$ORIGIN/lib` (a relocatable bundle), then to the prefix's
/// `lib`. Call it from `build.rs`.
pub fn link() {
    let python = python();
    for arg in rpath_args(&python) {
        println!("cargo::rustc-link-arg={arg}");
    }
}

/// The linker arguments [`link`] emits.
pub fn rpath_args(python: &Python) -> Vec<String> {
    vec![
        "-Wl,-rpath,$ORIGIN/lib".to_owned(),
        format!("-Wl,-rpath,{}", python.lib_dir.display()),
    ]
}

fn dep(key: &str) -> PathBuf {
    let name = format!("DEP_SUBINTERP_{key}");
    println!("cargo::rerun-if-env-changed={name}");
    match std::env::var_os(&name) {
        Some(value) => PathBuf::from(value),
        None => panic!(
            "subinterp-build: {name} is not set. Call subinterp_build::link() from the build \
             script of a package that has `subinterp` in its [dependencies] (Cargo only passes \
             a dependency's build metadata to packages that depend on it directly)."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_is_searched_before_the_prefix() {
        let python = Python {
            prefix: "/opt/py".into(),
            lib_dir: "/opt/py/lib".into(),
        };
        assert_eq!(
            rpath_args(&python),
            ["-Wl,-rpath,$ORIGIN/lib", "-Wl,-rpath,/opt/py/lib"]
        );
    }
}
