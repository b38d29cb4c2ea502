//! Replays the committed fuzz seed corpora (`fuzz/seeds/<target>/`) through the library's
//! harness functions, so that `cargo test` catches a regression on any input the fuzzers
//! once found (crash reproducers are kept there as `crash-*`) without cargo-fuzz or nightly.
//!
//! `MESHDOCTOR_FUZZ_CORPUS=DIR` also replays `DIR/<target>/*` (e.g. `fuzz/corpus`, the corpus a
//! fuzz run grew): the debug build's assertions (the fast YAML reader checked against
//! serde-saphyr, overflow checks) then run over everything the fuzzer found.

use std::path::{Path, PathBuf};

/// Every file of `fuzz/seeds/<target>/`, sorted; fails when the folder is empty.
fn seeds(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no seeds", dir.display());
    files
}

/// Files of `$MESHDOCTOR_FUZZ_CORPUS/<target>/`, when that variable is set.
fn extra(target: &str) -> Vec<PathBuf> {
    let Some(root) = std::env::var_os("MESHDOCTOR_FUZZ_CORPUS") else {
        return Vec::new();
    };
    let dir = Path::new(&root).join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Runs `harness` on every seed of `target`; a panic names the seed.
fn replay(target: &str, harness: fn(&[u8])) {
    for path in seeds(target).into_iter().chain(extra(target)) {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| harness(&data));
        assert!(outcome.is_ok(), "{}: the harness panicked", path.display());
    }
}

#[test]
fn loader_seeds() {
    replay("loader", meshdoctor::fuzzing::loader);
}

#[test]
fn selector_seeds() {
    replay("selector", meshdoctor::fuzzing::selector);
}

#[test]
fn webhook_match_seeds() {
    replay("webhook_match", meshdoctor::fuzzing::webhook_match);
}

#[test]
fn template_seeds() {
    replay("template", meshdoctor::fuzzing::template);
}

#[test]
fn pem_seeds() {
    replay("pem", meshdoctor::fuzzing::pem);
}

#[test]
fn positions_seeds() {
    replay("positions", meshdoctor::fuzzing::positions);
}
