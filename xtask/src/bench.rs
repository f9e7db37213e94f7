//! `cargo xtask bench`: the benchmarks of DESIGN §6, printed as a table (or JSON).
//!
//! Builds the `subinterp` binary in release mode against the patched CPython and runs
//! `runtime/bench/bench.py` with it, so every variant (subinterp pool, threads,
//! `multiprocessing`, stock `_interpreters`, executors) runs side by side in one process.

use std::process::Command;

use anyhow::{Context, Result, ensure};

use crate::build_python::ensure_built;
use crate::flags::{Bench, BuildOptions, SourceArgs};
use crate::layout;

pub fn run(args: &Bench) -> Result<()> {
    ensure_built(&BuildOptions::default(), &SourceArgs::default(), false)?;
    let root = layout::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "subinterp",
            "--bin",
            "subinterp",
        ])
        .status()
        .context("running cargo build")?;
    ensure!(
        status.success(),
        "building the subinterp binary failed ({status})"
    );

    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), Into::into);
    let binary = target_dir.join("release").join("subinterp");
    let mut command = Command::new(&binary);
    command
        .current_dir(&root)
        .args(["run", "runtime/bench/bench.py"]);
    if args.json {
        command.arg("--json");
    }
    if args.quick {
        command.arg("--quick");
    }
    if let Some(n) = args.max_workers {
        command.args(["--max-workers", &n.to_string()]);
    }
    let status = command
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    ensure!(status.success(), "the benchmark failed ({status})");
    Ok(())
}
