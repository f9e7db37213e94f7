//! The `extern "C"` boundary: [`trampoline`]s that keep Rust errors and panics from unwinding
//! into C (an error is raised as a Python exception, a panic becomes `RuntimeError`), the
//! Python callables made from Rust closures ([`Python::function`]), and [`raw_slice`] for the
//! pointer-and-length pairs CPython hands out.

use std::ffi::{CStr, CString, c_void};
use std::panic::{self, AssertUnwindSafe};

use cpython_sys as ffi;

use crate::error::{Error, Result, panic_message};
use crate::python::convert::to_object;
use crate::python::object::Object;
use crate::python::token::Python;
use crate::value::Value;

/// Runs the body of an `extern "C"` function called by CPython: a returned error is raised as
/// a Python exception and a panic becomes `RuntimeError` — neither unwinds into C. Returns
/// `on_error` in both cases.
///
/// # Safety
/// The calling thread is attached (CPython is calling us).
pub(crate) unsafe fn trampoline<T>(
    what: &str,
    on_error: T,
    body: impl FnOnce(Python<'_>) -> Result<T>,
) -> T {
    // SAFETY: the caller guarantees attachment for the duration of this call.
    let py = unsafe { Python::assume_attached() };
    match panic::catch_unwind(AssertUnwindSafe(|| body(py))) {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => {
            // SAFETY: attached; an exception set by the body stays when `error` came from it.
            if unsafe { ffi::PyErr_Occurred() }.is_null() {
                py.raise(&error);
            }
            on_error
        }
        Err(payload) => {
            let message = format!("Rust code panicked in {what}: {}", panic_message(&*payload));
            py.raise(&Error::exception("RuntimeError", message));
            on_error
        }
    }
}

/// Like [`trampoline`] for callbacks that cannot report errors (destructors): an error or
/// panic is reported as "unraisable" (printed to stderr), never unwound into C.
///
/// # Safety
/// The calling thread is attached.
pub(crate) unsafe fn trampoline_unraisable(what: &str, body: impl FnOnce()) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(body)) {
        let message = format!("Rust code panicked in {what}: {}", panic_message(&*payload));
        let message = CString::new(message.replace('\0', "?")).unwrap_or_default();
        // SAFETY: attached (forwarded); the message is NUL-terminated.
        unsafe {
            ffi::PyErr_SetString(ffi::PyExc_RuntimeError, message.as_ptr());
            ffi::PyErr_WriteUnraisable(std::ptr::null_mut());
        }
    }
}

/// The `len` items at `data`, borrowed for `'a`. CPython may hand out a NULL pointer for an
/// empty buffer or argument vector, which `slice::from_raw_parts` does not allow: that is
/// the empty slice.
///
/// # Safety
/// `data` is NULL, or valid for reads of `len` items that stay unchanged for `'a`.
pub(crate) unsafe fn raw_slice<'a, T>(data: *const T, len: usize) -> &'a [T] {
    if data.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: non-NULL and valid for `len` reads (the caller's guarantee).
    unsafe { std::slice::from_raw_parts(data, len) }
}

/// The boxed Rust closure behind a Python callable made by [`Python::function`].
pub(crate) type RustFn = Box<dyn Fn(Python<'_>, Vec<Value>) -> Result<Value> + Send + Sync>;

/// What the capsule behind a Rust function owns: the closure and the method definition that
/// CPython keeps a pointer to (so it must not move: it lives in this box).
struct RustFunction {
    name: CString,
    def: ffi::PyMethodDef,
    f: RustFn,
}

const RUST_FUNCTION_CAPSULE: &CStr = c"subinterp.RustFunction";

/// Creates the Python callable for [`Python::function`].
pub(crate) fn rust_function<'py>(py: Python<'py>, name: &str, f: RustFn) -> Result<Object<'py>> {
    let name = py.cstring(name, "function name")?;
    let mut boxed = Box::new(RustFunction {
        def: ffi::PyMethodDef {
            ml_name: name.as_ptr(),
            ml_meth: None,
            ml_flags: ffi::METH_FASTCALL,
            ml_doc: std::ptr::null(),
        },
        name,
        f,
    });
    boxed.def.ml_name = boxed.name.as_ptr();
    // SAFETY: a METH_FASTCALL function has the `_PyCFunctionFast` signature; CPython calls it
    // through the `PyCFunction` pointer type after checking the flag.
    boxed.def.ml_meth = Some(unsafe {
        std::mem::transmute::<
            unsafe extern "C" fn(
                *mut ffi::PyObject,
                *const *mut ffi::PyObject,
                ffi::Py_ssize_t,
            ) -> *mut ffi::PyObject,
            unsafe extern "C" fn(*mut ffi::PyObject, *mut ffi::PyObject) -> *mut ffi::PyObject,
        >(call_rust_function)
    });
    let raw = Box::into_raw(boxed);
    // SAFETY: attached; on success the capsule owns `raw` and frees it in its destructor; on
    // failure we free it here.
    unsafe {
        let capsule = ffi::PyCapsule_New(
            raw.cast::<c_void>(),
            RUST_FUNCTION_CAPSULE.as_ptr(),
            Some(drop_rust_function),
        );
        let capsule = match Object::from_owned(py, capsule) {
            Ok(capsule) => capsule,
            Err(e) => {
                drop(Box::from_raw(raw));
                return Err(e);
            }
        };
        // The function object holds the capsule as `self`, which keeps `def` alive.
        Object::from_owned(
            py,
            ffi::PyCFunction_NewEx(&raw mut (*raw).def, capsule.as_ptr(), std::ptr::null_mut()),
        )
    }
}

/// `METH_FASTCALL` entry point of every Rust function.
unsafe extern "C" fn call_rust_function(
    capsule: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls us attached, with `capsule` our capsule and `nargs` arguments.
    unsafe {
        let function = ffi::PyCapsule_GetPointer(capsule, RUST_FUNCTION_CAPSULE.as_ptr())
            .cast::<RustFunction>();
        let name = if function.is_null() {
            "a Rust function".to_owned()
        } else {
            format!("Rust function {:?}", (*function).name)
        };
        trampoline(&name, std::ptr::null_mut(), |py| {
            if function.is_null() {
                return Err(py.take_error());
            }
            let args = raw_slice(args, nargs.max(0) as usize)
                .iter()
                .map(|&arg| Object::from_borrowed(py, arg)?.to_value())
                .collect::<Result<Vec<_>>>()?;
            let result = ((*function).f)(py, args)?;
            Ok(to_object(py, &result)?.into_ptr())
        })
    }
}

/// Capsule destructor: frees the closure.
unsafe extern "C" fn drop_rust_function(capsule: *mut ffi::PyObject) {
    // SAFETY: CPython calls destructors attached, with our capsule.
    unsafe {
        let raw = ffi::PyCapsule_GetPointer(capsule, RUST_FUNCTION_CAPSULE.as_ptr());
        trampoline_unraisable("a Rust function's destructor", || {
            if !raw.is_null() {
                drop(Box::from_raw(raw.cast::<RustFunction>()));
            }
        });
    }
}
