//! The crate's layering, and the repository paths its comments name, checked from the source.
//!
//! - Every file of `src/` (but the crate root `lib.rs` and the `bin/` crate) belongs to one
//!   layer, by its folder; a layer names only the layers below it (every `crate::` and
//!   `super::` path in its code, comments and strings left out), except the one upward edge
//!   that `lib.rs` declares and [`UPWARD`] lists. Layers below `python/` do not use
//!   `cpython_sys` either.
//! - Comments and doc comments of the repository's Rust and Python files name only paths that
//!   exist (`tests/python/test_csp.py`, `runtime/bench-scripts/...`, `interp/fork.rs`), and cite no
//!   numbered section of a document that is not in the repository, such as the design notes
//!   (which `docs/architecture.md` stands in for).
//!
//! The layers are listed in `src/lib.rs` ("Layers"); keep that table and [`LAYERS`] in step.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom first: the folder (or file) under `src/` and the name `crate::` paths
/// use for it.
const LAYERS: &[(&str, &str)] = &[
    ("error.rs", "error"),
    ("sync/", "sync"),
    ("value/", "value"),
    ("python/", "python"),
    ("interp/", "interp"),
    ("csp/", "csp"),
];

/// The upward edges allowed (at most one, declared and justified in `lib.rs`): the file under
/// `src/` and the path it names.
const UPWARD: &[(&str, &str)] = &[("interp/runtime.rs", "crate::csp::PyInit_csp")];

/// Layers that must not touch CPython directly.
const NO_CPYTHON_BELOW: usize = 3; // `python`

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn repo_root() -> PathBuf {
    crate_dir()
        .parent()
        .expect("the crate is in a workspace folder")
        .to_path_buf()
}

/// Every file under `dir` (skipping build output and VCS folders) whose name ends in one of
/// `exts`.
fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(
                    name.as_str(),
                    "target" | ".git" | "__pycache__" | "node_modules"
                ) {
                    stack.push(path);
                }
            } else if exts.iter().any(|ext| name.ends_with(ext)) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// One piece of a source file: code, or a comment (with the line it starts on).
struct Lexed {
    /// The code with comments and string and char literals blanked out (newlines kept).
    code: String,
    /// Comments and doc comments (for Python, also docstrings), with their first line.
    comments: Vec<(usize, String)>,
}

/// Splits Rust source into code and comments; string and char literals are dropped.
fn lex_rust(src: &str) -> Lexed {
    let chars: Vec<char> = src.chars().collect();
    let mut code = String::with_capacity(src.len());
    let mut comments = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            let start = i;
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            comments.push((line, chars[start..i].iter().collect()));
            continue;
        }
        if c == '/' && next == Some('*') {
            let (start, first_line) = (i, line);
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                        code.push('\n');
                    }
                    i += 1;
                }
            }
            comments.push((first_line, chars[start..i].iter().collect()));
            continue;
        }
        let prev_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        // Raw strings: r"..", r#".."#, br#".."#, cr"..".
        if c == 'r' && (!prev_ident || (i > 0 && matches!(chars[i - 1], 'b' | 'c'))) {
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            if chars.get(j) == Some(&'"') {
                let hashes = j - i - 1;
                code.push(' ');
                i = j + 1;
                while i < chars.len() {
                    if chars[i] == '"' && (0..hashes).all(|k| chars.get(i + 1 + k) == Some(&'#')) {
                        i += 1 + hashes;
                        break;
                    }
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    code.push(blank(chars[i]));
                    i += 1;
                }
                continue;
            }
        }
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    code.push(' ');
                    i += 1;
                }
                if let Some(&ch) = chars.get(i) {
                    if ch == '\n' {
                        line += 1;
                    }
                    code.push(blank(ch));
                }
                i += 1;
            }
            i += 1;
            code.push_str("  ");
            continue;
        }
        if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'), or a lifetime / label ('py).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                continue;
            }
            if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                continue;
            }
        }
        if c == '\n' {
            line += 1;
        }
        code.push(c);
        i += 1;
    }
    Lexed { code, comments }
}

/// Splits Python source into comments and docstrings (every triple-quoted string); the code
/// is not needed.
fn lex_python(src: &str) -> Lexed {
    let chars: Vec<char> = src.chars().collect();
    let mut comments = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '#' {
            let start = i;
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            comments.push((line, chars[start..i].iter().collect()));
            continue;
        }
        if c == '"' || c == '\'' {
            let triple = chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c);
            let (start, first_line) = (i, line);
            i += if triple { 3 } else { 1 };
            while i < chars.len() {
                if chars[i] == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i] == '\n' {
                    line += 1;
                    if !triple {
                        break; // An unterminated one-line string: stop at the line's end.
                    }
                }
                if chars[i] == c
                    && (!triple || (chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c)))
                {
                    i += if triple { 3 } else { 1 };
                    break;
                }
                i += 1;
            }
            if triple {
                comments.push((
                    first_line,
                    chars[start..i.min(chars.len())].iter().collect(),
                ));
            }
            continue;
        }
        if c == '\n' {
            line += 1;
        }
        i += 1;
    }
    Lexed {
        code: String::new(),
        comments,
    }
}

/// The layer of a file under `src/` (its path relative to `src/`), as an index into
/// [`LAYERS`]; `None` for the crate root and the binary.
fn layer_of_file(rel: &str) -> Option<Result<usize, String>> {
    if rel == "lib.rs" || rel.starts_with("bin/") {
        return None;
    }
    Some(
        LAYERS
            .iter()
            .position(|(place, _)| {
                rel == *place || (place.ends_with('/') && rel.starts_with(place))
            })
            .ok_or_else(|| format!("src/{rel} belongs to no layer: move it into a layer's folder")),
    )
}

/// The module path of a file under `src/` (`sync/parker.rs` -> `[sync, parker]`).
fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The public names `lib.rs` re-exports, with the module they come from (`Runtime` ->
/// `interp`), so that `crate::Runtime` maps to its layer.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let code = lex_rust(lib).code;
    let mut names = BTreeMap::new();
    for item in code.split(';') {
        let item = item.trim();
        let Some(rest) = item.strip_prefix("pub use ") else {
            continue;
        };
        let module = rest
            .split("::")
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let list = match (rest.find('{'), rest.rfind('}')) {
            (Some(open), Some(close)) => &rest[open + 1..close],
            _ => rest.rsplit("::").next().unwrap_or_default(),
        };
        for name in list.split(',') {
            let name = name.split(" as ").last().unwrap_or_default().trim();
            if !name.is_empty() {
                names.insert(name.to_owned(), module.clone());
            }
        }
    }
    names
}

/// The first segments of the paths that follow `prefix` (`crate::`, `super::`) at `at` in
/// `code`: one, or several for a `{a, b::c}` group.
fn first_segments(code: &str, at: usize) -> Vec<String> {
    let rest = &code[at..];
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 1;
        let mut items = Vec::new();
        let mut item_start = 0;
        for (k, ch) in group.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        items.push(&group[item_start..k]);
                        break;
                    }
                }
                ',' if depth == 1 => {
                    items.push(&group[item_start..k]);
                    item_start = k + 1;
                }
                _ => {}
            }
        }
        items
            .into_iter()
            .map(|item| ident(item.trim_start()))
            .filter(|s| !s.is_empty())
            .collect()
    } else {
        vec![ident(rest)]
    }
}

/// Every layer a file's code names, with the path text that names it.
fn named_layers(
    rel: &str,
    code: &str,
    reexports: &BTreeMap<String, String>,
) -> Vec<(usize, String)> {
    let layer_named = |name: &str| -> Option<usize> {
        let module = reexports.get(name).map_or(name, String::as_str);
        LAYERS.iter().position(|(_, layer)| *layer == module)
    };
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && is_ident(bytes[at - 1]) {
            continue; // `$crate::`, `some_crate::`
        }
        let after = at + "crate::".len();
        let shown: String = code[at..]
            .chars()
            .take(60)
            .take_while(|c| *c != '\n')
            .collect();
        for segment in first_segments(code, after) {
            if let Some(layer) = layer_named(&segment) {
                found.push((layer, shown.clone()));
            }
        }
    }
    let module = module_path(rel);
    for (at, _) in code.match_indices("super::") {
        if at > 0 && (is_ident(bytes[at - 1]) || code[..at].ends_with("super::")) {
            continue; // counted with the first `super::` of a `super::super::` chain
        }
        let mut up = 1;
        let mut after = at + "super::".len();
        while code[after..].starts_with("super::") {
            up += 1;
            after += "super::".len();
        }
        let base = &module[..module.len().saturating_sub(up)];
        let shown: String = code[at..]
            .chars()
            .take(60)
            .take_while(|c| *c != '\n')
            .collect();
        let segments = match base.first() {
            Some(top) => vec![top.clone()],
            None => first_segments(code, after),
        };
        for segment in segments {
            if let Some(layer) = layer_named(&segment) {
                found.push((layer, shown.clone()));
            }
        }
    }
    found
}

#[test]
fn layers_name_only_the_layers_below_them() {
    let src = crate_dir().join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let reexports = root_reexports(&lib);
    assert!(
        reexports.contains_key("Runtime") && reexports.contains_key("Value"),
        "could not read lib.rs's re-exports: {reexports:?}"
    );
    let mut problems = Vec::new();
    let mut upward_used = vec![false; UPWARD.len()];
    for path in files(&src, &[".rs"]) {
        let rel = path
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let layer = match layer_of_file(&rel) {
            None => continue,
            Some(Ok(layer)) => layer,
            Some(Err(problem)) => {
                problems.push(problem);
                continue;
            }
        };
        let source = fs::read_to_string(&path).expect("readable source");
        let code = lex_rust(&source).code;
        for (named, shown) in named_layers(&rel, &code, &reexports) {
            if named <= layer {
                continue;
            }
            let allowed = UPWARD
                .iter()
                .position(|(file, target)| *file == rel && shown.starts_with(target));
            match allowed {
                Some(k) => upward_used[k] = true,
                None => problems.push(format!(
                    "src/{rel} (layer `{}`) names `{shown}`, in the higher layer `{}`",
                    LAYERS[layer].1, LAYERS[named].1
                )),
            }
        }
        if layer < NO_CPYTHON_BELOW && code.contains("cpython_sys") {
            problems.push(format!(
                "src/{rel} (layer `{}`) uses cpython_sys: only `python/` and above may",
                LAYERS[layer].1
            ));
        }
    }
    for ((file, target), used) in UPWARD.iter().zip(upward_used) {
        if !used {
            problems.push(format!(
                "the declared upward edge {file} -> {target} is gone: remove it from UPWARD \
                 and from lib.rs's documentation"
            ));
        }
        let item = target.trim_start_matches("crate::");
        if !lib.contains(item) {
            problems.push(format!(
                "the upward edge {file} -> {target} is not declared in lib.rs's documentation"
            ));
        }
    }
    assert!(
        UPWARD.len() <= 1,
        "at most one upward edge, declared in lib.rs"
    );
    assert!(
        problems.is_empty(),
        "layering:\n  {}",
        problems.join("\n  ")
    );
}

/// Whether `path` (relative, `/`-separated, without wildcards) exists under `base`.
fn exists_under(base: &Path, path: &str) -> bool {
    !path.is_empty() && base.join(path).exists()
}

/// The path-like words of a comment: `a/b.rs`, `dir/sub/`, `runtime/bench-scripts/...`, a bare file
/// name with a `.rs` or `.py` extension.
fn path_words(comment: &str) -> Vec<String> {
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '*');
    comment
        .split(|c: char| !allowed(c))
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.trim_end_matches(['.', '/'])
                .trim_start_matches('.')
                .to_owned()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// The ancestors of `file`'s folder up to (and including) the repository root.
fn bases(file: &Path, root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dir = file.parent();
    while let Some(d) = dir {
        out.push(d.to_path_buf());
        if d == root {
            break;
        }
        dir = d.parent();
    }
    out
}

/// What is wrong with the paths `comment` names, if anything.
fn stale_paths(file: &Path, comment: &str, root: &Path, names: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(at) = comment.find('§') {
        let before: String = comment[..at]
            .trim_end()
            .chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | '.'))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let doc = before.trim_end_matches(".md");
        let found = ["", "docs/"].iter().any(|dir| {
            ["", ".md"]
                .iter()
                .any(|ext| exists_under(root, &format!("{dir}{doc}{ext}")))
        });
        if !found {
            problems.push(format!(
                "`{before} §…`: no such document in the repository (the design notes are not \
                 here: cite README.md's Architecture section or docs/architecture.md)"
            ));
        }
    }
    let bases = bases(file, root);
    for word in path_words(comment) {
        if word.contains("//") || word.starts_with('/') {
            continue; // a URL or an absolute path
        }
        if word.starts_with("target/") {
            continue; // build output: exists only once something was built
        }
        if word.contains('/') {
            // Up to the first wildcard (`bench-scripts/*.py`, `runtime/bench-scripts/...`).
            let fixed: Vec<&str> = word
                .split('/')
                .take_while(|part| !part.contains('*') && !part.is_empty())
                .collect();
            let Some(first) = fixed.first() else {
                continue;
            };
            let fixed = fixed.join("/");
            // Only paths that start in the repository count (not `json/decoder.py`, a
            // module of CPython's, or `Python/pystate.c`).
            if !bases.iter().any(|base| exists_under(base, first)) {
                continue;
            }
            if !bases.iter().any(|base| exists_under(base, &fixed)) {
                problems.push(format!("`{word}` does not exist"));
            }
        } else if let Some(stem) = word
            .strip_suffix(".rs")
            .or_else(|| word.strip_suffix(".py"))
            && !stem.is_empty()
            && stem.chars().all(|c| c.is_alphanumeric() || c == '_')
            && !names.contains(&word)
        {
            problems.push(format!("`{word}`: no file of that name in the repository"));
        }
    }
    problems
}

#[test]
fn comments_name_only_paths_that_exist() {
    let root = repo_root();
    let sources = files(&root, &[".rs", ".py"]);
    let names: Vec<String> = sources
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let mut problems = Vec::new();
    for path in &sources {
        let Ok(source) = fs::read_to_string(path) else {
            continue;
        };
        let lexed = if path.extension().is_some_and(|e| e == "rs") {
            lex_rust(&source)
        } else {
            lex_python(&source)
        };
        let rel = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        for (line, comment) in &lexed.comments {
            for problem in stale_paths(path, comment, &root, &names) {
                problems.push(format!("{rel}:{line}: {problem}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "comments name paths that do not exist:\n  {}",
        problems.join("\n  ")
    );
}

/// The checks above catch what they should (and leave alone what they should).
#[test]
fn the_checks_catch_what_they_should() {
    let code = lex_rust(
        "use crate::{interp::runtime::Runtime, value};\n\
         // crate::csp in a comment\n\
         let s = \"crate::csp\"; let c = '\"'; fn f<'a>(x: &'a str) {}\n\
         super::super::python::token::Python;\n",
    )
    .code;
    let reexports = BTreeMap::from([("Runtime".to_owned(), "interp".to_owned())]);
    let named: Vec<&str> = named_layers("sync/task.rs", &code, &reexports)
        .iter()
        .map(|(layer, _)| LAYERS[*layer].1)
        .collect();
    assert_eq!(named, ["interp", "value", "python"]);
    assert_eq!(
        named_layers("sync/task.rs", "crate::Runtime::current()", &reexports)[0].0,
        4
    );

    let root = repo_root();
    let here = crate_dir().join("tests/layering.rs");
    let names = vec!["fork.rs".to_owned()];
    for stale in [
        "// Run by `cargo test` (tests/python_suite.rs).",
        "//! See runtime/bench-scripts/nothing_here.py.",
        "/// As DESIGN §5 says.",
        "# see `gone.py`",
    ] {
        assert!(
            !stale_paths(&here, stale, &root, &names).is_empty(),
            "not caught: {stale}"
        );
    }
    for fine in [
        "// See `tests/python/test_csp.py` and runtime/bench-scripts/... and `bench-scripts/*.py`.",
        "// `fork.rs`, https://example.org/a/b.py, json/decoder.py, Python/pystate.c.",
        "/// README.md's Architecture section; src/interp/fork.rs.",
    ] {
        assert_eq!(
            stale_paths(&here, fine, &root, &names),
            Vec::<String>::new(),
            "{fine}"
        );
    }
}
