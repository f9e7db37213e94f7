"""A multiprocessing.Pool program, run unchanged on interpreters by swapping one class.

    subinterp run examples/pool_swap.py            # csp.Pool
    subinterp run examples/pool_swap.py --process  # multiprocessing.Pool (spawn)

Written as any multiprocessing.Pool program is: an initializer, `map` with a chunksize,
`apply_async` with a callback, `imap` and `imap_unordered`, `starmap_async`, a worker
exception caught through `error_callback` and `get()`, `AsyncResult.get(timeout)` timing out,
picklable arguments and results that are not shareable (a dataclass, a dict, a list), then
`close()` and `join()`. Only the pool class differs between the two runs, and the output is
the same.
"""

import dataclasses
import sys
import time

if "--process" in sys.argv:
    import multiprocessing

    Pool = multiprocessing.get_context("spawn").Pool
else:
    from csp import Pool

from multiprocessing import TimeoutError


@dataclasses.dataclass(frozen=True)
class Box:
    lo: int
    hi: int


_scale = None


def init(scale):
    global _scale
    _scale = scale


def collatz_steps(n):
    steps = 0
    while n != 1:
        n = 3 * n + 1 if n % 2 else n // 2
        steps += 1
    return steps


def longest_chain(box):
    """The number in [lo, hi) with the longest Collatz chain, and its length."""
    return max((collatz_steps(n), n) for n in range(max(box.lo, 1), box.hi))


def histogram(words):
    counts = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return counts


def scaled(x):
    return x * _scale


def power(base, exp):
    return base ** exp


def checked_sqrt(x):
    if x < 0:
        raise ValueError(f"negative input: {x}")
    return x ** 0.5


def nap(seconds):
    time.sleep(seconds)
    return seconds


def main():
    with Pool(2, init, (10,)) as pool:
        boxes = [Box(lo, lo + 25_000) for lo in range(0, 300_000, 25_000)]
        steps, n = max(pool.map(longest_chain, boxes, chunksize=3))
        print(f"longest Collatz chain below 300000: {n} ({steps} steps)")

        seen = []
        text = "the quick brown fox jumps over the lazy dog the end".split()
        counts = pool.apply_async(histogram, (text,), callback=seen.append).get(timeout=60)
        print("word counts:", sorted(counts.items())[:4], "callback saw it:", seen == [counts])

        print("imap:", list(pool.imap(scaled, range(8), chunksize=3)))
        print("imap_unordered:", sorted(pool.imap_unordered(scaled, range(8))))
        print("starmap_async:", pool.starmap_async(power, [(2, 10), (3, 4), (10, 3)]).get(60))
        print("apply:", pool.apply(power, (7,), {"exp": 2}), pool.apply(len, ([1, 2, 3],)))

        errors = []
        result = pool.map_async(checked_sqrt, [4, 9, -4, 16], 1, error_callback=errors.append)
        try:
            result.get(timeout=60)
        except ValueError as e:
            print("caught from a worker:", repr(e), "| error_callback:", errors == [e] or errors)
        print("successful:", result.successful())

        slow = pool.apply_async(nap, (0.5,))
        try:
            slow.get(timeout=0.01)
        except TimeoutError:
            print("timed out; ready:", slow.ready())
        print("then:", slow.get(timeout=60), slow.successful())

    pool = Pool(2)
    results = [pool.apply_async(power, (i, 2)) for i in range(6)]
    pool.close()
    pool.join()
    print("after close/join:", [r.get(0) for r in results])
    print("pool:", "multiprocessing" if "--process" in sys.argv else "csp", file=sys.stderr)


if __name__ == "__main__":
    main()
