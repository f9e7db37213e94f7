//! The attached-Python layer: everything that needs a thread attached to an interpreter (and
//! `cpython_sys`), but no interpreter thread of its own.
//!
//! - [`token`]: [`Python<'py>`](token::Python), the `!Send` token proving attachment;
//! - [`object`]: [`Object<'py>`](object::Object), and per-interpreter objects in the state dict;
//! - [`exceptions`]: Python exceptions taken as [`Error`](crate::Error)s and errors raised as
//!   exceptions, and the `csp` exception classes;
//! - [`trampoline`]: the `extern "C"` boundary (no Rust panic or error unwinds into C) and
//!   Python callables made from Rust closures;
//! - [`convert`]: [`Value`](crate::Value) to object and back;
//! - [`args`]: argument parsing for functions called from Python;
//! - [`blocking`]: blocking from Python (GIL released, signals and interrupts handled);
//! - [`shared_bytes`] and [`py_channel`]: the `csp.SharedBytes` and `csp.Channel` types, which
//!   conversions produce, made per interpreter.
//!
//! It depends on [`value`](crate::value), [`sync`](crate::sync) and [`error`](crate::error).

pub(crate) mod args;
pub(crate) mod blocking;
pub(crate) mod convert;
pub(crate) mod exceptions;
pub(crate) mod object;
pub(crate) mod py_channel;
pub(crate) mod shared_bytes;
pub(crate) mod token;
pub(crate) mod trampoline;
