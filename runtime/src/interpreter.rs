//! [`Interpreter`]: one own-GIL subinterpreter on its own OS thread (an actor), and the
//! [`Worker`] thread body that [`Pool`](crate::Pool) shares.
//!
//! An interpreter is created, used and destroyed on one dedicated thread. Handles send it
//! jobs over a channel; between jobs the thread detaches, so that an interrupt (from any
//! thread) can attach a temporary thread state and raise `KeyboardInterrupt` in the running
//! job. Destruction first marks the worker dead under the same lock that interrupts take, so
//! nothing can enter an interpreter while it is being destroyed (gh-127041).

use std::ffi::{CStr, c_ulong};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, ThreadId};

use cpython_sys as ffi;
use crossbeam_channel::{Receiver, Sender};

use crate::error::{Error, Result};
use crate::marker::Python;
use crate::parker::Parker;
use crate::runtime::Runtime;
use crate::task::{self, Control, Envelope, Task, lock};
use crate::value::Value;

/// Stack size of interpreter threads: like the main thread's, since Python code (recursion,
/// deep `repr`s) can use a lot of C stack.
const STACK_SIZE: usize = 8 << 20;

/// How to create an interpreter. Build it from [`InterpreterConfig::default`] and the setters.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct InterpreterConfig {
    /// Serial mode: Python threads, `os.fork()` and `os.exec*()` are refused inside the
    /// interpreter (its own GIL and memory allocator are always on).
    pub serial: bool,
    /// Name of the OS thread (default `subinterp-<n>`).
    pub thread_name: Option<String>,
}

impl InterpreterConfig {
    /// Sets serial mode.
    pub fn serial(mut self, serial: bool) -> Self {
        self.serial = serial;
        self
    }

    /// Sets the OS thread's name.
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = Some(name.into());
        self
    }
}

/// An own-GIL subinterpreter running on its own OS thread.
///
/// Operations are queued and run one at a time, in order. Each exists blocking (`exec`,
/// `eval`, `call`, `with_python`) and as `submit_*`, returning a [`Task`] to wait on later,
/// with or without a timeout. Dropping the handle runs the queued jobs, then destroys the
/// interpreter on its thread and joins it; [`interrupt`](Self::interrupt) a runaway job first,
/// or drop waits for it.
///
/// Code runs in the interpreter's `__main__` module, so names persist between calls.
pub struct Interpreter {
    // Field order matters for `Drop`: the sender goes first, which ends the thread's job loop;
    // the thread is joined last, after the interpreter has been destroyed on it.
    jobs: Sender<Envelope>,
    worker: Arc<Worker>,
    _thread: JoinOnDrop,
}

impl std::fmt::Debug for Interpreter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interpreter")
            .field("id", &self.worker.id)
            .finish_non_exhaustive()
    }
}

impl Interpreter {
    /// Creates an interpreter with the default configuration.
    pub fn new(runtime: &Runtime) -> Result<Interpreter> {
        Interpreter::with_config(runtime, InterpreterConfig::default())
    }

    /// Creates an interpreter; waits until it is ready.
    pub fn with_config(runtime: &Runtime, config: InterpreterConfig) -> Result<Interpreter> {
        let (jobs, receiver) = crossbeam_channel::unbounded();
        let (worker, thread) = spawn_worker(runtime, &config, None, receiver, None)?.ready()?;
        Ok(Interpreter {
            jobs,
            worker,
            _thread: JoinOnDrop(Some(thread)),
        })
    }

    /// The interpreter's id (as `csp.current_interpreter()` reports it inside).
    pub fn id(&self) -> i64 {
        self.worker.id
    }

    /// Runs statements in `__main__`.
    pub fn exec(&self, code: &str) -> Result<()> {
        self.submit_exec(code).wait()
    }

    /// Evaluates an expression in `__main__` and returns its value.
    pub fn eval(&self, expr: &str) -> Result<Value> {
        self.submit_eval(expr).wait()
    }

    /// Calls `target` — `"module:function"` or `"module:Class.method"` — with `args` and returns
    /// the result.
    pub fn call(&self, target: &str, args: Vec<Value>) -> Result<Value> {
        self.submit_call(target, args).wait()
    }

    /// Runs `f` attached to the interpreter and returns its result.
    pub fn with_python<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(Python<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.submit(f).wait()
    }

    /// Queues [`exec`](Self::exec).
    pub fn submit_exec(&self, code: &str) -> Task<()> {
        let code = code.to_owned();
        self.submit(move |py| py.exec(&code))
    }

    /// Queues [`eval`](Self::eval).
    pub fn submit_eval(&self, expr: &str) -> Task<Value> {
        let expr = expr.to_owned();
        self.submit(move |py| py.eval(&expr)?.to_value())
    }

    /// Queues [`call`](Self::call).
    pub fn submit_call(&self, target: &str, args: Vec<Value>) -> Task<Value> {
        match Target::parse(target) {
            Ok(target) => self.submit(move |py| target.call(py, &args)),
            Err(e) => Task::failed(e),
        }
    }

    /// Queues `f` to run attached to the interpreter.
    pub fn submit<R, F>(&self, f: F) -> Task<R>
    where
        F: FnOnce(Python<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let (envelope, task) = task::job(f, Arc::from([self.worker.thread]), "interpreter");
        // A send only fails if the thread died, in which case the dropped envelope has
        // already failed the task with `Error::Closed`.
        let _ = self.jobs.send(envelope);
        task
    }

    /// Interrupts the job running now, if any, by raising `KeyboardInterrupt` in it (see
    /// [`Task::interrupt`]). Returns whether an interrupt was delivered.
    pub fn interrupt(&self) -> bool {
        self.worker.interrupt(None)
    }
}

/// Joins a thread when dropped — unless that thread is the current one (an interpreter
/// dropped by its own job), which would wait forever.
struct JoinOnDrop(Option<JoinHandle<()>>);

impl Drop for JoinOnDrop {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

/// `"module:qualname"`: a function (or any callable) found by importing a module and walking
/// attributes, which is how functions cross between interpreters.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) module: String,
    pub(crate) qualname: String,
    /// For functions of a script's `__main__`: the script, imported as `__mp_main__` (as
    /// multiprocessing's spawn does) to look the function up in; `module` is then ignored.
    pub(crate) main_path: Option<String>,
}

impl Target {
    pub(crate) fn parse(target: &str) -> Result<Target> {
        match target.split_once(':') {
            Some((module, qualname))
                if !module.is_empty()
                    && !qualname.is_empty()
                    && qualname.split('.').all(|part| !part.is_empty()) =>
            {
                Ok(Target {
                    module: module.to_owned(),
                    qualname: qualname.to_owned(),
                    main_path: None,
                })
            }
            _ => Err(Error::InvalidTarget(format!(
                "invalid target {target:?}: expected \"module:function\", e.g. \"math:factorial\" \
                 or \"pkg.mod:Class.method\""
            ))),
        }
    }

    /// Imports and returns the callable.
    pub(crate) fn resolve<'py>(&self, py: Python<'py>) -> Result<crate::Object<'py>> {
        let mut obj = match &self.main_path {
            Some(path) => py
                .import("csp")?
                .getattr("_main_module")?
                .call_values(&[Value::from(path.as_str())])?,
            None => py.import(&self.module)?,
        };
        for part in self.qualname.split('.') {
            obj = obj.getattr(part)?;
        }
        Ok(obj)
    }

    /// Calls the target with `args`, converting the result to a [`Value`].
    pub(crate) fn call(&self, py: Python<'_>, args: &[Value]) -> Result<Value> {
        self.call_kw(py, args, &[])
    }

    /// Calls the target with `args` and keyword arguments, converting the result to a
    /// [`Value`].
    pub(crate) fn call_kw(
        &self,
        py: Python<'_>,
        args: &[Value],
        kwargs: &[(String, Value)],
    ) -> Result<Value> {
        self.resolve(py)?.call_kw(args, kwargs)?.to_value()
    }
}

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
}

impl Worker {
    /// Raises `KeyboardInterrupt` in the running job — any job (`target` None) or only that
    /// one. Returns whether it did.
    pub(crate) fn interrupt(&self, target: Option<&Arc<Control>>) -> bool {
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

/// A worker thread that is still creating its interpreter.
pub(crate) struct Starting {
    ready: mpsc::Receiver<Result<Arc<Worker>>>,
    thread: JoinHandle<()>,
}

impl Starting {
    /// Waits until the interpreter exists (and `setup` ran).
    pub(crate) fn ready(self) -> Result<(Arc<Worker>, JoinHandle<()>)> {
        let result = self.ready.recv().unwrap_or_else(|_| {
            Err(Error::Startup(
                "the interpreter thread died while starting".into(),
            ))
        });
        match result {
            Ok(worker) => Ok((worker, self.thread)),
            Err(e) => {
                let _ = self.thread.join();
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

/// Starts a thread that creates an interpreter, runs `setup` in it, then runs the jobs it
/// receives until every sender is gone, and destroys the interpreter. With `recycle`, the
/// interpreter is destroyed and a new one created (and set up) every `after` jobs.
pub(crate) fn spawn_worker(
    runtime: &Runtime,
    config: &InterpreterConfig,
    setup: Option<String>,
    jobs: Receiver<Envelope>,
    recycle: Option<Recycle>,
) -> Result<Starting> {
    let lease = runtime.lease()?;
    let (ready_tx, ready) = mpsc::channel();
    let serial = config.serial;
    let name = config
        .thread_name
        .clone()
        .unwrap_or_else(|| "subinterp".to_owned());
    let thread = std::thread::Builder::new()
        .name(name)
        .stack_size(STACK_SIZE)
        .spawn(move || {
            worker_main(serial, setup.as_deref(), &jobs, recycle, ready_tx);
            drop(lease);
        })
        .map_err(|e| Error::Startup(format!("cannot spawn an interpreter thread: {e}")))?;
    Ok(Starting { ready, thread })
}

/// The body of an interpreter thread: one interpreter after another while `recycle` asks.
fn worker_main(
    serial: bool,
    setup: Option<&str>,
    jobs: &Receiver<Envelope>,
    recycle: Option<Recycle>,
    ready: mpsc::Sender<Result<Arc<Worker>>>,
) {
    let mut ready = Some(ready);
    loop {
        let started = start_interpreter(serial, setup);
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
                return;
            }
            (Err(e), None) => {
                // The jobs stay queued for the pool's other workers.
                eprintln!("subinterp: a pool worker could not replace its interpreter: {e}");
                return;
            }
        };
        let limit = recycle.as_ref().map(|r| r.after);
        // SAFETY: attached; `serve` returns attached.
        let exhausted = unsafe { serve(tstate, &worker, jobs, limit) };
        // SAFETY: attached, with this thread's own interpreter.
        unsafe { end_interpreter(tstate, &worker) };
        if !exhausted {
            return;
        }
    }
}

/// Creates an interpreter on this thread and runs `setup` in it; on success the thread is
/// left attached to it. A failed setup destroys the interpreter again.
fn start_interpreter(
    serial: bool,
    setup: Option<&str>,
) -> Result<(*mut ffi::PyThreadState, Arc<Worker>)> {
    // SAFETY: this thread has no thread state; on success the new interpreter's thread state
    // is attached to it and stays this thread's until `Py_EndInterpreter`.
    let tstate = unsafe { create_interpreter(serial)? };
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
        })
    };
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
            if !envelope.control.start(worker) {
                continue; // Cancelled while queued (timed out).
            }
            ffi::PyEval_RestoreThread(saved);
            *lock(&worker.current) = Some(Arc::clone(&envelope.control));
            (envelope.run)(Python::assume_attached());
            *lock(&worker.current) = None;
            // An interrupt that arrived after the job's last bytecode must not hit the next.
            ffi::PyThreadState_SetAsyncExc(ident, std::ptr::null_mut());
            ffi::PyErr_Clear();
            saved = ffi::PyEval_SaveThread();
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
        let id = worker.id;
        py.allow_threads(move || crate::module::terminate_pools_of(id));
        ffi::Py_EndInterpreter(tstate);
    }
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
