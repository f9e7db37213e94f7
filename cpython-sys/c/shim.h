/* Function forms of CPython macros that bindgen cannot translate.
 *
 * Every function is named `cpython_sys_<macro>`; the build script strips the
 * prefix, so Rust sees the macro's own name (`Py_None()`, `PyTuple_Check()`).
 * Keep each body a single use of the macro: the point is that the C compiler,
 * not us, decides what the macro means for this build of CPython. */
#ifndef CPYTHON_SYS_SHIM_H
#define CPYTHON_SYS_SHIM_H

#include <Python.h>

/* Singletons: `Py_None` is `(&_Py_NoneStruct)` and so on. Borrowed references. */
PyObject *cpython_sys_Py_None(void);
PyObject *cpython_sys_Py_True(void);
PyObject *cpython_sys_Py_False(void);
PyObject *cpython_sys_Py_NotImplemented(void);
PyObject *cpython_sys_Py_Ellipsis(void);

/* Py_DECREF takes extra file/line arguments in debug builds (Py_REF_DEBUG);
 * this form has the same signature in every build. */
void cpython_sys_Py_DECREF(PyObject *op);
void cpython_sys_Py_CLEAR(PyObject **op);

/* Unchecked item access (macros, not static inline functions, in 3.13). */
PyObject *cpython_sys_PyTuple_GET_ITEM(PyObject *op, Py_ssize_t index);
PyObject *cpython_sys_PyList_GET_ITEM(PyObject *op, Py_ssize_t index);

/* Type checks: non-zero when `op` is an instance (or exactly an instance). */
int cpython_sys_PyBool_Check(PyObject *op);
int cpython_sys_PyLong_Check(PyObject *op);
int cpython_sys_PyLong_CheckExact(PyObject *op);
int cpython_sys_PyFloat_Check(PyObject *op);
int cpython_sys_PyFloat_CheckExact(PyObject *op);
int cpython_sys_PyComplex_Check(PyObject *op);
int cpython_sys_PyComplex_CheckExact(PyObject *op);
int cpython_sys_PyUnicode_Check(PyObject *op);
int cpython_sys_PyUnicode_CheckExact(PyObject *op);
int cpython_sys_PyBytes_Check(PyObject *op);
int cpython_sys_PyBytes_CheckExact(PyObject *op);
int cpython_sys_PyByteArray_Check(PyObject *op);
int cpython_sys_PyTuple_Check(PyObject *op);
int cpython_sys_PyTuple_CheckExact(PyObject *op);
int cpython_sys_PyList_Check(PyObject *op);
int cpython_sys_PyDict_Check(PyObject *op);
int cpython_sys_PySet_Check(PyObject *op);
int cpython_sys_PyFrozenSet_Check(PyObject *op);
int cpython_sys_PyFrozenSet_CheckExact(PyObject *op);
int cpython_sys_PyAnySet_Check(PyObject *op);
int cpython_sys_PyMemoryView_Check(PyObject *op);
int cpython_sys_PyCapsule_CheckExact(PyObject *op);
int cpython_sys_PyModule_Check(PyObject *op);
int cpython_sys_PyExceptionInstance_Check(PyObject *op);
int cpython_sys_PyExceptionClass_Check(PyObject *op);

#endif
