"""SIGINT (``os.kill(os.getpid(), SIGINT)`` from a threading.Timer) during every blocking call
of the main interpreter: ``Channel.recv``, ``Channel.send`` on a full channel, ``select``
(receive and send cases), ``Task.result``, ``Pool.map`` and an executor future's
``result``. Each raises KeyboardInterrupt promptly (< 1 s after the signal), and afterwards
the channel, task, pool or executor still works and no value is lost: what was queued is
still there, what a worker sends afterwards arrives, a task's result is still delivered.

Then races: the signal lands at about the moment a value arrives (recv) or is taken (send) on
a rendezvous channel. The value must be delivered exactly once: a recv either returns it or
raises with the value still in the channel; a send either completes (the receiver has the
value) or raises without delivering it. (The calls go through ``list.extend(map(...))`` so
that a value the call returned is kept even if the KeyboardInterrupt is raised right after.)

20 rounds of each call and 300 races each way (--quick: 2 and 30).
"""

import os
import random
import signal
import threading
import time

import csp

from _common import Report, exit_with, parse_args

LONG = 30.0
PROMPT = 1.0  # seconds from the signal to the KeyboardInterrupt


def wait_token(gate, value):
    gate.recv()
    return value


def send_later(ch, value, delay):
    time.sleep(delay)
    ch.send(value, timeout=LONG)
    return "sent"


def recv_later(ch, delay):
    time.sleep(delay)
    return ch.recv(timeout=LONG)


def square(x):
    return x * x


class Sigint:
    """A SIGINT to this process ``delay`` seconds from now; remembers when it was sent."""

    def __init__(self, delay):
        self.sent_at = None
        self.timer = threading.Timer(delay, self._fire)
        self.timer.start()

    def _fire(self):
        self.sent_at = time.monotonic()
        os.kill(os.getpid(), signal.SIGINT)

    def settle(self):
        """Waits until the signal was sent and handled; returns whether a KeyboardInterrupt
        was raised while waiting (it had not been yet)."""
        late = False
        while True:
            try:
                self.timer.join()
                for _ in range(5):
                    time.sleep(0.001)  # the handler runs at the next check
                return late
            except KeyboardInterrupt:
                late = True


def interrupt(report, what, call, delay=0.15):
    """Runs ``call()`` (which blocks) with a SIGINT ``delay`` s in; checks that it raised
    KeyboardInterrupt within PROMPT of the signal."""
    sigint = Sigint(delay)
    try:
        result = call()
    except KeyboardInterrupt:
        took = time.monotonic() - sigint.sent_at
        report.check(took < PROMPT, f"{what}: prompt", f"KeyboardInterrupt {took:.3f} s after")
        sigint.settle()
        return took
    except BaseException as e:
        sigint.settle()
        report.check(False, what, f"raised {e!r} instead of KeyboardInterrupt")
        return None
    late = sigint.settle()
    report.check(False, what, f"returned {result!r}" + (" (interrupted late)" if late else ""))
    return None


def blocking_calls(report, pool, executor, latencies):
    # recv on an empty channel, then a value sent afterwards arrives.
    ch = csp.Channel()
    latencies.append(interrupt(report, "recv", ch.recv))
    sender = csp.go(send_later, ch, "after recv", 0)
    report.check(ch.recv(timeout=LONG) == "after recv", "recv: a value sent afterwards arrives")
    report.check(sender.result(LONG) == "sent", "recv: the sender finished")

    # send on a full channel: nothing is queued by the interrupted send, the queued value
    # stays, a later send arrives.
    full = csp.Channel(1)
    full.send("queued")
    latencies.append(interrupt(report, "send", lambda: full.send("interrupted")))
    report.check(len(full) == 1, "send: only the queued value is queued", f"len {len(full)}")
    report.check(full.recv_nowait() == "queued", "send: the queued value is still there")
    receiver = csp.go(recv_later, full, 0)
    full.send("after send", timeout=LONG)
    report.check(receiver.result(LONG) == "after send", "send: a later send arrives")

    # select over receive cases, and over a send case on a full channel.
    a, b = csp.Channel(), csp.Channel(4)
    latencies.append(interrupt(report, "select recv", lambda: csp.select(a, b)))
    sender = csp.go(send_later, b, "after select", 0)
    report.check(csp.select(a, b, timeout=LONG) == (b, "after select"),
                 "select recv: a value sent afterwards arrives")
    sender.result(LONG)
    full.send("fill")
    latencies.append(interrupt(report, "select send", lambda: csp.select((full, "x"), a)))
    report.check(len(full) == 1 and full.recv_nowait() == "fill",
                 "select send: nothing was sent by the interrupted select")

    # Task.result: the task keeps running and its result is still delivered.
    gate = csp.Channel(1)
    task = csp.go(wait_token, gate, "task result")
    latencies.append(interrupt(report, "Task.result", task.result))
    gate.send(None)
    report.check(task.result(LONG) == "task result", "Task.result: delivered afterwards")

    # Pool.map: the pool stays usable.
    gates = [csp.Channel(1) for _ in range(4)]
    latencies.append(interrupt(
        report, "Pool.map", lambda: pool.starmap(wait_token, [(g, i) for i, g in enumerate(gates)])
    ))
    for g in gates:
        g.send(None)
    report.check(pool.map(square, range(6), timeout=LONG) == [x * x for x in range(6)],
                 "Pool.map: the pool works afterwards")

    # An executor future's result: the future completes afterwards, the executor works.
    gate = csp.Channel(1)
    future = executor.submit(wait_token, gate, "future result")
    latencies.append(interrupt(report, "future.result", future.result))
    gate.send(None)
    report.check(future.result(LONG) == "future result", "future.result: delivered afterwards")
    report.check(list(executor.map(square, range(4), timeout=LONG)) == [0, 1, 4, 9],
                 "executor: works afterwards")


def race_recv(report, rng, i, stats):
    ch = csp.Channel()
    value = f"recv race {i}"
    sender = csp.go(send_later, ch, value, rng.uniform(0, 0.03))
    sigint = Sigint(rng.uniform(0, 0.03))
    got = []
    try:
        got.extend(map(ch.recv, [LONG]))
    except KeyboardInterrupt:
        pass
    sigint.settle()
    if got:
        stats["recv returned"] += 1
        report.check(got == [value], f"recv race {i}", f"got {got!r}")
        report.check(sender.result(LONG) == "sent", f"recv race {i}: sender done")
        report.check(len(ch) == 0, f"recv race {i}: nothing left")
    else:
        stats["recv interrupted"] += 1
        # The value was not taken: it is still to be received, exactly once.
        report.check(ch.recv(timeout=LONG) == value, f"recv race {i}: value still there")
        report.check(sender.result(LONG) == "sent", f"recv race {i}: sender done")


def race_send(report, rng, i, stats):
    ch = csp.Channel()
    value = f"send race {i}"
    receiver = csp.go(recv_later, ch, rng.uniform(0, 0.03))
    sigint = Sigint(rng.uniform(0, 0.03))
    done = []
    try:
        done.extend(map(ch.send, [value]))
    except KeyboardInterrupt:
        pass
    sigint.settle()
    if done:
        stats["send completed"] += 1
        report.check(receiver.result(LONG) == value, f"send race {i}: received")
    else:
        stats["send interrupted"] += 1
        # Not delivered: the receiver is still waiting and gets the next value instead.
        try:
            ch.send("instead", timeout=LONG)
        except Exception as e:
            report.check(False, f"send race {i}", f"the receiver took the interrupted send "
                         f"({receiver.result(LONG)!r}); the next send raised {e!r}")
            return
        report.check(receiver.result(LONG) == "instead", f"send race {i}: not delivered")


def main():
    args = parse_args(__doc__.split("\n\n")[0])
    rounds, races = (2, 30) if args.quick else (20, 300)
    report = Report("sigint", watchdog_s=300 if args.quick else 1800)
    latencies = []
    with csp.Pool(2) as pool, csp.InterpreterPoolExecutor(2) as executor:
        for _ in range(rounds):
            blocking_calls(report, pool, executor, latencies)
    latencies = sorted(t for t in latencies if t is not None)
    if latencies:
        report.say(f"{rounds} rounds of 7 blocking calls; KeyboardInterrupt after the signal: "
                   f"median {latencies[len(latencies) // 2] * 1000:.1f} ms, "
                   f"max {latencies[-1] * 1000:.1f} ms")
    rng = random.Random(2)
    stats = dict.fromkeys(("recv returned", "recv interrupted", "send completed",
                           "send interrupted"), 0)
    for i in range(races):
        race_recv(report, rng, i, stats)
        race_send(report, rng, i, stats)
    report.say(f"{races} races each way: " + ", ".join(f"{v} {k}" for k, v in stats.items()))
    exit_with(report.finish())


if __name__ == "__main__":
    main()
