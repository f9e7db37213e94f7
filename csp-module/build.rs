//! Links the `csp` extension module the way CPython links its own: without a dependency on
//! libpython.
//!
//! `cpython-sys` links libpython (`-lpython3.13`) into everything built on it, which an
//! executable needs. An extension module must not: it is loaded into a Python that already
//! holds the C API, as a shared libpython, or linked into its `python` executable, and must
//! bind to that one. With a `DT_NEEDED` on `libpython3.13.so.1.0`, a statically linked
//! `python3.13` (Debian's, pyenv's default) would load a second CPython from the system, or
//! fail to import the module. So this script gives the linker an empty `libpython3.13.a`,
//! found before the real library (Cargo passes a package's own search paths first): the
//! `-l` is satisfied by nothing, the C API's symbols stay undefined in the `.so`, and the
//! dynamic loader binds them to the interpreter that loads it. `cargo xtask wheel` checks
//! the result.

use std::path::PathBuf;

fn main() {
    let lib_name = dep("LIBNAME");
    // What the module checks the running CPython against (`src/lib.rs`).
    println!("cargo::rustc-env=CSP_MODULE_ABIFLAGS={}", dep("ABIFLAGS"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("Cargo sets OUT_DIR"));
    let stub_dir = out_dir.join("no-libpython");
    std::fs::create_dir_all(&stub_dir).expect("create the stub directory");
    // An `ar` archive with no members.
    std::fs::write(stub_dir.join(format!("lib{lib_name}.a")), b"!<arch>\n")
        .expect("write the empty archive");
    println!("cargo::rustc-link-search=native={}", stub_dir.display());
    println!("cargo::rerun-if-changed=build.rs");
}

/// `DEP_PYTHON3.13_<KEY>`, which `cpython-sys`'s build script exports.
fn dep(key: &str) -> String {
    let name = format!("DEP_PYTHON3.13_{key}");
    println!("cargo::rerun-if-env-changed={name}");
    std::env::var(&name).unwrap_or_else(|_| panic!("{name} is not set: cpython-sys exports it"))
}
