"""csp from a Python started the ordinary way (`python3 SCRIPT`, or the python of a venv):
every kind of worker runs, in parallel, with the script's and the venv's modules.

Prints one line per check; run by tests/tests/plain_python.rs.
"""

import sys
import time

import csp


def square(x):
    return x * x


def send(ch, value):
    ch.send(value)


def work(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def venv_module():
    import venv_only_module  # exists only in the venv's site-packages

    return venv_only_module.VALUE


def main():
    print("go", csp.go(square, 7).result(timeout=60), csp.current_interpreter())
    with csp.Pool(2) as pool:
        print("pool", pool.map(square, range(5)))
        pool.map(work, [10, 10])
        started, cpu = time.perf_counter(), time.process_time()
        pool.map(work, [4_000_000] * 2)
        ratio = (time.process_time() - cpu) / (time.perf_counter() - started)
        print(f"cpu/wall {ratio:.2f}")
    ch = csp.Channel()
    csp.go(send, ch, 42)
    print("channel", ch.recv(timeout=60))
    with csp.InterpreterPoolExecutor(2) as ex:
        print("executor", list(ex.map(square, range(4))))
    if "--venv" in sys.argv:
        print("venv module in a worker", csp.go(venv_module).result(timeout=60))


if __name__ == "__main__":
    main()
