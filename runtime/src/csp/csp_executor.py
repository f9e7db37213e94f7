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
    ``mp_context`` is accepted and ignored (there are no processes).

    Worker ``n`` is named ``<thread_name_prefix>_<n>``, as ``ThreadPoolExecutor`` names its
    threads (default prefix ``executor-<k>``, ``k`` counting the executors). With
    ``serial=True`` the workers are serial interpreters (no Python threads; see
    ``csp.go_with``).
    """

    def __init__(
        self, max_workers=None, mp_context=None, initializer=None, initargs=(), *,
        max_tasks_per_child=None, thread_name_prefix="", serial=False,
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
        self._running = {}  # id -> future, handed to the pool
        self._ids = _itertools.count()
        self._shutdown = False
        self._broken = None
        self._manager = None
        _live_executors.add(self)

    def submit(self, fn, /, *args, **kwargs):
        return self._submit(fn, args, kwargs, _label(fn))

    submit.__doc__ = _base.Executor.submit.__doc__

    def _submit(self, fn, args, kwargs, label):
        with self._lock:
            if self._broken is not None:
                raise BrokenInterpreterPool(self._broken)
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if _interpreter_exiting:
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            future = _base.Future()
            self._queue.append((future, (_function_spec(fn), args, kwargs, label)))
            if self._start():
                failed = self._feed()
            else:
                self._queue.clear()
                future.set_running_or_notify_cancel()
                failed = [(future, BrokenInterpreterPool(self._broken))]
        _fail(failed)
        return future

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        """Like ``ProcessPoolExecutor.map``: ``chunksize`` items go to a worker at a time."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        if chunksize == 1:
            return super().map(fn, *iterables, timeout=timeout)
        spec, label = _function_spec(fn), _label(fn)
        futures = [self._submit(_run_chunk, (spec, chunk), {}, label)
                   for chunk in _chunks(iterables, chunksize)]
        return _chain_results(futures, timeout)

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                while self._queue:
                    future, _ = self._queue.popleft()
                    future.cancel()
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
            future, (spec, args, kwargs, label) = self._queue.popleft()
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
            self._running[task_id] = future
        return failed

    def _finished(self, task_id):
        """The future of a finished task; feeds the next one."""
        with self._lock:
            future = self._running.pop(task_id, None)
            failed = self._feed()
            done = self._shutdown and not self._running and not self._queue
        _fail(failed)
        if done:
            self._replies.close()
        return future

    def _close_pool(self):
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def __repr__(self):
        state = "shut down" if self._shutdown else f"{len(self._running)} running"
        return f"<csp.InterpreterPoolExecutor max_workers={self._max_workers} {state}>"


def _fail(failed):
    for future, error in failed:
        future.set_exception(error)


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
        future = executor._finished(task_id)
        del executor
        if future is None:
            continue
        if kind == 0:
            future.set_result(_plain(payload))
        elif kind == 1:
            future.set_result(_pickle.loads(payload))
        elif kind == 2:
            future.set_exception(_remote_exception(*payload))
        else:
            future.set_exception(BrokenInterpreterPool(
                "the executor's interpreters were shut down before the task ran"
            ))
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
