//! Blocking from Python: how a thread attached to an interpreter waits (for a channel
//! operation, a task's result) without holding the GIL and without polling.
//!
//! The wait itself runs detached and parks the thread ([`Parker`]). It ends early, with the
//! Python exception to raise, when
//! - a signal handler ran on the thread (the main thread gets Ctrl-C): Python's handlers run,
//!   and the wait restarts unless one raised. Signals that arrived before the wait are handled
//!   first; one that arrives in the instant between that check and going to sleep (or that the
//!   kernel gave to another thread) would not interrupt the sleep, so the main thread of the
//!   main interpreter, and only it, also looks again every [`SIGNAL_RECHECK`];
//! - the interpreter was interrupted (by [`Worker::interrupt`](crate::interp::worker::Worker),
//!   which also interrupts the thread's [`Parker`]): the asynchronous exception it set
//!   (`KeyboardInterrupt`) is raised at once.
//!
//! An operation that completed meanwhile still wins; the signal or interrupt then fires at the
//! next bytecode, as it would have anyway. Nothing is lost either way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cpython_sys as ffi;

use crate::python::token::Python;
use crate::sync::parker::{Parker, Wake};
use crate::sync::wait::{Wait, Waited};

/// How often the main thread re-checks for signals while blocked (a safety net: a signal
/// normally wakes it at once).
const SIGNAL_RECHECK: Duration = Duration::from_millis(500);

/// A Python exception is set in the current interpreter: the operation's result is NULL.
#[derive(Debug)]
pub(crate) struct Raised;

/// The thread that runs Python's signal handlers (`pthread_self()`; 0: none): the one that
/// initialised the runtime, or in a forked child the one that forked. Kept by the runtime
/// ([`set_signal_thread`]); an atomic, since a fork handler sets it.
static SIGNAL_THREAD: AtomicU64 = AtomicU64::new(0);

/// Makes the calling thread the one that handles signals while blocked in the main
/// interpreter (`true`), or no thread (`false`, the runtime has shut down).
pub(crate) fn set_signal_thread(this_thread: bool) {
    let thread = if this_thread { current_thread() } else { 0 };
    SIGNAL_THREAD.store(thread, Ordering::Release);
}

fn current_thread() -> u64 {
    // SAFETY: `pthread_self` has no preconditions.
    unsafe { libc::pthread_self() as u64 }
}

/// Runs `op` detached, giving it the wait to park with; `op` returns `None` when that wait
/// told it to abort. Handles signals and interrupts as the module documentation says.
pub(crate) fn block_detached<R: Send>(
    py: Python<'_>,
    mut op: impl FnMut(&mut Wait<'_>) -> Option<R> + Send,
) -> Result<R, Raised> {
    let parker = Parker::current();
    let handles_signals =
        py.interpreter_id() == 0 && SIGNAL_THREAD.load(Ordering::Acquire) == current_thread();
    let mut wait =
        |parker: &Parker, deadline: Option<Instant>| python_wait(parker, deadline, handles_signals);
    loop {
        // SAFETY: attached.
        if unsafe { raise_pending_async_exc() || ffi::PyErr_CheckSignals() < 0 } {
            return Err(Raised);
        }
        // Set while attached: an interrupt needs our GIL, so it either set the asynchronous
        // exception checked above or finds this flag set.
        parker.set_interruptible(true);
        let result = py.allow_threads(|| op(&mut wait));
        let interrupted = parker.set_interruptible(false);
        if let Some(result) = result {
            return Ok(result);
        }
        // SAFETY: attached.
        unsafe {
            if interrupted {
                if !raise_pending_async_exc() {
                    ffi::PyErr_SetNone(ffi::PyExc_KeyboardInterrupt);
                }
                return Err(Raised);
            }
        }
        // A signal woke the wait (or it is time to look again): the loop checks them.
    }
}

/// One sleep of a blocking operation started from Python; `handles_signals` bounds it by
/// [`SIGNAL_RECHECK`].
fn python_wait(parker: &Parker, deadline: Option<Instant>, handles_signals: bool) -> Waited {
    let recheck = handles_signals.then(|| Instant::now() + SIGNAL_RECHECK);
    let sleep_until = match (deadline, recheck) {
        (Some(d), Some(r)) => Some(d.min(r)),
        (d, r) => d.or(r),
    };
    match parker.park(sleep_until) {
        Wake::Timeout if deadline.is_some_and(|d| Instant::now() >= d) => Waited::Timeout,
        Wake::Timeout => Waited::Abort,
        Wake::Signal => Waited::Abort,
        Wake::Unparked if parker.interrupt_requested() => Waited::Abort,
        Wake::Unparked => Waited::Continue,
    }
}

/// Raises the asynchronous exception pending for this thread (set by an interrupt, to fire at
/// the next bytecode) right now instead, so a wait about to start does not miss it. Returns
/// whether there was one.
///
/// # Safety
/// Attached.
unsafe fn raise_pending_async_exc() -> bool {
    // SAFETY: attached: our own thread state; `async_exc` is only written by threads holding
    // this interpreter's GIL, which we hold. `SetAsyncExc(id, NULL)` clears it (it may leave
    // the eval-breaker bit set, which is harmless).
    unsafe {
        let tstate = ffi::PyThreadState_Get();
        let exc = (*tstate).async_exc;
        if exc.is_null() {
            return false;
        }
        ffi::Py_IncRef(exc);
        ffi::PyThreadState_SetAsyncExc((*tstate).thread_id, std::ptr::null_mut());
        ffi::PyErr_SetNone(exc);
        ffi::Py_DecRef(exc);
        true
    }
}
