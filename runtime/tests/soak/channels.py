"""Many senders and receivers on csp.go interpreters, through rendezvous (capacity 0) and
buffered (capacity 64) channels and through select: every message arrives exactly once, and
the messages of each sender in its order.

A message is the int ``sender + (seq << 3)``. Each receiver checks that the seqs of each
sender it sees increase, and returns per sender the count, the sum and the sum of squares of
the seqs it got; across receivers these must add up to exactly 0..n-1 per sender.

10^7 messages in all (--quick: 2 * 10^5).
"""

import time

import csp

from _common import Report, exit_with, parse_args

SENDERS = 4
RECEIVERS = 4


def send_seqs(ch, sender, n):
    send = ch.send
    for seq in range(n):
        send(sender + (seq << 3))
    return n


def tally(values):
    """(counts, sums, sums of squares, order violations) per sender of ``values``."""
    last = [-1] * 8
    count = [0] * 8
    total = [0] * 8
    squares = [0] * 8
    disorder = 0
    for m in values:
        s = m & 7
        q = m >> 3
        if q <= last[s]:
            disorder += 1
        last[s] = q
        count[s] += 1
        total[s] += q
        squares[s] += q * q
    return tuple(count), tuple(total), tuple(squares), disorder


def receive_all(ch):
    return tally(ch)


def selected(channels):
    """The values received with select from ``channels`` until all are closed."""
    open_channels = list(channels)
    while open_channels:
        ch, value = csp.select(*open_channels)
        if value is csp.CLOSED:
            open_channels.remove(ch)
        else:
            yield value


def receive_selecting(*channels):
    return tally(selected(channels))


def phase(report, name, n, capacity, use_select):
    per_sender = n // SENDERS
    started = time.monotonic()
    if use_select:
        # Senders 0 and 1 on one channel, 2 and 3 on the other; receivers select over both.
        channels = [csp.Channel(capacity), csp.Channel(capacity)]
        receivers = [csp.go(receive_selecting, *channels) for _ in range(RECEIVERS)]
        senders = [csp.go(send_seqs, channels[s // 2], s, per_sender) for s in range(SENDERS)]
    else:
        channels = [csp.Channel(capacity)]
        receivers = [csp.go(receive_all, channels[0]) for _ in range(RECEIVERS)]
        senders = [csp.go(send_seqs, channels[0], s, per_sender) for s in range(SENDERS)]
    limit = 600
    for s, task in enumerate(senders):
        try:
            report.check(task.result(limit) == per_sender, f"{name}: sender {s} sent all")
        except Exception as e:
            report.check(False, f"{name}: sender {s}", repr(e))
    for ch in channels:
        ch.close()
    tallies = []
    for r, task in enumerate(receivers):
        try:
            tallies.append(task.result(limit))
        except Exception as e:
            report.check(False, f"{name}: receiver {r}", repr(e))
    took = time.monotonic() - started
    want_total = per_sender * (per_sender - 1) // 2
    want_squares = (per_sender - 1) * per_sender * (2 * per_sender - 1) // 6
    for s in range(SENDERS):
        count = sum(t[0][s] for t in tallies)
        total = sum(t[1][s] for t in tallies)
        squares = sum(t[2][s] for t in tallies)
        report.check(count == per_sender, f"{name}: sender {s} count",
                     f"{count} received of {per_sender}")
        report.check(total == want_total and squares == want_squares,
                     f"{name}: sender {s} exactly once", "lost or duplicated messages")
    disorder = sum(t[3] for t in tallies)
    report.check(disorder == 0, f"{name}: per-sender order", f"{disorder} out of order")
    spread = [sum(t[0]) for t in tallies]
    report.say(f"{name}: {SENDERS * per_sender} messages, {SENDERS} senders, {RECEIVERS} "
               f"receivers (got {spread}), {took:.1f} s, "
               f"{SENDERS * per_sender / took / 1e6:.2f} M msg/s")


def main():
    args = parse_args(__doc__.split("\n\n")[0])
    total = 200_000 if args.quick else 10_000_000
    report = Report("channels", watchdog_s=300 if args.quick else 1800)
    report.say(f"{total} messages over four phases")
    phase(report, "capacity 0", total * 2 // 10, 0, False)
    phase(report, "capacity 64", total * 5 // 10, 64, False)
    phase(report, "select, capacity 64", total * 3 // 20, 64, True)
    phase(report, "select, capacity 0", total * 3 // 20, 0, True)
    exit_with(report.finish())


if __name__ == "__main__":
    main()
