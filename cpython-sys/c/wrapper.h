/* The header bindgen parses and the C helpers compile against.
 *
 * PY_SSIZE_T_CLEAN must precede Python.h so that `#` formats take Py_ssize_t
 * lengths, as in every modern extension. */
#ifndef CPYTHON_SYS_WRAPPER_H
#define CPYTHON_SYS_WRAPPER_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "shim.h"

#endif
