//! Build script for `cpython-sys`.
//!
//! 1. [`find`] locates the CPython prefix and asks it how to compile and link against it.
//! 2. [`bindings`] runs bindgen over `c/wrapper.h` into `$OUT_DIR/bindings.rs`.
//! 3. [`layout`] writes the struct-layout check (a C table and its Rust counterpart).
//! 4. [`native`] compiles the C helpers (shim, static-inline wrappers, layout table).
//! 5. Link libpython, set the rpath for this crate's own binaries, and export the prefix to
//!    dependents as `DEP_PYTHON3.13_*` metadata.

mod bindings;
mod find;
mod layout;
mod native;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use find::Python;

fn main() {
    let manifest_dir = PathBuf::from(cargo_env("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(cargo_env("OUT_DIR"));
    let workspace_root = manifest_dir
        .parent()
        .expect("the crate lives inside the workspace")
        .to_path_buf();

    let python = match find::python(&workspace_root) {
        Ok(python) => python,
        Err(message) => {
            // Cargo fails the build with this one line, without a backtrace or output dump.
            println!("cargo::error={message}");
            return;
        }
    };

    let c_dir = manifest_dir.join("c");
    for file in ["wrapper.h", "shim.h", "shim.c"] {
        println!("cargo::rerun-if-changed={}", c_dir.join(file).display());
    }

    let started = Instant::now();
    let static_wrappers = bindings::generate(&python, &c_dir, &out_dir);
    let bindgen_time = started.elapsed();

    let layout_c = layout::generate(&python, &out_dir);

    let started = Instant::now();
    native::compile(&python, &c_dir, &[static_wrappers, layout_c]);
    let cc_time = started.elapsed();

    link(&python);
    export(&python);
    report_timings(&out_dir, bindgen_time, cc_time);
}

/// Reads an environment variable that the user may set, and tells Cargo to rerun this script
/// when it changes.
fn env(name: &str) -> Option<OsString> {
    println!("cargo::rerun-if-env-changed={name}");
    std::env::var_os(name)
}

/// Reads a variable that Cargo itself sets for build scripts (fixed for a given build, so no
/// rerun hint is needed).
fn cargo_env(name: &str) -> OsString {
    std::env::var_os(name).unwrap_or_else(|| panic!("Cargo did not set {name}"))
}

/// Links libpython (shared) and gives this crate's own tests and examples an rpath to it.
fn link(python: &Python) {
    let lib_dir = python.lib_dir.display();
    println!("cargo::rustc-link-search=native={lib_dir}");
    println!("cargo::rustc-link-lib=dylib={}", python.lib_name);
    // Applies to this package's tests, examples and benches only; dependents add their own rpath
    // from `DEP_PYTHON3.13_LIBDIR` (see the crate docs).
    println!("cargo::rustc-link-arg=-Wl,-rpath,{lib_dir}");
}

/// Exposes the prefix to this crate's code (`env!`) and to dependents' build scripts.
fn export(python: &Python) {
    let prefix = python.prefix.display();
    let include = python.include_dir.display();
    let lib_dir = python.lib_dir.display();

    println!("cargo::rustc-env=CPYTHON_SYS_PREFIX={prefix}");
    println!("cargo::rustc-env=CPYTHON_SYS_LIBDIR={lib_dir}");
    println!("cargo::rustc-env=CPYTHON_SYS_LIBNAME={}", python.lib_name);

    // `links = "python3.13"`: dependents see these as `DEP_PYTHON3.13_<KEY>`.
    println!("cargo::metadata=prefix={prefix}");
    println!("cargo::metadata=include={include}");
    println!("cargo::metadata=libdir={lib_dir}");
    println!("cargo::metadata=libname={}", python.lib_name);
    println!("cargo::metadata=abiflags={}", python.abiflags);

    println!("cargo::rustc-check-cfg=cfg(Py_GIL_DISABLED)");
    println!("cargo::rustc-check-cfg=cfg(Py_DEBUG)");
    if python.gil_disabled {
        println!("cargo::rustc-cfg=Py_GIL_DISABLED");
    }
    if python.debug {
        println!("cargo::rustc-cfg=Py_DEBUG");
    }
}

/// Records how long the expensive steps took: always in `$OUT_DIR/timings.txt`, and as a
/// Cargo warning when `CPYTHON_SYS_TIMINGS` is set.
fn report_timings(out_dir: &Path, bindgen: Duration, cc: Duration) {
    let bindings = out_dir.join("bindings.rs");
    let text = std::fs::read_to_string(&bindings).unwrap_or_default();
    let line = format!(
        "bindgen {:.2}s, cc {:.2}s, bindings.rs {} bytes / {} lines",
        bindgen.as_secs_f64(),
        cc.as_secs_f64(),
        text.len(),
        text.lines().count(),
    );
    std::fs::write(out_dir.join("timings.txt"), format!("{line}\n")).expect("write timings.txt");
    if env("CPYTHON_SYS_TIMINGS").is_some() {
        println!("cargo::warning=cpython-sys: {line}");
    }
}
