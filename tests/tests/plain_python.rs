//! `import csp` without the `subinterp` command: in the built `python3` and in a fresh venv of
//! it (the extension module `cargo xtask build-python` installs into the prefix's
//! `lib-dynload`), with workers that run in parallel and see the venv's packages, next to
//! `multiprocessing` spawn children that import csp themselves.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use subinterp_e2e::{python, python_prefix, workspace_root};

fn script(name: &str) -> PathBuf {
    workspace_root().join("tests/python").join(name)
}

fn run(program: &Path, args: &[&Path], extra: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .args(extra)
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .output()
        .expect("python starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The csp extension is in the prefix: `cargo xtask build-python` (and so `cargo xtask test`)
/// installs it.
fn require_installed() {
    let dynload = python_prefix().join("lib/python3.13/lib-dynload");
    let found = std::fs::read_dir(&dynload)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("csp."))
        })
        .unwrap_or(false);
    assert!(
        found,
        "the csp extension module is not in {}: run `cargo xtask build-python`, which \
         installs it",
        dynload.display()
    );
}

/// Checks the output of `plain_python_csp.py`; returns its CPU/wall line (reported, not
/// asserted: performance is for the benchmarks, and a busy machine brings it down).
fn check_run(out: &Output) -> String {
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("go 49 0"), "{stdout}");
    assert_eq!(lines.next(), Some("pool [0, 1, 4, 9, 16]"), "{stdout}");
    let timing = lines.next().unwrap_or_default().to_owned();
    assert!(timing.starts_with("cpu/wall "), "{stdout}");
    assert_eq!(lines.next(), Some("channel 42"), "{stdout}");
    assert_eq!(lines.next(), Some("executor [0, 1, 4, 9]"), "{stdout}");
    timing
}

#[test]
fn import_csp_in_the_built_python() {
    require_installed();
    let out = run(&python(), &[&script("plain_python_csp.py")], &[]);
    // About 2 on a quiet 2-core machine (1.97-1.99 measured here).
    eprintln!("plain python, 2 workers: {}", check_run(&out));
}

#[test]
fn import_csp_in_a_fresh_venv_with_its_packages() {
    require_installed();
    let dir = workspace_root().join("target/tests/plain-python-venv");
    let _ = std::fs::remove_dir_all(&dir);
    let made = Command::new(python())
        .args(["-m", "venv", "--without-pip"])
        .arg(&dir)
        .status()
        .expect("python starts");
    assert!(made.success(), "python -m venv failed");
    let site = dir.join("lib/python3.13/site-packages");
    std::fs::write(
        site.join("venv_only_module.py"),
        "VALUE = 'from the venv'\n",
    )
    .unwrap();
    let out = run(
        &dir.join("bin/python"),
        &[&script("plain_python_csp.py")],
        &["--venv"],
    );
    check_run(&out);
    assert!(
        text(&out.stdout).contains("venv module in a worker from the venv\n"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn csp_next_to_spawn_children_and_a_manager() {
    require_installed();
    let out = run(&python(), &[&script("csp_with_spawn_children.py")], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "[0, 1, 4, 9] {'a': 1}\n[0, 1, 4, 9]\n81\n",
        "{}",
        text(&out.stderr)
    );
}
