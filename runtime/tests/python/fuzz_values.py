"""Property test of the value boundary: random nested values through every way a value
crosses between interpreters.

Run by `cargo test` (cli/tests/fuzz.rs) and by `cargo xtask stress` as

    subinterp run tests/python/fuzz_values.py [--seed N] [--count N]

Every case is a random value, either shareable (None, bool, int of any size, float, complex,
str, bytes, csp.SharedBytes, channels, and tuples or frozensets of those, nested) or not
(lists, dicts, sets, subclasses of the shareable types, objects with hostile ``__hash__`` and
``__eq__`` inside frozensets, objects with ``__index__``, functions, 10,000 levels of
nesting). Each goes through:

- ``local``:    a channel, sent and received in the main interpreter;
- ``channel``:  a channel to an echo task on another interpreter (``csp.go``) and back;
- ``select``:   the same, sent and received with ``csp.select``;
- ``go``:       ``csp.go(identity, value).result()``;
- ``kwargs``:   ``csp.go(identity_kw, x=value).result()``;
- ``pool``:     ``csp.Pool.submit`` (and, per batch, ``Pool.map``);
- ``executor``: ``csp.InterpreterPoolExecutor.submit`` (and, per batch, ``map`` in chunks).

The contract checked (README, "Using it"): a shareable value comes back equal and of exactly
the same type, recursively (nan as nan, the sign of -0.0 kept, the exact types of tuple and
frozenset items), except that bytes of ``csp.SHARED_BYTES_THRESHOLD`` or more arrive as
``csp.SharedBytes`` (and smaller ``SharedBytes`` as ``bytes``); anything else raises
``csp.NotShareableError`` (a TypeError) and crosses nothing. Data nested deeper than the
runtime's limit (512 levels) is refused with a ValueError, also accepted here. The executor
pickles what is not shareable, as ProcessPoolExecutor does, and delivers ``bytes`` as
``bytes``: a value that round-trips through pickle here must round-trip through it, and one
that does not must fail the future with an ordinary exception. Never a crash, a hang, or
another exception.

A failing case can be rerun alone: each case's value depends only on the seed and its index
(``--seed S --only I``).

Strings include lone surrogates ('\\ud800') now and then: they cross like any str
(``--no-surrogates`` leaves them out).
"""

import argparse
import cmath
import collections
import enum
import faulthandler
import math
import pickle
import random
import sys
import time

import csp

TIMEOUT = 60.0  # seconds for any single crossing; more means a hang

# -- functions run in other interpreters -------------------------------------------------------


def identity(x):
    return x


def identity_kw(*, x):
    return x


def echo(inp, out):
    """Sends back everything received, until ``inp`` is closed."""
    for value in inp:
        out.send(value)


def as_list(x):
    return [x]


# -- non-shareable types (module level, so that pickle finds them by name) -------------------


class MyInt(int):
    pass


class MyFloat(float):
    pass


class MyStr(str):
    pass


class MyBytes(bytes):
    pass


class MyTuple(tuple):
    pass


class MyFrozenSet(frozenset):
    pass


class Color(enum.IntEnum):
    RED = 1
    BIG = 2**70


Pair = collections.namedtuple("Pair", "first second")


class Indexable:
    """Looks like an int to ``operator.index`` but is not one."""

    def __index__(self):
        return 7


class RaisingEq:
    """Hashable, but comparing it raises."""

    def __hash__(self):
        return 7

    def __eq__(self, other):
        raise ValueError("hostile __eq__")


class GarbageEq:
    """A different hash every time it is asked, and an ``__eq__`` returning garbage."""

    def __hash__(self):
        return random.getrandbits(62)

    def __eq__(self, other):
        return "garbage"


class RaisingHashLater:
    """Hashes once (to get into a frozenset), then raises: unpickling the set hashes again."""

    def __init__(self):
        self.hashed = False

    def __hash__(self):
        if self.hashed:
            raise RuntimeError("hostile __hash__")
        self.hashed = True
        return 11

    def __getstate__(self):
        return {"hashed": True}


# Compared by exact type only: their __eq__ is hostile or absent.
OPAQUE = (Indexable, RaisingEq, GarbageEq, RaisingHashLater)
SUBCLASSES = (MyInt, MyFloat, MyStr, MyBytes, MyTuple, MyFrozenSet, Color, Pair)

# -- comparing ----------------------------------------------------------------------------------

BYTES_LIKE = (bytes, csp.SharedBytes)


def bytes_type(length, mode):
    """The type bytes (or SharedBytes) of ``length`` arrive as: "csp" for channels, go and
    pools; "exec" for the executor (always bytes); "pickle" keeps the type."""
    if mode == "exec":
        return bytes
    return csp.SharedBytes if length >= csp.SHARED_BYTES_THRESHOLD else bytes


def same_float(a, b):
    if math.isnan(a):
        return math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def same(expected, got, mode):
    """Whether ``got`` is what ``expected`` must arrive as: equal value, exact type,
    recursively."""
    kind = type(expected)
    if kind in BYTES_LIKE:
        return type(got) is bytes_type(len(expected), mode) and bytes(got) == bytes(expected)
    if type(got) is not kind:
        return False
    if kind in OPAQUE:
        return True
    if isinstance(expected, float):
        return same_float(expected, got)
    if isinstance(expected, complex):
        return same_float(expected.real, got.real) and same_float(expected.imag, got.imag)
    if isinstance(expected, (tuple, list)):
        return len(expected) == len(got) and all(
            same(e, g, mode) for e, g in zip(expected, got)
        )
    if isinstance(expected, (frozenset, set)):
        if len(expected) != len(got):
            return False
        left = list(got)
        for e in expected:
            for i, g in enumerate(left):
                if same(e, g, mode):
                    del left[i]
                    break
            else:
                return False
        return True
    if isinstance(expected, dict):
        return len(expected) == len(got) and all(
            same(ke, kg, mode) and same(ve, vg, mode)
            for (ke, ve), (kg, vg) in zip(expected.items(), got.items())
        )
    if callable(expected) and not isinstance(expected, type):
        return expected is got
    return expected == got


def short(value, limit=120):
    """A repr that never fails and never floods the output."""
    try:
        text = repr(value)
    except Exception as e:  # e.g. ints too big for str(), hostile reprs
        text = f"<{type(value).__name__}: repr failed: {type(e).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value, depth=0):
    """A short structural summary: types and sizes, not contents."""
    kind = type(value).__name__
    if depth > 3:
        return "..."
    if type(value) in (tuple, list, frozenset, set, MyTuple, MyFrozenSet):
        items = list(value)
        if len(items) == 1 and type(items[0]) is type(value):
            n = 1
            inner = items[0]
            while type(inner) is type(value) and len(inner) == 1:
                inner = next(iter(inner))
                n += 1
            return f"{kind}^{n}({describe(inner, depth + 1)})"
        inner = ", ".join(describe(item, depth + 1) for item in items[:4])
        return f"{kind}[{inner}{', ...' if len(items) > 4 else ''}]"
    if type(value) is dict:
        return f"dict[{len(value)}]"
    if isinstance(value, (str, bytes, csp.SharedBytes)) and len(value) > 16:
        return f"{kind}[{len(value)}]"
    if type(value) is int and value.bit_length() > 64:
        return f"int[{value.bit_length()} bits]"
    return short(value, 40)


# -- generating ---------------------------------------------------------------------------------

SPECIAL_INTS = [
    0, 1, -1, 2**31 - 1, -(2**31), 2**32, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1,
    2**64 - 1, 2**64, -(2**64), -(2**64) + 1, 2**127, -(2**128),
]
SPECIAL_FLOATS = [
    0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 5e-324, -5e-324, 2.2250738585072014e-308,
    1.7976931348623157e308, -1.7976931348623157e308, 0.1, 1e16, float(2**53 + 1),
]
T = csp.SHARED_BYTES_THRESHOLD


class Gen:
    def __init__(self, rng, surrogates):
        self.rng = rng
        self.surrogates = surrogates
        self.channels = [csp.Channel(c) for c in (0, 1, 5)]

    # scalars

    def int(self):
        r = self.rng
        roll = r.random()
        if roll < 0.4:
            return r.choice(SPECIAL_INTS) + r.choice((0, 0, 1, -1))
        if roll < 0.8:
            return r.randint(-(2**70), 2**70) >> r.randrange(70)
        bits = r.choice((65, 100, 1000, 10_000, 100_000))
        return r.getrandbits(bits) * r.choice((1, -1))

    def float(self):
        r = self.rng
        if r.random() < 0.6:
            return r.choice(SPECIAL_FLOATS)
        return r.uniform(-1e6, 1e6) * 10.0 ** r.randint(-300, 300)

    def complex(self):
        return complex(self.float(), self.float())

    def char(self):
        r = self.rng
        roll = r.random()
        if roll < 0.4:
            return chr(r.randrange(32, 127))
        if roll < 0.5:
            return chr(r.randrange(0, 32))
        if roll < 0.75:
            return chr(r.randrange(0xA0, 0xD800))
        if roll < 0.85:
            return chr(r.randrange(0xE000, 0x10000))
        if roll < 0.95 or not self.surrogates:
            return chr(r.randrange(0x10000, 0x110000))  # outside the BMP
        return chr(r.randrange(0xD800, 0xE000))  # a lone surrogate

    def str(self):
        r = self.rng
        roll = r.random()
        if roll < 0.1:
            return ""
        if roll < 0.15:
            return r.choice(("\x00", "é", "日本", "\U0001f600", "a\x00b", "\U0010ffff"))
        if roll < 0.9:
            return "".join(self.char() for _ in range(r.randrange(1, 40)))
        # long: one of ASCII, latin-1, BMP or non-BMP storage, up to 1 MiB
        c = self.char()
        return (c + self.char()) * r.choice((1000, 30_000, 300_000))

    def bytes_data(self):
        r = self.rng
        roll = r.random()
        if roll < 0.1:
            return b""
        if roll < 0.6:
            return r.randbytes(r.randrange(1, 64))
        if roll < 0.9:
            return r.randbytes(T + r.choice((-1, 0, 1)))
        return r.randbytes(r.choice((1 << 20, 3 << 20)))

    def bytes(self):
        data = self.bytes_data()
        if self.rng.random() < 0.2:
            return csp.SharedBytes(data)
        return data

    def scalar(self):
        r = self.rng
        kind = r.choice(
            ("int", "int", "float", "float", "complex", "str", "str", "bytes", "bool", "none",
             "channel")
        )
        if kind == "bool":
            return r.choice((True, False))
        if kind == "none":
            return None
        if kind == "channel":
            return r.choice(self.channels)
        return getattr(self, kind)()

    # nested

    def shareable(self, depth=0):
        r = self.rng
        roll = r.random()
        if depth >= 4 or roll < 0.45:
            return self.scalar()
        if roll < 0.75:
            return tuple(self.shareable(depth + 1) for _ in range(r.randrange(0, 5)))
        if roll < 0.95:
            items = [self.shareable(depth + 1) for _ in range(r.randrange(0, 5))]
            return frozenset(items)
        # a deep chain that is still under the runtime's nesting limit
        inner = self.scalar()
        for _ in range(r.choice((10, 100, 480))):
            inner = frozenset((inner,)) if r.random() < 0.2 else (inner,)
        return inner

    def plain(self, depth=0):
        """Shareable values that pickle (no channels, no SharedBytes)."""
        value = self.shareable(depth)
        while contains(value, (csp.Channel, csp.SharedBytes)):
            value = self.shareable(depth)
        return value

    def unshareable(self):
        """A value with something non-shareable in it, and a label for it."""
        r = self.rng
        kind = r.choice(
            ("list", "dict", "set", "subclass", "subclass", "hostile", "index", "function",
             "other", "deep", "buried", "buried")
        )
        if kind == "list":
            value = [self.plain(2) for _ in range(r.randrange(0, 4))]
        elif kind == "dict":
            value = {self.str(): self.plain(2) for _ in range(r.randrange(0, 4))}
        elif kind == "set":
            value = {self.plain(3) for _ in range(r.randrange(0, 4))}
        elif kind == "subclass":
            value = r.choice((
                lambda: MyInt(self.int()),
                lambda: MyFloat(self.float()),
                lambda: MyStr(self.str()),
                lambda: MyBytes(self.bytes_data()),
                lambda: MyTuple(self.plain(2) for _ in range(3)),
                lambda: MyFrozenSet([self.int(), self.str()]),
                lambda: r.choice(list(Color)),
                lambda: Pair(self.plain(2), self.plain(2)),
            ))()
        elif kind == "hostile":
            try:
                value = r.choice((
                    lambda: frozenset((RaisingEq(),)),
                    lambda: frozenset((self.int(), RaisingEq(), self.str())),
                    lambda: frozenset((GarbageEq(), GarbageEq(), self.int())),
                    lambda: frozenset((RaisingHashLater(), 1)),
                ))()
            except ValueError:  # a hash collided with the int: __eq__ raised
                value = frozenset((RaisingEq(),))
        elif kind == "index":
            value = Indexable()
        elif kind == "function":
            value = r.choice((identity, len, lambda: None, Gen))
        elif kind == "other":
            value = r.choice((
                lambda: bytearray(self.bytes_data()),
                lambda: memoryview(b"abc"),
                lambda: range(r.randrange(100)),
                lambda: object(),
                lambda: Ellipsis,
                lambda: NotImplemented,
                lambda: type,
                lambda: [self.channels[0]],  # cannot be pickled either
            ))()
        elif kind == "deep":
            value = self.scalar() if r.random() < 0.5 else []
            container = r.choice((tuple, list))
            for _ in range(10_000):
                value = container((value,))
            return value, f"deep {container.__name__}"
        else:  # buried: something non-shareable inside shareable containers
            value, inner = self.unshareable()
            while inner.startswith("deep"):
                value, inner = self.unshareable()
            for _ in range(r.randrange(1, 4)):
                items = [self.plain(3) for _ in range(r.randrange(0, 3))]
                items.insert(r.randrange(len(items) + 1), value)
                if r.random() < 0.3:
                    try:
                        merged = frozenset(items)
                    except Exception:
                        merged = ()  # unhashable: a tuple then
                    # (Color.RED == True: the set may have kept the other one.)
                    if any(item is value for item in merged):
                        value = merged
                        continue
                value = tuple(items)
        return value, kind


def contains(value, kinds, depth=0):
    if isinstance(value, kinds):
        return True
    if type(value) in (tuple, frozenset) and depth < 600:
        return any(contains(item, kinds, depth + 1) for item in value)
    return False


def nesting(value):
    """How deeply tuples and frozensets nest in ``value``."""
    depth, level = 0, [value]
    while level:
        level = [item for v in level if type(v) in (tuple, frozenset) for item in v]
        depth += 1 if level else 0
    return depth


# -- crossing -----------------------------------------------------------------------------------


class Refused(Exception):
    """The crossing refused the value (the exception is in ``args[0]``)."""


def is_clean_refusal(exc, deep):
    if isinstance(exc, csp.NotShareableError):
        return isinstance(exc, TypeError) and "is not shareable" in str(exc)
    return deep and type(exc) is ValueError and "nested deeper than" in str(exc)


class Crossings:
    def __init__(self):
        self.inp, self.out = csp.Channel(1), csp.Channel(1)
        self.echo = csp.go(echo, self.inp, self.out)
        self.local = csp.Channel(1)
        self.pool = csp.Pool(2)
        self.executor = csp.InterpreterPoolExecutor(2)

    def close(self):
        self.inp.close()
        self.echo.result(TIMEOUT)
        self.pool.close()
        self.executor.shutdown(wait=True)

    def local_path(self, value):
        try:
            self.local.send(value, timeout=TIMEOUT)
        except (csp.NotShareableError, ValueError) as e:
            if len(self.local):
                raise AssertionError("a refused value was queued") from e
            raise Refused(e) from e
        return self.local.recv(timeout=TIMEOUT)

    def channel_path(self, value):
        try:
            self.inp.send(value, timeout=TIMEOUT)
        except (csp.NotShareableError, ValueError) as e:
            if len(self.inp):
                raise AssertionError("a refused value was queued") from e
            raise Refused(e) from e
        return self.out.recv(timeout=TIMEOUT)

    def go_path(self, value):
        try:
            task = csp.go(identity, value)
        except (csp.NotShareableError, ValueError) as e:
            raise Refused(e) from e
        return task.result(TIMEOUT)

    def select_path(self, value):
        try:
            channel, none = csp.select((self.inp, value), timeout=TIMEOUT)
        except (csp.NotShareableError, ValueError) as e:
            if len(self.inp):
                raise AssertionError("a refused value was queued") from e
            raise Refused(e) from e
        if channel is not self.inp or none is not None:
            raise AssertionError(f"select's send returned {(channel, none)!r}")
        channel, got = csp.select(self.out, csp.Channel(), timeout=TIMEOUT)
        if channel is not self.out:
            raise AssertionError(f"select received from {channel!r}")
        return got

    def kwargs_path(self, value):
        try:
            task = csp.go(identity_kw, x=value)
        except (csp.NotShareableError, ValueError) as e:
            raise Refused(e) from e
        return task.result(TIMEOUT)

    def pool_path(self, value):
        try:
            task = self.pool.submit(identity, value)
        except (csp.NotShareableError, ValueError) as e:
            raise Refused(e) from e
        return task.result(TIMEOUT)

    def executor_path(self, value):
        return self.executor.submit(identity, value).result(TIMEOUT)


CSP_PATHS = ("local", "channel", "select", "go", "kwargs", "pool")


class Run:
    def __init__(self, verbose):
        self.passed = 0
        self.failed = 0
        self.verbose = verbose
        self.tried = collections.Counter()

    def check(self, ok, case, path, value, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL case {case} {path}: {describe(value)} = {short(value)}: {detail}",
                  flush=True)


def pickles(value):
    """Whether ``value`` round-trips through pickle here (then the executor must carry it)."""
    try:
        return same(value, pickle.loads(pickle.dumps(value)), "pickle")
    except Exception:
        return False


def check_shareable(run, x, case, value):
    deep_ok = nesting(value) <= 500  # every crossing adds a few levels of its own
    for path in CSP_PATHS:
        try:
            got = getattr(x, f"{path}_path")(value)
        except Refused as e:
            run.check(False, case, path, value, f"refused: {short(e.args[0], 300)}")
            continue
        except Exception as e:
            run.check(False, case, path, value, f"raised {type(e).__name__}: {short(e, 300)}")
            continue
        run.check(same(value, got, "csp") and deep_ok, case, path, value,
                  f"came back as {describe(got)} = {short(got)}")
    try:
        got = x.executor_path(value)
    except Exception as e:
        run.check(False, case, "executor", value, f"raised {type(e).__name__}: {short(e, 300)}")
    else:
        run.check(same(value, got, "exec"), case, "executor", value,
                  f"came back as {describe(got)} = {short(got)}")


def check_unshareable(run, x, case, value, kind):
    deep = kind.startswith("deep")
    for path in CSP_PATHS:
        try:
            got = getattr(x, f"{path}_path")(value)
        except Refused as e:
            error = e.args[0]
            run.check(is_clean_refusal(error, deep), case, path, value,
                      f"refused with {type(error).__name__}: {short(error, 300)}")
        except Exception as e:
            run.check(False, case, path, value, f"raised {type(e).__name__}: {short(e, 300)}")
        else:
            run.check(False, case, path, value, f"crossed, as {describe(got)}")
    # The executor pickles it: what pickles here must come back the same, the rest fail the
    # future with an ordinary exception.
    must_cross = not deep and pickles(value)
    try:
        got = x.executor_path(value)
    except TimeoutError as e:
        run.check(False, case, "executor", value, f"timed out: {e}")
    except Exception as e:
        run.check(not must_cross, case, "executor", value,
                  f"raised {type(e).__name__}: {short(e, 300)} (it pickles)")
    else:
        # What does not compare equal to its own pickled copy here (object()) is checked by
        # type only.
        ok = same(value, got, "pickle") if must_cross else type(got) is type(value)
        run.check(ok, case, "executor", value, f"came back as {describe(got)} = {short(got)}")


def check_batch(run, x, batch_id, shareable, picklable):
    """Pool.map and executor map (in chunks) over a batch of values, in order."""
    if shareable:
        try:
            got = x.pool.map(identity, shareable, timeout=TIMEOUT)
        except Exception as e:
            run.check(False, batch_id, "pool.map", shareable,
                      f"raised {type(e).__name__}: {short(e, 300)}")
        else:
            run.check(len(got) == len(shareable)
                      and all(same(v, g, "csp") for v, g in zip(shareable, got)),
                      batch_id, "pool.map", shareable, "results differ")
    # A chunk holding anything non-shareable is pickled as a whole, so channels and
    # SharedBytes (which do not pickle) go in chunks of their own.
    native = [v for v in shareable if contains(v, (csp.Channel, csp.SharedBytes))]
    plain = [v for v in shareable if not contains(v, (csp.Channel, csp.SharedBytes))]
    for name, values, modes in (
        ("executor.map", native, ["exec"] * len(native)),
        ("executor.map mixed", plain + picklable,
         ["exec"] * len(plain) + ["pickle"] * len(picklable)),
    ):
        if not values:
            continue
        try:
            got = list(x.executor.map(identity, values, timeout=TIMEOUT, chunksize=3))
        except Exception as e:
            run.check(False, batch_id, name, values,
                      f"raised {type(e).__name__}: {short(e, 300)}")
        else:
            run.check(len(got) == len(values)
                      and all(same(v, g, m) for v, g, m in zip(values, got, modes)),
                      batch_id, name, values, "results differ")
    # A batch with something non-shareable in it is refused as a whole, cleanly.
    if shareable and picklable:
        try:
            x.pool.map(identity, shareable[:2] + picklable[:1], timeout=TIMEOUT)
        except csp.NotShareableError:
            run.check(True, batch_id, "pool.map refused", None)
        except Exception as e:
            run.check(False, batch_id, "pool.map refused", picklable[:1],
                      f"raised {type(e).__name__}: {short(e, 300)}")
        else:
            run.check(False, batch_id, "pool.map refused", picklable[:1], "crossed")


def check_directed(run, x):
    """Fixed cases around the edges the random ones may miss."""
    # Bytes at the threshold, both ways, and SharedBytes of every size.
    for n in (0, 1, T - 1, T, T + 1):
        for value in (b"\xab" * n, csp.SharedBytes(b"\xcd" * n)):
            check_shareable(run, x, f"bytes[{n}]", value)
    # Nesting just under, at and over the limit: round-trip, or a clean ValueError.
    for depth in (500, 511, 512, 513, 600):
        value = 0
        for _ in range(depth):
            value = (value,)
        for path in CSP_PATHS:
            try:
                got = getattr(x, f"{path}_path")(value)
            except Refused as e:
                run.check(is_clean_refusal(e.args[0], True), f"depth {depth}", path, value,
                          f"refused with {short(e.args[0])}")
            except Exception as e:
                run.check(False, f"depth {depth}", path, value, f"raised {short(e)}")
            else:
                run.check(same(value, got, "csp"), f"depth {depth}", path, value, "differs")
    # A non-shareable result of a task is a clean NotShareableError at result().
    for path, submit in (("go", csp.go), ("pool", x.pool.submit)):
        try:
            submit(as_list, 1).result(TIMEOUT)
        except csp.NotShareableError:
            run.check(True, "list result", path, None)
        except Exception as e:
            run.check(False, "list result", path, None, f"raised {type(e).__name__}: {e}")
        else:
            run.check(False, "list result", path, None, "a list crossed")
    # ...and the executor pickles it.
    got = x.executor.submit(as_list, (1, b"x" * T)).result(TIMEOUT)
    run.check(same([(1, b"x" * T)], got, "exec"), "list result", "executor", got)
    # A channel sent through a channel is the same channel.
    ch = csp.Channel(1)
    got = x.channel_path((ch, ch))
    got[0].send("through the copy", timeout=TIMEOUT)
    run.check(got[0] is got[1] or got[0] == got[1], "channel", "channel", got)
    run.check(ch.recv(timeout=TIMEOUT) == "through the copy", "channel", "same channel", ch)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--only", type=int, default=None, help="run only this case")
    parser.add_argument("--no-surrogates", dest="surrogates", action="store_false",
                        help="leave out strings with lone surrogates")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every case")
    args = parser.parse_args()

    sys.setrecursionlimit(20_000)  # comparing 500 levels of nesting
    # A hang is a failure too: dump every thread and exit.
    faulthandler.dump_traceback_later(max(120.0, args.count * 2.0), exit=True)
    started = time.monotonic()
    run = Run(args.verbose)
    x = Crossings()
    print(f"fuzz_values: seed {args.seed}, {args.count} cases, paths: "
          f"{', '.join(CSP_PATHS)}, executor; pool.map and executor.map per 25", flush=True)
    if args.only is None:
        check_directed(run, x)
    shareable_batch, picklable_batch = [], []
    cases = range(args.count) if args.only is None else [args.only]
    for case in cases:
        rng = random.Random(f"{args.seed}:{case}")
        gen = Gen(rng, args.surrogates)
        if rng.random() < 0.6:
            value = gen.shareable()
            run.tried["shareable"] += 1
            if args.verbose:
                print(f"case {case}: shareable {describe(value)}", flush=True)
            check_shareable(run, x, case, value)
            shareable_batch.append(value)
        else:
            value, kind = gen.unshareable()
            run.tried[kind] += 1
            if args.verbose:
                print(f"case {case}: {kind} {describe(value)}", flush=True)
            check_unshareable(run, x, case, value, kind)
            if not kind.startswith("deep") and pickles(value):
                picklable_batch.append(value)
        if len(shareable_batch) + len(picklable_batch) >= 25:
            check_batch(run, x, f"batch@{case}", shareable_batch, picklable_batch)
            shareable_batch, picklable_batch = [], []
    check_batch(run, x, "batch@end", shareable_batch, picklable_batch)
    # Still healthy: a plain value through every path.
    check_shareable(run, x, "final", (1, "two", 3.0, b"four"))
    x.close()
    faulthandler.cancel_dump_traceback_later()
    tried = ", ".join(f"{n} {kind}" for kind, n in sorted(run.tried.items()))
    print(f"tried: {tried}; {time.monotonic() - started:.1f} s")
    print(f"{run.passed} passed, {run.failed} failed")
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
