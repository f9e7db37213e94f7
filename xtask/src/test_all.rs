//! `cargo xtask test`: what CI runs. Build what is missing (the patched CPython, and a stock one
//! for the wheel's test), run the workspace's tests, the loom model tests of the runtime's
//! concurrency core, the short soak and fuzz runs (`cargo xtask stress --quick`), then
//! CPython's regression suite on the patched build.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use clap::Args;

use crate::build_python::{BuildOptions, SourceArgs, ensure_built};
use crate::layout;
use crate::stress::{self, Stress};
use crate::test_python::{self, TestPython};

/// The model tests, run with `RUSTFLAGS="--cfg loom"`.
const LOOM_TESTS: [&str; 8] = [
    "test",
    "-p",
    "subinterp",
    "--lib",
    "--release",
    "--target-dir",
    "target/loom",
    "loom_tests",
];

#[derive(Debug, Args)]
pub struct Test {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Run the quick regression subset instead of the full suite.
    #[arg(long)]
    pub quick: bool,
}

pub fn run(args: &Test) -> Result<()> {
    let mut timings = Vec::new();
    let start = Instant::now();
    ensure_built(&BuildOptions::default(), &args.source, false)?;
    timings.push(("build-python", start.elapsed()));

    // Stock CPython from the same source, for the wheel's test on it (tests/tests/wheel.rs):
    // about 2-3 minutes on 2 cores, once (the install is kept and keyed like the patched one).
    let start = Instant::now();
    let stock = BuildOptions {
        no_patches: true,
        ..BuildOptions::default()
    };
    let stock = ensure_built(&stock, &args.source, false)?;
    timings.push(("build stock", start.elapsed()));

    let start = Instant::now();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(layout::workspace_root())
        .args(["test", "--workspace", "--locked"])
        // The wheel's test must then run on it too, not skip.
        .env("SUBINTERP_STOCK_PREFIX", stock.prefix())
        .status()
        .context("running cargo test")?;
    ensure!(status.success(), "cargo test --workspace failed ({status})");
    timings.push(("cargo test", start.elapsed()));

    // The crate rebuilt on loom's primitives, in a target folder of its own so that the
    // normal build's cache stays valid.
    eprintln!("== loom model tests (runtime/src/sync/loom_tests.rs) ==");
    let start = Instant::now();
    let status = Command::new(&cargo)
        .current_dir(layout::workspace_root())
        .env("RUSTFLAGS", "--cfg loom")
        .env_remove("CARGO_ENCODED_RUSTFLAGS") // It would win over RUSTFLAGS.
        .args(LOOM_TESTS)
        .status()
        .context("running the loom model tests")?;
    ensure!(
        status.success(),
        "the loom model tests failed ({status}); rerun them with RUSTFLAGS=\"--cfg loom\" cargo {}",
        LOOM_TESTS.join(" ")
    );
    timings.push(("loom", start.elapsed()));

    // The soak and fault tests and the value fuzzer, short versions (release binary).
    let start = Instant::now();
    stress::run(&Stress {
        quick: true,
        seed: None,
    })?;
    timings.push(("stress", start.elapsed()));

    let start = Instant::now();
    test_python::run(&TestPython {
        options: BuildOptions::default(),
        source: args.source.clone(),
        quick: args.quick,
        check_expected: false,
        regrtest_args: Vec::new(),
    })?;
    timings.push(("test-python", start.elapsed()));

    for (step, took) in timings {
        eprintln!("  {step:>12} {:.0}s", took.as_secs_f64());
    }
    eprintln!("all tests passed");
    Ok(())
}
