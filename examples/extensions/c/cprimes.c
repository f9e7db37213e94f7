/* cprimes: a C extension module that is safe in every own-GIL subinterpreter.
 *
 *     count_primes(n)  the number of primes below n, by trial division in C (CPU work done
 *                      while holding this interpreter's GIL, which is not shared with others)
 *     calls()          how many times count_primes ran in *this* interpreter
 *     error            the exception count_primes raises for a negative n
 *
 * What makes it subinterpreter-ready:
 *   - multi-phase init: PyInit_cprimes only returns the definition; Py_mod_exec fills a new
 *     module object, once per interpreter that imports it;
 *   - Py_mod_multiple_interpreters = Py_MOD_PER_INTERPRETER_GIL_SUPPORTED: the promise that
 *     nothing below is shared between interpreters, so it may run in parallel;
 *   - all state in the module (m_size, PyModule_GetState): the call counter and the exception
 *     class belong to one interpreter; there is no static PyObject* and no static counter.
 *
 * Built with -DCPRIMES_LEGACY (tests/tests/extensions.rs does), the same source becomes
 * `cprimes_legacy`, without the Py_mod_multiple_interpreters slot: CPython then assumes it may
 * share state through the main GIL, and refuses to import it in an own-GIL interpreter.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifdef CPRIMES_LEGACY
#  define MODULE_NAME "cprimes_legacy"
#  define MODULE_INIT PyInit_cprimes_legacy
#else
#  define MODULE_NAME "cprimes"
#  define MODULE_INIT PyInit_cprimes
#endif

/* Everything the module keeps, one copy per module object (so per interpreter). */
typedef struct {
    long long calls;  /* only touched with this interpreter's GIL held */
    PyObject *error;  /* this interpreter's `cprimes.error` class */
} cprimes_state;

static inline cprimes_state *
get_state(PyObject *module)
{
    return (cprimes_state *)PyModule_GetState(module);
}

static long
count_primes_below(long n)
{
    long count = 0;
    for (long i = 2; i < n; i++) {
        int prime = 1;
        for (long d = 2; d * d <= i; d++) {
            if (i % d == 0) {
                prime = 0;
                break;
            }
        }
        count += prime;
    }
    return count;
}

static PyObject *
count_primes(PyObject *module, PyObject *arg)
{
    cprimes_state *state = get_state(module);
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (n < 0) {
        PyErr_Format(state->error, "n must be >= 0, not %ld", n);
        return NULL;
    }
    state->calls++;
    /* The GIL stays held: it is this interpreter's own, so other interpreters keep running. */
    return PyLong_FromLong(count_primes_below(n));
}

static PyObject *
calls(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLongLong(get_state(module)->calls);
}

static int
cprimes_exec(PyObject *module)
{
    cprimes_state *state = get_state(module);
    state->calls = 0;
    state->error = PyErr_NewException(MODULE_NAME ".error", PyExc_ValueError, NULL);
    if (state->error == NULL) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "error", state->error);
}

static int
cprimes_traverse(PyObject *module, visitproc visit, void *arg)
{
    cprimes_state *state = get_state(module);
    if (state != NULL) {
        Py_VISIT(state->error);
    }
    return 0;
}

static int
cprimes_clear(PyObject *module)
{
    cprimes_state *state = get_state(module);
    if (state != NULL) {
        Py_CLEAR(state->error);
    }
    return 0;
}

static void
cprimes_free(void *module)
{
    (void)cprimes_clear((PyObject *)module);
}

static PyMethodDef cprimes_methods[] = {
    {"count_primes", count_primes, METH_O,
     PyDoc_STR("count_primes(n)\n--\n\nThe number of primes below n (trial division in C).")},
    {"calls", calls, METH_NOARGS,
     PyDoc_STR("calls()\n--\n\nHow many times count_primes ran in this interpreter.")},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot cprimes_slots[] = {
    {Py_mod_exec, cprimes_exec},
#ifndef CPRIMES_LEGACY
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

/* Read-only after PyModuleDef_Init; shared by every interpreter, which is fine: it holds no
 * objects, only the recipe for making them. */
static struct PyModuleDef cprimes_module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = MODULE_NAME,
    .m_doc = "Counts primes in C; safe in own-GIL subinterpreters.",
    .m_size = sizeof(cprimes_state),
    .m_methods = cprimes_methods,
    .m_slots = cprimes_slots,
    .m_traverse = cprimes_traverse,
    .m_clear = cprimes_clear,
    .m_free = cprimes_free,
};

PyMODINIT_FUNC
MODULE_INIT(void)
{
    return PyModuleDef_Init(&cprimes_module);
}
