"""The worker process's half of csp_dask: the executor a Dask worker hands its tasks to.

For an executor that is not a thread pool, ``distributed.worker.Worker.execute`` calls
``loop.run_in_executor(executor, _run_task_simple, run_spec, data, delay)``: the task's graph
node, the values of its dependencies and the scheduler's clock offset, expecting back a
message (a dict) saying what happened. ``_run_task_simple`` lives in ``distributed``, which
cannot be imported in an isolated interpreter, so this executor recognises that call and sends
the task itself instead: ``(run_spec, data)`` pickled with cloudpickle (lambdas and closures
cross by value, as Dask sends them) to ``csp_dask._run.run_task`` in an interpreter, which
needs only ``dask``. The reply comes back as bytes and numbers, and the message is built here,
in the worker's own interpreter, with ``distributed``'s helpers (``sizeof``,
``error_message``). Every other call (the worker's own benchmarks, ...) runs on threads when it
comes from ``distributed`` and on the interpreters otherwise.
"""

import concurrent.futures
import logging
import sys
import threading
import types

from . import _run

logger = logging.getLogger("csp_dask")

FALLBACKS = ("processes", "threads", None)


def _is_dask_task_call(fn):
    return (
        getattr(fn, "__module__", None) == "distributed.worker"
        and getattr(fn, "__qualname__", None) == "_run_task_simple"
    )


def _from_distributed(fn):
    module = getattr(fn, "__module__", None) or ""
    return module == "distributed" or module.startswith("distributed.")


def _new_interpreter_pool(max_workers, name):
    """A ``csp.InterpreterPoolExecutor`` whose workers do not import the main script.

    The executor makes its workers import the caller's ``__main__`` script (as
    multiprocessing's spawn does), so that pickles naming ``__main__`` resolve. In a Dask
    worker that script is ``dask worker`` itself, or a user's script that imports
    ``distributed`` at the top, which cannot load in an isolated interpreter: the pool would
    not start. Dask never needs it (cloudpickle sends functions of ``__main__`` by value), so
    the executor is made while ``__main__`` has no file.
    """
    import csp

    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        return csp.InterpreterPoolExecutor(
            max_workers, initializer=_run.warm, thread_name_prefix=name
        )
    finally:
        if main is None:
            sys.modules.pop("__main__", None)
        else:
            sys.modules["__main__"] = main


class _SysWithoutOtherFrames(types.ModuleType):
    """``sys`` for distributed's profiler, whose ``_current_frames()`` is empty.

    In CPython 3.13, ``sys._current_frames()`` walks the threads of every interpreter and
    attaches a frame object, allocated by the calling interpreter, to the running frame of each:
    another interpreter later frees it with its own allocator, and the process aborts
    (``free(): invalid pointer`` in ``frame_dealloc``). distributed's event-loop profiler calls
    it every 10 ms in every server, so while tasks run on interpreters it must not: with this in
    its place the profiler ends at its next sample (the loop's profile stays empty; task
    profiles only exist for thread pools anyway). See ``_guard_current_frames``.
    """

    def __init__(self):
        super().__init__("sys")

    def __getattr__(self, name):
        return getattr(sys, name)

    @staticmethod
    def _current_frames():
        return {}


def _guard_current_frames():
    """Makes distributed's modules that sample other threads' frames see
    ``_SysWithoutOtherFrames`` as ``sys`` (they look ``sys`` up at each call)."""
    for name in ("distributed.profile", "distributed.worker", "distributed.utils_test"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "sys", None) is sys:
            module.sys = _SysWithoutOtherFrames()


class InterpreterExecutor(concurrent.futures.Executor):
    """A ``concurrent.futures`` executor for a Dask ``Worker``: its tasks run on
    ``max_workers`` own-GIL interpreters (``csp.InterpreterPoolExecutor``), in parallel, in
    the worker's process.

    ``fallback`` says where a task goes when it needs a module that cannot load in an
    isolated interpreter: ``"processes"`` (a spawn process pool of ``max_workers``, made
    when first needed), ``"threads"`` (the ``threads`` executor) or ``None`` (the task
    fails with that ImportError). Once a task has fallen back, every later task of the same
    prefix (the name Dask groups tasks by, e.g. ``count-words``) goes there directly.
    ``threads`` runs the calls that come from ``distributed`` itself (default: a thread pool
    of ``max_workers`` made when first needed).
    """

    def __init__(self, max_workers=None, *, fallback="processes", threads=None, name="dask"):
        if fallback not in FALLBACKS:
            raise ValueError(f"fallback must be one of {FALLBACKS}, not {fallback!r}")
        import os

        if max_workers is None:
            max_workers = os.process_cpu_count() or 1
        self._max_workers = max_workers
        self._fallback = fallback
        self._lock = threading.Lock()
        self._threads = threads
        self._own_threads = None
        self._processes = None
        self._isolated = {}  # task prefix -> the ImportError's message
        self._trusted = set()  # task prefixes that ran in an interpreter
        self._probing = {}  # task prefix -> its tasks waiting for the first one to finish
        self._shutdown = False
        # What the interpreters import, imported here first: an extension module that cannot
        # load in an isolated interpreter (PyYAML's, which dask imports) and that fails in two
        # of them while this interpreter has never loaded it crashes CPython 3.13.5 when they
        # are destroyed (double free; not when this interpreter loaded it first).
        _run.warm()
        _guard_current_frames()
        self._interpreters = _new_interpreter_pool(max_workers, name)
        # Start the interpreters now (each imports what tasks need), not at the first task.
        self._interpreters.submit(_run.warm)

    @property
    def max_workers(self):
        return self._max_workers

    def submit(self, fn, /, *args, **kwargs):
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        if _is_dask_task_call(fn) and len(args) == 3 and not kwargs:
            return self._submit_task(*args)
        if _from_distributed(fn):
            return self._thread_pool().submit(fn, *args, **kwargs)
        return self._interpreters.submit(fn, *args, **kwargs)

    submit.__doc__ = concurrent.futures.Executor.submit.__doc__

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._shutdown = True
        self._interpreters.shutdown(wait=wait, cancel_futures=cancel_futures)
        with self._lock:
            pools = [self._processes, self._own_threads]
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    shutdown.__doc__ = concurrent.futures.Executor.shutdown.__doc__

    def __repr__(self):
        return (
            f"<csp_dask.InterpreterExecutor max_workers={self._max_workers} "
            f"fallback={self._fallback!r} isolated prefixes={sorted(self._isolated)}>"
        )

    # -- Dask tasks ------------------------------------------------------------------------

    def _submit_task(self, run_spec, data, delay):
        from dask.utils import key_split

        prefix = key_split(getattr(run_spec, "key", None))
        future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        task = _Task(self, future, run_spec, data, delay, prefix)
        with self._lock:
            isolated = prefix in self._isolated
            if not isolated and prefix not in self._trusted:
                # The first task of a prefix runs alone: if it needs a module that cannot
                # load here, it is the only one to find out (see __init__ for why).
                waiting = self._probing.get(prefix)
                if waiting is not None:
                    waiting.append(task)
                    return future
                self._probing[prefix] = []
        if isolated:
            task.run_elsewhere()
        else:
            task.start()
        return future

    def _probed(self, prefix, isolated):
        """The first task of ``prefix`` finished: start the tasks that waited for it."""
        with self._lock:
            waiting = self._probing.pop(prefix, None)
            if not isolated:
                self._trusted.add(prefix)
        for task in waiting or ():
            if isolated:
                task.run_elsewhere()
            else:
                task.start()

    def _thread_pool(self):
        if self._threads is not None:
            return self._threads
        with self._lock:
            if self._own_threads is None:
                self._own_threads = concurrent.futures.ThreadPoolExecutor(
                    self._max_workers, thread_name_prefix="csp-dask-threads"
                )
            return self._own_threads

    def _process_pool(self):
        with self._lock:
            if self._processes is None:
                import multiprocessing

                self._processes = concurrent.futures.ProcessPoolExecutor(
                    self._max_workers, mp_context=multiprocessing.get_context("spawn")
                )
            return self._processes

    def _mark_isolated(self, prefix, message):
        with self._lock:
            first = prefix not in self._isolated
            self._isolated[prefix] = message
        if first:
            logger.warning(
                "tasks %r cannot run in an isolated interpreter (%s): they run on %s from now on",
                prefix, message, self._fallback or "nothing (they fail)",
            )


class _Task:
    """One Dask task on its way through the executor."""

    __slots__ = ("executor", "future", "run_spec", "data", "delay", "prefix", "payload")

    def __init__(self, executor, future, run_spec, data, delay, prefix):
        self.executor = executor
        self.future = future
        self.run_spec = run_spec
        self.data = data
        self.delay = delay
        self.prefix = prefix
        self.payload = None

    def _payload(self):
        if self.payload is None:
            import cloudpickle

            self.payload = cloudpickle.dumps((self.run_spec, self.data), protocol=5)
        return self.payload

    def start(self):
        """Runs the task on an interpreter."""
        try:
            inner = self.executor._interpreters.submit(_run.run_task, self._payload())
        except BaseException as e:
            self.executor._probed(self.prefix, False)
            self.future.set_exception(e)
            return
        inner.add_done_callback(self._interpreted)

    def _interpreted(self, inner):
        try:
            reply = inner.result()
        except BaseException as e:
            self.executor._probed(self.prefix, False)
            self.future.set_exception(e)
            return
        isolated = reply[0] == _run.ISOLATED
        if isolated:
            self.executor._mark_isolated(self.prefix, reply[1])
        self.executor._probed(self.prefix, isolated)
        if isolated:
            self.run_elsewhere(reply)
        else:
            self._complete(reply)

    def _fell_back(self, inner):
        try:
            reply = inner.result()
        except BaseException as e:
            self.future.set_exception(e)
            return
        self._complete(reply)

    def _complete(self, reply):
        try:
            self.future.set_result(_message(reply, self.delay))
        except BaseException as e:
            self.future.set_exception(e)

    def run_elsewhere(self, reply=None):
        """Runs the task on the executor's fallback; with none, fails it with the ImportError
        (``reply``, or the one its prefix got)."""
        if self.executor._fallback is None:
            if reply is None:
                reply = (_run.ISOLATED, self.executor._isolated.get(self.prefix, ""))
            self._complete(reply)
            return
        try:
            if self.executor._fallback == "threads":
                from distributed.worker import _run_task_simple

                inner = self.executor._thread_pool().submit(
                    _run_task_simple, self.run_spec, self.data, self.delay
                )
                inner.add_done_callback(self._copy)
            else:
                inner = self.executor._process_pool().submit(_run.run_task, self._payload())
                inner.add_done_callback(self._fell_back)
        except BaseException as e:
            self.future.set_exception(e)

    def _copy(self, inner):
        try:
            self.future.set_result(inner.result())
        except BaseException as e:
            self.future.set_exception(e)


def _message(reply, delay):
    """The message ``distributed.worker._run_task_simple`` would have returned."""
    import pickle

    kind = reply[0]
    if kind == _run.OK:
        from dask.sizeof import sizeof

        _, pickled, start, stop = reply
        result = pickle.loads(pickled)
        msg = {
            "op": "task-finished",
            "status": "OK",
            "result": result,
            "nbytes": sizeof(result),
            "type": type(result) if result is not None else None,
        }
    else:
        if kind == _run.ISOLATED:
            exc, tb, text = ImportError(reply[1]), None, f"ImportError: {reply[1]}\n"
            start = stop = None
        else:
            _, pickled, exc_repr, text, start, stop = reply
            exc, tb = _exception(pickled, exc_repr)
        msg = _error_message(exc, tb, text)
    import time

    now = time.time()
    msg["start"] = (now if start is None else start) + delay
    msg["stop"] = (now if stop is None else stop) + delay
    msg["thread"] = threading.get_ident()
    return msg


def _exception(pickled, exc_repr):
    """The exception a task raised and its traceback (None when it did not cross)."""
    import pickle

    if pickled is not None:
        try:
            exc, tb = pickle.loads(pickled)
            if isinstance(exc, BaseException):
                return exc, tb
        except Exception:
            pass
    return Exception(exc_repr), None


def _error_message(exc, tb, text):
    """``distributed.core.error_message`` for an exception raised in an interpreter, with
    the task's own traceback."""
    from distributed.core import error_message

    try:
        raise exc
    except BaseException as e:
        # error_message takes the traceback from sys.exc_info(), which is the exception's:
        # put the interpreter's frames there instead of this function's.
        e.__traceback__ = tb
        msg = error_message(e)
    if not msg.get("traceback_text"):
        msg["traceback_text"] = text
    msg["op"] = "task-erred"
    msg["actual_exception"] = exc
    return msg


def install(worker, fallback="config"):
    """See ``csp_dask.install``."""
    current = worker.executors.get("default")
    if isinstance(current, InterpreterExecutor):
        return current
    if fallback == "config":
        import dask.config

        fallback = dask.config.get("csp-dask.fallback", "processes")
        if fallback in ("none", "None", ""):
            fallback = None
    nthreads = worker.state.nthreads
    threads = current
    executor = InterpreterExecutor(nthreads, fallback=fallback, threads=threads)
    if threads is not None:
        worker.executors["threads"] = threads
    worker.executors["default"] = executor
    logger.info("tasks run on %d own-GIL interpreters (csp_dask)", nthreads)
    return executor
