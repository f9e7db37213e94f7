//! The exception classes of the `csp` module, one set per interpreter (kept in its state
//! dict, so Rust code can raise them without importing `csp`).

use std::ffi::CStr;

use cpython_sys as ffi;

use crate::error::Result;
use crate::marker::Python;
use crate::object::{Object, interpreter_cached};

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
