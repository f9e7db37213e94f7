//! `cargo xtask bench`: the benchmarks of DESIGN §6, printed as tables (or JSON).
//!
//! 1. `runtime/bench/bench.py`, run by the release `subinterp` binary on the patched CPython:
//!    multi-core scaling, task round trips and channels, every variant side by side.
//! 2. `runtime/benches/startup.rs` (interpreter start-up, memory, leaks), run twice in the same
//!    invocation: on the patched build and on the `--no-patches` build of the same source
//!    (built first if missing), whose libpython it loads through `LD_LIBRARY_PATH`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::build_python::ensure_built;
use crate::flags::{Bench, BuildOptions, SourceArgs};
use crate::layout;

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
    cargo(
        &root,
        &[
            "build",
            "--release",
            "--locked",
            "-p",
            "subinterp",
            "--bin",
            "subinterp",
        ],
    )?;

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

    let Some(stock) = stock else {
        print!("{main}");
        return Ok(());
    };
    let patched = startup(&root, None, args.quick)?;
    let stock = startup(&root, Some(&stock.prefix()), args.quick)?;
    if args.json {
        let mut all: Value = serde_json::from_str(&main).context("bench.py's JSON")?;
        all["startup"] = serde_json::json!({ "patched": patched, "stock": stock });
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        print!("{main}");
        println!();
        print_startup(&patched, &stock);
    }
    Ok(())
}

fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args(args)
        .status()
        .context("running cargo")?;
    ensure!(
        status.success(),
        "cargo {} failed ({status})",
        args.join(" ")
    );
    Ok(())
}

/// Runs the start-up benchmark on the patched build, or on the CPython at `home`.
fn startup(root: &Path, home: Option<&Path>, quick: bool) -> Result<Value> {
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
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running the start-up benchmark")?;
    ensure!(
        output.status.success(),
        "the start-up benchmark failed ({})",
        output.status
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().last().unwrap_or_default();
    let result: Value = serde_json::from_str(line)
        .with_context(|| format!("the start-up benchmark printed {text:?}"))?;
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

fn print_startup(patched: &Value, stock: &Value) {
    let number = |v: &Value, key: &str| v[key].as_f64().unwrap_or(f64::NAN);
    println!("Interpreter start-up and memory: stock 3.13.5 vs patched (same source, same run)");
    println!(
        "{:>40} {:>12} {:>12} {:>9}",
        "", "stock", "patched", "ratio"
    );
    let rows = [
        ("cold create, ready (us)", "create_us"),
        ("cold create + destroy (us)", "create_destroy_us"),
        ("take a ready one, warm stock (us)", "warm_take_us"),
        ("idle memory per interpreter (KiB)", "idle_kib"),
        ("RSS growth, 100 -> all cycles (%)", "rss_growth_pct"),
    ];
    for (label, key) in rows {
        let (s, p) = (number(stock, key), number(patched, key));
        let ratio = if key == "rss_growth_pct" {
            String::new()
        } else {
            format!("{:.2}x", s / p)
        };
        println!("{label:>40} {s:>12.1} {p:>12.1} {ratio:>9}");
    }
    println!(
        "{:>40} {:>12} {:>12}",
        "create/destroy cycles",
        number(stock, "cycles"),
        number(patched, "cycles")
    );
}
