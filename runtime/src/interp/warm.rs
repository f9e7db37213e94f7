//! [`Warm`]: a stock of interpreters created ahead of time, so that starting an interpreter
//! (`Interpreter::new`, a pool's workers, `go`) usually just hands a ready one its work.
//!
//! The stock fills after the runtime's first interpreter is asked for, and refills in the
//! background: one refill thread creates one interpreter at a time (so at most one core is
//! busy with it) until [`RuntimeConfig::warm_interpreters`](crate::RuntimeConfig) are ready,
//! starting [`REFILL_DELAY`] after the last take, so that a burst of starts (a pool, a fan of
//! `go` tasks) and the interpreters just handed out do not compete with it for the cores.
//! A warm interpreter is a default one (own GIL, threads allowed) that has run no code; it
//! runs its set-up code when taken. Shutdown ends the stock's interpreters.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::interp::fork::OsThread;
use crate::interp::worker::{Assignment, Registry, Worker, spawn_warm};
use crate::sync::lock;

/// How long the refill waits after the last take before it creates an interpreter.
const REFILL_DELAY: Duration = Duration::from_millis(20);

/// The runtime's stock of ready interpreters. Cheap to clone (shared state).
#[derive(Clone)]
pub(crate) struct Warm {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// The target, also readable without the lock: a forked child reads it while the lock may
    /// be held by a thread that the fork left behind.
    target: AtomicUsize,
    /// The runtime's list of interpreters, which warm ones join as they are created.
    registry: Arc<Registry>,
    /// Signals the refill thread: the stock was taken from, resized or closed.
    changed: Condvar,
}

struct State {
    target: usize,
    ready: Vec<Ready>,
    /// When an interpreter was last taken (or asked for).
    last_take: Option<Instant>,
    refill: Option<OsThread>,
    closed: bool,
}

/// A warm interpreter thread waiting for its assignment.
struct Ready {
    assign: mpsc::Sender<Assignment>,
    thread: OsThread,
    worker: Arc<Worker>,
}

impl std::fmt::Debug for Warm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.inner.state);
        f.debug_struct("Warm")
            .field("target", &state.target)
            .field("ready", &state.ready.len())
            .finish()
    }
}

impl Warm {
    pub(crate) fn new(target: usize, registry: Arc<Registry>) -> Warm {
        Warm {
            inner: Arc::new(Inner {
                target: AtomicUsize::new(target),
                registry,
                state: Mutex::new(State {
                    target,
                    ready: Vec::new(),
                    last_take: None,
                    refill: None,
                    closed: false,
                }),
                changed: Condvar::new(),
            }),
        }
    }

    /// Hands `assignment` to a ready interpreter and returns its thread and worker, or gives
    /// the assignment back if none is ready. Either way the stock (re)fills in the background.
    pub(crate) fn take(
        &self,
        assignment: Assignment,
    ) -> Result<(OsThread, Arc<Worker>), Assignment> {
        let ready = {
            let mut state = lock(&self.inner.state);
            if state.closed || state.target == 0 {
                return Err(assignment);
            }
            state.last_take = Some(Instant::now());
            if state.refill.is_none() {
                let warm = self.clone();
                state.refill =
                    OsThread::spawn("subinterp-refill".into(), None, move || warm.refill()).ok();
            }
            state.ready.pop()
        };
        self.inner.changed.notify_all();
        let Some(ready) = ready else {
            return Err(assignment);
        };
        match ready.assign.send(assignment) {
            Ok(()) => Ok((ready.thread, ready.worker)),
            // The thread is gone (its interpreter failed): start one the usual way.
            Err(mpsc::SendError(assignment)) => {
                ready.thread.join();
                Err(assignment)
            }
        }
    }

    /// How many interpreters the stock keeps ready.
    pub(crate) fn target(&self) -> usize {
        self.inner.target.load(Ordering::Relaxed)
    }

    /// Interpreters ready now.
    pub(crate) fn ready(&self) -> usize {
        lock(&self.inner.state).ready.len()
    }

    /// Sets how many interpreters to keep ready; extra ones are ended.
    pub(crate) fn set_target(&self, target: usize) {
        let extra: Vec<Ready> = {
            let mut state = lock(&self.inner.state);
            state.target = target;
            self.inner.target.store(target, Ordering::Relaxed);
            let keep = state.ready.len().min(target);
            state.ready.split_off(keep)
        };
        self.inner.changed.notify_all();
        end(extra);
    }

    /// Stops refilling and ends the stock's interpreters; joins their threads.
    pub(crate) fn terminate(&self) {
        let (ready, refill) = {
            let mut state = lock(&self.inner.state);
            state.closed = true;
            (std::mem::take(&mut state.ready), state.refill.take())
        };
        self.inner.changed.notify_all();
        if let Some(refill) = refill {
            refill.join();
        }
        // The refill thread may have added one while we waited for it.
        let late = std::mem::take(&mut lock(&self.inner.state).ready);
        end(ready);
        end(late);
    }

    /// The refill thread: creates interpreters one at a time while the stock is short.
    fn refill(&self) {
        let mut state = lock(&self.inner.state);
        loop {
            if state.closed {
                return;
            }
            if state.ready.len() >= state.target {
                state = self
                    .inner
                    .changed
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            let quiet = state.last_take.map_or(Duration::ZERO, |t| {
                (t + REFILL_DELAY).saturating_duration_since(Instant::now())
            });
            if !quiet.is_zero() {
                state = self
                    .inner
                    .changed
                    .wait_timeout(state, quiet)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
                continue;
            }
            drop(state);
            let (created_tx, created) = mpsc::channel();
            let (assign, assignments) = mpsc::channel();
            let started = spawn_warm(created_tx, assignments, Arc::clone(&self.inner.registry));
            let created = created.recv();
            state = lock(&self.inner.state);
            match (created, started) {
                (Ok(Ok(worker)), Ok(thread)) => state.ready.push(Ready {
                    assign,
                    thread,
                    worker,
                }),
                (_, started) => {
                    // Interpreters cannot be created now: stop until asked again.
                    drop(assign);
                    if let Ok(thread) = started {
                        thread.join();
                    }
                    state.refill = None;
                    return;
                }
            }
        }
    }
}

/// Ends warm interpreters (closing their assignment channels) and joins their threads.
fn end(ready: Vec<Ready>) {
    let threads: Vec<OsThread> = ready
        .into_iter()
        .map(|Ready { assign, thread, .. }| {
            drop(assign);
            thread
        })
        .collect();
    for thread in threads {
        thread.join();
    }
}
