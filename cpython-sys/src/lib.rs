//! Raw FFI bindings to the CPython 3.13 C API, for embedding Python and running own-GIL
//! subinterpreters from Rust.
//!
//! The bindings are generated at build time by bindgen from the headers of the very CPython
//! they link against (the patched build from `cargo xtask build-python`), so they always match
//! that build: default, debug (`d`) or free-threaded (`t`) ABI alike.
//!
//! # What is here
//!
//! - The public C API the runtime needs (allowlisted, not all of `Python.h`): start-up
//!   configuration (`PyConfig`, `PyStatus`, `Py_InitializeFromConfig`), interpreters and
//!   thread states (`Py_NewInterpreterFromConfig`, `PyInterpreterConfig`, `PyThreadState_*`,
//!   `PyEval_*`), modules (`PyModuleDef`, slots, `PyImport_AppendInittab`), types
//!   (`PyType_FromSpec*`), the buffer protocol, exceptions, and the concrete types the runtime
//!   converts (`PyLong_*`, `PyUnicode_*`, `PyBytes_*`, `PyTuple_*`, `PyFrozenSet_*`, ...).
//! - Static inline functions (`Py_INCREF`, `Py_TYPE`, `PyBytes_AS_STRING`, ...) through C
//!   wrappers that bindgen writes and the build compiles.
//! - Function forms of macros that have none (`Py_None()`, `PyTuple_Check()`,
//!   `PyTuple_GET_ITEM()`, `Py_DECREF()`, ...) from a small C shim (`c/shim.c`).
//! - Pointer-valued and initialiser macros as Rust constants (`Py_MOD_PER_INTERPRETER_GIL_SUPPORTED`,
//!   `PyModuleDef_HEAD_INIT`, ...).
//!
//! `PyGILState_*` is deliberately absent: it attaches the *main* interpreter on foreign
//! threads. Attach and detach thread states explicitly instead.
//!
//! # Finding CPython
//!
//! The build script uses, in order:
//!
//! 1. `CPYTHON_PREFIX`, the install prefix of a CPython 3.13 built with `--enable-shared`;
//! 2. the prefix named on the first line of `<workspace>/target/cpython/current-prefix`,
//!    which `cargo xtask build-python` writes.
//!
//! With neither, the build stops with one line telling you to run `cargo xtask build-python`.
//! The library name and ABI flags come from the prefix's `bin/python3.13*-config`.
//!
//! # Linking and the rpath
//!
//! The crate links `libpython3.13*.so` from `<prefix>/lib`. Its own tests and examples get an
//! rpath to that directory, so they run without `LD_LIBRARY_PATH`. Cargo does not pass link
//! arguments on to dependents, so a crate that builds binaries on top of this one adds the
//! rpath in its own `build.rs`, from the metadata this crate exports (`links = "python3.13"`):
//!
//! | variable in a dependent's build script | value |
//! |---|---|
//! | `DEP_PYTHON3.13_PREFIX` | the install prefix (also the interpreter's `home`) |
//! | `DEP_PYTHON3.13_INCLUDE` | directory holding `Python.h` |
//! | `DEP_PYTHON3.13_LIBDIR` | directory holding the shared libpython |
//! | `DEP_PYTHON3.13_LIBNAME` | library name, e.g. `python3.13` or `python3.13t` |
//! | `DEP_PYTHON3.13_ABIFLAGS` | `""`, `"t"`, `"d"` or `"td"` |
//!
//! ```no_run
//! // build.rs of a crate that depends on cpython-sys
//! let libdir = std::env::var("DEP_PYTHON3.13_LIBDIR").unwrap();
//! println!("cargo::rustc-link-arg=-Wl,-rpath,{libdir}");
//! ```
//!
//! The same values are available to code as [`PREFIX`], [`LIBDIR`] and [`LIBNAME`].
//!
//! # Safety
//!
//! Everything here is the raw C API: every function is `unsafe`, and the caller upholds
//! CPython's rules. The ones that matter most here: a thread must have an attached thread
//! state of the right interpreter to touch that interpreter's objects; objects never cross
//! interpreters; reference counts are the caller's to balance (borrowed vs. new references as
//! documented per function); a `NULL` return usually means an exception is set and must be
//! handled before calling into Python again; `Py_Initialize*` runs once per process.

#![cfg_attr(not(test), no_std)]

#[allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    unsafe_op_in_unsafe_fn,
    missing_debug_implementations,
    rust_2018_idioms,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]
mod bindings {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

#[allow(non_upper_case_globals)]
mod consts;
#[cfg(test)]
mod layout;

pub use bindings::*;
pub use consts::*;

/// Install prefix of the CPython these bindings were generated from.
pub const PREFIX: &str = env!("CPYTHON_SYS_PREFIX");
/// Directory holding the shared libpython that is linked.
pub const LIBDIR: &str = env!("CPYTHON_SYS_LIBDIR");
/// Name of the linked library, e.g. `python3.13`.
pub const LIBNAME: &str = env!("CPYTHON_SYS_LIBNAME");
