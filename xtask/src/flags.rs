//! The whole command line of `cargo xtask`, declared in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Build, patch and test the pinned CPython that subinterp runs on.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
pub struct Xtask {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch, verify, patch, configure, build and install the pinned CPython.
    BuildPython(BuildPython),
    /// Run the built interpreter (building it first if needed): `cargo xtask python -c 'print(1)'`.
    Python(Python),
    /// Run CPython's regression suite on the built interpreter.
    TestPython(TestPython),
    /// Report the tools and headers the build needs; `--install` installs the missing ones.
    Deps(Deps),
    /// Everything CI runs: build Python, `cargo test --workspace`, then the regression suite.
    Test(Test),
    /// Maintain the patch series in `patches/`.
    Patches(Patches),
    /// Benchmarks: scaling, round trips, channels and start-up, subinterp vs the alternatives.
    Bench(Bench),
    /// Soak and fault tests of the runtime and the value fuzzer, on the release binary.
    Stress(Stress),
    /// A program that embeds subinterp as a self-contained directory (binary, libpython, the
    /// standard library, its Python files) that can be copied anywhere and run.
    Bundle(Bundle),
}

/// What to build: these choices (with the patch contents) key the install prefix.
#[derive(Debug, Clone, Default, Args)]
pub struct BuildOptions {
    /// Build stock CPython from the same source, without our patches (for A/B comparisons).
    #[arg(long)]
    pub no_patches: bool,
    /// A debug build (`--with-pydebug`).
    #[arg(long, conflicts_with = "optimized")]
    pub debug: bool,
    /// An optimised build (`--enable-optimizations --with-lto`: PGO + LTO; slow to build).
    #[arg(long)]
    pub optimized: bool,
    /// A free-threaded build (`--disable-gil`), for comparisons only.
    #[arg(long)]
    pub free_threaded: bool,
}

/// Where the source comes from and how hard to work.
#[derive(Debug, Clone, Default, Args)]
pub struct SourceArgs {
    /// CPython source: a release tarball, an unpacked source directory, or a git repository
    /// (local path or URL). Defaults to $CPYTHON_SOURCE, then a cached copy, then a shallow
    /// clone of the release tag from upstream.
    #[arg(long, value_name = "PATH|URL")]
    pub source: Option<String>,
    /// Parallel `make` jobs (default: the number of cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
}

#[derive(Debug, Args)]
pub struct BuildPython {
    #[command(flatten)]
    pub options: BuildOptions,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Rebuild even if an install for these options exists.
    #[arg(long)]
    pub force: bool,
}

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

#[derive(Debug, Args)]
pub struct TestPython {
    #[command(flatten)]
    pub options: BuildOptions,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Only the subset covering subinterpreters, threads, fork, embedding, imports and the C API.
    #[arg(long)]
    pub quick: bool,
    /// Run only the expected failures, and report those that pass now (so the list can shrink).
    #[arg(long, conflicts_with = "quick")]
    pub check_expected: bool,
    /// Extra arguments for `python -m test` (test names, `-v`, ...), after `--`.
    #[arg(last = true, value_name = "REGRTEST_ARGS")]
    pub regrtest_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct Deps {
    /// Install what is missing with apt-get.
    #[arg(long)]
    pub install: bool,
}

#[derive(Debug, Args)]
pub struct Test {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Run the quick regression subset instead of the full suite.
    #[arg(long)]
    pub quick: bool,
}

#[derive(Debug, Args)]
pub struct Bench {
    /// Print the results as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Tiny sizes: checks that every variant runs, measures nothing.
    #[arg(long)]
    pub quick: bool,
    /// Scale up to this many workers (default: the number of cores).
    #[arg(long)]
    pub max_workers: Option<usize>,
    /// Skip the start-up benchmark (it compares with a `--no-patches` build, built first if
    /// missing).
    #[arg(long)]
    pub skip_startup: bool,
}

#[derive(Debug, Args)]
pub struct Stress {
    /// A short version (about a minute on 2 cores; `cargo xtask test` runs it).
    #[arg(long)]
    pub quick: bool,
    /// Seed of the value fuzzer (default: 0 with `--quick`, else taken from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
}

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
