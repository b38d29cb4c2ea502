//! The loader's JSON fast path (list items typed straight from their text, in parallel) must
//! build the same state as the general path, for every fixture cluster: same objects, same
//! lines, same findings. The fixtures are written out as one `kubectl get -o json`-style List,
//! then loaded once as cluster state (fast path) and once as manifests (general path).

#[path = "common/fast_path.rs"]
mod fast_path;

use std::path::Path;

use fast_path::{assert_same_state, cluster_fixtures, findings, list_of, state_path};
use meshdoctor::source::offline::{LoadOptions, load_manifest_text, load_paths, load_text};
use meshdoctor::state::ClusterState;

/// Every object of `state` as the items of one pretty-printed JSON List (see [`list_of`]).
fn as_json_list(state: &ClusterState, copies: usize) -> String {
    serde_json::to_string_pretty(&list_of(state, copies)).expect("serializable")
}

/// The lines on which the List's items start: `    {` at the items' indentation.
fn item_start_lines(text: &str) -> Vec<u32> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| *l == "    {")
        .map(|(i, _)| u32::try_from(i + 1).unwrap())
        .collect()
}

fn check_fixture(dir: &Path, copies: usize) {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let yaml_state = load_paths(&[state_path(dir)], &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let text = as_json_list(&yaml_state, copies);

    let mut fast = ClusterState::default();
    load_text(&mut fast, "cluster.json", &text, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{name}: fast path: {e}"));
    fast.sort();
    let mut general = ClusterState::default();
    load_manifest_text(&mut general, "cluster.json", &text, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{name}: general path: {e}"));
    general.sort();

    assert_same_state(&name, &fast, &general, &item_start_lines(&text));
    if copies == 1 {
        // And the same findings as the YAML the fixture is written in.
        assert_eq!(
            findings(&fast),
            findings(&yaml_state),
            "{name}: json vs yaml"
        );
    }
}

#[test]
fn every_fixture_cluster_loads_the_same_through_the_fast_and_general_json_paths() {
    let dirs = cluster_fixtures();
    assert!(dirs.len() > 30, "fixtures found: {}", dirs.len());
    for dir in dirs {
        check_fixture(&dir, 1);
    }
}

#[test]
fn a_list_large_enough_to_be_typed_in_parallel_loads_the_same() {
    // The demo cluster repeated until the list is well past the parallel threshold (256 items
    // per thread), so that chunk boundaries and their line offsets are exercised.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    check_fixture(&dir, 60);
}
