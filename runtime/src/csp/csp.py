"""Parallel Python on own-GIL subinterpreters, in the style of CSP.

This module is built into every interpreter that subinterp starts (the main one and every
subinterpreter):

- ``Channel(capacity=0)``: channels between interpreters (0 = rendezvous), with ``send``,
  ``recv``, their ``_nowait`` forms, timeouts, ``close`` and iteration; ``select`` over several
  channel operations.
- ``go(func, *args, **kwargs)``: runs ``func`` on an interpreter of its own, like a goroutine;
  ``go_with(func, args, kwargs, *, name=None, serial=False)`` does the same with options.
- ``Pool`` and ``map``: a fixed set of interpreters for parallel work (``Pool`` is a drop-in
  for ``multiprocessing.Pool``).
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
    "AsyncResult",
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
    """A drop-in for ``multiprocessing.Pool`` on own-GIL interpreters: ``processes``
    interpreters (default: one per core) running functions in parallel.

    Same constructor (``processes``, ``initializer``, ``initargs``, ``maxtasksperchild``;
    ``context`` is accepted and ignored) and methods: ``apply``, ``map``, ``starmap``,
    ``imap``, ``imap_unordered`` and the ``_async`` forms with ``callback`` and
    ``error_callback`` (run on one result-handler thread per pool), returning
    :class:`AsyncResult`; ``close`` then ``join``, or ``terminate``; as a context manager it
    terminates on exit, as ``multiprocessing.Pool`` does. Functions cross by module and
    qualified name (those of the main script as with multiprocessing's spawn, so keep its main
    part under ``if __name__ == "__main__":``), other callables pickled; shareable arguments
    and results cross natively, anything else is pickled; a worker's exception is re-raised
    with the remote traceback as its ``__cause__``. Each worker imports the main script as
    ``__main__`` first (as spawn does), then runs ``initializer(*initargs)``.

    Options of csp's own: ``workers`` (another name for ``processes``), ``setup`` (Python code
    each interpreter runs once when it starts, before the initializer), ``name`` (worker ``n``
    is named ``<name>-<n>``, default ``pool-<n>``) and ``serial=True`` (serial interpreters: no
    Python threads; see :func:`go_with`). :meth:`submit` returns a :class:`Task` (shareable
    values only).
    """

    def __init__(self, processes=None, initializer=None, initargs=(), maxtasksperchild=None,
                 context=None, *, workers=None, setup=None, name=None, serial=False):
        if _loading_main:
            raise RuntimeError(
                "csp.Pool was created while a worker imported the main script for a task: "
                "put the main part of the script under `if __name__ == '__main__':`"
            )
        if workers is not None:
            if processes is not None:
                raise TypeError("give processes or workers (the same thing), not both")
            processes = workers
        if processes is not None and (type(processes) is not int or processes < 1):
            raise ValueError(
                f"Number of processes must be at least 1: a positive int or None, not "
                f"{processes!r}"
            )
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if maxtasksperchild is not None and (
            type(maxtasksperchild) is not int or maxtasksperchild <= 0
        ):
            raise ValueError("maxtasksperchild must be a positive int or None")
        _check_name(name)
        _load_executor()
        prefix = None if name is None else f"{name}-"
        init = None if initializer is None else _function_spec(initializer)
        code = _executor_setup_code(init, initargs, setup)
        self._init(_pool_new(processes, code, maxtasksperchild, prefix, bool(serial)))

    @classmethod
    def _wrap(cls, pool):
        _load_executor()
        self = cls.__new__(cls)
        self._init(pool)
        self._wrapped = True  # A pool of csp's own (csp.map's): no warning when dropped.
        return self

    def _init(self, pool):
        import os

        self._pool = pool
        self._pid = os.getpid()
        self._state = "RUN"
        self._lock = _threading.Lock()
        self._handler = None

    @property
    def workers(self):
        """The number of interpreters."""
        return _pool_workers(self._pool)

    # -- csp's own ----------------------------------------------------------------------

    def submit(self, func, /, *args):
        """Schedules ``func(*args)`` on a free interpreter and returns its :class:`Task`
        (arguments and result must be shareable)."""
        if self._state != "RUN":
            raise RuntimeError(
                "the pool is closed (dropped or shut down) and runs no more tasks; create a "
                "new one"
            )
        module, qualname, main = _target(func)
        return Task(_pool_submit(self._pool, module, qualname, main, args))

    # -- multiprocessing.Pool's API -------------------------------------------------------

    def apply(self, func, args=(), kwds={}):
        """``func(*args, **kwds)`` on a worker, waiting for its result."""
        self._check_running()
        return self._here(AsyncResult(self), _function_spec(func), _label(func),
                          [(tuple(args), dict(kwds))])

    def apply_async(self, func, args=(), kwds={}, callback=None, error_callback=None):
        """Like :meth:`apply`, returning an :class:`AsyncResult`."""
        self._check_running()
        result = AsyncResult(self, callback, error_callback)
        self._later(result, _function_spec(func), _label(func), [(tuple(args), dict(kwds))])
        return result

    def map(self, func, iterable, chunksize=None, *, timeout=None):
        """``[func(x) for x in iterable]``, computed in parallel in chunks; results in order.
        (``timeout``, csp's own, raises TimeoutError if they take longer in all.)"""
        return self._map(func, iterable, chunksize, False, None, None, timeout)

    def map_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        """Like :meth:`map`, returning an :class:`AsyncResult` of the list."""
        return self._map(func, iterable, chunksize, False, callback, error_callback,
                         asynchronous=True)

    def starmap(self, func, iterable, chunksize=None, *, timeout=None):
        """``[func(*args) for args in iterable]``, computed in parallel; results in order."""
        return self._map(func, iterable, chunksize, True, None, None, timeout)

    def starmap_async(self, func, iterable, chunksize=None, callback=None,
                      error_callback=None):
        """Like :meth:`starmap`, returning an :class:`AsyncResult` of the list."""
        return self._map(func, iterable, chunksize, True, callback, error_callback,
                         asynchronous=True)

    def imap(self, func, iterable, chunksize=1):
        """An iterator of ``func(x)`` for each ``x``, in order, as they are computed."""
        return self._imap(func, iterable, chunksize, True)

    def imap_unordered(self, func, iterable, chunksize=1):
        """Like :meth:`imap`, yielding the results as they finish."""
        return self._imap(func, iterable, chunksize, False)

    def close(self):
        """Accepts no more work; the workers end once the submitted work is done."""
        with self._lock:
            if self._state == "RUN":
                self._state = "CLOSE"
            handler = self._handler
        if handler is not None:
            handler.stop()

    def terminate(self):
        """Stops now: queued tasks fail, running ones are interrupted (KeyboardInterrupt in
        them; their results fail with RuntimeError), then the interpreters are destroyed."""
        with self._lock:
            self._state = "TERMINATE"
            handler = self._handler
        if handler is not None:
            handler.terminate()
        else:
            _pool_close(self._pool, True)

    def join(self):
        """Waits for the workers to end, after :meth:`close` or :meth:`terminate`."""
        if self._state == "RUN":
            raise ValueError("Pool is still running")
        _pool_close(self._pool, False)
        handler = self._handler
        if handler is not None and handler.thread is not _threading.current_thread():
            handler.thread.join()

    def __enter__(self):
        self._check_running()
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.terminate()

    def __del__(self):
        if getattr(self, "_state", None) == "RUN" and not getattr(self, "_wrapped", False):
            import warnings

            warnings.warn(f"unclosed running multiprocessing pool {self!r}", ResourceWarning,
                          source=self)

    def __reduce__(self):
        raise NotImplementedError(
            "pool objects cannot be passed between processes or pickled"
        )

    def __repr__(self):
        return f"<csp.Pool state={self._state} workers={self.workers}>"

    # -- internals ------------------------------------------------------------------------

    def _check_running(self):
        if self._state != "RUN":
            raise ValueError("Pool not running")

    def _map(self, func, iterable, chunksize, star, callback, error_callback, timeout=None,
             asynchronous=False):
        self._check_running()
        if not hasattr(iterable, "__len__"):
            iterable = list(iterable)
        if chunksize is None:
            chunksize, extra = divmod(len(iterable), self.workers * 4)
            if extra:
                chunksize += 1
        elif chunksize < 1:
            raise ValueError(f"Chunksize must be 1+, not {chunksize:n}")
        if len(iterable) == 0:
            chunksize = 0
        calls = _chunk_calls(_function_spec(func), iterable, chunksize or 1, star)
        result = MapResult(self, chunksize, len(iterable), callback, error_callback)
        if not asynchronous:
            return self._here(result, _RUN_CHUNK, _label(func), calls, timeout)
        if chunksize:
            self._later(result, _RUN_CHUNK, _label(func), calls)
        return result

    def _imap(self, func, iterable, chunksize, ordered):
        self._check_running()
        if chunksize < 1:
            raise ValueError(f"Chunksize must be 1+, not {chunksize:n}")
        spec = _function_spec(func)
        replies = _unbounded_channel()
        sent, error = 0, None
        try:
            for args, kwargs in _chunk_calls(spec, iterable, chunksize, False):
                self._send(replies, sent, _RUN_CHUNK, args, kwargs, _label(func))
                sent += 1
        except Exception as e:
            error = e  # Raised by the iterator where the iterable failed, as multiprocessing does.
        iterator = IMapIterator(self, replies, sent, error, ordered, chunksize == 1)
        if chunksize == 1:
            return iterator
        return (item for chunk in iterator for item in chunk)

    def _send(self, replies, task_id, spec, args, kwargs, label):
        """Submits one call of ``csp._executor_run`` replying to ``replies``."""
        import os

        if os.getpid() != self._pid:
            raise RuntimeError(
                "this csp.Pool was made before fork(): its interpreter threads are in the "
                "parent process, not in this child; make a new one here"
            )
        head = (replies, task_id) + spec
        try:
            # Shareable arguments cross natively...
            _executor_submit(self._pool, head + (args, tuple(kwargs.items()), None), label)
        except NotShareableError:
            # ...anything else is pickled, as multiprocessing does.
            _executor_submit(self._pool, head + (None, None, _pickle.dumps((args, kwargs))),
                             label)

    def _here(self, result, spec, label, calls, timeout=None):
        """Runs ``calls`` with their replies read by this thread (no handler thread), and
        returns ``result``'s value."""
        deadline = _deadline(timeout)
        replies = _unbounded_channel()
        try:
            for index, (args, kwargs) in enumerate(calls):
                self._send(replies, index, spec, args, kwargs, label)
            while not result.ready():
                try:
                    task_id, kind, payload = replies.recv(_left(deadline))
                except (TimeoutError, Empty):
                    raise _timeout_error() from None
                result._set(task_id, *_outcome(kind, payload))
        finally:
            replies.close()  # Late replies are dropped (their workers ignore ChannelClosed).
        return result.get(0)

    def _later(self, result, spec, label, calls):
        """Runs ``calls`` with their replies read by the pool's result-handler thread, which
        completes ``result`` and runs its callbacks."""
        handler = self._result_handler()
        for index, (args, kwargs) in enumerate(calls):
            task_id = handler.add(result, index)
            try:
                self._send(handler.replies, task_id, spec, args, kwargs, label)
            except Exception as e:
                # As multiprocessing does: the result fails (and error_callback runs).
                if handler.forget(task_id):
                    result._set(index, False, e)
                break

    def _result_handler(self):
        with self._lock:
            if self._state != "RUN":
                raise ValueError("Pool not running")
            if self._handler is None:
                self._handler = _ResultHandler(self._pool)
                _weakref.finalize(self, self._handler.stop)
            return self._handler


class AsyncResult:
    """The pending result of :meth:`Pool.apply_async` (and, as :class:`MapResult`, of the
    ``map_async`` forms), as ``multiprocessing.pool.AsyncResult``."""

    def __init__(self, pool, callback=None, error_callback=None):
        self._pool = pool
        self._event = _threading.Event()
        self._callback, self._error_callback = callback, error_callback
        self._success = None
        self._value = None

    def ready(self):
        """Whether the call has completed."""
        return self._event.is_set()

    def successful(self):
        """Whether the call completed without raising; ValueError if it is not ready."""
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return self._success

    def wait(self, timeout=None):
        """Waits until the result is ready, or for ``timeout`` seconds."""
        self._event.wait(_wait_seconds(timeout))

    def get(self, timeout=None):
        """The result, waiting for it; re-raises the call's exception; raises
        ``multiprocessing.TimeoutError`` (also a ``TimeoutError``) if not ready in time."""
        self.wait(timeout)
        if not self.ready():
            raise _timeout_error()
        if self._success:
            return self._value
        raise self._value

    def _set(self, index, success, value):
        self._success, self._value = success, value
        self._finish()

    def _finish(self):
        callback = self._callback if self._success else self._error_callback
        if callback is not None:
            try:
                callback(self._value)
            except BaseException:
                import traceback

                print("Exception in a csp.Pool callback:", file=_sys.stderr)
                traceback.print_exc()
        self._event.set()
        self._pool = None

    def __repr__(self):
        state = "pending" if not self.ready() else "ok" if self._success else "failed"
        return f"<csp.{type(self).__name__} {state}>"


class MapResult(AsyncResult):
    """The pending list of a ``map_async`` or ``starmap_async``: ``callback`` gets the whole
    list; ``error_callback`` gets the first exception (and the result fails with it)."""

    def __init__(self, pool, chunksize, length, callback=None, error_callback=None):
        super().__init__(pool, callback, error_callback)
        self._value = [None] * length
        self._chunksize = chunksize
        if chunksize <= 0:
            self._left = 0
            self._success = True
            self._event.set()
            self._pool = None
        else:
            self._left = -(-length // chunksize)

    def _set(self, index, success, value):
        if self._success is not None:
            return  # Failed already: multiprocessing reports the first error only.
        if success:
            start = index * self._chunksize
            self._value[start:start + self._chunksize] = value
            self._left -= 1
            if self._left == 0:
                self._success = True
                self._finish()
        else:
            self._success, self._value = False, value
            self._finish()


class IMapIterator:
    """The iterator :meth:`Pool.imap` and :meth:`Pool.imap_unordered` return; ``next(timeout)``
    raises ``multiprocessing.TimeoutError`` if no result comes in time."""

    def __init__(self, pool, replies, count, error, ordered, single):
        self._pool = pool  # Keeps the pool alive while results are pending.
        self._replies = replies
        self._count = count  # Tasks sent (each a chunk of calls).
        self._error = error  # The iterable's exception, raised after the tasks before it.
        self._ordered, self._single = ordered, single
        self._buffer = {}
        self._taken = 0
        if count == 0:
            replies.close()

    def __iter__(self):
        return self

    def __next__(self):
        return self.next()

    def next(self, timeout=None):
        if self._taken >= self._count:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            raise StopIteration
        deadline = _deadline(timeout)
        if self._ordered:
            want = self._taken
            while want not in self._buffer:
                task_id, outcome = self._receive(deadline)
                self._buffer[task_id] = outcome
            success, value = self._buffer.pop(want)
        else:
            _, (success, value) = self._receive(deadline)
        self._taken += 1
        if self._taken >= self._count:
            self._replies.close()
            self._pool = None
        if not success:
            raise value
        return value[0] if self._single else value

    def _receive(self, deadline):
        try:
            task_id, kind, payload = self._replies.recv(_left(deadline))
        except (TimeoutError, Empty):
            raise _timeout_error() from None
        return task_id, _outcome(kind, payload)


class _ResultHandler:
    """A pool's result-handler thread: reads the replies of its asynchronous tasks (blocking
    on a channel, without the GIL) and completes their results, running the callbacks."""

    def __init__(self, pool):
        self.pool = pool  # The capsule (not the csp.Pool, which may be collected meanwhile).
        self.replies = _unbounded_channel()
        self.lock = _threading.Lock()
        self.jobs = {}  # task id -> (result, index)
        self.ids = _itertools.count()
        self.closing = False
        self.terminated = False
        _live_result_handlers.add(self)
        _register_pools_at_exit()
        self.thread = _threading.Thread(target=self.run, name="csp-pool-results")
        self.thread.start()

    def add(self, result, index):
        with self.lock:
            if self.closing:
                raise ValueError("Pool not running")
            task_id = next(self.ids)
            self.jobs[task_id] = (result, index)
            return task_id

    def forget(self, task_id):
        with self.lock:
            return self.jobs.pop(task_id, None) is not None

    def stop(self):
        """No more tasks: the thread ends once the pending ones have replied."""
        with self.lock:
            self.closing = True
            idle = not self.jobs
        if idle:
            self.replies.close()

    def terminate(self):
        with self.lock:
            self.closing = self.terminated = True
        _pool_close(self.pool, True)  # Dropped tasks reply too (kind 3), interrupted ones fail.
        self.replies.close()

    def run(self):
        for task_id, kind, payload in self.replies:
            with self.lock:
                job = self.jobs.pop(task_id, None)
                done = self.closing and not self.jobs
            if job is not None:
                result, index = job
                result._set(index, *_outcome(kind, payload, self.terminated))
            del job
            if done:
                self.replies.close()
        with self.lock:
            left, self.jobs = list(self.jobs.values()), {}
        for result, index in left:
            result._set(index, False, RuntimeError("the csp.Pool was terminated"))


_RUN_CHUNK = ("csp", "_run_chunk", None, None)

# Result handlers with a live thread, terminated at exit as multiprocessing terminates pools.
_live_result_handlers = None
_pools_at_exit_registered = False


def _register_pools_at_exit():
    global _pools_at_exit_registered
    if not _pools_at_exit_registered:
        _pools_at_exit_registered = True
        _threading._register_atexit(_pools_at_exit)


def _pools_at_exit():
    for handler in list(_live_result_handlers):
        if not handler.terminated:
            handler.terminate()


def _load_executor():
    """Defines the executor's names (and the helpers the pool shares with it)."""
    global _live_result_handlers
    if "InterpreterPoolExecutor" not in globals():
        __getattr__("InterpreterPoolExecutor")
    if _live_result_handlers is None:
        _live_result_handlers = _weakref.WeakSet()


def _chunk_calls(spec, iterable, size, star):
    """``(args, kwargs)`` of ``_run_chunk`` for each chunk of ``size`` argument tuples."""
    items = iter(iterable)
    while True:
        chunk = tuple(
            tuple(args) if star else (args,) for args in _itertools.islice(items, size)
        )
        if not chunk:
            return
        yield (spec, chunk), {}


def _outcome(kind, payload, terminated=False):
    """``(success, value)`` of an ``_executor_run`` reply."""
    if kind == 0:
        return True, _plain(payload)
    if kind == 1:
        try:
            return True, _pickle.loads(payload)
        except Exception as e:
            return False, e
    if kind == 2:
        error = _remote_exception(*payload)
        if terminated and isinstance(error, KeyboardInterrupt):
            error = RuntimeError("the task was interrupted: its csp.Pool was terminated")
        return False, error
    return False, RuntimeError(
        "the task did not run: its csp.Pool was terminated or closed before it started"
    )


def _wait_seconds(timeout):
    """``timeout`` for a wait: None (or inf) waits forever; a negative one does not wait (as
    in multiprocessing); NaN is a ValueError."""
    if timeout is None:
        return None
    seconds = float(timeout)
    if seconds != seconds:
        raise ValueError(f"timeout must be a number of seconds or None, not {timeout!r}")
    if seconds >= _threading.TIMEOUT_MAX:
        return None
    return max(seconds, 0.0)


def _deadline(timeout):
    """The ``time.monotonic()`` by which a wait of ``timeout`` ends (None: never)."""
    import time

    seconds = _wait_seconds(timeout)
    return None if seconds is None else time.monotonic() + seconds


def _left(deadline):
    """Seconds left until ``deadline`` (None: no deadline)."""
    import time

    return None if deadline is None else max(0.0, deadline - time.monotonic())


_PoolTimeoutError = None


def _timeout_error():
    """A ``multiprocessing.TimeoutError`` that is also the builtin ``TimeoutError``."""
    global _PoolTimeoutError
    if _PoolTimeoutError is None:
        import builtins
        import multiprocessing

        class TimeoutError(multiprocessing.TimeoutError, builtins.TimeoutError):
            __module__ = "csp"

        _PoolTimeoutError = TimeoutError
    return _PoolTimeoutError()


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


def _executor_setup_code(initializer, initargs, setup=None):
    """Code each executor (or pool) worker runs first: the caller's sys.path, ``setup``, the
    main script as ``__main__`` (as multiprocessing's spawn does, so pickles naming
    ``__main__`` resolve), then the initializer."""
    import os

    main = getattr(_sys.modules.get("__main__"), "__file__", None)
    if main is not None and not os.path.isfile(main):
        main = None  # e.g. `python -m csp.check`: its `<csp.check>` is not a file to import
    init = None
    if initializer is not None:
        import pickle

        init = (initializer, pickle.dumps(tuple(initargs)))
    return _setup_code(setup) + f"import csp\ncsp._executor_worker_init({main!r}, {init!r})\n"


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
