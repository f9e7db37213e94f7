//! The interpreter-threads layer: CPython's one runtime and the threads that own interpreters.
//!
//! - [`runtime`]: [`Runtime`](runtime::Runtime), CPython initialised once per process, the main
//!   interpreter, shutdown;
//! - [`worker`]: the thread behind every interpreter (create, serve jobs, interrupt, destroy),
//!   its name, serial mode, and the runtime's list of live interpreters;
//! - [`job`]: a job as it travels to a worker, and the [`Task`](crate::Task) receiving its
//!   result;
//! - [`warm`]: interpreters created ahead of time;
//! - [`interpreter`]: [`Interpreter`](interpreter::Interpreter), one interpreter as an actor, and
//!   [`Target`](interpreter::Target), how functions are named across interpreters;
//! - [`pool`]: [`Pool`](pool::Pool), and the pools interpreters own;
//! - [`go`]: the interpreters behind `go`;
//! - [`fork`]: what survives `fork()` (the `pthread_atfork` handlers, threads joined only in
//!   their own process).
//!
//! It depends on [`python`](crate::python), [`value`](crate::value), [`sync`](crate::sync) and
//! [`error`](crate::error), and names one item above it: [`runtime`] registers the `csp`
//! module's init function (see the crate documentation).

pub(crate) mod fork;
pub(crate) mod go;
pub(crate) mod interpreter;
pub(crate) mod job;
pub(crate) mod pool;
pub(crate) mod runtime;
pub(crate) mod warm;
pub(crate) mod worker;
