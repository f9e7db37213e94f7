//! `cargo xtask wheel`: the `csp` extension module as a wheel that `pip install` puts into any
//! venv of a CPython 3.13 with the same ABI (the patched build, or a stock one).
//!
//! The wheel holds the module (`csp.cpython-313-x86_64-linux-gnu.so`) at its root and a
//! `csp-<version>.dist-info` folder with `METADATA`, `WHEEL` and `RECORD` (a SHA-256 and size
//! for every file), as the binary distribution format (PEP 427) asks. It is written here
//! rather than by maturin, which drives its own `cargo build` and is made for PyO3 crates,
//! while this module is the runtime's own C-API module built with the workspace's `cargo`.
//!
//! The module must bind to the libpython of the interpreter that loads it, so before packing
//! it this command checks that it names no libpython (`DT_NEEDED`) and carries no rpath
//! (`csp-module/build.rs` links it that way).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use sha2::{Digest, Sha256};

use crate::build_python::{BuildOptions, SourceArgs, build_csp_module, ensure_built};
use crate::layout;

/// The distribution's name, which is the module's.
const NAME: &str = "csp";

#[derive(Debug, Args)]
pub struct Wheel {
    /// The folder to write the wheel to (default `target/wheels`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `cargo xtask wheel`: builds the patched CPython if needed and the module against it,
/// checks how the module links, writes the wheel and prints its path on stdout.
pub fn run(args: &Wheel) -> Result<()> {
    let build = ensure_built(&BuildOptions::default(), &args.source, false)?;
    let library = build_csp_module()?;
    let bytes = fs::read(&library).with_context(|| format!("reading {}", library.display()))?;
    check_links(&bytes).with_context(|| format!("checking how {} links", library.display()))?;
    let target = Target::of(&build.python())?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| layout::workspace_root().join("target").join("wheels"));
    // csp-module shares the workspace's version (`version.workspace = true`), as this crate does.
    let wheel = write_wheel(&out, env!("CARGO_PKG_VERSION"), &target, &bytes)?;
    eprintln!(
        "wrote {} ({} KiB); install it with `python -m pip install {}`",
        wheel.display(),
        fs::metadata(&wheel)?.len() / 1024,
        wheel.display()
    );
    println!("{}", wheel.display());
    Ok(())
}

/// What the wheel is for, as the built interpreter describes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    /// `cp313-cp313-linux_x86_64`.
    tag: String,
    /// `.cpython-313-x86_64-linux-gnu.so`.
    ext_suffix: String,
    /// `3.13`.
    minor: String,
}

impl Target {
    /// Asks `python` for its version, ABI flags, platform and extension suffix.
    fn of(python: &Path) -> Result<Target> {
        let script = "import sys, sysconfig\n\
                      print('%d.%d' % sys.version_info[:2])\n\
                      print(sys.abiflags)\n\
                      print(sysconfig.get_platform())\n\
                      print(sysconfig.get_config_var('EXT_SUFFIX'))\n";
        let output = Command::new(python)
            .args(["-I", "-c", script])
            .output()
            .with_context(|| format!("running {}", python.display()))?;
        ensure!(
            output.status.success(),
            "{} could not describe itself:\n{}",
            python.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = text.lines().collect();
        let [minor, abiflags, platform, ext_suffix] = lines[..] else {
            bail!("unexpected answer from {}: {text:?}", python.display());
        };
        Ok(Target::new(minor, abiflags, platform, ext_suffix))
    }

    /// The tags `packaging` gives a CPython with these properties: interpreter `cp313`, ABI
    /// `cp313` plus the ABI flags, the platform with `-` and `.` as `_`.
    fn new(minor: &str, abiflags: &str, platform: &str, ext_suffix: &str) -> Target {
        let version = minor.replace('.', "");
        let platform = platform.replace(['-', '.'], "_");
        Target {
            tag: format!("cp{version}-cp{version}{abiflags}-{platform}"),
            ext_suffix: ext_suffix.to_owned(),
            minor: minor.to_owned(),
        }
    }
}

/// Writes `<out>/csp-<version>-<tag>.whl` holding `module` (the bytes of the shared library)
/// and returns its path.
fn write_wheel(out: &Path, version: &str, target: &Target, module: &[u8]) -> Result<PathBuf> {
    let dist_info = format!("{NAME}-{version}.dist-info");
    let files = [
        (
            format!("{NAME}{}", target.ext_suffix),
            module.to_vec(),
            0o755,
        ),
        (
            format!("{dist_info}/METADATA"),
            metadata(version, &target.minor).into_bytes(),
            0o644,
        ),
        (
            format!("{dist_info}/WHEEL"),
            wheel_file(&target.tag).into_bytes(),
            0o644,
        ),
    ];
    let mut record = String::new();
    for (name, data, _) in &files {
        record.push_str(&format!(
            "{name},sha256={},{}\n",
            base64_url(&Sha256::digest(data)),
            data.len()
        ));
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));

    let mut zip = ZipWriter::default();
    for (name, data, mode) in &files {
        zip.add(name, data, *mode)?;
    }
    // RECORD last, as the format recommends.
    zip.add(&format!("{dist_info}/RECORD"), record.as_bytes(), 0o644)?;

    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let path = out.join(format!("{NAME}-{version}-{}.whl", target.tag));
    let staging = out.join(format!(".{NAME}-{version}-{}.whl.new", target.tag));
    fs::write(&staging, zip.finish()).with_context(|| format!("writing {}", staging.display()))?;
    fs::rename(&staging, &path)?;
    Ok(path)
}

/// The core metadata (version 2.1) of the distribution.
fn metadata(version: &str, minor: &str) -> String {
    format!(
        "Metadata-Version: 2.1\n\
         Name: {NAME}\n\
         Version: {version}\n\
         Summary: Channels, select, go and an InterpreterPoolExecutor on own-GIL \
         subinterpreters: true multi-core Python (subinterp)\n\
         Project-URL: Repository, https://github.com/subinterp/subinterp\n\
         License: MIT OR Apache-2.0\n\
         Requires-Python: =={minor}.*\n\
         Classifier: Programming Language :: Python :: {minor}\n\
         Classifier: Programming Language :: Python :: Implementation :: CPython\n\
         Classifier: Programming Language :: Rust\n\
         Classifier: Operating System :: POSIX :: Linux\n"
    )
}

/// The `WHEEL` file: a platform wheel (installed into `platlib`).
fn wheel_file(tag: &str) -> String {
    format!(
        "Wheel-Version: 1.0\n\
         Generator: subinterp xtask {}\n\
         Root-Is-Purelib: false\n\
         Tag: {tag}\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// URL-safe base64 without padding (RFC 4648 section 5), as `RECORD` writes hashes.
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        // One byte gives 2 characters, two give 3, three give 4.
        for i in 0..=chunk.len() {
            text.push(char::from(
                ALPHABET[((group >> (18 - 6 * i)) & 0x3f) as usize],
            ));
        }
    }
    text
}

/// The shared libraries and run-time search paths an ELF file names in its dynamic section.
#[derive(Debug, Default, PartialEq, Eq)]
struct DynamicLinks {
    needed: Vec<String>,
    /// `DT_RPATH` and `DT_RUNPATH` entries.
    search_paths: Vec<String>,
}

/// Refuses a module that would load a libpython of its own: one that names libpython or
/// carries an rpath (into the prefix it was built against, say).
fn check_links(elf: &[u8]) -> Result<()> {
    let links = dynamic_links(elf)?;
    if let Some(lib) = links.needed.iter().find(|n| n.starts_with("libpython")) {
        bail!(
            "the module needs {lib}: it must bind to the libpython of the interpreter that \
             loads it (see csp-module/build.rs)"
        );
    }
    ensure!(
        links.search_paths.is_empty(),
        "the module carries an rpath {:?}: it would load libraries from the build machine",
        links.search_paths
    );
    Ok(())
}

/// Reads the `DT_NEEDED`, `DT_RPATH` and `DT_RUNPATH` entries of a 64-bit little-endian ELF.
fn dynamic_links(elf: &[u8]) -> Result<DynamicLinks> {
    const PT_LOAD: u32 = 1;
    const PT_DYNAMIC: u32 = 2;
    const DT_NEEDED: u64 = 1;
    const DT_STRTAB: u64 = 5;
    const DT_RPATH: u64 = 15;
    const DT_RUNPATH: u64 = 29;

    let u16_at = |at: usize| -> Result<u16> {
        let bytes = elf.get(at..at + 2).context("truncated ELF file")?;
        Ok(u16::from_le_bytes(bytes.try_into()?))
    };
    let u32_at = |at: usize| -> Result<u32> {
        let bytes = elf.get(at..at + 4).context("truncated ELF file")?;
        Ok(u32::from_le_bytes(bytes.try_into()?))
    };
    let u64_at = |at: usize| -> Result<u64> {
        let bytes = elf.get(at..at + 8).context("truncated ELF file")?;
        Ok(u64::from_le_bytes(bytes.try_into()?))
    };
    ensure!(
        elf.starts_with(b"\x7fELF\x02\x01"),
        "not a 64-bit little-endian ELF file"
    );
    let phoff = usize::try_from(u64_at(0x20)?)?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);

    // (type, file offset, virtual address, size in the file) of each program header.
    let headers = (0..phnum)
        .map(|i| {
            let at = phoff + i * phentsize;
            Ok((
                u32_at(at)?,
                u64_at(at + 8)?,
                u64_at(at + 16)?,
                u64_at(at + 32)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let file_offset = |address: u64| -> Result<usize> {
        let (_, offset, vaddr, _) = headers
            .iter()
            .find(|&&(kind, _, vaddr, size)| {
                kind == PT_LOAD && vaddr <= address && address < vaddr + size
            })
            .context("an address outside the loaded segments")?;
        Ok(usize::try_from(address - vaddr + offset)?)
    };

    let Some(&(_, dynamic, _, size)) = headers.iter().find(|h| h.0 == PT_DYNAMIC) else {
        return Ok(DynamicLinks::default()); // Statically linked.
    };
    let mut entries = Vec::new();
    let mut strtab = None;
    for i in 0..usize::try_from(size)? / 16 {
        let at = usize::try_from(dynamic)? + i * 16;
        let (tag, value) = (u64_at(at)?, u64_at(at + 8)?);
        match tag {
            0 => break,
            DT_STRTAB => strtab = Some(file_offset(value)?),
            DT_NEEDED | DT_RPATH | DT_RUNPATH => entries.push((tag, value)),
            _ => {}
        }
    }
    let strtab = strtab.context("a dynamic section without a string table")?;
    let mut links = DynamicLinks::default();
    for (tag, value) in entries {
        let start = strtab + usize::try_from(value)?;
        let tail = elf.get(start..).context("a name outside the file")?;
        let end = tail
            .iter()
            .position(|&b| b == 0)
            .context("an unterminated name")?;
        let name = String::from_utf8_lossy(&tail[..end]).into_owned();
        if tag == DT_NEEDED {
            links.needed.push(name);
        } else {
            links.search_paths.push(name);
        }
    }
    Ok(links)
}

/// A zip archive written in memory: deflated entries, no zip64 (a wheel of one module is far
/// from 4 GiB), every time stamp 1980-01-01 so that the same module makes the same wheel.
#[derive(Default)]
struct ZipWriter {
    bytes: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

impl ZipWriter {
    /// DOS date of 1980-01-01 (day 1, month 1, year 0), at 00:00.
    const DATE: u16 = (1 << 5) | 1;
    /// Version 2.0: deflate, folders.
    const VERSION: u16 = 20;

    fn add(&mut self, name: &str, data: &[u8], mode: u32) -> Result<()> {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data)?;
        let compressed = encoder.finish()?;
        let crc = crc32fast::hash(data);
        let size = u32::try_from(data.len()).context("a file of 4 GiB or more")?;
        let compressed_size = u32::try_from(compressed.len())?;
        let name_len = u16::try_from(name.len())?;
        let offset = u32::try_from(self.bytes.len()).context("an archive of 4 GiB or more")?;

        // The fields a local header and a central directory entry share, from "version
        // needed" to the name's length.
        let mut common = Vec::new();
        for half in [Self::VERSION, 0, 8, 0, Self::DATE] {
            common.extend_from_slice(&half.to_le_bytes()); // version, flags, deflate, time, date
        }
        for word in [crc, compressed_size, size] {
            common.extend_from_slice(&word.to_le_bytes());
        }
        common.extend_from_slice(&name_len.to_le_bytes());

        self.bytes.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        self.bytes.extend_from_slice(&common);
        self.bytes.extend_from_slice(&0u16.to_le_bytes()); // extra field length
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.extend_from_slice(&compressed);

        self.central
            .extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        // Made by: Unix (3), so that the mode in the external attributes counts.
        self.central
            .extend_from_slice(&((3 << 8) | Self::VERSION).to_le_bytes());
        self.central.extend_from_slice(&common);
        for half in [0u16, 0, 0, 0] {
            // extra field and comment lengths, disk number, internal attributes
            self.central.extend_from_slice(&half.to_le_bytes());
        }
        let regular_file = 0o100_000;
        self.central
            .extend_from_slice(&((regular_file | mode) << 16).to_le_bytes());
        self.central.extend_from_slice(&offset.to_le_bytes());
        self.central.extend_from_slice(name.as_bytes());
        self.entries = self.entries.checked_add(1).context("too many files")?;
        Ok(())
    }

    fn finish(mut self) -> Vec<u8> {
        let directory_offset = self.bytes.len() as u32;
        let directory_size = self.central.len() as u32;
        self.bytes.append(&mut self.central);
        self.bytes.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        for half in [0, 0, self.entries, self.entries] {
            // this disk, the directory's disk, entries on this disk, entries in all
            self.bytes.extend_from_slice(&half.to_le_bytes());
        }
        self.bytes.extend_from_slice(&directory_size.to_le_bytes());
        self.bytes
            .extend_from_slice(&directory_offset.to_le_bytes());
        self.bytes.extend_from_slice(&0u16.to_le_bytes()); // comment length
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_hashes_are_unpadded_url_safe_base64() {
        assert_eq!(base64_url(b""), "");
        assert_eq!(base64_url(b"f"), "Zg");
        assert_eq!(base64_url(b"fo"), "Zm8");
        assert_eq!(base64_url(b"foo"), "Zm9v");
        assert_eq!(base64_url(b"foob"), "Zm9vYg");
        assert_eq!(base64_url(&[0xfb, 0xff, 0xfe]), "-__-");
        // The SHA-256 of an empty file, as `RECORD` holds it.
        assert_eq!(
            base64_url(&Sha256::digest(b"")),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn tags_are_those_pip_accepts_for_the_interpreter() {
        let target = Target::new(
            "3.13",
            "",
            "linux-x86_64",
            ".cpython-313-x86_64-linux-gnu.so",
        );
        assert_eq!(target.tag, "cp313-cp313-linux_x86_64");
        assert_eq!(
            Target::new("3.13", "td", "linux-x86_64", "").tag,
            "cp313-cp313td-linux_x86_64"
        );
    }

    #[test]
    fn the_dynamic_section_of_an_executable_is_read() {
        let exe = fs::read(std::env::current_exe().unwrap()).unwrap();
        let links = dynamic_links(&exe).unwrap();
        assert!(
            links.needed.iter().any(|n| n.starts_with("libc.so")),
            "{links:?}"
        );
        assert!(dynamic_links(b"#!/bin/sh\n").is_err());
    }

    #[test]
    fn the_archive_has_a_directory_entry_per_file() {
        let mut zip = ZipWriter::default();
        zip.add("a.txt", b"hello hello hello", 0o644).unwrap();
        zip.add("d/b.bin", &[0u8; 1000], 0o755).unwrap();
        let bytes = zip.finish();
        let end = bytes.len() - 22;
        assert_eq!(bytes[end..end + 4], 0x0605_4b50u32.to_le_bytes());
        assert_eq!(bytes[end + 10..end + 12], 2u16.to_le_bytes());
        let directory = u32::from_le_bytes(bytes[end + 16..end + 20].try_into().unwrap());
        assert_eq!(
            bytes[directory as usize..directory as usize + 4],
            0x0201_4b50u32.to_le_bytes()
        );
        assert!(bytes.len() < 1000, "deflated: {} bytes", bytes.len());
    }
}
