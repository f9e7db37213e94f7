"""The half of csp_dask that runs inside the worker's own-GIL interpreters.

It must import without ``distributed`` (which needs psutil, an extension that cannot load in
an isolated interpreter): only the standard library, ``cloudpickle`` and ``dask`` itself.
Everything crosses as ``bytes``, ``float`` and ``int`` (shareable, so the executor sends them
without pickling the envelope again).

A task arrives as one pickle of ``(run_spec, data)``: the Dask graph node the worker would call
and the values of its dependencies. The reply is one of

- ``(OK, pickled result, start, stop)``
- ``(ERROR, pickled (exception, traceback) or None, repr(exception), traceback text, start,
  stop)``
- ``(ISOLATED, message)`` when the task needed a module that cannot load in an isolated
  interpreter (``ImportError: module X does not support loading in subinterpreters``); the
  caller then runs it elsewhere.

The same function runs in the fallback process pool, where every module loads.
"""

import pickle
import time
import traceback

OK = 0
ERROR = 1
ISOLATED = 2

# The message CPython gives when an extension module without per-interpreter support is
# imported in an isolated interpreter (Python/import.c, _PyImport_CheckSubinterpIncompatibleExtensionAllowed).
_NOT_IN_SUBINTERPRETERS = "does not support loading in subinterpreters"


def warm():
    """Run once in every new interpreter: imports what every task needs, so that the first
    task does not pay for it."""
    import cloudpickle  # noqa: F401  (results that plain pickle refuses)
    import dask._task_spec  # noqa: F401  (the graph nodes tasks arrive as)


def dumps(obj):
    """``obj`` pickled as Dask does: plain pickle first, cloudpickle for what it refuses
    (lambdas, closures, functions of ``__main__``)."""
    try:
        return pickle.dumps(obj, protocol=5)
    except Exception:
        import cloudpickle

        return cloudpickle.dumps(obj, protocol=5)


def _isolated_import_error(exc):
    """The ImportError in ``exc``'s chain that says a module cannot load here, or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ImportError) and _NOT_IN_SUBINTERPRETERS in str(exc):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _error_payload(exc):
    """The pickled ``(exception, traceback)``, with the traceback made picklable by tblib
    (which distributed uses too) when it is installed; None when the exception does not
    pickle (the caller then rebuilds one from its text)."""
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code is run_task.__code__:
        tb = tb.tb_next  # The task's frames only, as a thread worker reports them.
    try:
        from tblib import pickling_support

        pickling_support.install(exc)
    except Exception:
        tb = None
    for value in ((exc, tb), (exc, None)):
        try:
            data = dumps(value)
            pickle.loads(data)
            return data
        except Exception:
            continue
    return None


def run_task(payload):
    """Runs one Dask task (see the module's docstring for the reply)."""
    start = time.time()
    try:
        run_spec, data = pickle.loads(payload)
        del payload
        result = run_spec(data)
        del run_spec, data
        reply = (OK, dumps(result), start, time.time())
    except BaseException as exc:
        stop = time.time()
        isolated = _isolated_import_error(exc)
        if isolated is not None:
            return (ISOLATED, str(isolated))
        text = "".join(traceback.format_exception(exc))
        return (ERROR, _error_payload(exc), repr(exc), text, start, stop)
    return reply

