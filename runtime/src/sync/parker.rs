//! [`Parker`]: how a thread sleeps in a blocking channel operation until another thread wakes
//! it, a deadline passes, or a signal handler runs on it.
//!
//! Every thread has one (`Parker::current`). Unlike `std::thread::park`, a wait returns
//! [`Wake::Signal`] when a signal handler interrupted it (`EINTR`), so the main thread can run
//! Python's signal handlers (Ctrl-C) while it waits, without waking up periodically.
//!
//! Parking never loses a wake-up: [`Parker::unpark`] leaves a token that the next (or the
//! current) [`Parker::park`] consumes. Waits may also end spuriously; callers re-check their
//! condition in a loop.
//!
//! In the model tests (`cfg(all(loom, test))`) the kernel's futex is replaced by a loom
//! [`Notify`](loom::sync::Notify) whose wait loom lets end spuriously (once per parker and
//! model execution): a timed park that ends so returns [`Wake::Timeout`], so loom explores a
//! deadline passing at any point as well as the wake-up arriving first.

// A parker is shared in a std `Arc` even in the model tests: other modules hold one.
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sync::facade::atomic::{AtomicI32, Ordering};
use crate::sync::facade::{Mutex, lock};

/// No token, nobody waiting.
const EMPTY: i32 = 0;
/// A token is available.
const NOTIFIED: i32 = 1;
/// The owner is (about to be) asleep in the kernel.
const PARKED: i32 = -1;

/// The instant `timeout` from now, or `None` when that is too far away to represent (an
/// infinite or huge timeout): such a wait has no deadline.
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Why [`Parker::park`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Another thread called [`Parker::unpark`] (or the wait ended spuriously).
    Unparked,
    /// The deadline passed.
    Timeout,
    /// A signal handler ran on this thread (never in the model tests).
    #[cfg_attr(all(loom, test), allow(dead_code))]
    Signal,
}

/// A thread's sleeping place. `Send + Sync`: other threads hold it to wake the owner.
#[derive(Debug)]
pub(crate) struct Parker {
    state: AtomicI32,
    /// Whether the owner is in a blocking operation that [`interrupt`](Self::interrupt) may
    /// end, and whether it was asked to.
    interrupt: Mutex<Interrupt>,
    /// Where the owner sleeps in the model tests (the futex's stand-in).
    #[cfg(all(loom, test))]
    notify: loom::sync::Notify,
}

#[derive(Debug, Default)]
struct Interrupt {
    interruptible: bool,
    requested: bool,
}

crate::sync::facade::thread_local! {
    static CURRENT: Arc<Parker> = Arc::new(Parker {
        state: AtomicI32::new(EMPTY),
        interrupt: Mutex::new(Interrupt::default()),
        #[cfg(all(loom, test))]
        notify: loom::sync::Notify::new(),
    });
}

impl Parker {
    /// The calling thread's parker.
    pub(crate) fn current() -> Arc<Parker> {
        CURRENT.with(Arc::clone)
    }

    /// Sleeps until unparked, `deadline`, or a signal. Only the owning thread may park.
    pub(crate) fn park(&self, deadline: Option<Instant>) -> Wake {
        // A token left by an earlier `unpark` ends the wait at once (NOTIFIED -> EMPTY);
        // otherwise announce the sleep (EMPTY -> PARKED).
        if self.state.fetch_sub(1, Ordering::Acquire) == NOTIFIED {
            return Wake::Unparked;
        }
        let wake = self.sleep(deadline);
        // Leave the PARKED state; a token that arrived meanwhile counts as a wake-up.
        if self.state.swap(EMPTY, Ordering::Acquire) == NOTIFIED {
            Wake::Unparked
        } else {
            wake
        }
    }

    /// Wakes the owner, or makes its next `park` return at once.
    pub(crate) fn unpark(&self) {
        if self.state.swap(NOTIFIED, Ordering::Release) == PARKED {
            self.wake_sleeper();
        }
    }

    /// Sleeps while the state is PARKED, until woken, `deadline` or a signal.
    #[cfg(not(all(loom, test)))]
    fn sleep(&self, deadline: Option<Instant>) -> Wake {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if timeout.is_some_and(|t| t.is_zero()) {
            return Wake::Timeout;
        }
        match futex::wait(&self.state, PARKED, timeout) {
            futex::Outcome::Woken => Wake::Unparked,
            futex::Outcome::Timeout => Wake::Timeout,
            futex::Outcome::Interrupted => Wake::Signal,
        }
    }

    /// Wakes the owner sleeping in [`sleep`](Self::sleep).
    #[cfg(not(all(loom, test)))]
    fn wake_sleeper(&self) {
        futex::wake_one(&self.state);
    }

    /// The model of [`sleep`](Self::sleep): loom's `Notify` returns when notified, or
    /// spuriously, a branch loom explores both ways. A timed wait calls every return a
    /// timeout — `park` then counts a token that arrived as the wake-up it is — so loom tries
    /// the deadline passing at each point the wait can end; an untimed one a wake-up, which
    /// may be spurious.
    #[cfg(all(loom, test))]
    fn sleep(&self, deadline: Option<Instant>) -> Wake {
        self.notify.wait();
        if deadline.is_some() {
            Wake::Timeout
        } else {
            Wake::Unparked
        }
    }

    /// The model of waking the sleeper: notify it (a notification not yet waited for makes
    /// the next wait return at once, as the futex's changed word does).
    #[cfg(all(loom, test))]
    fn wake_sleeper(&self) {
        self.notify.notify();
    }

    /// Marks the owner as being in an interruptible blocking operation (or no longer), and
    /// returns whether an interrupt was requested since it began.
    pub(crate) fn set_interruptible(&self, interruptible: bool) -> bool {
        let mut flags = lock(&self.interrupt);
        let requested = std::mem::take(&mut flags.requested);
        flags.interruptible = interruptible;
        requested
    }

    /// Whether an interrupt was requested during the current operation.
    pub(crate) fn interrupt_requested(&self) -> bool {
        lock(&self.interrupt).requested
    }

    /// Ends the owner's interruptible blocking operation, if it is in one: the operation sees
    /// [`interrupt_requested`](Self::interrupt_requested). Returns whether it was in one.
    pub(crate) fn interrupt(&self) -> bool {
        let mut flags = lock(&self.interrupt);
        if !flags.interruptible {
            return false;
        }
        flags.requested = true;
        drop(flags);
        self.unpark();
        true
    }
}

#[cfg(all(target_os = "linux", not(all(loom, test))))]
mod futex {
    //! The two futex operations the parker needs, reporting `EINTR`.

    use std::sync::atomic::AtomicI32;
    use std::time::Duration;

    pub(super) enum Outcome {
        Woken,
        Timeout,
        Interrupted,
    }

    /// Sleeps while `*word == expected`, at most `timeout`.
    pub(super) fn wait(word: &AtomicI32, expected: i32, timeout: Option<Duration>) -> Outcome {
        let ts = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            tv_nsec: t.subsec_nanos() as libc::c_long,
        });
        let ts_ptr = ts
            .as_ref()
            .map_or(std::ptr::null(), |ts| ts as *const libc::timespec);
        // SAFETY: FUTEX_WAIT reads the aligned 32-bit word we point at, which outlives the
        // call; the timeout (relative, CLOCK_MONOTONIC) is NULL or a live timespec.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                ts_ptr,
            )
        };
        if rc == 0 {
            return Outcome::Woken;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::ETIMEDOUT) => Outcome::Timeout,
            Some(libc::EINTR) => Outcome::Interrupted,
            // EAGAIN: the word changed before we slept, i.e. we were woken.
            _ => Outcome::Woken,
        }
    }

    /// Wakes one thread sleeping on `word`.
    pub(super) fn wake_one(word: &AtomicI32) {
        // SAFETY: FUTEX_WAKE only uses the address as a key.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
compile_error!("subinterp's parker uses Linux futexes; other systems are not supported yet");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_left_before_park_ends_it_at_once() {
        let parker = Parker::current();
        parker.unpark();
        assert_eq!(parker.park(None), Wake::Unparked);
        let started = Instant::now();
        let deadline = started + Duration::from_millis(20);
        assert_eq!(parker.park(Some(deadline)), Wake::Timeout);
        assert!(started.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn unpark_from_another_thread_wakes_a_sleeper() {
        let parker = Parker::current();
        let other = Arc::clone(&parker);
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            other.unpark();
        });
        assert_eq!(parker.park(None), Wake::Unparked);
        waker.join().unwrap();
    }

    #[test]
    fn a_huge_timeout_has_no_deadline() {
        assert_eq!(deadline_after(Duration::MAX), None);
        assert!(deadline_after(Duration::from_secs(1)).is_some());
    }

    #[test]
    fn interrupt_only_reaches_an_interruptible_operation() {
        let parker = Parker::current();
        assert!(!parker.interrupt());
        assert!(!parker.set_interruptible(true));
        assert!(parker.interrupt());
        assert!(parker.interrupt_requested());
        assert_eq!(parker.park(None), Wake::Unparked);
        assert!(parker.set_interruptible(false));
        assert!(!parker.interrupt_requested());
    }
}
