//! [`Spawner`]: the interpreters behind `go` — one per task running now, each on its own
//! thread, so `go` never waits for a free worker (a pipeline of many blocking stages cannot
//! deadlock for want of one). An interpreter whose task ended waits idle for the next `go` and
//! is destroyed after [`RuntimeConfig::go_idle_timeout`](crate::RuntimeConfig) without one.
//!
//! A reaper thread (started with the first idle interpreter) sleeps until the oldest idle
//! interpreter expires, or until woken by a change; it never polls.
//!
//! An idle go interpreter is named `go`; each task renames it while it runs ([`GoOptions`]),
//! and its OS thread with it. Serial ones (no Python threads) serve only serial tasks, and the
//! others only tasks that are not.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::error::{Error, Result};
use crate::interp::fork::OsThread;
use crate::interp::interpreter::{InterpreterConfig, Target};
use crate::interp::job::{Envelope, job};
use crate::interp::runtime::Runtime;
use crate::interp::worker::{Worker, spawn_worker};
use crate::python::token::Python;
use crate::sync::lock;
use crate::sync::task::Task;

/// The name of an idle go interpreter.
const IDLE_NAME: &str = "go";

/// How a `go` task runs: the name its interpreter takes meanwhile, what the listing shows it
/// running, and whether its interpreter is serial.
#[derive(Debug, Clone)]
pub(crate) struct GoOptions {
    pub(crate) name: Arc<str>,
    pub(crate) label: Option<Arc<str>>,
    pub(crate) serial: bool,
}

impl GoOptions {
    /// The defaults for calling `target`: named `go:<qualname>`, not serial.
    pub(crate) fn for_target(target: &Target) -> GoOptions {
        GoOptions {
            name: format!("go:{}", target.qualname).into(),
            label: Some(target.label()),
            serial: false,
        }
    }
}

/// The go interpreters of a runtime. Cheap to clone (shared state).
#[derive(Clone)]
pub(crate) struct Spawner {
    inner: Arc<Inner>,
}

struct Inner {
    idle_timeout: Duration,
    state: Mutex<State>,
    /// Signals the reaper: an interpreter became idle, or the spawner closed.
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// Every go interpreter, by interpreter id.
    workers: HashMap<i64, GoWorker>,
    /// Ids of idle interpreters with the time they became idle, oldest first.
    idle: Vec<(i64, Instant)>,
    reaper: Option<OsThread>,
    closed: bool,
}

struct GoWorker {
    jobs: Sender<Envelope>,
    worker: Arc<Worker>,
    thread: OsThread,
}

impl std::fmt::Debug for Spawner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.inner.state);
        f.debug_struct("Spawner")
            .field("interpreters", &state.workers.len())
            .field("idle", &state.idle.len())
            .finish()
    }
}

impl Spawner {
    pub(crate) fn new(idle_timeout: Duration) -> Spawner {
        Spawner {
            inner: Arc::new(Inner {
                idle_timeout,
                state: Mutex::new(State::default()),
                changed: Condvar::new(),
            }),
        }
    }

    /// Runs `f` on an idle go interpreter (serial or not, as `options` say), or on a new one
    /// (started with `setup`). Waits only while a new interpreter starts.
    pub(crate) fn go<R, F>(
        &self,
        runtime: &Runtime,
        setup: Option<String>,
        options: GoOptions,
        f: F,
    ) -> Task<R>
    where
        F: FnOnce(Python<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let reused = {
            let mut state = lock(&self.inner.state);
            if state.closed {
                return Task::failed(Error::ShutDown);
            }
            // The most recently idle one of the right kind.
            let State { idle, workers, .. } = &mut *state;
            idle.iter()
                .rposition(|(id, _)| {
                    workers
                        .get(id)
                        .is_some_and(|w| w.worker.serial == options.serial)
                })
                .map(|at| idle.remove(at).0)
        };
        let id = match reused {
            Some(id) => id,
            None => match self.start(runtime, setup, options.serial) {
                Ok(id) => id,
                Err(e) => return Task::failed(e),
            },
        };
        let spawner = self.clone();
        let run = move |py: Python<'_>| {
            let result = f(py);
            spawner.release(id);
            result
        };
        let state = lock(&self.inner.state);
        let Some(go) = state.workers.get(&id) else {
            return Task::failed(Error::ShutDown);
        };
        let (mut envelope, task) = job(run, Arc::from([go.worker.thread]), "go interpreter");
        envelope.name = Some(options.name);
        envelope.label = options.label;
        let _ = go.jobs.send(envelope); // A dead worker drops it: the task fails as closed.
        task
    }

    /// Starts a new go interpreter and registers it (busy); returns its id.
    fn start(&self, runtime: &Runtime, setup: Option<String>, serial: bool) -> Result<i64> {
        let (jobs, receiver) = crossbeam_channel::unbounded();
        let config = InterpreterConfig::default().name(IDLE_NAME).serial(serial);
        let (worker, thread) = spawn_worker(runtime, &config, setup, receiver, None)?.ready()?;
        let id = worker.id;
        let mut state = lock(&self.inner.state);
        if state.closed {
            drop(state);
            drop(jobs); // Ends the interpreter.
            thread.join();
            return Err(Error::ShutDown);
        }
        state.workers.insert(
            id,
            GoWorker {
                jobs,
                worker,
                thread,
            },
        );
        Ok(id)
    }

    /// Marks interpreter `id` idle (its task ended).
    fn release(&self, id: i64) {
        let mut state = lock(&self.inner.state);
        if state.closed || !state.workers.contains_key(&id) {
            return;
        }
        state.idle.push((id, Instant::now()));
        if state.reaper.is_none() {
            let inner = Arc::clone(&self.inner);
            state.reaper =
                OsThread::spawn("subinterp-go-reaper".into(), None, move || reap(&inner)).ok();
        }
        drop(state);
        self.inner.changed.notify_all();
    }

    /// How long an idle go interpreter waits for the next `go`.
    pub(crate) fn idle_timeout(&self) -> Duration {
        self.inner.idle_timeout
    }

    /// Number of go interpreters alive, and how many of them are idle.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let state = lock(&self.inner.state);
        (state.workers.len(), state.idle.len())
    }

    /// Ends every go interpreter: running tasks are interrupted, queued ones fail. Call it
    /// detached; it joins the threads.
    pub(crate) fn terminate(&self) {
        let (workers, reaper) = {
            let mut state = lock(&self.inner.state);
            state.closed = true;
            state.idle.clear();
            (std::mem::take(&mut state.workers), state.reaper.take())
        };
        self.inner.changed.notify_all();
        for go in workers.values() {
            go.worker.interrupt(None);
        }
        for (_, go) in workers {
            drop(go.jobs);
            go.thread.join();
        }
        if let Some(reaper) = reaper {
            reaper.join();
        }
    }
}

/// The reaper thread: destroys interpreters idle for longer than the timeout.
fn reap(inner: &Inner) {
    let mut state = lock(&inner.state);
    loop {
        if state.closed {
            return;
        }
        let now = Instant::now();
        let expired = state
            .idle
            .iter()
            .take_while(|(_, since)| now.duration_since(*since) >= inner.idle_timeout)
            .count();
        if expired > 0 {
            let ids: Vec<i64> = state.idle.drain(..expired).map(|(id, _)| id).collect();
            let gone: Vec<GoWorker> = ids
                .iter()
                .filter_map(|id| state.workers.remove(id))
                .collect();
            drop(state);
            for go in gone {
                drop(go.jobs); // Ends its job loop: the interpreter is destroyed.
                go.thread.join();
            }
            state = lock(&inner.state);
            continue;
        }
        state = match state.idle.first() {
            // An idle timeout too long to have a deadline never expires.
            Some((_, since)) if let Some(expiry) = since.checked_add(inner.idle_timeout) => {
                inner
                    .changed
                    .wait_timeout(state, expiry.saturating_duration_since(now))
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0
            }
            _ => inner
                .changed
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        };
    }
}
