//! Argument parsing for the `METH_FASTCALL | METH_KEYWORDS` functions of the `csp` module.

use std::marker::PhantomData;
use std::time::Duration;

use cpython_sys as ffi;

use crate::error::{Result, type_error, value_error};
use crate::python::object::Object;
use crate::python::token::Python;

/// The arguments of one call, matched to parameter names: `params[i]` is `Some` when given
/// (positionally or by keyword).
pub(crate) type Parsed<'py, const N: usize> = [Option<Object<'py>>; N];

/// The raw arguments of one `METH_FASTCALL | METH_KEYWORDS` call, valid for the call `'a`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
    _call: PhantomData<&'a ()>,
}

impl Call<'_> {
    /// # Safety
    /// Attached; `args` holds `nargs` positional values followed by one value per name in the
    /// `kwnames` tuple (or `kwnames` is NULL), all live while the `Call` is used.
    pub(crate) unsafe fn new(
        args: *const *mut ffi::PyObject,
        nargs: ffi::Py_ssize_t,
        kwnames: *mut ffi::PyObject,
    ) -> Self {
        Call {
            args,
            nargs,
            kwnames,
            _call: PhantomData,
        }
    }

    /// Matches the arguments to `params`; the first `required` are required.
    pub(crate) fn parse<'py, const N: usize>(
        &self,
        py: Python<'py>,
        func: &str,
        params: [&str; N],
        required: usize,
    ) -> Result<Parsed<'py, N>> {
        let nargs = self.nargs.max(0) as usize;
        if nargs > N {
            return Err(type_error(format!(
                "{func}() takes at most {N} argument(s) ({nargs} given)"
            )));
        }
        let mut parsed: Parsed<'py, N> = std::array::from_fn(|_| None);
        // SAFETY: attached, and the pointers are live for the call (see `new`).
        unsafe {
            for (i, slot) in parsed.iter_mut().enumerate().take(nargs) {
                *slot = Some(Object::from_borrowed(py, *self.args.add(i))?);
            }
            let nkw = if self.kwnames.is_null() {
                0
            } else {
                ffi::PyTuple_GET_SIZE(self.kwnames) as usize
            };
            for k in 0..nkw {
                let name = ffi::PyTuple_GET_ITEM(self.kwnames, k as isize);
                let name = Object::from_borrowed(py, name)?.utf8()?;
                let Some(i) = params.iter().position(|p| *p == name) else {
                    return Err(type_error(format!(
                        "{func}() got an unexpected keyword argument '{name}'"
                    )));
                };
                if parsed[i].is_some() {
                    return Err(type_error(format!(
                        "{func}() got multiple values for argument '{name}'"
                    )));
                }
                parsed[i] = Some(Object::from_borrowed(py, *self.args.add(nargs + k))?);
            }
        }
        if let Some(missing) = params[..required]
            .iter()
            .zip(&parsed)
            .find_map(|(name, value)| value.is_none().then_some(name))
        {
            return Err(type_error(format!(
                "{func}() missing required argument '{missing}'"
            )));
        }
        Ok(parsed)
    }
}

/// A timeout argument: absent or `None` waits forever; a non-negative number of seconds.
pub(crate) fn timeout(obj: Option<&Object<'_>>) -> Result<Option<Duration>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    // SAFETY: attached (the object's token); `PyFloat_AsDouble` accepts any real number.
    let secs = unsafe { ffi::PyFloat_AsDouble(obj.as_ptr()) };
    // SAFETY: attached.
    if secs == -1.0 && !unsafe { ffi::PyErr_Occurred() }.is_null() {
        return Err(obj.py().take_error());
    }
    if secs.is_nan() || secs < 0.0 {
        return Err(value_error(format!(
            "timeout must be a non-negative number of seconds or None, not {secs}"
        )));
    }
    Ok(Some(
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX),
    ))
}

/// A non-negative `int` argument that fits in `usize`.
pub(crate) fn count(obj: &Object<'_>, what: &str) -> Result<usize> {
    match obj.to_value().ok().and_then(|v| v.as_i64()) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(value_error(format!(
            "{what} must be a non-negative int, not {}",
            obj.repr().unwrap_or_else(|_| obj.type_name())
        ))),
    }
}
