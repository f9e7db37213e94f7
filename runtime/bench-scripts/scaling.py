"""Scaling beyond two cores, for a machine with many: CPU-bound speedup of a subinterp pool
against a `multiprocessing` pool (spawn) for 1, 2, 4, 8, 16 workers, and channel throughput
with many senders and receivers (csp channels between `go` interpreters against
`multiprocessing.Queue` between processes).

    subinterp run runtime/bench-scripts/scaling.py [--workers 1,2,4,8,16] [--pairs 8] [--json]

The speedup is N units of work on N workers against one unit on one worker of the same kind
(N is ideal). Pools are started and warmed up before timing; kinds take turns.
"""

import argparse
import json
import multiprocessing
import os
import sys
import time

from bench import Processes, SubinterpPool, best_of, calibrate

try:
    import csp
except ImportError:  # In multiprocessing's spawned children, which run plain python.
    csp = None

KINDS = [SubinterpPool, Processes]


def speedups(workers, unit, repeats):
    """{kind: {N: speedup}}."""
    seconds = {kind.name: {} for kind in KINDS}
    for n in workers:
        runners = [kind(n, unit) for kind in KINDS]
        try:
            for runner in runners:
                seconds[runner.name][n] = min(best_of(1, runner.run) for _ in range(repeats))
        finally:
            for runner in runners:
                runner.close()
        print(f"  N={n}: " + ", ".join(f"{k} {v[n]:.3f} s" for k, v in seconds.items()),
              file=sys.stderr, flush=True)
    first = workers[0]
    return {k: {n: v[first] * n / (v[n] * first) for n in v} for k, v in seconds.items()}


def csp_send(ch, count):
    for i in range(count):
        ch.send(i)


def csp_receive(ch, count):
    total = 0
    for _ in range(count):
        total += ch.recv()
    return total


def mp_send(q, count):
    for i in range(count):
        q.put(i)


def mp_receive(q, count, out):
    total = 0
    for _ in range(count):
        total += q.get()
    out.put(total)


def throughput_csp(pairs, count):
    """Messages per second through one channel, `pairs` senders and as many receivers."""
    ch = csp.Channel(1024)
    per = count // pairs
    started = time.perf_counter()
    tasks = [csp.go(csp_send, ch, per) for _ in range(pairs)]
    receivers = [csp.go(csp_receive, ch, per) for _ in range(pairs)]
    total = sum(t.result() for t in receivers)
    for t in tasks:
        t.result()
    took = time.perf_counter() - started
    assert total == pairs * sum(range(per)), "a message was lost or duplicated"
    return pairs * per / took


def throughput_mp(pairs, count):
    ctx = multiprocessing.get_context("spawn")
    q, out = ctx.Queue(1024), ctx.Queue()
    per = count // pairs
    procs = [ctx.Process(target=mp_send, args=(q, per)) for _ in range(pairs)]
    procs += [ctx.Process(target=mp_receive, args=(q, per, out)) for _ in range(pairs)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    total = sum(out.get() for _ in range(pairs))
    for p in procs:
        p.join()
    took = time.perf_counter() - started
    assert total == pairs * sum(range(per)), "a message was lost or duplicated"
    return pairs * per / took


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4,8,16")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--messages", type=int, default=400_000)
    parser.add_argument("--seconds", type=float, default=0.5, help="one unit of work")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    workers = [int(n) for n in args.workers.split(",")]
    print(f"{os.cpu_count()} cores; work unit {args.seconds} s", file=sys.stderr, flush=True)
    unit = calibrate(args.seconds)
    result = {
        "cores": os.cpu_count(),
        "speedup": speedups(workers, unit, args.repeats),
        "channels": {
            "pairs": args.pairs,
            "csp msg/s": throughput_csp(args.pairs, args.messages),
            "multiprocessing.Queue msg/s": throughput_mp(args.pairs, args.messages // 4),
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"CPU-bound speedup on {result['cores']} cores (N units on N workers / 1 on 1):")
    print(f"{'workers':>8} | " + " | ".join(f"{k:>15}" for k in result["speedup"]))
    for n in workers:
        print(f"{n:>8} | " + " | ".join(f"{v[n]:>15.2f}" for v in result["speedup"].values()))
    ch = result["channels"]
    print(f"channel throughput, {ch['pairs']} senders and {ch['pairs']} receivers: "
          f"csp {ch['csp msg/s']:,.0f} msg/s, multiprocessing.Queue "
          f"{ch['multiprocessing.Queue msg/s']:,.0f} msg/s "
          f"({ch['csp msg/s'] / ch['multiprocessing.Queue msg/s']:.1f}x)")


if __name__ == "__main__":
    main()
