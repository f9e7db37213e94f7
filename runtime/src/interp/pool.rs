//! [`Pool`]: N pre-started interpreters taking tasks from one queue; and the pools that
//! interpreters own ([`own`]), terminated when their owner ends.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::ThreadId;

use crossbeam_channel::{Receiver, Sender};

use crate::error::{Error, Result};
use crate::interp::fork::OsThread;
use crate::interp::interpreter::{InterpreterConfig, Target};
use crate::interp::job::{Envelope, job};
use crate::interp::runtime::Runtime;
use crate::interp::worker::{Recycle, Worker, spawn_worker};
use crate::python::token::Python;
use crate::sync::generation::{generation, orphaned};
use crate::sync::lock;
use crate::sync::task::Task;
use crate::value::Value;

/// How to build a [`Pool`]. Build it from [`PoolConfig::default`] and the setters.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Number of interpreters (default: the number of cores).
    pub workers: Option<usize>,
    /// Code each interpreter runs once when it starts (e.g. imports); a failure fails
    /// [`Pool::with_config`].
    pub setup: Option<String>,
    /// Configuration of every interpreter (its name is replaced by the numbered one of
    /// [`name_prefix`](Self::name_prefix)).
    pub interpreter: InterpreterConfig,
    /// Worker `n` (from 0) is named `<name_prefix><n>`; default `pool-`, so `pool-0`,
    /// `pool-1`, ... (see [`InterpreterConfig::name`]).
    pub name_prefix: Option<String>,
    /// Replace a worker's interpreter with a fresh one (set up again) after this many tasks
    /// (default: never), like `ProcessPoolExecutor`'s `max_tasks_per_child`.
    pub max_tasks_per_worker: Option<usize>,
}

impl PoolConfig {
    /// Sets the number of interpreters.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// Sets the per-interpreter set-up code.
    pub fn setup(mut self, setup: impl Into<Option<String>>) -> Self {
        self.setup = setup.into();
        self
    }

    /// Sets how many tasks a worker's interpreter runs before it is replaced.
    pub fn max_tasks_per_worker(mut self, tasks: impl Into<Option<usize>>) -> Self {
        self.max_tasks_per_worker = tasks.into().filter(|&n| n > 0);
        self
    }

    /// Sets the configuration of every interpreter.
    pub fn interpreter(mut self, config: InterpreterConfig) -> Self {
        self.interpreter = config;
        self
    }

    /// Sets the prefix of the workers' names.
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = Some(prefix.into());
        self
    }
}

/// The number of cores available to this process (at least 1).
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A fixed set of pre-started own-GIL interpreters, each on its own thread, sharing one task
/// queue: tasks run in parallel, one per interpreter at a time.
///
/// A task's failure (exception, panic, timeout) fails only its [`Task`]; the worker goes on.
/// [`close`](Self::close) (or dropping the pool) stops accepting tasks, lets the queued ones
/// finish, and destroys the interpreters.
///
/// Waiting, from a pool worker, for tasks of the same pool can deadlock once every worker is
/// waiting; use a separate pool for nested work.
pub struct Pool {
    jobs: Mutex<Option<Sender<Envelope>>>,
    /// The queue's receiving end, kept to drain it in [`terminate`](Self::terminate).
    queue: Receiver<Envelope>,
    /// The workers' current interpreters (replaced as they are recycled).
    workers: Arc<Mutex<Vec<Arc<Worker>>>>,
    threads: Mutex<Vec<OsThread>>,
    runners: Arc<[ThreadId]>,
    /// The fork generation the workers started in (see [`fork`](super::fork)).
    generation: u64,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.workers())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool of `workers` interpreters (0 means the number of cores).
    pub fn new(runtime: &Runtime, workers: usize) -> Result<Pool> {
        let mut config = PoolConfig::default();
        if workers > 0 {
            config = config.workers(workers);
        }
        Pool::with_config(runtime, config)
    }

    /// A pool built from `config`; returns once every interpreter is ready (set up in
    /// parallel).
    pub fn with_config(runtime: &Runtime, config: PoolConfig) -> Result<Pool> {
        let count = config.workers.unwrap_or_else(default_workers).max(1);
        let (jobs, receiver) = crossbeam_channel::unbounded();
        let mut starting = Vec::with_capacity(count);
        let mut failure = None;
        let current: Arc<Mutex<Vec<Arc<Worker>>>> = Arc::default();
        let prefix = config.name_prefix.as_deref().unwrap_or("pool-");
        for i in 0..count {
            let interp = config.interpreter.clone().name(format!("{prefix}{i}"));
            let recycle = config.max_tasks_per_worker.map(|after| {
                let current = Arc::clone(&current);
                Recycle {
                    after,
                    replaced: Box::new(move |worker: Arc<Worker>| {
                        let mut workers = lock(&current);
                        if let Some(slot) = workers.iter_mut().find(|w| w.thread == worker.thread) {
                            *slot = worker;
                        }
                    }),
                }
            });
            let setup = config.setup.clone();
            match spawn_worker(runtime, &interp, setup, receiver.clone(), recycle) {
                Ok(s) => starting.push(s),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let mut workers = Vec::with_capacity(count);
        let mut threads = Vec::with_capacity(count);
        for s in starting {
            match s.ready() {
                Ok((worker, thread)) => {
                    workers.push(worker);
                    threads.push(thread);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        let runners = workers.iter().map(|w| w.thread).collect();
        *lock(&current) = workers;
        let pool = Pool {
            jobs: Mutex::new(Some(jobs)),
            queue: receiver,
            workers: current,
            threads: Mutex::new(threads),
            runners,
            generation: generation(),
        };
        match failure {
            None => Ok(pool),
            Some(e) => Err(e), // Dropping `pool` ends the workers that did start.
        }
    }

    /// Number of interpreters.
    pub fn workers(&self) -> usize {
        lock(&self.workers).len()
    }

    /// The ids of the pool's interpreters.
    pub fn interpreter_ids(&self) -> Vec<i64> {
        lock(&self.workers).iter().map(|w| w.id).collect()
    }

    /// Queues a call of `target` (`"module:function"`) with `args` on the next free
    /// interpreter.
    pub fn submit(&self, target: &str, args: Vec<Value>) -> Task<Value> {
        match Target::parse(target) {
            Ok(target) => self.submit_target(target, args),
            Err(e) => Task::failed(e),
        }
    }

    /// Queues a call of a parsed target.
    pub(crate) fn submit_target(&self, target: Target, args: Vec<Value>) -> Task<Value> {
        self.submit_labelled(Some(target.label()), move |py| target.call(py, &args))
    }

    /// Queues `f` to run attached to the next free interpreter.
    pub fn submit_with<R, F>(&self, f: F) -> Task<R>
    where
        F: FnOnce(Python<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.submit_labelled(None, f)
    }

    /// [`submit_with`](Self::submit_with), with what the interpreter listing shows it running.
    pub(crate) fn submit_labelled<R, F>(&self, label: Option<Arc<str>>, f: F) -> Task<R>
    where
        F: FnOnce(Python<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        if orphaned(self.generation) {
            return Task::failed(Error::Forked("pool"));
        }
        let (mut envelope, task) = job(f, Arc::clone(&self.runners), "pool");
        envelope.label = label;
        if let Some(jobs) = &*lock(&self.jobs) {
            let _ = jobs.send(envelope);
        } // Else the dropped envelope fails the task with `Error::Closed`.
        task
    }

    /// Calls `target` once per argument list, in parallel, and returns the results in the
    /// order of `args`; the first failure (in that order) is returned instead.
    pub fn map<I>(&self, target: &str, args: I) -> Result<Vec<Value>>
    where
        I: IntoIterator<Item = Vec<Value>>,
    {
        let target = Target::parse(target)?;
        let tasks: Vec<_> = args
            .into_iter()
            .map(|args| self.submit_target(target.clone(), args))
            .collect();
        tasks.into_iter().map(Task::wait).collect()
    }

    /// Stops accepting tasks (they fail with [`Error::Closed`]), waits for the queued ones,
    /// and destroys the interpreters. Idempotent.
    pub fn close(&self) {
        drop(lock(&self.jobs).take());
        let threads = std::mem::take(&mut *lock(&self.threads));
        let me = std::thread::current().id();
        for thread in threads {
            // A worker closing its own pool cannot wait for itself; it ends after its job.
            if thread.id() != me {
                thread.join();
            }
        }
    }

    /// Stops the pool now: queued tasks fail with [`Error::Closed`],
    /// running ones are interrupted, then the interpreters are destroyed. Used for pools whose
    /// owner is going away (the interpreter that created them from Python, or the runtime).
    pub fn terminate(&self) {
        drop(lock(&self.jobs).take());
        while let Ok(envelope) = self.queue.try_recv() {
            drop(envelope); // Fails its task with `Error::Closed`.
        }
        let workers = lock(&self.workers).clone();
        for worker in workers {
            worker.interrupt(None);
        }
        self.close();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        lock(&self.jobs).is_none()
    }

    /// Whether the current thread is one of this pool's workers.
    pub(crate) fn is_worker_thread(&self) -> bool {
        self.runners.contains(&std::thread::current().id())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.close();
    }
}

/// Pools created from Python (`csp.Pool`), by the interpreter that created them, so they can
/// be terminated before that interpreter is destroyed. Rust handles only, no Python objects.
static POOLS: Mutex<Vec<(i64, Weak<Pool>)>> = Mutex::new(Vec::new());

/// The locked registry of pools owned by interpreters.
pub(crate) type PoolsGuard = MutexGuard<'static, Vec<(i64, Weak<Pool>)>>;

/// Records that interpreter `owner` created `pool` (from Python): unless closed first, it is
/// terminated when that interpreter ends ([`terminate_pools_of`]).
pub(crate) fn own(owner: i64, pool: &Arc<Pool>) {
    lock(&POOLS).push((owner, Arc::downgrade(pool)));
}

/// Locks the registry of pools owned by interpreters (held across `fork()`, see
/// [`fork`](super::fork)).
pub(crate) fn lock_pools() -> PoolsGuard {
    lock(&POOLS)
}

/// Terminates every pool created from Python and not closed, whichever interpreter owns it
/// (the runtime is shutting down). Call it detached: it joins the pools' threads.
pub(crate) fn terminate_all_pools() {
    let pools: Vec<Arc<Pool>> = std::mem::take(&mut *lock(&POOLS))
        .into_iter()
        .filter_map(|(_, pool)| pool.upgrade())
        .collect();
    for pool in pools {
        pool.terminate();
    }
}

/// Terminates the pools that interpreter `owner` created from Python and did not close
/// (`csp.Pool`): their tasks' results could no longer be used (and a Ctrl-C exit must not wait
/// for them). Call it detached: it joins the pools' threads.
pub(crate) fn terminate_pools_of(owner: i64) {
    let pools: Vec<Arc<Pool>> = {
        let mut registry = lock(&POOLS);
        let mut mine = Vec::new();
        registry.retain(|(id, pool)| {
            if *id == owner {
                mine.extend(pool.upgrade());
                false
            } else {
                pool.strong_count() > 0
            }
        });
        mine
    };
    for pool in pools {
        pool.terminate();
    }
}
