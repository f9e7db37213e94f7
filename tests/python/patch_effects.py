"""What the patch series changes for users, measured on the interpreter running this script.

Prints one JSON object: run it on a patched and a stock (`--no-patches`) build to compare.
  fork:       does os.fork() with live subinterpreters leave a healthy child?
  shareable:  which immutable types cross interpreters through the stdlib's queues?
  isolated:   which stdlib modules that import in the main interpreter fail to import in an
              isolated (own-GIL) subinterpreter?
"""

import json
import os
import subprocess
import sys
import textwrap

FORK_CHECK = textwrap.dedent("""
    import os, sys, threading, _interpreters
    idle = _interpreters.create()
    busy = _interpreters.create()
    started = threading.Event()
    def spin():
        started.set()
        _interpreters.exec(busy, 'import time\\nend = time.monotonic() + 1.0\\nwhile time.monotonic() < end: pass')
    t = threading.Thread(target=spin)
    t.start()
    started.wait()
    pid = os.fork()
    if pid == 0:
        ok = [i[0] for i in _interpreters.list_all()] == [0]
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    t.join()
    print(os.waitstatus_to_exitcode(status))
""")


def fork_child_is_healthy():
    out = subprocess.run([sys.executable, "-c", FORK_CHECK], capture_output=True, text=True)
    return out.returncode == 0 and out.stdout.strip() == "0"


SAMPLES = {
    "complex": complex(1.5, -0.0),
    "frozenset": frozenset({1, "a", (2, 3)}),
    "big int": 2**100,
    "negative big int": -(2**80),
    "tuple of those": (1j, frozenset(), 2**64),
}


def shareable_types():
    import _interpqueues
    import _interpreters

    interp = _interpreters.create()
    qid = _interpqueues.create(10, 0, 1)
    results = {}
    for name, value in SAMPLES.items():
        try:
            _interpqueues.put(qid, value, 0, 1)
            _interpreters.exec(interp, textwrap.dedent(f"""
                import _interpqueues
                v = _interpqueues.get({qid})[0]
                _interpqueues.put({qid}, v, 0, 1)
            """))
            back = _interpqueues.get(qid)[0]
            results[name] = back == value and type(back) is type(value)
        except Exception:
            results[name] = False
    _interpreters.destroy(interp)
    _interpqueues.destroy(qid)
    return results


IMPORT_CHECK = textwrap.dedent("""
    import importlib, json, sys, _interpreters
    names = json.loads(sys.argv[1])
    failures = []
    for name in names:
        interp = _interpreters.create()  # isolated: own GIL, multi-phase modules only
        try:
            err = _interpreters.exec(interp, f"import {name}")
        except Exception as exc:
            err = exc
        finally:
            _interpreters.destroy(interp)
        if err is not None:
            failures.append(name)
    print(json.dumps(failures))
""")

MAIN_IMPORT_CHECK = textwrap.dedent("""
    import importlib, json, sys
    ok = []
    for name in sorted(sys.stdlib_module_names):
        if name in ("antigravity", "this", "__main__"):  # side effects on import, or not a module
            continue
        try:
            importlib.import_module(name)
        except Exception:
            continue
        ok.append(name)
    print(json.dumps(ok))
""")


def isolated_import_failures():
    env = dict(os.environ, DISPLAY="")
    main = subprocess.run([sys.executable, "-c", MAIN_IMPORT_CHECK], capture_output=True, text=True, env=env)
    names = json.loads(main.stdout)
    sub = subprocess.run([sys.executable, "-c", IMPORT_CHECK, json.dumps(names)], capture_output=True, text=True, env=env)
    return len(names), json.loads(sub.stdout)


def main():
    importable, failures = isolated_import_failures()
    report = {
        "python": sys.version.split()[0],
        "fork_child_healthy": fork_child_is_healthy(),
        "shareable": shareable_types(),
        "stdlib_importable_in_main": importable,
        "stdlib_failing_in_isolated_subinterpreter": failures,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
