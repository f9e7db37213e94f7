"""A CSP pipeline: the concurrent prime sieve, one interpreter per stage.

    subinterp run examples/pipeline.py [PRIMES]

A generator sends 2, 3, 4, ... into a channel. The sink takes the first number that reaches
it: a prime. It prints it and puts a new filter stage in front of itself, which drops the
multiples of that prime and passes the rest on. After PRIMES primes (default 100) the sink
closes the head of the pipeline: the generator stops, and the close travels down from stage
to stage (each stage's `for` loop ends, then it closes its output), so every interpreter ends
cleanly. Every stage blocks on its channels, and there are more stages than cores: `csp.go`
gives each stage an interpreter of its own, so nothing waits for a free worker.
"""

import sys
import time

import csp


def generate(out):
    """Sends 2, 3, 4, ... until the channel is closed."""
    n = 2
    try:
        while True:
            out.send(n)
            n += 1
    except csp.ChannelClosed:
        pass


def keep_non_multiples(prime, inp, out):
    """Passes on what is not a multiple of `prime`; closes `out` when `inp` closes, and
    `inp` when `out` does (a closed sink shuts the pipeline down from either end)."""
    with out:
        for n in inp:
            if n % prime:
                try:
                    out.send(n)
                except csp.ChannelClosed:
                    break
    inp.close()


def sieve(count):
    head = csp.Channel()
    stages = [csp.go(generate, head)]
    inp, primes = head, []
    for _ in range(count):
        prime = inp.recv()
        primes.append(prime)
        out = csp.Channel()
        stages.append(csp.go(keep_non_multiples, prime, inp, out))
        inp = out
    head.close()  # Shut down from the head: each stage closes the next.
    leftover = list(inp)  # Whatever was in flight when the head closed.
    for stage in stages:
        stage.result()
    return primes, leftover


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    started = time.perf_counter()
    primes, leftover = sieve(count)
    print(f"the first {count} primes, through {count} filter stages:")
    print(" ".join(map(str, primes)))
    alive, idle = csp._go_counts()
    print(
        f"{len(primes) + 1} interpreters ({alive} still alive, {idle} idle), "
        f"{time.perf_counter() - started:.2f} s; {len(leftover)} in flight at shutdown",
        file=sys.stderr,
    )
