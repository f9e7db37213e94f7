"""csp.Pool as a drop-in for multiprocessing.Pool (run as `subinterp run FILE`).

The functions the workers run are at the top level: they cross by name, and the workers import
this file as ``__main__`` (as multiprocessing's spawn does), so pickles naming it resolve.
"""

import collections
import dataclasses
import functools
import math
import multiprocessing
import operator
import threading
import time
import unittest

import csp


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Oops(Exception):
    pass


def square(x):
    return x * x


def add(a, b):
    return a + b


def fail_on(x, bad=3):
    if x == bad:
        raise Oops(f"bad {x}")
    return x


def slow_square(x, delay=0.05):
    time.sleep(delay)
    return x * x


def sleep_then(x, delay):
    time.sleep(delay)
    return x


def spin(seconds):
    """Busy for ``seconds`` (in bytecode, so that terminate's interrupt reaches it)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return seconds


def kw(a, b=0, *, c=0):
    return (a, b, c)


def as_list(x):
    return [x, {"x": x}]


def norm(point):
    return Point(point.y, point.x), math.hypot(point.x, point.y)


def interpreter(_=None):
    return csp.current_interpreter()


_initialized = None


def init(value):
    global _initialized
    _initialized = value


def initialized(_=None):
    return _initialized


def failing_items(n, bad):
    for i in range(n):
        if i == bad:
            raise Oops("the iterable failed")
        yield i


class ConstructorTest(unittest.TestCase):
    def test_multiprocessing_positional_order(self):
        # processes, initializer, initargs, maxtasksperchild, context
        with csp.Pool(2, init, ("ready",), None, multiprocessing.get_context("spawn")) as pool:
            self.assertEqual(pool.workers, 2)
            self.assertEqual(pool.map(initialized, range(4)), ["ready"] * 4)

    def test_keywords_and_workers_alias(self):
        with csp.Pool(processes=1, initializer=init, initargs=([1, 2],)) as pool:
            self.assertEqual(pool.apply(initialized), [1, 2])  # pickled initargs
        with csp.Pool(workers=2, name="alias", setup="import json") as pool:
            self.assertEqual(pool.workers, 2)
            self.assertTrue(pool.apply(csp.current_interpreter_name).startswith("alias-"))
        with self.assertRaises(TypeError):
            csp.Pool(2, workers=2)

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            csp.Pool(0)
        with self.assertRaises(TypeError):
            csp.Pool(1, initializer=3)
        for bad in (0, -1, 1.5):
            with self.assertRaises(ValueError):
                csp.Pool(1, maxtasksperchild=bad)

    def test_maxtasksperchild_gives_fresh_interpreters(self):
        with csp.Pool(1, maxtasksperchild=1) as pool:
            ids = [pool.apply(interpreter) for _ in range(4)]
        self.assertEqual(len(set(ids)), 4, ids)
        with csp.Pool(1, maxtasksperchild=2) as pool:
            ids = pool.map(interpreter, range(6), chunksize=1)
        self.assertEqual(len(set(ids)), 3, ids)
        with csp.Pool(1) as pool:
            self.assertEqual(len(set(pool.map(interpreter, range(6), 1))), 1)


class MethodsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pool = csp.Pool(2)

    @classmethod
    def tearDownClass(cls):
        cls.pool.close()
        cls.pool.join()

    def test_apply(self):
        self.assertEqual(self.pool.apply(square, (7,)), 49)
        self.assertEqual(self.pool.apply(kw, (1,), {"b": 2, "c": 3}), (1, 2, 3))
        self.assertEqual(self.pool.apply(operator.add, ("a", "b")), "ab")
        self.assertEqual(self.pool.apply(functools.partial(add, 10), (5,)), 15)  # pickled

    def test_apply_async(self):
        result = self.pool.apply_async(square, (8,))
        self.assertIsInstance(result, csp.AsyncResult)
        self.assertEqual(result.get(timeout=10), 64)
        self.assertTrue(result.ready())
        self.assertTrue(result.successful())

    def test_map_and_chunksize(self):
        expected = [x * x for x in range(100)]
        self.assertEqual(self.pool.map(square, range(100)), expected)
        for chunksize in (1, 3, 7, 100, 1000):
            self.assertEqual(self.pool.map(square, range(100), chunksize), expected)
            self.assertEqual(self.pool.map(square, iter(range(100)), chunksize=chunksize),
                             expected)
        self.assertEqual(self.pool.map(square, []), [])
        with self.assertRaises(ValueError):
            self.pool.map(square, range(3), 0)

    def test_map_async(self):
        result = self.pool.map_async(square, range(20), 3)
        self.assertEqual(result.get(10), [x * x for x in range(20)])
        self.assertTrue(result.successful())
        self.assertEqual(self.pool.map_async(square, []).get(0), [])

    def test_starmap(self):
        pairs = [(i, i + 1) for i in range(30)]
        expected = [a + b for a, b in pairs]
        self.assertEqual(self.pool.starmap(add, pairs), expected)
        self.assertEqual(self.pool.starmap(add, pairs, 4), expected)
        self.assertEqual(self.pool.starmap_async(add, pairs, 5).get(10), expected)
        self.assertEqual(self.pool.starmap(add, iter([[1, 2], [3, 4]])), [3, 7])

    def test_imap_keeps_order(self):
        # Earlier items take longer: results still come in order.
        delays = [(i, 0.2 - 0.04 * i) for i in range(5)]
        it = self.pool.imap(functools.partial(sleep_then_pair), delays)
        self.assertEqual(list(it), list(range(5)))
        for chunksize in (1, 2, 5, 10):
            self.assertEqual(list(self.pool.imap(square, range(23), chunksize)),
                             [x * x for x in range(23)])
        it = self.pool.imap(square, range(3))
        self.assertEqual([it.next(), it.next(timeout=10), next(it)], [0, 1, 4])
        self.assertRaises(StopIteration, it.__next__)
        self.assertEqual(list(self.pool.imap(square, [])), [])

    def test_imap_unordered_yields_as_finished(self):
        arrival = list(self.pool.imap_unordered(sleep_then_pair, [(0, 0.6), (1, 0.0),
                                                                  (2, 0.0), (3, 0.0)]))
        self.assertEqual(sorted(arrival), [0, 1, 2, 3])
        self.assertEqual(arrival[-1], 0, "the slow one comes last")
        for chunksize in (1, 4, 50):
            got = list(self.pool.imap_unordered(square, range(50), chunksize))
            self.assertEqual(sorted(got), [x * x for x in range(50)])

    def test_imap_error_at_its_position(self):
        it = self.pool.imap(fail_on, range(6))
        self.assertEqual([next(it) for _ in range(3)], [0, 1, 2])
        with self.assertRaises(Oops) as caught:
            next(it)
        self.assertIn("Traceback in interpreter", str(caught.exception.__cause__))
        self.assertEqual(list(it), [4, 5])  # as multiprocessing: the iterator goes on
        it = self.pool.imap(square, failing_items(10, 4))
        self.assertEqual([next(it) for _ in range(4)], [0, 1, 4, 9])
        self.assertRaises(Oops, next, it)
        self.assertRaises(StopIteration, next, it)
        it = self.pool.imap_unordered(square, failing_items(10, 4))
        with self.assertRaises(Oops):
            for _ in range(10):
                self.assertIn(next(it), [0, 1, 4, 9])

    def test_callbacks_run_on_one_handler_thread(self):
        seen = []
        threads = set()
        done = threading.Event()

        def callback(value):
            threads.add(threading.current_thread())
            seen.append(value)
            if len(seen) == 10:
                done.set()

        results = [self.pool.apply_async(square, (i,), callback=callback) for i in range(9)]
        whole = self.pool.map_async(square, range(5), callback=callback)
        self.assertTrue(done.wait(10))
        self.assertEqual(sorted(seen[:-1] if seen[-1] == [0, 1, 4, 9, 16] else seen[:9],
                                key=repr), sorted([i * i for i in range(9)], key=repr))
        self.assertIn([0, 1, 4, 9, 16], seen)  # map_async's callback gets the whole list
        self.assertEqual(len(threads), 1)
        self.assertIsNot(threads.pop(), threading.current_thread())
        self.assertEqual([r.get() for r in results], [i * i for i in range(9)])
        whole.wait()

    def test_callback_runs_before_get_returns(self):
        seen = []
        result = self.pool.apply_async(square, (4,), callback=seen.append)
        self.assertEqual(result.get(10), 16)
        self.assertEqual(seen, [16])

    def test_error_callback_once_with_the_first_exception(self):
        errors, values = [], []
        result = self.pool.map_async(fail_on, [3, 1, 3, 2, 3], 1, callback=values.append,
                                     error_callback=errors.append)
        with self.assertRaises(Oops):
            result.get(10)
        self.assertFalse(result.successful())
        time.sleep(0.2)  # the later failures arrive, and are not reported again
        self.assertEqual(len(errors), 1)
        self.assertIsInstance(errors[0], Oops)
        self.assertEqual(values, [])
        errors = []
        result = self.pool.apply_async(fail_on, (3,), error_callback=errors.append)
        self.assertRaises(Oops, result.get, 10)
        self.assertEqual([type(e) for e in errors], [Oops])
        self.assertRaises(Oops, self.pool.apply, fail_on, (3,))
        self.assertRaises(Oops, self.pool.map, fail_on, range(10))
        self.assertRaises(Oops, self.pool.starmap, fail_on, [(3, 3)])

    def test_a_failing_callback_is_reported_and_the_result_completes(self):
        def bad(value):
            raise RuntimeError("callback failed")

        import contextlib
        import io

        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            result = self.pool.apply_async(square, (3,), callback=bad)
            self.assertEqual(result.get(10), 9)
        self.assertIn("callback failed", err.getvalue())
        self.assertEqual(self.pool.apply_async(square, (5,)).get(10), 25)

    def test_timeouts(self):
        result = self.pool.apply_async(sleep_then, (1, 0.5))
        with self.assertRaises(multiprocessing.TimeoutError):
            result.get(0)
        with self.assertRaises(TimeoutError):  # also the builtin TimeoutError
            result.get(0.01)
        self.assertRaises(ValueError, result.successful)
        self.assertFalse(result.ready())
        started = time.monotonic()
        result.wait(0.05)
        self.assertLess(time.monotonic() - started, 0.4)
        self.assertFalse(result.ready())
        with self.assertRaises(ValueError):
            result.get(float("nan"))
        self.assertEqual(result.get(float("inf")), 1)
        self.assertEqual(result.get(-1), 1)  # ready: a negative timeout does not wait
        it = self.pool.imap(sleep_then_pair, [(7, 0.5)])
        self.assertRaises(multiprocessing.TimeoutError, it.next, 0)
        self.assertRaises(multiprocessing.TimeoutError, it.next, 0.01)
        self.assertRaises(ValueError, it.next, float("nan"))
        self.assertEqual(it.next(float("inf")), 7)
        with self.assertRaises(TimeoutError):
            self.pool.map(sleep_then_pair, [(1, 1.0)], timeout=0.05)  # csp's own keyword
        self.assertEqual(self.pool.apply_async(square, (2,)).get(float("inf")), 4)

    def test_pickled_arguments_and_results(self):
        self.assertEqual(self.pool.apply(as_list, ([1],)), [[1], {"x": [1]}])
        points = [Point(i, i + 1) for i in range(5)]
        expected = [norm(p) for p in points]
        self.assertEqual(self.pool.map(norm, points), expected)
        self.assertEqual(self.pool.map(norm, points, 2), expected)
        self.assertEqual(self.pool.map_async(norm, points).get(10), expected)
        self.assertEqual(list(self.pool.imap(norm, points)), expected)
        self.assertEqual(sorted(self.pool.imap_unordered(norm, points), key=repr),
                         sorted(expected, key=repr))
        self.assertEqual(self.pool.apply_async(norm, (Point(3, 4),)).get(10),
                         (Point(4, 3), 5.0))
        self.assertEqual(self.pool.apply(dict, (), {"a": [1]}), {"a": [1]})
        counts = self.pool.apply(collections.Counter, ("abracadabra",))
        self.assertEqual(counts["a"], 5)

    def test_unpicklable_arguments_fail(self):
        lock = threading.Lock()
        with self.assertRaises(TypeError):
            self.pool.apply(square, (lock,))
        errors = []
        result = self.pool.apply_async(square, (lock,), error_callback=errors.append)
        self.assertRaises(TypeError, result.get, 10)
        self.assertEqual(len(errors), 1)

    def test_submit_still_returns_a_task(self):
        task = self.pool.submit(square, 6)
        self.assertIsInstance(task, csp.Task)
        self.assertEqual(task.result(10), 36)


def sleep_then_pair(pair):
    value, delay = pair
    time.sleep(delay)
    return value


class LifecycleTest(unittest.TestCase):
    def test_close_then_join_finishes_the_work(self):
        pool = csp.Pool(2)
        results = [pool.apply_async(slow_square, (i, 0.1)) for i in range(6)]
        seen = []
        whole = pool.map_async(slow_square, range(4), callback=seen.append)
        pool.close()
        self.assertRaises(ValueError, pool.apply, square, (1,))
        self.assertRaises(ValueError, pool.map, square, [1])
        self.assertRaises(ValueError, pool.apply_async, square, (1,))
        self.assertRaises(RuntimeError, pool.submit, square, 1)
        pool.join()
        self.assertTrue(all(r.ready() for r in results))
        self.assertEqual([r.get(0) for r in results], [i * i for i in range(6)])
        self.assertEqual(seen, [[0, 1, 4, 9]])
        self.assertTrue(whole.ready())

    def test_join_while_running_is_an_error(self):
        with csp.Pool(1) as pool:
            self.assertRaises(ValueError, pool.join)

    def test_close_without_async_work(self):
        pool = csp.Pool(1)
        self.assertEqual(pool.map(square, range(3)), [0, 1, 4])
        pool.close()
        pool.join()
        pool.join()  # twice is fine

    def test_terminate_stops_running_and_queued_work(self):
        pool = csp.Pool(1)
        errors = []
        running = pool.apply_async(spin, (30,), error_callback=errors.append)
        queued = pool.apply_async(square, (3,))
        time.sleep(0.2)
        started = time.monotonic()
        pool.terminate()
        pool.join()
        self.assertLess(time.monotonic() - started, 10)
        self.assertRaises(RuntimeError, running.get, 10)
        self.assertRaises(RuntimeError, queued.get, 10)
        self.assertFalse(running.successful())
        self.assertEqual(len(errors), 1)
        self.assertRaises(ValueError, pool.apply, square, (1,))

    def test_context_manager_terminates_like_multiprocessing(self):
        with csp.Pool(1) as pool:
            self.assertEqual(pool.map(square, range(4)), [0, 1, 4, 9])  # map blocks
            pending = pool.apply_async(spin, (30,))
        self.assertRaises(RuntimeError, pending.get, 10)
        self.assertRaises(ValueError, pool.map, square, [1])
        with self.assertRaises(ValueError):
            with pool:
                pass

    def test_with_block_returns_the_pool(self):
        with csp.Pool(1) as pool:
            self.assertIsInstance(pool, csp.Pool)

    def test_pool_cannot_be_pickled(self):
        import pickle

        with csp.Pool(1) as pool:
            self.assertRaises(NotImplementedError, pickle.dumps, pool)


if __name__ == "__main__":
    unittest.main()
