//! The synchronisation primitives of the concurrency core ([`channel`](super::channel),
//! [`parker`](super::parker), [`task`](super::task)): std's, or loom's in the model tests.
//!
//! The crate's unit tests built with `RUSTFLAGS="--cfg loom"` (`cfg(all(loom, test))`: loom is
//! a dev-dependency) get loom's mock `Arc`, `Mutex`, `Condvar`, atomics and thread locals, so
//! that `loom_tests` can explore every interleaving of the core's threads. Every other build,
//! including a non-test one with `--cfg loom`, uses std's: the facade then changes nothing.
//!
//! Only what the models exercise goes through here. A [`Parker`](super::parker::Parker) is
//! shared in a std `Arc` (other modules keep one), and the crate's other locks use
//! [`sync::lock`](super::lock) on std mutexes.

#[cfg(all(loom, test))]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard, atomic};
#[cfg(all(loom, test))]
pub(crate) use loom::thread_local;

#[cfg(not(all(loom, test)))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard, atomic};
#[cfg(not(all(loom, test)))]
pub(crate) use std::thread_local;

/// Locks a mutex of this facade, ignoring poisoning (like [`sync::lock`](super::lock), which
/// it is outside the model tests).
#[cfg(all(loom, test))]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(not(all(loom, test)))]
pub(crate) use super::lock;
