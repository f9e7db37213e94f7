"""The Python half of the embed demo: CPU-bound work for the pool's interpreters."""


def count_primes(lo, hi):
    """How many primes are in [lo, hi), by trial division (pure Python, CPU-bound)."""
    count = 0
    for n in range(max(lo, 2), hi):
        if all(n % d for d in range(2, int(n ** 0.5) + 1)):
            count += 1
    return count
