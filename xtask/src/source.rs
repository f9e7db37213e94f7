//! Where the CPython source comes from, and turning it into a verified source tree.
//!
//! Resolution order (first match wins): `--source`, `$CPYTHON_SOURCE`, a cached copy,
//! then a shallow clone of the release tag from upstream.

use std::fs::{self, File};
use std::io;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

use crate::pin;
use crate::progress::{as_byte_bar, phase};

/// A place to get the CPython source from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A release tarball on disk, checked against the pinned sha256.
    Tarball(PathBuf),
    /// A release tarball to download, then check against the pinned sha256.
    TarballUrl(String),
    /// An unpacked source directory, checked by its version.
    Dir(PathBuf),
    /// A git repository (path or URL): the release tag is checked out, then checked by version.
    Git(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Tarball(path) => write!(f, "tarball {}", path.display()),
            Source::TarballUrl(url) => write!(f, "tarball {url}"),
            Source::Dir(path) => write!(f, "directory {}", path.display()),
            Source::Git(url) => write!(f, "git repository {url} (tag {})", pin::GIT_TAG),
        }
    }
}

impl Source {
    /// Classifies a `--source`/`CPYTHON_SOURCE` value.
    pub fn parse(spec: &str) -> Result<Source> {
        if let Some(path) = spec.strip_prefix("file://") {
            return Source::parse(path);
        }
        if spec.contains("://") || spec.starts_with("git@") {
            return Ok(if spec.ends_with(".tar.xz") {
                Source::TarballUrl(spec.to_string())
            } else {
                Source::Git(spec.to_string())
            });
        }
        let path = PathBuf::from(spec);
        let meta = fs::metadata(&path).with_context(|| {
            format!("CPython source {spec:?} does not exist: give a tarball, a source directory, a git repository or a URL")
        })?;
        if meta.is_file() {
            Ok(Source::Tarball(path))
        } else if is_git_repository(&path) {
            Ok(Source::Git(spec.to_string()))
        } else {
            Ok(Source::Dir(path))
        }
    }
}

/// Picks the source: `--source`, then `$CPYTHON_SOURCE`, then the cache, then upstream git.
pub fn resolve(cli: Option<&str>, env_value: Option<&str>, cache: &Path) -> Result<Source> {
    if let Some(spec) = cli {
        return Source::parse(spec).context("in --source");
    }
    if let Some(spec) = env_value.filter(|s| !s.is_empty()) {
        return Source::parse(spec).context("in $CPYTHON_SOURCE");
    }
    let tarball = cache.join(pin::TARBALL_NAME);
    if tarball.is_file() {
        return Ok(Source::Tarball(tarball));
    }
    let checkout = cached_checkout(cache);
    if checkout.join("Include/patchlevel.h").is_file() {
        return Ok(Source::Dir(checkout));
    }
    Ok(Source::Git(pin::GIT_URL.to_string()))
}

/// [`resolve`] with this process's `$CPYTHON_SOURCE` and cache directory.
pub fn resolve_from_environment(cli: Option<&str>) -> Result<Source> {
    let env_value = std::env::var("CPYTHON_SOURCE").ok();
    resolve(cli, env_value.as_deref(), &crate::layout::cache_dir())
}

fn cached_checkout(cache: &Path) -> PathBuf {
    cache.join(format!("cpython-{}", pin::GIT_TAG))
}

/// Checks a source before anything is built from it: a tarball's sha256 (downloading it into
/// the cache first if it is a URL), a directory's version. Touches no build directory, so a
/// bad source leaves existing builds as they were. Returns the source to unpack.
pub fn prepare(source: &Source, cache: &Path) -> Result<Source> {
    match source {
        Source::Tarball(path) => {
            phase("verify", |pb| verify_tarball(path, pb))?;
            cache_tarball(path, cache);
            Ok(source.clone())
        }
        Source::TarballUrl(url) => {
            fs::create_dir_all(cache)
                .with_context(|| format!("creating cache {}", cache.display()))?;
            let partial = cache.join(format!("{}.part", pin::TARBALL_NAME));
            phase("download", |pb| download(url, &partial, pb))?;
            if let Err(err) = phase("verify", |pb| verify_tarball(&partial, pb)) {
                let _ = fs::remove_file(&partial);
                return Err(err);
            }
            let cached = cache.join(pin::TARBALL_NAME);
            fs::rename(&partial, &cached)?;
            Ok(Source::Tarball(cached))
        }
        Source::Dir(path) => {
            check_version(path)?;
            ensure!(
                !path.join("Makefile").exists() && !path.join("pyconfig.h").exists(),
                "source directory {} has been configured in place; run `make distclean` there first",
                path.display()
            );
            Ok(source.clone())
        }
        Source::Git(_) => Ok(source.clone()),
    }
}

/// Unpacks a [`prepare`]d source as a pristine, version-checked tree at `dest`.
pub fn unpack(source: &Source, dest: &Path, cache: &Path) -> Result<()> {
    match source {
        Source::Tarball(path) => phase("extract", |pb| extract_tarball(path, dest, pb))?,
        Source::TarballUrl(_) => bail!("internal error: a URL must be prepared before unpacking"),
        Source::Dir(path) => phase("copy", |pb| copy_tree(path, dest, pb))?,
        Source::Git(url) => {
            phase("clone", |pb| clone_tag(url, dest, pb))?;
            if url == pin::GIT_URL {
                cache_checkout(dest, cache);
            }
        }
    }
    check_version(dest)
}

/// Checks a tarball against the pinned size and sha256.
pub fn verify_tarball(path: &Path, pb: &ProgressBar) -> Result<()> {
    let mut file =
        File::open(path).with_context(|| format!("opening tarball {}", path.display()))?;
    let size = file.metadata()?.len();
    as_byte_bar(pb, size);
    pb.set_message(path.display().to_string());
    let mut hasher = Sha256::new();
    io::copy(&mut pb.wrap_read(&mut file), &mut hasher)
        .with_context(|| format!("reading {}", path.display()))?;
    let found = hex(&hasher.finalize());
    if found == pin::TARBALL_SHA256 {
        return Ok(());
    }
    let hint = if size < pin::TARBALL_SIZE {
        "it is smaller than the release: a truncated or interrupted download?"
    } else if size > pin::TARBALL_SIZE {
        "it is larger than the release: a different file or version?"
    } else {
        "it has the release's size but different bytes: a corrupted copy?"
    };
    bail!(
        "{} is not the CPython {} release tarball: sha256 mismatch, nothing was built or installed\n  \
         expected sha256 {} ({} bytes, {})\n  \
         found    sha256 {found} ({size} bytes): {hint}\n\
         Get a good copy of {} (e.g. {}) and point --source or CPYTHON_SOURCE at it.",
        path.display(),
        pin::VERSION,
        pin::TARBALL_SHA256,
        pin::TARBALL_SIZE,
        pin::TARBALL_NAME,
        pin::TARBALL_NAME,
        pin::TARBALL_URL,
    )
}

/// Copies a verified tarball into the cache, so later builds need neither the original nor
/// the network. Best effort: a cache that cannot be written only costs a later download.
fn cache_tarball(path: &Path, cache: &Path) {
    let cached = cache.join(pin::TARBALL_NAME);
    if cached.exists() || fs::create_dir_all(cache).is_err() {
        return;
    }
    let partial = cache.join(format!("{}.part", pin::TARBALL_NAME));
    if fs::copy(path, &partial).is_ok() {
        let _ = fs::rename(&partial, &cached);
    }
}

/// Keeps a copy of an upstream checkout in the cache (best effort, as for tarballs).
fn cache_checkout(tree: &Path, cache: &Path) {
    let cached = cached_checkout(cache);
    let partial = cache.join(format!("cpython-{}.part", pin::GIT_TAG));
    let _ = fs::remove_dir_all(&partial);
    if copy_tree(tree, &partial, &ProgressBar::hidden()).is_ok() {
        let _ = fs::rename(&partial, &cached);
    }
}

fn download(url: &str, dest: &Path, pb: &ProgressBar) -> Result<()> {
    pb.set_message(url.to_string());
    let response = ureq::get(url).call().with_context(|| {
        format!("downloading {url} (offline? set CPYTHON_SOURCE to a local copy)")
    })?;
    let (_, body) = response.into_parts();
    as_byte_bar(pb, body.content_length().unwrap_or(pin::TARBALL_SIZE));
    let mut out = File::create(dest).with_context(|| format!("creating {}", dest.display()))?;
    io::copy(&mut pb.wrap_read(body.into_reader()), &mut out)
        .with_context(|| format!("downloading {url}"))?;
    Ok(())
}

/// Unpacks `Python-X.Y.Z/...` from the tarball into `dest`, dropping the top directory and
/// keeping modification times (the build relies on them to not regenerate files).
fn extract_tarball(path: &Path, dest: &Path, pb: &ProgressBar) -> Result<()> {
    let file = File::open(path)?;
    as_byte_bar(pb, file.metadata()?.len());
    let mut archive = tar::Archive::new(xz2::read::XzDecoder::new(pb.wrap_read(file)));
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    fs::create_dir_all(dest)?;
    for entry in archive.entries().context("reading the tarball")? {
        let mut entry = entry.context("reading the tarball")?;
        let inner = entry.path()?.into_owned();
        let Some(relative) = strip_top_dir(&inner) else {
            continue;
        };
        let target = dest.join(&relative);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        entry
            .unpack(&target)
            .with_context(|| format!("extracting {}", inner.display()))?;
    }
    Ok(())
}

/// `Python-3.13.5/Lib/os.py` -> `Lib/os.py`; refuses anything that would escape `dest`.
fn strip_top_dir(path: &Path) -> Option<PathBuf> {
    let mut parts = path.components();
    parts.next()?;
    let rest: PathBuf = parts.collect();
    let safe = rest.components().all(|c| matches!(c, Component::Normal(_)));
    (safe && !rest.as_os_str().is_empty()).then_some(rest)
}

/// Copies a source tree (without `.git`), keeping permissions, symlinks and modification times.
fn copy_tree(from: &Path, to: &Path, pb: &ProgressBar) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else if kind.is_dir() {
            copy_tree(&src, &dst, pb)?;
        } else {
            fs::copy(&src, &dst).with_context(|| format!("copying {}", src.display()))?;
            let modified = entry.metadata()?.modified()?;
            File::options()
                .write(true)
                .open(&dst)?
                .set_modified(modified)?;
            pb.inc(1);
        }
    }
    Ok(())
}

fn is_git_repository(path: &Path) -> bool {
    path.join(".git").exists() || (path.join("HEAD").is_file() && path.join("objects").is_dir())
}

/// Checks out the pinned release tag of the repository at `url` into `dest`, fetching only
/// that commit where the transport allows it, then drops the `.git` directory.
fn clone_tag(url: &str, dest: &Path, pb: &ProgressBar) -> Result<()> {
    pb.set_message(format!("{url} {}", pin::GIT_TAG));
    let repo = git2::Repository::init(dest)
        .with_context(|| format!("creating a repository at {}", dest.display()))?;
    let mut remote = repo.remote_anonymous(url)?;
    let refspec = format!("+refs/tags/{tag}:refs/tags/{tag}", tag = pin::GIT_TAG);
    // libgit2's local transport cannot fetch shallow; a local repository is cheap to read whole.
    if let Err(shallow) = fetch(&mut remote, &refspec, 1, pb) {
        let is_local = !url.contains("://") || url.starts_with("file://");
        ensure!(
            is_local,
            "fetching tag {} from {url} failed: {shallow}",
            pin::GIT_TAG
        );
        fetch(&mut remote, &refspec, 0, pb)
            .with_context(|| format!("fetching tag {} from {url}", pin::GIT_TAG))?;
    }
    let tag_ref = format!("refs/tags/{}", pin::GIT_TAG);
    let commit = repo
        .revparse_single(&tag_ref)
        .and_then(|obj| obj.peel_to_commit())
        .with_context(|| format!("{url} has no tag {}", pin::GIT_TAG))?;
    repo.checkout_tree(
        commit.as_object(),
        Some(git2::build::CheckoutBuilder::new().force()),
    )
    .context("checking out the release tag")?;
    drop(commit);
    drop(remote);
    drop(repo);
    fs::remove_dir_all(dest.join(".git")).context("removing .git from the checkout")?;
    Ok(())
}

/// Fetches `refspec`; `depth` 0 means the whole history.
fn fetch(
    remote: &mut git2::Remote<'_>,
    refspec: &str,
    depth: i32,
    pb: &ProgressBar,
) -> Result<(), git2::Error> {
    let mut callbacks = git2::RemoteCallbacks::new();
    callbacks.transfer_progress(|p| {
        pb.set_length(p.total_objects() as u64);
        pb.set_position(p.received_objects() as u64);
        true
    });
    let mut options = git2::FetchOptions::new();
    options.remote_callbacks(callbacks).depth(depth);
    remote.fetch(&[refspec], Some(&mut options), None)
}

/// Reads `PY_VERSION` from `Include/patchlevel.h` and checks it against the pin.
pub fn check_version(tree: &Path) -> Result<()> {
    let header = tree.join("Include/patchlevel.h");
    let text = fs::read_to_string(&header).with_context(|| {
        format!(
            "{} is not a CPython source tree (no Include/patchlevel.h)",
            tree.display()
        )
    })?;
    let found = text
        .lines()
        .find_map(|line| line.strip_prefix("#define PY_VERSION"))
        .map(|rest| rest.trim().trim_matches('"').to_string())
        .with_context(|| format!("no PY_VERSION in {}", header.display()))?;
    ensure!(
        found == pin::VERSION,
        "the source at {} is CPython {found}, but this project is pinned to {}: \
         nothing was built or installed",
        tree.display(),
        pin::VERSION
    );
    Ok(())
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// The real release tarball: `$CPYTHON_SOURCE`, the cache, or `../shared` beside the
    /// workspace. These tests need it (CI and `cargo xtask test` always have it).
    pub(crate) fn release_tarball() -> PathBuf {
        let candidates = [
            std::env::var_os("CPYTHON_SOURCE").map(PathBuf::from),
            Some(crate::layout::cache_dir().join(pin::TARBALL_NAME)),
            Some(
                crate::layout::workspace_root()
                    .join("../shared/cpython")
                    .join(pin::TARBALL_NAME),
            ),
        ];
        candidates.into_iter().flatten().find(|p| p.is_file()).unwrap_or_else(|| {
            panic!(
                "these tests need {}: set CPYTHON_SOURCE to it or run `cargo xtask build-python` once",
                pin::TARBALL_NAME
            )
        })
    }

    /// The release unpacked once per test run.
    pub(crate) fn release_tree() -> &'static Path {
        static TREE: OnceLock<tempfile::TempDir> = OnceLock::new();
        TREE.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            unpack(
                &Source::Tarball(release_tarball()),
                &dir.path().join("src"),
                dir.path(),
            )
            .unwrap();
            dir
        })
        .path()
        .join("src")
        .leak()
    }

    fn hidden() -> ProgressBar {
        ProgressBar::hidden()
    }

    #[test]
    fn classifies_sources() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Python-3.13.5.tar.xz");
        fs::write(&file, "x").unwrap();
        let repo = dir.path().join("repo");
        git2::Repository::init(&repo).unwrap();
        let plain = dir.path().join("plain");
        fs::create_dir(&plain).unwrap();
        let s = |p: &Path| p.to_str().unwrap().to_string();
        assert_eq!(
            Source::parse(&s(&file)).unwrap(),
            Source::Tarball(file.clone())
        );
        assert_eq!(
            Source::parse(&format!("file://{}", s(&file))).unwrap(),
            Source::Tarball(file)
        );
        assert_eq!(Source::parse(&s(&repo)).unwrap(), Source::Git(s(&repo)));
        assert_eq!(Source::parse(&s(&plain)).unwrap(), Source::Dir(plain));
        let url = "https://example.org/Python-3.13.5.tar.xz";
        assert_eq!(Source::parse(url).unwrap(), Source::TarballUrl(url.into()));
        assert_eq!(
            Source::parse(pin::GIT_URL).unwrap(),
            Source::Git(pin::GIT_URL.into())
        );
        let err = format!("{:#}", Source::parse("/no/such/source").unwrap_err());
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn resolution_order_is_flag_env_cache_upstream() {
        let cache = tempfile::tempdir().unwrap();
        let a = cache.path().join("a.tar.xz");
        let b = cache.path().join("b.tar.xz");
        fs::write(&a, "").unwrap();
        fs::write(&b, "").unwrap();
        let (sa, sb) = (a.to_str().unwrap(), b.to_str().unwrap());
        let upstream = Source::Git(pin::GIT_URL.into());
        assert_eq!(
            resolve(Some(sa), Some(sb), cache.path()).unwrap(),
            Source::Tarball(a.clone())
        );
        assert_eq!(
            resolve(None, Some(sb), cache.path()).unwrap(),
            Source::Tarball(b)
        );
        assert_eq!(resolve(None, Some(""), cache.path()).unwrap(), upstream);
        let checkout = cached_checkout(cache.path()).join("Include");
        fs::create_dir_all(&checkout).unwrap();
        fs::write(checkout.join("patchlevel.h"), "").unwrap();
        assert_eq!(
            resolve(None, None, cache.path()).unwrap(),
            Source::Dir(cached_checkout(cache.path()))
        );
        fs::write(cache.path().join(pin::TARBALL_NAME), "").unwrap();
        assert_eq!(
            resolve(None, None, cache.path()).unwrap(),
            Source::Tarball(cache.path().join(pin::TARBALL_NAME))
        );
    }

    #[test]
    fn the_release_tarball_verifies_and_unpacks_with_its_version() {
        verify_tarball(&release_tarball(), &hidden()).unwrap();
        let tree = release_tree();
        check_version(tree).unwrap();
        assert!(
            tree.join("configure")
                .metadata()
                .unwrap()
                .permissions()
                .mode()
                & 0o111
                != 0
        );
        assert!(
            !tree.join("Python-3.13.5").exists(),
            "the top directory is stripped"
        );
    }

    #[test]
    fn corrupted_and_truncated_tarballs_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = fs::read(release_tarball()).unwrap();
        let corrupted = dir.path().join("corrupted.tar.xz");
        bytes[1000] ^= 0xff;
        fs::write(&corrupted, &bytes).unwrap();
        let err = verify_tarball(&corrupted, &hidden())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sha256 mismatch") && err.contains("corrupted copy"),
            "{err}"
        );
        assert!(err.contains(pin::TARBALL_SHA256), "{err}");
        let truncated = dir.path().join("truncated.tar.xz");
        fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let err = verify_tarball(&truncated, &hidden())
            .unwrap_err()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
        let err = prepare(&Source::Tarball(truncated), dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("nothing was built or installed"), "{err}");
        assert!(
            !dir.path().join(pin::TARBALL_NAME).exists(),
            "a bad tarball is not cached"
        );
    }

    #[test]
    fn a_directory_source_is_copied_and_a_wrong_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy");
        unpack(
            &prepare(&Source::Dir(release_tree().to_path_buf()), dir.path()).unwrap(),
            &copy,
            dir.path(),
        )
        .unwrap();
        let (a, b) = (release_tree().join("Lib/os.py"), copy.join("Lib/os.py"));
        assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());
        assert_eq!(
            a.metadata().unwrap().modified().unwrap(),
            b.metadata().unwrap().modified().unwrap()
        );
        let header = copy.join("Include/patchlevel.h");
        let text = fs::read_to_string(&header)
            .unwrap()
            .replace("\"3.13.5\"", "\"3.13.4\"");
        fs::write(&header, text).unwrap();
        let err = prepare(&Source::Dir(copy), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is CPython 3.13.4, but this project is pinned to 3.13.5"),
            "{err}"
        );
    }

    #[test]
    fn a_git_repository_is_cloned_at_the_release_tag() {
        let dir = tempfile::tempdir().unwrap();
        // A repository made from the release: the tag holds the release, a later commit breaks it.
        let repo_dir = dir.path().join("cpython");
        copy_tree(release_tree(), &repo_dir, &hidden()).unwrap();
        let repo = git2::Repository::init(&repo_dir).unwrap();
        let sig = git2::Signature::now("t", "t@example.org").unwrap();
        let commit = |message: &str, parents: &[&git2::Commit<'_>]| {
            let mut index = repo.index().unwrap();
            index
                .add_all(["*"], git2::IndexAddOption::FORCE, None)
                .unwrap();
            index.write().unwrap();
            let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
            repo.commit(Some("HEAD"), &sig, &sig, message, &tree, parents)
                .unwrap()
        };
        let release = repo.find_commit(commit("release", &[])).unwrap();
        repo.tag_lightweight(pin::GIT_TAG, release.as_object(), false)
            .unwrap();
        fs::write(
            repo_dir.join("Include/patchlevel.h"),
            "#define PY_VERSION \"3.14.0a0\"\n",
        )
        .unwrap();
        commit("after the release", &[&release]);

        let source = Source::parse(repo_dir.to_str().unwrap()).unwrap();
        assert!(matches!(source, Source::Git(_)), "{source:?}");
        let out = dir.path().join("out");
        unpack(&prepare(&source, dir.path()).unwrap(), &out, dir.path()).unwrap();
        assert!(!out.join(".git").exists());
        assert_eq!(
            fs::read(out.join("Lib/os.py")).unwrap(),
            fs::read(release_tree().join("Lib/os.py")).unwrap()
        );

        let untagged = dir.path().join("untagged");
        git2::Repository::init(&untagged).unwrap();
        let err = format!(
            "{:#}",
            unpack(
                &Source::Git(untagged.to_str().unwrap().into()),
                &dir.path().join("o2"),
                dir.path()
            )
            .unwrap_err()
        );
        assert!(err.contains(pin::GIT_TAG), "{err}");
    }

    #[test]
    fn tar_paths_cannot_escape_the_destination() {
        assert_eq!(
            strip_top_dir(Path::new("Python-3.13.5/Lib/os.py")),
            Some(PathBuf::from("Lib/os.py"))
        );
        assert_eq!(
            strip_top_dir(Path::new("Python-3.13.5/../../etc/passwd")),
            None
        );
        assert_eq!(strip_top_dir(Path::new("Python-3.13.5")), None);
    }

    use std::os::unix::fs::PermissionsExt;
}
