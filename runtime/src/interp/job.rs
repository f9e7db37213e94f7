//! A job as it travels to an interpreter's worker thread ([`Envelope`]), and [`job`], which
//! wraps a closure to run attached to Python into one, with the [`Task`] that receives its
//! result.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::ThreadId;

use crate::error::{Error, Result};
use crate::python::token::Python;
use crate::sync::task::{self, Control, Task};

/// A job as it travels to a worker thread.
pub(crate) struct Envelope {
    pub(crate) control: Arc<Control>,
    pub(crate) run: Box<dyn FnOnce(Python<'_>) + Send>,
}

/// Wraps `f` into an envelope for a worker and the task that receives its result.
///
/// Panics in `f` become [`Error::Panic`]; a `KeyboardInterrupt` caused by an interrupt of
/// this task becomes [`Error::Interrupted`]. `closed` names the owner in the error delivered if
/// the job never runs.
pub(crate) fn job<R, F>(f: F, runners: Arc<[ThreadId]>, closed: &'static str) -> (Envelope, Task<R>)
where
    F: FnOnce(Python<'_>) -> Result<R> + Send + 'static,
    R: Send + 'static,
{
    let (task, completer) = task::pending(runners, closed);
    let control = Arc::clone(task.control());
    let job_control = Arc::clone(&control);
    let run = Box::new(move |py: Python<'_>| {
        let result = panic::catch_unwind(AssertUnwindSafe(|| f(py)))
            .unwrap_or_else(|payload| Err(Error::from_panic(&*payload)));
        let result = match result {
            Err(e)
                if e.is_python("KeyboardInterrupt")
                    && job_control.interrupted.load(Ordering::Acquire) =>
            {
                Err(Error::Interrupted)
            }
            other => other,
        };
        completer.finish(result);
    });
    (Envelope { control, run }, task)
}
