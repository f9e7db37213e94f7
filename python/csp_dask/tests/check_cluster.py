"""Checks csp_dask on a small in-process cluster on 127.0.0.1 (a scheduler and one worker in
this process, tasks on the worker's interpreters). Run by tests/tests/dask.rs in a venv of
subinterp's Python; prints one ``ok`` line per check, then ``all passed``.

Task functions are defined here, in ``__main__``: Dask sends them by value (cloudpickle), as
it does any function the workers cannot import by name.
"""

import asyncio
import sys


def interpreter_name(_):
    import csp

    return csp.current_interpreter_name()


def fails(x):
    raise KeyError(f"no {x}")


def needs_psutil(x):
    import psutil  # An extension that cannot load in an isolated interpreter.

    return (x, psutil.__name__)


def worker_address(_):
    from distributed import get_worker

    return get_worker().address


def check(label, got, expected):
    if got != expected:
        sys.exit(f"FAILED {label}: {got!r} != {expected!r}")
    print("ok", label, flush=True)


async def main():
    import dask
    import dask.bag as db
    from distributed import Client, Scheduler, Worker

    import csp_dask

    async with Scheduler(host="127.0.0.1", port=0, dashboard_address=":0") as scheduler:
        async with Worker(scheduler.address, nthreads=2, preload=["csp_dask"]) as worker:
            async with Client(scheduler.address, asynchronous=True) as client:
                executor = worker.executors["default"]
                check("preload installs the executor",
                      type(executor).__name__, "InterpreterExecutor")
                names = set(await client.gather(client.map(interpreter_name, range(20))))
                check("tasks run on the interpreters", all(n.startswith("dask") for n in names),
                      True)
                check("by-name function", await client.submit(pow, 2, 10), 1024)
                check("lambda", await client.gather(client.map(lambda x: x * x, range(5))),
                      [0, 1, 4, 9, 16])
                offset = 100

                def closure(x):
                    return x + offset

                check("closure", await client.gather(client.map(closure, range(3))),
                      [100, 101, 102])
                try:
                    await client.submit(fails, "key")
                    check("exception", "no exception", "KeyError")
                except KeyError as e:
                    check("exception", (type(e).__name__, e.args), ("KeyError", ("no key",)))
                bag = db.from_sequence(range(1000), npartitions=8)
                total = bag.map(lambda x: x * 3).filter(lambda x: x % 2 == 0).sum()
                check("dask.bag", await client.compute(total),
                      sum(x * 3 for x in range(1000) if (x * 3) % 2 == 0))
                dependent = [dask.delayed(sum)([dask.delayed(pow)(i, 2) for i in range(10)])]
                check("dask.delayed with dependencies",
                      await client.compute(dependent[0]), sum(i * i for i in range(10)))
                check("falls back for modules that cannot load",
                      await client.gather(client.map(needs_psutil, range(4))),
                      [(i, "psutil") for i in range(4)])
                check("the prefix is remembered", sorted(executor._isolated), ["needs_psutil"])
                with dask.annotate(executor="threads"):
                    on_threads = client.submit(worker_address, 0, pure=False)
                check("executor='threads' keeps the worker's context", await on_threads,
                      worker.address)

        # A worker that already runs on threads gets the executor from a plugin.
        async with Worker(scheduler.address, nthreads=2) as worker:
            async with Client(scheduler.address, asynchronous=True) as client:
                before = set(await client.gather(client.map(interpreter_name, range(4),
                                                            pure=False)))
                check("a thread worker runs tasks in the main interpreter", before, {"main"})
                await client.register_plugin(csp_dask.InterpreterPlugin())
                after = set(await client.gather(client.map(interpreter_name, range(20),
                                                           pure=False)))
                check("the plugin installs the executor",
                      all(n.startswith("dask") for n in after), True)
    print("all passed", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
