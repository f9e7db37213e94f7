"""subinterp benchmarks (the first part of `cargo xtask bench`, see README.md), all variants side
by side in one process.

    subinterp run runtime/bench-scripts/bench.py [--json] [--quick] [--max-workers N]

(`cargo xtask bench` builds `subinterp` in release mode and runs this.)

1. CPU-bound scaling for N = 1..cores workers, each running one unit of pure-Python work:
   a subinterp pool (`csp.Pool`), Python threads, `multiprocessing` (spawn: forking with live
   subinterpreters is unsafe on 3.13, gh-101437) and stock `_interpreters` (one thread per
   interpreter calling `_interpreters.exec`). Pools, processes and interpreters are started
   before timing. Reported as the speedup over one worker of the same kind: N units in the
   time of one gives N (ideal), threads sharing one GIL give about 1.
2. Round trip of a trivial task (submit, wait for the result), sequentially: the subinterp
   pool, `csp.InterpreterPoolExecutor` natively and on its process fallback (a task needing a
   module that cannot load in an interpreter) vs `concurrent.futures.ProcessPoolExecutor` and
   `ThreadPoolExecutor`.
3. Channels (channels.py): message throughput for small ints, 1 KiB and 1 MiB bytes, and
   ping-pong latency between two interpreters: csp channels vs `_interpqueues`,
   `multiprocessing.Queue` and `queue.Queue` between threads.
"""

import argparse
import concurrent.futures as futures
import json
import multiprocessing
import os
import sys
import threading
import time

import channels

try:
    import csp
except ImportError:  # In multiprocessing's spawned children, which run plain python.
    csp = None


def work(n):
    """One unit of CPU-bound pure-Python work."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def noop(x):
    """The trivial task of the round-trip benchmark."""
    return x


WORK_SOURCE = '''
def work(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total
'''


def calibrate(seconds):
    """The `work` size that takes about `seconds` on one core."""
    n = 20_000
    while True:
        started = time.perf_counter()
        work(n)
        took = time.perf_counter() - started
        if took > 0.05:
            return max(1_000, int(n * seconds / took))
        n *= 4


def best_of(repeats, run):
    """The fastest of `repeats` timings of `run()`."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


class SubinterpPool:
    name = "subinterp"

    def __init__(self, workers, unit):
        self.pool = csp.Pool(workers)
        self.workers, self.unit = workers, unit
        self.pool.map(work, [10] * workers)  # Warm up: import the script in every worker.

    def run(self):
        self.pool.map(work, [self.unit] * self.workers)

    def close(self):
        self.pool.close()


class Threads:
    name = "threads"

    def __init__(self, workers, unit):
        self.workers, self.unit = workers, unit

    def run(self):
        threads = [threading.Thread(target=work, args=(self.unit,)) for _ in range(self.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def close(self):
        pass


class Processes:
    name = "multiprocessing"

    def __init__(self, workers, unit):
        self.pool = multiprocessing.get_context("spawn").Pool(workers)
        self.workers, self.unit = workers, unit
        self.pool.map(work, [10] * workers)

    def run(self):
        self.pool.map(work, [self.unit] * self.workers, chunksize=1)

    def close(self):
        self.pool.close()
        self.pool.join()


class StockInterpreters:
    name = "_interpreters"

    def __init__(self, workers, unit):
        import _interpreters

        self.exec = _interpreters.exec
        self.destroy = _interpreters.destroy
        self.ids = [_interpreters.create("isolated") for _ in range(workers)]
        for interp in self.ids:
            _interpreters.exec(interp, WORK_SOURCE)
        self.code = f"work({unit})"

    def run(self):
        threads = [threading.Thread(target=self.exec, args=(i, self.code)) for i in self.ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def close(self):
        for interp in self.ids:
            self.destroy(interp)


KINDS = [SubinterpPool, Threads, Processes, StockInterpreters]


def scaling(max_workers, unit, repeats):
    """{kind: {N: seconds}} for N units of work on N workers: the best of `repeats` runs, the
    kinds taking turns so that a noisy moment hits them alike."""
    results = {kind.name: {} for kind in KINDS}
    for n in range(1, max_workers + 1):
        runners = [kind(n, unit) for kind in KINDS]
        try:
            times = {runner.name: [] for runner in runners}
            for _ in range(repeats):
                for runner in runners:
                    times[runner.name].append(best_of(1, runner.run))
        finally:
            for runner in runners:
                runner.close()
        for name, seconds in times.items():
            results[name][n] = min(seconds)
            print(f"  {name:>16} N={n}: {results[name][n]:.3f} s", file=sys.stderr)
    return results


def noop_needing_single_phase(x):
    """A trivial task that imports a module that cannot load in an isolated interpreter
    (CPython's `_testsinglephase`): the executor runs it on its process fallback."""
    import _testsinglephase  # noqa: F401

    return x


def round_trips(count):
    """{variant: microseconds per submit-and-wait of a trivial task}."""
    import warnings

    results = {}
    with csp.Pool(1) as pool:
        pool.submit(noop, 0).result()
        started = time.perf_counter()
        for i in range(count):
            pool.submit(noop, i).result()
        results["subinterp"] = (time.perf_counter() - started) / count * 1e6
    # The executor natively, and on its process fallback (after the first task falls back,
    # the function's later tasks go straight to the process worker).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", csp.ProcessFallbackWarning)
        for name, fn in [("executor", noop), ("executor fallback", noop_needing_single_phase)]:
            with csp.InterpreterPoolExecutor(1) as pool:
                pool.submit(fn, 0).result()
                started = time.perf_counter()
                for i in range(count):
                    pool.submit(fn, i).result()
                results[name] = (time.perf_counter() - started) / count * 1e6
    spawn = multiprocessing.get_context("spawn")
    with futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
        pool.submit(noop, 0).result()
        started = time.perf_counter()
        for i in range(count):
            pool.submit(noop, i).result()
        results["ProcessPoolExecutor"] = (time.perf_counter() - started) / count * 1e6
    with futures.ThreadPoolExecutor(1) as pool:
        pool.submit(noop, 0).result()
        started = time.perf_counter()
        for i in range(count):
            pool.submit(noop, i).result()
        results["ThreadPoolExecutor"] = (time.perf_counter() - started) / count * 1e6
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check it runs")
    parser.add_argument("--max-workers", type=int, default=None, help="default: the cores")
    args = parser.parse_args()

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    max_workers = args.max_workers or cores
    unit_seconds, repeats, count = (0.02, 1, 50) if args.quick else (0.5, 5, 2000)
    unit = calibrate(unit_seconds)
    print(f"cores: {cores}, unit of work: work({unit}) ~ {unit_seconds} s", file=sys.stderr)

    times = scaling(max_workers, unit, repeats)
    speedups = {
        kind: {n: n * t[1] / t[n] for n in t} for kind, t in times.items()
    }
    trips = round_trips(count)
    channel_results = channels.run(args.quick, lambda line: print(line, file=sys.stderr))

    if args.json:
        print(json.dumps({
            "python": sys.version.split()[0],
            "cores": cores,
            "unit": unit,
            "scaling": {
                kind: {str(n): {"seconds": times[kind][n], "speedup": speedups[kind][n]}
                       for n in times[kind]}
                for kind in times
            },
            "round_trip_us": trips,
            "channels": channel_results,
        }, indent=2))
        return

    kinds = [kind.name for kind in KINDS]
    print(f"CPU-bound scaling: speedup over 1 worker of the same kind (ideal = N), {cores} cores")
    print(f"{'workers':>8}" + "".join(f"{k:>17}" for k in kinds))
    for n in range(1, max_workers + 1):
        print(f"{n:>8}" + "".join(f"{speedups[k][n]:>16.2f}x" for k in kinds))
    print(f"{'1 unit':>8}" + "".join(f"{times[k][1]:>16.3f}s" for k in kinds))
    print()
    print("Round trip of a trivial task (submit + result, one worker, sequential)")
    base = trips["subinterp"]
    for name, us in trips.items():
        print(f"{name:>20} {us:>10.1f} us  ({us / base:.1f}x subinterp)")
    print()
    channels.print_tables(channel_results)


if __name__ == "__main__":
    main()
