//! The patch series: reading `series`, and applying `git format-patch` files to a tree.
//!
//! Applying is strict on content (no fuzz: every context line must match) but tolerates
//! hunks that moved (an offset), which `patches check` reports as rot to refresh.
//! A patch is applied all-or-nothing: files are written only once every hunk fits.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

/// One patch file named in the series.
#[derive(Debug, Clone)]
pub struct Patch {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Reads `dir/series`: one patch file name per line; blank lines and `#` comments ignored.
pub fn read_series(dir: &Path) -> Result<Vec<Patch>> {
    let series = dir.join("series");
    let text = fs::read_to_string(&series)
        .with_context(|| format!("reading the patch series {}", series.display()))?;
    let mut patches = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let name = line.split('#').next().unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let path = dir.join(name);
        let bytes = fs::read(&path).with_context(|| {
            format!(
                "{}:{}: patch {name} is listed but cannot be read",
                series.display(),
                number + 1
            )
        })?;
        patches.push(Patch {
            name: name.to_string(),
            bytes,
        });
    }
    Ok(patches)
}

/// What applying one patch did.
#[derive(Debug, Default)]
pub struct Applied {
    pub files: usize,
    pub hunks: usize,
    /// Hunks that applied away from the line their header names: `(file, hunk number, offset)`.
    pub offsets: Vec<(PathBuf, usize, isize)>,
}

/// Applies one patch to the tree at `root`, all-or-nothing.
pub fn apply(patch: &Patch, root: &Path) -> Result<Applied> {
    let text = String::from_utf8_lossy(&patch.bytes);
    let files = parse(&text).with_context(|| format!("patch {} is malformed", patch.name))?;
    ensure!(!files.is_empty(), "patch {} changes no file", patch.name);
    let mut applied = Applied::default();
    let mut results = Vec::new();
    for file in &files {
        let new = apply_file(file, root, &mut applied)
            .with_context(|| format!("patch {} does not apply", patch.name))?;
        results.push((root.join(file.path()), new));
    }
    for (path, new) in results {
        match new {
            Some(content) => {
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent)?;
                }
                fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
            }
            None => {
                fs::remove_file(&path).with_context(|| format!("deleting {}", path.display()))?
            }
        }
    }
    applied.files = files.len();
    Ok(applied)
}

/// The changes to one file.
#[derive(Debug)]
struct FilePatch {
    old: Option<String>,
    new: Option<String>,
    hunks: Vec<Hunk>,
}

impl FilePatch {
    fn path(&self) -> &str {
        self.new
            .as_deref()
            .or(self.old.as_deref())
            .unwrap_or_default()
    }
}

#[derive(Debug)]
struct Hunk {
    header: String,
    old_start: usize,
    /// Lines as they are before the patch (context and removals), with line endings.
    before: Vec<String>,
    /// Lines as they are after the patch (context and additions), with line endings.
    after: Vec<String>,
}

/// Parses the file sections of a unified diff, skipping the mail header and signature.
fn parse(text: &str) -> Result<Vec<FilePatch>> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut files = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with("rename from ") || line.starts_with("copy from ") {
            bail!(
                "renames and copies are not supported: regenerate with `git format-patch --no-renames`"
            );
        }
        if line.starts_with("GIT binary patch") {
            bail!("binary patches are not supported");
        }
        let is_file_start = line.starts_with("--- ")
            && lines
                .get(i + 1)
                .is_some_and(|next| next.starts_with("+++ "));
        if !is_file_start {
            i += 1;
            continue;
        }
        let old = diff_path(line, "--- ", "a/");
        let new = diff_path(lines[i + 1], "+++ ", "b/");
        ensure!(
            old.is_some() || new.is_some(),
            "a file goes from /dev/null to /dev/null"
        );
        i += 2;
        let mut hunks = Vec::new();
        while let Some(header) = lines.get(i).filter(|l| l.starts_with("@@ ")) {
            let (hunk, used) = parse_hunk(header, &lines[i + 1..])?;
            hunks.push(hunk);
            i += 1 + used;
        }
        ensure!(!hunks.is_empty(), "no hunks for {}", line.trim_end());
        files.push(FilePatch { old, new, hunks });
    }
    Ok(files)
}

/// `--- a/Modules/x.c` -> `Modules/x.c`; `/dev/null` -> None.
fn diff_path(line: &str, marker: &str, side: &str) -> Option<String> {
    let raw = line[marker.len()..].trim_end_matches(['\n', '\r']);
    let raw = raw.split('\t').next().unwrap_or(raw);
    if raw == "/dev/null" {
        return None;
    }
    Some(raw.strip_prefix(side).unwrap_or(raw).to_string())
}

/// Parses `@@ -l,s +l,s @@` and its body; returns the hunk and how many body lines it used.
fn parse_hunk(header: &str, body: &[&str]) -> Result<(Hunk, usize)> {
    let ranges = header
        .strip_prefix("@@ -")
        .and_then(|rest| rest.split(" @@").next())
        .with_context(|| format!("bad hunk header {header:?}"))?;
    let (old, new) = ranges
        .split_once(" +")
        .with_context(|| format!("bad hunk header {header:?}"))?;
    let (old_start, mut old_left) = parse_range(old, header)?;
    let (_, mut new_left) = parse_range(new, header)?;
    let mut hunk = Hunk {
        header: header.trim_end().to_string(),
        old_start,
        before: Vec::new(),
        after: Vec::new(),
    };
    let mut used = 0;
    while old_left > 0 || new_left > 0 {
        let line = body
            .get(used)
            .with_context(|| format!("hunk {header:?} ends early"))?;
        used += 1;
        let (kind, content) = match line.as_bytes().first() {
            // An empty line in the body is context from a blank line whose space was stripped.
            Some(b'\n') => ('\n', "\n"),
            Some(&byte) if byte.is_ascii() => (byte as char, &line[1..]),
            _ => bail!("unexpected line {line:?} in hunk {header:?}"),
        };
        match kind {
            ' ' | '\n' => {
                hunk.before.push(content.to_string());
                hunk.after.push(content.to_string());
                old_left = old_left
                    .checked_sub(1)
                    .context("hunk longer than its header")?;
                new_left = new_left
                    .checked_sub(1)
                    .context("hunk longer than its header")?;
            }
            '-' => {
                hunk.before.push(content.to_string());
                old_left = old_left
                    .checked_sub(1)
                    .context("hunk longer than its header")?;
            }
            '+' => {
                hunk.after.push(content.to_string());
                new_left = new_left
                    .checked_sub(1)
                    .context("hunk longer than its header")?;
            }
            '\\' => strip_last_newline(&mut hunk, body.get(used.wrapping_sub(2))),
            _ => bail!("unexpected line {line:?} in hunk {header:?}"),
        }
    }
    // A "\ No newline at end of file" may follow the last line.
    if body.get(used).is_some_and(|l| l.starts_with('\\')) {
        strip_last_newline(&mut hunk, body.get(used - 1));
        used += 1;
    }
    Ok((hunk, used))
}

/// Applies "\ No newline at end of file" to the side(s) the previous line belongs to.
fn strip_last_newline(hunk: &mut Hunk, previous: Option<&&str>) {
    let chop = |lines: &mut Vec<String>| {
        if let Some(last) = lines.last_mut()
            && last.ends_with('\n')
        {
            last.pop();
        }
    };
    match previous.and_then(|l| l.chars().next()) {
        Some('-') => chop(&mut hunk.before),
        Some('+') => chop(&mut hunk.after),
        _ => {
            chop(&mut hunk.before);
            chop(&mut hunk.after);
        }
    }
}

fn parse_range(range: &str, header: &str) -> Result<(usize, usize)> {
    let (start, len) = range.split_once(',').unwrap_or((range, "1"));
    let parse = |s: &str| {
        s.parse::<usize>()
            .with_context(|| format!("bad hunk header {header:?}"))
    };
    Ok((parse(start)?, parse(len)?))
}

/// Computes the new content of one file (None: deleted), without writing anything.
fn apply_file(file: &FilePatch, root: &Path, applied: &mut Applied) -> Result<Option<String>> {
    let path = root.join(file.path());
    let mut lines: Vec<String> = match &file.old {
        None => {
            ensure!(
                !path.exists(),
                "{} is created by the patch but already exists",
                file.path()
            );
            Vec::new()
        }
        Some(old) => {
            let bytes = fs::read(root.join(old))
                .with_context(|| format!("{old} is changed by the patch but cannot be read"))?;
            let text = String::from_utf8(bytes)
                .with_context(|| format!("{old} is not UTF-8; only text files can be patched"))?;
            text.split_inclusive('\n').map(str::to_string).collect()
        }
    };
    let mut shift: isize = 0;
    for (number, hunk) in file.hunks.iter().enumerate() {
        let number = number + 1;
        let wanted = (hunk.old_start.max(1) as isize - 1 + shift).max(0) as usize;
        let at = find_hunk(&lines, &hunk.before, wanted).with_context(|| {
            let expected = hunk.before.first().map(|l| l.trim_end()).unwrap_or("");
            format!(
                "hunk #{number} ({}) of {} does not match the file near line {}: \
                 expected {:?} ...",
                hunk.header,
                file.path(),
                hunk.old_start,
                expected
            )
        })?;
        let offset = at as isize - wanted as isize;
        if offset != 0 {
            applied
                .offsets
                .push((PathBuf::from(file.path()), number, offset));
        }
        lines.splice(at..at + hunk.before.len(), hunk.after.iter().cloned());
        shift += offset + hunk.after.len() as isize - hunk.before.len() as isize;
        applied.hunks += 1;
    }
    if file.new.is_none() {
        ensure!(
            lines.is_empty(),
            "{} is deleted by the patch but has other content",
            file.path()
        );
        return Ok(None);
    }
    Ok(Some(lines.concat()))
}

/// Where `needle` occurs in `lines`, searching outward from `wanted`.
fn find_hunk(lines: &[String], needle: &[String], wanted: usize) -> Option<usize> {
    let fits =
        |at: usize| at + needle.len() <= lines.len() && lines[at..at + needle.len()] == *needle;
    let last = lines.len().saturating_sub(needle.len());
    (0..=last.max(wanted)).find_map(|distance| {
        let below = wanted.checked_sub(distance).filter(|&at| fits(at));
        below.or_else(|| Some(wanted + distance).filter(|&at| at <= last && fits(at)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
        dir
    }

    fn patch(text: &str) -> Patch {
        Patch {
            name: "0001-test.patch".into(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    const HEADER: &str = "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n\
        Subject: [PATCH] test\n\nDescription: a test.\n---\n";

    #[test]
    fn applies_changes_creations_and_deletions() {
        let dir = tree(&[("a.c", "one\ntwo\nthree\nfour\n"), ("gone.txt", "bye\n")]);
        let text = format!(
            "{HEADER}diff --git a/a.c b/a.c\n--- a/a.c\n+++ b/a.c\n@@ -2,2 +2,3 @@\n two\n-three\n+THREE\n+3.5\n\
             diff --git a/new/b.py b/new/b.py\nnew file mode 100644\n--- /dev/null\n+++ b/new/b.py\n@@ -0,0 +1,2 @@\n+x = 1\n+-- \n\
             diff --git a/gone.txt b/gone.txt\n--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n-- \n2.47.3\n\n"
        );
        let applied = apply(&patch(&text), dir.path()).unwrap();
        assert_eq!((applied.files, applied.hunks), (3, 3));
        assert!(applied.offsets.is_empty());
        let read = |p: &str| fs::read_to_string(dir.path().join(p)).unwrap();
        assert_eq!(read("a.c"), "one\ntwo\nTHREE\n3.5\nfour\n");
        assert_eq!(read("new/b.py"), "x = 1\n-- \n");
        assert!(!dir.path().join("gone.txt").exists());
    }

    #[test]
    fn reports_offsets_and_handles_missing_final_newline() {
        let dir = tree(&[("f", "pad\npad\nx\ny")]);
        let text = format!(
            "{HEADER}--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+z\n"
        );
        let applied = apply(&patch(&text), dir.path()).unwrap();
        assert_eq!(applied.offsets, vec![(PathBuf::from("f"), 1, 2)]);
        assert_eq!(
            fs::read_to_string(dir.path().join("f")).unwrap(),
            "pad\npad\nx\nz\n"
        );
    }

    #[test]
    fn a_hunk_that_does_not_match_names_patch_file_and_hunk_and_writes_nothing() {
        let dir = tree(&[("ok.c", "a\nb\n"), ("Modules/x.c", "int x;\nint y;\n")]);
        let text = format!(
            "{HEADER}--- a/ok.c\n+++ b/ok.c\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n\
             --- a/Modules/x.c\n+++ b/Modules/x.c\n@@ -1,2 +1,2 @@\n int x;\n-int z;\n+int w;\n"
        );
        let err = format!("{:#}", apply(&patch(&text), dir.path()).unwrap_err());
        assert!(
            err.contains("patch 0001-test.patch does not apply"),
            "{err}"
        );
        assert!(
            err.contains("hunk #1 (@@ -1,2 +1,2 @@) of Modules/x.c"),
            "{err}"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("ok.c")).unwrap(),
            "a\nb\n"
        );
    }

    #[test]
    fn series_skips_comments_and_names_missing_patches() {
        let dir = tree(&[
            (
                "series",
                "# comment\n\n0001-a.patch  # why\n0002-missing.patch\n",
            ),
            ("0001-a.patch", "x"),
        ]);
        let err = format!("{:#}", read_series(dir.path()).unwrap_err());
        assert!(
            err.contains("series:4: patch 0002-missing.patch is listed but cannot be read"),
            "{err}"
        );
        fs::write(dir.path().join("series"), "0001-a.patch\n").unwrap();
        let patches = read_series(dir.path()).unwrap();
        assert_eq!(patches.len(), 1);
        assert_eq!(patches[0].name, "0001-a.patch");
    }

    #[test]
    fn an_empty_series_is_fine() {
        let dir = tree(&[("series", "# nothing yet\n")]);
        assert!(read_series(dir.path()).unwrap().is_empty());
    }
}
