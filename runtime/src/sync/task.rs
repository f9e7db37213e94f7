//! [`Task<T>`]: the handle to a job queued on an interpreter or pool, and how its result is
//! delivered ([`Completer`]) and waited for.
//!
//! What runs the job is not known here: the job's thread registers itself as the task's
//! [`Runner`] when the job starts, and [`Task::interrupt`] goes through that trait. The job
//! itself (a closure attached to Python) is wrapped by
//! [`interp::job`](crate::interp::job).

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::sync::facade::{self, Condvar};
use crate::sync::generation;
use crate::sync::lock;
use crate::sync::parker::{Parker, deadline_after};
use crate::sync::wait::{Wait, Waited};

/// How often a timed-out task is interrupted again while it keeps running (e.g. because it
/// caught `KeyboardInterrupt`).
const INTERRUPT_RETRY: Duration = Duration::from_millis(100);

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const CANCELLED: u8 = 2;

/// What runs a task (an interpreter's worker thread), as far as the task needs to know: how
/// to interrupt it.
pub(crate) trait Runner: Send + Sync + fmt::Debug {
    /// Interrupts `task` if it is the job running now; returns whether it did.
    fn interrupt_task(&self, task: &Arc<Control>) -> bool;
}

/// The part of a task that the worker running it and the waiter share, whatever its result
/// type: where it runs, and whether it was cancelled or interrupted.
#[derive(Debug)]
pub(crate) struct Control {
    state: AtomicU8,
    /// Set (under the interpreter's GIL) when an interrupt was delivered to this task.
    pub(crate) interrupted: AtomicBool,
    /// What runs the task, once it started.
    runner: Mutex<Option<Arc<dyn Runner>>>,
    /// Threads that run this task; waiting on one of them for it would never end.
    runners: Arc<[ThreadId]>,
    /// The fork generation the task was made in (see [`generation`]).
    generation: u64,
}

impl Control {
    fn new(runners: Arc<[ThreadId]>) -> Arc<Self> {
        Arc::new(Control {
            state: AtomicU8::new(QUEUED),
            interrupted: AtomicBool::new(false),
            runner: Mutex::new(None),
            runners,
            generation: generation::generation(),
        })
    }

    /// Marks the task as running on `runner`; `false` if it was cancelled first.
    pub(crate) fn start(&self, runner: Arc<dyn Runner>) -> bool {
        *lock(&self.runner) = Some(runner);
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
        let runner = lock(&self.runner).clone();
        runner.is_some_and(|r| r.interrupt_task(self))
    }
}

/// A task queued on an [`Interpreter`](crate::Interpreter) or [`Pool`](crate::Pool): wait for
/// its result, with or without a timeout, or interrupt it.
///
/// Dropping a `Task` does not cancel it; the job still runs and its result is discarded.
#[derive(Debug)]
pub struct Task<T> {
    inner: facade::Arc<TaskInner<T>>,
}

/// What a task and its [`Completer`] share: the result and who waits for it, on the
/// [`facade`]'s primitives (loom's in the model tests).
#[derive(Debug)]
struct TaskInner<T> {
    control: Arc<Control>,
    result: facade::Mutex<Option<Result<T>>>,
    done: Condvar,
    /// Threads parked waiting for the result (see [`Task::wait_with`]).
    parked: facade::Mutex<Vec<Arc<Parker>>>,
}

impl<T> TaskInner<T> {
    fn new(control: Arc<Control>, result: Option<Result<T>>) -> Self {
        TaskInner {
            control,
            result: facade::Mutex::new(result),
            done: Condvar::new(),
            parked: facade::Mutex::new(Vec::new()),
        }
    }

    fn complete(&self, result: Result<T>) {
        let mut slot = facade::lock(&self.result);
        if slot.is_none() {
            *slot = Some(result);
        }
        drop(slot);
        self.done.notify_all();
        for parker in std::mem::take(&mut *facade::lock(&self.parked)) {
            parker.unpark();
        }
    }
}

/// Delivers a task's result; if dropped unused (the job never ran), the task fails with
/// [`Error::Closed`].
pub(crate) struct Completer<T> {
    inner: facade::Arc<TaskInner<T>>,
    closed: &'static str,
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        self.inner.complete(Err(Error::Closed(self.closed)));
    }
}

impl<T> Completer<T> {
    /// Delivers `result` (the first result wins).
    pub(crate) fn finish(self, result: Result<T>) {
        self.inner.complete(result);
    }
}

/// A queued task, to be run by one of `runners`, and the completer that delivers its result.
/// `closed` names the owner in the error delivered if the completer is dropped unused.
pub(crate) fn pending<T>(
    runners: Arc<[ThreadId]>,
    closed: &'static str,
) -> (Task<T>, Completer<T>) {
    let inner = facade::Arc::new(TaskInner::new(Control::new(runners), None));
    let completer = Completer {
        inner: facade::Arc::clone(&inner),
        closed,
    };
    (Task { inner }, completer)
}

impl<T> Task<T> {
    /// The part shared with the worker that runs the task.
    pub(crate) fn control(&self) -> &Arc<Control> {
        &self.inner.control
    }

    /// A task that has already failed (e.g. its target was malformed).
    pub(crate) fn failed(error: Error) -> Self {
        Task {
            inner: facade::Arc::new(TaskInner::new(
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
        let mut slot = facade::lock(&self.inner.result);
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
        facade::lock(&self.inner.result).is_some()
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
        let mut slot = facade::lock(&self.inner.result);
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
            facade::lock(&self.inner.parked).push(Arc::clone(&parker));
            let outcome = if self.is_finished() {
                Some(Some(true))
            } else {
                match wait(&parker, deadline) {
                    Waited::Continue => None,
                    Waited::Timeout => Some(Some(self.is_finished())),
                    Waited::Abort => Some(None),
                }
            };
            facade::lock(&self.inner.parked).retain(|p| !Arc::ptr_eq(p, &parker));
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    }

    fn take(&self) -> Result<T> {
        facade::lock(&self.inner.result)
            .take()
            .unwrap_or(Err(Error::Closed("task")))
    }

    /// A clone of the result, if finished (the result stays for later calls).
    pub(crate) fn peek(&self) -> Option<Result<T>>
    where
        T: Clone,
    {
        facade::lock(&self.inner.result).clone()
    }

    /// Whether the task is queued on an interpreter run by this very thread.
    pub(crate) fn would_deadlock(&self) -> bool {
        let runners = &self.inner.control.runners;
        runners.len() == 1 && runners[0] == std::thread::current().id() && !self.is_finished()
    }

    /// Whether the task is unfinished and was made before this process was forked: its
    /// worker is in the parent, so it never finishes here.
    pub(crate) fn orphaned(&self) -> bool {
        generation::orphaned(self.inner.control.generation) && !self.is_finished()
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
