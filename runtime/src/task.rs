//! [`Task<T>`]: the handle to a job queued on an interpreter or pool, and the job envelope the
//! worker threads run.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use crate::blocking::Wait;
use crate::channel::Waited;
use crate::error::{Error, Result};
use crate::marker::Python;
use crate::parker::{Parker, deadline_after};
use crate::sync::{self, Condvar};
use crate::worker::Worker;

/// How often a timed-out task is interrupted again while it keeps running (e.g. because it
/// caught `KeyboardInterrupt`).
const INTERRUPT_RETRY: Duration = Duration::from_millis(100);

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const CANCELLED: u8 = 2;

/// The part of a task that the worker running it and the waiter share, whatever its result
/// type: where it runs, and whether it was cancelled or interrupted.
#[derive(Debug)]
pub(crate) struct Control {
    state: AtomicU8,
    /// Set (under the interpreter's GIL) when an interrupt was delivered to this task.
    pub(crate) interrupted: AtomicBool,
    /// The worker running the task, once it started.
    worker: Mutex<Option<Arc<Worker>>>,
    /// Threads that run this task; waiting on one of them for it would never end.
    runners: Arc<[ThreadId]>,
    /// The fork generation the task was made in (see `fork.rs`).
    generation: u64,
}

impl Control {
    fn new(runners: Arc<[ThreadId]>) -> Arc<Self> {
        Arc::new(Control {
            state: AtomicU8::new(QUEUED),
            interrupted: AtomicBool::new(false),
            worker: Mutex::new(None),
            runners,
            generation: crate::fork::generation(),
        })
    }

    /// Marks the task as running on `worker`; `false` if it was cancelled first.
    pub(crate) fn start(&self, worker: &Arc<Worker>) -> bool {
        *lock(&self.worker) = Some(Arc::clone(worker));
        self.state
            .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Cancels the task if it has not started; `true` if it will never run.
    fn cancel(&self) -> bool {
        self.state
            .compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Interrupts the task if it is running now.
    pub(crate) fn interrupt(self: &Arc<Self>) -> bool {
        let worker = lock(&self.worker).clone();
        worker.is_some_and(|w| w.interrupt(Some(self)))
    }
}

/// A job as it travels to a worker thread.
pub(crate) struct Envelope {
    pub(crate) control: Arc<Control>,
    pub(crate) run: Box<dyn FnOnce(Python<'_>) + Send>,
}

/// A task queued on an [`Interpreter`](crate::Interpreter) or [`Pool`](crate::Pool): wait for
/// its result, with or without a timeout, or interrupt it.
///
/// Dropping a `Task` does not cancel it; the job still runs and its result is discarded.
#[derive(Debug)]
pub struct Task<T> {
    inner: sync::Arc<TaskInner<T>>,
}

/// What a task and its [`Completer`] share: the result and who waits for it, on the
/// [`sync`](crate::sync) facade's primitives (loom's in the model tests).
#[derive(Debug)]
struct TaskInner<T> {
    control: Arc<Control>,
    result: sync::Mutex<Option<Result<T>>>,
    done: Condvar,
    /// Threads parked waiting for the result (see [`Task::wait_with`]).
    parked: sync::Mutex<Vec<Arc<Parker>>>,
}

impl<T> TaskInner<T> {
    fn new(control: Arc<Control>, result: Option<Result<T>>) -> Self {
        TaskInner {
            control,
            result: sync::Mutex::new(result),
            done: Condvar::new(),
            parked: sync::Mutex::new(Vec::new()),
        }
    }

    fn complete(&self, result: Result<T>) {
        let mut slot = sync::lock(&self.result);
        if slot.is_none() {
            *slot = Some(result);
        }
        drop(slot);
        self.done.notify_all();
        for parker in std::mem::take(&mut *sync::lock(&self.parked)) {
            parker.unpark();
        }
    }
}

/// Delivers a task's result; if dropped unused (the job never ran), the task fails with
/// [`Error::Closed`].
pub(crate) struct Completer<T> {
    inner: sync::Arc<TaskInner<T>>,
    closed: &'static str,
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        self.inner.complete(Err(Error::Closed(self.closed)));
    }
}

#[cfg(all(loom, test))]
impl<T> Completer<T> {
    /// Delivers `result` (the first result wins).
    pub(crate) fn finish(self, result: Result<T>) {
        self.inner.complete(result);
    }
}

/// A queued task and the completer that delivers its result, without a job (the model tests
/// play the worker).
#[cfg(all(loom, test))]
pub(crate) fn pending<T>(closed: &'static str) -> (Task<T>, Completer<T>) {
    let inner = sync::Arc::new(TaskInner::new(Control::new(Arc::from([])), None));
    let completer = Completer {
        inner: sync::Arc::clone(&inner),
        closed,
    };
    (Task { inner }, completer)
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
    let control = Control::new(runners);
    let inner = sync::Arc::new(TaskInner::new(Arc::clone(&control), None));
    let completer = Completer {
        inner: sync::Arc::clone(&inner),
        closed,
    };
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
        completer.inner.complete(result);
    });
    (Envelope { control, run }, Task { inner })
}

impl<T> Task<T> {
    /// A task that has already failed (e.g. its target was malformed).
    pub(crate) fn failed(error: Error) -> Self {
        Task {
            inner: sync::Arc::new(TaskInner::new(
                Control::new(Arc::from([])),
                Some(Err(error)),
            )),
        }
    }

    /// Blocks until the task has finished and returns its result.
    ///
    /// Waiting on a task of the interpreter this thread runs is an [`Error::Deadlock`].
    pub fn wait(self) -> Result<T> {
        self.check_deadlock()?;
        self.check_orphaned()?;
        let mut slot = sync::lock(&self.inner.result);
        loop {
            if let Some(result) = slot.take() {
                return result;
            }
            slot = self
                .inner
                .done
                .wait(slot)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Waits at most `timeout`. If the task is still queued then, it is cancelled; if it is
    /// running, it is interrupted (again every 100 ms until it ends) and its interpreter stays
    /// usable. Either way the result is [`Error::Timeout`] — unless the task finished on its own
    /// meanwhile, which gives its result.
    pub fn wait_timeout(self, timeout: Duration) -> Result<T> {
        self.check_deadlock()?;
        self.check_orphaned()?;
        if self.wait_until(deadline_after(timeout)) {
            return self.take();
        }
        if self.inner.control.cancel() {
            return Err(Error::Timeout(timeout));
        }
        loop {
            self.inner.control.interrupt();
            if self.wait_until(Some(Instant::now() + INTERRUPT_RETRY)) {
                break;
            }
        }
        match self.take() {
            Err(Error::Interrupted) => Err(Error::Timeout(timeout)),
            other => other,
        }
    }

    /// Whether the task has finished (its result is ready).
    pub fn is_finished(&self) -> bool {
        sync::lock(&self.inner.result).is_some()
    }

    /// Interrupts the task if it is running (by raising `KeyboardInterrupt` in it at the next
    /// bytecode boundary; a blocking call in C finishes first). The task then fails with
    /// [`Error::Interrupted`] unless it catches the exception. Returns whether an interrupt
    /// was delivered.
    pub fn interrupt(&self) -> bool {
        self.inner.control.interrupt()
    }

    /// Waits until finished or `deadline`; `true` if finished.
    pub(crate) fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let mut slot = sync::lock(&self.inner.result);
        while slot.is_none() {
            match deadline {
                None => {
                    slot = self
                        .inner
                        .done
                        .wait(slot)
                        .unwrap_or_else(PoisonError::into_inner)
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return false;
                    }
                    slot = self
                        .inner
                        .done
                        .wait_timeout(slot, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
        true
    }

    /// Waits parked until finished or `deadline`, calling `wait` for each sleep: `Some(true)`
    /// if finished, `Some(false)` at the deadline, `None` if `wait` aborted.
    pub(crate) fn wait_with(&self, deadline: Option<Instant>, wait: &mut Wait<'_>) -> Option<bool> {
        let parker = Parker::current();
        loop {
            // Registered before checking: a completion in between unparks us.
            sync::lock(&self.inner.parked).push(Arc::clone(&parker));
            let outcome = if self.is_finished() {
                Some(Some(true))
            } else {
                match wait(&parker, deadline) {
                    Waited::Continue => None,
                    Waited::Timeout => Some(Some(self.is_finished())),
                    Waited::Abort => Some(None),
                }
            };
            sync::lock(&self.inner.parked).retain(|p| !Arc::ptr_eq(p, &parker));
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    }

    fn take(&self) -> Result<T> {
        sync::lock(&self.inner.result)
            .take()
            .unwrap_or(Err(Error::Closed("task")))
    }

    /// A clone of the result, if finished (the result stays for later calls).
    pub(crate) fn peek(&self) -> Option<Result<T>>
    where
        T: Clone,
    {
        sync::lock(&self.inner.result).clone()
    }

    /// Whether the task is queued on an interpreter run by this very thread.
    pub(crate) fn would_deadlock(&self) -> bool {
        let runners = &self.inner.control.runners;
        runners.len() == 1 && runners[0] == std::thread::current().id() && !self.is_finished()
    }

    /// Whether the task is unfinished and was made before this process was forked: its
    /// worker is in the parent, so it never finishes here.
    pub(crate) fn orphaned(&self) -> bool {
        crate::fork::orphaned(self.inner.control.generation) && !self.is_finished()
    }

    fn check_orphaned(&self) -> Result<()> {
        if self.orphaned() {
            return Err(Error::Forked("task"));
        }
        Ok(())
    }

    fn check_deadlock(&self) -> Result<()> {
        if self.would_deadlock() {
            return Err(Error::Deadlock(
                "a task cannot be waited for from the interpreter that runs it (it would wait \
                 for itself); run it on another interpreter or pool"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Locks a mutex, ignoring poisoning: every critical section here leaves its data consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
