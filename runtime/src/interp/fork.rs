//! What survives `fork()`.
//!
//! A forked child has one thread: the one that called `fork()`. Every interpreter thread of
//! the parent (pool workers, `go` interpreters, warm ones, the reaper and refill threads) is
//! gone, and with patch 0001 their interpreters are dropped in the child without running any
//! of their code. So the runtime counts forks ([`generation`](crate::sync::generation)) and
//! everything tied to threads remembers the generation it was made in:
//!
//! - the runtime starts afresh in the child (`Runtime::current()` gives a new one with no
//!   interpreters, an empty warm stock and no `go` interpreters), so new pools, interpreters and
//!   `go` tasks work there;
//! - a pool, interpreter or task made before the fork is *orphaned*: using it fails with
//!   [`Error::Forked`](crate::Error::Forked), interrupting it does nothing, and dropping it never
//!   waits for its threads ([`OsThread::join`] skips threads of an earlier generation);
//! - channels skip the waiters of vanished threads, so a value is never handed to a receiver
//!   that no longer exists, nor taken a second time from a sender whose parent copy still
//!   runs.
//!
//! The handlers are `pthread_atfork` ones, installed by `Runtime::init`: `prepare` takes the
//! registry locks the child replaces (so no vanished thread can hold them), and the child
//! handler bumps the generation and resets the runtime before releasing them.

use std::thread::{JoinHandle, ThreadId};

use crate::interp::runtime;
use crate::sync::generation::{count_fork, generation, orphaned};

/// An OS thread the runtime started, joined only in the process that started it.
#[derive(Debug)]
pub(crate) struct OsThread {
    handle: JoinHandle<()>,
    generation: u64,
}

impl OsThread {
    /// Starts `body` on a new thread named `name` (with `stack_size` bytes of stack if given).
    pub(crate) fn spawn(
        name: String,
        stack_size: Option<usize>,
        body: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<OsThread> {
        let mut builder = std::thread::Builder::new().name(name);
        if let Some(size) = stack_size {
            builder = builder.stack_size(size);
        }
        Ok(OsThread {
            handle: builder.spawn(body)?,
            generation: generation(),
        })
    }

    /// The thread's id.
    pub(crate) fn id(&self) -> ThreadId {
        self.handle.thread().id()
    }

    /// Waits for the thread to end. In a forked child the thread does not exist (joining it
    /// would wait forever), so this returns at once and leaks the handle.
    pub(crate) fn join(self) {
        if orphaned(self.generation) {
            std::mem::forget(self.handle);
        } else {
            // A panic on that thread was already reported by its panic hook.
            let _ = self.handle.join();
        }
    }
}

/// Installs the `pthread_atfork` handlers once per process.
pub(crate) fn install_handlers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: the three handlers are `extern "C"` functions that never unwind (each catches
        // panics) and live for the whole process.
        let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        if rc != 0 {
            eprintln!("subinterp: pthread_atfork failed ({rc}): fork() may deadlock the child");
        }
    });
}

extern "C" fn prepare() {
    abort_on_panic(runtime::before_fork);
}

extern "C" fn parent() {
    abort_on_panic(runtime::after_fork_in_parent);
}

extern "C" fn child() {
    count_fork();
    abort_on_panic(runtime::after_fork_in_child);
}

/// Runs a fork handler; a panic cannot unwind into `fork()`, so it ends the process.
fn abort_on_panic(f: fn()) {
    if std::panic::catch_unwind(f).is_err() {
        std::process::abort();
    }
}
