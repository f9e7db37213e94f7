//! Compiles the crate's C code into one static library: the macro shim (`c/shim.c`), bindgen's
//! wrappers for static inline functions, and the generated layout table.

use std::path::{Path, PathBuf};

use crate::find::Python;

/// Builds `libcpython_sys_native.a` and tells Cargo to link it into this crate.
pub fn compile(python: &Python, c_dir: &Path, generated: &[PathBuf]) {
    cc::Build::new()
        .include(&python.include_dir)
        .include(c_dir)
        .file(c_dir.join("shim.c"))
        .files(generated)
        .warnings(true)
        .compile("cpython_sys_native");
}
