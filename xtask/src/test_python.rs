//! `cargo xtask test-python`: CPython's regression suite (`python -m test`) on our build,
//! minus the annotated expected failures of these machines.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use clap::Args;

use crate::build_python::{Build, BuildOptions, SourceArgs, ensure_built};
use crate::layout;

/// The subset run by `--quick`: subinterpreters, threads, fork, embedding, imports, the C API,
/// and the tests our patches add (`test_subinterp_*`).
const QUICK: &[&str] = &[
    "test_interpreters",
    "test__interpreters",
    "test__interpchannels",
    "test_multiprocessing_fork",
    "test_threading",
    "test_thread",
    "test_threading_local",
    "test_fork1",
    "test_wait4",
    "test_embed",
    "test_import",
    "test_importlib",
    "test_capi",
    "test_faulthandler",
    "test_tracemalloc",
];

/// One expected failure: a test id (as regrtest names it) and why it fails here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedFailure {
    pub test: String,
    pub reason: String,
}

/// The annotated expected-failures file for the pinned minor version.
pub fn expected_failures_file() -> PathBuf {
    layout::workspace_root()
        .join("xtask")
        .join(format!("expected-failures-{}.txt", crate::pin::MINOR))
}

/// Parses `test.id  # reason` lines; blank lines and whole-line comments are skipped.
/// Every entry must say why it fails.
pub fn parse_expected(text: &str, origin: &Path) -> Result<Vec<ExpectedFailure>> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{}:{}", origin.display(), number + 1);
        let (test, reason) = line
            .split_once('#')
            .with_context(|| format!("{at}: `{line}` has no `# reason`"))?;
        let (test, reason) = (test.trim(), reason.trim());
        ensure!(!reason.is_empty(), "{at}: `{test}` has an empty reason");
        ensure!(
            test.starts_with("test.") && !test.contains(char::is_whitespace),
            "{at}: `{test}` is not a test id like test.test_x.Class.test_method"
        );
        entries.push(ExpectedFailure {
            test: test.to_string(),
            reason: reason.to_string(),
        });
    }
    Ok(entries)
}

/// The regrtest module (`test.test_x` -> `test_x`) an id belongs to.
fn test_module(id: &str) -> &str {
    id.split('.').nth(1).unwrap_or(id)
}

#[derive(Debug, Args)]
pub struct TestPython {
    #[command(flatten)]
    pub options: BuildOptions,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Only the subset covering subinterpreters, threads, fork, embedding, imports and the C API.
    #[arg(long)]
    pub quick: bool,
    /// Run only the expected failures, and report those that pass now (so the list can shrink).
    #[arg(long, conflicts_with = "quick")]
    pub check_expected: bool,
    /// Extra arguments for `python -m test` (test names, `-v`, ...), after `--`.
    #[arg(last = true, value_name = "REGRTEST_ARGS")]
    pub regrtest_args: Vec<String>,
}

pub fn run(args: &TestPython) -> Result<()> {
    let build = ensure_built(&args.options, &args.source, false)?;
    let path = expected_failures_file();
    let expected = parse_expected(
        &fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
        &path,
    )?;
    let jobs = args
        .source
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    if args.check_expected {
        return check_expected(&build, &expected);
    }
    let ignore = build.dir.join("regrtest-ignore.txt");
    fs::write(
        &ignore,
        expected
            .iter()
            .map(|e| format!("{}\n", e.test))
            .collect::<String>(),
    )?;
    let mut regrtest = regrtest(&build)?;
    regrtest
        .arg(format!("-j{jobs}"))
        .args(["--timeout", "1200", "--rerun", "--ignorefile"])
        .arg(&ignore);
    if args.quick {
        regrtest.args(QUICK).args(patch_tests(&build)?);
    }
    regrtest.args(&args.regrtest_args);
    eprintln!(
        "running CPython's regression suite{} on {} ({} expected failures deselected, see {})",
        if args.quick { " (quick subset)" } else { "" },
        build.variant,
        expected.len(),
        path.display()
    );
    let status = regrtest.status().context("running the regression suite")?;
    if !status.success() {
        bail!(
            "CPython's regression suite failed ({status}). A failure caused by this machine rather than \
             by CPython or our patches goes into {} with its precise reason.",
            path.display()
        );
    }
    Ok(())
}

/// `python -m test` on the installed build, from a scratch directory, with no outside
/// Python environment leaking in.
fn regrtest(build: &Build) -> Result<Command> {
    let scratch = build.dir.join("regrtest");
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch)?;
    let mut cmd = Command::new(build.python());
    cmd.current_dir(&scratch).args(["-m", "test"]);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PYTHON") {
            cmd.env_remove(name);
        }
    }
    Ok(cmd)
}

/// The test modules the patch series adds (`Lib/test/test_subinterp_*`), found in the install.
fn patch_tests(build: &Build) -> Result<Vec<String>> {
    let lib = build
        .prefix()
        .join("lib")
        .join(format!("python{}", crate::pin::MINOR))
        .join("test");
    let mut names: Vec<String> = fs::read_dir(&lib)
        .with_context(|| format!("reading {}", lib.display()))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let name = name.strip_suffix(".py").map(str::to_string).unwrap_or(name);
            name.starts_with("test_subinterp_").then_some(name)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Runs each expected failure alone and reports those that pass now.
fn check_expected(build: &Build, expected: &[ExpectedFailure]) -> Result<()> {
    let mut passing = Vec::new();
    for entry in expected {
        let mut regrtest = regrtest(build)?;
        regrtest.args([test_module(&entry.test), "-m", &entry.test]);
        let out = regrtest.output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let ran = !text.contains("no tests ran") && !text.contains("NO TESTS RAN");
        let verdict = match (out.status.success(), ran) {
            (_, false) => "not found",
            (true, true) => "passes",
            (false, true) => "fails",
        };
        println!("{verdict:>9}  {}", entry.test);
        if verdict != "fails" {
            passing.push(entry.test.clone());
        }
    }
    ensure!(
        passing.is_empty(),
        "{} expected failure(s) no longer fail here: remove them from {}",
        passing.len(),
        expected_failures_file().display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_with_reasons() {
        let text = "# header\n\n# group\ntest.test_socket.A.test_b  # no IPv6 here\n";
        let entries = parse_expected(text, Path::new("f")).unwrap();
        assert_eq!(
            entries,
            vec![ExpectedFailure {
                test: "test.test_socket.A.test_b".into(),
                reason: "no IPv6 here".into()
            }]
        );
        assert_eq!(test_module(&entries[0].test), "test_socket");
    }

    #[test]
    fn an_entry_without_a_reason_is_an_error() {
        let err = parse_expected("test.test_x.A.b\n", Path::new("f"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("f:1") && err.contains("no `# reason`"),
            "{err}"
        );
        let err = parse_expected("test.test_x.A.b #  \n", Path::new("f"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("empty reason"), "{err}");
        let err = parse_expected("test_x A  # why\n", Path::new("f"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a test id"), "{err}");
    }

    #[test]
    fn the_committed_file_parses_and_every_entry_is_unique() {
        let path = expected_failures_file();
        let entries = parse_expected(&fs::read_to_string(&path).unwrap(), &path).unwrap();
        let mut ids: Vec<&str> = entries.iter().map(|e| e.test.as_str()).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate entries in {}", path.display());
    }

    #[test]
    fn every_quick_test_exists_in_the_release() {
        let tests = crate::source::tests::release_tree().join("Lib/test");
        for name in QUICK {
            let found = tests.join(name).is_dir() || tests.join(format!("{name}.py")).is_file();
            assert!(
                found,
                "{name} is not a test in CPython {}",
                crate::pin::VERSION
            );
        }
    }
}
