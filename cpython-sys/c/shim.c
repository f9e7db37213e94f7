/* Bodies for shim.h; see there. */
#include "wrapper.h"

PyObject *cpython_sys_Py_None(void) { return Py_None; }
PyObject *cpython_sys_Py_True(void) { return Py_True; }
PyObject *cpython_sys_Py_False(void) { return Py_False; }
PyObject *cpython_sys_Py_NotImplemented(void) { return Py_NotImplemented; }
PyObject *cpython_sys_Py_Ellipsis(void) { return Py_Ellipsis; }

void cpython_sys_Py_DECREF(PyObject *op) { Py_DECREF(op); }
void cpython_sys_Py_CLEAR(PyObject **op) { Py_CLEAR(*op); }

PyObject *cpython_sys_PyTuple_GET_ITEM(PyObject *op, Py_ssize_t index) {
    return PyTuple_GET_ITEM(op, index);
}
PyObject *cpython_sys_PyList_GET_ITEM(PyObject *op, Py_ssize_t index) {
    return PyList_GET_ITEM(op, index);
}

#define CPYTHON_SYS_CHECK(macro) \
    int cpython_sys_##macro(PyObject *op) { return macro(op); }

CPYTHON_SYS_CHECK(PyBool_Check)
CPYTHON_SYS_CHECK(PyLong_Check)
CPYTHON_SYS_CHECK(PyLong_CheckExact)
CPYTHON_SYS_CHECK(PyFloat_Check)
CPYTHON_SYS_CHECK(PyFloat_CheckExact)
CPYTHON_SYS_CHECK(PyComplex_Check)
CPYTHON_SYS_CHECK(PyComplex_CheckExact)
CPYTHON_SYS_CHECK(PyUnicode_Check)
CPYTHON_SYS_CHECK(PyUnicode_CheckExact)
CPYTHON_SYS_CHECK(PyBytes_Check)
CPYTHON_SYS_CHECK(PyBytes_CheckExact)
CPYTHON_SYS_CHECK(PyByteArray_Check)
CPYTHON_SYS_CHECK(PyTuple_Check)
CPYTHON_SYS_CHECK(PyTuple_CheckExact)
CPYTHON_SYS_CHECK(PyList_Check)
CPYTHON_SYS_CHECK(PyDict_Check)
CPYTHON_SYS_CHECK(PySet_Check)
CPYTHON_SYS_CHECK(PyFrozenSet_Check)
CPYTHON_SYS_CHECK(PyFrozenSet_CheckExact)
CPYTHON_SYS_CHECK(PyAnySet_Check)
CPYTHON_SYS_CHECK(PyMemoryView_Check)
CPYTHON_SYS_CHECK(PyCapsule_CheckExact)
CPYTHON_SYS_CHECK(PyModule_Check)
CPYTHON_SYS_CHECK(PyExceptionInstance_Check)
CPYTHON_SYS_CHECK(PyExceptionClass_Check)
