//! Python exceptions: the one set in an interpreter taken as an [`Error`]
//! ([`Python::take_error`]), an [`Error`] raised as a Python exception ([`Python::raise`]), and
//! the exception classes of the `csp` module ([`CspError`]), one set per interpreter (kept in
//! its state dict, so Rust code can raise them without importing `csp`).

use std::ffi::CStr;

use cpython_sys as ffi;

use crate::error::{Error, PyException, Result, is_not_shareable};
use crate::python::convert::to_object;
use crate::python::object::{Object, interpreter_cached};
use crate::python::token::Python;
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
}

impl CspError {
    pub(crate) const ALL: [CspError; 4] = [
        CspError::ChannelClosed,
        CspError::Empty,
        CspError::Full,
        CspError::NotShareable,
    ];

    /// The class's name in the module.
    pub(crate) fn name(self) -> &'static CStr {
        match self {
            CspError::ChannelClosed => c"ChannelClosed",
            CspError::Empty => c"Empty",
            CspError::Full => c"Full",
            CspError::NotShareable => c"NotShareableError",
        }
    }

    /// Its qualified name, as `PyException::type_name` reports it.
    pub(crate) fn qualified(self) -> &'static CStr {
        match self {
            CspError::ChannelClosed => c"csp.ChannelClosed",
            CspError::Empty => c"csp.Empty",
            CspError::Full => c"csp.Full",
            CspError::NotShareable => c"csp.NotShareableError",
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
                let note = (!exc.traceback.is_empty()).then(|| {
                    let place = match &exc.interpreter {
                        Some((id, name)) => format!("interpreter {id} '{name}'"),
                        None => "the interpreter that raised it".into(),
                    };
                    format!("\nTraceback in {place}:\n{}", exc.traceback.trim_end())
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
            let args = to_object(self, &Value::Tuple(vec![Value::Str(message.clone())]))?;
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
