"""Dask workers, three ways, on one workload and the same number of cores, in one run: wall
time and peak total RSS (and PSS) of one worker whose tasks run on own-GIL interpreters
(``--preload csp_dask``), one worker on threads, and N worker processes.

The workload and the cluster are examples/dask's (run.py, wordcount.py): word counts over
generated text with dask.bag, pure Python, on ``dask worker`` processes without nannies
around a ``dask scheduler``, all on 127.0.0.1; RSS is the workers' only (see run.py).

Run it with a Python that has Dask and csp_dask (a venv of subinterp's Python with
``pip install -r examples/dask/requirements.txt ./python/csp_dask``):

    python runtime/bench-scripts/dask_workers.py [--json] [--quick] [--cores N]

Without them it prints why it is skipped (JSON ``{"skipped": ...}`` with ``--json``) and exits
with status 0, so that ``cargo xtask bench`` goes on.
"""

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "dask")


def missing():
    """Why the benchmark cannot run here, or None."""
    for module in ("csp", "dask", "distributed", "csp_dask"):
        try:
            __import__(module)
        except ImportError as e:
            return (f"{module} is not importable by {sys.executable} ({e}); make a venv of "
                    "subinterp's Python with `pip install -r examples/dask/requirements.txt "
                    "./python/csp_dask`")
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks it runs")
    parser.add_argument("--cores", type=int, default=os.process_cpu_count() or 1)
    args = parser.parse_args()
    reason = missing()
    if reason is not None:
        print(json.dumps({"skipped": reason}) if args.json else f"Dask workers: skipped: {reason}")
        return
    sys.path.insert(0, EXAMPLE)
    import run as example

    partitions, words = (2 * args.cores, 2000) if args.quick else (8 * args.cores, 300_000)
    options = example.parse_args([
        "--cores", str(args.cores), "--partitions", str(partitions), "--words", str(words),
    ])
    results = example.run(options)
    if args.json:
        print(json.dumps({"partitions": partitions, "words": words, "cores": args.cores,
                          "results": results}, indent=2))
    else:
        print("Dask workers: one with interpreters, one with threads, N processes")
        example.print_table(results, options)


if __name__ == "__main__":
    main()
