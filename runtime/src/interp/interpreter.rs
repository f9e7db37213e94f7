//! [`Interpreter`]: one own-GIL subinterpreter on its own OS thread (an actor; the thread's
//! body is in [`worker`](super::worker)), and [`Target`], how functions are named across
//! interpreters.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;

use crate::error::{Error, Result};
use crate::interp::fork::OsThread;
use crate::interp::job::{Envelope, job};
use crate::interp::runtime::Runtime;
use crate::interp::worker::{Worker, spawn_worker};
use crate::python::object::Object;
use crate::python::token::Python;
use crate::sync::task::Task;
use crate::value::Value;

/// How to create an interpreter. Build it from [`InterpreterConfig::default`] and the setters.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct InterpreterConfig {
    /// Serial mode: Python threads are refused inside the interpreter, with a `RuntimeError`
    /// naming serial mode, as are `os.fork()` and `os.exec*()` (which every subinterpreter
    /// refuses; serial mode only words the error). Its own GIL and memory allocator are always
    /// on. A serial interpreter is always created afresh: the warm stock holds only default
    /// ones.
    pub serial: bool,
    /// The interpreter's name (default `interpreter`), as [`Runtime::interpreters`] and
    /// `csp.current_interpreter_name()` report it and tracebacks crossing from it show it; the
    /// OS thread carries its first 15 bytes (what Linux allows).
    pub name: Option<String>,
}

impl InterpreterConfig {
    /// Sets serial mode.
    pub fn serial(mut self, serial: bool) -> Self {
        self.serial = serial;
        self
    }

    /// Sets the interpreter's name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the interpreter's name, which its OS thread carries.
    #[deprecated(note = "the name is the interpreter's now: use `InterpreterConfig::name`")]
    pub fn thread_name(self, name: impl Into<String>) -> Self {
        self.name(name)
    }
}

/// One live interpreter, as [`Runtime::interpreters`] lists it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InterpreterInfo {
    /// Its id (as `csp.current_interpreter()` reports it inside).
    pub id: i64,
    /// Its name: `interpreter` (or its [`InterpreterConfig::name`]), `pool-<n>` (or the
    /// pool's [`name_prefix`](crate::PoolConfig::name_prefix) and `n`), `map-<n>` for the pool
    /// behind `csp.map`, `go:<function>` while a `go` task runs (`go` when idle), `warm` for
    /// one of the warm stock.
    pub name: String,
    /// Whether it runs in [serial mode](InterpreterConfig::serial).
    pub serial: bool,
    /// What it does now.
    pub state: InterpreterState,
    /// When it entered that state.
    pub since: Instant,
}

/// What an interpreter does now ([`InterpreterInfo::state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InterpreterState {
    /// Waiting for a job.
    Idle,
    /// Running a job: `task` names it (`"module:function"` for calls, `exec` or `eval`), or is
    /// `None` for a Rust closure.
    Running {
        /// The job.
        task: Option<String>,
    },
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
    /// Creates an interpreter with the default configuration (named `interpreter`).
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

    /// The interpreter's name ([`InterpreterConfig::name`]).
    pub fn name(&self) -> String {
        self.worker.name().to_string()
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
        self.submit_labelled(Some("exec".into()), move |py| py.exec(&code))
    }

    /// Queues [`eval`](Self::eval).
    pub fn submit_eval(&self, expr: &str) -> Task<Value> {
        let expr = expr.to_owned();
        self.submit_labelled(Some("eval".into()), move |py| py.eval(&expr)?.to_value())
    }

    /// Queues [`call`](Self::call).
    pub fn submit_call(&self, target: &str, args: Vec<Value>) -> Task<Value> {
        match Target::parse(target) {
            Ok(target) => {
                self.submit_labelled(Some(target.label()), move |py| target.call(py, &args))
            }
            Err(e) => Task::failed(e),
        }
    }

    /// Queues `f` to run attached to the interpreter.
    pub fn submit<R, F>(&self, f: F) -> Task<R>
    where
        F: FnOnce(Python<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.submit_labelled(None, f)
    }

    /// [`submit`](Self::submit), with what [`Runtime::interpreters`] shows it running.
    fn submit_labelled<R, F>(&self, label: Option<Arc<str>>, f: F) -> Task<R>
    where
        F: FnOnce(Python<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let (mut envelope, task) = job(f, Arc::from([self.worker.thread]), "interpreter");
        envelope.label = label;
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
struct JoinOnDrop(Option<OsThread>);

impl Drop for JoinOnDrop {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take()
            && thread.id() != std::thread::current().id()
        {
            thread.join();
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

    /// `module:qualname` as tasks are listed ([`InterpreterState::Running`]); a function of
    /// the main script is `__main__:qualname`.
    pub(crate) fn label(&self) -> Arc<str> {
        let module = if self.main_path.is_some() {
            "__main__"
        } else {
            &self.module
        };
        format!("{module}:{}", self.qualname).into()
    }

    /// Imports and returns the callable.
    pub(crate) fn resolve<'py>(&self, py: Python<'py>) -> Result<Object<'py>> {
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
