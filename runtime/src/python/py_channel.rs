//! `csp.Channel` and `csp._select`: the Python face of [`Channel`] and [`Select`].
//!
//! `csp.Channel` is a heap type made per interpreter (kept in its state dict, like
//! `SharedBytes`); an instance owns a [`Channel`] handle, so the same channel can appear as
//! objects of many interpreters at once. Operations try to complete attached (no GIL
//! round-trip on the fast path); one that must wait releases the GIL and parks (see
//! [`run_in_python`]), waking for signal handlers in the main thread and for interrupts of the
//! interpreter, never on a timer.

use std::ffi::{CStr, c_int, c_void};
use std::mem::ManuallyDrop;
use std::ptr::null_mut;

use cpython_sys as ffi;

use crate::error::{Error, Result, type_error};
use crate::python::args::{self, Call};
use crate::python::blocking::{Raised, block_detached};
use crate::python::exceptions::CspError;
use crate::python::object::{Object, interpreter_cached, slot};
use crate::python::token::Python;
use crate::python::trampoline::{trampoline, trampoline_unraisable};
use crate::sync::wait::{Block, Waited};
use crate::value::Value;
use crate::value::channel::{Channel, NotReady, NotSent, Select, SelectError, Selected};

const TYPE_KEY: &CStr = c"subinterp.Channel";

/// The instance layout.
#[repr(C)]
struct ChannelObject {
    ob_base: ffi::PyObject,
    channel: ManuallyDrop<Channel>,
}

type FastCallKw = unsafe extern "C" fn(
    *mut ffi::PyObject,
    *const *mut ffi::PyObject,
    ffi::Py_ssize_t,
    *mut ffi::PyObject,
) -> *mut ffi::PyObject;

/// A `METH_FASTCALL | METH_KEYWORDS` method.
const fn method(name: &'static CStr, f: FastCallKw, doc: &'static CStr) -> ffi::PyMethodDef {
    ffi::PyMethodDef {
        ml_name: name.as_ptr(),
        // SAFETY: CPython calls a `METH_FASTCALL | METH_KEYWORDS` function through the
        // `PyCFunction` pointer type with the fastcall-with-keywords signature, which is `f`'s.
        ml_meth: Some(unsafe {
            std::mem::transmute::<
                FastCallKw,
                unsafe extern "C" fn(*mut ffi::PyObject, *mut ffi::PyObject) -> *mut ffi::PyObject,
            >(f)
        }),
        ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        ml_doc: doc.as_ptr(),
    }
}

/// Defines the `extern "C"` entry `$entry` of the method body `$body`, behind the
/// [`trampoline`].
macro_rules! entry {
    ($entry:ident => $body:ident) => {
        unsafe extern "C" fn $entry(
            slf: *mut ffi::PyObject,
            args: *const *mut ffi::PyObject,
            nargs: ffi::Py_ssize_t,
            kwnames: *mut ffi::PyObject,
        ) -> *mut ffi::PyObject {
            // SAFETY: CPython calls methods attached, with a live `self` of our type (or the
            // module, for `_select`) and `nargs` + len(kwnames) live arguments.
            unsafe {
                trampoline(
                    concat!("csp.Channel.", stringify!($body)),
                    null_mut(),
                    |py| $body(py, slf, Call::new(args, nargs, kwnames)),
                )
            }
        }
    };
}

entry!(send_entry => send);
entry!(recv_entry => recv);
entry!(send_nowait_entry => send_nowait);
entry!(recv_nowait_entry => recv_nowait);
entry!(close_entry => close);
entry!(enter_entry => enter);
entry!(exit_entry => exit);
entry!(reduce_entry => reduce);
entry!(select_entry => select);

/// `csp._select`, added to the module's method table.
pub(crate) const SELECT_METHOD: ffi::PyMethodDef = method(
    c"_select",
    select_entry,
    c"_select(cases, timeout, block) -> (index, value, closed) | None",
);

static mut METHODS: [ffi::PyMethodDef; 9] = [
    method(
        c"send",
        send_entry,
        c"send(value, timeout=None)\n--\n\nSends value, waiting for room (capacity 0: for a \
          receiver to take it). Raises ChannelClosed if the channel is closed (the value is in \
          its .value) and TimeoutError if no room came within timeout seconds.",
    ),
    method(
        c"recv",
        recv_entry,
        c"recv(timeout=None)\n--\n\nReceives the next value, waiting for one. Raises \
          ChannelClosed once the channel is closed and drained, and TimeoutError if nothing \
          arrived within timeout seconds.",
    ),
    method(
        c"send_nowait",
        send_nowait_entry,
        c"send_nowait(value)\n--\n\nSends value only if that needs no waiting; raises Full \
          otherwise (capacity 0: no receiver is waiting), ChannelClosed if closed.",
    ),
    method(
        c"recv_nowait",
        recv_nowait_entry,
        c"recv_nowait()\n--\n\nReceives a value only if one is ready; raises Empty otherwise, \
          ChannelClosed if closed and drained.",
    ),
    method(
        c"close",
        close_entry,
        c"close()\n--\n\nCloses the channel: receivers drain what is queued, then get \
          ChannelClosed (iteration ends); senders get ChannelClosed. Closing twice is harmless.",
    ),
    method(c"__enter__", enter_entry, c"Returns the channel."),
    method(c"__exit__", exit_entry, c"Closes the channel."),
    method(c"__reduce__", reduce_entry, c"Channels are not picklable."),
    ffi::PyMethodDef {
        ml_name: std::ptr::null(),
        ml_meth: None,
        ml_flags: 0,
        ml_doc: std::ptr::null(),
    },
];

static mut GETSET: [ffi::PyGetSetDef; 3] = [
    ffi::PyGetSetDef {
        name: c"capacity".as_ptr(),
        get: Some(get_capacity),
        set: None,
        doc: c"How many values the channel holds before senders wait (0: rendezvous).".as_ptr(),
        closure: null_mut(),
    },
    ffi::PyGetSetDef {
        name: c"closed".as_ptr(),
        get: Some(get_closed),
        set: None,
        doc: c"Whether close() was called.".as_ptr(),
        closure: null_mut(),
    },
    ffi::PyGetSetDef {
        name: std::ptr::null(),
        get: None,
        set: None,
        doc: std::ptr::null(),
        closure: null_mut(),
    },
];

/// This interpreter's `csp.Channel` type, created on first use.
pub(crate) fn type_object(py: Python<'_>) -> Result<Object<'_>> {
    interpreter_cached(py, TYPE_KEY, |py| {
        let mut slots = [
            slot(ffi::Py_tp_new, tp_new as *mut c_void),
            slot(ffi::Py_tp_dealloc, dealloc as *mut c_void),
            slot(ffi::Py_tp_hash, hash as *mut c_void),
            slot(ffi::Py_tp_richcompare, richcompare as *mut c_void),
            slot(ffi::Py_tp_repr, repr as *mut c_void),
            slot(ffi::Py_tp_iter, iter as *mut c_void),
            slot(ffi::Py_tp_iternext, iternext as *mut c_void),
            slot(ffi::Py_sq_length, length as *mut c_void),
            slot(ffi::Py_tp_methods, (&raw mut METHODS).cast()),
            slot(ffi::Py_tp_getset, (&raw mut GETSET).cast()),
            slot(
                ffi::Py_tp_doc,
                c"Channel(capacity=0)\n--\n\nA CSP channel between interpreters: many senders, \
                  many receivers, values in the order each sender sent them. capacity=0 is a \
                  rendezvous (send waits for a receiver); capacity>0 buffers that many values. \
                  A channel is itself shareable: send it over a channel or pass it to go() or \
                  Pool.submit(). Iterating receives until the channel is closed; `with ch:` \
                  closes it at the end of the block."
                    .as_ptr()
                    .cast_mut()
                    .cast(),
            ),
            slot(0, null_mut()),
        ];
        let mut spec = ffi::PyType_Spec {
            name: c"csp.Channel".as_ptr(),
            basicsize: size_of::<ChannelObject>() as c_int,
            itemsize: 0,
            flags: (ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_IMMUTABLETYPE) as u32,
            slots: slots.as_mut_ptr(),
        };
        // SAFETY: attached; the spec outlives the call and points only at static data.
        unsafe { Object::from_owned(py, ffi::PyType_FromSpec(&mut spec)) }
    })
}

/// A new `csp.Channel` object of this interpreter for `channel`.
pub(crate) fn new(py: Python<'_>, channel: Channel) -> Result<Object<'_>> {
    let ty = type_object(py)?;
    // SAFETY: attached; `ty` is our heap type with `ChannelObject`'s layout; the zeroed
    // instance is initialised before anyone sees it.
    unsafe { alloc(py, ty.as_ptr().cast(), channel) }
}

/// # Safety
/// Attached; `ty` is our type or (never: it is not a base type) a subtype.
unsafe fn alloc(
    py: Python<'_>,
    ty: *mut ffi::PyTypeObject,
    channel: Channel,
) -> Result<Object<'_>> {
    // SAFETY: forwarded; `PyType_GenericAlloc` returns zeroed memory with a type reference.
    unsafe {
        let obj = Object::from_owned(py, ffi::PyType_GenericAlloc(ty, 0))?;
        let raw = obj.as_ptr().cast::<ChannelObject>();
        std::ptr::write(&raw mut (*raw).channel, ManuallyDrop::new(channel));
        Ok(obj)
    }
}

/// The channel of `obj` if it is a `csp.Channel` (of any interpreter's type object).
pub(crate) fn channel_of(obj: &Object<'_>) -> Option<Channel> {
    // SAFETY: attached; every instance of a type whose dealloc is ours has our layout.
    unsafe {
        let ty = ffi::Py_TYPE(obj.as_ptr());
        if ffi::PyType_GetSlot(ty, ffi::Py_tp_dealloc) != dealloc as *mut c_void {
            ffi::PyErr_Clear();
            return None;
        }
        Some(Channel::clone(
            &(*obj.as_ptr().cast::<ChannelObject>()).channel,
        ))
    }
}

/// The channel of `self` in a method call.
///
/// # Safety
/// `slf` is a live instance of our type, alive while the reference is used.
unsafe fn this<'a>(slf: *mut ffi::PyObject) -> &'a Channel {
    // SAFETY: forwarded.
    unsafe { &(*slf.cast::<ChannelObject>()).channel }
}

/// Runs `select` from Python: completes at once if a case is ready (attached); otherwise, if
/// `block` allows, parks detached until a case completes (see [`block_detached`]).
pub(crate) fn run_in_python(
    py: Python<'_>,
    select: &mut Select,
    block: Block,
) -> std::result::Result<std::result::Result<Selected, SelectError>, Raised> {
    let first = select.run(Block::No, &mut |_, _| Waited::Continue);
    if matches!(block, Block::No) || !matches!(first, Err(SelectError::WouldBlock)) {
        return Ok(first);
    }
    block_detached(py, |wait| match select.run(block, wait) {
        Err(SelectError::Aborted) => None,
        done => Some(done),
    })
}

/// Raises `csp.ChannelClosed` with `.channel` and `.value` set.
fn closed_error(py: Python<'_>, channel: *mut ffi::PyObject, value: Option<&Object<'_>>) -> Error {
    let message = if value.is_some() {
        "send on a closed channel"
    } else {
        "the channel is closed and drained"
    };
    let result = (|| -> Result<()> {
        let exc = CspError::ChannelClosed
            .class(py)?
            .call(&[py.object(&Value::from(message))?])?;
        // SAFETY: attached; `channel` is live for the call.
        exc.setattr("channel", &unsafe { Object::from_borrowed(py, channel)? })?;
        exc.setattr("value", &value.cloned().unwrap_or_else(|| py.none()))?;
        // SAFETY: attached; `SetRaisedException` steals the reference.
        unsafe { ffi::PyErr_SetRaisedException(exc.into_ptr()) };
        Ok(())
    })();
    result.err().unwrap_or_else(already_raised)
}

/// The error for the trampoline when an exception is already set, which it keeps as is
/// (raised instead only if that invariant were broken).
fn already_raised() -> Error {
    Error::exception(
        "SystemError",
        "csp.Channel: an operation failed without setting an exception",
    )
}

/// An exception of one of the simple `csp` classes.
fn csp_error(kind: CspError, message: &str) -> Error {
    Error::exception(kind.qualified().to_str().expect("ASCII names"), message)
}

fn timeout_error(what: &str) -> Error {
    Error::exception("TimeoutError", format!("{what} timed out"))
}

/// `send(value, timeout=None)`
fn send(py: Python<'_>, slf: *mut ffi::PyObject, call: Call<'_>) -> Result<*mut ffi::PyObject> {
    let [value, timeout] = call.parse(py, "send", ["value", "timeout"], 1)?;
    let block = Block::from_timeout(args::timeout(timeout.as_ref())?);
    let value = value.expect("required");
    // SAFETY: `slf` is our instance.
    send_value(py, slf, unsafe { this(slf) }, &value, block)
}

/// `send_nowait(value)`
fn send_nowait(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    call: Call<'_>,
) -> Result<*mut ffi::PyObject> {
    let [value] = call.parse(py, "send_nowait", ["value"], 1)?;
    let value = value.expect("required");
    // SAFETY: `slf` is our instance.
    send_value(py, slf, unsafe { this(slf) }, &value, Block::No)
}

fn send_value(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    channel: &Channel,
    value: &Object<'_>,
    block: Block,
) -> Result<*mut ffi::PyObject> {
    let data = match channel.send_now(value.to_value()?) {
        Ok(()) => return Ok(py.none().into_ptr()),
        Err(NotSent::Closed(_)) => return Err(closed_error(py, slf, Some(value))),
        Err(NotSent::Full(data)) => data,
    };
    let mut select = Select::new();
    select.send(channel, data);
    match run_in_python(py, &mut select, block) {
        Ok(Ok(_)) => Ok(py.none().into_ptr()),
        Ok(Err(SelectError::SendClosed { .. })) => Err(closed_error(py, slf, Some(value))),
        Ok(Err(SelectError::WouldBlock)) => Err(csp_error(
            CspError::Full,
            "the channel is full (no receiver is waiting)",
        )),
        Ok(Err(_)) => Err(timeout_error("send")),
        Err(Raised) => Err(already_raised()),
    }
}

/// `recv(timeout=None)`
fn recv(py: Python<'_>, slf: *mut ffi::PyObject, call: Call<'_>) -> Result<*mut ffi::PyObject> {
    let [timeout] = call.parse(py, "recv", ["timeout"], 0)?;
    let block = Block::from_timeout(args::timeout(timeout.as_ref())?);
    recv_value(py, slf, block)
}

/// `recv_nowait()`
fn recv_nowait(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    call: Call<'_>,
) -> Result<*mut ffi::PyObject> {
    call.parse::<0>(py, "recv_nowait", [], 0)?;
    recv_value(py, slf, Block::No)
}

/// Receives for `recv`, `recv_nowait` and iteration; `Ok(None)`: closed and drained.
fn recv_raw(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    block: Block,
) -> Result<Option<*mut ffi::PyObject>> {
    // SAFETY: `slf` is our instance.
    let channel = unsafe { this(slf) };
    match channel.recv_now() {
        Ok(value) => return Ok(Some(py.object(&value)?.into_ptr())),
        Err(NotReady::Closed) => return Ok(None),
        Err(NotReady::Empty) => {}
    }
    let mut select = Select::new();
    select.recv(channel);
    match run_in_python(py, &mut select, block) {
        Ok(Ok(Selected::Received { value, .. })) => Ok(Some(py.object(&value)?.into_ptr())),
        Ok(Ok(_)) => Ok(None),
        Ok(Err(SelectError::WouldBlock)) => Err(csp_error(
            CspError::Empty,
            "no value is ready in the channel",
        )),
        Ok(Err(_)) => Err(timeout_error("recv")),
        Err(Raised) => Err(already_raised()),
    }
}

fn recv_value(py: Python<'_>, slf: *mut ffi::PyObject, block: Block) -> Result<*mut ffi::PyObject> {
    recv_raw(py, slf, block)?.ok_or_else(|| closed_error(py, slf, None))
}

/// `close()`
fn close(py: Python<'_>, slf: *mut ffi::PyObject, call: Call<'_>) -> Result<*mut ffi::PyObject> {
    call.parse::<0>(py, "close", [], 0)?;
    // SAFETY: `slf` is our instance.
    unsafe { this(slf) }.close();
    Ok(py.none().into_ptr())
}

fn enter(py: Python<'_>, slf: *mut ffi::PyObject, call: Call<'_>) -> Result<*mut ffi::PyObject> {
    call.parse::<0>(py, "__enter__", [], 0)?;
    // SAFETY: attached; `slf` is live.
    Ok(unsafe { ffi::Py_NewRef(slf) })
}

fn exit(py: Python<'_>, slf: *mut ffi::PyObject, _call: Call<'_>) -> Result<*mut ffi::PyObject> {
    // SAFETY: `slf` is our instance.
    unsafe { this(slf) }.close();
    Ok(py.none().into_ptr())
}

fn reduce(
    _py: Python<'_>,
    _slf: *mut ffi::PyObject,
    _call: Call<'_>,
) -> Result<*mut ffi::PyObject> {
    Err(type_error(
        "csp.Channel objects cannot be pickled; they need not be: a channel is shareable, so \
         pass it directly as an argument (go, Pool.submit, executor.submit) or send it over \
         another channel"
            .into(),
    ))
}

/// `_select(cases, timeout, block) -> (channel, value, closed) | None`: the core of
/// `csp.select`. A case is a channel (receive) or a `(channel, value)` pair (send); the
/// channel object of the completed case comes back as read here, so a tuple subclass with
/// its own `__getitem__` cannot make Python report another one. `None` means no case
/// completed within the timeout (or at once, without `block`).
fn select(
    py: Python<'_>,
    _module: *mut ffi::PyObject,
    call: Call<'_>,
) -> Result<*mut ffi::PyObject> {
    let [cases, timeout, block] = call.parse(py, "_select", ["cases", "timeout", "block"], 3)?;
    let (cases, block_flag) = (cases.expect("required"), block.expect("required"));
    // SAFETY: attached; `cases` is live; items are borrowed from the tuple it checks.
    let (mut select, mut channels, senders) = unsafe {
        if ffi::PyTuple_Check(cases.as_ptr()) == 0 {
            return Err(type_error("select cases must be a tuple".into()));
        }
        let mut select = Select::new();
        let mut channels = Vec::new();
        let mut senders = Vec::new();
        for i in 0..ffi::PyTuple_GET_SIZE(cases.as_ptr()) {
            let case = Object::from_borrowed(py, ffi::PyTuple_GET_ITEM(cases.as_ptr(), i))?;
            if let Some(channel) = channel_of(&case) {
                select.recv(&channel);
                channels.push(case);
                senders.push(None);
                continue;
            }
            let pair = (ffi::PyTuple_Check(case.as_ptr()) != 0
                && ffi::PyTuple_GET_SIZE(case.as_ptr()) == 2)
                .then(|| {
                    let first =
                        Object::from_borrowed(py, ffi::PyTuple_GET_ITEM(case.as_ptr(), 0)).ok()?;
                    let value =
                        Object::from_borrowed(py, ffi::PyTuple_GET_ITEM(case.as_ptr(), 1)).ok()?;
                    Some((channel_of(&first)?, first, value))
                })
                .flatten();
            let Some((channel, channel_obj, value)) = pair else {
                return Err(type_error(format!(
                    "a select case is a csp.Channel (to receive from) or a (channel, value) \
                     tuple (to send), not {}",
                    case.repr().unwrap_or_else(|_| case.type_name())
                )));
            };
            select.send(&channel, value.to_value()?);
            channels.push(channel_obj);
            senders.push(Some(value));
        }
        (select, channels, senders)
    };
    // SAFETY: attached; `block_flag` is live.
    let blocking = unsafe { ffi::PyObject_IsTrue(block_flag.as_ptr()) } == 1;
    let block = match args::timeout(timeout.as_ref())? {
        _ if !blocking => Block::No,
        timeout => Block::from_timeout(timeout),
    };
    let (index, value, closed) = match run_in_python(py, &mut select, block) {
        Ok(Ok(Selected::Received { index, value })) => (index, py.object(&value)?, false),
        Ok(Ok(Selected::Closed { index })) => (index, py.none(), true),
        Ok(Ok(Selected::Sent { index })) => (index, py.none(), false),
        Ok(Err(SelectError::SendClosed { index, .. })) => {
            let value = senders[index].as_ref().expect("a send case");
            return Err(closed_error(py, channels[index].as_ptr(), Some(value)));
        }
        Ok(Err(_)) => return Ok(py.none().into_ptr()),
        Err(Raised) => return Err(already_raised()),
    };
    let result = Value::Tuple(vec![Value::None, Value::None, Value::Bool(closed)]);
    let tuple = py.object(&result)?;
    let channel = channels.swap_remove(index);
    // SAFETY: attached; the tuple is new and ours alone; SET_ITEM steals the references and
    // the replaced items (None, immortal) need no release.
    unsafe {
        ffi::PyTuple_SET_ITEM(tuple.as_ptr(), 0, channel.into_ptr());
        ffi::PyTuple_SET_ITEM(tuple.as_ptr(), 1, value.into_ptr());
    }
    Ok(tuple.into_ptr())
}

unsafe extern "C" fn tp_new(
    ty: *mut ffi::PyTypeObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls tp_new attached with the type, an args tuple and a kwargs dict
    // (or NULL).
    unsafe {
        trampoline("csp.Channel()", null_mut(), |py| {
            let usage = || type_error("Channel() takes one optional argument, capacity".into());
            let nargs = ffi::PyTuple_GET_SIZE(args);
            if nargs > 1 {
                return Err(usage());
            }
            let mut capacity = (nargs == 1)
                .then(|| Object::from_borrowed(py, ffi::PyTuple_GET_ITEM(args, 0)))
                .transpose()?;
            if !kwargs.is_null() && ffi::PyDict_Size(kwargs) > 0 {
                let mut found = null_mut();
                match ffi::PyDict_GetItemStringRef(kwargs, c"capacity".as_ptr(), &mut found) {
                    1 => {}
                    0 => return Err(usage()),
                    _ => return Err(py.take_error()),
                }
                let found = Object::from_owned(py, found)?;
                if ffi::PyDict_Size(kwargs) > 1 {
                    return Err(usage());
                }
                if capacity.replace(found).is_some() {
                    return Err(type_error(
                        "Channel() got multiple values for argument 'capacity'".into(),
                    ));
                }
            }
            let capacity = match capacity {
                Some(c) => args::count(&c, "capacity")?,
                None => 0,
            };
            Ok(alloc(py, ty, Channel::new(capacity))?.into_ptr())
        })
    }
}

unsafe extern "C" fn dealloc(obj: *mut ffi::PyObject) {
    // SAFETY: CPython calls dealloc attached, once, with our instance; a heap type's instance
    // holds a reference to its type, released after the memory is freed.
    unsafe {
        trampoline_unraisable("csp.Channel.__del__", || {
            let ty = ffi::Py_TYPE(obj);
            ManuallyDrop::drop(&mut (*obj.cast::<ChannelObject>()).channel);
            ffi::PyObject_Free(obj.cast());
            ffi::Py_DECREF(ty.cast());
        });
    }
}

unsafe extern "C" fn hash(obj: *mut ffi::PyObject) -> ffi::Py_hash_t {
    // SAFETY: CPython calls us attached with a live instance.
    let addr = unsafe { this(obj) }.addr();
    // Identity of the channel; never -1 (CPython's "error" value): addresses are below 2^63.
    (addr >> 4) as ffi::Py_hash_t
}

unsafe extern "C" fn richcompare(
    obj: *mut ffi::PyObject,
    other: *mut ffi::PyObject,
    op: c_int,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls us attached with live objects.
    unsafe {
        trampoline("csp.Channel comparison", null_mut(), |py| {
            let other = Object::from_borrowed(py, other)?;
            let (Some(theirs), true) = (channel_of(&other), op == ffi::Py_EQ || op == ffi::Py_NE)
            else {
                return Ok(ffi::Py_NewRef(ffi::Py_NotImplemented()));
            };
            let same = this(obj).same(&theirs);
            Ok(ffi::PyBool_FromLong((same == (op == ffi::Py_EQ)).into()))
        })
    }
}

unsafe extern "C" fn repr(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: CPython calls us attached with a live instance.
    unsafe {
        trampoline("csp.Channel.__repr__", null_mut(), |py| {
            let channel = this(obj);
            let text = format!(
                "<csp.Channel #{} capacity={}{}>",
                channel.id(),
                channel.capacity(),
                if channel.is_closed() { " closed" } else { "" }
            );
            Ok(py.object(&Value::Str(text))?.into_ptr())
        })
    }
}

unsafe extern "C" fn iter(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: CPython calls us attached with a live instance.
    unsafe { ffi::Py_NewRef(obj) }
}

unsafe extern "C" fn iternext(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: CPython calls us attached with a live instance; NULL without an exception
    // ends the iteration.
    unsafe {
        trampoline("csp.Channel.__next__", null_mut(), |py| {
            Ok(recv_raw(py, obj, Block::Forever)?.unwrap_or(null_mut()))
        })
    }
}

unsafe extern "C" fn length(obj: *mut ffi::PyObject) -> ffi::Py_ssize_t {
    // SAFETY: CPython calls us attached with a live instance.
    unsafe { this(obj) }.len().min(isize::MAX as usize) as ffi::Py_ssize_t
}

unsafe extern "C" fn get_capacity(obj: *mut ffi::PyObject, _: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: CPython calls getters attached with a live instance.
    unsafe {
        trampoline("csp.Channel.capacity", null_mut(), |py| {
            Ok(py.object(&Value::from(this(obj).capacity()))?.into_ptr())
        })
    }
}

unsafe extern "C" fn get_closed(obj: *mut ffi::PyObject, _: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: CPython calls getters attached with a live instance.
    unsafe { ffi::PyBool_FromLong(this(obj).is_closed().into()) }
}
