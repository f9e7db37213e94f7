"""Workers that fail in every way, through csp.go, a csp.Pool and InterpreterPoolExecutor:
each error comes back as documented, and the worker (or pool) stays usable.

Faults: raise ValueError; sys.exit(3); loop forever (go and Pool: ``result(timeout)`` raises
TimeoutError, then ``interrupt()`` ends it; the executor, which has no interrupt, like
ProcessPoolExecutor: until told to stop over a channel); overflow the recursion limit in
Python code and in C code (repr of 100,000 nested lists); MemoryError from a huge bytes
object. After each, the same pool (one worker) computes a plain result, from the same
interpreter.

Documented outcomes (README and csp.Task.result): the exception re-raised as the builtin of
the same name (go/Pool: with the remote traceback as a note; the executor: as
``__cause__``); an interrupted task's result() raises RuntimeError('the task was
interrupted'); SystemExit from go/Pool arrives as RuntimeError('SystemExit: 3'), so a worker
cannot exit the caller; the executor re-raises it as SystemExit like ProcessPoolExecutor.

50 rounds (--quick: 3).
"""

import sys
import time

import csp

from _common import Report, exit_with, parse_args

LONG = 60.0


def plain(x):
    return x * x, csp.current_interpreter()


def raises(_):
    raise ValueError("raised on purpose")


def exits(_):
    sys.exit(3)


def forever(stop):
    """Loops until interrupted, or until ``stop`` (if a channel) has a value."""
    n = 0
    while True:
        n += 1
        if stop is not None and n % 10_000 == 0:
            try:
                stop.recv_nowait()
                return "stopped"
            except csp.Empty:
                pass


def recursion(_):
    def down(n):
        return down(n + 1)

    return down(0)


def c_recursion(_):
    nested = []
    for _ in range(100_000):
        nested = [nested]
    return len(repr(nested))


def memory(_):
    return len(bytes(1 << 48))  # 256 TiB


def note(e):
    return "".join(getattr(e, "__notes__", ()))


def cause(e):
    return str(e.__cause__) if type(e.__cause__).__name__ == "RemoteTraceback" else ""


# fault -> (check of the exception raised by go/Pool, check of the executor's)
EXPECTED = {
    raises: (
        lambda e: type(e) is ValueError and "on purpose" in str(e) and "raises" in note(e),
        lambda e: type(e) is ValueError and "raise ValueError" in cause(e),
    ),
    exits: (
        lambda e: type(e) is RuntimeError and "SystemExit: 3" in str(e),
        lambda e: type(e) is SystemExit and e.code == 3 and "sys.exit(3)" in cause(e),
    ),
    recursion: (
        lambda e: type(e) is RecursionError and "down" in note(e),
        lambda e: type(e) is RecursionError and "down" in cause(e),
    ),
    c_recursion: (
        lambda e: type(e) is RecursionError,
        lambda e: type(e) is RecursionError,
    ),
    memory: (
        lambda e: type(e) is MemoryError,
        lambda e: type(e) is MemoryError,
    ),
}


def interrupted(e):
    return isinstance(e, RuntimeError) and "interrupted" in str(e)


def outcome(get):
    """What ``get()`` raised (or returned, as ('returned', value))."""
    try:
        return ("returned", get())
    except BaseException as e:  # SystemExit and KeyboardInterrupt are outcomes here
        return e


def via_tasks(report, label, submit, round_no):
    """go or Pool(1): ``submit(func, arg)`` returns a csp.Task."""
    first = submit(plain, 2).result(LONG)
    report.check(first[0] == 4, f"{label}: plain result", repr(first))
    home = first[1]
    for fault, (expected, _) in EXPECTED.items():
        what = f"round {round_no} {label} {fault.__name__}"
        e = outcome(lambda: submit(fault, None).result(LONG))
        report.check(isinstance(e, BaseException) and expected(e), what, f"raised {e!r}")
        after = submit(plain, 3).result(LONG)
        report.check(after[0] == 9, f"{what}: usable after", repr(after))
        if label == "pool":
            report.check(after[1] == home, f"{what}: same worker after",
                         f"interpreter {after[1]}, was {home}")
    what = f"round {round_no} {label} forever"
    task = submit(forever, None)
    e = outcome(lambda: task.result(timeout=0.2))
    report.check(isinstance(e, TimeoutError), f"{what}: result(timeout)", f"raised {e!r}")
    report.check(task.interrupt(), f"{what}: interrupt() reached it")
    started = time.monotonic()
    e = outcome(lambda: task.result(LONG))
    report.check(interrupted(e), f"{what}: interrupted", f"raised {e!r}")
    report.check(time.monotonic() - started < 5, f"{what}: ended promptly")
    after = submit(plain, 4).result(LONG)
    report.check(after[0] == 16, f"{what}: usable after", repr(after))
    if label == "pool":
        report.check(after[1] == home, f"{what}: same worker after")


def via_executor(report, executor, round_no):
    home = executor.submit(plain, 2).result(LONG)[1]
    for fault, (_, expected) in EXPECTED.items():
        what = f"round {round_no} executor {fault.__name__}"
        e = outcome(lambda: executor.submit(fault, None).result(LONG))
        report.check(isinstance(e, BaseException) and expected(e), what, f"raised {e!r}")
        after = executor.submit(plain, 3).result(LONG)
        report.check(after == (9, home), f"{what}: usable after", repr(after))
    what = f"round {round_no} executor forever"
    stop = csp.Channel(1)
    future = executor.submit(forever, stop)
    e = outcome(lambda: future.result(timeout=0.2))
    report.check(isinstance(e, TimeoutError), f"{what}: result(timeout)", f"raised {e!r}")
    stop.send(True)
    report.check(outcome(lambda: future.result(LONG)) == ("returned", "stopped"),
                 f"{what}: stopped when told")
    report.check(executor.submit(plain, 4).result(LONG) == (16, home), f"{what}: usable after")


def main():
    args = parse_args(__doc__.split("\n\n")[0])
    rounds = 3 if args.quick else 50
    report = Report("faults", watchdog_s=300 if args.quick else 1800)
    with csp.Pool(1) as pool, csp.InterpreterPoolExecutor(1) as executor:
        for round_no in range(rounds):
            via_tasks(report, "go", csp.go, round_no)
            via_tasks(report, "pool", pool.submit, round_no)
            via_executor(report, executor, round_no)
    # A fresh pool and executor still work after all that.
    with csp.Pool(2) as pool:
        report.check(pool.map(plain, [5])[0][0] == 25, "a new pool afterwards")
    with csp.InterpreterPoolExecutor(2) as executor:
        report.check(executor.submit(plain, 6).result(LONG)[0] == 36, "a new executor afterwards")
    names = ", ".join(f.__name__ for f in EXPECTED)
    report.say(f"{rounds} rounds of {names} and forever through go, Pool(1) and "
               "InterpreterPoolExecutor(1)")
    exit_with(report.finish())


if __name__ == "__main__":
    main()
