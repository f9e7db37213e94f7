//! `cargo xtask stress [--quick]`: the runtime's soak and fault tests and the value fuzzer with
//! many cases, run by the release `subinterp` binary.
//!
//! Runs `runtime/tests/python/fuzz_values.py` (50,000 random values; `--quick`: 10,000) and
//! every script in `runtime/tests/soak/` (those not starting with `_`, with `--quick` passed
//! on). Each script prints what it tried and ends with `N passed, M failed`; this prints every
//! script's closing line and the total, and fails if any check failed or any script did not
//! exit cleanly (a crash, a hang caught by its watchdog, a missing closing line).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;

use crate::build_python::{BuildOptions, SourceArgs, ensure_built};
use crate::layout;

/// Random values the fuzzer tries: (full run, `--quick`).
const FUZZ_COUNT: (u64, u64) = (50_000, 10_000);

#[derive(Debug, Args)]
pub struct Stress {
    /// A short version (about a minute on 2 cores; `cargo xtask test` runs it).
    #[arg(long)]
    pub quick: bool,
    /// Seed of the value fuzzer (default: 0 with `--quick`, else taken from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
}

pub fn run(args: &Stress) -> Result<()> {
    ensure_built(&BuildOptions::default(), &SourceArgs::default(), false)?;
    let root = layout::workspace_root();
    let binary = layout::build_release_command()?;

    // The full run tries new values every time (the seed is printed, to rerun a failure);
    // the quick one, part of `cargo xtask test`, always the same ones.
    let seed = args.seed.unwrap_or_else(|| {
        if args.quick {
            0
        } else {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |t| t.as_secs())
        }
    });
    let count = if args.quick {
        FUZZ_COUNT.1
    } else {
        FUZZ_COUNT.0
    };
    let mut scripts = vec![Script {
        path: root.join("runtime/tests/python/fuzz_values.py"),
        args: vec![
            "--seed".into(),
            seed.to_string(),
            "--count".into(),
            count.to_string(),
        ],
    }];
    for path in soak_scripts(&root.join("runtime/tests/soak"))? {
        let args = if args.quick {
            vec!["--quick".into()]
        } else {
            Vec::new()
        };
        scripts.push(Script { path, args });
    }

    let started = Instant::now();
    let mut results = Vec::new();
    for script in &scripts {
        let name = script
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        println!("== {name} {}", script.args.join(" "));
        let result = run_script(&root, &binary, script)?;
        println!(
            "== {name}: {} ({:.1} s)",
            result.summary(),
            result.took.as_secs_f64()
        );
        results.push((name, result));
    }

    println!();
    println!("stress{}:", if args.quick { " --quick" } else { "" });
    let (mut passed, mut failed) = (0, 0);
    for (name, result) in &results {
        println!(
            "  {name:<16} {:<40} {:>7.1} s",
            result.summary(),
            result.took.as_secs_f64()
        );
        passed += result.passed;
        failed += result.failed;
    }
    println!(
        "{passed} passed, {failed} failed ({:.0} s, fuzz seed {seed})",
        started.elapsed().as_secs_f64()
    );
    let broken: Vec<&str> = results
        .iter()
        .filter(|(_, r)| !r.clean())
        .map(|(name, _)| name.as_str())
        .collect();
    if failed > 0 || !broken.is_empty() {
        bail!(
            "stress: {failed} checks failed{}",
            if broken.is_empty() {
                String::new()
            } else {
                format!("; did not finish cleanly: {}", broken.join(", "))
            }
        );
    }
    Ok(())
}

/// One script to run, with its arguments.
struct Script {
    path: PathBuf,
    args: Vec<String>,
}

/// How a script ended.
struct Outcome {
    passed: u64,
    failed: u64,
    /// The closing `N passed, M failed` line, if the script printed one.
    closing: Option<String>,
    /// Whether it exited with status 0.
    success: bool,
    /// Its exit status, in words.
    status: String,
    took: Duration,
}

impl Outcome {
    fn clean(&self) -> bool {
        self.success && self.closing.is_some()
    }

    fn summary(&self) -> String {
        match (&self.closing, self.success) {
            (Some(line), true) => line.clone(),
            (Some(line), false) => format!("{line}; exited {}", self.status),
            (None, _) => format!("no closing line; exited {}", self.status),
        }
    }
}

/// The soak scripts in `dir`, in name order (helpers start with `_`).
fn soak_scripts(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut scripts = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.ends_with(".py") && !name.starts_with('_') {
            scripts.push(path);
        }
    }
    scripts.sort();
    ensure!(!scripts.is_empty(), "no soak scripts in {}", dir.display());
    Ok(scripts)
}

/// Runs one script, echoing its output as it comes, and reads its closing line.
fn run_script(root: &Path, binary: &Path, script: &Script) -> Result<Outcome> {
    let started = Instant::now();
    let mut child = Command::new(binary)
        .current_dir(root)
        .arg("run")
        .arg(&script.path)
        .args(&script.args)
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("running {}", binary.display()))?;
    let mut last = None;
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading the script's output")?;
        println!("   {line}");
        if !line.trim().is_empty() {
            last = Some(line);
        }
    }
    let status = child.wait().context("waiting for the script")?;
    let counts = last.as_deref().and_then(closing_counts);
    let (passed, failed) = counts.unwrap_or((0, 0));
    Ok(Outcome {
        passed,
        failed,
        closing: counts.and(last),
        success: status.success(),
        status: status.to_string(),
        took: started.elapsed(),
    })
}

/// `(N, M)` of a line `N passed, M failed`.
fn closing_counts(line: &str) -> Option<(u64, u64)> {
    let (passed, failed) = line.trim().split_once(" passed, ")?;
    let failed = failed.strip_suffix(" failed")?;
    Some((passed.parse().ok()?, failed.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::closing_counts;

    #[test]
    fn reads_the_closing_line() {
        assert_eq!(closing_counts("12 passed, 0 failed"), Some((12, 0)));
        assert_eq!(closing_counts("3 passed, 4 failed\n"), Some((3, 4)));
        assert_eq!(closing_counts("tried: 3 passed, x failed"), None);
        assert_eq!(closing_counts("Traceback (most recent call last):"), None);
    }

    #[test]
    fn finds_the_soak_scripts() {
        let dir = crate::layout::workspace_root().join("runtime/tests/soak");
        let scripts = super::soak_scripts(&dir).unwrap();
        let names: Vec<_> = scripts
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"channels.py".to_string()), "{names:?}");
        assert!(names.iter().all(|n| !n.starts_with('_')), "{names:?}");
    }
}
