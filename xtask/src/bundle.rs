//! `cargo xtask bundle`: a program that embeds subinterp, as a directory that runs anywhere.
//!
//! The directory holds the release binary, `lib/` with the libpython it links and the
//! standard library (`lib/python3.13`, without its test suite), and the program's own Python
//! modules and any packages in `lib/python3.13/site-packages`. The binary finds libpython
//! through its `$ORIGIN/lib` rpath (set by `subinterp-build`) and the runtime takes the
//! directory as its Python home when `lib/python3.13` is beside the binary, so the bundle can
//! be copied to another path or another machine of the same platform and run there.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use clap::Args;

use crate::layout;

/// What the bundle leaves out of the standard library: tests, IDLE, demos, the pip
/// installer, the prefix's own packages, and byte code (recompiled on first import); the
/// `config-*` folder (the static library) is left out too.
const STDLIB_SKIPPED: &[&str] = &[
    "test",
    "idlelib",
    "turtledemo",
    "ensurepip",
    "site-packages",
    "__pycache__",
];

/// What is left out of the program's own Python files: byte code.
const APP_SKIPPED: &[&str] = &["__pycache__"];

#[derive(Debug, Args)]
pub struct Bundle {
    /// The `Cargo.toml` of the program's package.
    #[arg(long, default_value = "Cargo.toml")]
    pub manifest_path: PathBuf,
    /// The binary to bundle.
    #[arg(long)]
    pub bin: String,
    /// Where to put the bundle (default `target/bundle/<BIN>`; replaced if it exists).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A folder of the program's Python modules, made importable in every interpreter.
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// A venv's `site-packages` (or any folder of packages) to ship as well.
    #[arg(long)]
    pub site_packages: Option<PathBuf>,
    /// Keep the debug information of the binary, libpython and the extension modules.
    #[arg(long)]
    pub no_strip: bool,
}

pub fn run(args: &Bundle) -> Result<()> {
    let manifest = fs::canonicalize(&args.manifest_path)
        .with_context(|| format!("no Cargo.toml at {}", args.manifest_path.display()))?;
    let binary = build(&manifest, &args.bin)?;
    let out = args.out.clone().unwrap_or_else(|| {
        layout::workspace_root()
            .join("target/bundle")
            .join(&args.bin)
    });
    if out.exists() {
        fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
    }
    let prefix = prefix()?;
    let lib = out.join("lib");
    fs::create_dir_all(&lib)?;

    let exe = out.join(&args.bin);
    fs::copy(&binary, &exe).with_context(|| format!("copying {}", binary.display()))?;
    let libpython = fs::canonicalize(prefix.join("lib/libpython3.13.so.1.0"))
        .context("the prefix has no lib/libpython3.13.so.1.0 (is it a shared build?)")?;
    fs::copy(&libpython, lib.join("libpython3.13.so.1.0"))?;
    let stdlib = lib.join("python3.13");
    copy_tree(&prefix.join("lib/python3.13"), &stdlib, STDLIB_SKIPPED)?;
    let site = stdlib.join("site-packages");
    fs::create_dir_all(&site)?;
    for dir in [&args.python, &args.site_packages].into_iter().flatten() {
        copy_tree(dir, &site, APP_SKIPPED).with_context(|| format!("copying {}", dir.display()))?;
    }

    if !args.no_strip {
        strip(
            &exe,
            &lib.join("libpython3.13.so.1.0"),
            &stdlib.join("lib-dynload"),
        )?;
    }

    let size = tree_size(&out)?;
    println!("{}", out.display());
    eprintln!(
        "bundled {} with CPython's standard library: {:.1} MiB in {}",
        args.bin,
        size as f64 / (1 << 20) as f64,
        out.display()
    );
    Ok(())
}

/// Builds `bin` of the package at `manifest` in release mode; returns the executable.
fn build(manifest: &Path, bin: &str) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(manifest)
        .args(["--bin", bin])
        .output()
        .context("running cargo build")?;
    ensure!(
        output.status.success(),
        "cargo build --release --bin {bin} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let executable = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == bin)
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from));
    match executable {
        Some(path) => Ok(path),
        None => bail!("cargo built no executable named {bin} (is it a [[bin]] of that package?)"),
    }
}

/// Strips the debug information from the binary, libpython and the stdlib's extension
/// modules (about 50 of the 60 MiB).
fn strip(exe: &Path, libpython: &Path, dynload: &Path) -> Result<()> {
    let mut files = vec![exe.to_path_buf(), libpython.to_path_buf()];
    for entry in fs::read_dir(dynload)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "so") {
            files.push(path);
        }
    }
    let status = Command::new("strip")
        .arg("--strip-unneeded")
        .args(&files)
        .status()
        .context("running strip (binutils; or pass --no-strip)")?;
    ensure!(
        status.success(),
        "strip failed ({status}); pass --no-strip to keep the files as built"
    );
    Ok(())
}

/// The prefix the runtime links against (the one `build-python` recorded).
fn prefix() -> Result<PathBuf> {
    let pointer = layout::current_prefix_file();
    let text = fs::read_to_string(&pointer).with_context(|| {
        format!(
            "no built CPython ({} is missing): run `cargo xtask build-python` first",
            pointer.display()
        )
    })?;
    Ok(PathBuf::from(text.trim()))
}

/// Copies the tree at `from` into `to`, leaving out the `skipped` names (and, with the
/// standard library's list, `config-*`); symbolic links are copied as what they point to.
fn copy_tree(from: &Path, to: &Path, skipped: &[&str]) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let config = skipped == STDLIB_SKIPPED && name.to_string_lossy().starts_with("config-");
        if config || skipped.iter().any(|s| name == *s) {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        if fs::metadata(&source)?.is_dir() {
            copy_tree(&source, &target, skipped)?;
        } else {
            fs::copy(&source, &target).with_context(|| format!("copying {}", source.display()))?;
        }
    }
    Ok(())
}

/// Bytes of the regular files under `dir`.
fn tree_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            tree_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
