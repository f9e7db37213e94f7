//! `subinterp`: runs Python scripts on the built CPython with the subinterp runtime (and its
//! `csp` module) available.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use subinterp::{Runtime, RuntimeConfig};

/// Rust allocations (the bytes of values crossing between interpreters, channel buffers) are
/// often freed by another thread than the one that made them; mimalloc handles that without
/// the arena-lock contention of glibc's malloc. CPython keeps its own allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `subinterp --version`: this package's version and the CPython it runs.
fn version() -> &'static str {
    let text = format!(
        "{} (CPython {})",
        env!("CARGO_PKG_VERSION"),
        subinterp::PYTHON_VERSION
    );
    Box::leak(text.into_boxed_str())
}

/// True multi-core Python: own-GIL subinterpreters driven from Rust.
#[derive(Debug, Parser)]
#[command(name = "subinterp", version = version())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a Python script as `__main__`, like `python SCRIPT ARGS`, with `import csp`
    /// available for parallel pools of interpreters.
    Run {
        /// The script to run.
        script: PathBuf,
        /// Arguments for the script (`sys.argv[1:]`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { script, args } => run(&script, &args),
    }
}

/// Runs the script on the main thread (so Ctrl-C works) and exits with its status.
fn run(script: &std::path::Path, args: &[String]) -> ExitCode {
    if !script.is_file() {
        eprintln!("subinterp: cannot open {}: no such file", script.display());
        return ExitCode::from(2);
    }
    let argv = std::iter::once(script.to_string_lossy().into_owned()).chain(args.iter().cloned());
    let mut config = RuntimeConfig::default()
        .isolated(false)
        .install_signal_handlers(true)
        .argv(argv);
    if let Some(python) = active_venv_python() {
        config = config.executable(python);
    }
    // As `python SCRIPT` does: interpreters that CPython creates itself (`_interpreters`)
    // start with the script's directory on `sys.path`, as the main interpreter does.
    if let Some(dir) = script_dir(script) {
        config = config.sys_path_0(dir);
    }
    let runtime = match Runtime::init(config) {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("subinterp: {e}");
            return ExitCode::from(1);
        }
    };
    let status = runtime.run_script(script, args).unwrap_or_else(|e| {
        eprintln!("subinterp: {e}");
        1
    });
    // The script may have forked: this process then has a runtime of its own.
    drop(runtime);
    if let Err(e) = Runtime::current().and_then(|runtime| runtime.shutdown()) {
        eprintln!("subinterp: {e}");
        return ExitCode::from(if status == 0 { 1 } else { clamp(status) });
    }
    ExitCode::from(clamp(status))
}

/// The Python of the activated virtual environment (`$VIRTUAL_ENV/bin/python`), which the
/// script then runs in as `python SCRIPT` would: its packages importable, `sys.prefix` the venv.
fn active_venv_python() -> Option<PathBuf> {
    let venv = PathBuf::from(std::env::var_os("VIRTUAL_ENV")?);
    let python = venv.join("bin").join("python");
    (venv.join("pyvenv.cfg").is_file() && python.exists()).then_some(python)
}

/// The directory of the script with symbolic links resolved, which `python SCRIPT` puts
/// first on `sys.path` (and `Runtime::run_script` does too).
fn script_dir(script: &std::path::Path) -> Option<PathBuf> {
    Some(std::fs::canonicalize(script).ok()?.parent()?.to_path_buf())
}

/// An exit status as the OS sees it (`sys.exit(256)` exits 0 in CPython too).
fn clamp(status: i32) -> u8 {
    (status & 0xff) as u8
}
