//! The one error type of the crate, the Python exceptions it carries, and the constructors of
//! the exceptions the crate raises itself (`TypeError`, `ValueError`, "not shareable").
//!
//! The lowest layer: it names nothing else in the crate (see the crate documentation).

use std::fmt;
use std::time::Duration;

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when running Python through this crate.
///
/// Each message names the problem and, where there is one, the fix. New variants may be added
/// (channels, for one), so match with a `_` arm.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// [`Runtime::init`](crate::Runtime::init) was called a second time: CPython can be
    /// initialised once per process.
    AlreadyInitialized,
    /// The runtime was used before [`Runtime::init`](crate::Runtime::init).
    NotInitialized,
    /// The runtime was used after [`Runtime::shutdown`](crate::Runtime::shutdown).
    ShutDown,
    /// CPython failed to start, or an interpreter could not be created.
    Startup(String),
    /// Python code raised an exception.
    Python(Box<PyException>),
    /// A task did not finish within its timeout; it was interrupted and its interpreter is
    /// usable again.
    Timeout(Duration),
    /// The task was stopped by [`Interpreter::interrupt`](crate::Interpreter::interrupt) or
    /// [`Task::interrupt`](crate::Task::interrupt).
    Interrupted,
    /// The interpreter or pool that should run the task has been closed.
    Closed(&'static str),
    /// The operation must run on another thread (e.g. the main interpreter is only usable
    /// from the thread that initialised the runtime).
    WrongThread(String),
    /// Waiting here could never finish (e.g. an interpreter waiting for its own task).
    Deadlock(String),
    /// A `"module:function"` target was malformed.
    InvalidTarget(String),
    /// Rust code run inside an interpreter panicked; the interpreter is still usable.
    Panic(String),
    /// [`Runtime::shutdown`](crate::Runtime::shutdown) found interpreters that are still
    /// running.
    InterpretersAlive(usize),
    /// The pool, interpreter, task or runtime handle was made before this process was forked:
    /// its threads are in the parent process, not in this child.
    Forked(&'static str),
}

impl Error {
    /// The Python exception, if this error is one.
    pub fn python(&self) -> Option<&PyException> {
        match self {
            Error::Python(exc) => Some(exc),
            _ => None,
        }
    }

    /// Whether this is a Python exception of the given type (by name, e.g. `"TypeError"` or
    /// `"mypkg.errors.Invalid"`).
    pub fn is_python(&self, type_name: &str) -> bool {
        self.python().is_some_and(|exc| exc.type_name == type_name)
    }

    /// A Python exception of type `type_name` (a builtin or `csp` one) with `message` and no
    /// traceback: raised as that type in Python.
    pub(crate) fn exception(type_name: &str, message: impl Into<String>) -> Self {
        Error::Python(Box::new(PyException {
            type_name: type_name.into(),
            message: message.into(),
            traceback: String::new(),
            lineno: None,
            interpreter: None,
            incompatible_module: None,
        }))
    }

    /// A panic payload as a message.
    pub(crate) fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        Error::Panic(panic_message(payload))
    }
}

/// The text of a panic payload (`&str` or `String`; anything else is described).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AlreadyInitialized => f.write_str(
                "the Python runtime is already initialised: CPython starts once per process; \
                 share the first `Runtime` (it is `Clone`) instead of calling `Runtime::init` again",
            ),
            Error::NotInitialized => f.write_str(
                "the Python runtime is not initialised: call `Runtime::init` first",
            ),
            Error::ShutDown => f.write_str(
                "the Python runtime has been shut down: CPython cannot be used again in this process",
            ),
            Error::Startup(msg) => write!(f, "CPython failed to start: {msg}"),
            Error::Python(exc) => fmt::Display::fmt(exc, f),
            Error::Timeout(limit) => write!(
                f,
                "the task did not finish within {limit:?}; it was interrupted and the interpreter is usable again"
            ),
            Error::Interrupted => f.write_str("the task was interrupted"),
            Error::Closed(what) => write!(
                f,
                "the {what} is closed (dropped or shut down) and runs no more tasks; create a new one"
            ),
            Error::WrongThread(msg) | Error::Deadlock(msg) | Error::InvalidTarget(msg) => {
                f.write_str(msg)
            }
            Error::Panic(msg) => write!(f, "Rust code panicked inside the interpreter: {msg}"),
            Error::Forked(what) => write!(
                f,
                "this {what} was made before fork(): its interpreter threads are in the parent \
                 process, not in this child; make a new one here (the runtime itself starts \
                 afresh in a forked child: `Runtime::current()`, `csp.go`, `csp.Pool()`)"
            ),
            Error::InterpretersAlive(n) => write!(
                f,
                "cannot shut down: {n} interpreter(s) still running; drop every `Interpreter` and \
                 `Pool` (and close Python `csp.Pool`s) first"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// A Python exception, copied out of the interpreter that raised it so it can cross threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyException {
    pub(crate) type_name: String,
    pub(crate) message: String,
    pub(crate) traceback: String,
    pub(crate) lineno: Option<u32>,
    /// The interpreter whose job raised it: id and name.
    pub(crate) interpreter: Option<(i64, String)>,
    /// Set when the exception (or one in its cause/context chain) is an extension module
    /// refusing to load in an isolated interpreter.
    pub(crate) incompatible_module: Option<IncompatibleModule>,
}

impl PyException {
    /// The exception's type, qualified by its module unless that is `builtins` or `__main__`
    /// (`"ValueError"`, `"json.decoder.JSONDecodeError"`).
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// `str(exception)`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The traceback as Python prints it (`traceback.format_exception`), ending with the
    /// `Type: message` line. For a `SyntaxError` it shows the offending line and a caret.
    pub fn traceback(&self) -> &str {
        &self.traceback
    }

    /// For a `SyntaxError` (and its subclasses): the line it points at, 1-based.
    pub fn lineno(&self) -> Option<u32> {
        self.lineno
    }

    /// The interpreter that raised it, id and name, when it crossed from one (a task of an
    /// interpreter, a pool or `go`); raised again in Python, its traceback note names it.
    pub fn interpreter(&self) -> Option<(i64, &str)> {
        self.interpreter
            .as_ref()
            .map(|(id, name)| (*id, name.as_str()))
    }

    /// The extension module that could not load in an isolated interpreter, when that is
    /// what this exception (or its cause) comes down to; raised again in Python it becomes
    /// `csp.SubinterpreterImportError`.
    pub fn incompatible_module(&self) -> Option<&IncompatibleModule> {
        self.incompatible_module.as_ref()
    }
}

/// Why an extension module cannot load in an interpreter with its own GIL (see
/// `docs/extensions.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IncompatibleReason {
    /// Single-phase init (`PyModule_Create` in `PyInit_*`): one module object per process.
    SinglePhase,
    /// It declares `Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED`: it refuses subinterpreters.
    Refused,
    /// Multi-phase init without `Py_MOD_PER_INTERPRETER_GIL_SUPPORTED`: it loads only in
    /// interpreters that share the main GIL.
    SharedGilOnly,
    /// CPython did not say (a build without our patch 0019).
    Unknown,
}

impl IncompatibleReason {
    /// A short stable code: `single-phase`, `refused`, `shared-gil-only` or `unknown`.
    pub fn code(self) -> &'static str {
        match self {
            IncompatibleReason::SinglePhase => "single-phase",
            IncompatibleReason::Refused => "refused",
            IncompatibleReason::SharedGilOnly => "shared-gil-only",
            IncompatibleReason::Unknown => "unknown",
        }
    }

    /// The reason in words.
    pub fn explain(self) -> &'static str {
        match self {
            IncompatibleReason::SinglePhase => {
                "it uses single-phase init, which allows one copy of the module per process"
            }
            IncompatibleReason::Refused => {
                "the module refuses subinterpreters (Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED)"
            }
            IncompatibleReason::SharedGilOnly => {
                "it uses multi-phase init but does not declare \
                 Py_MOD_PER_INTERPRETER_GIL_SUPPORTED, so it cannot load where an interpreter \
                 has its own GIL"
            }
            IncompatibleReason::Unknown => {
                "it does not support interpreters with their own GIL (single-phase init, or \
                 multi-phase init without Py_MOD_PER_INTERPRETER_GIL_SUPPORTED)"
            }
        }
    }
}

/// An extension module that cannot load in an isolated (own-GIL) interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompatibleModule {
    /// The extension module's full name (`numpy._core._multiarray_umath`).
    pub module: String,
    /// Why it cannot load.
    pub reason: IncompatibleReason,
}

impl IncompatibleModule {
    /// The top-level package the user imports (`numpy`).
    pub fn package(&self) -> &str {
        self.module.split('.').next().unwrap_or(&self.module)
    }

    /// The message of `csp.SubinterpreterImportError`: the module, the reason and what to do.
    pub fn message(&self) -> String {
        let package = self.package();
        let module = if package == self.module {
            format!("extension module {package}")
        } else {
            format!("{package} (its extension module {})", self.module)
        };
        format!(
            "cannot import {module} in an isolated interpreter: {}. Run this task in a \
             process instead (csp.InterpreterPoolExecutor does so by itself unless \
             fallback='error'), import {package} only in the main interpreter, or ask its \
             maintainers for PEP 489 multi-phase init with \
             Py_MOD_PER_INTERPRETER_GIL_SUPPORTED; `python -m csp.check {package}` checks a \
             module",
            self.reason.explain()
        )
    }
}

impl fmt::Display for PyException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.traceback.is_empty() {
            write!(f, "{}: {}", self.type_name, self.message)
        } else {
            f.write_str(self.traceback.trim_end())
        }
    }
}

impl std::error::Error for PyException {}

/// A `TypeError` to raise.
pub(crate) fn type_error(message: String) -> Error {
    Error::exception("TypeError", message)
}

/// A `ValueError` to raise.
pub(crate) fn value_error(message: String) -> Error {
    Error::exception("ValueError", message)
}

/// What every "not shareable" message says after the type name.
const NOT_SHAREABLE: &str = " is not shareable between interpreters: ";

/// `TypeError: <type> is not shareable ...` (raised in Python as `csp.NotShareableError`, a
/// `TypeError`).
pub(crate) fn not_shareable(type_name: &str) -> Error {
    Error::exception(
        "TypeError",
        format!(
            "{type_name}{NOT_SHAREABLE}only None, bool, int, float, complex, str, bytes, \
             csp.Channel and tuples or frozensets of them cross (exact types, not subclasses); \
             convert it first (e.g. a list to a tuple)"
        ),
    )
}

/// Whether `exc` is the error of [`not_shareable`].
pub(crate) fn is_not_shareable(exc: &PyException) -> bool {
    exc.type_name == "TypeError" && exc.message.contains(NOT_SHAREABLE)
}
