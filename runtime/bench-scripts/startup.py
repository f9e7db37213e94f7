"""Start-up cost of isolated own-GIL subinterpreters: time, idle memory and leaks.

    python runtime/bench-scripts/startup.py [--json] [--quick] [--samples N] [--idle N] [--cycles N]

Run it with the interpreter of each build to compare them (`cargo xtask bench` runs it with
the patched and the `--no-patches` build). Only the standard library is used, so it runs on
stock CPython 3.13 too. Every interpreter is created exactly as `_interpreters.create("isolated")`
creates it: its own GIL and allocator, multi-phase extensions only (what the subinterp runtime
uses). What is measured, each in a fresh state of this process:

- create: `_interpreters.create("isolated")` (ready to run code), over many samples;
- destroy: `_interpreters.destroy()` of an idle interpreter;
- create+destroy, and create + run a first statement + destroy: the statement touches
  sys.path and the standard streams, so work a lazy start-up defers is counted there;
- idle RSS: the growth of this process's resident memory per idle interpreter, over N live ones;
- leak: RSS after the first 100 create/destroy cycles and after all of them (default 1,000);
- process start: `python -c pass`, `-S` and `-I`, for reference (best of several).

Times are reported as min, median and 90th percentile in milliseconds; on a shared machine
the minimum is the most repeatable. For instruction-exact comparisons run
`valgrind --tool=callgrind python startup.py --profile 20` (creates and destroys 20
interpreters and nothing else).
"""

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

try:
    import _interpreters
except ImportError:  # Not 3.13+, or built without it.
    _interpreters = None

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MiB = 1024 * 1024


def rss_bytes():
    """Resident set size of this process now (Linux), else the peak (other POSIX)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def create():
    return _interpreters.create("isolated")


def destroy(interp):
    _interpreters.destroy(interp)


def summary(samples_s):
    ms = sorted(s * 1e3 for s in samples_s)
    return {
        "min_ms": round(ms[0], 4),
        "median_ms": round(statistics.median(ms), 4),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 4),
        "samples": len(ms),
    }


def time_create_destroy(samples, warmup):
    """Times create, destroy and create+destroy, one interpreter at a time."""
    for _ in range(warmup):
        destroy(create())
    gc.collect()
    creates, destroys, both = [], [], []
    clock = time.perf_counter
    for _ in range(samples):
        t0 = clock()
        interp = create()
        t1 = clock()
        destroy(interp)
        t2 = clock()
        creates.append(t1 - t0)
        destroys.append(t2 - t1)
        both.append(t2 - t0)
    return summary(creates), summary(destroys), summary(both)


# Run in the new interpreter: touches what a lazy start-up may have deferred (sys.path,
# the standard streams and their encoding, a stdlib import through the path finder).
FIRST_CODE = "import sys; sys.path[0]; sys.stdout.encoding; sys.stderr.flush()"


def time_create_exec_destroy(samples, warmup, code):
    for _ in range(warmup):
        interp = create()
        _interpreters.run_string(interp, code)
        destroy(interp)
    gc.collect()
    out = []
    clock = time.perf_counter
    for _ in range(samples):
        t0 = clock()
        interp = create()
        _interpreters.run_string(interp, code)
        destroy(interp)
        out.append(clock() - t0)
    return summary(out)


def idle_rss(count):
    """RSS growth per idle interpreter, with `count` of them alive at once."""
    for _ in range(3):
        destroy(create())
    gc.collect()
    before = rss_bytes()
    interps = [create() for _ in range(count)]
    after = rss_bytes()
    for interp in interps:
        destroy(interp)
    gc.collect()
    released = rss_bytes()
    return {
        "interpreters": count,
        "per_interpreter_mib": round((after - before) / count / MiB, 4),
        "rss_before_mib": round(before / MiB, 2),
        "rss_with_all_mib": round(after / MiB, 2),
        "rss_after_destroy_mib": round(released / MiB, 2),
    }


def leak(cycles, code=None):
    """RSS after the first 100 create/destroy cycles vs after `cycles` of them."""
    first = min(100, cycles)
    at_first = None
    for i in range(1, cycles + 1):
        interp = create()
        if code is not None:
            _interpreters.run_string(interp, code)
        destroy(interp)
        if i == first:
            gc.collect()
            at_first = rss_bytes()
    gc.collect()
    at_end = rss_bytes()
    return {
        "cycles": cycles,
        "rss_after_first_100_mib": round(at_first / MiB, 2),
        "rss_after_all_mib": round(at_end / MiB, 2),
        "growth_percent": round((at_end - at_first) / at_first * 100, 2),
        "growth_per_cycle_kib": round((at_end - at_first) / max(cycles - first, 1)
                                      / 1024, 2),
    }


def process_start(repeats):
    out = {}
    for label, args in (("python -c pass", []), ("python -S -c pass", ["-S"]),
                        ("python -I -c pass", ["-I"])):
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, *args, "-c", "pass"], check=True)
            best = min(best, time.perf_counter() - t0)
        out[label] = round(best * 1e3, 3)
    return out


def describe_build():
    import sysconfig

    return {
        "executable": sys.executable,
        "version": sys.version.split()[0],
        "prefix": sys.prefix,
        "configure": sysconfig.get_config_var("CONFIG_ARGS") or "",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check it runs")
    parser.add_argument("--samples", type=int, default=None, help="timed creations (200)")
    parser.add_argument("--idle", type=int, default=None, help="live idle interpreters (100)")
    parser.add_argument("--cycles", type=int, default=None, help="leak-test cycles (1000)")
    parser.add_argument("--profile", type=int, metavar="N", default=None,
                        help="only create and destroy N interpreters (for callgrind)")
    args = parser.parse_args()

    if _interpreters is None:
        sys.exit("this Python has no _interpreters module (needs CPython 3.13+)")
    if args.profile is not None:
        for _ in range(args.profile):
            destroy(create())
        return

    samples = args.samples or (20 if args.quick else 200)
    idle = args.idle or (10 if args.quick else 100)
    cycles = args.cycles or (150 if args.quick else 1000)
    warmup = 3 if args.quick else 10

    create_s, destroy_s, both_s = time_create_destroy(samples, warmup)
    exec_s = time_create_exec_destroy(max(samples // 2, 5), warmup, FIRST_CODE)
    results = {
        "build": describe_build(),
        "create": create_s,
        "destroy": destroy_s,
        "create_destroy": both_s,
        "create_exec_destroy": exec_s,
        "idle_rss": idle_rss(idle),
        "leak": leak(cycles),
        "process_start_ms": process_start(5 if args.quick else 20),
    }

    if args.json:
        print(json.dumps(results, indent=2))
        return

    b = results["build"]
    print(f"isolated subinterpreter start-up: {b['executable']} ({b['version']})")
    print(f"{'':28}{'min':>10}{'median':>10}{'p90':>10}   (ms, {samples} samples)")
    for key, label in (("create", "create"), ("destroy", "destroy"),
                       ("create_destroy", "create+destroy"),
                       ("create_exec_destroy", "create+exec+destroy")):
        r = results[key]
        print(f"{label:28}{r['min_ms']:>10.3f}{r['median_ms']:>10.3f}{r['p90_ms']:>10.3f}")
    r = results["idle_rss"]
    print(f"idle RSS per interpreter   {r['per_interpreter_mib']:>10.3f} MiB"
          f"  ({r['interpreters']} alive; RSS {r['rss_before_mib']} -> "
          f"{r['rss_with_all_mib']} -> {r['rss_after_destroy_mib']} MiB after destroying them)")
    r = results["leak"]
    print(f"leak, {r['cycles']} create/destroy  {r['growth_percent']:>+8.2f} %"
          f"    (RSS {r['rss_after_first_100_mib']} MiB after 100, "
          f"{r['rss_after_all_mib']} MiB after all: "
          f"{r['growth_per_cycle_kib']} KiB per cycle)")
    for label, ms in results["process_start_ms"].items():
        print(f"{label:28}{ms:>10.3f} ms (best)")


if __name__ == "__main__":
    main()
