//! Shared by the integration tests: one CPython runtime per test binary.
//!
//! CPython can be initialised once per process, so every test of a binary shares the runtime
//! that the first one to ask starts (on its thread, which thereby becomes CPython's main
//! thread; these tests never use the main interpreter, see `lifecycle.rs` for that).

#![allow(dead_code)]

use std::sync::OnceLock;

use subinterp::{Runtime, RuntimeConfig};

/// The runtime shared by this test binary.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::init(RuntimeConfig::default()).expect("CPython starts"))
}

/// A two-party meeting point whose wait gives up after a deadline instead of hanging, so a
/// test that proves parallelism fails (rather than hangs) when there is none.
#[derive(Debug, Default)]
pub struct Rendezvous {
    arrived: std::sync::Mutex<usize>,
    changed: std::sync::Condvar,
}

impl Rendezvous {
    /// Waits until `parties` callers have arrived; `false` after `timeout`.
    pub fn wait(&self, parties: usize, timeout: std::time::Duration) -> bool {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.changed.notify_all();
        let (_arrived, result) = self
            .changed
            .wait_timeout_while(arrived, timeout, |arrived| *arrived < parties)
            .unwrap();
        !result.timed_out()
    }
}
