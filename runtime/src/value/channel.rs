//! The public [`Channel`] and [`Select`]: the generic core of
//! [`sync::channel`](crate::sync::channel), carrying [`Value`]s.
//!
//! Each type wraps its generic counterpart and only converts: the behaviour, and every
//! invariant, is the core's.

use std::fmt;
use std::time::Duration;

use crate::sync::channel as core;
pub(crate) use crate::sync::channel::{NotReady, NotSent};
pub use crate::sync::channel::{RecvError, SendErrorKind};
use crate::sync::wait::{Block, Wait};
use crate::value::Value;

/// A CSP channel: many senders and many receivers, carrying [`Value`]s.
///
/// With capacity 0 it is a *rendezvous*: a send waits until a receiver takes the value. With
/// capacity `n > 0` up to `n` values wait in the channel, and a send blocks only when it is full.
/// Values from one sender arrive in the order they were sent.
///
/// After [`close`](Self::close), receivers still get what is queued and then
/// [`RecvError::Closed`]; a send fails with [`SendErrorKind::Closed`] and hands its value back.
///
/// `Channel` is a cheap `Clone` handle (every clone is the same channel) and is itself a
/// value: [`Value::Channel`] sends it over another channel or into an interpreter, where it
/// arrives as a `csp.Channel`. Blocking calls park the thread; call them through
/// [`Python::allow_threads`](crate::Python::allow_threads) when attached to an interpreter.
#[derive(Clone)]
pub struct Channel {
    inner: core::Channel<Value>,
}

impl Channel {
    /// A new channel holding up to `capacity` values (0: rendezvous).
    pub fn new(capacity: usize) -> Channel {
        Channel {
            inner: core::Channel::new(capacity),
        }
    }

    /// A channel that never blocks senders (for internal reply queues).
    pub(crate) fn unbounded() -> Channel {
        Channel::new(usize::MAX)
    }

    /// Sends `value`, waiting as long as it takes for room (or, with capacity 0, a receiver).
    pub fn send(&self, value: impl Into<Value>) -> Result<(), SendError> {
        self.inner.send(value.into()).map_err(SendError::from)
    }

    /// Sends `value`, waiting at most `timeout`.
    pub fn send_timeout(
        &self,
        value: impl Into<Value>,
        timeout: Duration,
    ) -> Result<(), SendError> {
        self.inner
            .send_timeout(value.into(), timeout)
            .map_err(SendError::from)
    }

    /// Sends `value` only if that needs no waiting: there is room, or a receiver is waiting.
    pub fn try_send(&self, value: impl Into<Value>) -> Result<(), SendError> {
        self.inner.try_send(value.into()).map_err(SendError::from)
    }

    /// Receives the next value, waiting as long as it takes.
    pub fn recv(&self) -> Result<Value, RecvError> {
        self.inner.recv()
    }

    /// Receives the next value, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Value, RecvError> {
        self.inner.recv_timeout(timeout)
    }

    /// Receives a value only if one is ready now.
    pub fn try_recv(&self) -> Result<Value, RecvError> {
        self.inner.try_recv()
    }

    /// Closes the channel: blocked senders get their values back with
    /// [`SendErrorKind::Closed`], receivers drain what is queued and then get
    /// [`RecvError::Closed`]. Returns `false` if it was already closed.
    pub fn close(&self) -> bool {
        self.inner.close()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The number of values queued in the channel now.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether no value is queued now.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// How many values the channel holds before senders wait (0: rendezvous).
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// An iterator receiving values until the channel is closed and drained.
    pub fn iter(&self) -> impl Iterator<Item = Value> + '_ {
        std::iter::from_fn(|| self.recv().ok())
    }

    /// Whether two handles are the same channel.
    pub fn same(&self, other: &Channel) -> bool {
        self.inner.same(&other.inner)
    }

    /// A process-unique number naming the channel (in `Debug` and Python's `repr`).
    pub fn id(&self) -> u64 {
        self.inner.id()
    }

    /// The address identifying this channel (its hash in Python).
    pub(crate) fn addr(&self) -> usize {
        self.inner.addr()
    }

    /// Sends without waiting: the value comes back if that is not possible now.
    pub(crate) fn send_now(&self, value: Value) -> Result<(), NotSent<Value>> {
        self.inner.send_now(value)
    }

    /// Receives without waiting.
    pub(crate) fn recv_now(&self) -> Result<Value, NotReady> {
        self.inner.recv_now()
    }
}

impl PartialEq for Channel {
    fn eq(&self, other: &Self) -> bool {
        self.same(other)
    }
}

impl Eq for Channel {}

impl std::hash::Hash for Channel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.addr().hash(state);
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// A send that did not happen; the value comes back.
#[derive(Debug, Clone, PartialEq)]
pub struct SendError {
    /// Why it failed.
    pub kind: SendErrorKind,
    /// The value that was not sent.
    pub value: Value,
}

impl From<core::SendError<Value>> for SendError {
    fn from(error: core::SendError<Value>) -> Self {
        SendError {
            kind: error.kind,
            // The core never loses a value; were it lost, `None` stands in for it.
            value: error.value.unwrap_or(Value::None),
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            SendErrorKind::Closed => "send on a closed channel",
            SendErrorKind::Full => "the channel is full (no receiver is ready)",
            SendErrorKind::Timeout => "the channel had no room within the timeout",
        })
    }
}

impl std::error::Error for SendError {}

/// Waits for the first of several channel operations that can complete, and completes only
/// that one (like Go's `select`). Among operations ready at the same time, one is chosen at
/// random, so no channel starves.
///
/// ```
/// use subinterp::{Channel, Select, Selected, Value};
///
/// let (a, b) = (Channel::new(1), Channel::new(1));
/// b.send(7).unwrap();
/// let mut select = Select::new();
/// select.recv(&a);
/// let from_b = select.recv(&b);
/// match select.wait() {
///     Ok(Selected::Received { index, value }) => {
///         assert_eq!(index, from_b);
///         assert_eq!(value, Value::from(7));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Default)]
pub struct Select {
    inner: core::Select<Value>,
}

impl fmt::Debug for Select {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// The operation a [`Select`] completed, by the index its `send`/`recv` call returned.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Selected {
    /// A receive got `value`.
    Received {
        /// The case.
        index: usize,
        /// What was received.
        value: Value,
    },
    /// A receive found its channel closed and drained.
    Closed {
        /// The case.
        index: usize,
    },
    /// A send delivered its value.
    Sent {
        /// The case.
        index: usize,
    },
}

/// Why a [`Select`] completed nothing.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SelectError {
    /// [`Select::try_wait`]: no case was ready.
    WouldBlock,
    /// [`Select::wait_timeout`]: no case became ready in time.
    Timeout,
    /// A send case's channel is closed; its value comes back.
    SendClosed {
        /// The case.
        index: usize,
        /// The value that was not sent.
        value: Value,
    },
    /// The wait was abandoned (a Python signal handler raised, or the interpreter was
    /// interrupted).
    Aborted,
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SelectError::WouldBlock => "no channel operation was ready",
            SelectError::Timeout => "no channel operation became ready within the timeout",
            SelectError::SendClosed { .. } => "send on a closed channel",
            SelectError::Aborted => "the wait was interrupted",
        })
    }
}

impl std::error::Error for SelectError {}

/// The core's outcome of a select, as the public types.
fn convert(
    outcome: Result<core::Selected<Value>, core::SelectError<Value>>,
) -> Result<Selected, SelectError> {
    match outcome {
        Ok(core::Selected::Received { index, value }) => Ok(Selected::Received { index, value }),
        Ok(core::Selected::Closed { index }) => Ok(Selected::Closed { index }),
        Ok(core::Selected::Sent { index }) => Ok(Selected::Sent { index }),
        Err(core::SelectError::WouldBlock) => Err(SelectError::WouldBlock),
        Err(core::SelectError::Timeout) => Err(SelectError::Timeout),
        Err(core::SelectError::SendClosed { index, value }) => {
            Err(SelectError::SendClosed { index, value })
        }
        Err(core::SelectError::Aborted) => Err(SelectError::Aborted),
    }
}

impl Select {
    /// An empty select; add cases with [`send`](Self::send) and [`recv`](Self::recv).
    pub fn new() -> Select {
        Select::default()
    }

    /// Adds a receive from `channel`; returns the case's index.
    pub fn recv(&mut self, channel: &Channel) -> usize {
        self.inner.recv(&channel.inner)
    }

    /// Adds a send of `value` on `channel`; returns the case's index. If another case is
    /// chosen, the value is dropped.
    pub fn send(&mut self, channel: &Channel, value: impl Into<Value>) -> usize {
        self.inner.send(&channel.inner, value.into())
    }

    /// Waits until one case completes.
    pub fn wait(self) -> Result<Selected, SelectError> {
        convert(self.inner.wait())
    }

    /// Waits at most `timeout` for one case to complete.
    pub fn wait_timeout(self, timeout: Duration) -> Result<Selected, SelectError> {
        convert(self.inner.wait_timeout(timeout))
    }

    /// Completes a case that is ready now, if any.
    pub fn try_wait(self) -> Result<Selected, SelectError> {
        convert(self.inner.try_wait())
    }

    /// Runs the select: completes a ready case, or (unless `block` is `No`) enqueues a waiter
    /// on every channel and parks, calling `wait` for each sleep.
    pub(crate) fn run(
        &mut self,
        block: Block,
        wait: &mut Wait<'_>,
    ) -> Result<Selected, SelectError> {
        convert(self.inner.run(block, wait))
    }
}
