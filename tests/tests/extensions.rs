//! Extension modules written for per-interpreter GILs (multi-phase init, the
//! `Py_mod_multiple_interpreters = Py_MOD_PER_INTERPRETER_GIL_SUPPORTED` slot, all state in the
//! module) work in every `csp` worker, in parallel: `examples/extensions/c/cprimes.c`, built
//! with the built CPython's compiler settings, and `examples/extensions/rust` (a `cdylib` on
//! `cpython-sys`), built with Cargo. Each runs `examples/extensions/parallel.py` under the
//! `subinterp` command, which checks that the module's native work runs on 2 workers at once
//! (CPU/wall), that its state is per interpreter, and that a variant without the slot is
//! refused in a worker.
//!
//! Everything is built into `target/extensions` (its own target folder: the one of this test
//! run may be locked by the `cargo test` that runs it); the modules are installed under their
//! `<name><EXT_SUFFIX>` file names in a folder put on `PYTHONPATH`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

use subinterp_e2e::{python, workspace_root};

/// Held by each test for its whole run: one test's build or measurement would take the cores
/// from the other's.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The folder everything here is built into.
fn build_root() -> PathBuf {
    workspace_root().join("target/extensions")
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .env("CARGO_TARGET_DIR", build_root())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    command
}

/// The `subinterp` command, built once per test run.
fn subinterp() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let status = cargo()
            .current_dir(workspace_root())
            .args(["build", "--quiet", "-p", "subinterp-cli"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build -p subinterp-cli failed");
        build_root().join("debug/subinterp")
    })
}

/// How the built CPython compiles and names extension modules.
#[derive(Debug)]
struct BuildConfig {
    /// e.g. `.cpython-313-x86_64-linux-gnu.so`.
    ext_suffix: String,
    /// The C compiler and its leading arguments (`CC`).
    cc: Vec<String>,
    /// `CCSHARED` (position-independent code) and `CFLAGS`.
    cflags: Vec<String>,
    /// The directory holding `Python.h`.
    include: PathBuf,
}

fn build_config() -> &'static BuildConfig {
    static CONFIG: OnceLock<BuildConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let code = "import sysconfig as s\n\
                    for v in ('EXT_SUFFIX', 'CC', 'CCSHARED', 'CFLAGS'):\n    \
                    print(s.get_config_var(v) or '')\n\
                    print(s.get_paths()['include'])";
        let out = Command::new(python())
            .args(["-I", "-c", code])
            .output()
            .expect("the built python starts");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("sysconfig values are UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        let [ext_suffix, cc, ccshared, cflags, include] = lines[..] else {
            panic!("unexpected sysconfig output: {text:?}");
        };
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        BuildConfig {
            ext_suffix: ext_suffix.to_owned(),
            cc: words(cc),
            cflags: words(ccshared).into_iter().chain(words(cflags)).collect(),
            include: include.into(),
        }
    })
}

/// A fresh, empty folder for one test's modules.
fn site(name: &str) -> PathBuf {
    let dir = build_root().join("site").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles `examples/extensions/c/cprimes.c` into `dir` as module `module`.
fn build_cprimes(dir: &Path, module: &str, defines: &[&str]) {
    let config = build_config();
    let source = workspace_root().join("examples/extensions/c/cprimes.c");
    let output = dir.join(format!("{module}{}", config.ext_suffix));
    let (cc, cc_args) = config.cc.split_first().expect("CC is set");
    let status = Command::new(cc)
        .args(cc_args)
        .args(&config.cflags)
        .arg(format!("-I{}", config.include.display()))
        .args(defines.iter().map(|d| format!("-D{d}")))
        .args(["-Werror", "-shared", "-o"])
        .arg(&output)
        .arg(&source)
        .status()
        .expect("the C compiler runs");
    assert!(status.success(), "compiling {} failed", source.display());
}

/// Runs `examples/extensions/parallel.py` with `args` and `dir` on `PYTHONPATH`; returns its
/// output after checking what every module must show.
fn run_parallel(dir: &Path, args: &[&str]) -> String {
    let root = workspace_root();
    let out = Command::new(subinterp())
        .current_dir(&root)
        .arg("run")
        .arg(root.join("examples/extensions/parallel.py"))
        .args(args)
        .env("PYTHONPATH", dir)
        .env_remove("PYTHONHOME")
        .output()
        .expect("subinterp starts");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // Shown with `--nocapture`: the measured ratios.
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\nstate: separate ("), "{stdout}");
    // Parallelism is asserted by `parallel.py` (the two calls overlap in time, which one
    // shared GIL would not allow); CPU/wall, about 2 on a quiet machine, is only reported: a
    // busy machine brings it down.
    assert!(stdout.contains("\nbest cpu/wall: "), "{stdout}");
    stdout
}

#[test]
fn a_c_extension_runs_in_parallel_workers_and_one_without_the_slot_is_refused() {
    let _serial = one_at_a_time();
    let dir = site("c");
    build_cprimes(&dir, "cprimes", &[]);
    build_cprimes(&dir, "cprimes_legacy", &["CPRIMES_LEGACY"]);

    let stdout = run_parallel(&dir, &["cprimes", "cprimes_legacy"]);
    // The variant without `Py_mod_multiple_interpreters` is a working module, but only where
    // the main GIL is held: an own-GIL worker refuses it.
    assert!(stdout.contains("\nlegacy in main: imported\n"), "{stdout}");
    assert!(
        stdout.contains(
            "\nlegacy in a worker: ImportError: module cprimes_legacy does not support loading \
             in subinterpreters\n"
        ),
        "{stdout}"
    );
}

#[test]
fn a_rust_extension_on_cpython_sys_runs_in_parallel_workers() {
    let _serial = one_at_a_time();
    let root = workspace_root();
    let status = cargo()
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "--locked",
            "--release",
            "--manifest-path",
        ])
        .arg(root.join("examples/extensions/rust/Cargo.toml"))
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "cargo build of examples/extensions/rust failed"
    );

    let dir = site("rust");
    let module = dir.join(format!("rprimes{}", build_config().ext_suffix));
    std::fs::copy(build_root().join("release/librprimes.so"), &module).unwrap();
    run_parallel(&dir, &["rprimes"]);
}
