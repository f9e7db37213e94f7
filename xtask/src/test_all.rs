//! `cargo xtask test`: what CI runs. Build what is missing, run the workspace's tests, then
//! CPython's regression suite on the patched build.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, ensure};

use crate::build_python::ensure_built;
use crate::flags::{BuildOptions, Test, TestPython};
use crate::{layout, test_python};

pub fn run(args: &Test) -> Result<()> {
    let mut timings = Vec::new();
    let start = Instant::now();
    ensure_built(&BuildOptions::default(), &args.source, false)?;
    timings.push(("build-python", start.elapsed()));

    let start = Instant::now();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(layout::workspace_root())
        .args(["test", "--workspace", "--locked"])
        .status()
        .context("running cargo test")?;
    ensure!(status.success(), "cargo test --workspace failed ({status})");
    timings.push(("cargo test", start.elapsed()));

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
