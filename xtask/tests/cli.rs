//! The `cargo xtask` command line, run as a user runs it, on scratch build directories.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TARBALL: &str = "Python-3.13.5.tar.xz";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The release tarball (see the same helper in the unit tests).
fn release_tarball() -> PathBuf {
    let cache = std::env::var_os("SUBINTERP_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("subinterp")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/subinterp")));
    let candidates = [
        std::env::var_os("CPYTHON_SOURCE").map(PathBuf::from),
        cache.map(|c| c.join(TARBALL)),
        Some(workspace_root().join("../shared/cpython").join(TARBALL)),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("these tests need {TARBALL}: set CPYTHON_SOURCE or run `cargo xtask build-python` once")
    })
}

/// `xtask ARGS` with builds and cache in `scratch`.
fn xtask(scratch: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("SUBINTERP_BUILDS_DIR", scratch.join("builds"))
        .env("SUBINTERP_CACHE_DIR", scratch.join("cache"))
        .env_remove("CPYTHON_SOURCE")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Directories a build left behind in the scratch build dir.
fn leftovers(scratch: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(scratch.join("builds")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_corrupted_tarball_is_refused_and_nothing_is_installed() {
    let scratch = tempfile::tempdir().unwrap();
    let mut bytes = fs::read(release_tarball()).unwrap();
    bytes[4096] ^= 1;
    let bad = scratch.path().join(TARBALL);
    fs::write(&bad, bytes).unwrap();
    let out = xtask(
        scratch.path(),
        &["build-python", "--source", bad.to_str().unwrap()],
    );
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("sha256 mismatch") && err.contains("nothing was built or installed"),
        "{err}"
    );
    assert!(
        leftovers(scratch.path()).is_empty(),
        "{:?}",
        leftovers(scratch.path())
    );
    assert!(
        !scratch.path().join("cache").join(TARBALL).exists(),
        "a bad tarball is not cached"
    );
}

#[test]
fn a_patch_that_does_not_apply_names_itself_and_its_hunk_and_nothing_is_installed() {
    let scratch = tempfile::tempdir().unwrap();
    let patches = scratch.path().join("patches");
    fs::create_dir(&patches).unwrap();
    fs::write(patches.join("series"), "0001-stale.patch\n").unwrap();
    fs::write(
        patches.join("0001-stale.patch"),
        "Subject: [PATCH] a patch written for another version\n---\n\
         --- a/Lib/os.py\n+++ b/Lib/os.py\n@@ -1,2 +1,2 @@\n-this line is not in os.py\n+replacement\n context\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "build-python",
            "--source",
            release_tarball().to_str().unwrap(),
        ])
        .env("SUBINTERP_BUILDS_DIR", scratch.path().join("builds"))
        .env("SUBINTERP_CACHE_DIR", scratch.path().join("cache"))
        .env("SUBINTERP_PATCHES_DIR", &patches)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("patch 0001-stale.patch does not apply"),
        "{err}"
    );
    assert!(
        err.contains("hunk #1 (@@ -1,2 +1,2 @@) of Lib/os.py"),
        "{err}"
    );
    let builds: Vec<PathBuf> = fs::read_dir(scratch.path().join("builds"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        builds.iter().all(|b| !b.join("prefix").exists()),
        "nothing is installed: {builds:?}"
    );
    assert!(!scratch.path().join("builds/current-prefix").exists());
}

#[test]
fn a_missing_source_path_is_a_clear_error() {
    let scratch = tempfile::tempdir().unwrap();
    let out = xtask(
        scratch.path(),
        &["build-python", "--source", "/no/such/Python-3.13.5.tar.xz"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn the_python_command_runs_the_built_interpreter() {
    let pointer = workspace_root().join("target/cpython/current-prefix");
    assert!(
        pointer.exists(),
        "no built CPython: run `cargo xtask build-python` first"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "python",
            "-c",
            "import sys; print(sys.version.split()[0]); sys.exit(3)",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "3.13.5",
        "{}",
        stderr(&out)
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "the interpreter's exit status is passed through"
    );
}
