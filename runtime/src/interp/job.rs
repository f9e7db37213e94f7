//! A job as it travels to an interpreter's worker thread ([`Envelope`]), and [`job`], which
//! wraps a closure to run attached to Python into one, with the [`Task`] that receives its
//! result. A Python exception a job fails with is marked with the interpreter (id and name)
//! that raised it, so that it names that interpreter wherever it is raised again.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::ThreadId;

use crate::error::{Error, Result};
use crate::interp::worker::Worker;
use crate::python::token::Python;
use crate::sync::task::{self, Control, Task};

/// What a worker runs for a job: attached, given the worker itself.
pub(crate) type Run = Box<dyn FnOnce(Python<'_>, &Worker) + Send>;

/// A job as it travels to a worker thread.
pub(crate) struct Envelope {
    pub(crate) control: Arc<Control>,
    pub(crate) run: Run,
    /// The name the interpreter takes while the job runs (a `go` task's), if not its own.
    pub(crate) name: Option<Arc<str>>,
    /// What the job is, as the interpreter listing shows it (`"module:function"`, `exec`).
    pub(crate) label: Option<Arc<str>>,
}

/// Wraps `f` into an envelope for a worker and the task that receives its result.
///
/// Panics in `f` become [`Error::Panic`]; a `KeyboardInterrupt` caused by an interrupt of
/// this task becomes [`Error::Interrupted`]; a Python exception is marked with the worker's
/// interpreter, unless it already names the one it came from. `closed` names the owner in the
/// error delivered if the job never runs. The envelope has no name or label; set them.
pub(crate) fn job<R, F>(f: F, runners: Arc<[ThreadId]>, closed: &'static str) -> (Envelope, Task<R>)
where
    F: FnOnce(Python<'_>) -> Result<R> + Send + 'static,
    R: Send + 'static,
{
    let (task, completer) = task::pending(runners, closed);
    let control = Arc::clone(task.control());
    let job_control = Arc::clone(&control);
    let run = Box::new(move |py: Python<'_>, worker: &Worker| {
        let result = panic::catch_unwind(AssertUnwindSafe(|| f(py)))
            .unwrap_or_else(|payload| Err(Error::from_panic(&*payload)));
        let result = match result {
            Err(e)
                if e.is_python("KeyboardInterrupt")
                    && job_control.interrupted.load(Ordering::Acquire) =>
            {
                Err(Error::Interrupted)
            }
            Err(Error::Python(mut exc)) => {
                if exc.interpreter.is_none() {
                    exc.interpreter = Some((worker.id, worker.name().to_string()));
                }
                Err(Error::Python(exc))
            }
            other => other,
        };
        completer.finish(result);
    });
    let envelope = Envelope {
        control,
        run,
        name: None,
        label: None,
    };
    (envelope, task)
}
