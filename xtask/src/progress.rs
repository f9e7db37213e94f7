//! Progress display for long phases, and running tools with their output sent to a log file.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

/// Runs `work` as one named phase: a spinner (or bar) while it runs, then a line saying how
/// long it took. `work` may turn the spinner into a bar with `set_length`.
pub fn phase<T>(name: &str, work: impl FnOnce(&ProgressBar) -> Result<T>) -> Result<T> {
    let pb = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template(
            "{spinner:.cyan} {prefix:>9.bold} {wide_msg} {pos}/{len} {elapsed}",
        )
        .expect("valid template"),
    );
    pb.set_prefix(name.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    let start = Instant::now();
    let result = work(&pb);
    pb.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    match &result {
        Ok(_) => eprintln!("  ✓ {name:>9} {secs:.1}s"),
        Err(_) => eprintln!("  ✗ {name:>9} failed after {secs:.1}s"),
    }
    result
}

/// Makes `pb` a byte-counting bar of `total` bytes.
pub fn as_byte_bar(pb: &ProgressBar, total: u64) {
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner:.cyan} {prefix:>9.bold} [{bar:30}] {bytes}/{total_bytes} {wide_msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_length(total);
}

/// Makes `pb` a bar of `total` steps.
pub fn as_step_bar(pb: &ProgressBar, total: u64) {
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner:.cyan} {prefix:>9.bold} [{bar:30}] {pos}/{len} {wide_msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_length(total);
}

/// A build log: every tool's output goes here, in order.
#[derive(Debug)]
pub struct Log {
    path: PathBuf,
    file: File,
}

impl Log {
    /// Starts a fresh log at `path`.
    pub fn create(path: &Path) -> Result<Log> {
        let file =
            File::create(path).with_context(|| format!("creating log {}", path.display()))?;
        Ok(Log {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line of our own (not from a tool).
    pub fn note(&mut self, line: &str) {
        // A log write failure must not hide the build's own outcome.
        let _ = writeln!(self.file, "### {line}");
    }

    /// Runs `cmd` with stdout and stderr (interleaved) appended to the log, passing each line
    /// to `on_line`. A failure names the command and shows the log's tail and path.
    pub fn run(&mut self, mut cmd: Command, mut on_line: impl FnMut(&str)) -> Result<()> {
        let shown = format!("{cmd:?}");
        self.note(&format!("running {shown}"));
        let (reader, writer) = std::io::pipe().context("creating a pipe")?;
        cmd.stdout(writer.try_clone().context("duplicating a pipe")?)
            .stderr(writer);
        let mut child = cmd.spawn().with_context(|| {
            format!("could not start {shown}: is it installed? (see `cargo xtask deps`)")
        })?;
        // The command holds the pipe's write ends: drop it so reading ends when the child exits.
        drop(cmd);
        for line in BufReader::new(reader).split(b'\n') {
            let line = line.context("reading tool output")?;
            let line = String::from_utf8_lossy(&line);
            let _ = writeln!(self.file, "{line}");
            on_line(&line);
        }
        let status = child.wait().context("waiting for a tool")?;
        if !status.success() {
            self.file.flush().ok();
            bail!(
                "{shown} failed ({status})\n{}\nfull log: {}",
                tail(&self.path, 30),
                self.path.display()
            );
        }
        Ok(())
    }
}

/// The last `n` lines of a text file, framed for an error message.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    format!(
        "--- last {} lines of {} ---\n{}\n---",
        lines.len() - start,
        path.display(),
        lines[start..].join("\n")
    )
}
