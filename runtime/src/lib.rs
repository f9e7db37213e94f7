//! subinterp: run Python on every core, with one own-GIL CPython subinterpreter (PEP 684) per
//! thread, driven from Rust.
//!
//! ```no_run
//! use subinterp::{Interpreter, Pool, Runtime, RuntimeConfig, Value};
//!
//! let runtime = Runtime::init(RuntimeConfig::default())?;
//! let interp = Interpreter::new(&runtime)?;
//! interp.exec("import math")?;
//! assert_eq!(interp.eval("math.factorial(20)")?, Value::from(2432902008176640000i64));
//!
//! let pool = Pool::new(&runtime, 4)?;
//! let squares = pool.map("operator:mul", (0..8i64).map(|i| vec![i.into(), i.into()]))?;
//! assert_eq!(squares[3], Value::from(9));
//! # Ok::<(), subinterp::Error>(())
//! ```
//!
//! # Runtime
//!
//! [`Runtime::init`] starts CPython once per process, from a [`RuntimeConfig`] whose Python
//! home defaults to the prefix this crate was built against ([`DEFAULT_PYTHON_HOME`]). The
//! calling thread becomes CPython's main thread and the only one that may use the main
//! interpreter ([`Runtime::with_main`], [`Runtime::run_script`]); after `init` it is detached,
//! so interpreters on other threads run freely. [`Runtime::shutdown`] finalises CPython from
//! that thread once every interpreter is gone. Misuse — a second `init`, use after shutdown,
//! the main interpreter from another thread — is an [`Error`], never a crash.
//!
//! # Interpreters
//!
//! An [`Interpreter`] is an actor: one OS thread that creates an own-GIL subinterpreter
//! (isolated: its own GIL and allocator; in [serial mode](InterpreterConfig::serial) also no
//! threads, fork or exec), runs the jobs its handle sends it, and destroys it when the handle
//! is dropped. Interpreters run Python truly in parallel. Jobs (`exec`, `eval`, `call`, or a
//! Rust closure given a [`Python`] token) are blocking or return a [`Task`]; a task can be
//! waited for with a timeout or interrupted (a `KeyboardInterrupt` raised in the running code),
//! after which the interpreter is usable again.
//!
//! Every interpreter has a name ([`InterpreterConfig::name`]; `pool-<n>` for a pool's workers,
//! `go:<function>` while a `go` task runs), which its OS thread carries (the first 15 bytes)
//! and a Python exception crossing from it keeps ([`PyException::interpreter`]).
//! [`Runtime::interpreters`] lists the live ones: name, serial or not, idle or running which
//! task, since when ([`InterpreterInfo`]).
//!
//! # Values
//!
//! A Python object never leaves its interpreter. What crosses is a [`Value`]: Rust-owned
//! immutable data (`None`, `bool`, `int` of any size, `float`, `complex`, `str`, `bytes`, and
//! tuples and frozensets of them), built from an object on one side and turned into a fresh
//! object on the other. `bytes` of [`SHARED_BYTES_THRESHOLD`] or more cross without a copy, as
//! a read-only `csp.SharedBytes` buffer over shared memory. Anything else raises `TypeError`
//! naming its type. Python objects are reachable only through the `!Send` [`Python`] token and
//! [`Object`]s tied to its lifetime, so the compiler keeps them on their thread.
//!
//! # Errors
//!
//! Every fallible operation returns [`Result`], with the `#[non_exhaustive]` [`Error`]. A Python
//! exception keeps its type name, message and formatted traceback ([`PyException`]); a
//! `SyntaxError` also its line. A Rust panic inside an interpreter fails only that task; a panic
//! in Rust code called from Python (a [`Python::function`], the `csp` module) becomes a Python
//! `RuntimeError` and never unwinds into C.
//!
//! # Pool
//!
//! A [`Pool`] is N pre-started interpreters (default: one per core) sharing a task queue:
//! [`Pool::submit`] returns a [`Task`], [`Pool::map`] preserves order, a failed task does not
//! harm its worker, and optional set-up code runs once per worker ([`PoolConfig::setup`]).
//! [`Pool::close`] finishes the queued tasks; [`Pool::terminate`] cancels them and interrupts
//! the running ones.
//!
//! # Channels
//!
//! A [`Channel`] carries [`Value`]s between interpreters and Rust threads, CSP-style: many
//! senders and receivers, capacity 0 a rendezvous (a send waits for a receiver), capacity `n`
//! a buffer; `send`/`recv` with `try_` and `_timeout` forms, and `close`, after which receivers
//! drain what is queued and senders get their value back ([`SendError`]). A channel is itself
//! a value ([`Value::Channel`]), so it can travel over another channel or into an interpreter
//! as an argument. [`Select`] waits for the first of several sends and receives, choosing
//! fairly among ready ones. A blocked operation parks its thread (no polling); from Python it
//! releases the GIL, and Ctrl-C or an interrupt of the interpreter ends it.
//!
//! # go
//!
//! [`Runtime::go`] runs a function on an interpreter of its own, like a goroutine: an idle one
//! left by an earlier `go`, or a new one — never waiting for a free worker, so stages that
//! block on each other all run. Idle go interpreters are destroyed after
//! [`RuntimeConfig::go_idle_timeout`].
//!
//! # fork
//!
//! A forked child keeps only the thread that forked: the runtime starts afresh there
//! ([`Runtime::current`] gives the child's; new interpreters, pools and `go` work), and a pool,
//! interpreter, task or `Runtime` handle made before the fork fails with [`Error::Forked`]
//! instead of waiting for threads that exist only in the parent. Nothing waits for them at exit.
//!
//! # The `csp` module
//!
//! Every interpreter the runtime starts can `import csp`: `csp.Channel(capacity=0)`,
//! `csp.select(*cases, timeout=None, default=...)`, `csp.go(func, *args, **kwargs)`,
//! `csp.go_with(func, args=(), kwargs=None, *, name=None, serial=False)` (options apart from
//! `func`'s own keywords, which `go` passes on), `csp.InterpreterPoolExecutor` (a
//! `concurrent.futures` executor, a drop-in for `ProcessPoolExecutor`, with
//! `thread_name_prefix` and `serial`), `csp.Pool(workers=None, *, setup=None, name=None,
//! serial=False)` with `submit`/`map`/`starmap`/`close`/`terminate`, `csp.map(func, iterable,
//! *, workers=None)`, `csp.current_interpreter()` (the id), `csp.current_interpreter_name()`,
//! `csp.interpreters()` (the [`Runtime::interpreters`] listing, as records) and
//! `csp.SharedBytes`. A serial interpreter refuses Python threads (and, as every
//! subinterpreter, `fork`/`exec`) with a `RuntimeError` naming serial mode; `go` is not serial
//! by default (README.md, "Using it", says why). Waiting releases the GIL (and lets Ctrl-C
//! through in the main interpreter). Functions cross by module and qualified name;
//! those of the main script are found the way multiprocessing's spawn finds them. The
//! `subinterp` binary (package `subinterp-cli`: `subinterp run SCRIPT [ARGS]`) runs a script
//! with all of this.
//!
//! # Layers
//!
//! The crate is six layers, one folder (or file) each. A layer names only the layers below
//! it; `runtime/tests/layering.rs` maps every `crate::` path in the code to its layer and fails
//! when a layer names one above it. From the bottom:
//!
//! | layer | what it is | may use |
//! | --- | --- | --- |
//! | `error.rs` | [`Error`], [`PyException`], and the constructors of the exceptions the crate raises itself (`TypeError`, `ValueError`, "not shareable") | nothing |
//! | `sync/` | pure-Rust synchronisation, no Python: the poison-ignoring `lock`, the std/loom `facade`, the `parker` (futex sleep, woken by signals), the `wait` types, the generic `Channel<T>`/`Select<T>` core, [`Task`] completion (interrupting through a `Runner` trait), the fork `generation`; and the loom models of all that | `error` |
//! | `value/` | [`Value`], [`Int`], [`Bytes`], and the public [`Channel`] and [`Select`] carrying values | `sync`, `error` |
//! | `python/` | what needs a thread attached to an interpreter: the [`Python`] token, [`Object`], exceptions taken and raised, the `extern "C"` trampolines, conversions between values and objects, argument parsing, blocking with the GIL released, the `csp.Channel` and `csp.SharedBytes` types | `value`, `sync`, `error` |
//! | `interp/` | the threads that own interpreters: [`Runtime`], the worker thread, jobs, the warm stock, [`Interpreter`], [`Pool`] (and the pools interpreters own), `go`, fork handling | `python`, `value`, `sync`, `error` |
//! | `csp/` | the `csp` Python module: its Rust part (`mod.rs`) and its Python files (`csp.py`, `csp_executor.py`) | everything |
//!
//! One edge goes up, and only one: `interp/runtime.rs` names `csp::PyInit_csp`, because the
//! `csp` module must be in CPython's table of built-in modules before `Py_InitializeFromConfig`
//! runs, inside [`Runtime::init`]; no earlier point exists where the `csp` layer could register
//! itself. Where a lower layer must act on something above it, the upper layer hands it down:
//! a worker registers itself as the running task's `Runner` (so [`Task::interrupt`] reaches it),
//! the runtime tells the blocking code which thread handles signals, and the `csp` module adds
//! the pools it creates to the interpreter layer's registry of owned pools.
//!
//! This file (the crate root) belongs to no layer: it declares them, re-exports the public API
//! and holds the compile-time checks that span layers. The invariants the layers keep (lock
//! order, no unwinding into C, no Python object crossing interpreters, ...) are listed in
//! `docs/architecture.md`.

mod csp;
mod error;
mod interp;
mod python;
mod sync;
mod value;

pub use error::{Error, IncompatibleModule, IncompatibleReason, PyException, Result};
pub use interp::interpreter::{Interpreter, InterpreterConfig, InterpreterInfo, InterpreterState};
pub use interp::pool::{Pool, PoolConfig, default_workers};
pub use interp::runtime::{DEFAULT_PYTHON_HOME, PYTHON_VERSION, Runtime, RuntimeConfig};
pub use python::object::Object;

/// The `csp` module as an extension module: what the `csp-module` crate's `PyInit_csp`
/// returns, so that `import csp` works in a CPython that another program started (the built
/// `python3`, a venv of it). The first import attaches the runtime to that CPython.
pub mod extension {
    use cpython_sys as ffi;

    /// The `csp` module definition, initialised for multi-phase init.
    ///
    /// # Safety
    /// Called from an extension module's `PyInit_csp`, attached to an interpreter.
    pub unsafe fn module_def() -> *mut ffi::PyObject {
        // SAFETY: forwarded from the caller.
        unsafe { crate::csp::PyInit_csp() }
    }
}
pub use python::token::Python;
pub use sync::task::Task;
pub use value::channel::{
    Channel, RecvError, Select, SelectError, Selected, SendError, SendErrorKind,
};
pub use value::{Bytes, Int, SHARED_BYTES_THRESHOLD, Value};

/// Compile-time proof that handles and errors can cross threads (cf. mlua's
/// `static_assertions`), and that `Python`/`Object` cannot (see `runtime/tests/compile_fail`).
#[allow(dead_code)]
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Error>();
    send_sync::<PyException>();
    send_sync::<Runtime>();
    send_sync::<Interpreter>();
    send_sync::<Pool>();
    send_sync::<Task<Value>>();
    send_sync::<Value>();
};
