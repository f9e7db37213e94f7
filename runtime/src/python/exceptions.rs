//! Python exceptions: the one set in an interpreter taken as an [`Error`]
//! ([`Python::take_error`]), an [`Error`] raised as a Python exception ([`Python::raise`]), and
//! the exception classes of the `csp` module ([`CspError`]), one set per interpreter (kept in
//! its state dict, so Rust code can raise them without importing `csp`).

use std::ffi::CStr;

use cpython_sys as ffi;

use crate::error::{
    Error, IncompatibleModule, IncompatibleReason, PyException, Result, is_not_shareable,
};
use crate::python::convert::to_object;
use crate::python::object::{Object, interpreter_cached};
use crate::python::token::Python;
use crate::python::trampoline::raw_slice;
use crate::value::Value;

/// An exception class of `csp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CspError {
    /// `csp.ChannelClosed(Exception)`: receive from a closed, drained channel, or send on a
    /// closed one; `.channel` is the channel and `.value` the value not sent (or None).
    ChannelClosed,
    /// `csp.Empty(Exception)`: `recv_nowait()` found nothing ready.
    Empty,
    /// `csp.Full(Exception)`: `send_nowait()` found no room (and no receiver waiting).
    Full,
    /// `csp.NotShareableError(TypeError)`: an object that cannot cross between interpreters.
    NotShareable,
    /// `csp.SubinterpreterImportError(ImportError)`: an extension module cannot load in an
    /// isolated interpreter; `.name`/`.module` name it, `.reason` says why.
    SubinterpreterImport,
}

impl CspError {
    pub(crate) const ALL: [CspError; 5] = [
        CspError::ChannelClosed,
        CspError::Empty,
        CspError::Full,
        CspError::NotShareable,
        CspError::SubinterpreterImport,
    ];

    /// The class's name in the module.
    pub(crate) fn name(self) -> &'static CStr {
        match self {
            CspError::ChannelClosed => c"ChannelClosed",
            CspError::Empty => c"Empty",
            CspError::Full => c"Full",
            CspError::NotShareable => c"NotShareableError",
            CspError::SubinterpreterImport => c"SubinterpreterImportError",
        }
    }

    /// Its qualified name, as `PyException::type_name` reports it.
    pub(crate) fn qualified(self) -> &'static CStr {
        match self {
            CspError::ChannelClosed => c"csp.ChannelClosed",
            CspError::Empty => c"csp.Empty",
            CspError::Full => c"csp.Full",
            CspError::NotShareable => c"csp.NotShareableError",
            CspError::SubinterpreterImport => c"csp.SubinterpreterImportError",
        }
    }

    /// The class named `type_name` (qualified), if it is one of ours.
    pub(crate) fn from_qualified(type_name: &str) -> Option<CspError> {
        Self::ALL
            .into_iter()
            .find(|e| e.qualified().to_bytes() == type_name.as_bytes())
    }

    fn key(self) -> &'static CStr {
        match self {
            CspError::ChannelClosed => c"subinterp.ChannelClosed",
            CspError::Empty => c"subinterp.Empty",
            CspError::Full => c"subinterp.Full",
            CspError::NotShareable => c"subinterp.NotShareableError",
            CspError::SubinterpreterImport => c"subinterp.SubinterpreterImportError",
        }
    }

    fn doc(self) -> &'static CStr {
        match self {
            CspError::ChannelClosed => {
                c"The channel is closed: raised by recv() once everything sent has been received, \
                  and by send() (the value not sent is in .value). .channel is the channel."
            }
            CspError::Empty => c"recv_nowait(): no value is ready.",
            CspError::Full => {
                c"send_nowait(): the channel is full (with capacity 0: no receiver is waiting)."
            }
            CspError::NotShareable => {
                c"The object cannot cross between interpreters: only None, bool, int, float, \
                  complex, str, bytes, csp.SharedBytes, csp.Channel, and tuples or frozensets of \
                  them do."
            }
            CspError::SubinterpreterImport => {
                c"An extension module cannot load in an isolated (own-GIL) interpreter. .name and \
                  .module are the extension module's full name, .package the top-level package, \
                  .reason 'single-phase', 'refused', 'shared-gil-only' or 'unknown'."
            }
        }
    }

    /// This interpreter's class, created on first use.
    pub(crate) fn class(self, py: Python<'_>) -> Result<Object<'_>> {
        interpreter_cached(py, self.key(), |py| {
            // SAFETY: attached; reading a static exception type; the name and doc are
            // NUL-terminated statics; the result is a new reference or NULL.
            unsafe {
                let base = match self {
                    CspError::NotShareable => ffi::PyExc_TypeError,
                    CspError::SubinterpreterImport => ffi::PyExc_ImportError,
                    _ => ffi::PyExc_Exception,
                };
                Object::from_owned(
                    py,
                    ffi::PyErr_NewExceptionWithDoc(
                        self.qualified().as_ptr(),
                        self.doc().as_ptr(),
                        base,
                        std::ptr::null_mut(),
                    ),
                )
            }
        })
    }
}

impl<'py> Python<'py> {
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
            interpreter: None,
            incompatible_module: self.incompatible_module(exc),
        }
    }

    /// The extension module behind `exc` when `exc`, or an exception in its cause/context
    /// chain (packages such as numpy wrap it in their own `ImportError`), is CPython's
    /// "module X does not support loading in subinterpreters"; the reason is read from the
    /// note that patch 0019 adds (without it: `Unknown`).
    ///
    /// It uses only quiet lookups that clear their own errors: [`take_error`](Self::take_error)
    /// calls this, so a failure here must never build another `Error` (that would describe,
    /// and so call this, again without end).
    pub(crate) fn incompatible_module(self, exc: &Object<'py>) -> Option<IncompatibleModule> {
        const PREFIX: &str = "module ";
        const SUFFIX: &str = " does not support loading in subinterpreters";
        let mut current = Some(exc.clone());
        // Bounded: a chain may loop (an exception set as its own context).
        for _ in 0..16 {
            let exc = current.take()?;
            let module = self
                .is_instance_of(&exc, self.import_error())
                .then(|| self.quiet_str(&exc))
                .flatten()
                .and_then(|message| {
                    let module = message.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
                    (!module.is_empty() && !module.contains(' ')).then(|| module.to_owned())
                });
            if let Some(module) = module {
                let notes = self
                    .quiet_attr(&exc, c"__notes__")
                    .and_then(|notes| self.quiet_str(&notes))
                    .unwrap_or_default();
                let reason = if notes.contains("single-phase init") {
                    IncompatibleReason::SinglePhase
                } else if notes.contains("refuses subinterpreters") {
                    IncompatibleReason::Refused
                } else if notes.contains("does not declare") {
                    IncompatibleReason::SharedGilOnly
                } else {
                    IncompatibleReason::Unknown
                };
                return Some(IncompatibleModule { module, reason });
            }
            current = [c"__cause__", c"__context__"]
                .into_iter()
                .filter_map(|name| self.quiet_attr(&exc, name))
                .find(|next| !next.is_none());
        }
        None
    }

    /// `getattr(obj, name)`; None when it is missing or the lookup fails (the error cleared).
    fn quiet_attr(self, obj: &Object<'py>, name: &CStr) -> Option<Object<'py>> {
        let mut found = std::ptr::null_mut();
        // SAFETY: attached; `obj` is live, `name` NUL-terminated, and `found` receives a new
        // reference or NULL.
        let status =
            unsafe { ffi::PyObject_GetOptionalAttrString(obj.as_ptr(), name.as_ptr(), &mut found) };
        if status < 0 {
            // SAFETY: attached.
            unsafe { ffi::PyErr_Clear() };
            return None;
        }
        // SAFETY: attached; `found` is a new reference or NULL (missing, no error set).
        unsafe { Object::from_owned_opt(self, found) }
    }

    /// `str(obj)`; None when that fails (the error cleared).
    fn quiet_str(self, obj: &Object<'py>) -> Option<String> {
        // SAFETY: attached; `obj` is live; the result is a new reference or NULL.
        let text = unsafe { Object::from_owned_opt(self, ffi::PyObject_Str(obj.as_ptr())) };
        let mut len = 0;
        // SAFETY: attached; `text` is a live str; its UTF-8 buffer lives while `text` does.
        let data = text.as_ref().map_or(std::ptr::null(), |t| unsafe {
            ffi::PyUnicode_AsUTF8AndSize(t.as_ptr(), &mut len)
        });
        if data.is_null() {
            // SAFETY: attached.
            unsafe { ffi::PyErr_Clear() };
            return None;
        }
        // SAFETY: `data` points at `len` bytes owned by `text`, alive in this scope.
        let bytes = unsafe { raw_slice(data.cast::<u8>(), len as usize) };
        Some(String::from_utf8_lossy(bytes).into_owned())
    }

    fn import_error(self) -> *mut ffi::PyObject {
        // SAFETY: reading an immutable exception type global.
        unsafe { ffi::PyExc_ImportError }
    }

    fn is_instance_of(self, exc: &Object<'py>, class: *mut ffi::PyObject) -> bool {
        // SAFETY: attached; `exc` is live and `class` an exception class.
        unsafe { ffi::PyErr_GivenExceptionMatches(exc.as_ptr(), class) != 0 }
    }

    /// A `csp.SubinterpreterImportError` for `module`, with its attributes set.
    pub(crate) fn incompatible_module_error(
        self,
        module: &IncompatibleModule,
    ) -> Result<Object<'py>> {
        let class = CspError::SubinterpreterImport.class(self)?;
        let exc = class.call_values(&[Value::Str(module.message())])?;
        for (name, value) in [
            ("name", module.module.as_str()),
            ("module", module.module.as_str()),
            ("package", module.package()),
            ("reason", module.reason.code()),
        ] {
            exc.setattr(name, &self.object(&Value::Str(value.to_owned()))?)?;
        }
        Ok(exc)
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
    /// is attached as a note ("Traceback in interpreter 3 'go:stage':"), naming the
    /// interpreter it came from when known.
    pub(crate) fn raise(self, error: &Error) {
        // A `csp` exception class, kept alive while `exc_type` points at it.
        let mut csp_class = None;
        let (exc_type, message, note) = match error {
            Error::Python(exc) => {
                csp_class = is_not_shareable(exc)
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
                (ty, message, traceback_note(exc))
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
            let exc = match error {
                Error::Python(exc) if exc.incompatible_module.is_some() => {
                    let module = exc.incompatible_module.as_ref().expect("checked above");
                    self.incompatible_module_error(module)?
                }
                _ => {
                    let args = to_object(self, &Value::Tuple(vec![Value::Str(message.clone())]))?;
                    // SAFETY: attached; `exc_type` is a live exception class; `args` a tuple.
                    unsafe {
                        Object::from_owned(self, ffi::PyObject_CallObject(exc_type, args.as_ptr()))?
                    }
                }
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

/// The note that carries a remote exception's traceback ("Traceback in interpreter 3
/// 'go:stage':"), naming the interpreter it came from when known.
fn traceback_note(exc: &PyException) -> Option<String> {
    (!exc.traceback.is_empty()).then(|| {
        let place = match &exc.interpreter {
            Some((id, name)) => format!("interpreter {id} '{name}'"),
            None => "the interpreter that raised it".into(),
        };
        format!("\nTraceback in {place}:\n{}", exc.traceback.trim_end())
    })
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
