//! The loader's YAML fast path (a `kubectl get -o yaml` List cut into its items, each read and
//! typed in parallel) must build the same state as the general path (serde-saphyr), with the
//! same lines and the same errors: for every fixture cluster written out as kubectl writes it,
//! and for every case of the bad-input catalogue placed inside such a List. The general path is
//! the one manifests take (`load_manifest_text`), as in `tests/json_fast_path.rs`.

#[path = "common/fast_path.rs"]
mod fast_path;

use std::path::Path;

use fast_path::{assert_same_state, cluster_fixtures, list_of, rows, state_path};
use meshdoctor::source::offline::{LoadOptions, load_manifest_text, load_paths, load_text};
use meshdoctor::state::ClusterState;

/// Loads `text` once as cluster state (the fast path, when it applies) and once as manifests
/// (always the general path): both results, sorted.
fn both_paths(
    name: &str,
    text: &str,
) -> (Result<ClusterState, String>, Result<ClusterState, String>) {
    let load = |manifests: bool| {
        let mut state = ClusterState::default();
        let loaded = if manifests {
            load_manifest_text(&mut state, name, text, &LoadOptions::default()).map(|_| ())
        } else {
            load_text(&mut state, name, text, &LoadOptions::default())
        };
        loaded.map_err(|e| e.to_string()).map(|()| {
            state.sort();
            state
        })
    };
    (load(false), load(true))
}

/// The lines on which the List's items start: `- ` at column 0.
fn item_start_lines(text: &str) -> Vec<u32> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("- "))
        .map(|(i, _)| u32::try_from(i + 1).unwrap())
        .collect()
}

fn check_fixture(dir: &Path, copies: usize) {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let yaml_state = load_paths(&[state_path(dir)], &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let text = meshdoctor::render::to_go_yaml(&list_of(&yaml_state, copies));
    let (fast, general) = both_paths("cluster.yaml", &text);
    let fast = fast.unwrap_or_else(|e| panic!("{name}: fast path: {e}"));
    let general = general.unwrap_or_else(|e| panic!("{name}: general path: {e}"));
    assert_same_state(&name, &fast, &general, &item_start_lines(&text));
}

#[test]
fn every_fixture_cluster_loads_the_same_through_the_fast_and_general_yaml_paths() {
    let dirs = cluster_fixtures();
    assert!(dirs.len() > 30, "fixtures found: {}", dirs.len());
    for dir in dirs {
        check_fixture(&dir, 1);
    }
}

#[test]
fn a_list_large_enough_to_be_read_in_parallel_loads_the_same() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    check_fixture(&dir, 60);
}

/// A YAML text's documents as the items of a kubectl-shaped List: each document's first line
/// after `- `, the others indented by two, a valid Pod first so that the bad item is not alone.
fn as_list_items(text: &str) -> String {
    let mut out = String::from(
        "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: first\n",
    );
    for doc in text.split("\n---\n") {
        let doc = doc.strip_prefix("---\n").unwrap_or(doc);
        for (i, line) in doc.lines().enumerate() {
            out.push_str(match i {
                0 => "- ",
                _ if line.is_empty() => "",
                _ => "  ",
            });
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
    out
}

fn same_outcome(name: &str, text: &str) {
    match both_paths(name, text) {
        (Ok(fast), Ok(general)) => assert_eq!(rows(&fast), rows(&general), "{name}"),
        (Err(fast), Err(general)) => assert_eq!(fast, general, "{name}: errors differ"),
        (fast, general) => panic!(
            "{name}: fast path {:?}, general path {:?}",
            fast.map(|_| "loaded"),
            general.map(|_| "loaded")
        ),
    }
}

#[test]
fn every_bad_input_fails_or_loads_the_same_on_both_paths() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-inputs");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() > 30, "cases found: {}", cases.len());
    let mut as_items = 0;
    for path in cases {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(text) = String::from_utf8(std::fs::read(&path).unwrap()) else {
            continue; // Not UTF-8: refused before either path is chosen.
        };
        // As the file is (the fast path declines all but kubectl Lists), and inside a List.
        same_outcome(&name, &text);
        let wrapped = as_list_items(&text);
        same_outcome(&format!("{name} as list items"), &wrapped);
        as_items += 1;
    }
    assert!(as_items > 30);
}

/// Plain label values are typed by YAML's rules on both paths: an unquoted `000000008` is a
/// number, and a label must be a string, so the file is refused the same way.
#[test]
fn an_unquoted_number_label_is_refused_as_today() {
    let text = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata:\n    labels:\n      zone: 000000008\n    name: a\nkind: List\n";
    let (fast, general) = both_paths("cluster.yaml", text);
    let Err(err) = fast else {
        panic!("the fast path loaded a number as a label");
    };
    assert_eq!(Some(&err), general.as_ref().err());
    assert!(err.starts_with("cluster.yaml:3: "), "{err}");
    assert!(err.contains("labels"), "{err}");
}
