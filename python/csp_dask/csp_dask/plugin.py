"""``client.register_plugin(csp_dask.InterpreterPlugin())``: the executor for workers that are
already running (every worker of the cluster, and those that join later). Imports
``distributed``: never imported in an interpreter."""

from distributed.diagnostics.plugin import WorkerPlugin

from ._executor import InterpreterExecutor, install


class InterpreterPlugin(WorkerPlugin):
    """Makes each worker run its tasks on as many own-GIL interpreters as it has threads.

    ``fallback``: see ``csp_dask.InterpreterExecutor`` (``"config"`` reads Dask's
    ``csp-dask.fallback``). On teardown the worker gets its thread pool back.
    """

    name = "csp-interpreters"
    idempotent = True

    def __init__(self, fallback="config"):
        self.fallback = fallback

    def setup(self, worker):
        install(worker, self.fallback)

    def teardown(self, worker):
        executor = worker.executors.get("default")
        if isinstance(executor, InterpreterExecutor):
            threads = worker.executors.get("threads")
            if threads is not None:
                worker.executors["default"] = threads
            executor.shutdown(wait=False)
