//! `cargo xtask`: build, patch and test the pinned CPython that subinterp runs on.
//!
//! One CLI declaration (`flags`), one module per command.

mod bench;
mod build_python;
mod bundle;
mod deps;
mod flags;
mod layout;
mod patch;
mod patches;
mod pin;
mod progress;
mod python;
mod source;
mod stress;
mod test_all;
mod test_python;

use clap::Parser;

use flags::{Command, PatchesCommand, Xtask};

fn main() -> std::process::ExitCode {
    let cli = Xtask::parse();
    let result = match &cli.command {
        Command::BuildPython(args) => build_python::run(&args.options, &args.source, args.force),
        Command::Python(args) => python::run(&args.options, &args.args),
        Command::TestPython(args) => test_python::run(args),
        Command::Deps(args) => deps::run(args.install),
        Command::Test(args) => test_all::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Stress(args) => stress::run(args),
        Command::Bundle(args) => bundle::run(args),
        Command::Patches(args) => match &args.command {
            PatchesCommand::Check { source } => patches::check(source),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
