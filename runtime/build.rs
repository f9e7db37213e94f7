//! Links the runtime's binaries and tests to the libpython that `cpython-sys` found, and bakes
//! that CPython's prefix and version in as the default Python home.
//!
//! Cargo does not pass `cpython-sys`'s link arguments on to dependents, so the rpath that lets
//! `subinterp`, the tests and the examples start without `LD_LIBRARY_PATH` is added here, from
//! the `DEP_PYTHON3.13_*` metadata that `cpython-sys` exports (`links = "python3.13"`). It
//! passes the prefix on as `DEP_SUBINTERP_*` (`links = "subinterp"`), which the
//! `subinterp-build` crate turns into the same rpath for programs that depend on this crate.

use std::path::Path;

fn main() {
    let prefix = dep("PREFIX");
    let libdir = dep("LIBDIR");
    let include = dep("INCLUDE");

    println!("cargo::rustc-link-arg=-Wl,-rpath,{libdir}");
    // For the build scripts of packages that depend on this one (`subinterp-build`).
    println!("cargo::metadata=prefix={prefix}");
    println!("cargo::metadata=libdir={libdir}");
    println!("cargo::rustc-env=SUBINTERP_PYTHON_HOME={prefix}");
    println!(
        "cargo::rustc-env=SUBINTERP_PYTHON_VERSION={}",
        python_version(Path::new(&include))
    );
}

/// `DEP_PYTHON3.13_<KEY>`, set by `cpython-sys`'s build script.
fn dep(key: &str) -> String {
    let name = format!("DEP_PYTHON3.13_{key}");
    println!("cargo::rerun-if-env-changed={name}");
    std::env::var(&name).unwrap_or_else(|_| panic!("{name} is not set: cpython-sys must export it"))
}

/// `PY_VERSION` from the headers (e.g. `3.13.5`), for `subinterp --version`.
fn python_version(include: &Path) -> String {
    let header = include.join("patchlevel.h");
    println!("cargo::rerun-if-changed={}", header.display());
    let text = std::fs::read_to_string(&header)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", header.display()));
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix("#define")?.trim_start();
            let value = rest.strip_prefix("PY_VERSION")?;
            value
                .starts_with(char::is_whitespace)
                .then(|| value.trim().trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| "3.13".to_owned())
}
