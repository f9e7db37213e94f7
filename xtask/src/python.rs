//! `cargo xtask python -- ARGS`: run the built interpreter (building it first if needed).

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::Result;
use clap::Args;

use crate::build_python::{BuildOptions, SourceArgs, ensure_built};

#[derive(Debug, Args)]
pub struct Python {
    #[command(flatten)]
    pub options: BuildOptions,
    /// Arguments for the interpreter.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

pub fn run(args: &Python) -> Result<()> {
    let build = ensure_built(&args.options, &SourceArgs::default(), false)?;
    // Replace this process, so signals, the terminal and the exit status are the interpreter's.
    let err = Command::new(build.python()).args(&args.args).exec();
    Err(anyhow::Error::new(err).context(format!("running {}", build.python().display())))
}
