//! The property test of the value boundary (`runtime/tests/python/fuzz_values.py`), run through the
//! `subinterp` binary: random shareable and non-shareable values through channels, `select`,
//! `go`, a `Pool` and the executor, checked against the README's contract.
//!
//! `SUBINTERP_FUZZ_SEED` and `SUBINTERP_FUZZ_COUNT` change the seed (default 0) and the
//! number of cases (default: the script's, 3,000, about 10 s); `cargo xtask stress` runs more.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_subinterp");

/// Far more than the default run needs: a run that takes this long is hung.
const TIMEOUT: Duration = Duration::from_secs(180);

/// Runs `script` with `args`, killing it after [`TIMEOUT`]; returns whether it exited 0, its
/// stdout and its stderr.
fn run_with_timeout(script: &PathBuf, args: &[String]) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .arg("run")
        .arg(script)
        .args(args)
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .env_remove("LD_LIBRARY_PATH")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("subinterp starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).ok();
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    let Some(status) = status else {
        panic!("the fuzz run hung: killed after {TIMEOUT:?}\n{stdout}\n{stderr}");
    };
    (status.success(), stdout, stderr)
}

#[test]
fn random_values_cross_every_boundary_or_are_refused_cleanly() {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/python/fuzz_values.py");
    let seed = std::env::var("SUBINTERP_FUZZ_SEED").unwrap_or_else(|_| "0".into());
    let mut args = vec!["--seed".to_string(), seed];
    if let Ok(count) = std::env::var("SUBINTERP_FUZZ_COUNT") {
        args.extend(["--count".to_string(), count]);
    }
    let (success, stdout, stderr) = run_with_timeout(&script, &args);
    let last = stdout.lines().last().unwrap_or_default();
    let counts: Vec<&str> = last.split(' ').collect();
    let well_formed =
        matches!(counts.as_slice(), [n, "passed,", _, "failed"] if n.parse::<u64>().is_ok());
    assert!(
        success && well_formed && last.ends_with(" 0 failed"),
        "the fuzz run failed ({last:?})\n{stdout}\n{stderr}"
    );
    let passed: u64 = counts[0].parse().unwrap();
    assert!(passed > 1000, "too few checks ran: {last}");
    let lines: Vec<&str> = stdout.lines().collect();
    eprintln!("{}", lines[lines.len().saturating_sub(2)..].join("\n"));
}
