//! `cargo xtask`: build, patch and test the pinned CPython that subinterp runs on.
//!
//! This file declares the top-level command line and dispatches; each command is a module
//! holding its arguments beside its `run`.

mod apply_patch;
mod bench;
mod build_python;
mod bundle;
mod deps;
mod layout;
mod patches;
mod pin;
mod progress;
mod python;
mod source;
mod stress;
mod test_all;
mod test_python;
mod wheel;

use clap::{Parser, Subcommand};

/// Build, patch and test the pinned CPython that subinterp runs on.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
struct Xtask {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch, verify, patch, configure, build and install the pinned CPython.
    BuildPython(build_python::BuildPython),
    /// Run the built interpreter (building it first if needed): `cargo xtask python -c 'print(1)'`.
    Python(python::Python),
    /// Run CPython's regression suite on the built interpreter.
    TestPython(test_python::TestPython),
    /// Report the tools and headers the build needs; `--install` installs the missing ones.
    Deps(deps::Deps),
    /// Everything CI runs: build Python, `cargo test --workspace`, then the regression suite.
    Test(test_all::Test),
    /// Maintain the patch series in `patches/`.
    Patches(patches::Patches),
    /// Benchmarks: scaling, round trips, channels and start-up, subinterp vs the alternatives.
    Bench(bench::Bench),
    /// Soak and fault tests of the runtime and the value fuzzer, on the release binary.
    Stress(stress::Stress),
    /// A program that embeds subinterp as a self-contained directory (binary, libpython, the
    /// standard library, its Python files) that can be copied anywhere and run.
    Bundle(bundle::Bundle),
    /// The `csp` module as a wheel (`target/wheels/csp-*.whl`) for `pip install` into a venv
    /// of the built CPython, or of a stock CPython 3.13.
    Wheel(wheel::Wheel),
}

fn main() -> std::process::ExitCode {
    let result = match &Xtask::parse().command {
        Command::BuildPython(args) => build_python::run(args),
        Command::Python(args) => python::run(args),
        Command::TestPython(args) => test_python::run(args),
        Command::Deps(args) => deps::run(args),
        Command::Test(args) => test_all::run(args),
        Command::Patches(args) => patches::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Stress(args) => stress::run(args),
        Command::Bundle(args) => bundle::run(args),
        Command::Wheel(args) => wheel::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
