//! A program of your own that embeds subinterp (`examples/embed`, a crate outside this
//! workspace, as a user's would be) builds with a plain `cargo build` in its directory and runs
//! without any environment variable: `subinterp-build` gives it the rpath that Cargo does not
//! pass on from `subinterp`'s own build script.

use std::process::Command;

use subinterp_e2e::{python_prefix, workspace_root};

#[test]
fn a_crate_depending_on_subinterp_builds_and_runs_as_is() {
    let root = workspace_root();
    let app = root.join("examples/embed");
    let target = root.join("target/downstream");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = Command::new(cargo)
        .current_dir(&app)
        .args(["build", "--locked", "--quiet"])
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(build.success(), "cargo build of examples/embed failed");

    let out = Command::new(target.join("debug/embed-demo"))
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .output()
        .expect("the program starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    let primes = lines.next().unwrap_or_default();
    assert!(
        primes.starts_with("primes below 400000: 33860 (2 interpreters, CPU/wall "),
        "{stdout}"
    );
    assert_eq!(lines.next(), Some("sum over a channel: Int(6)"), "{stdout}");
    let prefix = python_prefix();
    assert_eq!(
        lines.next(),
        Some(format!("python home: {}", prefix.display()).as_str()),
        "{stdout}"
    );
    let libpython = lines.next().unwrap_or_default();
    assert!(
        libpython.starts_with(&format!("libpython: {}", prefix.display())),
        "{stdout}"
    );
}

/// `cargo xtask bundle` makes a directory that runs from anywhere: moved to another path, the
/// program loads the bundle's own libpython and standard library, not the build's.
#[test]
fn a_bundle_runs_after_being_moved() {
    let root = workspace_root();
    let scratch = root.join("target/downstream/bundle-test");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let (built, moved) = (scratch.join("built"), scratch.join("moved elsewhere"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let bundle = Command::new(cargo)
        .current_dir(&root)
        .args(["xtask", "bundle", "--bin", "embed-demo"])
        .args(["--manifest-path", "examples/embed/Cargo.toml"])
        .args(["--python", "examples/embed/python", "--out"])
        .arg(&built)
        // Its own target folder: the one of this test run may be locked.
        .env("CARGO_TARGET_DIR", root.join("target/downstream"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(bundle.success(), "cargo xtask bundle failed");
    assert!(built.join("lib/python3.13/site-packages/work.py").is_file());
    std::fs::rename(&built, &moved).unwrap();

    let out = Command::new(moved.join("embed-demo"))
        .current_dir(&scratch)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .output()
        .expect("the bundled program starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("primes below 400000: 33860"), "{stdout}");
    assert!(
        stdout.contains(&format!("python home: {}\n", moved.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("libpython: {}/lib/", moved.display())),
        "{stdout}"
    );
}
