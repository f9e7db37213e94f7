//! `cargo xtask build-python`: verify, extract, patch, configure, make and install CPython
//! into a prefix keyed by everything that affects the result.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::apply_patch::{self, Patch};
use crate::progress::{Log, as_step_bar, phase};
use crate::source::{self, Source};
use crate::{deps, layout, pin};

/// What to build: these choices (with the patch contents) key the install prefix.
#[derive(Debug, Clone, Default, Args)]
pub struct BuildOptions {
    /// Build stock CPython from the same source, without our patches (for A/B comparisons).
    #[arg(long)]
    pub no_patches: bool,
    /// A debug build (`--with-pydebug`).
    #[arg(long, conflicts_with = "optimized")]
    pub debug: bool,
    /// An optimised build (`--enable-optimizations --with-lto`: PGO + LTO; slow to build).
    #[arg(long)]
    pub optimized: bool,
    /// A free-threaded build (`--disable-gil`), for comparisons only.
    #[arg(long)]
    pub free_threaded: bool,
}

/// Where the source comes from and how hard to work.
#[derive(Debug, Clone, Default, Args)]
pub struct SourceArgs {
    /// CPython source: a release tarball, an unpacked source directory, or a git repository
    /// (local path or URL). Defaults to $CPYTHON_SOURCE, then a cached copy, then a shallow
    /// clone of the release tag from upstream.
    #[arg(long, value_name = "PATH|URL")]
    pub source: Option<String>,
    /// Parallel `make` jobs (default: the number of cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
}

/// One planned build: its options, patches and where it lives.
#[derive(Debug)]
pub struct Build {
    pub options: BuildOptions,
    pub patches: Vec<Patch>,
    /// `3.13.5-patched-<hash>` and so on: names the build directory.
    pub variant: String,
    /// The hash of (version, patch bytes, options).
    pub key: String,
    pub dir: PathBuf,
}

/// Written into the prefix when an install completes; its presence means "built".
#[derive(Debug, Serialize, Deserialize)]
struct Stamp {
    version: String,
    key: String,
    prefix: PathBuf,
    patches: Vec<String>,
    configure: Vec<String>,
    source: String,
    seconds: f64,
}

const STAMP: &str = "subinterp-build.json";

impl Build {
    /// Plans the build for `options`, with the series in `patches_dir`.
    pub fn plan(options: &BuildOptions, patches_dir: &Path, builds_dir: &Path) -> Result<Build> {
        let patches = if options.no_patches {
            Vec::new()
        } else {
            apply_patch::read_series(patches_dir)?
        };
        let key = cache_key(options, &patches);
        let mut variant = format!(
            "{}-{}",
            pin::VERSION,
            if options.no_patches {
                "stock"
            } else {
                "patched"
            }
        );
        for (on, name) in [
            (options.debug, "debug"),
            (options.optimized, "pgo-lto"),
            (options.free_threaded, "freethreaded"),
        ] {
            if on {
                variant.push('-');
                variant.push_str(name);
            }
        }
        variant.push('-');
        variant.push_str(&key[..12]);
        let dir = builds_dir.join(&variant);
        Ok(Build {
            options: options.clone(),
            patches,
            variant,
            key,
            dir,
        })
    }

    pub fn src(&self) -> PathBuf {
        self.dir.join("src")
    }

    pub fn prefix(&self) -> PathBuf {
        self.dir.join("prefix")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("build.log")
    }

    /// The installed interpreter.
    pub fn python(&self) -> PathBuf {
        self.prefix().join("bin").join("python3")
    }

    /// Whether a complete install for exactly this plan exists.
    pub fn is_installed(&self) -> bool {
        let stamp = fs::read(self.prefix().join(STAMP)).ok();
        let stamp: Option<Stamp> = stamp.and_then(|bytes| serde_json::from_slice(&bytes).ok());
        stamp.is_some_and(|s| s.key == self.key && s.prefix == self.prefix())
            && self.python().exists()
    }

    /// `./configure` arguments.
    pub fn configure_args(&self) -> Vec<String> {
        let prefix = self.prefix();
        let mut args = vec![
            format!("--prefix={}", prefix.display()),
            "--enable-shared".to_string(),
            format!("LDFLAGS=-Wl,-rpath,{}", prefix.join("lib").display()),
        ];
        args.extend(option_flags(&self.options).iter().map(|s| s.to_string()));
        args
    }

    /// Whether `cpython-sys` should link against this build: patched and with a GIL.
    fn is_linkable(&self) -> bool {
        !self.options.no_patches && !self.options.free_threaded
    }
}

fn option_flags(options: &BuildOptions) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if options.debug {
        flags.push("--with-pydebug");
    }
    if options.optimized {
        flags.extend(["--enable-optimizations", "--with-lto"]);
    }
    if options.free_threaded {
        flags.push("--disable-gil");
    }
    flags
}

/// Hashes everything that changes the installed result: the pinned version, each patch's
/// name and bytes, and the configure flags.
pub fn cache_key(options: &BuildOptions, patches: &[Patch]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!(
        "subinterp-build-v1\n{}\n{}\n",
        pin::VERSION,
        pin::TARBALL_SHA256
    ));
    for patch in patches {
        hasher.update(format!("patch {} {}\n", patch.name, patch.bytes.len()));
        hasher.update(&patch.bytes);
    }
    hasher.update(option_flags(options).join(" "));
    source::hex(&hasher.finalize())
}

#[derive(Debug, Args)]
pub struct BuildPython {
    #[command(flatten)]
    pub options: BuildOptions,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Rebuild even if an install for these options exists.
    #[arg(long)]
    pub force: bool,
}

/// `cargo xtask build-python`: builds if needed and prints the prefix on stdout.
pub fn run(args: &BuildPython) -> Result<()> {
    let build = ensure_built(&args.options, &args.source, args.force)?;
    eprintln!(
        "CPython {} ({}) is built; its prefix:",
        pin::VERSION,
        build.variant
    );
    println!("{}", build.prefix().display());
    Ok(())
}

/// Returns the build for `options`, building it first unless an identical one is installed.
pub fn ensure_built(
    options: &BuildOptions,
    source_args: &SourceArgs,
    force: bool,
) -> Result<Build> {
    let build = Build::plan(options, &layout::patches_dir(), &layout::builds_dir())?;
    if force || !build.is_installed() {
        deps::require_for_build()?;
        let source = source::resolve_from_environment(source_args.source.as_deref())?;
        let jobs = source_args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        build_and_install(&build, &source, jobs)?;
    }
    if build.is_linkable() {
        let pointer = format!("{}\n", build.prefix().display());
        fs::write(layout::current_prefix_file(), &pointer)?;
        // Crates that use subinterp from git or a registry find the prefix here.
        if let Some(shared) = layout::shared_prefix_file() {
            fs::create_dir_all(layout::cache_dir())?;
            fs::write(shared, &pointer)?;
            // Not for the builds of the xtask's own tests (`$SUBINTERP_BUILDS_DIR`).
            install_csp_module(&build)?;
        }
    }
    Ok(build)
}
/// Builds the `csp` extension module (package `csp-module`, against the prefix just recorded)
/// and installs it into the prefix's `lib-dynload`, so that `import csp` works in the built
/// `python3` and in every venv made from it.
fn install_csp_module(build: &Build) -> Result<()> {
    let library = build_csp_module()?;
    let suffix = Command::new(build.python())
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))",
        ])
        .output()
        .context("asking the built python for its extension suffix")?;
    let suffix = String::from_utf8_lossy(&suffix.stdout).trim().to_owned();
    let dynload = build
        .prefix()
        .join(format!("lib/python{}/lib-dynload", pin::MINOR));
    let target = dynload.join(format!("csp{suffix}"));
    // A new file, renamed over the old one: processes using the old one keep it.
    let staging = dynload.join(format!(".csp{suffix}.new"));
    fs::copy(&library, &staging)
        .with_context(|| format!("copying {} to {}", library.display(), staging.display()))?;
    fs::rename(&staging, &target)?;
    Ok(())
}

/// Builds the `csp` extension module (`cargo build --release -p csp-module`, against the
/// prefix that `cpython-sys` finds) and returns the path of the shared library cargo made.
pub fn build_csp_module() -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(layout::workspace_root())
        .args(["build", "--release", "--locked", "-p", "csp-module"])
        .args(["--message-format=json-render-diagnostics"])
        .output()
        .context("running cargo build -p csp-module")?;
    anyhow::ensure!(
        output.status.success(),
        "building the csp extension module failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "csp")
        .find_map(|msg| {
            msg["filenames"]
                .as_array()?
                .iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".so"))
                .map(PathBuf::from)
        })
        .context("cargo built no libcsp.so")
}

fn build_and_install(build: &Build, source: &Source, jobs: usize) -> Result<()> {
    let start = Instant::now();
    eprintln!(
        "building CPython {} ({}) from {source}",
        pin::VERSION,
        build.variant
    );
    let source = source::prepare(source, &layout::cache_dir())?;
    if build.dir.exists() {
        fs::remove_dir_all(&build.dir)
            .with_context(|| format!("removing the stale build {}", build.dir.display()))?;
    }
    fs::create_dir_all(&build.dir)?;
    let mut log = Log::create(&build.log_path())?;
    let src = build.src();
    if let Err(err) = source::unpack(&source, &src, &layout::cache_dir()) {
        let _ = fs::remove_dir_all(&build.dir);
        return Err(err);
    }
    phase("patch", |pb| {
        as_step_bar(pb, build.patches.len() as u64);
        for patch in &build.patches {
            pb.set_message(patch.name.clone());
            let applied = apply_patch::apply(patch, &src)?;
            log.note(&format!(
                "applied {}: {} files, {} hunks, offsets {:?}",
                patch.name, applied.files, applied.hunks, applied.offsets
            ));
            pb.inc(1);
        }
        Ok(())
    })?;
    phase("configure", |pb| {
        let mut configure = Command::new("./configure");
        configure.current_dir(&src).args(build.configure_args());
        log.run(configure, |line| pb.set_message(line.to_string()))
    })?;
    phase("make", |pb| {
        as_step_bar(pb, count_c_files(&src));
        let mut make = Command::new("make");
        // A stdlib extension module that fails to build or import fails the build.
        make.current_dir(&src)
            .arg(format!("-j{jobs}"))
            .env("PYTHONSTRICTEXTENSIONBUILD", "1");
        log.run(make, |line| {
            if line.contains(" -c ") && line.contains(".c") {
                pb.inc(1);
            }
        })
    })?;
    let installed = phase("install", |pb| {
        let mut install = Command::new("make");
        install.current_dir(&src).arg("install");
        log.run(install, |line| pb.set_message(line.to_string()))?;
        smoke_test(build)
    });
    if let Err(err) = installed {
        // Nothing half-installed may look like a build.
        let _ = fs::remove_dir_all(build.prefix());
        return Err(err);
    }
    let stamp = Stamp {
        version: pin::VERSION.to_string(),
        key: build.key.clone(),
        prefix: build.prefix(),
        patches: build.patches.iter().map(|p| p.name.clone()).collect(),
        configure: build.configure_args(),
        source: source.to_string(),
        seconds: start.elapsed().as_secs_f64(),
    };
    fs::write(
        build.prefix().join(STAMP),
        serde_json::to_vec_pretty(&stamp)?,
    )?;
    eprintln!(
        "built CPython {} in {:.0}s; log: {}",
        pin::VERSION,
        stamp.seconds,
        log.path().display()
    );
    Ok(())
}

/// The installed interpreter starts and reports the pinned version.
fn smoke_test(build: &Build) -> Result<()> {
    let out = Command::new(build.python())
        .args(["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"])
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .output()
        .with_context(|| format!("running {}", build.python().display()))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    anyhow::ensure!(
        out.status.success() && version == pin::VERSION,
        "the installed interpreter {} does not run as CPython {}: {}{}",
        build.python().display(),
        pin::VERSION,
        version,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Roughly how many C files `make` compiles, for the progress bar.
fn count_c_files(src: &Path) -> u64 {
    fn walk(dir: &Path) -> u64 {
        let Ok(entries) = fs::read_dir(dir) else {
            return 0;
        };
        entries
            .flatten()
            .map(|e| {
                let path = e.path();
                if path.is_dir() {
                    walk(&path)
                } else {
                    u64::from(path.extension().is_some_and(|x| x == "c"))
                }
            })
            .sum()
    }
    ["Modules", "Objects", "Python", "Parser", "Programs"]
        .iter()
        .map(|d| walk(&src.join(d)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(name: &str, bytes: &str) -> Patch {
        Patch {
            name: name.into(),
            bytes: bytes.as_bytes().to_vec(),
        }
    }

    #[test]
    fn key_changes_with_patch_bytes_names_order_and_options() {
        let stock = BuildOptions::default();
        let one = vec![patch("0001-a.patch", "x")];
        let base = cache_key(&stock, &one);
        assert_eq!(base, cache_key(&stock, &one), "the key is deterministic");
        assert_ne!(base, cache_key(&stock, &[patch("0001-a.patch", "y")]));
        assert_ne!(base, cache_key(&stock, &[patch("0001-b.patch", "x")]));
        assert_ne!(base, cache_key(&stock, &[]));
        let two = vec![patch("a", "1"), patch("b", "2")];
        let swapped = vec![patch("b", "2"), patch("a", "1")];
        assert_ne!(cache_key(&stock, &two), cache_key(&stock, &swapped));
        for options in [
            BuildOptions {
                debug: true,
                ..Default::default()
            },
            BuildOptions {
                optimized: true,
                ..Default::default()
            },
            BuildOptions {
                free_threaded: true,
                ..Default::default()
            },
        ] {
            assert_ne!(base, cache_key(&options, &one), "{options:?}");
        }
    }

    #[test]
    fn plan_names_the_variant_and_skips_patches_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("series"), "0001-a.patch\n").unwrap();
        fs::write(dir.path().join("0001-a.patch"), "bytes").unwrap();
        let builds = dir.path().join("builds");
        let patched = Build::plan(&BuildOptions::default(), dir.path(), &builds).unwrap();
        assert!(
            patched.variant.starts_with("3.13.5-patched-"),
            "{}",
            patched.variant
        );
        assert_eq!(patched.patches.len(), 1);
        let stock = Build::plan(
            &BuildOptions {
                no_patches: true,
                debug: true,
                ..Default::default()
            },
            dir.path(),
            &builds,
        )
        .unwrap();
        assert!(
            stock.variant.starts_with("3.13.5-stock-debug-"),
            "{}",
            stock.variant
        );
        assert!(stock.patches.is_empty());
        assert_ne!(patched.dir, stock.dir);
        assert!(!patched.is_installed());
        assert!(
            stock
                .configure_args()
                .contains(&"--with-pydebug".to_string())
        );
        assert!(
            patched
                .configure_args()
                .iter()
                .any(|a| a.starts_with("LDFLAGS=-Wl,-rpath,") && a.ends_with("prefix/lib"))
        );
    }

    #[test]
    fn a_stamp_for_another_key_is_not_a_build() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("series"), "").unwrap();
        let build = Build::plan(&BuildOptions::default(), dir.path(), dir.path()).unwrap();
        fs::create_dir_all(build.prefix().join("bin")).unwrap();
        fs::write(build.python(), "").unwrap();
        let stamp = |key: &str| Stamp {
            version: pin::VERSION.into(),
            key: key.into(),
            prefix: build.prefix(),
            patches: vec![],
            configure: vec![],
            source: String::new(),
            seconds: 0.0,
        };
        fs::write(
            build.prefix().join(STAMP),
            serde_json::to_vec(&stamp("other")).unwrap(),
        )
        .unwrap();
        assert!(!build.is_installed());
        fs::write(
            build.prefix().join(STAMP),
            serde_json::to_vec(&stamp(&build.key)).unwrap(),
        )
        .unwrap();
        assert!(build.is_installed());
    }
}
