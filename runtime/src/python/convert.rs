//! Conversions between [`Value`]s and Python objects: [`to_object`] makes a fresh object of
//! the current interpreter, [`from_object`] copies an object's data out (or shares it: large
//! `bytes` and channels).

use cpython_sys as ffi;

use crate::error::{Result, not_shareable, value_error};
use crate::python::object::Object;
use crate::python::token::Python;
use crate::python::trampoline::raw_slice;
use crate::python::{py_channel, shared_bytes};
use crate::value::{Bytes, Int, SHARED_BYTES_THRESHOLD, Value};

/// Deepest nesting of tuples/frozensets converted; deeper data is refused instead of
/// overflowing the stack.
const MAX_DEPTH: usize = 512;

/// Converts `value` into a new object of `py`'s interpreter.
pub(crate) fn to_object<'py>(py: Python<'py>, value: &Value) -> Result<Object<'py>> {
    to_object_at(py, value, 0)
}

fn to_object_at<'py>(py: Python<'py>, value: &Value, depth: usize) -> Result<Object<'py>> {
    if depth > MAX_DEPTH {
        return Err(value_error(format!(
            "data nested deeper than {MAX_DEPTH} levels"
        )));
    }
    // SAFETY: (whole function) attached (we have `py`); every C call returns a new reference
    // or NULL with an exception set, which `from_owned` turns into the error; `PyTuple_SET_ITEM`
    // steals the item reference of a freshly created tuple.
    unsafe {
        let ptr = match value {
            Value::None => ffi::Py_NewRef(ffi::Py_None()),
            Value::Bool(b) => ffi::PyBool_FromLong((*b).into()),
            Value::Int(int) => match int.small_or_bytes() {
                Ok(i) => ffi::PyLong_FromLongLong(i),
                Err(bytes) => ffi::PyLong_FromNativeBytes(
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    ffi::Py_ASNATIVEBYTES_LITTLE_ENDIAN,
                ),
            },
            Value::Float(f) => ffi::PyFloat_FromDouble(*f),
            Value::Complex { re, im } => ffi::PyComplex_FromDoubles(*re, *im),
            Value::Str(s) => ffi::PyUnicode_FromStringAndSize(s.as_ptr().cast(), s.len() as isize),
            Value::StrWithSurrogates(b) => ffi::PyUnicode_DecodeUTF8(
                b.as_ptr().cast(),
                b.len() as isize,
                c"surrogatepass".as_ptr(),
            ),
            Value::Bytes(b) if b.len() >= SHARED_BYTES_THRESHOLD => {
                return shared_bytes::new(py, b.as_arc().clone());
            }
            Value::Bytes(b) => ffi::PyBytes_FromStringAndSize(b.as_ptr().cast(), b.len() as isize),
            Value::Tuple(items) => return tuple(py, items, depth),
            Value::FrozenSet(items) => {
                let items = tuple(py, items, depth)?;
                ffi::PyFrozenSet_New(items.as_ptr())
            }
            Value::Channel(channel) => return py_channel::new(py, channel.clone()),
        };
        Object::from_owned(py, ptr)
    }
}

/// A new tuple of converted items.
fn tuple<'py>(py: Python<'py>, items: &[Value], depth: usize) -> Result<Object<'py>> {
    // SAFETY: attached; the tuple is new and filled completely before anyone else sees it;
    // `PyTuple_SET_ITEM` steals each item's reference.
    unsafe {
        let tuple = Object::from_owned(py, ffi::PyTuple_New(items.len() as isize))?;
        for (i, item) in items.iter().enumerate() {
            let item = to_object_at(py, item, depth + 1)?;
            ffi::PyTuple_SET_ITEM(tuple.as_ptr(), i as isize, item.into_ptr());
        }
        Ok(tuple)
    }
}

/// Converts a Python object to a [`Value`].
pub(crate) fn from_object(obj: &Object<'_>) -> Result<Value> {
    from_object_at(obj, 0)
}

fn from_object_at(obj: &Object<'_>, depth: usize) -> Result<Value> {
    let py = obj.py();
    if depth > MAX_DEPTH {
        return Err(value_error(format!(
            "data nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let ptr = obj.as_ptr();
    // SAFETY: (whole function) attached; `ptr` is live for the duration; the type checks only
    // read the type; borrowed items are turned into owned `Object`s before use.
    unsafe {
        if ffi::Py_IsNone(ptr) != 0 {
            Ok(Value::None)
        } else if ffi::PyBool_Check(ptr) != 0 {
            Ok(Value::Bool(ffi::Py_IsTrue(ptr) != 0))
        } else if ffi::PyLong_CheckExact(ptr) != 0 {
            int(obj).map(Value::Int)
        } else if ffi::PyFloat_CheckExact(ptr) != 0 {
            Ok(Value::Float(ffi::PyFloat_AsDouble(ptr)))
        } else if ffi::PyComplex_CheckExact(ptr) != 0 {
            Ok(Value::Complex {
                re: ffi::PyComplex_RealAsDouble(ptr),
                im: ffi::PyComplex_ImagAsDouble(ptr),
            })
        } else if ffi::PyUnicode_CheckExact(ptr) != 0 {
            obj.text()
        } else if ffi::PyBytes_CheckExact(ptr) != 0 {
            let data = ffi::PyBytes_AS_STRING(ptr);
            let len = ffi::PyBytes_GET_SIZE(ptr) as usize;
            Ok(Value::Bytes(Bytes::from(raw_slice(data.cast::<u8>(), len))))
        } else if ffi::PyTuple_CheckExact(ptr) != 0 {
            let len = ffi::PyTuple_GET_SIZE(ptr);
            let mut items = Vec::with_capacity(len as usize);
            for i in 0..len {
                let item = Object::from_borrowed(py, ffi::PyTuple_GET_ITEM(ptr, i))?;
                items.push(from_object_at(&item, depth + 1)?);
            }
            Ok(Value::Tuple(items))
        } else if ffi::PyFrozenSet_CheckExact(ptr) != 0 {
            let iter = Object::from_owned(py, ffi::PyObject_GetIter(ptr))?;
            let mut items = Vec::with_capacity(ffi::PySet_Size(ptr).max(0) as usize);
            while let Some(item) = Object::from_owned_opt(py, ffi::PyIter_Next(iter.as_ptr())) {
                items.push(from_object_at(&item, depth + 1)?);
            }
            if !ffi::PyErr_Occurred().is_null() {
                return Err(py.take_error());
            }
            Ok(Value::FrozenSet(items))
        } else if let Some(arc) = shared_bytes::arc_of(obj) {
            Ok(Value::Bytes(Bytes::from(arc)))
        } else if let Some(channel) = py_channel::channel_of(obj) {
            Ok(Value::Channel(channel))
        } else {
            Err(not_shareable(&obj.type_name()))
        }
    }
}

/// An exact `int` of any size.
fn int(obj: &Object<'_>) -> Result<Int> {
    let py = obj.py();
    // SAFETY: attached; `obj` is an exact int; the byte buffer has the size passed.
    unsafe {
        let mut overflow = 0;
        let small = ffi::PyLong_AsLongLongAndOverflow(obj.as_ptr(), &mut overflow);
        if overflow == 0 {
            if small == -1 && !ffi::PyErr_Occurred().is_null() {
                return Err(py.take_error());
            }
            return Ok(Int::from(small));
        }
        let flags = ffi::Py_ASNATIVEBYTES_LITTLE_ENDIAN;
        let needed = ffi::PyLong_AsNativeBytes(obj.as_ptr(), std::ptr::null_mut(), 0, flags);
        if needed < 0 {
            return Err(py.take_error());
        }
        let mut buf = vec![0u8; needed as usize];
        let written =
            ffi::PyLong_AsNativeBytes(obj.as_ptr(), buf.as_mut_ptr().cast(), needed, flags);
        if written < 0 {
            return Err(py.take_error());
        }
        Ok(Int::from_signed_bytes_le(&buf))
    }
}

impl Object<'_> {
    /// The value of a `str`: [`Value::Str`], or [`Value::StrWithSurrogates`] when it holds
    /// lone surrogates (which UTF-8, and so a `String`, cannot hold), never a lossy copy.
    fn text(&self) -> Result<Value> {
        let mut len = 0;
        // SAFETY: attached; the UTF-8 buffer lives as long as the str; the encoded bytes are a
        // new reference owned by an `Object`.
        unsafe {
            let data = ffi::PyUnicode_AsUTF8AndSize(self.as_ptr(), &mut len);
            if data.is_null() {
                if ffi::PyErr_ExceptionMatches(ffi::PyExc_UnicodeEncodeError) == 0 {
                    return Err(self.py().take_error());
                }
                ffi::PyErr_Clear();
                let encoded = Object::from_owned(
                    self.py(),
                    ffi::PyUnicode_AsEncodedString(
                        self.as_ptr(),
                        c"utf-8".as_ptr(),
                        c"surrogatepass".as_ptr(),
                    ),
                )?;
                let bytes = raw_slice(
                    ffi::PyBytes_AS_STRING(encoded.as_ptr()).cast::<u8>(),
                    ffi::PyBytes_GET_SIZE(encoded.as_ptr()) as usize,
                );
                return Ok(Value::StrWithSurrogates(bytes.into()));
            }
            let bytes = raw_slice(data.cast::<u8>(), len as usize);
            Ok(Value::Str(
                std::str::from_utf8(bytes)
                    .expect("CPython returned invalid UTF-8")
                    .to_owned(),
            ))
        }
    }
}
