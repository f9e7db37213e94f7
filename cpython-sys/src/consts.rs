//! Values of C macros that bindgen cannot evaluate: pointer casts and struct initialisers.
//!
//! Each one is compared with the C compiler's value by the crate's layout test.

use core::ffi::c_void;
use core::ptr;

use crate::{PyModuleDef_Base, PyObject};

/// `Py_mod_multiple_interpreters` value: the module cannot be loaded in a subinterpreter.
pub const Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED: *mut c_void = ptr::null_mut();
/// `Py_mod_multiple_interpreters` value: subinterpreters that share the main GIL only.
pub const Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED: *mut c_void = ptr::without_provenance_mut(1);
/// `Py_mod_multiple_interpreters` value: safe in interpreters with their own GIL.
pub const Py_MOD_PER_INTERPRETER_GIL_SUPPORTED: *mut c_void = ptr::without_provenance_mut(2);
/// `Py_mod_gil` value: the module relies on the GIL (free-threaded builds re-enable it).
pub const Py_MOD_GIL_USED: *mut c_void = ptr::null_mut();
/// `Py_mod_gil` value: the module is safe without the GIL.
pub const Py_MOD_GIL_NOT_USED: *mut c_void = ptr::without_provenance_mut(1);

/// Reference count that marks an object immortal (`_Py_IMMORTAL_REFCNT`).
#[cfg(all(not(Py_GIL_DISABLED), target_pointer_width = "64"))]
pub const _Py_IMMORTAL_REFCNT: crate::Py_ssize_t = u32::MAX as crate::Py_ssize_t;
/// Reference count that marks an object immortal (`_Py_IMMORTAL_REFCNT`).
#[cfg(all(not(Py_GIL_DISABLED), not(target_pointer_width = "64")))]
pub const _Py_IMMORTAL_REFCNT: crate::Py_ssize_t = (u32::MAX >> 2) as crate::Py_ssize_t;
/// Local reference count that marks an object immortal (`_Py_IMMORTAL_REFCNT_LOCAL`).
#[cfg(Py_GIL_DISABLED)]
pub const _Py_IMMORTAL_REFCNT_LOCAL: u32 = u32::MAX;

/// `PyObject_HEAD_INIT(NULL)`: the header of a statically allocated object (immortal, no type).
pub const PyObject_HEAD_INIT: PyObject = {
    // SAFETY: `PyObject` is plain integers and a pointer; all-zero bytes are a valid value.
    let mut head: PyObject = unsafe { core::mem::zeroed() };
    #[cfg(not(Py_GIL_DISABLED))]
    {
        head.__bindgen_anon_1.ob_refcnt = _Py_IMMORTAL_REFCNT;
    }
    #[cfg(Py_GIL_DISABLED)]
    {
        head.ob_ref_local = _Py_IMMORTAL_REFCNT_LOCAL;
    }
    head
};

/// `PyModuleDef_HEAD_INIT`: the `m_base` every `PyModuleDef` starts with.
pub const PyModuleDef_HEAD_INIT: PyModuleDef_Base = PyModuleDef_Base {
    ob_base: PyObject_HEAD_INIT,
    m_init: None,
    m_index: 0,
    m_copy: ptr::null_mut(),
};
