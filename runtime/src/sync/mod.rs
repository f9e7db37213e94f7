//! The synchronisation layer: pure-Rust primitives, with no Python in sight (no `cpython_sys`,
//! no `Value`).
//!
//! - [`lock`]: locking a std mutex, ignoring poisoning;
//! - [`facade`]: std's `Arc`, `Mutex`, atomics and thread locals, or loom's in the model tests;
//! - [`parker`]: how a blocked thread sleeps and is woken (a futex that a signal interrupts);
//! - [`wait`]: what a parked operation does on each wake-up ([`Waited`](wait::Waited)), the
//!   callback type it waits with ([`Wait`](wait::Wait)), and how long it may block;
//! - [`channel`]: [`Channel<T>`](channel::Channel) and [`Select<T>`](channel::Select), the
//!   CSP core, generic over what it carries (the public, `Value`-carrying types wrap it);
//! - [`task`]: [`Task<T>`](task::Task) and its completion, and the [`Runner`](task::Runner)
//!   trait through which a task interrupts whatever runs it;
//! - [`generation`]: the fork generation, so that what belongs to a parent process is skipped
//!   in a forked child.
//!
//! It depends on [`error`](crate::error) only.

pub(crate) mod channel;
pub(crate) mod facade;
pub(crate) mod generation;
pub(crate) mod parker;
pub(crate) mod task;
pub(crate) mod wait;

#[cfg(all(test, loom))]
mod loom_tests;

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a std mutex, ignoring poisoning: every critical section in this crate leaves its data
/// consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
