//! Replays the committed fuzz seed corpora (`fuzz/seeds/<target>/`) through the library's
//! harness functions, so that `cargo test` catches a regression on any input the fuzzers
//! once found (crash reproducers are kept there as `crash-*`) without cargo-fuzz or nightly.

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

/// Runs `harness` on every seed of `target`; a panic names the seed.
fn replay(target: &str, harness: fn(&[u8])) {
    for path in seeds(target) {
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
