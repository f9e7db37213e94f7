"""Count primes on every core with own-GIL subinterpreters, using only the patched CPython.

Runs the same CPU-bound work twice: in one interpreter, then split over one isolated
subinterpreter per core (each driven by a thread; each has its own GIL, so they run at the
same time). Prints both counts and the speedup. Until the `subinterp` runtime lands, this
uses CPython's private `_interpreters` module directly.
"""

import os
import threading
import time

import _interpqueues
import _interpreters

LIMIT = 300_000
WORK = """
def is_prime(n):
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True
"""


def count_sequential():
    scope = {}
    exec(WORK, scope)
    return sum(1 for n in range(LIMIT) if scope["is_prime"](n))


def count_parallel(workers):
    results = _interpqueues.create(workers, 0, 1)
    chunk = -(-LIMIT // workers)
    interps = [_interpreters.create() for _ in range(workers)]

    def run(interp, start):
        code = WORK + (
            "import _interpqueues\n"
            f"_interpqueues.put({results}, sum(1 for n in range({start}, {min(start + chunk, LIMIT)}) "
            "if is_prime(n)), 0, 1)\n"
        )
        _interpreters.exec(interp, code)

    threads = [threading.Thread(target=run, args=(i, k * chunk)) for k, i in enumerate(interps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(_interpqueues.get(results)[0] for _ in range(workers))
    for interp in interps:
        _interpreters.destroy(interp)
    _interpqueues.destroy(results)
    return total


def main():
    workers = os.cpu_count() or 1
    start = time.perf_counter()
    expected = count_sequential()
    one = time.perf_counter() - start
    start = time.perf_counter()
    found = count_parallel(workers)
    many = time.perf_counter() - start
    assert found == expected, (found, expected)
    print(f"primes below {LIMIT}: {found}")
    print(f"1 interpreter: {one:.2f}s; {workers} own-GIL subinterpreters: {many:.2f}s; speedup {one / many:.2f}x")


if __name__ == "__main__":
    main()
