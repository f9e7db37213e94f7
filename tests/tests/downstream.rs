//! A program of your own that embeds subinterp (`examples/embed`, a crate outside this
//! workspace, as a user's would be) builds with a plain `cargo build` in its directory and runs
//! without any environment variable: `subinterp-build` gives it the rpath that Cargo does not
//! pass on from `subinterp`'s own build script.

use std::process::Command;

use subinterp_e2e::workspace_root;

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
}
