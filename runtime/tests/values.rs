//! `Value`: every shareable type round-trips through an interpreter; large bytes cross without
//! a copy; anything else is refused by name.

mod common;

use std::sync::Arc;

use common::runtime;
use subinterp::{Bytes, Int, Interpreter, SHARED_BYTES_THRESHOLD, Value};

fn interp() -> Interpreter {
    Interpreter::new(runtime()).expect("an interpreter starts")
}

/// Sends `value` in as an argument of `identity` and back as its result.
fn round_trip(i: &Interpreter, value: Value) -> Value {
    i.call("__main__:identity", vec![value]).unwrap()
}

#[test]
fn every_shareable_type_round_trips() {
    let i = interp();
    i.exec("def identity(x): return x").unwrap();
    let values = vec![
        Value::None,
        Value::Bool(true),
        Value::Bool(false),
        Value::from(0),
        Value::from(-1),
        Value::from(i64::MIN),
        Value::from(i64::MAX),
        Value::from(u64::MAX),
        Value::from(i128::MIN),
        Value::Float(1.5),
        Value::Float(f64::INFINITY),
        Value::Float(-0.0),
        Value::Complex { re: 1.0, im: -2.5 },
        Value::from(""),
        Value::from("h\u{e9}llo \u{1f40d}"),
        Value::from(b"a\x00b".to_vec()),
        Value::Tuple(vec![]),
        Value::Tuple(vec![1.into(), Value::Tuple(vec!["x".into(), Value::None])]),
        Value::FrozenSet(vec![1.into(), "two".into(), Value::Tuple(vec![3.into()])]),
    ];
    for value in values {
        assert_eq!(round_trip(&i, value.clone()), value);
    }
    let nan = round_trip(&i, Value::Float(f64::NAN));
    assert!(nan.as_f64().unwrap().is_nan());
}

#[test]
fn python_objects_arrive_as_the_right_values() {
    let i = interp();
    assert_eq!(i.eval("None").unwrap(), Value::None);
    assert_eq!(i.eval("1 == 1").unwrap(), Value::Bool(true));
    assert_eq!(i.eval("-7").unwrap().as_i64(), Some(-7));
    assert_eq!(i.eval("0.25").unwrap().as_f64(), Some(0.25));
    assert_eq!(i.eval("3j").unwrap(), Value::Complex { re: 0.0, im: 3.0 });
    assert_eq!(i.eval("'abc'").unwrap().as_str(), Some("abc"));
    assert_eq!(&**i.eval("b'xyz'").unwrap().as_bytes().unwrap(), b"xyz");
    assert_eq!(
        i.eval("frozenset({3, 2, 1})").unwrap(),
        Value::FrozenSet(vec![1.into(), 2.into(), 3.into()]),
        "frozensets compare as sets"
    );
    assert_eq!(
        i.eval("(True, (None,), 'x')").unwrap(),
        Value::Tuple(vec![
            true.into(),
            Value::Tuple(vec![Value::None]),
            "x".into()
        ])
    );
}

#[test]
fn ints_of_any_size() {
    let i = interp();
    i.exec("def identity(x): return x").unwrap();
    let big = i.eval("2**200 + 12345").unwrap();
    assert_eq!(big.as_i64(), None);
    let mut expected = vec![0u8; 26];
    expected[25] = 1;
    expected[..2].copy_from_slice(&12345u16.to_le_bytes());
    assert_eq!(
        big,
        Value::Int(Int::from_signed_bytes_le(&expected)),
        "little-endian two's complement, minimal"
    );
    assert_eq!(round_trip(&i, big.clone()), big);
    let neg = i.eval("-(3**150)").unwrap();
    i.exec("neg = -(3**150)").unwrap();
    assert_eq!(
        i.call("operator:eq", vec![neg, i.eval("neg").unwrap()])
            .unwrap(),
        Value::Bool(true)
    );
    // Boundaries of the small representation.
    for expr in [
        "2**63 - 1",
        "-2**63",
        "2**63",
        "-2**63 - 1",
        "2**64",
        "-2**64",
    ] {
        let v = i.eval(expr).unwrap();
        let check = i.call("__main__:identity", vec![v.clone()]).unwrap();
        assert_eq!(v, check, "{expr}");
        i.exec(&format!("assert identity({expr}) == {expr}"))
            .unwrap();
    }
    assert_eq!(i.eval("2**63 - 1").unwrap().as_i64(), Some(i64::MAX));
    assert_eq!(i.eval("2**63").unwrap(), Value::from(1u64 << 63));
    assert_eq!(Int::from(-1i64).to_signed_bytes_le(), vec![0xff]);
    assert_eq!(Int::from(128i64).to_signed_bytes_le(), vec![0x80, 0x00]);
}

#[test]
fn large_bytes_cross_without_a_copy() {
    let i = interp();
    let data: Arc<[u8]> = (0..SHARED_BYTES_THRESHOLD * 2)
        .map(|n| n as u8)
        .collect::<Vec<_>>()
        .into();
    let value = Value::Bytes(Bytes::from(Arc::clone(&data)));
    i.exec("def identity(x): return x").unwrap();

    // In the interpreter it is a read-only bytes-like object over our memory...
    let checks = i
        .with_python({
            let value = value.clone();
            move |py| {
                let obj = py.object(&value)?;
                py.main_module()?.setattr("big", &obj)?;
                py.eval(
                    "(type(big).__name__, len(big), memoryview(big).readonly, \
                      bytes(memoryview(big)[:4]), big == bytes(big), \
                      hash(big) == hash(bytes(big)), __import__('hashlib').sha256(big).hexdigest() \
                      == __import__('hashlib').sha256(bytes(big)).hexdigest())",
                )?
                .to_value()
            }
        })
        .unwrap();
    assert_eq!(
        checks,
        Value::Tuple(vec![
            "SharedBytes".into(),
            Value::from(data.len()),
            true.into(),
            Value::from(vec![0u8, 1, 2, 3]),
            true.into(),
            true.into(),
            true.into(),
        ])
    );
    let err = i.exec("memoryview(big)[0] = 1").unwrap_err();
    assert!(err.is_python("TypeError"), "read-only: {err:?}");

    // ... and coming back it is the same allocation.
    let back = round_trip(&i, value);
    let back = back.as_bytes().unwrap();
    assert!(
        Arc::ptr_eq(back.as_arc(), &data),
        "the Arc was reused, not copied"
    );

    // Small bytes are plain `bytes`.
    i.exec("small = identity(b'x' * 10)").unwrap();
    assert_eq!(
        i.eval("type(small).__name__").unwrap(),
        Value::from("bytes")
    );
    // bytes built in Python cross as values, and big ones arrive shared elsewhere.
    let made = i
        .eval(&format!("b'z' * {}", SHARED_BYTES_THRESHOLD))
        .unwrap();
    assert_eq!(made.as_bytes().unwrap().len(), SHARED_BYTES_THRESHOLD);
    let other = interp();
    other.exec("def identity(x): return x").unwrap();
    let again = round_trip(&other, made.clone());
    assert!(Arc::ptr_eq(
        again.as_bytes().unwrap().as_arc(),
        made.as_bytes().unwrap().as_arc()
    ));
}

#[test]
fn shared_bytes_inside_a_frozenset_hash_like_bytes() {
    let i = interp();
    let big = Value::from(vec![7u8; SHARED_BYTES_THRESHOLD]);
    let set = Value::FrozenSet(vec![big.clone(), 1.into()]);
    i.exec("def contains_plain(s, n): return bytes([7]) * n in s")
        .unwrap();
    assert_eq!(
        i.call(
            "__main__:contains_plain",
            vec![set, Value::from(SHARED_BYTES_THRESHOLD)]
        )
        .unwrap(),
        Value::Bool(true)
    );
}

#[test]
fn non_shareable_arguments_are_refused_by_type_name() {
    let i = interp();
    let err = i
        .with_python(|py| py.eval("[1, 2]")?.to_value())
        .unwrap_err();
    assert!(
        err.python()
            .unwrap()
            .message()
            .starts_with("list is not shareable")
    );
    // A str with lone surrogates is not Unicode text, but it is a str: it crosses as is.
    let odd = i.eval("'a\\ud800b'").unwrap();
    assert_eq!(odd, Value::StrWithSurrogates(b"a\xed\xa0\x80b"[..].into()));
    assert_eq!(odd.type_name(), "str");
    assert_eq!(odd.as_str(), None);
    i.exec("def same(x): return x == 'a\\ud800b'").unwrap();
    assert_eq!(
        i.call("__main__:same", vec![odd]).unwrap(),
        Value::Bool(true)
    );
    i.exec("t = ()\nfor _ in range(600): t = (t,)").unwrap();
    let err = i.eval("t").unwrap_err();
    assert!(
        err.python().unwrap().message().contains("nested deeper"),
        "{err}"
    );
    assert_eq!(i.eval("1").unwrap(), Value::from(1));
}

#[test]
fn value_accessors_and_conversions() {
    assert_eq!(Value::from(3u8), Value::from(3i64));
    assert_eq!(Value::from(Some("a")), Value::from("a"));
    assert_eq!(Value::from(None::<i64>), Value::None);
    assert_eq!(Value::from(()), Value::None);
    assert_eq!(
        Value::from(vec![Value::from(1)]).as_tuple().unwrap().len(),
        1
    );
    assert_eq!(Value::from(true).as_bool(), Some(true));
    assert_eq!(Value::from(2.5).type_name(), "float");
    assert!(Value::None.is_none());
    assert_ne!(
        Value::from(1),
        Value::from(1.0),
        "int and float differ as values"
    );
    assert_eq!(
        Value::FrozenSet(vec![1.into(), 2.into()]),
        Value::FrozenSet(vec![2.into(), 1.into()])
    );
}
