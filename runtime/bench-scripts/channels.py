"""Channel benchmarks (part of `cargo xtask bench`, see README.md): message throughput and
ping-pong latency between two interpreters, csp channels vs the alternatives, side by side in
one run. Used by bench.py.

- csp: a ``csp.Channel`` between the main interpreter and one started by ``csp.go``; for
  large payloads also sending one ``csp.SharedBytes`` again and again (no copy at all: what
  crosses is a reference to the same immutable memory), while plain ``bytes`` are copied once
  per send, into memory the receiver then reads without a copy.
- _interpqueues: the stdlib's private cross-interpreter queue between the main interpreter and
  an ``_interpreters`` subinterpreter. It cannot block, so both sides spin on QueueEmpty /
  QueueFull: its best case (the public wrapper sleeps 10 ms instead).
- multiprocessing.Queue: between the main process and a spawned one.
- queue.Queue: between two threads of one interpreter (sharing its GIL).

Throughput counts the messages one producer sends to one consumer through a queue holding up
to CAPACITY items (fewer for large payloads: at most 64 MiB queued), from the first received
to the last. Latency is the round trip of a small
int sent to an echoing peer and back, one at a time (rendezvous channels for csp).
"""

import multiprocessing
import queue
import threading
import time

try:
    import csp
except ImportError:  # In multiprocessing's spawned children, which run plain python.
    csp = None

CAPACITY = 1024


def capacity(payload):
    """The queue size for ``payload``: CAPACITY, but at most 64 MiB of payloads."""
    size = 8 if payload is None else len(payload)
    return max(1, min(CAPACITY, (64 << 20) // size))

PAYLOADS = {
    "small int": None,  # the loop index
    "1 KiB bytes": b"x" * 1024,
    "1 MiB bytes": b"x" * (1 << 20),
}


# -- the other side of each variant (functions called in other interpreters/processes) --------


def csp_produce(channel, payload, count, shared):
    """Sends ``count`` messages (the index, or ``payload``) and closes the channel. Large
    payloads arrive here as SharedBytes; unless ``shared``, they are sent as ``bytes`` (copied
    into shared memory by every send)."""
    if payload is not None and not shared:
        payload = bytes(payload)
    if payload is None:
        for i in range(count):
            channel.send(i)
    else:
        for _ in range(count):
            channel.send(payload)
    channel.close()


def csp_echo(requests, replies):
    for message in requests:
        replies.send(message)


def mp_produce(q, payload, count):
    if payload is None:
        for i in range(count):
            q.put(i)
    else:
        for _ in range(count):
            q.put(payload)
    q.put(StopIteration)


def mp_echo(requests, replies):
    while (message := requests.get()) is not None:
        replies.put(message)


INTERPQUEUES_PRODUCE = """
import _interpqueues as q
payload = {payload}
for i in range({count}):
    item = i if payload is None else payload
    while True:
        try:
            q.put({qid}, item, 0, 3)
            break
        except q.QueueError:
            pass
"""

INTERPQUEUES_ECHO = """
import _interpqueues as q
while True:
    try:
        message = q.get({requests})[0]
    except q.QueueError:
        continue
    if message is None:
        break
    q.put({replies}, message, 0, 3)
"""


# -- throughput -------------------------------------------------------------------------------


def rate(count, started):
    return count / (time.perf_counter() - started)


def throughput_csp(payload, count, shared=False):
    channel = csp.Channel(capacity(payload))
    task = csp.go(csp_produce, channel, payload, count, shared)
    channel.recv()
    started = time.perf_counter()
    received = 1
    for _ in channel:
        received += 1
    result = rate(count - 1, started)
    task.result()
    assert received == count, received
    return result


def throughput_interpqueues(payload, count):
    import _interpqueues as q
    import _interpreters

    qid = q.create(capacity(payload), 0, 3)
    interp = _interpreters.create("isolated")
    code = INTERPQUEUES_PRODUCE.format(payload=_literal(payload), count=count, qid=qid)
    producer = threading.Thread(target=_interpreters.exec, args=(interp, code))
    producer.start()
    started = None
    for received in range(count):
        while True:
            try:
                q.get(qid)
                break
            except q.QueueError:
                pass
        if started is None:
            started = time.perf_counter()
    result = rate(count - 1, started)
    producer.join()
    _interpreters.destroy(interp)
    q.destroy(qid)
    return result


def throughput_queues(payload, count, context):
    """multiprocessing (``context`` a spawn context) or threads (``context`` None)."""
    if context is None:
        q = queue.Queue(capacity(payload))
        producer = threading.Thread(target=mp_produce, args=(q, payload, count))
    else:
        q = context.Queue(capacity(payload))
        producer = context.Process(target=mp_produce, args=(q, payload, count))
    producer.start()
    q.get()
    started = time.perf_counter()
    for _ in range(count - 1):
        q.get()
    result = rate(count - 1, started)
    assert q.get() is StopIteration
    producer.join()
    return result


def _literal(payload):
    return "None" if payload is None else f"b'x' * {len(payload)}"


# -- latency ----------------------------------------------------------------------------------


def latency_csp(count):
    requests, replies = csp.Channel(), csp.Channel()
    task = csp.go(csp_echo, requests, replies)
    requests.send(0)
    replies.recv()
    started = time.perf_counter()
    for i in range(count):
        requests.send(i)
        replies.recv()
    elapsed = time.perf_counter() - started
    requests.close()
    task.result()
    return elapsed / count * 1e6


def latency_interpqueues(count):
    import _interpqueues as q
    import _interpreters

    requests, replies = q.create(1, 0, 3), q.create(1, 0, 3)
    interp = _interpreters.create("isolated")
    code = INTERPQUEUES_ECHO.format(requests=requests, replies=replies)
    echo = threading.Thread(target=_interpreters.exec, args=(interp, code))
    echo.start()

    def round_trip(message):
        q.put(requests, message, 0, 3)
        while True:
            try:
                return q.get(replies)
            except q.QueueError:
                pass

    round_trip(0)
    started = time.perf_counter()
    for i in range(count):
        round_trip(i)
    elapsed = time.perf_counter() - started
    q.put(requests, None, 0, 3)
    echo.join()
    _interpreters.destroy(interp)
    q.destroy(requests)
    q.destroy(replies)
    return elapsed / count * 1e6


def latency_queues(count, context):
    """multiprocessing (``context`` a spawn context) or threads (``context`` None)."""
    if context is None:
        requests, replies = queue.Queue(), queue.Queue()
        peer = threading.Thread(target=mp_echo, args=(requests, replies))
    else:
        requests, replies = context.Queue(), context.Queue()
        peer = context.Process(target=mp_echo, args=(requests, replies))
    peer.start()
    requests.put(0)
    replies.get()
    started = time.perf_counter()
    for i in range(count):
        requests.put(i)
        replies.get()
    elapsed = time.perf_counter() - started
    requests.put(None)
    peer.join()
    return elapsed / count * 1e6


# -- the benchmark ----------------------------------------------------------------------------


def run(quick, report):
    """Runs every variant; returns ``{"throughput": {payload: {variant: msgs/s}},
    "latency_us": {variant: us}}``. ``report(line)`` gets progress lines."""
    scale = 0.02 if quick else 1
    counts = {"small int": 1_000_000, "1 KiB bytes": 300_000, "1 MiB bytes": 3_000}
    csp.go(time.sleep, 0).result()  # Leaves an idle go interpreter: no start-up in timings.
    throughput = {}
    for name, payload in PAYLOADS.items():
        count = max(50, int(counts[name] * scale))
        slow = max(50, count // 10)  # multiprocessing is much slower: fewer messages
        results = {"csp": throughput_csp(payload, count)}
        if payload is not None and len(payload) >= csp.SHARED_BYTES_THRESHOLD:
            results["csp (SharedBytes)"] = throughput_csp(payload, count, shared=True)
        results["_interpqueues"] = throughput_interpqueues(payload, count)
        spawn = multiprocessing.get_context("spawn")
        results["multiprocessing.Queue"] = throughput_queues(payload, slow, spawn)
        results["queue.Queue (threads)"] = throughput_queues(payload, count, None)
        for variant, value in results.items():
            report(f"  throughput {name:>12} {variant:>22}: {value:,.0f} msg/s")
        throughput[name] = results
    trips = max(50, int(20_000 * scale))
    latency = {
        "csp": latency_csp(trips),
        "_interpqueues": latency_interpqueues(trips),
        "multiprocessing.Queue": latency_queues(max(50, trips // 10), multiprocessing.get_context("spawn")),
        "queue.Queue (threads)": latency_queues(trips, None),
    }
    for variant, us in latency.items():
        report(f"  round trip {variant:>22}: {us:.1f} us")
    return {"throughput": throughput, "latency_us": latency}


def print_tables(results):
    throughput, latency = results["throughput"], results["latency_us"]
    print("Channel throughput between two interpreters (messages/s; ratio: csp over the other)")
    for name, row in throughput.items():
        base = row["csp"]
        print(f"  {name}")
        for variant, value in row.items():
            ratio = "" if variant.startswith("csp") else f"  (csp {base / value:.1f}x)"
            print(f"    {variant:>22} {value:>14,.0f}{ratio}")
    print()
    print("Ping-pong round trip (one small int there and back)")
    base = latency["csp"]
    for variant, us in latency.items():
        ratio = "" if variant == "csp" else f"  ({us / base:.1f}x csp)"
        print(f"    {variant:>22} {us:>10.1f} us{ratio}")
