"""Which modules load in an isolated (own-GIL) interpreter, as csp's workers are, and why not.

    python -m csp.check numpy yaml lxml.etree
    python -m csp.check --installed          # every top-level module of site-packages
    python -m csp.check --json numpy         # one JSON object per line

Each module is imported in a fresh interpreter of its own (several at once, one per core).
The table says per module: ``works``, ``fails`` (with the extension module that cannot load
and why: single-phase init, it refuses subinterpreters, or it lacks per-interpreter GIL
support) or ``error`` (the import fails for another reason, e.g. it is not installed). The
exit status is 1 if any module does not work, 0 otherwise.

``csp.check.check(names)`` returns the same as ``Result`` records.
"""

import argparse
import importlib
import json
import os
import sys

import csp

__all__ = ["Result", "check", "installed_modules", "main"]

# What the table says for each reason code of SubinterpreterImportError.
_REASONS = {
    "single-phase": "uses single-phase init",
    "refused": "refuses subinterpreters",
    "shared-gil-only": "lacks per-interpreter GIL support",
    "unknown": "does not support own-GIL interpreters",
}


class Result:
    """One module's outcome: ``status`` is ``"works"``, ``"fails"`` (cannot load in an
    isolated interpreter: ``extension`` and ``reason`` say which extension module and why) or
    ``"error"`` (``detail`` gives the exception)."""

    __slots__ = ("module", "status", "extension", "reason", "detail")

    def __init__(self, module, status, extension=None, reason=None, detail=None):
        self.module = module
        self.status = status
        self.extension = extension
        self.reason = reason
        self.detail = detail

    def describe(self):
        """The table's details column."""
        if self.status == "fails":
            return f"{self.extension} {_REASONS.get(self.reason, self.reason)}"
        return self.detail or ""

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self):
        return f"<csp.check.Result {self.module} {self.status} {self.describe()!r}>"


def _probe(name):
    """Runs in a fresh worker: imports ``name``; ``(status, extension, reason, detail)``."""
    try:
        importlib.import_module(name)
    except BaseException as e:
        clear = csp._import_failure(e)
        if clear is not None:
            return ("fails", clear.module, clear.reason, None)
        return ("error", None, None, f"{type(e).__name__}: {e}".splitlines()[0][:200])
    return ("works", None, None, None)


def check(names, *, timeout=120, workers=None):
    """Imports each module of ``names`` in a fresh isolated interpreter (``workers`` at a
    time, default one per core) and returns a :class:`Result` per module, in order. A module
    whose import takes longer than ``timeout`` seconds is reported as an error."""
    from concurrent.futures import TimeoutError as FutureTimeout

    names = list(dict.fromkeys(names))
    if not names:
        return []
    workers = min(workers or os.process_cpu_count() or 1, len(names))
    probe = importlib.import_module("csp.check")._probe
    executor = csp.InterpreterPoolExecutor(
        workers, max_tasks_per_child=1, fallback="error", thread_name_prefix="check"
    )
    results = []
    try:
        futures = [executor.submit(probe, name) for name in names]
        for name, future in zip(names, futures):
            try:
                results.append(Result(name, *future.result(timeout)))
            except FutureTimeout:
                results.append(Result(name, "error", detail=f"import took over {timeout} s"))
            except Exception as e:
                results.append(Result(name, "error", detail=f"{type(e).__name__}: {e}"))
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    return results


def installed_modules(paths=None):
    """The top-level modules and packages installed in ``paths`` (default: this
    environment's site-packages), sorted."""
    import pkgutil
    import site

    if paths is None:
        paths = list(site.getsitepackages())
        if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
            paths.append(site.getusersitepackages())
    skip = {"_distutils_hack", "__editable___finder"}
    return sorted({
        info.name for info in pkgutil.iter_modules(paths)
        if info.name not in skip and not info.name.startswith("__") and "-" not in info.name
    })


def _table(results, out):
    width = max([len("MODULE")] + [len(r.module) for r in results])
    out.write(f"{'MODULE':<{width}}  RESULT  DETAILS\n")
    for r in results:
        out.write(f"{r.module:<{width}}  {r.status:<6}  {r.describe()}\n".rstrip() + "\n")
    works = sum(r.status == "works" for r in results)
    fails = sum(r.status == "fails" for r in results)
    errors = len(results) - works - fails
    summary = (f"{len(results)} modules: {works} work in isolated interpreters, {fails} "
               f"cannot load there")
    if errors:
        summary += f", {errors} failed to import for other reasons"
    out.write(summary + "\n")
    if fails:
        out.write("Tasks that need a module that cannot load: csp.InterpreterPoolExecutor runs "
                  "them on process workers; csp.go and csp.Pool raise "
                  "csp.SubinterpreterImportError.\n")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m csp.check",
        description="Import modules in fresh isolated (own-GIL) interpreters, as csp's "
                    "workers are, and report which work and why the others do not.",
    )
    parser.add_argument("modules", nargs="*", metavar="MODULE", help="modules to import")
    parser.add_argument("--installed", action="store_true",
                        help="also every top-level module installed in site-packages")
    parser.add_argument("--json", action="store_true", help="one JSON object per module")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds one import may take (default 120)")
    args = parser.parse_args(argv)
    names = list(args.modules)
    if args.installed:
        names += installed_modules()
    if not names:
        parser.error("name at least one MODULE, or pass --installed")
    results = check(names, timeout=args.timeout)
    if args.json:
        for r in results:
            print(json.dumps(r.as_dict()))
    else:
        _table(results, sys.stdout)
    sys.stdout.flush()
    return 0 if all(r.status == "works" for r in results) else 1


if __name__ == "__main__":
    # A hung import must not keep the process alive once the report is out.
    os._exit(main())
