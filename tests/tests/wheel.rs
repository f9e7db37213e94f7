//! The wheel of the `csp` module (`cargo xtask wheel`): a valid wheel whose module binds to
//! the libpython of whatever interpreter loads it, which `pip install` puts into a fresh venv
//! of the built CPython and of a stock CPython 3.13 (`cargo xtask build-python --no-patches`),
//! where `go`, pools, channels and the `InterpreterPoolExecutor` then run.
//!
//! The stock build is used when `$SUBINTERP_STOCK_PREFIX` names it (`cargo xtask test` builds it
//! and sets it, and then the stock test must run) or when one is in `target/cpython`; without
//! either that test says it was skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use subinterp_e2e::{python, workspace_root};

/// The folder the tests here work in.
fn scratch() -> PathBuf {
    workspace_root().join("target/tests/wheel")
}

/// The wheel, built once per test run by `cargo xtask wheel` (in a target folder of its own:
/// the one of this test run may be locked by the `cargo test` that runs it).
fn wheel() -> &'static Path {
    static WHEEL: OnceLock<PathBuf> = OnceLock::new();
    WHEEL.get_or_init(|| {
        let root = workspace_root();
        let out_dir = scratch().join("dist");
        let _ = std::fs::remove_dir_all(&out_dir);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(&root)
            .args(["xtask", "wheel", "--out"])
            .arg(&out_dir)
            .env("CARGO_TARGET_DIR", root.join("target/downstream"))
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "cargo xtask wheel failed:\n{}",
            text(&out.stderr)
        );
        let wheel = PathBuf::from(text(&out.stdout).trim());
        assert_eq!(wheel.parent(), Some(out_dir.as_path()));
        assert_eq!(
            wheel.file_name().unwrap().to_string_lossy(),
            format!(
                "csp-{}-cp313-cp313-linux_x86_64.whl",
                env!("CARGO_PKG_VERSION")
            )
        );
        wheel
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(program: &Path, args: &[&str], pythonpath: Option<&Path>) -> Output {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .env_remove("VIRTUAL_ENV")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INDEX", "1");
    if let Some(path) = pythonpath {
        command.env("PYTHONPATH", path);
    }
    command.output().expect("the program starts")
}

fn check(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A fresh venv of `python` (with pip, from the interpreter's own `ensurepip`: no network)
/// holding the wheel; returns its `python` and its `site-packages`.
fn venv_with_the_wheel(python: &Path, name: &str) -> (PathBuf, PathBuf) {
    let venv = scratch().join(name);
    let _ = std::fs::remove_dir_all(&venv);
    std::fs::create_dir_all(scratch()).unwrap();
    let made = run(python, &["-m", "venv", &venv.to_string_lossy()], None);
    check(&made, "python -m venv");
    let venv_python = venv.join("bin/python");
    let site = venv.join("lib/python3.13/site-packages");
    let wheel = wheel().to_string_lossy().into_owned();
    let install = run(&venv_python, &["-m", "pip", "install", &wheel], None);
    check(&install, "pip install of the wheel");
    assert!(
        site.join("csp.cpython-313-x86_64-linux-gnu.so").is_file(),
        "pip did not install the module into {}",
        site.display()
    );
    (venv_python, site)
}

/// Where `import csp` finds the module, the workload of `tests/python/plain_python_csp.py`
/// (a `go` task, a pool, a channel, the executor, a venv package in a worker), and a clean
/// `pip uninstall`. `pythonpath` puts the venv's `site-packages` before the prefix's own
/// `lib-dynload` where the built CPython has a copy of the module.
fn use_the_wheel(venv_python: &Path, site: &Path, pythonpath: Option<&Path>) {
    std::fs::write(site.join("venv_only_module.py"), "VALUE = 'venv'\n").unwrap();
    let found = run(
        venv_python,
        &["-c", "import csp; print(csp.__file__)"],
        pythonpath,
    );
    let found = check(&found, "import csp");
    assert_eq!(
        found.trim(),
        site.join("csp.cpython-313-x86_64-linux-gnu.so")
            .to_string_lossy()
    );

    let script = workspace_root().join("tests/python/plain_python_csp.py");
    let out = run(
        venv_python,
        &[&script.to_string_lossy(), "--venv"],
        pythonpath,
    );
    let stdout = check(&out, "the csp workload");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..2], ["go 49 0", "pool [0, 1, 4, 9, 16]"], "{stdout}");
    assert!(lines[2].starts_with("cpu/wall "), "{stdout}");
    assert_eq!(
        lines[3..],
        [
            "channel 42",
            "executor [0, 1, 4, 9]",
            "venv module in a worker venv"
        ],
        "{stdout}"
    );
    eprintln!("{}: {}", venv_python.display(), lines[2]);

    let uninstall = run(venv_python, &["-m", "pip", "uninstall", "-y", "csp"], None);
    check(&uninstall, "pip uninstall csp");
    assert!(!site.join("csp.cpython-313-x86_64-linux-gnu.so").exists());
}

/// The wheel holds the module and a `dist-info` whose `RECORD` lists every other file with
/// its SHA-256 and size; the module names no libpython and carries no rpath.
#[test]
fn the_wheel_is_well_formed_and_binds_to_any_libpython() {
    let check_record = r#"
import base64, hashlib, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as whl:
    assert whl.testzip() is None
    names = whl.namelist()
    info = [n for n in names if n.endswith(".dist-info/RECORD")][0].rsplit("/", 1)[0]
    rows = [line.split(",") for line in whl.read(info + "/RECORD").decode().splitlines()]
    listed = {row[0] for row in rows}
    assert listed == set(names), (listed, names)
    for name, digest, size in rows:
        if name.endswith("/RECORD"):
            assert (digest, size) == ("", ""), (digest, size)
            continue
        data = whl.read(name)
        want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert digest == want and int(size) == len(data), name
    wheel = dict(l.split(": ", 1) for l in whl.read(info + "/WHEEL").decode().splitlines())
    meta = dict(l.split(": ", 1) for l in whl.read(info + "/METADATA").decode().splitlines())
    assert wheel["Root-Is-Purelib"] == "false" and wheel["Tag"] == "cp313-cp313-linux_x86_64"
    assert meta["Name"] == "csp" and meta["Requires-Python"] == "==3.13.*"
    with open(sys.argv[2], "wb") as out:
        out.write(whl.read("csp.cpython-313-x86_64-linux-gnu.so"))
    print(sorted(names))
"#;
    let module = scratch().join("csp-from-the-wheel.so");
    std::fs::create_dir_all(scratch()).unwrap();
    let out = run(
        &python(),
        &[
            "-c",
            check_record,
            &wheel().to_string_lossy(),
            &module.to_string_lossy(),
        ],
        None,
    );
    let names = check(&out, "checking the wheel");
    assert_eq!(
        names.trim(),
        format!(
            "['csp-{v}.dist-info/METADATA', 'csp-{v}.dist-info/RECORD', \
             'csp-{v}.dist-info/WHEEL', 'csp.cpython-313-x86_64-linux-gnu.so']",
            v = env!("CARGO_PKG_VERSION")
        )
    );

    // `cargo xtask wheel` checks this itself; readelf (binutils) says it independently.
    match Command::new("readelf").arg("-d").arg(&module).output() {
        Ok(out) if out.status.success() => {
            let dynamic = text(&out.stdout);
            assert!(dynamic.contains("(NEEDED)"), "{dynamic}");
            assert!(!dynamic.contains("libpython"), "{dynamic}");
            assert!(!dynamic.contains("PATH)"), "{dynamic}");
        }
        _ => eprintln!("readelf is not installed: the dynamic section was checked by the xtask"),
    }
}

/// `pip install` of the wheel into a fresh venv of the built (patched) CPython, and the module
/// from the wheel (not the prefix's own copy) doing real work there.
#[test]
fn pip_installs_the_wheel_into_a_venv_of_the_built_python() {
    let (venv_python, site) = venv_with_the_wheel(&python(), "venv-patched");
    use_the_wheel(&venv_python, &site, Some(&site));
}

/// The stock CPython 3.13 to try the wheel on, if there is one (see the module docs).
fn stock_prefix() -> Option<PathBuf> {
    if let Some(prefix) = std::env::var_os("SUBINTERP_STOCK_PREFIX") {
        let prefix = PathBuf::from(prefix);
        assert!(
            prefix.join("bin/python3").is_file(),
            "SUBINTERP_STOCK_PREFIX={} has no bin/python3",
            prefix.display()
        );
        return Some(prefix);
    }
    let builds = std::fs::read_dir(workspace_root().join("target/cpython")).ok()?;
    builds
        .flatten()
        .filter(|entry| {
            // `3.13.5-stock-<key>`: a release build with the GIL, as the wheel's tag says.
            let name = entry.file_name().to_string_lossy().into_owned();
            name.split('-').count() == 3 && name.contains("-stock-")
        })
        .map(|entry| entry.path().join("prefix"))
        .find(|prefix| {
            prefix.join("subinterp-build.json").is_file() && prefix.join("bin/python3").is_file()
        })
}

/// The same wheel in a venv of stock CPython 3.13, built from the same source without the
/// patches: the module loads there (only the public C API, whose layout the patches keep)
/// and runs the same workload.
#[test]
fn the_wheel_works_on_stock_cpython() {
    let Some(prefix) = stock_prefix() else {
        eprintln!(
            "skipped: no stock CPython (`cargo xtask build-python --no-patches`, or \
             SUBINTERP_STOCK_PREFIX)"
        );
        return;
    };
    let stock = prefix.join("bin/python3");
    let before = run(&stock, &["-c", "import csp"], None);
    assert!(
        text(&before.stderr).contains("No module named 'csp'"),
        "the stock prefix should not have csp of its own: {}",
        text(&before.stderr)
    );
    let (venv_python, site) = venv_with_the_wheel(&stock, "venv-stock");
    // The whole csp suite too: on stock, extension errors carry no reason ("unknown").
    let suite = workspace_root().join("runtime/tests/python/test_csp.py");
    let out = run(&venv_python, &[&suite.to_string_lossy()], None);
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "test_csp.py on stock CPython:\n{stderr}"
    );
    assert!(stderr.trim_end().ends_with("OK"), "{stderr}");
    use_the_wheel(&venv_python, &site, None);
}
