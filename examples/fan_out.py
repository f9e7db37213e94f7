"""Fan-out / fan-in with select: estimate pi by Monte Carlo on a pool of worker interpreters.

    subinterp run examples/fan_out.py [SAMPLES] [WORKERS]

The main interpreter hands out jobs (a seed and a number of samples) on one channel that every
worker receives from (fan-out), and collects each worker's results from its own channel
(fan-in). One `csp.select` does both: it offers the next job to whichever worker is ready
*and* takes whichever result arrives first, so the dispatcher never blocks on one side while
the other side waits for it. When the jobs run out the job channel is closed; each worker then
closes its result channel, which `select` reports as `csp.CLOSED`. The seeds are fixed, so the
count of hits is the same however the jobs are spread over the workers.
"""

import os
import random
import sys
import time

import csp

JOB = 50_000  # samples per job


def hits(seed, samples):
    """How many of `samples` random points of the unit square fall in the quarter circle."""
    rng = random.Random(seed)
    inside = 0
    for _ in range(samples):
        x, y = rng.random(), rng.random()
        if x * x + y * y <= 1.0:
            inside += 1
    return inside


def worker(jobs, results):
    """Runs jobs until the job channel closes, then closes its result channel."""
    with results:
        for seed, samples in jobs:
            results.send((seed, hits(seed, samples)))


def estimate(samples, workers):
    jobs = csp.Channel()
    results = [csp.Channel() for _ in range(workers)]
    tasks = [csp.go(worker, jobs, out) for out in results]
    todo = [(seed, min(JOB, samples - seed * JOB)) for seed in range(-(-samples // JOB))]
    todo.reverse()
    open_results, total, per_seed = list(results), 0, {}
    while open_results:
        cases = list(open_results)
        if todo:
            cases.append((jobs, todo[-1]))
        channel, value = csp.select(*cases)
        if channel is jobs:  # A worker took the job.
            todo.pop()
            if not todo:
                jobs.close()
        elif value is csp.CLOSED:  # That worker is done.
            open_results.remove(channel)
        else:
            seed, inside = value
            per_seed[seed] = inside
            total += inside
    for task in tasks:
        task.result()
    return total, len(per_seed)


if __name__ == "__main__":
    samples = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else (os.process_cpu_count() or 1)
    started = time.perf_counter()
    inside, jobs = estimate(samples, workers)
    print(f"{inside} of {samples} samples inside the quarter circle: pi ~ {4 * inside / samples:.5f}")
    print(f"{jobs} jobs on {workers} workers, {time.perf_counter() - started:.2f} s", file=sys.stderr)
