//! The `csp` module as an extension module (`csp.cpython-313-x86_64-linux-gnu.so`), which
//! `cargo xtask build-python` installs into the prefix's `lib-dynload` and `cargo xtask wheel`
//! packs into a wheel: `import csp` then works in the built `python3`, in every venv made from
//! it, in a stock CPython 3.13 that the wheel is installed into, and in every interpreter of
//! such a process. The first import attaches the subinterp runtime to the CPython already
//! running (see `subinterp::extension`); processes that start the runtime themselves (the
//! `subinterp` command, a Rust program) have `csp` built in and never load this file.
//!
//! The module does not link libpython (see `build.rs`): it binds to the CPython that loads
//! it, so it first checks that this CPython has the ABI it was built for, and refuses the
//! import with an `ImportError` saying what it needs rather than crash.

use std::ffi::{CStr, CString};

use cpython_sys as ffi;

/// The ABI flags of the CPython this module was built against (`""`, or `d`/`t`/`td`).
const ABIFLAGS: &str = env!("CSP_MODULE_ABIFLAGS");

/// CPython's entry point for `import csp`: multi-phase init, one module per interpreter.
///
/// # Safety
/// Called by CPython's import machinery, attached.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PyInit_csp() -> *mut ffi::PyObject {
    // SAFETY: CPython calls this attached, which is all `running_abi` needs.
    let running = unsafe { running_abi() };
    if let Some(message) = incompatibility(running.0, &running.1) {
        let message = CString::new(message).unwrap_or_default();
        // SAFETY: attached; CPython copies the NUL-terminated message.
        unsafe { ffi::PyErr_SetString(ffi::PyExc_ImportError, message.as_ptr()) };
        return std::ptr::null_mut();
    }
    // SAFETY: forwarded: CPython calls this attached.
    unsafe { subinterp::extension::module_def() }
}

/// The version (`PY_VERSION_HEX`) and ABI flags (`sys.abiflags`) of the running CPython.
///
/// # Safety
/// Attached.
unsafe fn running_abi() -> (std::ffi::c_ulong, String) {
    // SAFETY: `Py_Version` is a constant that libpython exports (3.11+); `PySys_GetObject`
    // returns a borrowed reference or NULL, and `PyUnicode_AsUTF8` (a function of the running
    // libpython, which checks the type itself: no inline helper of ours reads the object, as
    // its layout is not known yet) a buffer that the string owns, read at once.
    unsafe {
        let version = ffi::Py_Version;
        let flags = ffi::PySys_GetObject(c"abiflags".as_ptr());
        let mut abiflags = String::new();
        if !flags.is_null() {
            let utf8 = ffi::PyUnicode_AsUTF8(flags);
            if utf8.is_null() {
                ffi::PyErr_Clear();
            } else {
                abiflags = CStr::from_ptr(utf8).to_string_lossy().into_owned();
            }
        }
        (version, abiflags)
    }
}

/// Why this module cannot run in a CPython of `version` (`PY_VERSION_HEX`) with `abiflags`,
/// or `None` when it can.
fn incompatibility(version: std::ffi::c_ulong, abiflags: &str) -> Option<String> {
    let (major, minor) = (version >> 24, (version >> 16) & 0xff);
    let fix = "csp runs on the CPython 3.13 that subinterp builds (`cargo xtask build-python`, \
               then its bin/python3 or a venv of it) or on a stock CPython 3.13 of the same \
               ABI, with the wheel that `cargo xtask wheel` builds against it";
    if (major, minor) != (3, 13) {
        return Some(format!(
            "this csp extension module was built for CPython 3.13, not {major}.{minor}: {fix}"
        ));
    }
    if abiflags != ABIFLAGS {
        let describe = |flags: &str| match flags {
            "" => "the default build".to_owned(),
            flags => {
                let mut kinds = Vec::new();
                if flags.contains('d') {
                    kinds.push("debug");
                }
                if flags.contains('t') {
                    kinds.push("free-threaded");
                }
                format!("a {} build", kinds.join(", "))
            }
        };
        return Some(format!(
            "this csp extension module was built for {} of CPython 3.13 (ABI flags {ABIFLAGS:?}), \
             but this Python is {} (ABI flags {abiflags:?}): {fix}",
            describe(ABIFLAGS),
            describe(abiflags),
        ));
    }
    None
}
