//! The CPython that `cargo xtask build-python` installs, checked as a user would use it.

use std::process::Command;

use subinterp_e2e::{python, python_prefix};

/// Runs `code` on the built interpreter with a clean environment and returns its stdout.
fn run(code: &str) -> String {
    let out = Command::new(python())
        .args(["-I", "-c", code])
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .output()
        .expect("the built interpreter starts");
    assert!(
        out.status.success(),
        "{code}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn it_is_the_pinned_version_and_finds_its_own_libpython_without_help() {
    let out = run(
        "import sys, sysconfig; print(sys.version.split()[0]); print(sysconfig.get_config_var('Py_ENABLE_SHARED'))",
    );
    assert_eq!(out, "3.13.5\n1\n");
    let prefix = std::fs::canonicalize(python_prefix()).unwrap();
    let out = run("import sys; print(sys.prefix)");
    assert_eq!(
        std::fs::canonicalize(out.trim()).unwrap(),
        prefix,
        "the interpreter lives in its prefix"
    );
}

#[test]
fn every_stdlib_extension_module_built_and_imports() {
    // The modules that depend on the optional -dev packages `cargo xtask deps` installs.
    let modules = [
        "_ssl",
        "_hashlib",
        "_ctypes",
        "zlib",
        "_bz2",
        "_lzma",
        "_sqlite3",
        "readline",
        "_curses",
        "_curses_panel",
        "_uuid",
        "_gdbm",
        "_dbm",
        "_tkinter",
        "_decimal",
        "pyexpat",
        "_interpreters",
        "_interpqueues",
        "_interpchannels",
    ];
    let code =
        format!("import importlib\nfor m in {modules:?}: importlib.import_module(m)\nprint('ok')");
    assert_eq!(run(&code), "ok\n");
}

#[test]
fn own_gil_subinterpreters_run_code() {
    let code = "import _interpreters\n\
        i = _interpreters.create('isolated')\n\
        _interpreters.exec(i, 'import sys; assert sys.implementation.name == \"cpython\"')\n\
        _interpreters.destroy(i)\n\
        print('ok')";
    assert_eq!(run(code), "ok\n");
}

#[test]
fn the_main_job_demo_counts_primes_on_own_gil_subinterpreters() {
    let demo = subinterp_e2e::workspace_root().join("examples/own_gil_demo.py");
    let out = run(&format!(
        "import runpy; runpy.run_path({:?}, run_name='__main__')",
        demo.to_str().unwrap()
    ));
    assert!(out.starts_with("primes below 300000: 25997\n"), "{out}");
    assert!(
        out.contains("own-GIL subinterpreters:") && out.contains("speedup"),
        "{out}"
    );
}
