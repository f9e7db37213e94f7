//! [`Python<'py>`]: the zero-sized token that proves "this thread is attached to an
//! interpreter", and the operations that need it.

use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};

use cpython_sys as ffi;

use crate::error::{Error, PyException, Result};
use crate::exceptions::CspError;
use crate::object::Object;
use crate::value::Value;

/// Proof that the current thread is attached to one interpreter (holds its GIL).
///
/// You get one inside [`Interpreter::with_python`](crate::Interpreter::with_python),
/// [`Runtime::with_main`](crate::Runtime::with_main) or a pool task, for the duration of that
/// closure. It is `Copy` but neither `Send` nor `Sync`: it cannot leave the thread, and its
/// lifetime `'py` keeps the [`Object`]s made with it from outliving the attachment.
///
/// ```compile_fail
/// # fn f(py: subinterp::Python<'_>) {
/// std::thread::spawn(move || drop(py)); // `Python` is not `Send`
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Python<'py> {
    _not_send: PhantomData<(&'py (), *mut ())>,
}

impl<'py> Python<'py> {
    /// # Safety
    /// The calling thread has an attached thread state for as long as `'py` lasts.
    pub(crate) unsafe fn assume_attached() -> Self {
        Python {
            _not_send: PhantomData,
        }
    }

    /// The id of the interpreter this thread is attached to (0 is the main interpreter).
    pub fn interpreter_id(self) -> i64 {
        // SAFETY: attached (the token exists), so there is a current interpreter.
        unsafe { ffi::PyInterpreterState_GetID(ffi::PyInterpreterState_Get()) }
    }

    /// Runs statements in this interpreter's `__main__` module.
    pub fn exec(self, code: &str) -> Result<()> {
        self.run(code, c"<exec>", ffi::Py_file_input).map(drop)
    }

    /// Evaluates an expression in this interpreter's `__main__` module.
    pub fn eval(self, expr: &str) -> Result<Object<'py>> {
        self.run(expr, c"<eval>", ffi::Py_eval_input)
    }

    /// Compiles `code` under `filename` and runs it in `__main__`'s namespace.
    fn run(self, code: &str, filename: &CStr, start: i32) -> Result<Object<'py>> {
        let code = self.cstring(code, "code")?;
        let globals = self.main_dict()?;
        // SAFETY: attached; `code` and `filename` are NUL-terminated; the results are new
        // references (or NULL with an exception set), owned by `Object`.
        unsafe {
            let compiled = Object::from_owned(
                self,
                ffi::Py_CompileString(code.as_ptr(), filename.as_ptr(), start),
            )?;
            Object::from_owned(
                self,
                ffi::PyEval_EvalCode(compiled.as_ptr(), globals.as_ptr(), globals.as_ptr()),
            )
        }
    }

    /// This interpreter's `__main__` module.
    pub fn main_module(self) -> Result<Object<'py>> {
        // SAFETY: attached; returns a borrowed reference (or NULL with an exception set).
        unsafe { Object::from_borrowed(self, ffi::PyImport_AddModule(c"__main__".as_ptr())) }
    }

    /// `__main__.__dict__` of this interpreter.
    pub(crate) fn main_dict(self) -> Result<Object<'py>> {
        // SAFETY: attached; both calls return borrowed references (or NULL with an exception
        // set), which `from_borrowed` turns into owned ones.
        unsafe {
            let main = ffi::PyImport_AddModule(c"__main__".as_ptr());
            let main = Object::from_borrowed(self, main)?;
            Object::from_borrowed(self, ffi::PyModule_GetDict(main.as_ptr()))
        }
    }

    /// Imports a module (`import name`) and returns it.
    pub fn import(self, name: &str) -> Result<Object<'py>> {
        let name = self.cstring(name, "module name")?;
        // SAFETY: attached; returns a new reference or NULL with an exception set.
        unsafe { Object::from_owned(self, ffi::PyImport_ImportModule(name.as_ptr())) }
    }

    /// The module `name` if it has been imported (`sys.modules[name]`), without importing it.
    pub fn imported(self, name: &str) -> Result<Option<Object<'py>>> {
        let name = self.object(&Value::from(name))?;
        // SAFETY: attached; returns a new reference, or NULL with an exception only on error.
        unsafe {
            match Object::from_owned_opt(self, ffi::PyImport_GetModule(name.as_ptr())) {
                Some(module) => Ok(Some(module)),
                None if ffi::PyErr_Occurred().is_null() => Ok(None),
                None => Err(self.take_error()),
            }
        }
    }

    /// `None`.
    pub fn none(self) -> Object<'py> {
        // SAFETY: attached; `Py_None()` is a valid (immortal) object.
        unsafe { Object::from_borrowed(self, ffi::Py_None()).expect("None is never NULL") }
    }

    /// A new Python object for `value`, in this interpreter.
    pub fn object(self, value: &Value) -> Result<Object<'py>> {
        crate::value::to_object(self, value)
    }

    /// A Python callable that runs the Rust closure `f` with the call's arguments converted to
    /// [`Value`]s, and returns its result converted back. An `Err` raises it as a Python
    /// exception; a panic raises `RuntimeError` instead of unwinding into C.
    ///
    /// `f` must be `Send + Sync`: Python threads of the interpreter may call it at the same
    /// time (one of them inside [`allow_threads`](Self::allow_threads)) and drop it, on OS
    /// threads other than this one.
    pub fn function<F>(self, name: &str, f: F) -> Result<Object<'py>>
    where
        F: Fn(Python<'_>, Vec<Value>) -> Result<Value> + Send + Sync + 'static,
    {
        crate::object::rust_function(self, name, Box::new(f))
    }

    /// Detaches from the interpreter while `f` runs, so other threads of this interpreter can
    /// run Python meanwhile; reattaches afterwards (also if `f` panics).
    ///
    /// `f` must be `Send` so it cannot capture a `Python` token or `Object`.
    pub fn allow_threads<T, F>(self, f: F) -> T
    where
        F: FnOnce() -> T + Send,
    {
        // SAFETY: attached (the token exists); the thread state saved here is restored below
        // before the token can be used again.
        let saved = unsafe { ffi::PyEval_SaveThread() };
        let result = panic::catch_unwind(AssertUnwindSafe(f));
        // SAFETY: `saved` is this thread's thread state, detached above.
        unsafe { ffi::PyEval_RestoreThread(saved) };
        result.unwrap_or_else(|payload| panic::resume_unwind(payload))
    }

    /// A `CString`, or a Python `ValueError` naming `what` if `s` contains NUL.
    pub(crate) fn cstring(self, s: &str, what: &str) -> Result<CString> {
        CString::new(s)
            .map_err(|_| Error::exception("ValueError", format!("{what} contains a NUL character")))
    }

    /// Takes the exception currently set in this interpreter and turns it into an [`Error`].
    ///
    /// The traceback is formatted with the `traceback` module; a failure there falls back to
    /// `Type: message`. Calling this with no exception set yields a `SystemError`.
    pub(crate) fn take_error(self) -> Error {
        // SAFETY: attached; the raised exception is a new reference owned by `Object`.
        let exc = unsafe { ffi::PyErr_GetRaisedException() };
        // SAFETY: attached; `exc` is a new reference or NULL.
        let Some(exc) = (unsafe { Object::from_owned_opt(self, exc) }) else {
            return Error::exception(
                "SystemError",
                "a C API call failed without setting an exception",
            );
        };
        Error::Python(Box::new(self.describe_exception(&exc)))
    }

    /// Copies type name, message, traceback and (for `SyntaxError`) line out of `exc`.
    pub(crate) fn describe_exception(self, exc: &Object<'py>) -> PyException {
        let type_name = exc.type_name();
        let message = exc
            .str()
            .unwrap_or_else(|_| "<str() of the exception failed>".into());
        let traceback = self
            .format_exception(exc)
            .unwrap_or_else(|_| format!("{type_name}: {message}\n"));
        // SAFETY: attached; `exc` is a live exception instance.
        let is_syntax_error =
            unsafe { ffi::PyErr_GivenExceptionMatches(exc.as_ptr(), ffi::PyExc_SyntaxError) != 0 };
        let lineno = is_syntax_error
            .then(|| exc.getattr("lineno").ok()?.to_value().ok()?.as_i64())
            .flatten()
            .and_then(|n| u32::try_from(n).ok());
        // Whatever failed above must not leak into the caller's next call.
        // SAFETY: attached.
        unsafe { ffi::PyErr_Clear() };
        PyException {
            type_name,
            message,
            traceback,
            lineno,
        }
    }

    /// `"".join(traceback.format_exception(exc))`.
    fn format_exception(self, exc: &Object<'py>) -> Result<String> {
        let lines = self
            .import("traceback")?
            .getattr("format_exception")?
            .call(std::slice::from_ref(exc))?;
        let empty = self.object(&Value::Str(String::new()))?;
        // SAFETY: attached; both arguments are live; the result is a new reference or NULL.
        let joined = unsafe {
            Object::from_owned(self, ffi::PyUnicode_Join(empty.as_ptr(), lines.as_ptr()))?
        };
        joined.str()
    }

    /// Raises `error` as a Python exception in this interpreter (the reverse of
    /// [`take_error`](Self::take_error)).
    ///
    /// A Python exception from elsewhere is re-created as the builtin exception of the same
    /// name when there is one, else as `RuntimeError("Type: message")`; its original traceback
    /// is attached as a note.
    pub(crate) fn raise(self, error: &Error) {
        // A `csp` exception class, kept alive while `exc_type` points at it.
        let mut csp_class = None;
        let (exc_type, message, note) = match error {
            Error::Python(exc) => {
                csp_class = crate::value::is_not_shareable(exc)
                    .then_some(CspError::NotShareable)
                    .or_else(|| CspError::from_qualified(&exc.type_name))
                    .and_then(|kind| kind.class(self).ok());
                let ty = csp_class
                    .as_ref()
                    .map(Object::as_ptr)
                    .or_else(|| builtin_exception(&exc.type_name));
                let message = if ty.is_some() {
                    exc.message.clone()
                } else {
                    format!("{}: {}", exc.type_name, exc.message)
                };
                // SAFETY: reading an exception type global.
                let ty = ty.unwrap_or(unsafe { ffi::PyExc_RuntimeError });
                let note = (!exc.traceback.is_empty()).then(|| {
                    format!(
                        "\nTraceback in the interpreter that raised it:\n{}",
                        exc.traceback.trim_end()
                    )
                });
                (ty, message, note)
            }
            Error::Timeout(_) => {
                // SAFETY: reading an exception type global.
                (unsafe { ffi::PyExc_TimeoutError }, error.to_string(), None)
            }
            Error::InvalidTarget(_) => {
                // SAFETY: reading an exception type global.
                (unsafe { ffi::PyExc_ValueError }, error.to_string(), None)
            }
            // SAFETY: reading an exception type global.
            _ => (unsafe { ffi::PyExc_RuntimeError }, error.to_string(), None),
        };
        let result = (|| -> Result<Object<'py>> {
            let args =
                crate::value::to_object(self, &Value::Tuple(vec![Value::Str(message.clone())]))?;
            // SAFETY: attached; `exc_type` is a live exception class; `args` a tuple.
            let exc = unsafe {
                Object::from_owned(self, ffi::PyObject_CallObject(exc_type, args.as_ptr()))?
            };
            if let Some(note) = &note {
                exc.getattr("add_note")?
                    .call(&[self.object(&Value::Str(note.clone()))?])?;
            }
            Ok(exc)
        })();
        match result {
            // SAFETY: attached; `SetRaisedException` steals the reference we give it.
            Ok(exc) => unsafe { ffi::PyErr_SetRaisedException(exc.into_ptr()) },
            Err(_) => {
                let text = self
                    .cstring(&message.replace('\0', "?"), "message")
                    .unwrap_or_default();
                // SAFETY: attached; the message is NUL-terminated.
                unsafe { ffi::PyErr_SetString(ffi::PyExc_RuntimeError, text.as_ptr()) }
            }
        }
        drop(csp_class);
    }
}

/// The builtin exception class named `name`, if there is one (`"ValueError"` -> `ValueError`).
fn builtin_exception(name: &str) -> Option<*mut ffi::PyObject> {
    // SAFETY: reading immutable exception type globals; these are static builtin types shared
    // by every interpreter.
    let known = unsafe {
        [
            ("ArithmeticError", ffi::PyExc_ArithmeticError),
            ("AssertionError", ffi::PyExc_AssertionError),
            ("AttributeError", ffi::PyExc_AttributeError),
            ("BufferError", ffi::PyExc_BufferError),
            ("EOFError", ffi::PyExc_EOFError),
            ("Exception", ffi::PyExc_Exception),
            ("FileExistsError", ffi::PyExc_FileExistsError),
            ("FileNotFoundError", ffi::PyExc_FileNotFoundError),
            ("ImportError", ffi::PyExc_ImportError),
            ("IndexError", ffi::PyExc_IndexError),
            ("KeyError", ffi::PyExc_KeyError),
            ("KeyboardInterrupt", ffi::PyExc_KeyboardInterrupt),
            ("LookupError", ffi::PyExc_LookupError),
            ("MemoryError", ffi::PyExc_MemoryError),
            ("ModuleNotFoundError", ffi::PyExc_ModuleNotFoundError),
            ("NameError", ffi::PyExc_NameError),
            ("NotImplementedError", ffi::PyExc_NotImplementedError),
            ("OSError", ffi::PyExc_OSError),
            ("OverflowError", ffi::PyExc_OverflowError),
            ("PermissionError", ffi::PyExc_PermissionError),
            ("RecursionError", ffi::PyExc_RecursionError),
            ("RuntimeError", ffi::PyExc_RuntimeError),
            ("StopIteration", ffi::PyExc_StopIteration),
            ("SyntaxError", ffi::PyExc_SyntaxError),
            ("SystemError", ffi::PyExc_SystemError),
            ("TimeoutError", ffi::PyExc_TimeoutError),
            ("TypeError", ffi::PyExc_TypeError),
            ("ValueError", ffi::PyExc_ValueError),
            ("ZeroDivisionError", ffi::PyExc_ZeroDivisionError),
        ]
    };
    known
        .iter()
        .find(|(known, _)| *known == name)
        .map(|&(_, ty)| ty)
}
