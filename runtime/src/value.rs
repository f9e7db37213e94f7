//! [`Value`]: the Rust-owned immutable data that crosses between interpreters, and its
//! conversions to and from Python objects.

use std::fmt;
use std::sync::Arc;

use cpython_sys as ffi;

use crate::args::value_error;
use crate::channel::Channel;
use crate::error::{Error, PyException, Result};
use crate::marker::Python;
use crate::object::Object;
use crate::{py_channel, shared_bytes};

/// `bytes` of at least this many bytes (64 KiB) cross into an interpreter without a copy: the
/// receiver gets a read-only `csp.SharedBytes` buffer over the same Rust allocation instead of
/// a `bytes` object. Smaller ones are copied into a plain `bytes`, which is cheaper for them.
pub const SHARED_BYTES_THRESHOLD: usize = 64 * 1024;

/// Deepest nesting of tuples/frozensets converted; deeper data is refused instead of
/// overflowing the stack.
const MAX_DEPTH: usize = 512;

/// Immutable data that any interpreter can turn into its own Python object.
///
/// A Python object never leaves its interpreter; a `Value` is built from it on the sending
/// side and a fresh object on the receiving side. Only these types are shareable (exact types:
/// subclasses are refused, as the stdlib's cross-interpreter data does); anything else raises
/// `TypeError` naming its type.
///
/// Equality is structural, except that frozensets compare as sets (order-independent) and
/// floats as IEEE numbers (`NaN != NaN`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Value {
    /// `None`.
    None,
    /// `bool`.
    Bool(bool),
    /// `int` of any size.
    Int(Int),
    /// `float`.
    Float(f64),
    /// `complex`.
    Complex {
        /// The real part.
        re: f64,
        /// The imaginary part.
        im: f64,
    },
    /// `str`.
    Str(String),
    /// `bytes` (or a `csp.SharedBytes` buffer, which arrives as one when large).
    Bytes(Bytes),
    /// `tuple`.
    Tuple(Vec<Value>),
    /// `frozenset`, in the order Python iterated it.
    FrozenSet(Vec<Value>),
    /// A [`Channel`] handle (`csp.Channel` in Python): the same channel on both sides.
    Channel(Channel),
}

impl Value {
    /// The integer, if this is an `int` that fits in `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => i.as_i64(),
            _ => None,
        }
    }

    /// The float, if this is a `float` (ints are not converted).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The bool, if this is a `bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The text, if this is a `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is `bytes`.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The items, if this is a `tuple`.
    pub fn as_tuple(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// Whether this is `None`.
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    /// The Python type name of this value (`"int"`, `"tuple"`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Complex { .. } => "complex",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::FrozenSet(_) => "frozenset",
            Value::Channel(_) => "csp.Channel",
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            (None, None) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Float(a), Float(b)) => a == b,
            (Complex { re: a, im: b }, Complex { re: c, im: d }) => a == c && b == d,
            (Str(a), Str(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (Channel(a), Channel(b)) => a.same(b),
            (Tuple(a), Tuple(b)) => a == b,
            (FrozenSet(a), FrozenSet(b)) => {
                a.len() == b.len()
                    && a.iter().all(|x| b.contains(x))
                    && b.iter().all(|x| a.contains(x))
            }
            _ => false,
        }
    }
}

/// A Python `int` of any size.
///
/// Values that fit in `i64` are stored inline; bigger ones as minimal little-endian two's
/// complement bytes, so each number has one representation and `==` is exact.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Int(IntRepr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum IntRepr {
    Small(i64),
    Big(Box<[u8]>),
}

impl Int {
    /// The number from little-endian two's-complement bytes (any length; empty is 0).
    pub fn from_signed_bytes_le(bytes: &[u8]) -> Int {
        let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
        let filler = if negative { 0xff } else { 0x00 };
        // Strip redundant sign bytes: keep one whose top bit still carries the sign.
        let mut len = bytes.len();
        while len > 1 && bytes[len - 1] == filler && (bytes[len - 2] & 0x80 != 0) == negative {
            len -= 1;
        }
        let bytes = &bytes[..len];
        if len <= 8 {
            let mut buf = [filler; 8];
            buf[..len].copy_from_slice(bytes);
            Int(IntRepr::Small(i64::from_le_bytes(buf)))
        } else {
            Int(IntRepr::Big(bytes.into()))
        }
    }

    /// Little-endian two's-complement bytes, as short as possible.
    pub fn to_signed_bytes_le(&self) -> Vec<u8> {
        match &self.0 {
            IntRepr::Small(i) => {
                let bytes = i.to_le_bytes();
                let filler = if *i < 0 { 0xff } else { 0 };
                let mut len = 8;
                while len > 1
                    && bytes[len - 1] == filler
                    && (bytes[len - 2] & 0x80 != 0) == (*i < 0)
                {
                    len -= 1;
                }
                bytes[..len].to_vec()
            }
            IntRepr::Big(bytes) => bytes.to_vec(),
        }
    }

    /// The number, if it fits in `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            IntRepr::Small(i) => Some(i),
            IntRepr::Big(_) => None,
        }
    }
}

impl fmt::Debug for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            IntRepr::Small(i) => write!(f, "{i}"),
            IntRepr::Big(bytes) => {
                // Big numbers are shown in hex (two's complement, most significant byte first).
                f.write_str("0x")?;
                bytes.iter().rev().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

impl From<i64> for Int {
    fn from(i: i64) -> Self {
        Int(IntRepr::Small(i))
    }
}

impl From<u64> for Int {
    fn from(u: u64) -> Self {
        Int::from(u128::from(u))
    }
}

impl From<i128> for Int {
    fn from(i: i128) -> Self {
        Int::from_signed_bytes_le(&i.to_le_bytes())
    }
}

impl From<u128> for Int {
    fn from(u: u128) -> Self {
        let mut bytes = u.to_le_bytes().to_vec();
        bytes.push(0); // room for a clear sign bit
        Int::from_signed_bytes_le(&bytes)
    }
}

/// Immutable bytes behind an `Arc`, so that large ones are shared rather than copied when
/// they cross into an interpreter (see [`SHARED_BYTES_THRESHOLD`]).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Bytes(Arc<[u8]>);

impl Bytes {
    /// The shared allocation.
    pub fn as_arc(&self) -> &Arc<[u8]> {
        &self.0
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.0.len())
    }
}

impl From<Arc<[u8]>> for Bytes {
    fn from(arc: Arc<[u8]>) -> Self {
        Bytes(arc)
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v.into())
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Bytes(v.into())
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(i: $t) -> Self {
                Value::Int(Int::from(i64::from(i)))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<u64> for Value {
    fn from(u: u64) -> Self {
        Value::Int(Int::from(u))
    }
}

impl From<i128> for Value {
    fn from(i: i128) -> Self {
        Value::Int(Int::from(i))
    }
}

impl From<usize> for Value {
    fn from(u: usize) -> Self {
        Value::Int(Int::from(u as u64))
    }
}

impl From<Int> for Value {
    fn from(i: Int) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Value::Bytes(b)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Bytes(b.into())
    }
}

impl From<()> for Value {
    fn from((): ()) -> Self {
        Value::None
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::None, Into::into)
    }
}

impl From<Channel> for Value {
    fn from(channel: Channel) -> Self {
        Value::Channel(channel)
    }
}

impl From<&Channel> for Value {
    fn from(channel: &Channel) -> Self {
        Value::Channel(channel.clone())
    }
}

impl From<Vec<Value>> for Value {
    /// A tuple.
    fn from(items: Vec<Value>) -> Self {
        Value::Tuple(items)
    }
}

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
            Value::Int(Int(IntRepr::Small(i))) => ffi::PyLong_FromLongLong(*i),
            Value::Int(Int(IntRepr::Big(bytes))) => ffi::PyLong_FromNativeBytes(
                bytes.as_ptr().cast(),
                bytes.len(),
                ffi::Py_ASNATIVEBYTES_LITTLE_ENDIAN,
            ),
            Value::Float(f) => ffi::PyFloat_FromDouble(*f),
            Value::Complex { re, im } => ffi::PyComplex_FromDoubles(*re, *im),
            Value::Str(s) => ffi::PyUnicode_FromStringAndSize(s.as_ptr().cast(), s.len() as isize),
            Value::Bytes(b) if b.len() >= SHARED_BYTES_THRESHOLD => {
                return shared_bytes::new(py, b.0.clone());
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
            obj.utf8_strict().map(Value::Str)
        } else if ffi::PyBytes_CheckExact(ptr) != 0 {
            let data = ffi::PyBytes_AS_STRING(ptr);
            let len = ffi::PyBytes_GET_SIZE(ptr) as usize;
            Ok(Value::Bytes(Bytes(
                crate::object::raw_slice(data.cast::<u8>(), len).into(),
            )))
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
            Ok(Value::Bytes(Bytes(arc)))
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
            return Ok(Int(IntRepr::Small(small)));
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
    /// The text of a `str`; a `UnicodeEncodeError` for lone surrogates (which UTF-8 cannot
    /// hold) rather than a lossy copy.
    fn utf8_strict(&self) -> Result<String> {
        let mut len = 0;
        // SAFETY: attached; the UTF-8 buffer lives as long as the str.
        unsafe {
            let data = ffi::PyUnicode_AsUTF8AndSize(self.as_ptr(), &mut len);
            if data.is_null() {
                return Err(self.py().take_error());
            }
            let bytes = crate::object::raw_slice(data.cast::<u8>(), len as usize);
            Ok(std::str::from_utf8(bytes)
                .expect("CPython returned invalid UTF-8")
                .to_owned())
        }
    }
}

/// What every "not shareable" message says after the type name.
const NOT_SHAREABLE: &str = " is not shareable between interpreters: ";

/// `TypeError: <type> is not shareable ...` (raised in Python as `csp.NotShareableError`, a
/// `TypeError`).
pub(crate) fn not_shareable(type_name: &str) -> Error {
    Error::exception(
        "TypeError",
        format!(
            "{type_name}{NOT_SHAREABLE}only None, bool, int, float, complex, str, bytes, \
             csp.Channel and tuples or frozensets of them cross (exact types, not subclasses); \
             convert it first (e.g. a list to a tuple)"
        ),
    )
}

/// Whether `exc` is the error of [`not_shareable`].
pub(crate) fn is_not_shareable(exc: &PyException) -> bool {
    exc.type_name == "TypeError" && exc.message.contains(NOT_SHAREABLE)
}
