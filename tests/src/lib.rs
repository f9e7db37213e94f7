//! Helpers shared by the end-to-end tests in `tests/tests/`.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// The CPython prefix the runtime uses: `$CPYTHON_PREFIX`, else the one `cargo xtask
/// build-python` recorded. Panics with the command to run when there is none.
pub fn python_prefix() -> PathBuf {
    if let Some(prefix) = std::env::var_os("CPYTHON_PREFIX") {
        return prefix.into();
    }
    let pointer = workspace_root().join("target/cpython/current-prefix");
    let text = std::fs::read_to_string(&pointer).unwrap_or_else(|_| {
        panic!(
            "no built CPython ({} is missing): run `cargo xtask build-python` first",
            pointer.display()
        )
    });
    PathBuf::from(text.trim())
}

/// The built interpreter.
pub fn python() -> PathBuf {
    python_prefix().join("bin").join("python3")
}
