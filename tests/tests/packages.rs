//! The 27 third-party packages of `tests/packages/packages.txt`, pip-installed into a venv of
//! the built Python, each used by a task of `csp.InterpreterPoolExecutor`: all must work,
//! natively or on the executor's process fallback, as `python -m csp.check` predicts.
//!
//! Needs the package index, so it runs only with `SUBINTERP_PACKAGE_TESTS=1` (see the README's
//! "Real packages" section); the offline part (CPython's own test extensions standing in for
//! third-party ones) is in `runtime/tests/python/test_csp.py`.

use std::process::Command;

use subinterp_e2e::{python, workspace_root};

#[test]
fn the_27_packages_work_through_the_executor() {
    if std::env::var_os("SUBINTERP_PACKAGE_TESTS").is_none_or(|v| v != "1") {
        eprintln!("skipped: set SUBINTERP_PACKAGE_TESTS=1 to pip-install and run the packages");
        return;
    }
    let dir = workspace_root().join("tests/packages");
    let venv = workspace_root().join("target/tests/packages-venv");
    let _ = std::fs::remove_dir_all(&venv);
    let made = Command::new(python())
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python starts");
    assert!(made.success(), "python -m venv failed");
    let data = std::fs::read_to_string(dir.join("packages.txt")).expect("packages.txt");
    let mut requirements: Vec<&str> = data
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split(' ').nth(1).expect("a requirement on each line"))
        .collect();
    requirements.sort_unstable();
    requirements.dedup();
    let pip = Command::new(venv.join("bin/python"))
        .args(["-m", "pip", "install", "--quiet", "--only-binary", ":all:"])
        .args(&requirements)
        .status()
        .expect("pip starts");
    assert!(pip.success(), "pip install of the pinned packages failed");
    let out = Command::new(venv.join("bin/python"))
        .arg(dir.join("run_packages.py"))
        .env_remove("PYTHONPATH")
        .output()
        .expect("the venv's python starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("27/27 packages work"), "{stdout}");
}
