"""Runs an extension module on 2 csp workers at once and checks that its state is per
interpreter.

    subinterp run examples/extensions/parallel.py MODULE [LEGACY_MODULE]

MODULE (`cprimes` or `rprimes`, built from this directory and found on PYTHONPATH) has
`count_primes(n)`, CPU work in native code with the interpreter's GIL held, and `calls()`, the
number of `count_primes` calls made in the calling interpreter. LEGACY_MODULE, if given, is a
module that does not declare per-interpreter GIL support: it imports in the main interpreter
and must fail to import in a worker. tests/tests/extensions.rs builds the modules and runs
this script.
"""

import importlib
import sys
import time

import csp

WORKERS = 2
TARGET_SECONDS = 1.0  # of native work per worker
ROUNDS = 5  # at most, until one reaches GOOD_RATIO (other processes may be using the cores)
GOOD_RATIO = 1.8


def work(name, n):
    """One call in this worker: (interpreter id, result, this interpreter's call count, start,
    end) with start and end on the process-wide monotonic clock."""
    module = importlib.import_module(name)
    start = time.perf_counter()
    count = module.count_primes(n)
    end = time.perf_counter()
    return csp.current_interpreter(), count, module.calls(), start, end


def try_import(name):
    """Imports `name` here; the error as text if that fails."""
    try:
        importlib.import_module(name)
    except ImportError as e:
        return f"ImportError: {e}"
    return "imported"


def calibrate(module):
    """An n for which count_primes(n) takes about TARGET_SECONDS here."""
    n = 20_000
    while True:
        start = time.perf_counter()
        module.count_primes(n)
        took = time.perf_counter() - start
        if took >= 0.05:
            break
        n *= 2
    # Trial division costs about n**1.5 / log(n).
    return int(n * (TARGET_SECONDS / took) ** (1 / 1.45))


def main(name, legacy=None):
    module = importlib.import_module(name)
    n = calibrate(module)
    main_calls = module.calls()
    print(f"main: {name} imported, {main_calls} calls, n = {n}")

    results = []
    with csp.Pool(WORKERS, setup=f"import {name}") as pool:
        warm_up = pool.starmap(work, [(name, 1000)] * WORKERS)
        results += [result[:3] for result in warm_up]

        best = 0.0
        for _ in range(ROUNDS):
            wall, cpu = time.perf_counter(), time.process_time()
            timed = pool.starmap(work, [(name, n)] * WORKERS)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            results += [result[:3] for result in timed]
            assert len({result[0] for result in timed}) == WORKERS, timed
            assert len({result[1] for result in timed}) == 1, timed
            # Both calls ran at the same time: one GIL held by each for the whole call. With a
            # shared GIL the second would only start when the first returned.
            (_, _, _, start_a, end_a), (_, _, _, start_b, end_b) = timed
            overlap = (min(end_a, end_b) - max(start_a, start_b)) / min(
                end_a - start_a, end_b - start_b
            )
            print(
                f"parallel: {WORKERS} workers, wall {wall:.2f} s, cpu {cpu:.2f} s, "
                f"cpu/wall {cpu / wall:.2f}, overlap {overlap:.0%}"
            )
            assert overlap > 0.5, timed
            best = max(best, cpu / wall)
            if best >= GOOD_RATIO:
                break
        print(f"best cpu/wall: {best:.2f}")

        results += [result[:3] for result in pool.starmap(work, [(name, 1000)] * 6)]

    # Every interpreter counted only its own calls: 1, 2, ..., k in each worker, and the main
    # interpreter's count did not move.
    per_interp = {}
    for interp, _, calls in results:
        per_interp.setdefault(interp, []).append(calls)
    for interp, seen in per_interp.items():
        assert sorted(seen) == list(range(1, len(seen) + 1)), (interp, seen)
    assert module.calls() == main_calls, (module.calls(), main_calls)
    counts = ", ".join(f"{interp}: {len(seen)}" for interp, seen in sorted(per_interp.items()))
    print(f"state: separate (calls per worker {counts}; main {main_calls})")

    if legacy is not None:
        print(f"legacy in main: {try_import(legacy)}")
        print(f"legacy in a worker: {csp.go(try_import, legacy).result()}")


if __name__ == "__main__":
    main(*sys.argv[1:])
