//! subinterp: run Python on every core, with one own-GIL CPython subinterpreter per thread.
//!
//! This crate is being built up issue by issue; it does not expose an API yet. See the
//! workspace README for what works today (`cargo xtask build-python`) and what comes next.
