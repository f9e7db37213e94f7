"""csp in a script that also uses multiprocessing's spawn start method: a Manager, and a
ProcessPoolExecutor whose children call csp.go themselves (they import csp from the
built python). Run by tests/tests/plain_python.rs and cli/tests/cli.rs."""

import concurrent.futures as cf, multiprocessing as mp, csp

def square(x):
    return x * x

def with_csp(x):
    return csp.go(square, x).result(timeout=30)

if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        d = manager.dict()
        d["a"] = 1
        with cf.ProcessPoolExecutor(2, mp_context=ctx) as ex:
            print(list(ex.map(with_csp, range(4))), dict(d))
    with csp.InterpreterPoolExecutor(2) as ex:
        print(list(ex.map(square, range(4))))
    print(csp.go(square, 9).result())
