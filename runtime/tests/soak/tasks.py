"""Thousands of csp.go tasks, some interrupted at random moments and some waited for with
short timeouts: each task ends with its right result, or, if ``interrupt()`` said it reached
the task, with the documented error; a ``result(timeout=...)`` that runs out raises
TimeoutError and leaves the task running. Afterwards the runtime is healthy: a final round
of tasks all succeed.

10^4 tasks in waves of 40 (--quick: 500).
"""

import random
import time

import csp

from _common import Report, exit_with, parse_args

WAVE = 40
LONG = 60.0  # a task still not done after this is hung


def spin(us, n):
    """Busy for ``us`` microseconds, then n * n."""
    end = time.perf_counter() + us / 1e6
    while time.perf_counter() < end:
        pass
    return n * n


def block(gate, n):
    """Waits for a token on ``gate``, then token * n."""
    return gate.recv() * n


def fast(n):
    return n * n


def interrupted_error(e):
    """The documented outcome of an interrupted task: its KeyboardInterrupt, which result()
    reports as RuntimeError('the task was interrupted')."""
    return isinstance(e, KeyboardInterrupt) or (
        isinstance(e, RuntimeError) and "interrupted" in str(e)
    )


def wave(report, rng, base, stats):
    tasks = []
    for i in range(WAVE):
        n = base + i
        kind = rng.choice(("fast", "spin", "spin", "block"))
        if kind == "fast":
            task, want = csp.go(fast, n), n * n
            gate = None
        elif kind == "spin":
            task, want = csp.go(spin, rng.choice((0, 100, 1000, 5000)), n), n * n
            gate = None
        else:
            gate = csp.Channel(1)
            task, want = csp.go(block, gate, n), 3 * n
        action = rng.choice(("none", "none", "interrupt", "timeout", "timeout-interrupt"))
        tasks.append([n, kind, task, want, gate, action, None])
        stats[kind] += 1
    for entry in tasks:
        n, kind, task, want, gate, action, _ = entry
        if action in ("timeout", "timeout-interrupt"):
            try:
                got = task.result(timeout=rng.choice((0, 0.0001, 0.001)))
            except TimeoutError:
                stats["timed out"] += 1
            except Exception as e:
                report.check(False, f"task {n} ({kind}) result(timeout)", repr(e))
            else:
                report.check(got == want, f"task {n} ({kind}) early result", f"{got} != {want}")
        if action in ("interrupt", "timeout-interrupt"):
            if rng.random() < 0.5:
                time.sleep(rng.choice((0, 0.0005, 0.002)))
            entry[6] = task.interrupt()
            stats["interrupt reached" if entry[6] else "interrupt missed"] += 1
        if gate is not None and not entry[6]:
            gate.send(3)  # a block task that was not interrupted gets its token
    for n, kind, task, want, gate, action, reached in tasks:
        what = f"task {n} ({kind}, {action})"
        try:
            got = task.result(timeout=LONG)
        except TimeoutError:
            report.check(False, what, f"not done after {LONG} s")
            task.interrupt()
            continue
        except Exception as e:
            report.check(reached and interrupted_error(e), what,
                         f"raised {e!r} (interrupt reached it: {reached})")
            if interrupted_error(e):
                stats["ended interrupted"] += 1
            continue
        if reached and gate is not None:
            # interrupt() said it reached a task blocked on its gate, yet the task finished:
            # it can only have if the token was there, and it never was.
            report.check(False, what, f"finished with {got!r} though interrupted on its gate")
            continue
        report.check(got == want, what, f"{got!r} != {want!r}")


def main():
    args = parse_args(__doc__.split("\n\n")[0])
    total = 500 if args.quick else 10_000
    report = Report("tasks", watchdog_s=300 if args.quick else 1800)
    rng = random.Random(1)
    stats = {k: 0 for k in ("fast", "spin", "block", "timed out", "interrupt reached",
                            "interrupt missed", "ended interrupted")}
    for base in range(0, total, WAVE):
        wave(report, rng, base, stats)
    report.say(f"{stats['fast'] + stats['spin'] + stats['block']} go tasks: " + ", ".join(f"{v} {k}" for k, v in stats.items()))
    # Healthy afterwards: a final round all succeeds, a blocked task still gets its value.
    finals = [csp.go(fast, i) for i in range(200)]
    report.check([t.result(LONG) for t in finals] == [i * i for i in range(200)],
                 "final round of 200 tasks")
    gate = csp.Channel()
    task = csp.go(block, gate, 5)
    gate.send(2, timeout=LONG)
    report.check(task.result(LONG) == 10, "a final blocked task")
    alive, idle = csp._go_counts()
    report.say(f"go interpreters at the end: {alive} alive, {idle} idle")
    exit_with(report.finish())


if __name__ == "__main__":
    main()
