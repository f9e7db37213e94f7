"""Parallel Python on own-GIL subinterpreters.

This module is built into every interpreter that subinterp starts (the main one and every
subinterpreter). Functions cross to other interpreters by reference: their module and
qualified name, imported on the other side; functions of the main script work as with
multiprocessing's spawn (the script is imported there as ``__mp_main__``, so keep its main
part under ``if __name__ == "__main__":``). Arguments and results cross as shareable values:
None, bool, int, float, complex, str, bytes, and tuples or frozensets of them. Large bytes
arrive as ``SharedBytes``, a read-only bytes-like view of the same memory (no copy).
"""

import sys as _sys

__all__ = [
    "Pool",
    "SHARED_BYTES_THRESHOLD",
    "SharedBytes",
    "Task",
    "current_interpreter",
    "map",
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


class Task:
    """The pending result of a function submitted to a :class:`Pool`."""

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

    ``setup`` is Python code each interpreter runs once when it starts (e.g. imports). Use it
    as a context manager, or call :meth:`close`, to destroy the interpreters (a ``with`` block
    left by an exception terminates the pool instead of waiting for its tasks).
    """

    def __init__(self, workers=None, *, setup=None):
        if _loading_main:
            raise RuntimeError(
                "csp.Pool was created while a worker imported the main script for a task: "
                "put the main part of the script under `if __name__ == '__main__':`"
            )
        if workers is not None and (type(workers) is not int or workers < 1):
            raise ValueError(f"workers must be a positive int or None, not {workers!r}")
        self._pool = _pool_new(workers, _setup_code(setup))

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
