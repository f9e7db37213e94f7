//! `rprimes`: an extension module in Rust on `cpython-sys` that is safe in every own-GIL
//! subinterpreter; the twin of `examples/extensions/c/cprimes.c`, with the same API:
//!
//! - `count_primes(n)`: the number of primes below `n`, by trial division in Rust (CPU work
//!   done while holding this interpreter's GIL, which no other interpreter shares);
//! - `calls()`: how many times `count_primes` ran in *this* interpreter;
//! - `error`: the exception `count_primes` raises for a negative `n`.
//!
//! What makes it subinterpreter-ready: multi-phase init (`PyInit_rprimes` only returns the
//! definition, `Py_mod_exec` fills one module object per importing interpreter), the
//! `Py_mod_multiple_interpreters = Py_MOD_PER_INTERPRETER_GIL_SUPPORTED` slot, and all state in
//! the module ([`State`], reached through `PyModule_GetState`): no `static` holds a Python
//! object or a counter. The `static mut` tables below are the module's recipe; CPython writes
//! only the definition's header, once, in `PyModuleDef_Init`.

use core::ffi::{c_int, c_long, c_void};
use core::ptr::null_mut;

use cpython_sys as ffi;

/// Everything the module keeps, one copy per module object (so per interpreter).
#[repr(C)]
#[derive(Debug)]
struct State {
    /// `count_primes` calls in this interpreter; only touched with its GIL held.
    calls: u64,
    /// This interpreter's `rprimes.error` class (a strong reference).
    error: *mut ffi::PyObject,
}

/// The state of `module`, one of our module objects.
///
/// # Safety
/// `module` is an `rprimes` module of the attached interpreter.
unsafe fn state(module: *mut ffi::PyObject) -> *mut State {
    // SAFETY: the caller passes our module; its state block is `size_of::<State>()` bytes.
    unsafe { ffi::PyModule_GetState(module).cast::<State>() }
}

fn count_primes_below(n: c_long) -> c_long {
    (2..n.max(2))
        .filter(|&i| (2..).take_while(|d| d * d <= i).all(|d| i % d != 0))
        .count() as c_long
}

/// `count_primes(n)` (`METH_O`).
unsafe extern "C" fn count_primes(
    module: *mut ffi::PyObject,
    arg: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls module functions attached, with our module and a live argument.
    unsafe {
        let n = ffi::PyLong_AsLong(arg);
        if n == -1 && !ffi::PyErr_Occurred().is_null() {
            return null_mut();
        }
        let state = state(module);
        if n < 0 {
            ffi::PyErr_Format((*state).error, c"n must be >= 0, not %ld".as_ptr(), n);
            return null_mut();
        }
        (*state).calls += 1;
        // The GIL stays held: it is this interpreter's own, so other interpreters keep running.
        ffi::PyLong_FromLong(count_primes_below(n))
    }
}

/// `calls()` (`METH_NOARGS`).
unsafe extern "C" fn calls(
    module: *mut ffi::PyObject,
    _ignored: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls module functions attached, with our module.
    unsafe { ffi::PyLong_FromUnsignedLongLong((*state(module)).calls) }
}

/// `Py_mod_exec`: fills a new module object of the importing interpreter.
unsafe extern "C" fn exec(module: *mut ffi::PyObject) -> c_int {
    // SAFETY: CPython calls exec slots attached, with a new module of ours whose state is
    // zeroed; `PyExc_ValueError` is set once at start-up and only read.
    unsafe {
        let state = state(module);
        (*state).calls = 0;
        (*state).error =
            ffi::PyErr_NewException(c"rprimes.error".as_ptr(), ffi::PyExc_ValueError, null_mut());
        if (*state).error.is_null() {
            return -1;
        }
        ffi::PyModule_AddObjectRef(module, c"error".as_ptr(), (*state).error)
    }
}

/// `m_traverse`: the GC visits the objects the state holds.
unsafe extern "C" fn traverse(
    module: *mut ffi::PyObject,
    visit: ffi::visitproc,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: CPython calls it attached with our module (its state may be NULL before exec).
    unsafe {
        let state = state(module);
        match visit {
            Some(visit) if !state.is_null() && !(*state).error.is_null() => {
                visit((*state).error, arg)
            }
            _ => 0,
        }
    }
}

/// `m_clear`: drops the state's references.
unsafe extern "C" fn clear(module: *mut ffi::PyObject) -> c_int {
    // SAFETY: CPython calls it attached with our module (its state may be NULL before exec).
    unsafe {
        let state = state(module);
        if !state.is_null() {
            let error = core::mem::replace(&mut (*state).error, null_mut());
            ffi::Py_XDECREF(error);
        }
    }
    0
}

/// `m_free`: the module object is being deallocated.
unsafe extern "C" fn free(module: *mut c_void) {
    // SAFETY: CPython passes our module object, attached.
    unsafe {
        clear(module.cast());
    }
}

const END: ffi::PyMethodDef = ffi::PyMethodDef {
    ml_name: core::ptr::null(),
    ml_meth: None,
    ml_flags: 0,
    ml_doc: core::ptr::null(),
};

static mut METHODS: [ffi::PyMethodDef; 3] = [
    ffi::PyMethodDef {
        ml_name: c"count_primes".as_ptr(),
        ml_meth: Some(count_primes),
        ml_flags: ffi::METH_O,
        ml_doc: c"count_primes(n)\n--\n\nThe number of primes below n (trial division in Rust)."
            .as_ptr(),
    },
    ffi::PyMethodDef {
        ml_name: c"calls".as_ptr(),
        ml_meth: Some(calls),
        ml_flags: ffi::METH_NOARGS,
        ml_doc: c"calls()\n--\n\nHow many times count_primes ran in this interpreter.".as_ptr(),
    },
    END,
];

static mut SLOTS: [ffi::PyModuleDef_Slot; 3] = [
    ffi::PyModuleDef_Slot {
        slot: ffi::Py_mod_exec,
        value: exec as *mut c_void,
    },
    ffi::PyModuleDef_Slot {
        slot: ffi::Py_mod_multiple_interpreters,
        value: ffi::Py_MOD_PER_INTERPRETER_GIL_SUPPORTED,
    },
    ffi::PyModuleDef_Slot {
        slot: 0,
        value: null_mut(),
    },
];

/// The definition every interpreter makes its own module object from.
static mut MODULE: ffi::PyModuleDef = ffi::PyModuleDef {
    m_base: ffi::PyModuleDef_HEAD_INIT,
    m_name: c"rprimes".as_ptr(),
    m_doc: c"Counts primes in Rust; safe in own-GIL subinterpreters.".as_ptr(),
    m_size: size_of::<State>() as ffi::Py_ssize_t,
    m_methods: &raw mut METHODS as *mut ffi::PyMethodDef,
    m_slots: &raw mut SLOTS as *mut ffi::PyModuleDef_Slot,
    m_traverse: Some(traverse),
    m_clear: Some(clear),
    m_free: Some(free),
};

/// The module's init function, found by name when `rprimes<EXT_SUFFIX>` is imported.
///
/// # Safety
/// Called by CPython's import machinery, attached.
#[unsafe(no_mangle)]
#[allow(non_snake_case)]
pub unsafe extern "C" fn PyInit_rprimes() -> *mut ffi::PyObject {
    // SAFETY: `MODULE` is a valid definition with 'static lifetime; `PyModuleDef_Init` only
    // sets its object header (idempotently, under the import lock) and returns it.
    unsafe { ffi::PyModuleDef_Init(&raw mut MODULE) }
}
