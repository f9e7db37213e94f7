//! Dask workers whose tasks run on own-GIL interpreters (`python/csp_dask`), on a small
//! cluster on 127.0.0.1: a fresh venv of the built Python gets Dask and distributed from the
//! package registry (the pinned versions of `examples/dask/requirements.txt`) and `csp_dask`
//! from this checkout, then runs `python/csp_dask/tests/check_cluster.py` (functions by name,
//! lambdas and closures by value, exceptions, dask.bag and dask.delayed, the fallback for a
//! module that cannot load in an interpreter, the `threads` executor, the worker plugin) and
//! `examples/dask/run.py` on its three kinds of workers (`dask worker` processes), whose
//! answers must agree with a count without Dask.
//!
//! Their own group: they need the network (PyPI), so they run only with
//! `SUBINTERP_PACKAGE_TESTS=1` (as the 27-package test does):
//! `SUBINTERP_PACKAGE_TESTS=1 cargo test -p subinterp-e2e --test dask`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use subinterp_e2e::{python, workspace_root};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(command: &mut Command) -> Output {
    let out = command
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .output()
        .expect("the command starts");
    assert!(
        out.status.success(),
        "{command:?} failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// A fresh venv with the pinned Dask and `csp_dask`; returns its python.
fn dask_venv() -> PathBuf {
    let root = workspace_root();
    let dir = root.join("target/tests/dask-venv");
    let _ = std::fs::remove_dir_all(&dir);
    run(Command::new(python()).args(["-m", "venv"]).arg(&dir));
    let venv_python = dir.join("bin/python");
    run(Command::new(&venv_python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(root.join("examples/dask/requirements.txt"))
        .arg(root.join("python/csp_dask")));
    venv_python
}

fn json_field<'a>(value: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    value
        .get(key)
        .unwrap_or_else(|| panic!("no {key:?} in {value}"))
}

fn check_example(venv_python: &Path) {
    let root = workspace_root();
    let out = run(Command::new(venv_python)
        .current_dir(root.join("target/tests"))
        .arg(root.join("examples/dask/run.py"))
        .args([
            "--cores",
            "2",
            "--partitions",
            "8",
            "--words",
            "5000",
            "--check",
            "--json",
        ]));
    let stdout = text(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("run.py prints JSON");
    let results = json_field(&report, "results")
        .as_array()
        .expect("a list of results");
    let modes: Vec<&str> = results
        .iter()
        .map(|r| json_field(r, "mode").as_str().unwrap_or_default())
        .collect();
    assert_eq!(modes, ["interpreters", "threads", "processes"], "{stdout}");
    for result in results {
        let mode = json_field(result, "mode").as_str().unwrap_or_default();
        let executor = if mode == "interpreters" {
            "InterpreterExecutor"
        } else {
            "ThreadPoolExecutor"
        };
        assert_eq!(
            json_field(result, "executor"),
            &serde_json::json!([executor]),
            "{stdout}"
        );
        assert_eq!(json_field(result, "total_words"), 40_000, "{stdout}");
        let workers = if mode == "processes" { 2 } else { 1 };
        assert_eq!(json_field(result, "worker_processes"), workers, "{stdout}");
        // Reported, not asserted: performance is for `cargo xtask bench`.
        eprintln!(
            "{mode}: wall {:.2} s, peak worker RSS {:.0} MiB",
            json_field(result, "wall_s").as_f64().unwrap_or(f64::NAN),
            json_field(result, "peak_rss_mib")
                .as_f64()
                .unwrap_or(f64::NAN)
        );
    }
}

#[test]
fn dask_workers_run_tasks_on_interpreters() {
    if std::env::var_os("SUBINTERP_PACKAGE_TESTS").is_none_or(|v| v != "1") {
        eprintln!("skipped: set SUBINTERP_PACKAGE_TESTS=1 to pip-install Dask and run a cluster");
        return;
    }
    let venv_python = dask_venv();
    let out = run(Command::new(&venv_python)
        .current_dir(workspace_root().join("target/tests"))
        .arg(workspace_root().join("python/csp_dask/tests/check_cluster.py")));
    let stdout = text(&out.stdout);
    assert!(
        stdout.lines().any(|line| line == "all passed"),
        "{stdout}{}",
        text(&out.stderr)
    );
    check_example(&venv_python);
}
