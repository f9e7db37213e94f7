//! The `csp` module as an extension module (`csp.cpython-313-x86_64-linux-gnu.so`), which
//! `cargo xtask build-python` installs into the prefix's `lib-dynload`: `import csp` then works
//! in the built `python3`, in every venv made from it, and in every interpreter of such a
//! process. The first import attaches the subinterp runtime to the CPython already running
//! (see `subinterp::extension`); processes that start the runtime themselves (the `subinterp`
//! command, a Rust program) have `csp` built in and never load this file.

use cpython_sys as ffi;

/// CPython's entry point for `import csp`: multi-phase init, one module per interpreter.
///
/// # Safety
/// Called by CPython's import machinery, attached.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PyInit_csp() -> *mut ffi::PyObject {
    // SAFETY: forwarded: CPython calls this attached.
    unsafe { subinterp::extension::module_def() }
}
