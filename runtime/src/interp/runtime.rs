//! [`Runtime`]: CPython, initialised once per process, and the main interpreter.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use cpython_sys as ffi;

use crate::error::{Error, Result};
use crate::interp::fork;
use crate::interp::go::{GoOptions, Spawner};
use crate::interp::interpreter::{InterpreterInfo, Target};
use crate::interp::pool::{
    Pool, PoolConfig, PoolsGuard, default_workers, lock_pools, terminate_all_pools,
};
use crate::interp::warm::Warm;
use crate::interp::worker::{Registry, join_python_threads};
use crate::python::blocking::set_signal_thread;
use crate::python::object::Object;
use crate::python::token::Python;
use crate::sync::generation::{generation, orphaned};
use crate::sync::lock;
use crate::sync::task::Task;
use crate::value::Value;

/// The CPython prefix this crate was built against: the default Python home.
pub const DEFAULT_PYTHON_HOME: &str = env!("SUBINTERP_PYTHON_HOME");

/// The version of that CPython, e.g. `3.13.5`.
pub const PYTHON_VERSION: &str = env!("SUBINTERP_PYTHON_VERSION");

/// Where the process is in CPython's one life.
enum Phase {
    Uninitialized,
    Running(Runtime),
    ShutDown,
}

static PHASE: Mutex<Phase> = Mutex::new(Phase::Uninitialized);

/// How to start CPython. Build it from [`RuntimeConfig::default`] and the setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RuntimeConfig {
    /// The Python home (prefix holding `lib/python3.13`); default: the running program's own
    /// directory when `lib/python3.13` is beside it (a relocatable bundle made by `cargo xtask
    /// bundle`), else [`DEFAULT_PYTHON_HOME`].
    pub home: PathBuf,
    /// Ignore `PYTHON*` environment variables and the user site directory, as `python -I`
    /// does (default `true`: an embedded runtime should not depend on the environment).
    pub isolated: bool,
    /// Install Python's signal handlers, so that Ctrl-C raises `KeyboardInterrupt` in the
    /// main interpreter (default `false`: a library should leave signals to its program).
    pub install_signal_handlers: bool,
    /// `sys.argv` (default: `[""]`).
    pub argv: Vec<String>,
    /// How long an interpreter started by `go` waits idle for the next `go` before it is
    /// destroyed (default 2 s).
    pub go_idle_timeout: Duration,
    /// How many interpreters to keep created ahead of time, so that starting one (an
    /// [`Interpreter`](crate::Interpreter), a pool's worker, a `go` task) takes a ready one
    /// (default: the number of cores; 0 disables). The stock fills in the background after the
    /// first interpreter is asked for.
    pub warm_interpreters: usize,
    /// `sys.executable`, the program `subprocess` and `multiprocessing` (spawn) start as Python
    /// (default: the home's `bin/python3`). A venv's `bin/python` makes the runtime that venv's
    /// Python, as running it would: `sys.prefix` is the venv and its `site-packages` is on
    /// `sys.path` (CPython reads the `pyvenv.cfg` beside it).
    pub executable: Option<PathBuf>,
    /// The directory that interpreters CPython itself creates (the stdlib's
    /// `_interpreters.create()`, the PEP 734 backport) put first on their `sys.path`: CPython's
    /// `PyConfig.sys_path_0`, which `python SCRIPT` sets to the script's directory and every
    /// new interpreter inherits (default: none). The runtime's own interpreters start with
    /// the main interpreter's `sys.path` whatever this is.
    pub sys_path_0: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            home: default_home(),
            isolated: true,
            install_signal_handlers: false,
            argv: Vec::new(),
            go_idle_timeout: Duration::from_secs(2),
            warm_interpreters: default_workers(),
            executable: None,
            sys_path_0: None,
        }
    }
}

/// See [`RuntimeConfig::home`].
fn default_home() -> PathBuf {
    let minor: Vec<&str> = PYTHON_VERSION.split('.').take(2).collect();
    let stdlib = Path::new("lib")
        .join(format!("python{}", minor.join(".")))
        .join("os.py");
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .filter(|dir| dir.join(&stdlib).is_file())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PYTHON_HOME))
}

impl RuntimeConfig {
    /// Sets the Python home.
    pub fn home(mut self, home: impl Into<PathBuf>) -> Self {
        self.home = home.into();
        self
    }

    /// Sets whether the environment is ignored.
    pub fn isolated(mut self, isolated: bool) -> Self {
        self.isolated = isolated;
        self
    }

    /// Sets whether Python installs its signal handlers.
    pub fn install_signal_handlers(mut self, install: bool) -> Self {
        self.install_signal_handlers = install;
        self
    }

    /// Sets how long idle `go` interpreters are kept.
    pub fn go_idle_timeout(mut self, timeout: Duration) -> Self {
        self.go_idle_timeout = timeout;
        self
    }

    /// Sets how many interpreters to keep ready.
    pub fn warm_interpreters(mut self, count: usize) -> Self {
        self.warm_interpreters = count;
        self
    }

    /// Sets `sys.executable` (see [`executable`](Self::executable)).
    pub fn executable(mut self, executable: impl Into<PathBuf>) -> Self {
        self.executable = Some(executable.into());
        self
    }

    /// Sets the directory new interpreters put first on `sys.path` (see
    /// [`sys_path_0`](Self::sys_path_0)).
    pub fn sys_path_0(mut self, dir: impl Into<PathBuf>) -> Self {
        self.sys_path_0 = Some(dir.into());
        self
    }

    /// Sets `sys.argv`.
    pub fn argv(mut self, argv: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.argv = argv.into_iter().map(Into::into).collect();
        self
    }
}

/// The process's CPython: initialised once by [`Runtime::init`], shut down once by
/// [`Runtime::shutdown`]. A cheap, `Clone`, `Send + Sync` handle.
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("main_thread", &self.shared.main_thread)
            .finish_non_exhaustive()
    }
}

struct Shared {
    /// The thread that initialised CPython: the only one that may use the main interpreter.
    main_thread: ThreadId,
    /// The main thread's (detached) thread state, as an address.
    main_tstate: usize,
    /// Interpreters alive, and whether new ones are refused.
    lifecycle: Mutex<Lifecycle>,
    lifecycle_changed: Condvar,
    /// The pool behind `csp.map`, created on first use.
    default_pool: Mutex<Option<Arc<Pool>>>,
    /// The interpreters behind `go`.
    go: Spawner,
    /// Interpreters created ahead of time.
    warm: Warm,
    /// The live interpreters.
    registry: Arc<Registry>,
    /// The fork generation this runtime belongs to (see [`fork`]).
    generation: u64,
}

struct Lifecycle {
    live: usize,
    closed: bool,
}

/// Counts one live interpreter; dropped when it has been destroyed.
#[derive(Debug)]
pub(crate) struct Lease {
    runtime: Runtime,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let shared = &self.runtime.shared;
        lock(&shared.lifecycle).live -= 1;
        shared.lifecycle_changed.notify_all();
    }
}

impl Runtime {
    /// Initialises CPython from `config` on the calling thread, which becomes CPython's main
    /// thread (signals are delivered there), then detaches from the main interpreter so that
    /// interpreters on other threads can run.
    ///
    /// A second call — also after [`shutdown`](Self::shutdown), or when something else already
    /// initialised CPython in this process — is [`Error::AlreadyInitialized`].
    pub fn init(config: RuntimeConfig) -> Result<Runtime> {
        let mut phase = lock(&PHASE);
        if !matches!(*phase, Phase::Uninitialized) {
            return Err(Error::AlreadyInitialized);
        }
        // SAFETY: `Py_IsInitialized` may be called at any time.
        if unsafe { ffi::Py_IsInitialized() } != 0 {
            return Err(Error::AlreadyInitialized);
        }
        // SAFETY: CPython is not initialised and `PHASE` keeps anyone else from starting it
        // concurrently; the tstate returned by `PyEval_SaveThread` is the main thread's.
        let main_tstate = unsafe {
            start(&config)?;
            ffi::PyEval_SaveThread()
        };
        let runtime = Runtime::starting(
            main_tstate as usize,
            config.go_idle_timeout,
            config.warm_interpreters,
        );
        *phase = Phase::Running(runtime.clone());
        set_signal_thread(true);
        fork::install_handlers();
        Ok(runtime)
    }

    /// A runtime with no interpreter yet, whose main interpreter runs on the calling thread
    /// with `main_tstate` (0: the main interpreter is not the runtime's, see
    /// [`attach`](Self::attach)).
    fn starting(main_tstate: usize, go_idle_timeout: Duration, warm: usize) -> Runtime {
        let registry = Arc::new(Registry::default());
        Runtime {
            shared: Arc::new(Shared {
                main_thread: std::thread::current().id(),
                main_tstate,
                lifecycle: Mutex::new(Lifecycle {
                    live: 0,
                    closed: false,
                }),
                lifecycle_changed: Condvar::new(),
                default_pool: Mutex::new(None),
                go: Spawner::new(go_idle_timeout),
                warm: Warm::new(warm, Arc::clone(&registry)),
                registry,
                generation: generation(),
            }),
        }
    }

    /// The runtime of a CPython that another program started and runs (`python3` importing
    /// the `csp` extension module): created on first use, with the default settings. It
    /// starts interpreters, pools and `go` like any runtime, but the main interpreter is not
    /// its own: [`with_main`](Self::with_main), [`run_script`](Self::run_script) and
    /// [`shutdown`](Self::shutdown) are refused, and [`shutdown_attached`](Self::shutdown_attached)
    /// ends its interpreters when the main interpreter exits (an `atexit` hook of `csp`).
    pub(crate) fn attach() -> Result<Runtime> {
        let mut phase = lock(&PHASE);
        match &*phase {
            Phase::Running(runtime) => return Ok(runtime.clone()),
            Phase::ShutDown => return Err(Error::ShutDown),
            Phase::Uninitialized => {}
        }
        let defaults = RuntimeConfig::default();
        let runtime = Runtime::starting(0, defaults.go_idle_timeout, defaults.warm_interpreters);
        *phase = Phase::Running(runtime.clone());
        // Python runs signal handlers on the process's main thread only.
        // SAFETY: `gettid` and `getpid` have no preconditions.
        if unsafe { libc::gettid() == libc::getpid() } {
            set_signal_thread(true);
        }
        fork::install_handlers();
        Ok(runtime)
    }

    /// Whether this runtime was attached to a CPython another program runs (see
    /// [`attach`](Self::attach)).
    pub fn is_attached(&self) -> bool {
        self.shared.main_tstate == 0
    }

    /// At the exit of a process whose CPython another program runs: terminates the pools
    /// created from Python, the `go` interpreters and the warm stock while CPython is still
    /// whole (as [`shutdown`](Self::shutdown) does before finalising), and refuses any later
    /// use. Does nothing for a runtime that owns CPython. Call it detached: it joins threads.
    pub(crate) fn shutdown_attached(&self) {
        if !self.is_attached() || self.check_running().is_err() {
            return;
        }
        self.end_interpreters();
        *lock(&PHASE) = Phase::ShutDown;
        set_signal_thread(false);
    }

    /// Terminates the pool behind `csp.map`, the `go` interpreters, the pools created from
    /// Python and the warm stock.
    fn end_interpreters(&self) {
        let default_pool = lock(&self.shared.default_pool).take();
        if let Some(pool) = default_pool {
            pool.terminate();
        }
        self.shared.go.terminate();
        terminate_all_pools();
        self.shared.warm.terminate();
    }

    /// The runtime of this process, if it is running.
    pub fn current() -> Result<Runtime> {
        match &*lock(&PHASE) {
            Phase::Uninitialized => Err(Error::NotInitialized),
            Phase::Running(runtime) => Ok(runtime.clone()),
            Phase::ShutDown => Err(Error::ShutDown),
        }
    }

    /// Whether the calling thread is the one that initialised the runtime.
    pub fn is_main_thread(&self) -> bool {
        std::thread::current().id() == self.shared.main_thread
    }

    /// Runs `f` attached to the main interpreter. Only the thread that called
    /// [`init`](Self::init) may do this ([`Error::WrongThread`] otherwise); use an
    /// [`Interpreter`](crate::Interpreter) to run Python from other threads.
    pub fn with_main<R>(&self, f: impl FnOnce(Python<'_>) -> R) -> Result<R> {
        self.check_running()?;
        if self.is_attached() {
            return Err(Error::WrongThread(
                "this runtime is attached to a CPython that another program runs (it was \
                 started by `import csp`): its main interpreter is that program's; run code in \
                 an Interpreter instead"
                    .into(),
            ));
        }
        if !self.is_main_thread() {
            return Err(Error::WrongThread(format!(
                "the main interpreter is only usable from the thread that called Runtime::init \
                 ({:?}), not from {:?}; run the code in an Interpreter instead",
                self.shared.main_thread,
                std::thread::current().id()
            )));
        }
        let main = self.shared.main_tstate as *mut ffi::PyThreadState;
        // SAFETY: on the main thread; we attach its own thread state unless it is already
        // attached (a nested call), and detach again after `f`, also when `f` panics.
        unsafe {
            let current = ffi::PyThreadState_GetUnchecked();
            if current == main {
                return Ok(f(Python::assume_attached()));
            }
            if !current.is_null() {
                return Err(Error::WrongThread(
                    "this thread is attached to another interpreter".into(),
                ));
            }
            ffi::PyEval_RestoreThread(main);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                f(Python::assume_attached())
            }));
            ffi::PyEval_SaveThread();
            match result {
                Ok(value) => Ok(value),
                Err(payload) => std::panic::resume_unwind(payload),
            }
        }
    }

    /// Runs the script at `path` as `__main__` in the main interpreter, like `python SCRIPT
    /// ARGS`: `sys.argv` is `[path, *args]` and the script's directory is prepended to
    /// `sys.path`. Returns the exit status: 0, the `SystemExit` code, or 1 after printing the
    /// traceback of an uncaught exception (130 for `KeyboardInterrupt`).
    pub fn run_script(&self, path: &Path, args: &[String]) -> Result<i32> {
        let path_str = path.to_string_lossy().into_owned();
        let dir = std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        self.with_main(|py| -> Result<i32> {
            let argv: Vec<_> = std::iter::once(path_str.clone())
                .chain(args.iter().cloned())
                .collect();
            set_sys_list(py, c"argv", &argv, false)?;
            set_sys_list(py, c"path", &[dir.to_string_lossy().into_owned()], true)?;
            let run_path = py.import("runpy")?.getattr("run_path")?;
            let kwargs = py.eval("{'run_name': '__main__'}")?;
            let args = py.object(&Value::Tuple(vec![path_str.clone().into()]))?;
            // SAFETY: attached; live arguments; the result is a new reference or NULL.
            let result =
                unsafe { ffi::PyObject_Call(run_path.as_ptr(), args.as_ptr(), kwargs.as_ptr()) };
            // SAFETY: attached; a NULL result means an exception is set.
            Ok(unsafe { exit_status(py, result) })
        })?
    }

    /// Finalises CPython. Must run on the thread that called [`init`](Self::init), outside
    /// [`with_main`](Self::with_main), after every [`Interpreter`](crate::Interpreter) and
    /// [`Pool`] has been dropped ([`Error::InterpretersAlive`] otherwise, and the runtime stays
    /// usable). Python threads of the main interpreter are joined first (and `threading`'s
    /// exit hooks run, so an `InterpreterPoolExecutor` finishes its work, as
    /// `ProcessPoolExecutor` does at exit); then pools created from Python (`csp.Pool`,
    /// `csp.map`) and not closed, and `go` interpreters, are terminated: their queued tasks
    /// fail and running ones are interrupted.
    ///
    /// Afterwards every use of the runtime is [`Error::ShutDown`].
    pub fn shutdown(&self) -> Result<()> {
        self.check_running()?;
        if !self.is_main_thread() {
            return Err(Error::WrongThread(
                "Runtime::shutdown must run on the thread that called Runtime::init".into(),
            ));
        }
        // SAFETY: reading this thread's current thread state.
        if !unsafe { ffi::PyThreadState_GetUnchecked() }.is_null() {
            return Err(Error::WrongThread(
                "Runtime::shutdown cannot run inside with_main or an interpreter".into(),
            ));
        }
        // As finalisation would, but before the pools go: Python threads are joined and the
        // `threading` exit hooks run (an InterpreterPoolExecutor finishes its work there).
        self.with_main(join_python_threads)?;
        self.end_interpreters();
        {
            let mut lifecycle = lock(&self.shared.lifecycle);
            if lifecycle.live > 0 {
                return Err(Error::InterpretersAlive(lifecycle.live));
            }
            lifecycle.closed = true;
        }
        *lock(&PHASE) = Phase::ShutDown;
        set_signal_thread(false);
        // SAFETY: on the main thread, detached, with no other interpreter alive; attach the
        // main thread state and finalise. Nothing touches CPython afterwards (`PHASE`).
        unsafe {
            ffi::PyEval_RestoreThread(self.shared.main_tstate as *mut ffi::PyThreadState);
            if ffi::Py_FinalizeEx() < 0 {
                return Err(Error::Startup(
                    "Py_FinalizeEx failed to flush buffered data".into(),
                ));
            }
        }
        Ok(())
    }

    fn check_running(&self) -> Result<()> {
        match &*lock(&PHASE) {
            Phase::Running(runtime) if Arc::ptr_eq(&runtime.shared, &self.shared) => Ok(()),
            Phase::Running(_) if orphaned(self.shared.generation) => {
                Err(Error::Forked("runtime handle"))
            }
            Phase::ShutDown => Err(Error::ShutDown),
            _ => Err(Error::NotInitialized),
        }
    }

    /// Registers one more interpreter; refused once shutdown has begun.
    pub(crate) fn lease(&self) -> Result<Lease> {
        let mut lifecycle = lock(&self.shared.lifecycle);
        if lifecycle.closed {
            return Err(Error::ShutDown);
        }
        lifecycle.live += 1;
        Ok(Lease {
            runtime: self.clone(),
        })
    }

    /// Runs `target` (`"module:function"`) with `args` on an interpreter of its own, like a
    /// goroutine: an idle one left by an earlier `go`, or a new one. It never waits for
    /// another task to finish, so tasks that block on each other (a pipeline of stages
    /// connected by [`Channel`](crate::Channel)s) all run.
    ///
    /// While the task runs its interpreter is named `go:<function>` (its qualified name).
    pub fn go(&self, target: &str, args: Vec<Value>) -> Task<Value> {
        match Target::parse(target) {
            Ok(target) => {
                let options = GoOptions::for_target(&target);
                self.go_with(None, options, move |py| target.call(py, &args))
            }
            Err(e) => Task::failed(e),
        }
    }

    /// Runs `f` on a go interpreter (new ones run `setup` first).
    pub(crate) fn go_with<R, F>(&self, setup: Option<String>, options: GoOptions, f: F) -> Task<R>
    where
        F: FnOnce(Python<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        if let Err(e) = self.check_running() {
            return Task::failed(e);
        }
        self.shared.go.go(self, setup, options, f)
    }

    /// The stock of interpreters created ahead of time.
    pub(crate) fn warm(&self) -> &Warm {
        &self.shared.warm
    }

    /// Sets how many interpreters to keep created ahead of time (see
    /// [`RuntimeConfig::warm_interpreters`]); ready ones beyond it are destroyed.
    pub fn set_warm_interpreters(&self, count: usize) {
        self.shared.warm.set_target(count);
    }

    /// Interpreters created ahead of time and ready to be taken now.
    pub fn warm_interpreters(&self) -> usize {
        self.shared.warm.ready()
    }

    /// Go interpreters alive now, and how many of them are idle (waiting for a `go`).
    pub fn go_interpreters(&self) -> (usize, usize) {
        self.shared.go.counts()
    }

    /// Number of interpreters (besides the main one) alive now.
    pub fn live_interpreters(&self) -> usize {
        lock(&self.shared.lifecycle).live
    }

    /// Every interpreter alive now besides the main one (those of the warm stock included),
    /// by id: its name, whether it is serial, and what it does (idle, or running which task)
    /// since when. A snapshot: interpreters come and go meanwhile.
    pub fn interpreters(&self) -> Vec<InterpreterInfo> {
        self.shared.registry.list()
    }

    /// The name of interpreter `id`: `main` for the main one, `None` for one the runtime did
    /// not start or that is gone.
    pub(crate) fn interpreter_name(&self, id: i64) -> Option<String> {
        if id == 0 {
            return Some("main".into());
        }
        self.shared
            .registry
            .name_of(id)
            .map(|name| name.to_string())
    }

    /// The list of live interpreters.
    pub(crate) fn registry(&self) -> Arc<Registry> {
        Arc::clone(&self.shared.registry)
    }

    /// Whether the current thread is a worker of the pool behind `csp.map`.
    pub(crate) fn is_default_pool_worker(&self) -> bool {
        lock(&self.shared.default_pool)
            .as_ref()
            .is_some_and(|pool| pool.is_worker_thread())
    }

    /// The pool behind `csp.map`, created with `setup` on first use.
    pub(crate) fn default_pool(&self, setup: Option<String>) -> Result<Arc<Pool>> {
        let mut slot = lock(&self.shared.default_pool);
        if let Some(pool) = &*slot {
            return Ok(Arc::clone(pool));
        }
        let config = PoolConfig::default().setup(setup).name_prefix("map-");
        let pool = Arc::new(Pool::with_config(self, config)?);
        *slot = Some(Arc::clone(&pool));
        Ok(pool)
    }
}

impl Runtime {
    /// The runtime of a forked child: no interpreter, pool or `go` interpreter of the parent
    /// (their threads are gone), the same settings, and the forking thread as the main one.
    fn after_fork(&self) -> Runtime {
        let old = &self.shared;
        // SAFETY: reads this thread's thread state pointer (NULL when detached).
        let tstate = unsafe { ffi::PyThreadState_GetUnchecked() };
        // An attached runtime stays attached: the main interpreter is still not its own.
        let main_tstate = if tstate.is_null() || old.main_tstate == 0 {
            old.main_tstate
        } else {
            tstate as usize
        };
        Runtime::starting(main_tstate, old.go.idle_timeout(), old.warm.target())
    }
}

thread_local! {
    /// The registry locks the forking thread holds across `fork()` (see [`fork`]).
    static FORK_GUARDS: std::cell::RefCell<Option<ForkGuards>> =
        const { std::cell::RefCell::new(None) };
}

type ForkGuards = (std::sync::MutexGuard<'static, Phase>, PoolsGuard);

/// `fork()` is about to run on this thread: hold the locks the child will reset, so that no
/// thread that vanishes in the child holds them.
pub(crate) fn before_fork() {
    let guards = (lock(&PHASE), lock_pools());
    FORK_GUARDS.with(|slot| *slot.borrow_mut() = Some(guards));
}

/// In the parent after `fork()`: release the locks.
pub(crate) fn after_fork_in_parent() {
    FORK_GUARDS.with(|slot| drop(slot.borrow_mut().take()));
}

/// In the child after `fork()`: start the runtime afresh and forget the parent's pools (their
/// handles are leaked, never joined), then release the locks.
pub(crate) fn after_fork_in_child() {
    let Some((mut phase, mut pools)) = FORK_GUARDS.with(|slot| slot.borrow_mut().take()) else {
        return;
    };
    pools.clear();
    if let Phase::Running(runtime) = &mut *phase {
        let fresh = runtime.after_fork();
        std::mem::forget(std::mem::replace(runtime, fresh));
        set_signal_thread(true);
    }
}

/// `Py_InitializeFromConfig` with the `csp` module registered.
///
/// # Safety
/// CPython is not initialised and nobody else initialises it concurrently.
unsafe fn start(config: &RuntimeConfig) -> Result<()> {
    // The crate's one upward edge (see the crate documentation): the `csp` module must be in
    // CPython's table of built-in modules before `Py_InitializeFromConfig`, so the runtime
    // names its init function.
    // SAFETY: before initialisation; the name and init function are 'static.
    if unsafe { ffi::PyImport_AppendInittab(c"csp".as_ptr(), Some(crate::csp::PyInit_csp)) } != 0 {
        return Err(Error::Startup("could not register the csp module".into()));
    }
    if config.isolated {
        // SAFETY: before initialisation; the pre-config is initialised by
        // `PyPreConfig_InitIsolatedConfig` before it is changed and read.
        unsafe { pre_initialize_utf8()? };
    }
    let mut raw = std::mem::MaybeUninit::<ffi::PyConfig>::uninit();
    // SAFETY: the config is initialised by `PyConfig_Init*Config` before any other use and
    // cleared on every path; strings are copied by CPython.
    unsafe {
        if config.isolated {
            ffi::PyConfig_InitIsolatedConfig(raw.as_mut_ptr());
        } else {
            ffi::PyConfig_InitPythonConfig(raw.as_mut_ptr());
        }
        let mut py_config = raw.assume_init();
        let result = (|| {
            py_config.install_signal_handlers = config.install_signal_handlers.into();
            py_config.parse_argv = 0;
            let home = cstring(&config.home.to_string_lossy())?;
            check(ffi::PyConfig_SetBytesString(
                &mut py_config,
                &mut py_config.home,
                home.as_ptr(),
            ))?;
            // `sys.executable` is the real interpreter, so that `subprocess`,
            // `multiprocessing` (spawn) and `venv` start Python, not this program.
            let executable = config
                .executable
                .clone()
                .unwrap_or_else(|| config.home.join("bin").join("python3"));
            if executable.exists() {
                let executable = cstring(&executable.to_string_lossy())?;
                check(ffi::PyConfig_SetBytesString(
                    &mut py_config,
                    &mut py_config.executable,
                    executable.as_ptr(),
                ))?;
            }
            // CPython inserts it into the `sys.path` of every interpreter but the main one
            // (which `run_script` gives the script's directory itself).
            if let Some(dir) = &config.sys_path_0 {
                let dir = cstring(&dir.to_string_lossy())?;
                check(ffi::PyConfig_SetBytesString(
                    &mut py_config,
                    &mut py_config.sys_path_0,
                    dir.as_ptr(),
                ))?;
            }
            let argv = if config.argv.is_empty() {
                vec![String::new()]
            } else {
                config.argv.clone()
            };
            let argv = argv
                .iter()
                .map(|a| cstring(a))
                .collect::<Result<Vec<_>>>()?;
            let mut ptrs: Vec<*mut std::ffi::c_char> =
                argv.iter().map(|a| a.as_ptr().cast_mut()).collect();
            check(ffi::PyConfig_SetBytesArgv(
                &mut py_config,
                ptrs.len() as isize,
                ptrs.as_mut_ptr(),
            ))?;
            check(ffi::Py_InitializeFromConfig(&py_config))
        })();
        ffi::PyConfig_Clear(&mut py_config);
        result
    }
}

/// Pre-initialises an isolated CPython in UTF-8 mode (PEP 540): an isolated runtime reads
/// no locale, and would otherwise use ASCII for the standard streams and file names (and
/// every interpreter would import `encodings` at start to make its ASCII streams).
///
/// # Safety
/// CPython is not initialised and nobody else initialises it concurrently.
unsafe fn pre_initialize_utf8() -> Result<()> {
    let mut raw = std::mem::MaybeUninit::<ffi::PyPreConfig>::uninit();
    // SAFETY: `PyPreConfig_InitIsolatedConfig` fills the whole struct before it is read.
    unsafe {
        ffi::PyPreConfig_InitIsolatedConfig(raw.as_mut_ptr());
        let mut pre_config = raw.assume_init();
        pre_config.utf8_mode = 1;
        check(ffi::Py_PreInitialize(&pre_config))
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Startup(format!("{s:?} contains a NUL character")))
}

/// A `PyStatus` as a `Result`.
fn check(status: ffi::PyStatus) -> Result<()> {
    // SAFETY: `PyStatus_Exception` only reads the struct; `err_msg` is a static C string or
    // NULL, `func` likewise.
    unsafe {
        if ffi::PyStatus_Exception(status) == 0 {
            return Ok(());
        }
        let message = |p: *const std::ffi::c_char| {
            (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
        };
        let mut text = message(status.err_msg).unwrap_or_else(|| "unknown error".into());
        if let Some(func) = message(status.func) {
            text = format!("{func}: {text}");
        }
        if ffi::PyStatus_IsExit(status) != 0 {
            text = format!("{text} (exit code {})", status.exitcode);
        }
        Err(Error::Startup(text))
    }
}

/// Sets `sys.<name>` to a list of `items`, or (with `prepend`) inserts them at its front.
fn set_sys_list(py: Python<'_>, name: &CStr, items: &[String], prepend: bool) -> Result<()> {
    // SAFETY: attached; `PySys_GetObject` returns a borrowed reference or NULL; the list
    // calls take their own references; new references are owned by `Object`s.
    unsafe {
        if prepend {
            let list = ffi::PySys_GetObject(name.as_ptr());
            if list.is_null() || ffi::PyList_Check(list) == 0 {
                return Ok(());
            }
            for (i, item) in items.iter().enumerate() {
                let item = py.object(&item.as_str().into())?;
                if ffi::PyList_Insert(list, i as isize, item.as_ptr()) < 0 {
                    return Err(py.take_error());
                }
            }
            return Ok(());
        }
        let list = Object::from_owned(py, ffi::PyList_New(0))?;
        for item in items {
            let item = py.object(&item.as_str().into())?;
            if ffi::PyList_Append(list.as_ptr(), item.as_ptr()) < 0 {
                return Err(py.take_error());
            }
        }
        if ffi::PySys_SetObject(name.as_ptr(), list.as_ptr()) < 0 {
            return Err(py.take_error());
        }
        Ok(())
    }
}

/// The exit status for the outcome of running a script, as `python` computes it; prints the
/// traceback of an uncaught exception.
///
/// # Safety
/// Attached; `result` is a new reference, or NULL with an exception set.
unsafe fn exit_status(py: Python<'_>, result: *mut ffi::PyObject) -> i32 {
    // SAFETY: forwarded from the caller; every object is owned by an `Object`.
    unsafe {
        if let Some(result) = Object::from_owned_opt(py, result) {
            drop(result);
            return 0;
        }
        if ffi::PyErr_ExceptionMatches(ffi::PyExc_SystemExit) == 0 {
            let interrupted = ffi::PyErr_ExceptionMatches(ffi::PyExc_KeyboardInterrupt) != 0;
            ffi::PyErr_Print();
            return if interrupted { 130 } else { 1 };
        }
        let exc = Object::from_owned_opt(py, ffi::PyErr_GetRaisedException());
        let code = exc.and_then(|exc| exc.getattr("code").ok());
        match code {
            None => 0,
            Some(code) if code.is_none() => 0,
            Some(code) => match code.to_value().ok().and_then(|v| v.as_i64()) {
                Some(n) => n as i32,
                None => {
                    // `sys.exit("message")`: print the message, exit 1.
                    let text = code.str().unwrap_or_default();
                    ffi::PyErr_Clear();
                    eprintln!("{text}");
                    1
                }
            },
        }
    }
}
