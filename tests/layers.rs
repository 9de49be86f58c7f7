//! The crate's shape. Its layers point one way: the public handles (`client.rs`,
//! `subscription.rs`) reach the client only through the runtime's port, never into the state
//! machine (`core`), and the runtime never reaches back into the handles. And its files stay
//! small. Plain text checks over the sources, so that anyone can run them and see what they
//! look for.

use std::path::{Path, PathBuf};

fn source(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files
}

/// The lines of `path` that mention any of `forbidden`, as `file:line: text`.
fn offending_lines(path: &Path, forbidden: &[&str]) -> Vec<String> {
    source(path)
        .lines()
        .enumerate()
        .filter(|(_, line)| forbidden.iter().any(|needle| line.contains(needle)))
        .map(|(number, line)| format!("{}:{}: {}", path.display(), number + 1, line.trim()))
        .collect()
}

#[test]
fn the_handles_do_not_reach_into_the_core() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offending = Vec::new();
    for handle in ["client.rs", "subscription.rs"] {
        offending.extend(offending_lines(&src.join(handle), &["crate::core", "core::"]));
    }
    assert!(
        offending.is_empty(),
        "the handles must go through the runtime's port:\n{}",
        offending.join("\n")
    );
}

#[test]
fn the_runtime_does_not_reach_back_into_the_handles() {
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime");
    let files = rust_files(&runtime);
    assert!(files.len() > 3, "found the runtime's files: {files:?}");
    let mut offending = Vec::new();
    for file in files {
        offending
            .extend(offending_lines(&file, &["crate::client", "crate::subscription", "crate::listener"]));
    }
    assert!(offending.is_empty(), "the runtime must not depend on the handles:\n{}", offending.join("\n"));
}

#[test]
fn the_check_finds_what_it_looks_for() {
    // Guards the guard: a file that does import the core is reported.
    let dir = std::env::temp_dir().join(format!("layers-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.rs");
    std::fs::write(&file, "use std::sync::Arc;\nuse crate::core::Core;\n").unwrap();
    let found = offending_lines(&file, &["crate::core"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].ends_with(":2: use crate::core::Core;"), "{found:?}");
}

/// Small modules with one job: no source file grows past 800 lines (the generated wire model
/// lives in `OUT_DIR`, not in `src/`).
#[test]
fn no_source_file_is_over_800_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let long: Vec<String> = rust_files(&src)
        .into_iter()
        .filter_map(|file| {
            let lines = source(&file).lines().count();
            (lines > 800).then(|| format!("{}: {lines} lines", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by what they do:\n{}", long.join("\n"));
}
