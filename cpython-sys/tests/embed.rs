//! The bindings drive a real interpreter: start from a `PyConfig`, run code, round-trip values
//! through the C API, raise and fetch an exception, finalise.
//!
//! CPython is initialised once per process, so this file holds a single test.

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use cpython_sys as ffi;

/// Python values used below; a failure in Python shows up as a Rust panic.
const SCRIPT: &CStr = c"
big = 2**200 + 12345
neg_big = -(3**150)
text = 'h\\u00e9llo w\\u00f6rld \\u2713 \\U0001f40d'
data = b'a\\x00b\\x00\\xff'
";

#[test]
fn embed_round_trips_and_exceptions() {
    // SAFETY: this is the only test in this binary, so nothing else touches CPython, and all
    // calls happen on this thread while it holds the main thread state created by
    // `Py_InitializeFromConfig`.
    unsafe {
        initialize();
        let globals = main_globals();
        run(SCRIPT, ffi::Py_file_input, globals);

        ints(globals);
        big_ints(globals);
        strings(globals);
        bytes(globals);
        singletons_and_tuples();
        exception(globals);

        assert_eq!(ffi::Py_FinalizeEx(), 0, "Py_FinalizeEx failed");
    }
}

/// Starts CPython with an isolated config whose `home` is the prefix we were built against.
unsafe fn initialize() {
    // SAFETY: `config` is initialised by `PyConfig_InitIsolatedConfig` before any other use and
    // cleared once; the strings passed in outlive the calls that copy them.
    unsafe {
        let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::uninit();
        ffi::PyConfig_InitIsolatedConfig(config.as_mut_ptr());
        let mut config = config.assume_init();
        let home = CString::new(ffi::PREFIX).unwrap();
        check(ffi::PyConfig_SetBytesString(
            &mut config,
            &mut config.home,
            home.as_ptr(),
        ));
        check(ffi::Py_InitializeFromConfig(&config));
        ffi::PyConfig_Clear(&mut config);
    }
}

/// Panics with CPython's message when a `PyStatus` is an error or an exit.
unsafe fn check(status: ffi::PyStatus) {
    // SAFETY: `PyStatus_Exception` only reads the struct; `err_msg` is a static C string or null.
    unsafe {
        if ffi::PyStatus_Exception(status) != 0 {
            let msg = if status.err_msg.is_null() {
                "(no message)".into()
            } else {
                CStr::from_ptr(status.err_msg).to_string_lossy()
            };
            panic!(
                "CPython start-up failed: {msg} (exit code {})",
                status.exitcode
            );
        }
    }
}

/// `__main__.__dict__` (borrowed).
unsafe fn main_globals() -> *mut ffi::PyObject {
    // SAFETY: called with the GIL held after initialisation; both calls return borrowed refs.
    unsafe {
        let main = ffi::PyImport_AddModule(c"__main__".as_ptr());
        assert!(!main.is_null());
        ffi::PyModule_GetDict(main)
    }
}

/// Runs `code` in `globals`; panics with the Python error if it raised.
unsafe fn run(code: &CStr, start: i32, globals: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: GIL held; `globals` is a live dict; the result is a new reference or NULL.
    unsafe {
        let result = ffi::PyRun_String(code.as_ptr(), start, globals, globals);
        if result.is_null() {
            ffi::PyErr_Print();
            panic!("Python raised running {code:?}");
        }
        result
    }
}

/// `globals[name]` (borrowed).
unsafe fn get(globals: *mut ffi::PyObject, name: &CStr) -> *mut ffi::PyObject {
    // SAFETY: GIL held; `PyDict_GetItemString` returns a borrowed reference or NULL.
    let value = unsafe { ffi::PyDict_GetItemString(globals, name.as_ptr()) };
    assert!(!value.is_null(), "{name:?} is not defined");
    value
}

/// Evaluates `expr` and returns whether it is true.
unsafe fn truthy(expr: &CStr, globals: *mut ffi::PyObject) -> bool {
    // SAFETY: GIL held; `run` returns a new reference that we release.
    unsafe {
        let value = run(expr, ffi::Py_eval_input, globals);
        let truth = ffi::PyObject_IsTrue(value);
        ffi::Py_DECREF(value);
        assert!(truth >= 0);
        truth == 1
    }
}

unsafe fn ints(globals: *mut ffi::PyObject) {
    // SAFETY: GIL held; every new reference is stored in `globals` (which takes its own) and
    // released.
    unsafe {
        for value in [0, 1, -1, i64::MIN, i64::MAX] {
            let obj = ffi::PyLong_FromLongLong(value);
            assert!(ffi::PyLong_CheckExact(obj) != 0);
            assert_eq!(ffi::PyLong_AsLongLong(obj), value);
            ffi::Py_DECREF(obj);
        }
        let obj = ffi::PyLong_FromUnsignedLongLong(u64::MAX);
        assert_eq!(
            ffi::PyDict_SetItemString(globals, c"from_rust".as_ptr(), obj),
            0
        );
        ffi::Py_DECREF(obj);
        assert!(truthy(c"from_rust == 2**64 - 1", globals));
    }
}

unsafe fn big_ints(globals: *mut ffi::PyObject) {
    // SAFETY: GIL held; buffers are sized as passed; new references are released.
    unsafe {
        // Python -> Rust: 2**200 + 12345 as 32 little-endian bytes.
        let big = get(globals, c"big");
        let mut buf = [0u8; 32];
        let flags = ffi::Py_ASNATIVEBYTES_LITTLE_ENDIAN;
        let needed = ffi::PyLong_AsNativeBytes(big, buf.as_mut_ptr().cast(), 32, flags);
        assert!((0..=32).contains(&needed), "PyLong_AsNativeBytes: {needed}");
        let mut expected = [0u8; 32];
        expected[25] = 1; // 2**200 = 1 << (25 * 8)
        expected[..2].copy_from_slice(&12345u16.to_le_bytes());
        assert_eq!(buf, expected);

        // Rust -> Python: the same bytes back, and a negative one via two's complement.
        let obj = ffi::PyLong_FromNativeBytes(buf.as_ptr().cast(), 32, flags);
        assert!(!obj.is_null());
        assert_eq!(ffi::PyObject_RichCompareBool(obj, big, ffi::Py_EQ), 1);
        ffi::Py_DECREF(obj);

        let neg_big = get(globals, c"neg_big");
        let mut buf = [0u8; 40];
        let needed = ffi::PyLong_AsNativeBytes(neg_big, buf.as_mut_ptr().cast(), 40, flags);
        assert!((0..=40).contains(&needed), "PyLong_AsNativeBytes: {needed}");
        let obj = ffi::PyLong_FromNativeBytes(buf.as_ptr().cast(), 40, flags);
        assert_eq!(ffi::PyObject_RichCompareBool(obj, neg_big, ffi::Py_EQ), 1);
        ffi::Py_DECREF(obj);

        // Too big for a C long: an OverflowError, not a wrong value.
        assert_eq!(ffi::PyLong_AsLongLong(big), -1);
        assert!(!ffi::PyErr_Occurred().is_null());
        assert!(ffi::PyErr_ExceptionMatches(ffi::PyExc_OverflowError) != 0);
        ffi::PyErr_Clear();
    }
}

unsafe fn strings(globals: *mut ffi::PyObject) {
    let expected = "h\u{e9}llo w\u{f6}rld \u{2713} \u{1f40d}";
    // SAFETY: GIL held; the UTF-8 buffer belongs to the (borrowed or owned) str while we read it.
    unsafe {
        let text = get(globals, c"text");
        assert!(ffi::PyUnicode_Check(text) != 0);
        assert_eq!(ffi::PyUnicode_GET_LENGTH(text), 15);
        assert_eq!(utf8(text), expected);

        let obj = ffi::PyUnicode_FromStringAndSize(expected.as_ptr().cast(), len(expected));
        assert_eq!(utf8(obj), expected);
        assert_eq!(ffi::PyObject_RichCompareBool(obj, text, ffi::Py_EQ), 1);
        ffi::Py_DECREF(obj);
    }
}

/// The UTF-8 contents of a `str`, copied out.
unsafe fn utf8(obj: *mut ffi::PyObject) -> String {
    let mut size = 0;
    // SAFETY: GIL held, `obj` is a live str; the buffer lives as long as `obj`.
    unsafe {
        let data = ffi::PyUnicode_AsUTF8AndSize(obj, &mut size);
        assert!(!data.is_null());
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}

unsafe fn bytes(globals: *mut ffi::PyObject) {
    let expected: &[u8] = b"a\0b\0\xff";
    // SAFETY: GIL held; the byte buffers are read only while their objects are alive.
    unsafe {
        let data = get(globals, c"data");
        assert!(ffi::PyBytes_Check(data) != 0);
        assert_eq!(raw_bytes(data), expected);

        let obj = ffi::PyBytes_FromStringAndSize(expected.as_ptr().cast(), len(expected));
        assert_eq!(raw_bytes(obj), expected);
        assert_eq!(ffi::PyObject_RichCompareBool(obj, data, ffi::Py_EQ), 1);
        let mut ptr: *mut c_char = ptr::null_mut();
        let mut size = 0;
        assert_eq!(ffi::PyBytes_AsStringAndSize(obj, &mut ptr, &mut size), 0);
        assert_eq!(size, 5);
        ffi::Py_DECREF(obj);
    }
}

/// A `bytes` object's contents through the static inline accessors.
unsafe fn raw_bytes(obj: *mut ffi::PyObject) -> Vec<u8> {
    // SAFETY: GIL held, `obj` is a live bytes object of `PyBytes_GET_SIZE` bytes.
    unsafe {
        let data = ffi::PyBytes_AS_STRING(obj);
        let size = ffi::PyBytes_GET_SIZE(obj);
        std::slice::from_raw_parts(data.cast::<u8>(), size as usize).to_vec()
    }
}

unsafe fn singletons_and_tuples() {
    // SAFETY: GIL held; the tuple owns the references moved into it and is released.
    unsafe {
        let none = ffi::Py_None();
        assert!(ffi::Py_IsNone(none) != 0);
        assert!(ffi::Py_IsTrue(ffi::Py_True()) != 0);
        assert!(ffi::PyBool_Check(ffi::Py_False()) != 0);

        let tuple = ffi::PyTuple_New(2);
        ffi::PyTuple_SET_ITEM(tuple, 0, ffi::Py_NewRef(none));
        ffi::PyTuple_SET_ITEM(tuple, 1, ffi::PyFloat_FromDouble(1.5));
        assert!(ffi::PyTuple_Check(tuple) != 0);
        assert_eq!(ffi::PyTuple_GET_SIZE(tuple), 2);
        assert_eq!(ffi::PyTuple_GET_ITEM(tuple, 0), none);
        assert_eq!(ffi::PyFloat_AsDouble(ffi::PyTuple_GET_ITEM(tuple, 1)), 1.5);

        let frozen = ffi::PyFrozenSet_New(tuple);
        assert!(ffi::PyFrozenSet_CheckExact(frozen) != 0);
        assert_eq!(ffi::PySet_Size(frozen), 2);
        ffi::Py_DECREF(frozen);
        ffi::Py_DECREF(tuple);
    }
}

unsafe fn exception(globals: *mut ffi::PyObject) {
    let code = c"raise ValueError('boom \u{2713}')";
    // SAFETY: GIL held; the raised exception is a new reference we own and release.
    unsafe {
        let result = ffi::PyRun_String(code.as_ptr(), ffi::Py_file_input, globals, globals);
        assert!(result.is_null());
        let exc = ffi::PyErr_GetRaisedException();
        assert!(!exc.is_null());
        assert!(ffi::PyErr_Occurred().is_null());
        assert!(ffi::PyExceptionInstance_Check(exc) != 0);

        let type_name = CStr::from_ptr((*ffi::Py_TYPE(exc)).tp_name);
        assert_eq!(type_name, c"ValueError");
        assert!(ffi::PyErr_GivenExceptionMatches(exc, ffi::PyExc_ValueError) != 0);

        let message = ffi::PyObject_Str(exc);
        assert_eq!(utf8(message), "boom \u{2713}");
        ffi::Py_DECREF(message);
        ffi::Py_DECREF(exc);
    }
}

fn len(s: impl AsRef<[u8]>) -> ffi::Py_ssize_t {
    s.as_ref().len().try_into().unwrap()
}
