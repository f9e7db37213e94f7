//! [`Python<'py>`]: the zero-sized token that proves "this thread is attached to an
//! interpreter", and the operations that need it. Taking and raising exceptions is in
//! [`exceptions`](super::exceptions).

use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};

use cpython_sys as ffi;

use crate::error::{Error, Result};
use crate::python::object::Object;
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
        crate::python::convert::to_object(self, value)
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
        crate::python::trampoline::rust_function(self, name, Box::new(f))
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
}
