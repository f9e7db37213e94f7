//! Where things live on disk: the workspace, build outputs and the download cache.

use std::env;
use std::path::{Path, PathBuf};

/// The workspace root (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// All CPython builds: `target/cpython/<variant>/{src,prefix,build.log}`
/// (`$SUBINTERP_BUILDS_DIR` moves them, e.g. for the xtask's own tests).
pub fn builds_dir() -> PathBuf {
    match env::var_os("SUBINTERP_BUILDS_DIR") {
        Some(dir) => dir.into(),
        None => workspace_root().join("target").join("cpython"),
    }
}

/// The file naming the prefix that `cpython-sys` links against: the last patched build
/// with the GIL (debug or not). Written by `build-python`, read by `cpython-sys/build/find.rs`.
pub fn current_prefix_file() -> PathBuf {
    builds_dir().join("current-prefix")
}

/// The cache's copy of [`current_prefix_file`], for `cpython-sys` built outside this
/// workspace (a git or registry dependency); `None` while builds go elsewhere
/// (`$SUBINTERP_BUILDS_DIR`, the xtask's own tests).
pub fn shared_prefix_file() -> Option<PathBuf> {
    env::var_os("SUBINTERP_BUILDS_DIR")
        .is_none()
        .then(|| cache_dir().join("current-prefix"))
}

/// The patch series for the pinned minor version (`$SUBINTERP_PATCHES_DIR` replaces it,
/// e.g. to try a series elsewhere).
pub fn patches_dir() -> PathBuf {
    match env::var_os("SUBINTERP_PATCHES_DIR") {
        Some(dir) => dir.into(),
        None => workspace_root().join("patches").join(crate::pin::MINOR),
    }
}

/// The download cache: `$SUBINTERP_CACHE_DIR`, else `$XDG_CACHE_HOME/subinterp`,
/// else `~/.cache/subinterp`. It outlives `cargo clean` and is shared between clones.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = env::var_os("SUBINTERP_CACHE_DIR") {
        return dir.into();
    }
    if let Some(dir) = env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("subinterp");
    }
    match env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".cache").join("subinterp"),
        None => builds_dir().join("cache"),
    }
}

/// Builds the release `subinterp` command (package `subinterp-cli`) and returns its path.
pub fn build_release_command() -> anyhow::Result<PathBuf> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = ["build", "--release", "--locked", "-p", "subinterp-cli"];
    let status = std::process::Command::new(cargo)
        .current_dir(workspace_root())
        .args(build)
        .status()
        .map_err(|e| anyhow::anyhow!("running cargo: {e}"))?;
    anyhow::ensure!(
        status.success(),
        "cargo {} failed ({status})",
        build.join(" ")
    );
    let target_dir =
        env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), Into::into);
    Ok(target_dir.join("release").join("subinterp"))
}
