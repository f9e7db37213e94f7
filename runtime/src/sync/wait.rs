//! How a blocking operation waits: how long it may block ([`Block`]), the callback it calls for
//! each sleep ([`Wait`]), and what that callback tells it to do next ([`Waited`]).
//!
//! A thread not attached to Python waits with [`plain_wait`]; one attached to an interpreter
//! passes the wait of [`python::blocking`](crate::python::blocking), which also handles signals
//! and interrupts.

use std::time::{Duration, Instant};

use crate::sync::parker::{Parker, Wake, deadline_after};

/// How long an operation may wait.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Block {
    No,
    Forever,
    Until(Instant),
}

impl Block {
    /// `None`: wait forever; `Some(0)`: do not wait.
    pub(crate) fn from_timeout(timeout: Option<Duration>) -> Block {
        match timeout {
            None => Block::Forever,
            Some(t) if t.is_zero() => Block::No,
            Some(t) => Block::after(t),
        }
    }

    /// Waits at most `timeout`; one too large to have a deadline waits forever.
    pub(crate) fn after(timeout: Duration) -> Block {
        deadline_after(timeout).map_or(Block::Forever, Block::Until)
    }

    /// The deadline, if the wait has one.
    pub(crate) fn deadline(self) -> Option<Instant> {
        match self {
            Block::Until(deadline) => Some(deadline),
            _ => None,
        }
    }
}

/// What a parked operation does each time it wakes without an outcome: `Continue` parking, or
/// `Abort` (e.g. a signal handler raised).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited {
    Continue,
    Timeout,
    Abort,
}

/// What a parked operation calls for each sleep (see [`Waited`]).
pub(crate) type Wait<'a> = dyn FnMut(&Parker, Option<Instant>) -> Waited + 'a;

/// The wait of a thread not attached to Python: park until woken or the deadline.
pub(crate) fn plain_wait(parker: &Parker, deadline: Option<Instant>) -> Waited {
    match parker.park(deadline) {
        Wake::Timeout => Waited::Timeout,
        Wake::Unparked | Wake::Signal => Waited::Continue,
    }
}
