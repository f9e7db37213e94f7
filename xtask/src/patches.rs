//! `cargo xtask patches check`: prove the series applies to the pinned source exactly.

use std::fs;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

use crate::build_python::SourceArgs;
use crate::progress::phase;
use crate::{apply_patch, layout, source};

#[derive(Debug, Args)]
pub struct Patches {
    #[command(subcommand)]
    pub command: PatchesCommand,
}

#[derive(Debug, Subcommand)]
pub enum PatchesCommand {
    /// Prove that every patch in the series applies to the pinned source exactly (no offsets).
    Check {
        #[command(flatten)]
        source: SourceArgs,
    },
}

/// `cargo xtask patches ...`.
pub fn run(args: &Patches) -> Result<()> {
    match &args.command {
        PatchesCommand::Check { source } => check(source),
    }
}

fn check(source_args: &SourceArgs) -> Result<()> {
    let patches = apply_patch::read_series(&layout::patches_dir())?;
    let source = source::resolve_from_environment(source_args.source.as_deref())?;
    let tree = layout::builds_dir().join("patch-check");
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    let source = source::prepare(&source, &layout::cache_dir())?;
    source::unpack(&source, &tree, &layout::cache_dir())?;
    let mut rotten = Vec::new();
    phase("patch", |_| {
        for patch in &patches {
            let applied = apply_patch::apply(patch, &tree)?;
            for (file, hunk, offset) in applied.offsets {
                rotten.push(format!(
                    "{}: hunk #{hunk} of {} is {offset:+} lines off",
                    patch.name,
                    file.display()
                ));
            }
            println!(
                "{}: {} files, {} hunks",
                patch.name, applied.files, applied.hunks
            );
        }
        Ok(())
    })?;
    fs::remove_dir_all(&tree)?;
    if !rotten.is_empty() {
        bail!(
            "the series applies, but not exactly; regenerate these patches:\n  {}",
            rotten.join("\n  ")
        );
    }
    println!(
        "all {} patches apply exactly to CPython {}",
        patches.len(),
        crate::pin::VERSION
    );
    Ok(())
}
