"""A ProcessPoolExecutor program, run unchanged on interpreters by swapping one class.

    subinterp run examples/executor_swap.py            # csp.InterpreterPoolExecutor
    subinterp run examples/executor_swap.py --process  # concurrent.futures.ProcessPoolExecutor

Written as any concurrent.futures program is: `submit`, `map` with a chunksize,
`as_completed`, a worker exception caught by the caller, picklable arguments that are not
shareable (a dataclass, a dict). Only the executor class differs between the two runs, and the
output is the same; on interpreters it starts faster and uses every core just the same.
"""

import concurrent.futures as cf
import dataclasses
import sys
import time

if "--process" in sys.argv:
    from concurrent.futures import ProcessPoolExecutor as Executor
else:
    from csp import InterpreterPoolExecutor as Executor


@dataclasses.dataclass(frozen=True)
class Box:
    lo: int
    hi: int


def collatz_steps(n):
    steps = 0
    while n != 1:
        n = 3 * n + 1 if n % 2 else n // 2
        steps += 1
    return steps


def longest_chain(box):
    """The number in [lo, hi) with the longest Collatz chain, and its length."""
    return max((collatz_steps(n), n) for n in range(max(box.lo, 1), box.hi))


def summary(counts):
    return {"total": sum(counts.values()), "kinds": sorted(counts)}


def checked_sqrt(x):
    if x < 0:
        raise ValueError(f"negative input: {x}")
    return x**0.5


if __name__ == "__main__":
    started = time.perf_counter()
    with Executor(max_workers=2) as executor:
        boxes = [Box(lo, lo + 25_000) for lo in range(0, 300_000, 25_000)]
        futures = {executor.submit(longest_chain, box): box for box in boxes}
        best = max(f.result() for f in cf.as_completed(futures))
        print(f"longest Collatz chain below 300000: {best[1]} ({best[0]} steps)")
        lengths = list(executor.map(collatz_steps, range(1, 2001), chunksize=100))
        print(f"steps for 1..2000: sum {sum(lengths)}, max {max(lengths)}")
        print(executor.submit(summary, {"a": 1, "b": 2, "c": 3}).result())
        try:
            executor.submit(checked_sqrt, -4).result()
        except ValueError as e:
            print(f"caught from a worker: {e!r}")
    print(f"{Executor.__name__}: {time.perf_counter() - started:.2f} s", file=sys.stderr)
