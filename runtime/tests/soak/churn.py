"""Interpreters created and destroyed over and over while channel traffic flows: every cycle
creates a csp.Pool of 2 interpreters, runs work on it and closes it (every 10th cycle an
InterpreterPoolExecutor too), while two go tasks stream numbered messages to each other.
Checks the work's results, that the stream loses and reorders nothing, and that resident
memory (VmRSS) stays flat: less than 5 % growth over the second half of the cycles.

1,000 cycles (--quick: 100).
"""

import time

import csp

from _common import Report, exit_with, parse_args, rss_kib


def square(x):
    return x * x


def square_where(x):
    """x * x and the interpreter that computed it."""
    return x * x, csp.current_interpreter()


def pump(out, stop):
    """Sends 0, 1, 2, ... on ``out`` (paced) until ``stop`` has a value; returns how many it
    sent."""
    sent = 0
    while True:
        ch, _ = csp.select((out, sent), stop)
        if ch is stop:
            out.close()
            return sent
        sent += 1
        if sent % 256 == 0:
            time.sleep(0.002)  # traffic, not a busy loop: leave the cores to the cycles


def drain(inp):
    """Receives until ``inp`` is closed; returns (count, how many were out of sequence)."""
    expected = bad = 0
    for value in inp:
        if value != expected:
            bad += 1
        expected = value + 1
    return expected, bad


def main():
    args = parse_args(__doc__.split("\n\n")[0])
    cycles = 100 if args.quick else 1000
    report = Report("churn", watchdog_s=300 if args.quick else 1800)
    stream, stop = csp.Channel(16), csp.Channel(1)
    consumer = csp.go(drain, stream)
    producer = csp.go(pump, stream, stop)
    samples = []  # (cycle, rss KiB)
    interpreters = set()
    started = time.monotonic()
    for cycle in range(cycles):
        with csp.Pool(2) as pool:
            got = pool.map(square_where, range(8))
            report.check([r for r, _ in got] == [x * x for x in range(8)],
                         f"cycle {cycle}: pool.map", repr(got))
            interpreters.update(i for _, i in got)
        if cycle % 10 == 9:
            with csp.InterpreterPoolExecutor(2) as executor:
                got = list(executor.map(square, range(4)))
                report.check(got == [0, 1, 4, 9], f"cycle {cycle}: executor.map", repr(got))
        samples.append((cycle, rss_kib()))
    took = time.monotonic() - started
    stop.send(True)
    sent = producer.result(60)
    received, bad = consumer.result(60)
    report.check(len(interpreters) >= cycles, "every pool had new interpreters",
                 f"{len(interpreters)} distinct over {cycles} cycles")
    report.check(received == sent and bad == 0, "the stream during the cycles",
                 f"{sent} sent, {received} received, {bad} out of sequence")

    def level(lo, hi):
        """The median RSS of the samples between fractions lo and hi of the run."""
        window = sorted(rss for cycle, rss in samples if lo * cycles <= cycle < hi * cycles)
        return window[len(window) // 2]

    mid, end = level(0.4, 0.6), level(0.9, 1.0)
    growth = (end - mid) / mid
    report.check(growth < 0.05, "RSS flat over the second half",
                 f"{mid} KiB at the middle, {end} KiB at the end: {growth:+.1%}")
    report.say(f"{cycles} cycles ({2 * cycles + 2 * (cycles // 10)} interpreters created and "
               f"destroyed) in {took:.1f} s while {sent} messages streamed; RSS "
               f"{samples[0][1]} KiB after the first cycle, {mid} KiB at the middle, {end} KiB "
               f"at the end ({growth:+.1%})")
    exit_with(report.finish())


if __name__ == "__main__":
    main()
