"""Dask workers whose tasks run on own-GIL interpreters (``csp``).

One Dask worker process, ``--nthreads N`` tasks at once on N own-GIL interpreters: the
parallelism of N worker processes, with the memory of one and the data of every task in one
process. Three ways to use it, all through Dask's own extension points:

- ``dask worker tcp://SCHEDULER:8786 --nthreads 4 --preload csp_dask`` (or
  ``LocalCluster(..., preload=["csp_dask"])``, or ``distributed.worker.preload: [csp_dask]``
  in Dask's configuration): a preload module, whose ``dask_setup`` installs the executor.
- ``client.register_plugin(csp_dask.InterpreterPlugin())``: a worker plugin, for workers that
  are already running.
- ``Worker(..., nthreads=4, executor=csp_dask.InterpreterExecutor(4))``: the executor itself.

The worker's own thread pool stays available as the executor ``"threads"``: tasks that need
the worker itself (``get_worker()``, ``worker_client()``, ``secede()``) run there with
``dask.annotate(executor="threads")``. A task that needs a module that cannot load in an
isolated interpreter (``ImportError: ... does not support loading in subinterpreters``) runs
again, with every later task of its prefix, on the fallback: a spawn process pool
(``"processes"``, the default), the worker's threads (``"threads"``) or nowhere (``None``:
the task fails). Dask's configuration key ``csp-dask.fallback`` (environment
``DASK_CSP_DASK__FALLBACK``) chooses it for preloads and plugins.

This module imports neither ``distributed`` nor ``csp`` until they are used: the
interpreters import ``csp_dask._run`` from this package, and ``distributed`` cannot load there.
"""

__version__ = "0.1.0"
__all__ = ["InterpreterExecutor", "InterpreterPlugin", "dask_setup", "install"]


def install(worker, fallback="config"):
    """Makes ``worker`` run its tasks on ``worker.state.nthreads`` own-GIL interpreters;
    returns the executor. Its thread pool becomes the executor ``"threads"``. ``fallback``
    is ``"processes"``, ``"threads"`` or None (see ``InterpreterExecutor``); ``"config"``
    takes Dask's ``csp-dask.fallback`` (default ``"processes"``). Does nothing (and returns
    the installed executor) when it is already installed."""
    from ._executor import install

    return install(worker, fallback)


def dask_setup(dask_object):
    """``--preload csp_dask``: installs the executor in a worker (a scheduler or nanny that
    preloads this module is left alone)."""
    if hasattr(dask_object, "executors") and hasattr(dask_object, "state"):
        install(dask_object)


def __getattr__(name):
    if name == "InterpreterExecutor":
        from ._executor import InterpreterExecutor

        return InterpreterExecutor
    if name == "InterpreterPlugin":
        from .plugin import InterpreterPlugin

        return InterpreterPlugin
    raise AttributeError(f"module 'csp_dask' has no attribute {name!r}")
