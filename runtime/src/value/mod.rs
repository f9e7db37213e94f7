//! The values layer: [`Value`], the Rust-owned immutable data that crosses between
//! interpreters, and the [`Channel`] and [`Select`](channel::Select) that carry it.
//!
//! Pure Rust: converting a value to and from a Python object is the attached-Python layer's
//! job ([`python::convert`](crate::python::convert)). It depends on [`sync`](crate::sync) and
//! [`error`](crate::error) only.

pub(crate) mod channel;

use std::fmt;
use std::sync::Arc;

pub(crate) use channel::Channel;

/// `bytes` of at least this many bytes (64 KiB) cross into an interpreter without a copy: the
/// receiver gets a read-only `csp.SharedBytes` buffer over the same Rust allocation instead of
/// a `bytes` object. Smaller ones are copied into a plain `bytes`, which is cheaper for them.
pub const SHARED_BYTES_THRESHOLD: usize = 64 * 1024;

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
    /// A `str` holding lone surrogates (`"\u{d800}"` cannot be in a Rust `String`): its code
    /// points encoded as UTF-8 with the surrogates encoded like any other code point
    /// (CPython's `surrogatepass`). [`as_str`](Self::as_str) is `None` for it.
    StrWithSurrogates(Box<[u8]>),
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
            Value::Str(_) | Value::StrWithSurrogates(_) => "str",
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
            (StrWithSurrogates(a), StrWithSurrogates(b)) => a == b,
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

    /// The number if it fits in `i64`, else its minimal little-endian two's-complement bytes
    /// (without a copy).
    pub(crate) fn small_or_bytes(&self) -> Result<i64, &[u8]> {
        match &self.0 {
            IntRepr::Small(i) => Ok(*i),
            IntRepr::Big(bytes) => Err(bytes),
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
