# The caller's half of csp.InterpreterPoolExecutor, run in the namespace of the csp module the
# first time one of its names is used (so that `import csp` does not import concurrent.futures).
# The workers' half (_executor_run, _run_chunk, _executor_setup) is in csp.py.

import itertools as _itertools
import pickle as _pickle
import threading as _threading
import weakref as _weakref
from collections import deque as _deque
from concurrent.futures import _base

# Executors that may still have work, for the interpreter-exit hook.
_live_executors = _weakref.WeakSet()
_interpreter_exiting = False


def _at_exit():
    """Like ProcessPoolExecutor at exit: finish the submitted work, then stop."""
    global _interpreter_exiting
    _interpreter_exiting = True
    for executor in list(_live_executors):
        executor.shutdown(wait=True)


_threading._register_atexit(_at_exit)


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker interpreter, attached as the
    ``__cause__`` of the exception re-raised in the caller; ``interpreter`` is that worker's
    ``(id, name)``."""

    def __init__(self, tb, interpreter=None):
        self.tb = tb
        self.interpreter = interpreter

    def __str__(self):
        return self.tb


class BrokenInterpreterPool(_base.BrokenExecutor):
    """The executor's interpreters could not start (e.g. the initializer raised)."""


class ProcessFallbackWarning(RuntimeWarning):
    """Tasks of a function now run on the executor's process workers, because a module they
    import cannot load in an isolated interpreter (see ``InterpreterPoolExecutor.fallbacks``).
    """


def _function_spec(fn):
    """How ``fn`` reaches a worker: by name when it can be imported there, else pickled."""
    try:
        module, qualname, main = _target(fn)
    except TypeError:
        try:
            return (None, None, None, _pickle.dumps(fn))
        except Exception as e:
            raise TypeError(
                f"cannot send {fn!r} to an interpreter: it is neither importable by name nor "
                f"picklable ({e})"
            ) from e
    return (module, qualname, main, None)


def _label(fn):
    """What the interpreter listing shows a worker running for ``fn``."""
    module = getattr(fn, "__module__", None)
    if module == "__mp_main__":
        module = "__main__"
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}:{qualname}" if isinstance(module, str) else qualname


_executor_counter = _itertools.count()


def _chunks(iterables, size):
    """Tuples of ``size`` argument tuples from zipped iterables."""
    zipped = zip(*iterables)
    while chunk := tuple(_itertools.islice(zipped, size)):
        yield chunk


class InterpreterPoolExecutor(_base.Executor):
    """A ``concurrent.futures`` executor running calls on a pool of own-GIL interpreters,
    in parallel on every core. A drop-in for ``ProcessPoolExecutor``: same arguments, real
    ``Future`` objects (``as_completed``, ``wait``), exceptions re-raised with the worker's
    traceback as their ``__cause__``, results in order from ``map``.

    Functions cross by module and qualified name (those of the main script as with
    multiprocessing's spawn, so keep the script's main part under
    ``if __name__ == "__main__":``); other callables (partials, bound methods) are pickled.
    Shareable arguments and results cross natively, anything else is pickled.
    ``mp_context`` is accepted and ignored (there are no processes, except for fallback).

    A task that fails only because a module it imports cannot load in an isolated interpreter
    (a C extension without per-interpreter GIL support: ``SubinterpreterImportError``) runs
    again on a process worker, as ``ProcessPoolExecutor`` would run it, and so do the later
    tasks of the same function: with ``fallback="process"`` (the default) the executor owns a
    spawn-context process pool, created on first need and shut down with the executor, warns
    once per function (``ProcessFallbackWarning``) and records it in :attr:`fallbacks`. Their
    arguments and results are pickled; a ``csp.Channel`` cannot go to a process and fails the
    task with a TypeError. ``fallback="error"`` raises the ``SubinterpreterImportError``
    instead.

    Worker ``n`` is named ``<thread_name_prefix>_<n>``, as ``ThreadPoolExecutor`` names its
    threads (default prefix ``executor-<k>``, ``k`` counting the executors). With
    ``serial=True`` the workers are serial interpreters (no Python threads; see
    ``csp.go_with``).
    """

    def __init__(
        self, max_workers=None, mp_context=None, initializer=None, initargs=(), *,
        max_tasks_per_child=None, thread_name_prefix="", serial=False, fallback="process",
    ):
        if _loading_main:
            raise RuntimeError(
                "InterpreterPoolExecutor was created while a worker imported the main script: "
                "put the main part of the script under `if __name__ == '__main__':`"
            )
        if max_workers is None:
            import os

            max_workers = os.process_cpu_count() or 1
        elif type(max_workers) is not int or max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if max_tasks_per_child is not None:
            if type(max_tasks_per_child) is not int:
                raise TypeError("max_tasks_per_child must be an integer")
            if max_tasks_per_child <= 0:
                raise ValueError("max_tasks_per_child must be >= 1")
        _check_name(thread_name_prefix or None, "thread_name_prefix")
        if fallback not in ("process", "error"):
            raise ValueError(f"fallback must be 'process' or 'error', not {fallback!r}")
        self._fallback = fallback
        self._initializer, self._initargs = initializer, tuple(initargs)
        self._process_pool = None
        self._processes_closed = False
        self._fallbacks = {}  # function key -> (label, module that cannot load)
        self._max_workers = max_workers
        self._max_tasks_per_child = max_tasks_per_child
        self._thread_name_prefix = thread_name_prefix or f"executor-{next(_executor_counter)}"
        self._serial = bool(serial)
        self._setup = _executor_setup_code(
            None if initializer is None else _function_spec(initializer), initargs
        )
        self._pool = None
        self._replies = _unbounded_channel()
        self._lock = _threading.Lock()
        self._queue = _deque()  # (future, task arguments) not handed to the pool yet
        self._running = {}  # id -> (future, local call), handed to the pool
        self._ids = _itertools.count()
        self._shutdown = False
        self._broken = None
        self._manager = None
        _live_executors.add(self)

    def submit(self, fn, /, *args, **kwargs):
        spec = _function_spec(fn)
        return self._submit(spec, args, kwargs, _label(fn), (spec, fn, args, kwargs))

    submit.__doc__ = _base.Executor.submit.__doc__

    @property
    def fallbacks(self):
        """The functions whose tasks run on process workers, as ``{"module:function":
        "the extension module that cannot load in an isolated interpreter"}``."""
        with self._lock:
            return dict(self._fallbacks.values())

    def _submit(self, spec, args, kwargs, label, local):
        """Queues the call of the function ``spec`` names; ``local`` is ``(key, fn, args,
        kwargs)``: the same call made on a process worker if it falls back."""
        with self._lock:
            if self._broken is not None:
                raise BrokenInterpreterPool(self._broken)
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if _interpreter_exiting:
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            future = _base.Future()
            if local[0] in self._fallbacks:
                future.set_running_or_notify_cancel()
                failed = None
            else:
                self._queue.append((future, (spec, args, kwargs, label), local))
                if self._start():
                    failed = self._feed()
                else:
                    self._queue.clear()
                    future.set_running_or_notify_cancel()
                    failed = [(future, BrokenInterpreterPool(self._broken))]
        if failed is None:
            self._run_in_process(future, local)
        else:
            _fail(failed)
        return future

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        """Like ``ProcessPoolExecutor.map``: ``chunksize`` items go to a worker at a time."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        if chunksize == 1:
            return super().map(fn, *iterables, timeout=timeout)
        spec, label = _function_spec(fn), _label(fn)
        run_chunk = _function_spec(_run_chunk)
        futures = [
            self._submit(run_chunk, (spec, chunk), {}, label, (spec, _call_chunk, (fn, chunk), {}))
            for chunk in _chunks(iterables, chunksize)
        ]
        return _chain_results(futures, timeout)

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                while self._queue:
                    future, _, _ = self._queue.popleft()
                    future.cancel()
                if self._process_pool is not None:
                    self._process_pool.shutdown(wait=False, cancel_futures=True)
            idle = not self._running and not self._queue
            manager = self._manager
        if idle:
            self._replies.close()  # Ends the manager (there is nothing left to wait for).
            if manager is None:
                self._close_pool()
        if wait and manager is not None:
            manager.join()

    shutdown.__doc__ = _base.Executor.shutdown.__doc__

    # -- internals ------------------------------------------------------------------------

    def _start(self):
        """Creates the interpreters and the manager thread on first use (lock held); returns
        False if they could not start (the executor is then broken)."""
        if self._pool is not None:
            return True
        try:
            self._pool = Pool._wrap(_pool_new(
                self._max_workers, self._setup, self._max_tasks_per_child,
                f"{self._thread_name_prefix}_", self._serial,
            ))
        except Exception as e:
            self._broken = f"the executor's interpreters could not start: {e}"
            return False
        _sys.modules.setdefault("__mp_main__", _sys.modules.get("__main__"))
        self._manager = _threading.Thread(
            target=_manage, args=(_weakref.ref(self), self._replies),
            name="csp-executor-manager",
        )
        self._manager.start()
        return True

    def _feed(self):
        """Hands queued work to the pool, one task per worker plus one (lock held): a future
        is running once handed over, and until then it can be cancelled. Returns the futures
        whose arguments could not be sent, with the error, to fail once the lock is released
        (their callbacks may use the executor)."""
        failed = []
        while self._queue and len(self._running) <= self._max_workers:
            future, (spec, args, kwargs, label), local = self._queue.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            task_id = next(self._ids)
            head = (self._replies, task_id) + spec
            try:
                try:
                    # Shareable arguments cross natively...
                    _executor_submit(self._pool._pool,
                                     head + (args, tuple(kwargs.items()), None), label)
                except NotShareableError:
                    # ...anything else is pickled, as ProcessPoolExecutor does.
                    _executor_submit(self._pool._pool,
                                     head + (None, None, _pickle.dumps((args, kwargs))), label)
            except Exception as e:
                failed.append((future, e))
                continue
            self._running[task_id] = (future, local)
        return failed

    def _finished(self, task_id):
        """``(future, local call)`` of a finished task (None if unknown); feeds the next
        one."""
        with self._lock:
            running = self._running.pop(task_id, None)
            failed = self._feed()
            done = self._shutdown and not self._running and not self._queue
        _fail(failed)
        if done:
            self._replies.close()
        return running

    def _close_pool(self):
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        with self._lock:
            processes, self._process_pool = self._process_pool, None
            self._processes_closed = True
        if processes is not None:
            processes.shutdown(wait=True)

    # -- the process fallback ---------------------------------------------------------------

    def _fall_back(self, future, local, error):
        """Runs a task that failed with ``error`` (a SubinterpreterImportError) again on a
        process worker, and routes the later tasks of its function there."""
        key, fn, args, _ = local
        label = _label(args[0] if fn is _call_chunk else fn)
        with self._lock:
            first = key not in self._fallbacks
            self._fallbacks[key] = (label, error.module)
        if first:
            import warnings

            warnings.warn(
                f"csp.InterpreterPoolExecutor: tasks of {label} now run on process workers: "
                f"{error.package} cannot load in an isolated interpreter ({error.module}: "
                f"{error.reason}); fallback='error' raises instead",
                ProcessFallbackWarning, stacklevel=2,
            )
        self._run_in_process(future, local)

    def _run_in_process(self, future, local):
        """Runs ``local``'s call on the process pool and completes ``future`` (running) with
        its outcome."""
        key, fn, args, kwargs = local
        try:
            _refuse_channels(args, kwargs, self._fallbacks.get(key, (None, None))[1])
            process_future = self._processes().submit(fn, *args, **kwargs)
        except BaseException as e:
            future.set_exception(e)
            return
        process_future.add_done_callback(lambda done: _copy_outcome(done, future))

    def _processes(self):
        """The spawn-context process pool of the fallback, created on first use."""
        with self._lock:
            if self._processes_closed:
                raise RuntimeError("cannot run a task on a process worker after shutdown")
            if self._process_pool is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                self._process_pool = ProcessPoolExecutor(
                    self._max_workers, multiprocessing.get_context("spawn"),
                    self._initializer, self._initargs,
                    max_tasks_per_child=self._max_tasks_per_child,
                )
            return self._process_pool

    def __repr__(self):
        state = "shut down" if self._shutdown else f"{len(self._running)} running"
        return f"<csp.InterpreterPoolExecutor max_workers={self._max_workers} {state}>"


def _fail(failed):
    for future, error in failed:
        future.set_exception(error)


def _copy_outcome(source, target):
    """Completes ``target`` as the finished ``source`` completed."""
    if source.cancelled():
        target.set_exception(RuntimeError("the process worker's task was cancelled"))
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())


def _refuse_channels(args, kwargs, module):
    """A TypeError if a channel is among a fallback task's arguments."""
    stack = [args, tuple(kwargs.values())]
    while stack:
        for item in stack.pop():
            if isinstance(item, Channel):
                raise TypeError(
                    f"a csp.Channel cannot go to a process worker: this task runs on one "
                    f"because {module} cannot load in an isolated interpreter; pass the channel's "
                    "data instead, or use a module that loads in interpreters"
                )
            if isinstance(item, (tuple, list, frozenset, set)):
                stack.append(tuple(item))
            elif isinstance(item, dict):
                stack.append(tuple(item.values()))


def _chain_results(futures, timeout):
    """The results of ``futures`` (chunks of results) in order, as ``Executor.map`` yields
    them: waits at most ``timeout`` in all, cancels the rest on an error."""
    import time

    deadline = None if timeout is None else time.monotonic() + timeout

    def results():
        try:
            futures.reverse()
            while futures:
                future = futures.pop()
                left = None if deadline is None else deadline - time.monotonic()
                yield from future.result(left)
        finally:
            for future in futures:
                future.cancel()

    return results()


def _manage(executor_ref, replies):
    """The manager thread: completes futures as results come back, until the executor is
    shut down (or gone) and nothing runs any more; then closes the pool."""
    for task_id, kind, payload in replies:
        executor = executor_ref()
        if executor is None:
            continue
        running = executor._finished(task_id)
        if running is None:
            continue
        future, local = running
        if kind == 0:
            future.set_result(_plain(payload))
        elif kind == 1:
            future.set_result(_pickle.loads(payload))
        elif kind == 2:
            error = _remote_exception(*payload)
            if isinstance(error, SubinterpreterImportError) and executor._fallback == "process":
                executor._fall_back(future, local, error)
            else:
                future.set_exception(error)
        else:
            future.set_exception(BrokenInterpreterPool(
                "the executor's interpreters were shut down before the task ran"
            ))
        del executor
    executor = executor_ref()
    if executor is not None:
        executor._close_pool()


def _remote_exception(pickled, type_name, message, tb, origin):
    """The exception a worker raised, with its traceback (naming the worker's interpreter,
    ``origin`` = (id, name)) as ``__cause__``."""
    exc = None
    if pickled is not None:
        try:
            exc = _pickle.loads(pickled)
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        exc = RuntimeError(f"{type_name}: {message}")
    interpreter_id, name = origin
    text = f"Traceback in interpreter {interpreter_id} '{name}':\n{tb}"
    exc.__cause__ = RemoteTraceback(f'\n"""\n{text}"""', origin)
    return exc
