"""Counts the primes below N on every core, with one own-GIL interpreter per core.

    subinterp run examples/primes.py [N] [WORKERS]

The range is split into chunks that a csp.Pool counts in parallel by trial division
(pure Python, CPU-bound: threads would take turns on one GIL here). Prints the count on
stdout, and the timing and CPU use (CPU seconds per wall second: about the number of cores
kept busy) on stderr.
"""

import sys
import time

import csp


def small_primes(limit):
    """The primes <= limit (a plain sieve; limit is small)."""
    sieve = bytearray([1]) * (limit + 1)
    sieve[:2] = b"\0\0"
    for n in range(2, int(limit**0.5) + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytes(len(range(n * n, limit + 1, n)))
    return [n for n in range(limit + 1) if sieve[n]]


def count_primes(bounds):
    """The number of primes in [lo, hi), by trial division by the primes up to sqrt(hi)."""
    lo, hi = bounds
    divisors = small_primes(int(hi**0.5) + 1)
    count = 0
    for n in range(max(lo, 2), hi):
        for d in divisors:
            if d * d > n:
                count += 1
                break
            if n % d == 0:
                break
        else:
            count += 1
    return count


def chunks(n, parts):
    """[lo, hi) ranges covering [0, n)."""
    step = -(-n // parts)
    return [(lo, min(lo + step, n)) for lo in range(0, n, step)]


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else None
    started, cpu_started = time.perf_counter(), time.process_time()
    with csp.Pool(workers) as pool:
        total = sum(pool.map(count_primes, chunks(n, pool.workers * 8)))
        used = pool.workers
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(f"primes below {n}: {total}")
    print(f"{used} workers, {wall:.2f} s, CPU/wall {cpu / wall:.2f}", file=sys.stderr)
