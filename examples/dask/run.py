"""Word counts with dask.bag on a local Dask cluster (127.0.0.1 only), three ways:

- ``interpreters``: one ``dask worker --nthreads N --preload csp_dask`` process, whose N tasks
  at a time run on N own-GIL interpreters;
- ``threads``: one ``dask worker --nthreads N`` process (Dask's default: N threads, one GIL);
- ``processes``: N ``dask worker --nthreads 1`` processes.

Each mode gets a fresh ``dask scheduler`` and fresh workers (all without nannies, so that the
only processes are the scheduler and the workers), runs a small warm-up, then the timed
workload: ``--partitions`` partitions of ``--words`` generated words each (see wordcount.py).
It prints the wall time of the workload, and the peak total resident memory of the worker
processes (the sum of their RSS, and of their PSS, which counts shared pages once; any
processes they start are included) from their start to the end of the workload. The scheduler
and this driver are the same in every mode and are not counted; the scheduler's peak is shown
for reference.

    python examples/dask/run.py [--mode all|interpreters|threads|processes] [--cores N]
                                [--partitions P] [--words W] [--check] [--json]

Needs a venv of subinterp's Python with ``pip install -r examples/dask/requirements.txt
./python/csp_dask``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = ("interpreters", "threads", "processes")


# -- memory ---------------------------------------------------------------------------------


def _descendants(pid):
    """``pid`` and every process it started, recursively (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return found


def _memory_kib(pid):
    """``(rss, pss)`` of a process in KiB, (0, 0) if it is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                    break
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                    break
    except (OSError, ValueError):
        pass
    return rss, pss


class PeakMemory:
    """Samples the total RSS and PSS of some processes and their descendants in a thread."""

    def __init__(self, pids, interval=0.05):
        self.pids = list(pids)
        self.interval = interval
        self.peak_rss = self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self):
        rss = pss = 0
        for root in self.pids:
            for pid in _descendants(root):
                r, p = _memory_kib(pid)
                rss += r
                pss += p
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)

    def _run(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.sample()
        return self.peak_rss / 1024, self.peak_pss / 1024


# -- the cluster ----------------------------------------------------------------------------


def _dask(*args):
    return [sys.executable, "-m", "dask", *args]


def _environment():
    env = dict(os.environ)
    # The workers import wordcount.py by name.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [HERE, env.get("PYTHONPATH")]))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def worker_commands(mode, cores, scheduler_file):
    common = ["--scheduler-file", scheduler_file, "--host", "127.0.0.1", "--no-nanny",
              "--no-dashboard", "--memory-limit", "0"]
    if mode == "interpreters":
        return [_dask("worker", *common, "--nthreads", str(cores), "--preload", "csp_dask")]
    if mode == "threads":
        return [_dask("worker", *common, "--nthreads", str(cores))]
    if mode == "processes":
        return [_dask("worker", *common, "--nthreads", "1", "--name", f"p{i}")
                for i in range(cores)]
    raise ValueError(f"unknown mode {mode!r}")


class Cluster:
    """A ``dask scheduler`` and the workers of one mode, as subprocesses on 127.0.0.1."""

    def __init__(self, mode, cores, log):
        self.mode = mode
        self.tmp = tempfile.TemporaryDirectory(prefix="csp-dask-example-")
        self.scheduler_file = os.path.join(self.tmp.name, "scheduler.json")
        self.log = log
        env = _environment()
        self.scheduler = subprocess.Popen(
            _dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                  "--scheduler-file", self.scheduler_file),
            env=env, stdout=log, stderr=log, cwd=self.tmp.name,
        )
        self.scheduler_memory = PeakMemory([self.scheduler.pid])
        self._wait_for_file()
        self.started = time.perf_counter()
        self.workers = [
            subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=self.tmp.name)
            for command in worker_commands(mode, cores, self.scheduler_file)
        ]
        self.memory = PeakMemory([w.pid for w in self.workers])
        self.expected_workers = len(self.workers)

    def _wait_for_file(self, timeout=60):
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.scheduler_file):
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the scheduler did not start (see the log)")
            time.sleep(0.05)

    def client(self, timeout=120):
        from distributed import Client

        client = Client(scheduler_file=self.scheduler_file, timeout=timeout)
        client.wait_for_workers(self.expected_workers, timeout=timeout)
        return client

    def close(self):
        deadline = time.monotonic() + 10  # For them to end by themselves (client.shutdown()).
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.terminate()
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.tmp.cleanup()
        # How the workers ended: 0, or -signal (e.g. -6 for an abort at exit).
        return [w.returncode for w in self.workers]


# -- one mode -------------------------------------------------------------------------------


def run_mode(mode, cores, partitions, words, log):
    """Runs the workload on a fresh cluster of ``mode``; returns its measurements."""
    import dask.bag as db

    import wordcount

    cluster = Cluster(mode, cores, log)
    try:
        with cluster.client() as client:
            ready = time.perf_counter() - cluster.started
            warm = db.from_sequence(range(2 * cores), npartitions=2 * cores)
            wordcount.word_counts(warm, 2000).compute()
            seeds = db.from_sequence(range(partitions), npartitions=partitions)
            start = time.perf_counter()
            top, total = wordcount.word_counts(seeds, words).compute()
            wall = time.perf_counter() - start
            executors = client.run(_default_executor)
            rss, pss = cluster.memory.stop()
            client.shutdown()  # The scheduler closes the workers, then itself.
        scheduler_rss, _ = cluster.scheduler_memory.stop()
    finally:
        exit_codes = cluster.close()
    return {
        "mode": mode,
        "worker_processes": cluster.expected_workers,
        "cores": cores,
        "wall_s": wall,
        "ready_s": ready,
        "peak_rss_mib": rss,
        "peak_pss_mib": pss,
        "scheduler_peak_rss_mib": scheduler_rss,
        "executor": sorted(set(executors.values())),
        "worker_exit_codes": exit_codes,
        "top": [list(pair) for pair in top],
        "total_words": total,
    }


def _default_executor(dask_worker):
    """What runs a worker's tasks (``client.run`` passes the worker)."""
    return type(dask_worker.executors["default"]).__name__


# -- main -----------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("all",) + MODES, default="all")
    parser.add_argument("--cores", type=int, default=os.process_cpu_count() or 1,
                        help="interpreters/threads of the one worker, and processes (default: "
                             "the cores)")
    parser.add_argument("--partitions", type=int, default=None,
                        help="default: 8 per core")
    parser.add_argument("--words", type=int, default=300_000, help="words per partition")
    parser.add_argument("--check", action="store_true",
                        help="also count without Dask and compare")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--log", default=None, help="the cluster's log (default: discarded)")
    args = parser.parse_args(argv)
    if args.partitions is None:
        args.partitions = 8 * args.cores
    return args


def run(args):
    """Runs the modes ``args`` asks for; returns the results (raises if they disagree)."""
    import wordcount

    modes = MODES if args.mode == "all" else (args.mode,)
    log = open(args.log, "ab") if args.log else subprocess.DEVNULL
    try:
        results = [run_mode(mode, args.cores, args.partitions, args.words, log)
                   for mode in modes]
    finally:
        if args.log:
            log.close()
    for r in results:
        # -15 and -9 are this script's, for a worker that did not stop in time; -6 (abort),
        # -7 or -11 a crash.
        if any(code in (-6, -7, -11) for code in r["worker_exit_codes"]):
            raise RuntimeError(f"a {r['mode']} worker crashed at its end: "
                               f"exit codes {r['worker_exit_codes']}")
    answers = {(json.dumps(r["top"]), r["total_words"]) for r in results}
    if len(answers) != 1:
        raise RuntimeError(f"the modes disagree: {answers}")
    if args.check:
        top, total = wordcount.reference(args.partitions, args.words)
        expected = (json.dumps([list(pair) for pair in top]), total)
        if answers != {expected}:
            raise RuntimeError(f"wrong counts: {answers} instead of {expected}")
    return results


def print_table(results, args):
    print(f"word counts, {args.partitions} partitions x {args.words:,} words, "
          f"{args.cores} cores; {results[0]['total_words']:,} words, most frequent: "
          f"{results[0]['top'][0][0]} ({results[0]['top'][0][1]:,})")
    print(f"{'mode':<13} {'workers':>7} {'wall s':>8} {'peak RSS MiB':>13} "
          f"{'peak PSS MiB':>13} {'ready s':>8}")
    for r in results:
        label = f"{r['worker_processes']} x {r['cores'] if r['worker_processes'] == 1 else 1}"
        print(f"{r['mode']:<13} {label:>7} {r['wall_s']:>8.2f} {r['peak_rss_mib']:>13.0f} "
              f"{r['peak_pss_mib']:>13.0f} {r['ready_s']:>8.2f}")
    by_mode = {r["mode"]: r for r in results}
    if "interpreters" in by_mode and "processes" in by_mode:
        i, p = by_mode["interpreters"], by_mode["processes"]
        print(f"interpreters / processes: wall {i['wall_s'] / p['wall_s']:.2f}x, "
              f"RSS {i['peak_rss_mib'] / p['peak_rss_mib']:.2f}x, "
              f"PSS {i['peak_pss_mib'] / p['peak_pss_mib']:.2f}x")
    scheduler = max(r["scheduler_peak_rss_mib"] for r in results)
    print(f"(worker processes only; the scheduler, the same in every mode, peaked at "
          f"{scheduler:.0f} MiB RSS)")


def main(argv=None):
    args = parse_args(argv)
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    results = run(args)
    if args.json:
        print(json.dumps({"partitions": args.partitions, "words": args.words,
                          "cores": args.cores, "results": results}, indent=2))
    else:
        print_table(results, args)


if __name__ == "__main__":
    main()
