//! The `csp` layer: the `csp` Python module, built into every interpreter the runtime starts.
//!
//! Multi-phase init (`Py_mod_exec`) with per-module state, declared safe for interpreters with
//! their own GIL; no process-global `PyObject*`. The Rust part here is a small set of private
//! functions (`_pool_new`, `_pool_submit`, `_task_result`, ...) over [`Pool`] and [`Task`]
//! handles held in capsules; the public API (`Pool`, `Task`, `map`, `go`, `select`,
//! `InterpreterPoolExecutor`) is Python code in `csp.py` (beside this file), run in the
//! module's namespace by `Py_mod_exec`, and `csp_executor.py`, the executor's caller side, run
//! on first use. `csp.Channel`, `csp.SharedBytes` and the exception classes are made by the
//! layer below ([`python`](crate::python)), since converting values needs them too.
//!
//! The top layer: it may use every other one; nothing names it but the runtime, which
//! registers [`PyInit_csp`] (see the crate documentation).

use std::ffi::{CStr, CString, c_int, c_void};
use std::ptr::null_mut;
use std::sync::Arc;

use cpython_sys as ffi;

use crate::error::{Error, Result, type_error, value_error};
use crate::interp::go::GoOptions;
use crate::interp::interpreter::{InterpreterConfig, InterpreterState, Target};
use crate::interp::pool::{self, Pool, PoolConfig};
use crate::interp::runtime::Runtime;
use crate::python::blocking::{Raised, block_detached};
use crate::python::exceptions::CspError;
use crate::python::object::Object;
use crate::python::token::Python;
use crate::python::trampoline::{raw_slice, trampoline, trampoline_unraisable};
use crate::python::{args, py_channel, shared_bytes};
use crate::sync::parker::deadline_after;
use crate::sync::task::Task;
use crate::value::channel::Channel;
use crate::value::{SHARED_BYTES_THRESHOLD, Value};

/// The Python half of the module.
const CSP_PY: &str = include_str!("csp.py");

/// The caller's half of `InterpreterPoolExecutor`, run on first use.
const CSP_EXECUTOR_PY: &str = include_str!("csp_executor.py");

/// The submodule `csp.check` (`python -m csp.check`), loaded by `csp.py`'s finder.
const CSP_CHECK_PY: &str = include_str!("csp_check.py");

const POOL_CAPSULE: &CStr = c"csp.Pool";
const TASK_CAPSULE: &CStr = c"csp.Task";

/// Per-module state: strong references the module keeps to objects of its interpreter.
#[repr(C)]
struct ModuleState {
    shared_bytes: *mut ffi::PyObject,
}

type FastCall = unsafe extern "C" fn(
    *mut ffi::PyObject,
    *const *mut ffi::PyObject,
    ffi::Py_ssize_t,
) -> *mut ffi::PyObject;

/// A `METH_FASTCALL` entry of the method table.
const fn fastcall(name: &'static CStr, f: FastCall, doc: &'static CStr) -> ffi::PyMethodDef {
    ffi::PyMethodDef {
        ml_name: name.as_ptr(),
        // SAFETY: CPython calls a `METH_FASTCALL` function through the `PyCFunction` pointer
        // type with the fastcall signature, which is `f`'s.
        ml_meth: Some(unsafe {
            std::mem::transmute::<
                FastCall,
                unsafe extern "C" fn(*mut ffi::PyObject, *mut ffi::PyObject) -> *mut ffi::PyObject,
            >(f)
        }),
        ml_flags: ffi::METH_FASTCALL,
        ml_doc: doc.as_ptr(),
    }
}

/// Defines the `extern "C"` entry point `$entry` for the Rust function `$body`, behind the
/// panic/error [`trampoline`].
macro_rules! entry {
    ($entry:ident => $body:ident) => {
        unsafe extern "C" fn $entry(
            _module: *mut ffi::PyObject,
            args: *const *mut ffi::PyObject,
            nargs: ffi::Py_ssize_t,
        ) -> *mut ffi::PyObject {
            // SAFETY: CPython calls module functions attached, with `nargs` live arguments at
            // `args`.
            unsafe {
                trampoline(concat!("csp.", stringify!($body)), null_mut(), |py| {
                    $body(py, raw_slice(args, nargs.max(0) as usize))
                })
            }
        }
    };
}

entry!(current_interpreter_entry => current_interpreter);
entry!(current_interpreter_name_entry => current_interpreter_name);
entry!(interpreters_entry => _interpreters);
entry!(pool_new_entry => _pool_new);
entry!(pool_submit_entry => _pool_submit);
entry!(pool_workers_entry => _pool_workers);
entry!(pool_close_entry => _pool_close);
entry!(default_pool_entry => _default_pool);
entry!(task_result_entry => _task_result);
entry!(task_done_entry => _task_done);
entry!(task_interrupt_entry => _task_interrupt);
entry!(in_default_pool_entry => _in_default_pool);
entry!(go_entry => _go);
entry!(executor_submit_entry => _executor_submit);
entry!(go_counts_entry => _go_counts);
entry!(unbounded_channel_entry => _unbounded_channel);
entry!(shutdown_attached_entry => _shutdown_attached);
entry!(import_failure_entry => _import_failure);

static mut METHODS: [ffi::PyMethodDef; 20] = [
    fastcall(
        c"current_interpreter",
        current_interpreter_entry,
        c"current_interpreter()\n--\n\nThe id of the interpreter running this code (0 is the main one).",
    ),
    fastcall(
        c"current_interpreter_name",
        current_interpreter_name_entry,
        c"current_interpreter_name()\n--\n\nThe name of the interpreter running this code: 'main', \
          'go:<function>' in a go task, '<prefix>-<n>' in a pool worker, ... (None in an \
          interpreter the runtime did not start).",
    ),
    fastcall(c"_interpreters", interpreters_entry, c""),
    fastcall(c"_pool_new", pool_new_entry, c""),
    fastcall(c"_pool_submit", pool_submit_entry, c""),
    fastcall(c"_pool_workers", pool_workers_entry, c""),
    fastcall(c"_pool_close", pool_close_entry, c""),
    fastcall(c"_default_pool", default_pool_entry, c""),
    fastcall(c"_task_result", task_result_entry, c""),
    fastcall(c"_task_done", task_done_entry, c""),
    fastcall(c"_task_interrupt", task_interrupt_entry, c""),
    fastcall(c"_in_default_pool", in_default_pool_entry, c""),
    fastcall(c"_go", go_entry, c""),
    fastcall(c"_executor_submit", executor_submit_entry, c""),
    fastcall(c"_go_counts", go_counts_entry, c""),
    fastcall(c"_unbounded_channel", unbounded_channel_entry, c""),
    fastcall(c"_shutdown_attached", shutdown_attached_entry, c""),
    fastcall(c"_import_failure", import_failure_entry, c""),
    py_channel::SELECT_METHOD,
    ffi::PyMethodDef {
        ml_name: std::ptr::null(),
        ml_meth: None,
        ml_flags: 0,
        ml_doc: std::ptr::null(),
    },
];

static mut SLOTS: [ffi::PyModuleDef_Slot; 3] = [
    ffi::PyModuleDef_Slot {
        slot: ffi::Py_mod_exec,
        value: exec_module as *mut c_void,
    },
    ffi::PyModuleDef_Slot {
        slot: ffi::Py_mod_multiple_interpreters,
        value: ffi::Py_MOD_PER_INTERPRETER_GIL_SUPPORTED,
    },
    ffi::PyModuleDef_Slot {
        slot: 0,
        value: null_mut(),
    },
];

/// The module definition. CPython initialises its header once (`PyModuleDef_Init`) and then
/// only reads it; every interpreter gets its own module object and state from it.
static mut MODULE: ffi::PyModuleDef = ffi::PyModuleDef {
    m_base: ffi::PyModuleDef_HEAD_INIT,
    m_name: c"csp".as_ptr(),
    m_doc: c"Parallel Python on own-GIL subinterpreters.".as_ptr(),
    m_size: size_of::<ModuleState>() as ffi::Py_ssize_t,
    m_methods: &raw mut METHODS as *mut ffi::PyMethodDef,
    m_slots: &raw mut SLOTS as *mut ffi::PyModuleDef_Slot,
    m_traverse: Some(traverse),
    m_clear: Some(clear),
    m_free: Some(free),
};

/// The `csp` module's init function, registered with `PyImport_AppendInittab`.
///
/// # Safety
/// Called by CPython's import machinery, attached.
#[allow(non_snake_case)]
pub(crate) unsafe extern "C" fn PyInit_csp() -> *mut ffi::PyObject {
    // SAFETY: `MODULE` is a valid definition with 'static lifetime; `PyModuleDef_Init` only
    // sets its object header (idempotently) and returns it.
    unsafe { ffi::PyModuleDef_Init(&raw mut MODULE) }
}

/// `Py_mod_exec`: fills a new module object of the current interpreter.
unsafe extern "C" fn exec_module(module: *mut ffi::PyObject) -> c_int {
    // SAFETY: CPython calls exec slots attached, with the new module; its state has
    // `ModuleState`'s size and starts zeroed.
    unsafe {
        trampoline("csp module init", -1, |py| {
            // Imported into a CPython that another program started (`python3`): the runtime
            // attaches to it now (a no-op where it runs already).
            Runtime::attach()?;
            let ty = shared_bytes::type_object(py)?;
            let state = ffi::PyModule_GetState(module).cast::<ModuleState>();
            if state.is_null() {
                return Err(py.take_error());
            }
            (*state).shared_bytes = ty.clone().into_ptr();
            let channel = py_channel::type_object(py)?;
            if ffi::PyModule_AddObjectRef(module, c"Channel".as_ptr(), channel.as_ptr()) < 0 {
                return Ok(-1);
            }
            for kind in CspError::ALL {
                let class = kind.class(py)?;
                if ffi::PyModule_AddObjectRef(module, kind.name().as_ptr(), class.as_ptr()) < 0 {
                    return Ok(-1);
                }
            }
            if ffi::PyModule_AddObjectRef(module, c"SharedBytes".as_ptr(), ty.as_ptr()) < 0
                || ffi::PyModule_AddIntConstant(
                    module,
                    c"SHARED_BYTES_THRESHOLD".as_ptr(),
                    SHARED_BYTES_THRESHOLD as std::ffi::c_long,
                ) < 0
            {
                return Ok(-1);
            }
            for (name, source) in [
                (c"_EXECUTOR_SOURCE", CSP_EXECUTOR_PY),
                (c"_CHECK_SOURCE", CSP_CHECK_PY),
            ] {
                let source = py.object(&Value::from(source))?;
                if ffi::PyModule_AddObjectRef(module, name.as_ptr(), source.as_ptr()) < 0 {
                    return Ok(-1);
                }
            }
            let dict = Object::from_borrowed(py, ffi::PyModule_GetDict(module))?;
            // As `exec` would: C code such as pickle's finds `__import__` through it.
            if ffi::PyDict_SetItemString(
                dict.as_ptr(),
                c"__builtins__".as_ptr(),
                ffi::PyEval_GetBuiltins(),
            ) < 0
            {
                return Ok(-1);
            }
            let source = CString::new(CSP_PY).expect("csp.py has no NUL");
            let code = Object::from_owned(
                py,
                ffi::Py_CompileString(source.as_ptr(), c"<csp>".as_ptr(), ffi::Py_file_input),
            )?;
            Object::from_owned(
                py,
                ffi::PyEval_EvalCode(code.as_ptr(), dict.as_ptr(), dict.as_ptr()),
            )?;
            Ok(0)
        })
    }
}

unsafe extern "C" fn traverse(
    module: *mut ffi::PyObject,
    visit: ffi::visitproc,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: CPython calls traverse attached with our module; the state may be NULL before
    // exec ran.
    unsafe {
        let state = ffi::PyModule_GetState(module).cast::<ModuleState>();
        if let (false, Some(visit)) = (state.is_null(), visit)
            && !(*state).shared_bytes.is_null()
        {
            return visit((*state).shared_bytes, arg);
        }
        0
    }
}

unsafe extern "C" fn clear(module: *mut ffi::PyObject) -> c_int {
    // SAFETY: CPython calls clear attached with our module.
    unsafe {
        let state = ffi::PyModule_GetState(module).cast::<ModuleState>();
        if !state.is_null() {
            ffi::Py_CLEAR(&raw mut (*state).shared_bytes);
        }
        0
    }
}

unsafe extern "C" fn free(module: *mut c_void) {
    // SAFETY: CPython calls free attached with our module, once.
    unsafe {
        clear(module.cast());
    }
}

/// Checks the argument count of `csp.<name>()`.
fn expect_args(name: &str, args: &[*mut ffi::PyObject], n: usize) -> Result<()> {
    if args.len() == n {
        return Ok(());
    }
    Err(type_error(format!(
        "csp.{name}() takes {n} argument(s) ({} given)",
        args.len()
    )))
}

/// `None` or a `str`.
///
/// # Safety
/// Attached; `obj` is live.
unsafe fn optional_str(py: Python<'_>, obj: *mut ffi::PyObject) -> Result<Option<String>> {
    // SAFETY: forwarded.
    let obj = unsafe { Object::from_borrowed(py, obj)? };
    if obj.is_none() {
        return Ok(None);
    }
    match obj.to_value()? {
        Value::Str(s) => Ok(Some(s)),
        other => Err(type_error(format!(
            "expected str or None, not {}",
            other.type_name()
        ))),
    }
}

/// The truth of an argument (`bool(obj)`).
///
/// # Safety
/// Attached; `obj` is live.
unsafe fn truth(py: Python<'_>, obj: *mut ffi::PyObject) -> Result<bool> {
    // SAFETY: forwarded.
    match unsafe { ffi::PyObject_IsTrue(obj) } {
        -1 => Err(py.take_error()),
        n => Ok(n == 1),
    }
}

/// A `str` argument.
///
/// # Safety
/// Attached; `obj` is live.
unsafe fn required_str(py: Python<'_>, obj: *mut ffi::PyObject) -> Result<String> {
    // SAFETY: forwarded.
    unsafe { optional_str(py, obj) }?.ok_or_else(|| type_error("expected str, not None".into()))
}

/// A new capsule owning `value`, freed by `destructor`.
fn capsule<T>(
    py: Python<'_>,
    value: T,
    name: &'static CStr,
    destructor: unsafe extern "C" fn(*mut ffi::PyObject),
) -> Result<*mut ffi::PyObject> {
    let raw = Box::into_raw(Box::new(value));
    // SAFETY: attached; on success the capsule owns `raw`, on failure we free it.
    unsafe {
        let capsule = ffi::PyCapsule_New(raw.cast(), name.as_ptr(), Some(destructor));
        if capsule.is_null() {
            drop(Box::from_raw(raw));
            return Err(py.take_error());
        }
        Ok(capsule)
    }
}

/// The value a capsule of `name` holds, borrowed for as long as the capsule (an argument of
/// the current call) lives.
///
/// # Safety
/// Attached; `obj` is live and stays alive while the reference is used; capsules of `name`
/// hold a `T`.
unsafe fn from_capsule<'a, T>(
    py: Python<'_>,
    obj: *mut ffi::PyObject,
    name: &CStr,
) -> Result<&'a T> {
    // SAFETY: forwarded; `PyCapsule_GetPointer` checks the name (ValueError otherwise).
    unsafe {
        let raw = ffi::PyCapsule_GetPointer(obj, name.as_ptr()).cast::<T>();
        if raw.is_null() {
            return Err(py.take_error());
        }
        Ok(&*raw)
    }
}

unsafe extern "C" fn drop_pool(capsule: *mut ffi::PyObject) {
    // SAFETY: CPython calls capsule destructors attached, once, with our capsule.
    unsafe {
        let raw = ffi::PyCapsule_GetPointer(capsule, POOL_CAPSULE.as_ptr()).cast::<Arc<Pool>>();
        trampoline_unraisable("csp.Pool's destructor", || {
            if raw.is_null() {
                return;
            }
            let pool = *Box::from_raw(raw);
            if Arc::strong_count(&pool) == 1 && !pool.is_closed() {
                // The last handle: closing joins threads, so let this interpreter run meanwhile.
                Python::assume_attached().allow_threads(move || drop(pool));
            }
        });
    }
}

unsafe extern "C" fn drop_task(capsule: *mut ffi::PyObject) {
    // SAFETY: CPython calls capsule destructors attached, once, with our capsule.
    unsafe {
        let raw = ffi::PyCapsule_GetPointer(capsule, TASK_CAPSULE.as_ptr()).cast::<Task<Value>>();
        trampoline_unraisable("csp.Task's destructor", || {
            if !raw.is_null() {
                drop(Box::from_raw(raw));
            }
        });
    }
}

fn new_pool_object(py: Python<'_>, pool: Arc<Pool>) -> Result<*mut ffi::PyObject> {
    capsule(py, pool, POOL_CAPSULE, drop_pool)
}

fn current_interpreter(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("current_interpreter", args, 0)?;
    Ok(py.object(&Value::from(py.interpreter_id()))?.into_ptr())
}

fn current_interpreter_name(
    py: Python<'_>,
    args: &[*mut ffi::PyObject],
) -> Result<*mut ffi::PyObject> {
    expect_args("current_interpreter_name", args, 0)?;
    let name = Runtime::current()?.interpreter_name(py.interpreter_id());
    Ok(py
        .object(&name.map_or(Value::None, Value::from))?
        .into_ptr())
}

/// `_interpreters() -> [(id, name, serial, state, task, seconds in that state)]`, `state`
/// being `"idle"` or `"running"`.
fn _interpreters(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_interpreters", args, 0)?;
    let infos = Runtime::current()?.interpreters();
    let rows = infos
        .into_iter()
        .map(|info| {
            let (state, task) = match info.state {
                InterpreterState::Running { task } => ("running", task),
                _ => ("idle", None),
            };
            Value::Tuple(vec![
                info.id.into(),
                info.name.into(),
                Value::Bool(info.serial),
                state.into(),
                task.map_or(Value::None, Value::from),
                info.since.elapsed().as_secs_f64().into(),
            ])
        })
        .collect();
    Ok(py.object(&Value::Tuple(rows))?.into_ptr())
}

/// A name given from Python: `None`, or a non-empty `str` without NUL characters.
///
/// # Safety
/// Attached; `obj` is live.
unsafe fn optional_name(py: Python<'_>, obj: *mut ffi::PyObject) -> Result<Option<String>> {
    // SAFETY: forwarded.
    let name = unsafe { optional_str(py, obj)? };
    if name.as_ref().is_some_and(|n| n.contains('\0')) {
        return Err(value_error(
            "an interpreter's name cannot contain NUL characters".into(),
        ));
    }
    Ok(name)
}

/// `_pool_new(workers: int | None, setup: str | None, max_tasks: int | None,
/// name_prefix: str | None, serial: bool) -> capsule`
fn _pool_new(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_pool_new", args, 5)?;
    // SAFETY: attached; the arguments are live for this call.
    let (workers, setup, max_tasks, prefix, serial) = unsafe {
        let workers = Object::from_borrowed(py, args[0])?;
        let workers = if workers.is_none() {
            None
        } else {
            let n = workers.to_value()?.as_i64().filter(|&n| n > 0);
            Some(
                n.ok_or_else(|| type_error("workers must be a positive int or None".into()))?
                    as usize,
            )
        };
        let max_tasks = Object::from_borrowed(py, args[2])?;
        let max_tasks = if max_tasks.is_none() {
            None
        } else {
            Some(args::count(&max_tasks, "max_tasks_per_child")?)
        };
        let serial = truth(py, args[4])?;
        let prefix = optional_name(py, args[3])?;
        (
            workers,
            optional_str(py, args[1])?,
            max_tasks,
            prefix,
            serial,
        )
    };
    let runtime = Runtime::current()?;
    let mut config = PoolConfig::default()
        .setup(setup)
        .max_tasks_per_worker(max_tasks)
        .interpreter(InterpreterConfig::default().serial(serial));
    config.workers = workers;
    config.name_prefix = prefix;
    let pool = Arc::new(py.allow_threads(|| Pool::with_config(&runtime, config))?);
    pool::own(py.interpreter_id(), &pool);
    new_pool_object(py, pool)
}

/// `_default_pool(setup: str) -> capsule`: the process-wide pool behind `csp.map`.
fn _default_pool(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_default_pool", args, 1)?;
    // SAFETY: attached; the argument is live for this call.
    let setup = unsafe { optional_str(py, args[0])? };
    let runtime = Runtime::current()?;
    let pool = py.allow_threads(|| runtime.default_pool(setup))?;
    new_pool_object(py, pool)
}

/// `_pool_submit(pool, module: str, qualname: str, main: str | None, args: tuple) -> capsule`
fn _pool_submit(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_pool_submit", args, 5)?;
    // SAFETY: attached; the arguments (and so the pool capsule) are live for this call.
    unsafe {
        let pool: &Arc<Pool> = from_capsule(py, args[0], POOL_CAPSULE)?;
        if pool.is_closed() {
            return Err(Error::Closed("pool"));
        }
        let target = Target {
            module: required_str(py, args[1])?,
            qualname: required_str(py, args[2])?,
            main_path: optional_str(py, args[3])?,
        };
        let call_args = tuple_items(Object::from_borrowed(py, args[4])?.to_value()?, "args")?;
        let task = pool.submit_target(target, call_args);
        capsule(py, task, TASK_CAPSULE, drop_task)
    }
}

fn _pool_workers(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_pool_workers", args, 1)?;
    // SAFETY: attached; the capsule is live for this call.
    let pool: &Arc<Pool> = unsafe { from_capsule(py, args[0], POOL_CAPSULE)? };
    Ok(py.object(&Value::from(pool.workers()))?.into_ptr())
}

/// `_pool_close(pool, terminate: bool)`
fn _pool_close(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_pool_close", args, 2)?;
    // SAFETY: attached; the arguments are live for this call.
    let (pool, terminate) = unsafe {
        let pool: &Arc<Pool> = from_capsule(py, args[0], POOL_CAPSULE)?;
        (pool, ffi::PyObject_IsTrue(args[1]) == 1)
    };
    if pool.is_worker_thread() {
        return Err(Error::Deadlock(
            "a csp.Pool cannot be closed from one of its own workers".into(),
        ));
    }
    let pool = Arc::clone(pool);
    py.allow_threads(move || {
        if terminate {
            pool.terminate();
        } else {
            pool.close();
        }
    });
    Ok(py.none().into_ptr())
}

/// `_task_result(task, timeout: float | None)`: waits without holding the GIL.
fn _task_result(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_task_result", args, 2)?;
    // SAFETY: attached; the arguments are live for this call.
    let (task, timeout) = unsafe {
        let task: &Task<Value> = from_capsule(py, args[0], TASK_CAPSULE)?;
        let timeout = Object::from_borrowed(py, args[1])?;
        (task, args::timeout(Some(&timeout))?)
    };
    if task.orphaned() {
        return Err(Error::Forked("task"));
    }
    if task.peek().is_none() && task.would_deadlock() {
        return Err(Error::Deadlock(
            "this task runs on the interpreter that is waiting for it".into(),
        ));
    }
    let deadline = timeout.and_then(deadline_after);
    match block_detached(py, |wait| task.wait_with(deadline, wait)) {
        Ok(true) => {}
        Ok(false) => {
            return Err(Error::exception(
                "TimeoutError",
                format!(
                    "the task did not finish within {:?}; it keeps running (Task.interrupt() \
                     stops it)",
                    timeout.unwrap_or_default()
                ),
            ));
        }
        Err(Raised) => return Ok(null_mut()),
    }
    match task.peek() {
        Some(Ok(value)) => Ok(py.object(&value)?.into_ptr()),
        Some(Err(e)) => Err(e),
        None => Err(Error::Closed("task")),
    }
}

fn _task_done(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_task_done", args, 1)?;
    // SAFETY: attached; the capsule is live for this call.
    let task: &Task<Value> = unsafe { from_capsule(py, args[0], TASK_CAPSULE)? };
    Ok(py.object(&Value::Bool(task.is_finished()))?.into_ptr())
}

fn _task_interrupt(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_task_interrupt", args, 1)?;
    // SAFETY: attached; the capsule is live for this call.
    let task: &Task<Value> = unsafe { from_capsule(py, args[0], TASK_CAPSULE)? };
    let hit = task.interrupt();
    Ok(py.object(&Value::Bool(hit))?.into_ptr())
}

/// `_go(module, qualname, main, args: tuple, kwargs: tuple[(str, value)], setup,
/// name: str | None, serial: bool) -> capsule`: runs the function on a go interpreter (an idle
/// one, or a new one set up with `setup`), named `name` (default `go:<qualname>`) meanwhile.
fn _go(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_go", args, 8)?;
    // SAFETY: attached; the arguments are live for this call.
    let (target, call_args, kwargs, setup, name, serial) = unsafe {
        let target = Target {
            module: required_str(py, args[0])?,
            qualname: required_str(py, args[1])?,
            main_path: optional_str(py, args[2])?,
        };
        let call_args = tuple_items(Object::from_borrowed(py, args[3])?.to_value()?, "args")?;
        let kwargs = tuple_items(Object::from_borrowed(py, args[4])?.to_value()?, "kwargs")?
            .into_iter()
            .map(|pair| match pair {
                Value::Tuple(mut kv) if kv.len() == 2 => {
                    let value = kv.pop().expect("two items");
                    match kv.pop() {
                        Some(Value::Str(name)) => Ok((name, value)),
                        _ => Err(type_error("keyword names must be str".into())),
                    }
                }
                _ => Err(type_error("kwargs must be (name, value) pairs".into())),
            })
            .collect::<Result<Vec<_>>>()?;
        let name = optional_name(py, args[6])?;
        let serial = truth(py, args[7])?;
        (
            target,
            call_args,
            kwargs,
            optional_str(py, args[5])?,
            name,
            serial,
        )
    };
    let mut options = GoOptions::for_target(&target);
    if let Some(name) = name {
        options.name = name.into();
    }
    options.serial = serial;
    let runtime = Runtime::current()?;
    let task = py.allow_threads(move || {
        runtime.go_with(setup, options, move |py| {
            target.call_kw(py, &call_args, &kwargs)
        })
    });
    capsule(py, task, TASK_CAPSULE, drop_task)
}

/// `_executor_submit(pool, args: tuple, label: str)`: queues `csp._executor_run(*args)`, whose
/// first two arguments are the executor's reply channel and the task id, listed as running
/// `label`. The worker sends the outcome there; if the task never runs (the pool was
/// terminated), a "kind 3" reply says so instead, so the executor never waits for it forever.
fn _executor_submit(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_executor_submit", args, 3)?;
    // SAFETY: attached; the arguments (and so the pool capsule) are live for this call.
    let (pool, call_args, label) = unsafe {
        let pool: &Arc<Pool> = from_capsule(py, args[0], POOL_CAPSULE)?;
        let call_args = tuple_items(Object::from_borrowed(py, args[1])?.to_value()?, "args")?;
        (pool, call_args, optional_str(py, args[2])?)
    };
    if pool.is_closed() {
        return Err(Error::Closed("pool"));
    }
    let (Some(Value::Channel(replies)), Some(id)) = (call_args.first(), call_args.get(1)) else {
        return Err(type_error("expected (replies, task_id, ...)".into()));
    };
    let guard = ReplyIfDropped(Some((replies.clone(), id.clone())));
    let target = Target {
        module: "csp".into(),
        qualname: "_executor_run".into(),
        main_path: None,
    };
    drop(pool.submit_labelled(label.map(Arc::from), move |py| {
        guard.disarm();
        target.call(py, &call_args)
    }));
    Ok(py.none().into_ptr())
}

/// Sends `(task_id, 3, None)` to the reply channel unless disarmed: the task was dropped
/// without running.
struct ReplyIfDropped(Option<(Channel, Value)>);

impl ReplyIfDropped {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for ReplyIfDropped {
    fn drop(&mut self) {
        if let Some((replies, id)) = self.0.take() {
            let _ = replies.try_send(Value::Tuple(vec![id, Value::from(3), Value::None]));
        }
    }
}

/// The items of a tuple value, or a `TypeError` naming `what`.
fn tuple_items(value: Value, what: &str) -> Result<Vec<Value>> {
    match value {
        Value::Tuple(items) => Ok(items),
        other => Err(type_error(format!(
            "{what} must be a tuple, not {}",
            other.type_name()
        ))),
    }
}

/// `_go_counts() -> (alive, idle)`: the go interpreters.
fn _go_counts(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_go_counts", args, 0)?;
    let (alive, idle) = Runtime::current()?.go_interpreters();
    Ok(py
        .object(&Value::Tuple(vec![alive.into(), idle.into()]))?
        .into_ptr())
}

/// `_shutdown_attached()`: the main interpreter's `atexit` hook. In a process whose CPython
/// another program runs (`python3`), ends the runtime's interpreters before CPython finalises;
/// a no-op where the runtime owns CPython (its `shutdown` does that).
fn _shutdown_attached(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_shutdown_attached", args, 0)?;
    if let Ok(runtime) = Runtime::current() {
        py.allow_threads(move || runtime.shutdown_attached());
    }
    Ok(py.none().into_ptr())
}

/// `_unbounded_channel() -> Channel`: a channel whose sends never wait (reply queues).
fn _unbounded_channel(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_unbounded_channel", args, 0)?;
    Ok(py.object(&Value::Channel(Channel::unbounded()))?.into_ptr())
}

/// `_in_default_pool() -> bool`: whether this thread is a worker of the pool behind `csp.map`.
fn _in_default_pool(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_in_default_pool", args, 0)?;
    let inside = Runtime::current()?.is_default_pool_worker();
    Ok(py.object(&Value::Bool(inside))?.into_ptr())
}

/// `_import_failure(exc)`: a `SubinterpreterImportError` naming the extension module when
/// `exc` (or its cause/context chain) is one that cannot load in an isolated interpreter,
/// else None.
fn _import_failure(py: Python<'_>, args: &[*mut ffi::PyObject]) -> Result<*mut ffi::PyObject> {
    expect_args("_import_failure", args, 1)?;
    // SAFETY: attached; the argument is live for this call.
    let exc = unsafe { Object::from_borrowed(py, args[0])? };
    Ok(match py.incompatible_module(&exc) {
        Some(module) => py.incompatible_module_error(&module)?.into_ptr(),
        None => py.none().into_ptr(),
    })
}
