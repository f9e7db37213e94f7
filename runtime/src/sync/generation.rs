//! The fork generation: how many `fork()`s separate this process from the one that started.
//!
//! A forked child has one thread, the one that called `fork()`; every other thread of the
//! parent is gone. What is tied to threads (a task's worker, a channel's parked waiter, an OS
//! thread to join, a pool, the runtime itself) remembers the generation it was made in, and
//! [`orphaned`] tells whether that was in a parent process. The `pthread_atfork` handlers that
//! count forks and reset the runtime in the child are in [`interp::fork`](crate::interp::fork).

use std::sync::atomic::{AtomicU64, Ordering};

/// Forks survived by this process, counted in the child.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The number of `fork()`s between the process's start and this one.
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Whether something made in `generation` belongs to a parent process (this is a forked
/// child of the one that made it).
pub(crate) fn orphaned(generation: u64) -> bool {
    generation != self::generation()
}

/// Counts a fork: called first thing in the child.
pub(crate) fn count_fork() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}
