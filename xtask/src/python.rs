//! `cargo xtask python -- ARGS`: run the built interpreter (building it first if needed).

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::Result;

use crate::build_python::ensure_built;
use crate::flags::{BuildOptions, SourceArgs};

pub fn run(options: &BuildOptions, args: &[String]) -> Result<()> {
    let build = ensure_built(options, &SourceArgs::default(), false)?;
    // Replace this process, so signals, the terminal and the exit status are the interpreter's.
    let err = Command::new(build.python()).args(args).exec();
    Err(anyhow::Error::new(err).context(format!("running {}", build.python().display())))
}
