//! The one CPython release this project builds, pinned by content.

/// The CPython version we build.
pub const VERSION: &str = "3.13.5";
/// `major.minor`, which names the patch directory (`patches/3.13`).
pub const MINOR: &str = "3.13";
/// File name of the release tarball.
pub const TARBALL_NAME: &str = "Python-3.13.5.tar.xz";
/// sha256 of the release tarball, from the release's SHA256SUMS.
pub const TARBALL_SHA256: &str = "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640";
/// Size of the release tarball in bytes, to tell a truncated download from a wrong file.
pub const TARBALL_SIZE: u64 = 22_856_016;
/// Where the release tarball is published.
pub const TARBALL_URL: &str = "https://www.python.org/ftp/python/3.13.5/Python-3.13.5.tar.xz";
/// The upstream repository, cloned at [`GIT_TAG`] when no tarball is at hand.
pub const GIT_URL: &str = "https://github.com/python/cpython.git";
/// The release tag in the upstream repository.
pub const GIT_TAG: &str = "v3.13.5";
