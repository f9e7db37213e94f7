//! The tools and headers the CPython build (and bindgen) need, found up front and named by
//! the Debian package that provides them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::Args;

/// A program the build runs.
struct Tool {
    command: &'static str,
    package: &'static str,
}

const TOOLS: &[Tool] = &[
    Tool {
        command: "cc",
        package: "build-essential",
    },
    Tool {
        command: "make",
        package: "build-essential",
    },
    Tool {
        command: "pkg-config",
        package: "pkg-config",
    },
];

/// A C header that a stdlib extension module needs.
struct Header {
    include: &'static str,
    /// pkg-config module whose cflags locate the header, if it is not on the default path.
    pkg_config: Option<&'static str>,
    package: &'static str,
    modules: &'static str,
}

const HEADERS: &[Header] = &[
    Header {
        include: "openssl/ssl.h",
        pkg_config: None,
        package: "libssl-dev",
        modules: "_ssl, _hashlib",
    },
    Header {
        include: "ffi.h",
        pkg_config: Some("libffi"),
        package: "libffi-dev",
        modules: "_ctypes",
    },
    Header {
        include: "zlib.h",
        pkg_config: None,
        package: "zlib1g-dev",
        modules: "zlib",
    },
    Header {
        include: "bzlib.h",
        pkg_config: None,
        package: "libbz2-dev",
        modules: "_bz2",
    },
    Header {
        include: "lzma.h",
        pkg_config: None,
        package: "liblzma-dev",
        modules: "_lzma",
    },
    Header {
        include: "sqlite3.h",
        pkg_config: None,
        package: "libsqlite3-dev",
        modules: "_sqlite3",
    },
    Header {
        include: "readline/readline.h",
        pkg_config: None,
        package: "libreadline-dev",
        modules: "readline",
    },
    Header {
        include: "ncursesw/curses.h",
        pkg_config: None,
        package: "libncurses-dev",
        modules: "_curses, _curses_panel",
    },
    Header {
        include: "uuid/uuid.h",
        pkg_config: None,
        package: "uuid-dev",
        modules: "_uuid",
    },
    Header {
        include: "gdbm.h",
        pkg_config: None,
        package: "libgdbm-dev",
        modules: "_gdbm",
    },
    Header {
        include: "gdbm-ndbm.h",
        pkg_config: None,
        package: "libgdbm-compat-dev",
        modules: "_dbm",
    },
    Header {
        include: "tk.h",
        pkg_config: Some("tk"),
        package: "tk-dev",
        modules: "_tkinter",
    },
];

/// Something missing, and the Debian package that provides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub what: String,
    pub package: &'static str,
}

/// Everything `build-python` needs that is missing.
pub fn missing_for_build() -> Vec<Missing> {
    let mut missing: Vec<Missing> = TOOLS
        .iter()
        .filter(|tool| find_in_path(tool.command).is_none())
        .map(|tool| Missing {
            what: format!("the `{}` command", tool.command),
            package: tool.package,
        })
        .collect();
    if find_in_path("cc").is_some() {
        missing.extend(
            HEADERS
                .iter()
                .filter(|h| !header_present(h))
                .map(|h| Missing {
                    what: format!("<{}> (for {})", h.include, h.modules),
                    package: h.package,
                }),
        );
    }
    missing
}

/// Everything the whole workspace needs that is missing: the build's needs plus libclang.
pub fn missing_for_workspace() -> Vec<Missing> {
    let mut missing = missing_for_build();
    if find_libclang().is_none() {
        missing.push(Missing {
            what: "libclang (for bindgen in cpython-sys)".into(),
            package: "libclang-dev",
        });
    }
    missing
}

/// Fails, naming the packages to install, if the build cannot succeed.
pub fn require_for_build() -> Result<()> {
    let missing = missing_for_build();
    if missing.is_empty() {
        return Ok(());
    }
    bail!(
        "the CPython build needs what is missing here:\n{}\nInstall it with `cargo xtask deps --install` \
         (or `apt-get install {}`); nothing was built.",
        describe(&missing),
        packages(&missing).join(" ")
    )
}

#[derive(Debug, Args)]
pub struct Deps {
    /// Install what is missing with apt-get.
    #[arg(long)]
    pub install: bool,
}

/// `cargo xtask deps [--install]`.
pub fn run(args: &Deps) -> Result<()> {
    let missing = missing_for_workspace();
    if missing.is_empty() {
        println!("all build dependencies are present");
        return Ok(());
    }
    println!("missing:\n{}", describe(&missing));
    let packages = packages(&missing);
    if !args.install {
        bail!(
            "install them with `cargo xtask deps --install` (apt-get install {})",
            packages.join(" ")
        );
    }
    apt_install(&packages)?;
    let still = missing_for_workspace();
    if !still.is_empty() {
        bail!("still missing after installing:\n{}", describe(&still));
    }
    println!("all build dependencies are present");
    Ok(())
}

fn apt_install(packages: &[&str]) -> Result<()> {
    let apt = find_in_path("apt-get").context(
        "apt-get is not available: install the packages above with your system's package manager",
    )?;
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"));
    let run = |args: &[&str]| -> Result<()> {
        let mut cmd = if root {
            Command::new(&apt)
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg(&apt);
            sudo
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        let status = cmd
            .status()
            .with_context(|| format!("running apt-get {}", args.join(" ")))?;
        if !status.success() {
            bail!("apt-get {} failed ({status})", args.join(" "));
        }
        Ok(())
    };
    run(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend_from_slice(packages);
    run(&args)
}

fn describe(missing: &[Missing]) -> String {
    missing
        .iter()
        .map(|m| format!("  - {} (Debian package {})", m.what, m.package))
        .collect::<Vec<_>>()
        .join("\n")
}

fn packages(missing: &[Missing]) -> Vec<&'static str> {
    let mut packages: Vec<&str> = missing.iter().map(|m| m.package).collect();
    packages.sort_unstable();
    packages.dedup();
    packages
}

/// Like `which`: the first executable `name` on `$PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether the C preprocessor finds the header (with the pkg-config flags that locate it).
fn header_present(header: &Header) -> bool {
    let mut flags = Vec::new();
    if let Some(module) = header.pkg_config
        && let Ok(out) = Command::new("pkg-config")
            .args(["--cflags", module])
            .output()
    {
        flags.extend(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(String::from),
        );
    }
    let child = Command::new("cc")
        .args(["-E", "-x", "c", "-o", "/dev/null"])
        .args(&flags)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return false };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = writeln!(stdin, "#include <{}>", header.include);
    }
    child.wait().is_ok_and(|status| status.success())
}

/// libclang as bindgen (clang-sys) looks for it: `$LIBCLANG_PATH`, then the usual places.
fn find_libclang() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("LIBCLANG_PATH")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        dirs.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("llvm-"))
                })
                .map(|p| p.join("lib")),
        );
    }
    dirs.extend(
        [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64",
            "/usr/local/lib",
        ]
        .map(PathBuf::from),
    );
    dirs.into_iter().find(|dir| has_libclang(dir))
}

fn has_libclang(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libclang")
                && name.contains(".so")
                && !name.starts_with("libclang-cpp")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tools_on_path_and_not_missing_ones() {
        assert!(find_in_path("sh").is_some());
        assert!(find_in_path("surely-not-a-real-tool-xyz").is_none());
    }

    #[test]
    fn a_missing_header_is_reported_with_its_package() {
        let bogus = Header {
            include: "no/such/header.h",
            pkg_config: None,
            package: "no-such-dev",
            modules: "_x",
        };
        assert!(!header_present(&bogus));
        let stdio = Header {
            include: "stdio.h",
            pkg_config: None,
            package: "libc6-dev",
            modules: "all",
        };
        assert!(header_present(&stdio));
    }

    #[test]
    fn packages_are_deduplicated() {
        let missing = vec![
            Missing {
                what: "cc".into(),
                package: "build-essential",
            },
            Missing {
                what: "make".into(),
                package: "build-essential",
            },
        ];
        assert_eq!(packages(&missing), vec!["build-essential"]);
        assert!(describe(&missing).contains("  - cc (Debian package build-essential)"));
    }
}
