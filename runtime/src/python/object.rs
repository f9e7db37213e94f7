//! [`Object<'py>`]: an owned reference to a Python object, valid while its thread stays
//! attached; and the per-interpreter objects kept in an interpreter's state dict (types and
//! exception classes, see [`interpreter_cached`]).

use std::ffi::{CStr, c_void};
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

use cpython_sys as ffi;

use crate::error::Result;
use crate::python::convert::{from_object, to_object};
use crate::python::token::Python;
use crate::python::trampoline::raw_slice;
use crate::value::Value;

/// An owned (strong) reference to a Python object of the interpreter `'py` is attached to.
///
/// Like [`Python`], it is neither `Send` nor `Sync` and cannot outlive the closure that
/// handed out the token: a Python object never leaves its interpreter. To move data between
/// interpreters or threads, convert it to a [`Value`] with [`to_value`](Self::to_value).
///
/// ```compile_fail
/// # fn f(obj: subinterp::Object<'_>) {
/// std::thread::spawn(move || drop(obj)); // `Object` is not `Send`
/// # }
/// ```
pub struct Object<'py> {
    ptr: NonNull<ffi::PyObject>,
    py: Python<'py>,
    _owns: PhantomData<ffi::PyObject>,
}

impl<'py> Object<'py> {
    /// Takes ownership of a new reference; NULL means an exception is set, which becomes the
    /// error.
    ///
    /// # Safety
    /// `ptr` is NULL or a new reference owned by the caller, of `py`'s interpreter.
    pub(crate) unsafe fn from_owned(py: Python<'py>, ptr: *mut ffi::PyObject) -> Result<Self> {
        // SAFETY: forwarded from the caller.
        unsafe { Self::from_owned_opt(py, ptr) }.ok_or_else(|| py.take_error())
    }

    /// Like [`from_owned`](Self::from_owned) but NULL is `None` (no exception expected).
    ///
    /// # Safety
    /// As for `from_owned`.
    pub(crate) unsafe fn from_owned_opt(py: Python<'py>, ptr: *mut ffi::PyObject) -> Option<Self> {
        NonNull::new(ptr).map(|ptr| Object {
            ptr,
            py,
            _owns: PhantomData,
        })
    }

    /// Takes a new reference to a borrowed one; NULL means an exception is set.
    ///
    /// # Safety
    /// `ptr` is NULL or a live object of `py`'s interpreter.
    pub(crate) unsafe fn from_borrowed(py: Python<'py>, ptr: *mut ffi::PyObject) -> Result<Self> {
        if !ptr.is_null() {
            // SAFETY: attached (we have `py`) and `ptr` is live.
            unsafe { ffi::Py_IncRef(ptr) };
        }
        // SAFETY: the reference was just made ours.
        unsafe { Self::from_owned(py, ptr) }
    }

    /// The raw pointer, still owned by `self`.
    pub fn as_ptr(&self) -> *mut ffi::PyObject {
        self.ptr.as_ptr()
    }

    /// Gives up ownership: the caller must release the returned reference.
    pub fn into_ptr(self) -> *mut ffi::PyObject {
        let ptr = self.ptr.as_ptr();
        std::mem::forget(self);
        ptr
    }

    /// The token of the interpreter this object lives in.
    pub fn py(&self) -> Python<'py> {
        self.py
    }

    /// `getattr(self, name)`.
    pub fn getattr(&self, name: &str) -> Result<Object<'py>> {
        let name = self.py.cstring(name, "attribute name")?;
        // SAFETY: attached; returns a new reference or NULL with an exception set.
        unsafe {
            Object::from_owned(
                self.py,
                ffi::PyObject_GetAttrString(self.as_ptr(), name.as_ptr()),
            )
        }
    }

    /// `setattr(self, name, value)`.
    pub fn setattr(&self, name: &str, value: &Object<'py>) -> Result<()> {
        let name = self.py.cstring(name, "attribute name")?;
        // SAFETY: attached; both objects are live; the call takes its own reference.
        let rc =
            unsafe { ffi::PyObject_SetAttrString(self.as_ptr(), name.as_ptr(), value.as_ptr()) };
        if rc < 0 {
            return Err(self.py.take_error());
        }
        Ok(())
    }

    /// `self(*args)`.
    pub fn call(&self, args: &[Object<'py>]) -> Result<Object<'py>> {
        let ptrs: Vec<*mut ffi::PyObject> = args.iter().map(Object::as_ptr).collect();
        // SAFETY: attached; `ptrs` holds `len` live borrowed references; the result is a new
        // reference or NULL with an exception set.
        unsafe {
            Object::from_owned(
                self.py,
                ffi::PyObject_Vectorcall(
                    self.as_ptr(),
                    ptrs.as_ptr(),
                    ptrs.len(),
                    std::ptr::null_mut(),
                ),
            )
        }
    }

    /// `self(*args)` with arguments converted from [`Value`]s.
    pub fn call_values(&self, args: &[Value]) -> Result<Object<'py>> {
        let args = args
            .iter()
            .map(|v| to_object(self.py, v))
            .collect::<Result<Vec<_>>>()?;
        self.call(&args)
    }

    /// `self(*args, **kwargs)` with arguments converted from [`Value`]s.
    pub fn call_kw(&self, args: &[Value], kwargs: &[(String, Value)]) -> Result<Object<'py>> {
        if kwargs.is_empty() {
            return self.call_values(args);
        }
        let py = self.py;
        let args = to_object(py, &Value::Tuple(args.to_vec()))?;
        // SAFETY: attached; the dict is new and ours; `SetItem` takes its own references; the
        // call returns a new reference or NULL with an exception set.
        unsafe {
            let dict = Object::from_owned(py, ffi::PyDict_New())?;
            for (name, value) in kwargs {
                let name = to_object(py, &Value::Str(name.clone()))?;
                let value = to_object(py, value)?;
                if ffi::PyDict_SetItem(dict.as_ptr(), name.as_ptr(), value.as_ptr()) < 0 {
                    return Err(py.take_error());
                }
            }
            Object::from_owned(
                py,
                ffi::PyObject_Call(self.as_ptr(), args.as_ptr(), dict.as_ptr()),
            )
        }
    }

    /// Converts this object to a [`Value`]; a `TypeError` naming the type if it is not
    /// shareable.
    pub fn to_value(&self) -> Result<Value> {
        from_object(self)
    }

    /// `str(self)`.
    pub fn str(&self) -> Result<String> {
        // SAFETY: attached; returns a new reference or NULL with an exception set.
        let s = unsafe { Object::from_owned(self.py, ffi::PyObject_Str(self.as_ptr()))? };
        s.utf8()
    }

    /// `repr(self)`.
    pub fn repr(&self) -> Result<String> {
        // SAFETY: attached; returns a new reference or NULL with an exception set.
        let s = unsafe { Object::from_owned(self.py, ffi::PyObject_Repr(self.as_ptr()))? };
        s.utf8()
    }

    /// The UTF-8 text of a `str` object.
    pub(crate) fn utf8(&self) -> Result<String> {
        let mut len = 0;
        // SAFETY: attached; the buffer belongs to the str and lives while `self` does.
        unsafe {
            let data = ffi::PyUnicode_AsUTF8AndSize(self.as_ptr(), &mut len);
            if data.is_null() {
                return Err(self.py.take_error());
            }
            let bytes = raw_slice(data.cast::<u8>(), len as usize);
            Ok(String::from_utf8_lossy(bytes).into_owned())
        }
    }

    /// The fully qualified name of the object's type (`"int"`, `"collections.OrderedDict"`).
    pub fn type_name(&self) -> String {
        // SAFETY: attached; `Py_TYPE` of a live object is a live type.
        unsafe { type_name(self.py, ffi::Py_TYPE(self.as_ptr())) }
    }

    /// Whether this is `None`.
    pub fn is_none(&self) -> bool {
        // SAFETY: comparing pointers only.
        unsafe { ffi::Py_IsNone(self.as_ptr()) != 0 }
    }
}

/// The fully qualified name of a type (`PyType_GetFullyQualifiedName`).
///
/// # Safety
/// Attached to `py`'s interpreter; `ty` is a live type.
pub(crate) unsafe fn type_name(py: Python<'_>, ty: *mut ffi::PyTypeObject) -> String {
    // SAFETY: forwarded; the result is a new reference or NULL.
    let name = unsafe { Object::from_owned_opt(py, ffi::PyType_GetFullyQualifiedName(ty)) };
    match name.map(|n| n.utf8()) {
        Some(Ok(name)) => name,
        _ => {
            // SAFETY: attached; forget whichever step failed.
            unsafe { ffi::PyErr_Clear() };
            "<unknown type>".to_owned()
        }
    }
}

impl Clone for Object<'_> {
    fn clone(&self) -> Self {
        // SAFETY: attached (the lifetime proves it); the object is live.
        unsafe { ffi::Py_IncRef(self.as_ptr()) };
        Object {
            ptr: self.ptr,
            py: self.py,
            _owns: PhantomData,
        }
    }
}

impl Drop for Object<'_> {
    fn drop(&mut self) {
        // SAFETY: we own one reference and are attached to its interpreter.
        unsafe { ffi::Py_DECREF(self.as_ptr()) };
    }
}

impl fmt::Debug for Object<'_> {
    /// The type and address only: `Debug` must not run Python code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} object at {:p}>", self.type_name(), self.ptr)
    }
}

/// The object this interpreter keeps under `key` in its state dict
/// (`PyInterpreterState_GetDict`), made by `create` on first use: per-interpreter types and
/// exception classes live there, never in process-global statics.
pub(crate) fn interpreter_cached<'py>(
    py: Python<'py>,
    key: &CStr,
    create: impl FnOnce(Python<'py>) -> Result<Object<'py>>,
) -> Result<Object<'py>> {
    // SAFETY: attached; `PyInterpreterState_GetDict` returns a borrowed dict (or NULL);
    // `GetItemStringRef` gives a new reference; `SetItemString` takes its own.
    unsafe {
        let dict = ffi::PyInterpreterState_GetDict(ffi::PyInterpreterState_Get());
        if dict.is_null() {
            ffi::PyErr_SetString(
                ffi::PyExc_SystemError,
                c"this interpreter has no state dict".as_ptr(),
            );
            return Err(py.take_error());
        }
        let mut found = std::ptr::null_mut();
        match ffi::PyDict_GetItemStringRef(dict, key.as_ptr(), &mut found) {
            1 => return Object::from_owned(py, found),
            0 => {}
            _ => return Err(py.take_error()),
        }
        let obj = create(py)?;
        if ffi::PyDict_SetItemString(dict, key.as_ptr(), obj.as_ptr()) < 0 {
            return Err(py.take_error());
        }
        Ok(obj)
    }
}

/// A `PyType_Slot`.
pub(crate) fn slot(slot: std::ffi::c_int, pfunc: *mut c_void) -> ffi::PyType_Slot {
    ffi::PyType_Slot { slot, pfunc }
}
