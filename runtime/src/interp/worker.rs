//! The thread behind every interpreter ([`Worker`]): it creates an own-GIL subinterpreter,
//! runs the jobs sent to it, and destroys the interpreter, all on itself.
//!
//! Between jobs the thread detaches, so that an interrupt (from any thread) can attach a
//! temporary thread state and raise `KeyboardInterrupt` in the running job. Destruction first
//! marks the worker dead under the same lock that interrupts take, so nothing can enter an
//! interpreter while it is being destroyed (gh-127041).
//!
//! A thread either starts with its [`Assignment`] (what to run, and for whom), or starts warm:
//! it creates its interpreter ahead of time and waits for an assignment from the runtime's
//! stock of ready interpreters ([`warm`](super::warm)).
//!
//! Every interpreter has a name, kept in full in its [`Worker`] and carried (its first 15
//! bytes) by its OS thread; a job may rename it while it runs (a `go` task). The runtime's
//! [`Registry`] lists the live ones with what they do. A serial interpreter (no Python
//! threads) also replaces the functions that start threads, fork or exec with ones raising a
//! `RuntimeError` that names serial mode ([`SERIAL_MODE`]), since CPython's own message
//! ("not supported for isolated subinterpreters") does not say why.

use std::ffi::{CStr, c_ulong};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};
use std::thread::ThreadId;
use std::time::Instant;

use cpython_sys as ffi;
use crossbeam_channel::Receiver;

use crate::error::{Error, Result};
use crate::interp::fork::OsThread;
use crate::interp::interpreter::{InterpreterConfig, InterpreterInfo, InterpreterState};
use crate::interp::job::Envelope;
use crate::interp::pool::terminate_pools_of;
use crate::interp::runtime::{Lease, Runtime};
use crate::python::token::Python;
use crate::sync::generation::{generation, orphaned};
use crate::sync::lock;
use crate::sync::parker::Parker;
use crate::sync::task::{Control, Runner};

/// Stack size of interpreter threads: like the main thread's, since Python code (recursion,
/// deep `repr`s) can use a lot of C stack.
const STACK_SIZE: usize = 8 << 20;

/// The name of an interpreter of the warm stock, until it is taken.
const WARM_NAME: &str = "warm";

/// Run in a new serial interpreter: the functions that start threads, fork or exec raise a
/// `RuntimeError` naming serial mode and the interpreter (CPython refuses them anyway, with
/// "thread is not supported for isolated subinterpreters", or the like for fork and exec).
/// `threading` binds `_thread.start_joinable_thread` when imported, and `os` takes `posix`'s
/// functions, so replacing them in `_thread` and `posix` first covers both.
const SERIAL_MODE: &str = r#"
def _subinterp_serial_mode():
    import sys, _thread, posix

    def refuse(what, why):
        def refused(*args, **kwargs):
            try:
                import csp
                here = (f"interpreter {csp.current_interpreter()} "
                        f"'{csp.current_interpreter_name()}'")
            except Exception:
                here = "this interpreter"
            raise RuntimeError(f"{what} is refused in {here}: it runs in serial mode "
                               f"(serial=True){why}")
        return refused

    thread = refuse("starting a thread", ", which allows no Python threads (nor libraries "
                    "that start them); run this code in an interpreter made without serial=True")
    for name in ("start_new_thread", "start_new", "start_joinable_thread"):
        if hasattr(_thread, name):
            setattr(_thread, name, thread)
    threading = sys.modules.get("threading")
    if threading is not None:
        threading._start_joinable_thread = thread
    os = sys.modules.get("os")
    for name in ("fork", "forkpty", "execv", "execve"):
        if hasattr(posix, name):
            f = refuse(f"os.{name}()", "; no subinterpreter can fork or exec (subprocess works)")
            setattr(posix, name, f)
            if os is not None:
                setattr(os, name, f)

_subinterp_serial_mode()
del _subinterp_serial_mode
"#;

/// The state an interpreter's thread shares with the handles that interrupt it.
#[derive(Debug)]
pub(crate) struct Worker {
    /// The interpreter's id.
    pub(crate) id: i64,
    /// The OS thread that runs it.
    pub(crate) thread: ThreadId,
    /// `PyInterpreterState*` as an address.
    interp: usize,
    /// `PyThread_get_thread_ident()` of the worker thread.
    thread_ident: c_ulong,
    /// Whether the interpreter may still be entered. Held by an interrupt for its whole visit,
    /// and by the thread (detached) while it marks the worker dead before destroying the
    /// interpreter; never taken while attached to this interpreter.
    alive: Mutex<bool>,
    /// The job running now. Only read or written while attached to this interpreter, which
    /// the GIL makes exclusive.
    current: Mutex<Option<Arc<Control>>>,
    /// The worker thread's parker, to end a blocking channel operation it is in.
    parker: Arc<Parker>,
    /// The fork generation the thread started in (see [`fork`](super::fork)): in a forked
    /// child the thread and its interpreter are gone.
    generation: u64,
    /// Whether the interpreter runs in serial mode.
    pub(crate) serial: bool,
    /// Its name and what it does now.
    status: Mutex<Status>,
    /// The runtime's list of live interpreters, which this one leaves as it is destroyed.
    registry: Arc<Registry>,
}

/// A worker's name and state.
#[derive(Debug)]
struct Status {
    /// The name now: `own`, or a job's own name while it runs.
    name: Arc<str>,
    /// The name between jobs.
    own: Arc<str>,
    /// The job running now (its label, if it has one).
    running: Option<Option<Arc<str>>>,
    since: Instant,
}

impl Worker {
    /// The interpreter's name now.
    pub(crate) fn name(&self) -> Arc<str> {
        Arc::clone(&lock(&self.status).name)
    }

    /// Gives the interpreter its own name (also its OS thread's), from any thread while the
    /// worker's thread runs.
    fn set_own_name(&self, name: &str) {
        let mut status = lock(&self.status);
        status.own = name.into();
        status.name = Arc::clone(&status.own);
        set_thread_name(self.thread_ident, name);
    }

    /// A job starts: it runs under `name` if it has one. On the worker's thread.
    fn begin_job(&self, name: Option<&Arc<str>>, label: Option<&Arc<str>>) {
        let mut status = lock(&self.status);
        status.running = Some(label.cloned());
        status.since = Instant::now();
        if let Some(name) = name
            && *name != status.name
        {
            status.name = Arc::clone(name);
            set_thread_name(self.thread_ident, name);
        }
    }

    /// The job ended: the interpreter takes its own name again. On the worker's thread.
    fn end_job(&self) {
        let mut status = lock(&self.status);
        status.running = None;
        status.since = Instant::now();
        if status.name != status.own {
            status.name = Arc::clone(&status.own);
            set_thread_name(self.thread_ident, &status.own);
        }
    }

    fn info(&self) -> InterpreterInfo {
        let status = lock(&self.status);
        InterpreterInfo {
            id: self.id,
            name: status.name.to_string(),
            serial: self.serial,
            state: match &status.running {
                None => InterpreterState::Idle,
                Some(task) => InterpreterState::Running {
                    task: task.as_deref().map(str::to_owned),
                },
            },
            since: status.since,
        }
    }

    /// Raises `KeyboardInterrupt` in the running job — any job (`target` None) or only that
    /// one. Returns whether it did.
    pub(crate) fn interrupt(&self, target: Option<&Arc<Control>>) -> bool {
        if orphaned(self.generation) {
            return false; // Its interpreter does not exist in this forked child.
        }
        // SAFETY: every attach below is paired with a detach; the temporary thread state is
        // created, attached, cleared and deleted here, while `alive` keeps the interpreter from
        // being destroyed; a caller attached to another interpreter is detached meanwhile.
        unsafe {
            let current = ffi::PyThreadState_GetUnchecked();
            let (interp, ident) = (
                self.interp as *mut ffi::PyInterpreterState,
                self.thread_ident,
            );
            if !current.is_null() && ffi::PyThreadState_GetInterpreter(current) == interp {
                // Already attached to this interpreter: we hold its GIL.
                return self.interrupt_attached(target, ident);
            }
            let saved = if current.is_null() {
                std::ptr::null_mut()
            } else {
                ffi::PyEval_SaveThread()
            };
            let hit = {
                let alive = lock(&self.alive);
                if *alive {
                    let tstate = ffi::PyThreadState_New(interp);
                    // Waits for the interpreter's GIL: the eval loop hands it over at the
                    // next switch interval.
                    ffi::PyEval_RestoreThread(tstate);
                    let hit = self.interrupt_attached(target, ident);
                    ffi::PyThreadState_Clear(tstate);
                    ffi::PyThreadState_DeleteCurrent();
                    hit
                } else {
                    false
                }
            };
            if !saved.is_null() {
                ffi::PyEval_RestoreThread(saved);
            }
            hit
        }
    }

    /// The attached part of [`interrupt`](Self::interrupt).
    ///
    /// # Safety
    /// Attached to this worker's interpreter.
    unsafe fn interrupt_attached(&self, target: Option<&Arc<Control>>, ident: c_ulong) -> bool {
        let current = lock(&self.current);
        let Some(running) = current.as_ref() else {
            return false;
        };
        if target.is_some_and(|t| !Arc::ptr_eq(t, running)) {
            return false;
        }
        running
            .interrupted
            .store(true, std::sync::atomic::Ordering::Release);
        // SAFETY: attached to the interpreter the worker thread runs; the exception type is a
        // static builtin shared by all interpreters.
        let hit =
            unsafe { ffi::PyThreadState_SetAsyncExc(ident, ffi::PyExc_KeyboardInterrupt) > 0 };
        // A job blocked in a channel operation runs no bytecode: wake it to raise the exception.
        self.parker.interrupt();
        hit
    }
}

impl Runner for Worker {
    fn interrupt_task(&self, task: &Arc<Control>) -> bool {
        self.interrupt(Some(task))
    }
}

/// The live interpreters of a runtime (warm ones included), by id. Holds no interpreter alive:
/// each one enters as it is created and leaves as it is destroyed. Its lock is taken before a
/// worker's status lock, and with no other lock held.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    workers: Mutex<Vec<Weak<Worker>>>,
}

impl Registry {
    fn add(&self, worker: &Arc<Worker>) {
        lock(&self.workers).push(Arc::downgrade(worker));
    }

    fn remove(&self, id: i64) {
        lock(&self.workers).retain(|w| w.upgrade().is_some_and(|w| w.id != id));
    }

    /// Every live interpreter, by id.
    pub(crate) fn list(&self) -> Vec<InterpreterInfo> {
        let mut infos: Vec<InterpreterInfo> = lock(&self.workers)
            .iter()
            .filter_map(Weak::upgrade)
            .map(|w| w.info())
            .collect();
        infos.sort_by_key(|info| info.id);
        infos
    }

    /// The name of live interpreter `id`.
    pub(crate) fn name_of(&self, id: i64) -> Option<Arc<str>> {
        lock(&self.workers)
            .iter()
            .filter_map(Weak::upgrade)
            .find(|w| w.id == id)
            .map(|w| w.name())
    }
}

/// A worker thread that is still creating its interpreter.
pub(crate) struct Starting {
    ready: mpsc::Receiver<Result<Arc<Worker>>>,
    thread: OsThread,
}

impl Starting {
    /// Waits until the interpreter exists (and `setup` ran).
    pub(crate) fn ready(self) -> Result<(Arc<Worker>, OsThread)> {
        let result = self.ready.recv().unwrap_or_else(|_| {
            Err(Error::Startup(
                "the interpreter thread died while starting".into(),
            ))
        });
        match result {
            Ok(worker) => Ok((worker, self.thread)),
            Err(e) => {
                self.thread.join();
                Err(e)
            }
        }
    }
}

/// Replacing a worker's interpreter with a fresh one after a number of jobs (a pool's
/// `max_tasks_per_worker`); `replaced` learns about each new interpreter.
pub(crate) struct Recycle {
    pub(crate) after: usize,
    pub(crate) replaced: Box<dyn Fn(Arc<Worker>) + Send>,
}

/// What a worker thread runs: its set-up code, the queue it takes jobs from, whether to
/// recycle its interpreter, whom to tell once it is ready, its name, the runtime's count of it
/// and its list of interpreters.
pub(crate) struct Assignment {
    setup: Option<String>,
    jobs: Receiver<Envelope>,
    recycle: Option<Recycle>,
    ready: mpsc::Sender<Result<Arc<Worker>>>,
    name: String,
    lease: Lease,
    registry: Arc<Registry>,
}

/// Starts an interpreter thread that runs `setup`, then the jobs it receives until every
/// sender is gone, and destroys its interpreter. With `recycle`, the interpreter is destroyed
/// and a new one created (and set up) every `after` jobs. A ready interpreter from the
/// runtime's warm stock is used when there is one (and the configuration allows).
pub(crate) fn spawn_worker(
    runtime: &Runtime,
    config: &InterpreterConfig,
    setup: Option<String>,
    jobs: Receiver<Envelope>,
    recycle: Option<Recycle>,
) -> Result<Starting> {
    let (ready_tx, ready) = mpsc::channel();
    let early = (setup.is_none() && !config.serial).then(|| ready_tx.clone());
    let name = config
        .name
        .clone()
        .unwrap_or_else(|| "interpreter".to_owned());
    let assignment = Assignment {
        setup,
        jobs,
        recycle,
        ready: ready_tx,
        name: name.clone(),
        lease: runtime.lease()?,
        registry: runtime.registry(),
    };
    let assignment = if config.serial {
        assignment
    } else {
        match runtime.warm().take(assignment) {
            Ok((thread, worker)) => {
                // Named before anyone sees it (its thread may not have taken the assignment
                // yet).
                worker.set_own_name(&name);
                // Nothing to set up: the interpreter is ready already (its thread's own
                // "ready" comes second and is ignored).
                if let Some(early) = early {
                    let _ = early.send(Ok(worker));
                }
                return Ok(Starting { ready, thread });
            }
            Err(assignment) => assignment,
        }
    };
    let serial = config.serial;
    let thread = spawn_thread(name.replace('\0', ""), move || {
        run_assignment(serial, None, assignment);
    })?;
    Ok(Starting { ready, thread })
}

/// Starts a warm interpreter thread: it creates a default interpreter now, hands its worker
/// to `created`, and waits for its assignment on `assign` (ending the interpreter if that
/// channel closes first).
pub(crate) fn spawn_warm(
    created: mpsc::Sender<Result<Arc<Worker>>>,
    assign: mpsc::Receiver<Assignment>,
    registry: Arc<Registry>,
) -> Result<OsThread> {
    spawn_thread(WARM_NAME.into(), move || {
        let (tstate, worker) = match new_interpreter(false, WARM_NAME, &registry) {
            Ok(started) => started,
            Err(e) => {
                let _ = created.send(Err(e));
                return;
            }
        };
        // SAFETY: attached (just created); detached while waiting, attached again after.
        let saved = unsafe { ffi::PyEval_SaveThread() };
        let _ = created.send(Ok(Arc::clone(&worker)));
        let assignment = assign.recv();
        // SAFETY: `saved` is this thread's thread state, detached above.
        unsafe { ffi::PyEval_RestoreThread(saved) };
        match assignment {
            Ok(assignment) => run_assignment(false, Some((tstate, worker)), assignment),
            // SAFETY: attached, with this thread's own interpreter.
            Err(_) => unsafe { end_interpreter(tstate, &worker) },
        }
    })
}

fn spawn_thread(name: String, body: impl FnOnce() + Send + 'static) -> Result<OsThread> {
    OsThread::spawn(name, Some(STACK_SIZE), body)
        .map_err(|e| Error::Startup(format!("cannot spawn an interpreter thread: {e}")))
}

/// Runs an assignment: sets up the interpreter (`first`, already created and attached, or a
/// new one), tells the owner it is ready, serves jobs, and goes on with fresh interpreters
/// while `recycle` asks.
fn run_assignment(
    serial: bool,
    first: Option<(*mut ffi::PyThreadState, Arc<Worker>)>,
    assignment: Assignment,
) {
    let Assignment {
        setup,
        jobs,
        recycle,
        ready,
        name,
        lease,
        registry,
    } = assignment;
    let mut first = first;
    let mut ready = Some(ready);
    loop {
        let started = match first.take() {
            Some(created) => set_up(created, setup.as_deref()),
            None => new_interpreter(serial, &name, &registry)
                .and_then(|created| set_up(created, setup.as_deref())),
        };
        let (tstate, worker) = match (started, ready.take()) {
            (Ok(started), Some(ready)) => {
                let _ = ready.send(Ok(Arc::clone(&started.1)));
                started
            }
            (Ok(started), None) => {
                if let Some(recycle) = &recycle {
                    (recycle.replaced)(Arc::clone(&started.1));
                }
                started
            }
            (Err(e), Some(ready)) => {
                let _ = ready.send(Err(e));
                break;
            }
            (Err(e), None) => {
                // The jobs stay queued for the pool's other workers.
                eprintln!("subinterp: a pool worker could not replace its interpreter: {e}");
                break;
            }
        };
        let limit = recycle.as_ref().map(|r| r.after);
        // SAFETY: attached; `serve` returns attached.
        let exhausted = unsafe { serve(tstate, &worker, &jobs, limit) };
        // SAFETY: attached, with this thread's own interpreter.
        unsafe { end_interpreter(tstate, &worker) };
        if !exhausted {
            break;
        }
    }
    drop(lease);
}

/// Names thread `thread` (a `pthread_t` of this process, not yet joined) as the OS shows it:
/// the first 15 bytes of `name` (what Linux allows, plus the NUL), cut at a character
/// boundary.
fn set_thread_name(thread: c_ulong, name: &str) {
    let mut short = Vec::with_capacity(16);
    for c in name.chars().filter(|&c| c != '\0') {
        if short.len() + c.len_utf8() > 15 {
            break;
        }
        short.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    }
    short.push(0);
    // SAFETY: the name is NUL-terminated and short enough; the thread is one of ours, alive.
    unsafe { libc::pthread_setname_np(thread as libc::pthread_t, short.as_ptr().cast()) };
}

/// Creates an interpreter named `name` on this thread (which takes the name) and its
/// [`Worker`], listed in `registry`; on success the thread is left attached to it.
fn new_interpreter(
    serial: bool,
    name: &str,
    registry: &Arc<Registry>,
) -> Result<(*mut ffi::PyThreadState, Arc<Worker>)> {
    // SAFETY: this thread has no thread state; on success the new interpreter's thread state
    // is attached to it and stays this thread's until `Py_EndInterpreter`.
    let tstate = unsafe { create_interpreter(serial)? };
    // SAFETY: reading the calling thread's own id.
    set_thread_name(unsafe { libc::pthread_self() } as c_ulong, name);
    // SAFETY: attached (just created), reading ids of the current interpreter and thread.
    let worker = unsafe {
        let interp = ffi::PyThreadState_GetInterpreter(tstate);
        Arc::new(Worker {
            id: ffi::PyInterpreterState_GetID(interp),
            thread: std::thread::current().id(),
            interp: interp as usize,
            thread_ident: libc::pthread_self() as c_ulong,
            alive: Mutex::new(true),
            current: Mutex::new(None),
            parker: Parker::current(),
            generation: generation(),
            serial,
            status: Mutex::new(Status {
                name: name.into(),
                own: name.into(),
                running: None,
                since: Instant::now(),
            }),
            registry: Arc::clone(registry),
        })
    };
    registry.add(&worker);
    if serial {
        // SAFETY: attached (just created).
        let py = unsafe { Python::assume_attached() };
        if let Err(e) = py.exec(SERIAL_MODE) {
            // SAFETY: attached, with this thread's own interpreter.
            unsafe { end_interpreter(tstate, &worker) };
            return Err(Error::Startup(format!(
                "cannot set up serial mode in a new interpreter: {e}"
            )));
        }
    }
    Ok((tstate, worker))
}

/// Runs `setup` in a new interpreter (attached); a failure destroys the interpreter again.
fn set_up(
    (tstate, worker): (*mut ffi::PyThreadState, Arc<Worker>),
    setup: Option<&str>,
) -> Result<(*mut ffi::PyThreadState, Arc<Worker>)> {
    let setup_result = setup.map_or(Ok(()), |code| {
        // SAFETY: attached, for the duration of the setup.
        unsafe { Python::assume_attached() }.exec(code)
    });
    match setup_result {
        Ok(()) => Ok((tstate, worker)),
        Err(e) => {
            // SAFETY: attached, with this thread's own interpreter.
            unsafe { end_interpreter(tstate, &worker) };
            Err(e)
        }
    }
}

/// Creates an own-GIL interpreter on the calling thread.
///
/// # Safety
/// The calling thread has no thread state.
unsafe fn create_interpreter(serial: bool) -> Result<*mut ffi::PyThreadState> {
    let config = ffi::PyInterpreterConfig {
        use_main_obmalloc: 0,
        allow_fork: 0,
        allow_exec: 0,
        allow_threads: (!serial).into(),
        allow_daemon_threads: 0,
        check_multi_interp_extensions: 1,
        gil: ffi::PyInterpreterConfig_OWN_GIL,
    };
    let mut tstate = std::ptr::null_mut();
    // SAFETY: forwarded; `config` is fully initialised.
    let status = unsafe { ffi::Py_NewInterpreterFromConfig(&mut tstate, &config) };
    // SAFETY: reading the status struct; its message is a static C string or NULL.
    unsafe {
        if ffi::PyStatus_Exception(status) != 0 || tstate.is_null() {
            let msg = if status.err_msg.is_null() {
                "unknown error".into()
            } else {
                CStr::from_ptr(status.err_msg).to_string_lossy()
            };
            return Err(Error::Startup(format!(
                "cannot create an interpreter: {msg}"
            )));
        }
    }
    Ok(tstate)
}

/// Runs jobs until the channel closes, or (with `limit`) until that many have run, which
/// returns `true`. Detached while waiting for one.
///
/// # Safety
/// Attached with `tstate`, this thread's thread state; returns attached.
unsafe fn serve(
    tstate: *mut ffi::PyThreadState,
    worker: &Arc<Worker>,
    jobs: &Receiver<Envelope>,
    limit: Option<usize>,
) -> bool {
    // SAFETY: forwarded; every detach is paired with an attach of the same thread state.
    unsafe {
        let ident = worker.thread_ident;
        let mut saved = ffi::PyEval_SaveThread();
        debug_assert_eq!(saved, tstate);
        let mut ran = 0;
        let mut exhausted = false;
        while let Ok(envelope) = jobs.recv() {
            if !envelope.control.start(worker.clone()) {
                continue; // Cancelled while queued (timed out).
            }
            worker.begin_job(envelope.name.as_ref(), envelope.label.as_ref());
            ffi::PyEval_RestoreThread(saved);
            *lock(&worker.current) = Some(Arc::clone(&envelope.control));
            (envelope.run)(Python::assume_attached(), worker);
            *lock(&worker.current) = None;
            // An interrupt that arrived after the job's last bytecode must not hit the next.
            ffi::PyThreadState_SetAsyncExc(ident, std::ptr::null_mut());
            ffi::PyErr_Clear();
            saved = ffi::PyEval_SaveThread();
            worker.end_job();
            ran += 1;
            if limit.is_some_and(|limit| ran >= limit) {
                exhausted = true;
                break;
            }
        }
        ffi::PyEval_RestoreThread(saved);
        exhausted
    }
}

/// Destroys the interpreter: no interrupt can enter after this starts; Python threads are
/// joined and pools the interpreter created are closed before `Py_EndInterpreter`.
///
/// # Safety
/// Attached with `tstate`, this thread's own interpreter's thread state.
unsafe fn end_interpreter(tstate: *mut ffi::PyThreadState, worker: &Worker) {
    // SAFETY: forwarded; `alive` is taken detached (an interrupt holding it may be waiting
    // for our GIL); afterwards no other thread state of this interpreter can appear.
    unsafe {
        let saved = ffi::PyEval_SaveThread();
        *lock(&worker.alive) = false;
        ffi::PyEval_RestoreThread(saved);
        let py = Python::assume_attached();
        join_python_threads(py);
        forget_dummy_thread(py);
        let id = worker.id;
        py.allow_threads(move || terminate_pools_of(id));
        ffi::Py_EndInterpreter(tstate);
        worker.registry.remove(id);
    }
}

/// Drops the `threading._DummyThread` that `threading.current_thread()` made for this thread
/// (Python did not start it) while `threading` is intact. Its record lives in a thread-local
/// of `threading`; left alone, it would go with the thread state in `Py_EndInterpreter`, after
/// the module's globals were cleared, and its `__del__` would print a traceback.
fn forget_dummy_thread(py: Python<'_>) {
    if let Ok(Some(threading)) = py.imported("threading")
        && let Ok(local) = threading.getattr("_thread_local_info")
    {
        // SAFETY: attached; `local` is live; setting an attribute to NULL deletes it (an
        // AttributeError when this thread made no dummy record, cleared below).
        unsafe {
            ffi::PyObject_SetAttrString(
                local.as_ptr(),
                c"_track_dummy_thread_ref".as_ptr(),
                std::ptr::null_mut(),
            );
        }
    }
    // SAFETY: attached.
    unsafe { ffi::PyErr_Clear() };
}

/// `threading._shutdown()` if `threading` was imported: waits for non-daemon threads, as
/// interpreter shutdown would, but before the pools they may use are closed.
pub(crate) fn join_python_threads(py: Python<'_>) {
    if let Ok(Some(threading)) = py.imported("threading")
        && let Err(e) = threading.getattr("_shutdown").and_then(|f| f.call(&[]))
    {
        eprintln!("subinterp: waiting for Python threads failed: {e}");
    }
    // SAFETY: attached.
    unsafe { ffi::PyErr_Clear() };
}
