"""Runs a real use of each package of `packages.txt` through csp.InterpreterPoolExecutor and
checks it against `python -m csp.check`: every one must work, natively in an own-GIL
interpreter or on a process worker (the executor's fallback); every module the check reports
as unable to load must be one that fell back.

Prints a Markdown table, then one summary line; exits 1 unless all work. Run with a Python
whose environment has the packages (see the README's "Real packages" section).
"""

import os
import sys
import time
import warnings

import csp

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "packages.txt")


def read_packages(path=DATA):
    """``[(import name, requirement, expression)]`` from the data file."""
    rows = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                module, requirement, expression = line.split(" ", 2)
                rows.append((module, requirement, expression))
    return rows


PACKAGES = read_packages()


def function_name(module):
    return "use_" + module.replace(".", "_")


# One top-level function per package (`use_numpy`, ...), so that each crosses to workers by
# name and falls back (or not) on its own.
for _module, _requirement, _expression in PACKAGES:
    exec(
        f"def {function_name(_module)}():\n"
        f"    import {_module}\n"
        f"    return bool({_expression}), csp.current_interpreter()\n"
    )


def main():
    from csp.check import check

    names = [module for module, _, _ in PACKAGES]
    started = time.monotonic()
    report = {result.module: result for result in check(names)}
    checked = time.monotonic() - started
    outcomes = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", csp.ProcessFallbackWarning)
        with csp.InterpreterPoolExecutor(2) as executor:
            futures = {m: executor.submit(globals()[function_name(m)]) for m in names}
            for module, future in futures.items():
                try:
                    outcomes[module] = future.result(600)
                except Exception as e:
                    outcomes[module] = (False, f"{type(e).__name__}: {e}")
            fallbacks = executor.fallbacks
    print("| package | import | csp.check | task ran | result |")
    print("|---|---|---|---|---|")
    problems = []
    native = 0
    for module, requirement, _ in PACKAGES:
        ok, where = outcomes[module]
        result = report[module]
        if isinstance(where, str):
            ran = where
        elif where == 0:
            ran = "on a process worker (fallback)"
        else:
            ran = "natively, in an interpreter"
            native += 1
        checked_as = result.status + (f": {result.describe()}" if result.status != "works" else "")
        print(f"| {requirement} | {module} | {checked_as} | {ran} | {'ok' if ok else 'WRONG'} |")
        if ok is not True:
            problems.append(f"{module}: {ran}")
        if result.status == "fails" and where != 0:
            problems.append(f"{module}: csp.check says it cannot load, yet it did not fall back")
        if result.status == "error":
            problems.append(f"{module}: {result.detail}")
    fell_back = {label.split(":", 1)[1] for label in fallbacks}
    for module, _, _ in PACKAGES:
        if outcomes[module][1] == 0 and function_name(module) not in fell_back:
            problems.append(f"{module}: ran on a process but is not in executor.fallbacks")
    works = len(PACKAGES) - len({p.split(":")[0] for p in problems})
    print(f"\n{works}/{len(PACKAGES)} packages work through csp.InterpreterPoolExecutor: "
          f"{native} natively, {len(PACKAGES) - native} on process workers; csp.check of all "
          f"{len(PACKAGES)} took {checked:.1f} s")
    for problem in problems:
        print("PROBLEM", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
