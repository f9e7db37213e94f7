//! `csp.SharedBytes`: a read-only buffer object over shared Rust memory, so that large `bytes`
//! cross between interpreters without a copy.
//!
//! The type is a heap type created per interpreter with `PyType_FromSpec` and kept in that
//! interpreter's state dict (`PyInterpreterState_GetDict`), never in a process-global static.
//! Instances own an `Arc<[u8]>`; converting one back to a [`Value`](crate::Value) clones the
//! `Arc`, so the same allocation can travel through any number of interpreters.
//!
//! It supports the buffer protocol (read-only, so `memoryview`, `bytes(x)`, `hashlib`,
//! `file.write`, `b"".join` and the like accept it), `len()`, `==` with any bytes-like object,
//! and `hash()` equal to that of the same `bytes`.

use std::ffi::{CStr, c_int, c_void};
use std::mem::ManuallyDrop;
use std::sync::Arc;

use cpython_sys as ffi;

use crate::error::{Result, type_error};
use crate::python::object::{Object, interpreter_cached, slot};
use crate::python::token::Python;
use crate::python::trampoline::{raw_slice, trampoline, trampoline_unraisable};

/// Key of the type in the interpreter's state dict.
const TYPE_KEY: &CStr = c"subinterp.SharedBytes";

/// The instance layout.
#[repr(C)]
struct SharedBytesObject {
    ob_base: ffi::PyObject,
    data: ManuallyDrop<Arc<[u8]>>,
    /// `hash(bytes(self))` once computed, else -1.
    hash: ffi::Py_hash_t,
}

/// Methods; CPython keeps a pointer to this table in the type, so it must be `static`.
static mut METHODS: [ffi::PyMethodDef; 2] = [
    ffi::PyMethodDef {
        ml_name: c"__bytes__".as_ptr(),
        ml_meth: Some(to_bytes),
        ml_flags: ffi::METH_NOARGS,
        ml_doc: c"A copy of the data as `bytes`.".as_ptr(),
    },
    ffi::PyMethodDef {
        ml_name: std::ptr::null(),
        ml_meth: None,
        ml_flags: 0,
        ml_doc: std::ptr::null(),
    },
];

/// A new `SharedBytes` over `data`, in `py`'s interpreter.
pub(crate) fn new<'py>(py: Python<'py>, data: Arc<[u8]>) -> Result<Object<'py>> {
    let ty = type_object(py)?;
    // SAFETY: attached; `ty` is our type.
    unsafe { new_of_type(py, ty.as_ptr().cast(), data) }
}

/// # Safety
/// Attached; `ty` is this interpreter's `SharedBytes` type.
unsafe fn new_of_type<'py>(
    py: Python<'py>,
    ty: *mut ffi::PyTypeObject,
    data: Arc<[u8]>,
) -> Result<Object<'py>> {
    // SAFETY: `ty`'s instances have `SharedBytesObject`'s layout; `PyType_GenericAlloc`
    // returns zeroed memory (and a type reference) that we initialise before anyone sees it.
    unsafe {
        let obj = Object::from_owned(py, ffi::PyType_GenericAlloc(ty, 0))?;
        let raw = obj.as_ptr().cast::<SharedBytesObject>();
        std::ptr::write(&raw mut (*raw).data, ManuallyDrop::new(data));
        (*raw).hash = -1;
        Ok(obj)
    }
}

unsafe extern "C" fn tp_new(
    ty: *mut ffi::PyTypeObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls tp_new attached with the type, an args tuple and a kwargs dict
    // (or NULL); the buffer view is released after the copy.
    unsafe {
        trampoline("csp.SharedBytes()", std::ptr::null_mut(), |py| {
            if ffi::PyTuple_GET_SIZE(args) != 1
                || (!kwargs.is_null() && ffi::PyDict_Size(kwargs) > 0)
            {
                return Err(type_error(
                    "SharedBytes() takes exactly one argument, a bytes-like object".into(),
                ));
            }
            let source = ffi::PyTuple_GET_ITEM(args, 0);
            if let Some(arc) = arc_of(&Object::from_borrowed(py, source)?) {
                return Ok(new_of_type(py, ty, arc)?.into_ptr());
            }
            let mut view = std::mem::zeroed::<ffi::Py_buffer>();
            if ffi::PyObject_GetBuffer(source, &mut view, ffi::PyBUF_SIMPLE) < 0 {
                return Err(py.take_error());
            }
            let data: Arc<[u8]> = raw_slice(view.buf.cast::<u8>(), view.len as usize).into();
            ffi::PyBuffer_Release(&mut view);
            Ok(new_of_type(py, ty, data)?.into_ptr())
        })
    }
}

/// The shared data of `obj` if it is a `SharedBytes` (of any interpreter's type object).
pub(crate) fn arc_of(obj: &Object<'_>) -> Option<Arc<[u8]>> {
    // SAFETY: attached; every instance of a type whose dealloc is ours has our layout.
    unsafe {
        let ty = ffi::Py_TYPE(obj.as_ptr());
        let dealloc_slot = ffi::PyType_GetSlot(ty, ffi::Py_tp_dealloc);
        if dealloc_slot != dealloc as *mut c_void {
            ffi::PyErr_Clear();
            return None;
        }
        Some(Arc::clone(
            &(*obj.as_ptr().cast::<SharedBytesObject>()).data,
        ))
    }
}

/// This interpreter's `SharedBytes` type, created on first use.
pub(crate) fn type_object(py: Python<'_>) -> Result<Object<'_>> {
    interpreter_cached(py, TYPE_KEY, |py| {
        let mut slots = [
            slot(ffi::Py_tp_new, tp_new as *mut c_void),
            slot(ffi::Py_tp_dealloc, dealloc as *mut c_void),
            slot(ffi::Py_bf_getbuffer, getbuffer as *mut c_void),
            slot(ffi::Py_sq_length, length as *mut c_void),
            slot(ffi::Py_tp_hash, hash as *mut c_void),
            slot(ffi::Py_tp_richcompare, richcompare as *mut c_void),
            slot(ffi::Py_tp_repr, repr as *mut c_void),
            slot(ffi::Py_tp_methods, (&raw mut METHODS).cast()),
            slot(
                ffi::Py_tp_doc,
                c"SharedBytes(data)\n--\n\nA read-only bytes-like buffer over memory shared \
                  between interpreters: large bytes arrive as this, without a copy, and sending \
                  one sends the same memory again (SharedBytes(data) copies data once, to send \
                  it many times for free). Use it wherever a bytes-like object is accepted; \
                  bytes(x) makes a copy."
                    .as_ptr()
                    .cast_mut()
                    .cast(),
            ),
            slot(0, std::ptr::null_mut()),
        ];
        let mut spec = ffi::PyType_Spec {
            name: c"csp.SharedBytes".as_ptr(),
            basicsize: size_of::<SharedBytesObject>() as c_int,
            itemsize: 0,
            flags: (ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_IMMUTABLETYPE) as u32,
            slots: slots.as_mut_ptr(),
        };
        // SAFETY: attached; the spec outlives the call and points only at static data.
        unsafe { Object::from_owned(py, ffi::PyType_FromSpec(&mut spec)) }
    })
}

/// The data of a `SharedBytes`.
///
/// # Safety
/// `obj` is a live `SharedBytes` and stays alive while the slice is used.
unsafe fn data<'a>(obj: *mut ffi::PyObject) -> &'a [u8] {
    // SAFETY: forwarded from the caller.
    unsafe { &(*obj.cast::<SharedBytesObject>()).data }
}

unsafe extern "C" fn dealloc(obj: *mut ffi::PyObject) {
    // SAFETY: CPython calls dealloc attached, once, with our instance; a heap type's instance
    // holds a reference to its type, released after the memory is freed.
    unsafe {
        trampoline_unraisable("SharedBytes.__del__", || {
            let ty = ffi::Py_TYPE(obj);
            ManuallyDrop::drop(&mut (*obj.cast::<SharedBytesObject>()).data);
            ffi::PyObject_Free(obj.cast());
            ffi::Py_DECREF(ty.cast());
        });
    }
}

unsafe extern "C" fn getbuffer(
    obj: *mut ffi::PyObject,
    view: *mut ffi::Py_buffer,
    flags: c_int,
) -> c_int {
    // SAFETY: CPython calls us attached with a live instance and a view to fill;
    // `PyBuffer_FillInfo` refuses writable requests (BufferError) and takes a reference to
    // `obj`, which keeps the data alive while the view exists.
    unsafe {
        trampoline("SharedBytes buffer", -1, |_py| {
            let data = data(obj);
            Ok(ffi::PyBuffer_FillInfo(
                view,
                obj,
                data.as_ptr().cast_mut().cast(),
                data.len() as ffi::Py_ssize_t,
                1,
                flags,
            ))
        })
    }
}

unsafe extern "C" fn length(obj: *mut ffi::PyObject) -> ffi::Py_ssize_t {
    // SAFETY: CPython calls us attached with a live instance.
    unsafe {
        trampoline("SharedBytes.__len__", -1, |_py| {
            Ok(data(obj).len() as ffi::Py_ssize_t)
        })
    }
}

unsafe extern "C" fn hash(obj: *mut ffi::PyObject) -> ffi::Py_hash_t {
    // SAFETY: CPython calls us attached with a live instance; the bytes copy is released.
    unsafe {
        trampoline("SharedBytes.__hash__", -1, |py| {
            let raw = obj.cast::<SharedBytesObject>();
            if (*raw).hash == -1 {
                let data = data(obj);
                let copy = Object::from_owned(
                    py,
                    ffi::PyBytes_FromStringAndSize(data.as_ptr().cast(), data.len() as isize),
                )?;
                let h = ffi::PyObject_Hash(copy.as_ptr());
                if h == -1 {
                    return Ok(-1);
                }
                (*raw).hash = h;
            }
            Ok((*raw).hash)
        })
    }
}

unsafe extern "C" fn richcompare(
    obj: *mut ffi::PyObject,
    other: *mut ffi::PyObject,
    op: c_int,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls us attached with live objects; the view is released after use.
    unsafe {
        trampoline("SharedBytes comparison", std::ptr::null_mut(), |_py| {
            if op != ffi::Py_EQ && op != ffi::Py_NE {
                return Ok(ffi::Py_NewRef(ffi::Py_NotImplemented()));
            }
            let mut view = std::mem::zeroed::<ffi::Py_buffer>();
            if ffi::PyObject_GetBuffer(other, &mut view, ffi::PyBUF_SIMPLE) < 0 {
                ffi::PyErr_Clear();
                return Ok(ffi::Py_NewRef(ffi::Py_NotImplemented()));
            }
            let theirs = raw_slice(view.buf.cast::<u8>(), view.len as usize);
            let equal = data(obj) == theirs;
            ffi::PyBuffer_Release(&mut view);
            Ok(ffi::PyBool_FromLong((equal == (op == ffi::Py_EQ)).into()))
        })
    }
}

unsafe extern "C" fn repr(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: CPython calls us attached with a live instance.
    unsafe {
        trampoline("SharedBytes.__repr__", std::ptr::null_mut(), |py| {
            let text = format!("<csp.SharedBytes of {} bytes>", data(obj).len());
            Ok(py.object(&crate::value::Value::Str(text))?.into_ptr())
        })
    }
}

unsafe extern "C" fn to_bytes(
    obj: *mut ffi::PyObject,
    _: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls us attached with a live instance.
    unsafe {
        trampoline("SharedBytes.__bytes__", std::ptr::null_mut(), |_py| {
            let data = data(obj);
            Ok(ffi::PyBytes_FromStringAndSize(
                data.as_ptr().cast(),
                data.len() as isize,
            ))
        })
    }
}
