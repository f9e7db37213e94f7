"""Parallel Python on own-GIL subinterpreters, in the style of CSP.

This module is built into every interpreter that subinterp starts (the main one and every
subinterpreter):

- ``Channel(capacity=0)``: channels between interpreters (0 = rendezvous), with ``send``,
  ``recv``, their ``_nowait`` forms, timeouts, ``close`` and iteration; ``select`` over several
  channel operations.
- ``go(func, *args, **kwargs)``: runs ``func`` on an interpreter of its own, like a goroutine;
  ``go_with(func, args, kwargs, *, name=None, serial=False)`` does the same with options.
- ``Pool`` and ``map``: a fixed set of interpreters for parallel work.
- ``current_interpreter()``, ``current_interpreter_name()`` and ``interpreters()``: which
  interpreter runs this code, and every live one with its name and what it does.
- ``InterpreterPoolExecutor``: a ``concurrent.futures`` executor (a drop-in for
  ``ProcessPoolExecutor``).

Functions cross to other interpreters by reference: their module and qualified name, imported
on the other side; functions of the main script work as with multiprocessing's spawn (the
script is imported there as ``__mp_main__``, so keep its main part under
``if __name__ == "__main__":``). Arguments, results and messages cross as shareable values:
None, bool, int, float, complex, str, bytes, channels, and tuples or frozensets of them (the
executor also pickles anything else). Large bytes arrive as ``SharedBytes``, a read-only
bytes-like view of the same memory (no copy).

Every interpreter has a name, which its OS thread carries (the first 15 bytes) and which a
traceback crossing from it shows: ``go:<function>`` while a go task runs, ``pool-<n>``,
``executor-<k>_<n>``, ``map-<n>``, or the name given. A serial interpreter (``serial=True``)
refuses Python threads, with a RuntimeError naming serial mode; no subinterpreter can fork or
exec.
"""

import sys as _sys

__all__ = [
    "CLOSED",
    "Channel",
    "ChannelClosed",
    "Empty",
    "Full",
    "InterpreterInfo",
    "InterpreterPoolExecutor",
    "NotShareableError",
    "Pool",
    "ProcessFallbackWarning",
    "SHARED_BYTES_THRESHOLD",
    "SharedBytes",
    "SubinterpreterImportError",
    "Task",
    "current_interpreter",
    "current_interpreter_name",
    "go",
    "go_with",
    "interpreters",
    "map",
    "select",
]

# Set while this interpreter imports the main script for a task.
_loading_main = False


def _target(func):
    """``(module, qualname, main_path)`` naming ``func`` so another interpreter can import it."""
    if isinstance(func, str):
        module, sep, qualname = func.partition(":")
        if not sep or not module or not qualname:
            raise ValueError(
                f"invalid target {func!r}: expected 'module:function', e.g. 'math:factorial'"
            )
        return module, qualname, None
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise TypeError(
            f"cannot send {func!r} to another interpreter: only functions and classes that "
            "can be imported by name cross (by module and qualified name)"
        )
    if "<" in qualname:
        raise TypeError(
            f"cannot send {module}.{qualname} to another interpreter: lambdas and nested "
            "functions cannot be imported by name; define it at the top level of a module"
        )
    bound_to = getattr(func, "__self__", None)
    if bound_to is not None and not isinstance(bound_to, type(_sys)):
        raise TypeError(
            f"cannot send the bound method {module}.{qualname} to another interpreter: only "
            "functions and classes cross by name; pass the object's data and call a function"
        )
    main = None
    if module in ("__main__", "__mp_main__"):
        main = getattr(_sys.modules.get(module), "__file__", None)
        if main is None:
            raise TypeError(
                f"cannot send {qualname} from {module} to another interpreter: {module} has "
                "no file to import there; run a script file or put the function in a module"
            )
        module = "__mp_main__"
    return module, qualname, main


def _setup_code(setup):
    """Code run once in each new worker: this interpreter's sys.path, then ``setup``."""
    code = f"import sys\nsys.path[:] = {list(_sys.path)!r}\n"
    if setup is not None:
        if not isinstance(setup, str):
            raise TypeError(f"setup must be a str of Python code, not {type(setup).__name__}")
        code += setup + "\n"
    return code


class _Closed:
    """What select() returns as the value of a receive from a closed, drained channel."""

    __slots__ = ()

    def __repr__(self):
        return "csp.CLOSED"

    def __reduce__(self):
        return "CLOSED"


CLOSED = _Closed()

_NO_DEFAULT = object()


def select(*cases, timeout=None, default=_NO_DEFAULT):
    """Waits until one of several channel operations can complete, completes it, and returns
    ``(channel, value)``.

    A case is a channel, to receive from it, or a ``(channel, value)`` pair, to send the value
    on it (then the returned value is None). Among cases ready together one is chosen at
    random. A receive from a closed, drained channel completes with the value ``CLOSED`` (so a
    loop can drop that channel); a send on a closed channel raises ``ChannelClosed``.

    With ``default``, nothing ready (within ``timeout`` if given, else right now) returns
    ``(None, default)``. Without it, a ``timeout`` (seconds) that passes raises TimeoutError.
    """
    if not cases:
        raise ValueError("select() needs at least one case")
    block = default is _NO_DEFAULT or timeout is not None
    done = _select(cases, timeout, block)
    if done is None:
        if default is _NO_DEFAULT:
            raise TimeoutError(f"no channel operation completed within {timeout} s")
        return None, default
    channel, value, closed = done
    return channel, (CLOSED if closed else value)


def go(func, /, *args, **kwargs):
    """Runs ``func(*args, **kwargs)`` on an interpreter of its own and returns its
    :class:`Task`.

    Like a goroutine, ``go`` never waits for a free worker: it takes an idle interpreter left
    by an earlier ``go`` (idle ones are destroyed after a while) or starts a new one. So stages
    that block on each other, connected by channels, all run. Arguments and the result must
    be shareable (channels are). While the task runs, its interpreter is named
    ``go:<qualified name of func>``; :func:`go_with` gives another name, or serial mode.
    """
    if _loading_main:
        raise RuntimeError(
            "csp.go was called while a worker imported the main script for a task: put the "
            "main part of the script under `if __name__ == '__main__':`"
        )
    module, qualname, main = _target(func)
    return Task(_go(module, qualname, main, args, tuple(kwargs.items()), _setup_code(None),
                    None, False))


def go_with(func, args=(), kwargs=None, *, name=None, serial=False):
    """:func:`go` with options: runs ``func(*args, **kwargs)`` on an interpreter of its own and
    returns its :class:`Task`.

    The arguments come as a tuple and a dict, as ``threading.Thread`` takes them, so that the
    options never collide with ``func``'s own keywords (``go`` passes every keyword on).
    ``name`` names the interpreter while the task runs (default ``go:<qualified name>``; its
    OS thread carries the first 15 bytes). With ``serial=True`` the task runs on a serial
    interpreter: starting a Python thread there raises RuntimeError, as do ``os.fork()`` and
    ``os.exec*()`` (as in every subinterpreter). Serial interpreters are created afresh (not
    taken ready-made) and reused only by serial tasks.
    """
    if _loading_main:
        raise RuntimeError(
            "csp.go_with was called while a worker imported the main script for a task: put "
            "the main part of the script under `if __name__ == '__main__':`"
        )
    _check_name(name)
    module, qualname, main = _target(func)
    kwargs = {} if kwargs is None else dict(kwargs)
    return Task(_go(module, qualname, main, tuple(args), tuple(kwargs.items()),
                    _setup_code(None), name, bool(serial)))


def _check_name(name, what="name"):
    if name is None:
        return
    if type(name) is not str:
        raise TypeError(f"{what} must be a str or None, not {type(name).__name__}")
    if not name or "\0" in name:
        raise ValueError(f"{what} must be non-empty and without NUL characters: {name!r}")


class InterpreterInfo:
    """One live interpreter, as :func:`interpreters` lists it.

    ``id`` and ``name`` (as :func:`current_interpreter` and :func:`current_interpreter_name`
    give them inside), ``serial`` (serial mode), ``state`` (``"idle"`` or ``"running"``),
    ``task`` (what it runs: ``"module:function"``, ``"exec"``, ...; None when idle) and
    ``since`` (when it entered that state, in :func:`time.monotonic` seconds).
    """

    __slots__ = ("id", "name", "serial", "state", "task", "since")

    def __init__(self, id, name, serial, state, task, since):
        self.id = id
        self.name = name
        self.serial = serial
        self.state = state
        self.task = task
        self.since = since

    def __repr__(self):
        import time

        what = self.state if self.task is None else f"{self.state} {self.task}"
        serial = " serial" if self.serial else ""
        return (f"<csp.InterpreterInfo {self.id} {self.name!r}{serial} {what} for "
                f"{time.monotonic() - self.since:.1f} s>")


def interpreters():
    """Every interpreter alive now besides the main one, by id, as :class:`InterpreterInfo`
    records: go interpreters, pool and executor workers, the ready-made (``warm``) ones."""
    import time

    rows = _interpreters()
    now = time.monotonic()
    return [
        InterpreterInfo(id, name, serial, state, task, now - seconds)
        for id, name, serial, state, task, seconds in rows
    ]


class Task:
    """The pending result of a function submitted to a :class:`Pool` or run by :func:`go`."""

    __slots__ = ("_task",)

    def __init__(self, task):
        self._task = task

    def result(self, timeout=None):
        """The function's return value, waiting for it (without holding the GIL).

        An exception in the function is re-raised here (as the builtin exception of the same
        name, else RuntimeError), with the remote traceback attached as a note. With a
        timeout in seconds, raises TimeoutError if the task is not done by then; the task
        keeps running (see :meth:`interrupt`).
        """
        return _task_result(self._task, timeout)

    def done(self):
        """Whether the result is ready."""
        return _task_done(self._task)

    def interrupt(self):
        """Raises KeyboardInterrupt in the task if it is running; returns whether it did."""
        return _task_interrupt(self._task)

    def __repr__(self):
        return f"<csp.Task {'done' if self.done() else 'pending'}>"


class Pool:
    """``workers`` own-GIL interpreters (default: one per core) running submitted functions
    in parallel.

    ``setup`` is Python code each interpreter runs once when it starts (e.g. imports). Worker
    ``n`` is named ``<name>-<n>`` (default ``pool-<n>``). With ``serial=True`` the workers are
    serial interpreters (no Python threads; see :func:`go_with`). Use it as a context manager,
    or call :meth:`close`, to destroy the interpreters (a ``with`` block left by an exception
    terminates the pool instead of waiting for its tasks).
    """

    def __init__(self, workers=None, *, setup=None, name=None, serial=False):
        if _loading_main:
            raise RuntimeError(
                "csp.Pool was created while a worker imported the main script for a task: "
                "put the main part of the script under `if __name__ == '__main__':`"
            )
        if workers is not None and (type(workers) is not int or workers < 1):
            raise ValueError(f"workers must be a positive int or None, not {workers!r}")
        _check_name(name)
        prefix = None if name is None else f"{name}-"
        self._pool = _pool_new(workers, _setup_code(setup), None, prefix, bool(serial))

    @classmethod
    def _wrap(cls, pool):
        self = cls.__new__(cls)
        self._pool = pool
        return self

    @property
    def workers(self):
        """The number of interpreters."""
        return _pool_workers(self._pool)

    def submit(self, func, /, *args):
        """Schedules ``func(*args)`` on a free interpreter and returns its :class:`Task`."""
        module, qualname, main = _target(func)
        return Task(_pool_submit(self._pool, module, qualname, main, args))

    def map(self, func, iterable, *, timeout=None):
        """``[func(x) for x in iterable]``, computed in parallel; results in order."""
        return self.starmap(func, ((item,) for item in iterable), timeout=timeout)

    def starmap(self, func, iterable, *, timeout=None):
        """``[func(*args) for args in iterable]``, computed in parallel; results in order."""
        module, qualname, main = _target(func)
        tasks = [_pool_submit(self._pool, module, qualname, main, tuple(args)) for args in iterable]
        return [_task_result(task, timeout) for task in tasks]

    def close(self):
        """Finishes the queued tasks and destroys the interpreters; submitting afterwards
        raises RuntimeError."""
        _pool_close(self._pool, False)

    def terminate(self):
        """Stops now: queued tasks fail, running ones are interrupted (KeyboardInterrupt in
        them), then the interpreters are destroyed."""
        _pool_close(self._pool, True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        # Leaving on an exception (e.g. Ctrl-C) must not wait for the remaining tasks.
        if exc_type is None:
            self.close()
        else:
            self.terminate()

    def __repr__(self):
        return f"<csp.Pool workers={self.workers}>"


def map(func, iterable, *, workers=None):
    """``[func(x) for x in iterable]`` computed in parallel on a pool of interpreters.

    Without ``workers``, a pool shared by the whole process (one interpreter per core) is
    used; inside a pool worker the items are computed right there instead, since waiting on
    the shared pool from one of its workers could wait forever. With ``workers``, a new pool
    of that size is created for this call.
    """
    if workers is None:
        if _in_default_pool():
            return [func(item) for item in iterable]
        return Pool._wrap(_default_pool(_setup_code(None))).map(func, iterable)
    with Pool(workers) as pool:
        return pool.map(func, iterable)


# Main scripts imported in this interpreter, by path.
_main_modules = {}


def _main_module(path):
    """The script at ``path``, imported once as ``__mp_main__`` (for its functions)."""
    global _loading_main
    module = _main_modules.get(path)
    if module is not None:
        return module
    import importlib.util

    spec = importlib.util.spec_from_file_location("__mp_main__", path)
    module = importlib.util.module_from_spec(spec)
    _sys.modules["__mp_main__"] = module
    _loading_main = True
    try:
        spec.loader.exec_module(module)
    except BaseException:
        _sys.modules.pop("__mp_main__", None)
        raise
    finally:
        _loading_main = False
    # Importing multiprocessing aliases __mp_main__ to __main__: set it again.
    _sys.modules["__mp_main__"] = _main_modules[path] = module
    return module


# -- the workers' half of InterpreterPoolExecutor (its class is in csp_executor.py) --------

_EXECUTOR_NAMES = frozenset({
    "InterpreterPoolExecutor", "RemoteTraceback", "BrokenInterpreterPool",
    "ProcessFallbackWarning",
})


def __getattr__(name):
    """Defines the executor on first use, so ``import csp`` stays cheap."""
    if name not in _EXECUTOR_NAMES:
        raise AttributeError(f"module 'csp' has no attribute {name!r}")
    namespace = globals()
    if "InterpreterPoolExecutor" not in namespace:
        exec(compile(_EXECUTOR_SOURCE, "<csp executor>", "exec"), namespace)
    return namespace[name]


def _plain(value):
    """``value`` with SharedBytes turned into bytes, as pickling would deliver them (the
    executor promises ProcessPoolExecutor's types)."""
    kind = type(value)
    if kind is SharedBytes:
        return bytes(value)
    if kind is tuple:
        return tuple(_plain(item) for item in value)
    if kind is frozenset:
        return frozenset(_plain(item) for item in value)
    return value


def _resolve(spec):
    """The callable a ``(module, qualname, main, pickled)`` spec names."""
    module, qualname, main, pickled = spec
    if pickled is not None:
        import pickle

        return pickle.loads(pickled)
    if main is not None:
        obj = _main_module(main)
    else:
        import importlib

        obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _clearer(exc):
    """``exc``, or the SubinterpreterImportError (caused by it) that says which extension
    module could not load in this isolated interpreter and why."""
    clear = _import_failure(exc)
    if clear is None:
        return exc
    clear.__cause__ = exc
    return clear


def _exception_payload(exc):
    """``(pickled or None, type name, message, traceback, (interpreter id, name))`` of an
    exception."""
    import traceback

    tb = "".join(traceback.format_exception(exc))
    try:
        import pickle

        pickled = pickle.dumps(exc)
    except Exception:
        pickled = None
    kind = type(exc)
    origin = (current_interpreter(), current_interpreter_name())
    return (pickled, f"{kind.__module__}.{kind.__qualname__}", str(exc), tb, origin)


def _executor_run(replies, task_id, module, qualname, main, pickled_fn, args, kwargs,
                  pickled_args):
    """Runs one executor call in a worker and sends ``(task_id, kind, payload)`` back: kind
    0 is a shareable result, 1 a pickled result, 2 an exception."""
    try:
        fn = _resolve((module, qualname, main, pickled_fn))
        if pickled_args is not None:
            import pickle

            args, kwargs = pickle.loads(pickled_args)
        else:
            args, kwargs = _plain(args), {name: _plain(value) for name, value in kwargs}
        result = fn(*args, **kwargs)
        reply = (task_id, 0, result)
    except BaseException as e:
        reply = (task_id, 2, _exception_payload(_clearer(e)))
    try:
        try:
            replies.send(reply)
        except NotShareableError:
            import pickle

            try:
                reply = (task_id, 1, pickle.dumps(result))
            except Exception as e:
                reply = (task_id, 2, _exception_payload(e))
            replies.send(reply)
    except ChannelClosed:
        pass  # The executor is gone; nobody wants the result.


def _run_chunk(spec, chunk):
    """``map`` with a chunksize: the results of one chunk of argument tuples."""
    return _call_chunk(_resolve(spec), chunk)


def _call_chunk(fn, chunk):
    """The results of ``fn`` on each argument tuple of a ``map`` chunk (also on the executor's
    process workers, which import ``csp`` to find this function)."""
    return tuple(fn(*args) for args in chunk)


def _executor_setup_code(initializer, initargs):
    """Code each executor worker runs first: the caller's sys.path, the main script as
    ``__main__`` (as multiprocessing's spawn does, so pickles naming ``__main__`` resolve),
    then the initializer."""
    import os

    main = getattr(_sys.modules.get("__main__"), "__file__", None)
    if main is not None and not os.path.isfile(main):
        main = None  # e.g. `python -m csp.check`: its `<csp.check>` is not a file to import
    init = None
    if initializer is not None:
        import pickle

        init = (initializer, pickle.dumps(tuple(initargs)))
    return _setup_code(None) + f"import csp\ncsp._executor_worker_init({main!r}, {init!r})\n"


def _executor_worker_init(main, init):
    if main is not None:
        try:
            _sys.modules["__main__"] = _main_module(main)
        except ImportError as e:
            # The script imports a module that cannot load here: its tasks fail with the
            # clear error when they need it (and the executor runs them on processes).
            if _import_failure(e) is None:
                raise
    if init is not None:
        import pickle

        spec, initargs = init
        _resolve(spec)(*pickle.loads(initargs))


# -- submodules written in Python (csp.check), embedded in the extension ----------------

__path__ = []  # A package, so that `python -m csp.check` and `import csp.check` work.


class _SubmoduleLoader:
    """Finds and loads ``csp``'s Python submodules from the sources the extension carries."""

    _csp_submodules = True

    @staticmethod
    def _source(fullname):
        return {"csp.check": _CHECK_SOURCE}.get(fullname)

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if not fullname.startswith("csp.") or cls._source(fullname) is None:
            return None
        return type(_sys.__spec__)(fullname, cls, origin=f"<{fullname}>")

    @staticmethod
    def create_module(spec):
        return None

    @classmethod
    def exec_module(cls, module):
        exec(cls.get_code(module.__name__), module.__dict__)

    @classmethod
    def get_code(cls, fullname):
        return compile(cls._source(fullname), f"<{fullname}>", "exec")

    @classmethod
    def get_source(cls, fullname):
        return cls._source(fullname)

    @staticmethod
    def is_package(fullname):
        return False


if not any(getattr(finder, "_csp_submodules", False) for finder in _sys.meta_path):
    _sys.meta_path.append(_SubmoduleLoader)


if current_interpreter() == 0:
    # In a process that plain `python3` started, the runtime's interpreters must end before
    # CPython finalises (after threading's exit hooks, which let executors finish).
    import atexit as _atexit

    _atexit.register(_shutdown_attached)
    del _atexit
