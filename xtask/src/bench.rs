//! `cargo xtask bench`: the benchmarks README.md describes, printed as tables (or JSON).
//!
//! 1. `runtime/bench-scripts/bench.py`, run by the release `subinterp` binary on the patched CPython:
//!    multi-core scaling, task round trips and channels, every variant side by side.
//! 2. Interpreter start-up, idle memory and leaks, each run on the patched build and on the
//!    `--no-patches` build of the same source (built first if missing) in the same invocation:
//!    `runtime/bench-scripts/startup.py` (CPython's part, with `_interpreters`, run by each build's
//!    `python3`) and `runtime/benches/startup.rs` (through the runtime, with the warm stock;
//!    it loads the stock libpython through `LD_LIBRARY_PATH`).
//! 3. Dask workers (`runtime/bench-scripts/dask_workers.py`): one worker on interpreters, one on
//!    threads and N worker processes on the same workload, when a Python with Dask is found.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, ensure};
use clap::Args;
use serde_json::Value;

use crate::build_python::{BuildOptions, SourceArgs, ensure_built};
use crate::layout;

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

pub fn run(args: &Bench) -> Result<()> {
    ensure_built(&BuildOptions::default(), &SourceArgs::default(), false)?;
    let stock_options = BuildOptions {
        no_patches: true,
        ..BuildOptions::default()
    };
    let stock = (!args.skip_startup)
        .then(|| ensure_built(&stock_options, &SourceArgs::default(), false))
        .transpose()?;
    let root = layout::workspace_root();
    let binary = layout::build_release_command()?;
    let mut command = Command::new(&binary);
    command
        .current_dir(&root)
        .args(["run", "runtime/bench-scripts/bench.py"]);
    if args.json {
        command.arg("--json");
    }
    if args.quick {
        command.arg("--quick");
    }
    if let Some(n) = args.max_workers {
        command.args(["--max-workers", &n.to_string()]);
    }
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    ensure!(
        output.status.success(),
        "the benchmark failed ({})",
        output.status
    );
    let main = String::from_utf8_lossy(&output.stdout).into_owned();
    let dask = dask_workers(&root, args)?;

    let Some(stock) = stock else {
        if args.json {
            let mut all: Value = serde_json::from_str(&main).context("bench.py's JSON")?;
            all["dask"] = dask.map_or(Value::Null, |out| {
                serde_json::from_str(&out).unwrap_or(Value::Null)
            });
            println!("{}", serde_json::to_string_pretty(&all)?);
        } else {
            print!("{main}");
            print_dask(dask.as_deref());
        }
        return Ok(());
    };
    let patched = ensure_built(&BuildOptions::default(), &SourceArgs::default(), false)?;
    let cpython = Startup {
        patched: startup_py(&root, &patched.python(), args.quick)?,
        stock: startup_py(&root, &stock.python(), args.quick)?,
    };
    let runtime = Startup {
        patched: startup_rs(&root, None, args.quick)?,
        stock: startup_rs(&root, Some(&stock.prefix()), args.quick)?,
    };
    if args.json {
        let mut all: Value = serde_json::from_str(&main).context("bench.py's JSON")?;
        all["startup"] = serde_json::json!({
            "cpython": { "patched": cpython.patched, "stock": cpython.stock },
            "runtime": { "patched": runtime.patched, "stock": runtime.stock },
        });
        all["dask"] = dask.map_or(Value::Null, |out| {
            serde_json::from_str(&out).unwrap_or(Value::Null)
        });
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        print!("{main}");
        println!();
        print_startup(&cpython, &runtime);
        print_dask(dask.as_deref());
    }
    Ok(())
}

/// Runs `runtime/bench-scripts/dask_workers.py` (Dask workers on interpreters, threads and
/// processes) with a Python that has Dask: `$SUBINTERP_DASK_PYTHON`, else the venv of the Dask
/// tests (`SUBINTERP_PACKAGE_TESTS=1 cargo test -p subinterp-e2e --test dask` makes it).
/// None when there is none.
fn dask_workers(root: &Path, args: &Bench) -> Result<Option<String>> {
    let python = std::env::var_os("SUBINTERP_DASK_PYTHON")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let venv = root.join("target/tests/dask-venv/bin/python");
            venv.exists().then_some(venv)
        });
    let Some(python) = python else {
        return Ok(None);
    };
    let mut command = Command::new(&python);
    command
        .current_dir(root)
        .arg("runtime/bench-scripts/dask_workers.py");
    if args.json {
        command.arg("--json");
    }
    if args.quick {
        command.arg("--quick");
    }
    if let Some(n) = args.max_workers {
        command.args(["--cores", &n.to_string()]);
    }
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    ensure!(
        output.status.success(),
        "the Dask benchmark failed ({})",
        output.status
    );
    Ok(Some(String::from_utf8_lossy(&output.stdout).into_owned()))
}

fn print_dask(out: Option<&str>) {
    println!();
    match out {
        Some(out) => print!("{out}"),
        None => println!(
            "Dask workers: skipped (no Python with Dask: set SUBINTERP_DASK_PYTHON, or run \
             SUBINTERP_PACKAGE_TESTS=1 cargo test -p subinterp-e2e --test dask once)"
        ),
    }
}

/// One start-up benchmark's results on both builds.
struct Startup {
    patched: Value,
    stock: Value,
}

/// Runs `runtime/bench-scripts/startup.py --json` with `python`.
fn startup_py(root: &Path, python: &Path, quick: bool) -> Result<Value> {
    let mut command = Command::new(python);
    command
        .current_dir(root)
        .args(["runtime/bench-scripts/startup.py", "--json"]);
    if quick {
        command.arg("--quick");
    }
    json_output(&mut command, "bench-scripts/startup.py")
}

/// Runs `command` and parses the JSON it prints.
fn json_output(command: &mut Command, what: &str) -> Result<Value> {
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {what}"))?;
    ensure!(output.status.success(), "{what} failed ({})", output.status);
    let text = String::from_utf8_lossy(&output.stdout);
    let start = text.find('{').unwrap_or(0);
    serde_json::from_str(&text[start..]).with_context(|| format!("{what} printed {text:?}"))
}

/// Runs `runtime/benches/startup.rs` on the patched build, or on the CPython at `home`.
fn startup_rs(root: &Path, home: Option<&Path>, quick: bool) -> Result<Value> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root).args([
        "bench",
        "--locked",
        "-q",
        "-p",
        "subinterp",
        "--bench",
        "startup",
        "--",
        "--json",
    ]);
    if quick {
        command.arg("--quick");
    }
    if let Some(home) = home {
        command
            .arg("--home")
            .arg(home)
            .env("LD_LIBRARY_PATH", home.join("lib"));
    }
    let result = json_output(&mut command, "benches/startup.rs")?;
    if let Some(home) = home {
        let prefix = result["prefix"].as_str().unwrap_or_default();
        ensure!(
            Path::new(prefix) == home,
            "the start-up benchmark ran on {prefix}, not on {}",
            home.display()
        );
    }
    Ok(result)
}

fn print_startup(cpython: &Startup, runtime: &Startup) {
    let get = |v: &Value, path: &[&str]| {
        path.iter()
            .fold(v, |v, key| &v[*key])
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    println!("Interpreter start-up and memory: stock 3.13.5 vs patched (same source, same run)");
    println!(
        "{:>46} {:>11} {:>11} {:>9}",
        "", "stock", "patched", "ratio"
    );
    let row = |label: &str, results: &Startup, path: &[&str], ratio: bool| {
        let (s, p) = (get(&results.stock, path), get(&results.patched, path));
        let ratio = if ratio {
            format!("{:.2}x", s / p)
        } else {
            String::new()
        };
        println!("{label:>46} {s:>11.2} {p:>11.2} {ratio:>9}");
    };
    type Row = (&'static str, &'static [&'static str], bool);
    let cpython_rows: [Row; 7] = [
        ("create, median (ms)", &["create", "median_ms"], true),
        ("create, best (ms)", &["create", "min_ms"], true),
        ("destroy, median (ms)", &["destroy", "median_ms"], true),
        (
            "create + first statement + destroy, median (ms)",
            &["create_exec_destroy", "median_ms"],
            true,
        ),
        (
            "idle memory per interpreter (MiB)",
            &["idle_rss", "per_interpreter_mib"],
            true,
        ),
        (
            "RSS growth over the create/destroy cycles (%)",
            &["leak", "growth_percent"],
            false,
        ),
        ("create/destroy cycles", &["leak", "cycles"], false),
    ];
    let runtime_rows: [Row; 5] = [
        ("cold create, ready (us)", &["create_us"], true),
        ("cold create + destroy (us)", &["create_destroy_us"], true),
        ("take a ready one, warm stock (us)", &["warm_take_us"], true),
        ("idle memory per interpreter (KiB)", &["idle_kib"], true),
        (
            "RSS growth over the create/destroy cycles (%)",
            &["rss_growth_pct"],
            false,
        ),
    ];
    println!("  CPython (_interpreters, isolated):");
    for (label, path, ratio) in cpython_rows {
        row(label, cpython, path, ratio);
    }
    println!("  Through the runtime (subinterp::Interpreter):");
    for (label, path, ratio) in runtime_rows {
        row(label, runtime, path, ratio);
    }
}
