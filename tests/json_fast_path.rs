//! The loader's JSON fast path (list items typed straight from their text, in parallel) must
//! build the same state as the general path, for every fixture cluster: same objects, same
//! lines, same findings. The fixtures are written out as one `kubectl get -o json`-style List,
//! then loaded once as cluster state (fast path) and once as manifests (general path).

use std::path::{Path, PathBuf};

use meshdoctor::check::{RunOptions, run_checks};
use meshdoctor::engine::{Engine, EngineOptions};
use meshdoctor::origin::Origin;
use meshdoctor::source::offline::{LoadOptions, load_manifest_text, load_paths, load_text};
use meshdoctor::state::{ClusterState, Object};
use serde_json::Value;

/// One object of a state, comparable: kind, namespace, name, line, and its JSON form.
type Row = (String, String, String, u32, Value);

fn rows_of<
    T: serde::Serialize
        + k8s_openapi::Resource
        + k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
>(
    objects: impl Iterator<Item = impl std::ops::Deref<Target = Object<T>>>,
    out: &mut Vec<Row>,
) {
    for o in objects {
        let mut v = serde_json::to_value(&o.obj).expect("serializable");
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        let line = match &o.origin {
            Origin::File { line, .. } => *line,
            _ => 0,
        };
        let meta = o.obj.metadata();
        out.push((
            T::KIND.to_owned(),
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
            line,
            v,
        ));
    }
}

macro_rules! all_rows {
    ($state:expr, $($store:ident),*) => {{
        let mut rows = Vec::new();
        $(rows_of($state.$store.iter(), &mut rows);)*
        rows
    }};
}

fn rows(state: &ClusterState) -> Vec<Row> {
    let mut rows = all_rows!(
        state,
        namespaces,
        pods,
        deployments,
        statefulsets,
        daemonsets,
        replicasets,
        jobs,
        cronjobs,
        mutating_webhooks,
        configmaps,
        secrets,
        services,
        endpoints,
        endpoint_slices,
        events,
        network_policies,
        resource_quotas,
        limit_ranges
    );
    for u in &state.unknown {
        let line = match &u.origin {
            Origin::File { line, .. } => *line,
            _ => 0,
        };
        rows.push((
            u.obj.kind.clone(),
            u.obj.namespace.clone().unwrap_or_default(),
            u.obj.name.clone(),
            line,
            u.obj.raw.clone(),
        ));
    }
    rows
}

/// Every object of `state` as the items of one pretty-printed JSON List, `copies` times over
/// (copy k > 0 renamed `<name>-copy<k>`, so that large lists cross the parallel threshold).
fn as_json_list(state: &ClusterState, copies: usize) -> String {
    let mut items = Vec::new();
    for k in 0..copies {
        for (_, _, _, _, mut v) in rows(state) {
            if k > 0
                && let Some(name) = v.pointer_mut("/metadata/name")
                && let Some(s) = name.as_str()
            {
                *name = Value::String(format!("{s}-copy{k}"));
            }
            items.push(v);
        }
    }
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    serde_json::to_string_pretty(&list).expect("serializable")
}

/// The lines on which the List's items start: `    {` at the items' indentation.
fn item_start_lines(text: &str) -> Vec<u32> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| *l == "    {")
        .map(|(i, _)| u32::try_from(i + 1).unwrap())
        .collect()
}

fn cluster_fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let expected = std::fs::read_to_string(p.join("expected.yaml")).unwrap_or_default();
            p.join("expected.yaml").exists() && !expected.contains("preflight: true")
        })
        .collect();
    dirs.sort();
    dirs
}

fn state_path(dir: &Path) -> PathBuf {
    let file = dir.join("state.yaml");
    if file.exists() {
        file
    } else {
        dir.join("state")
    }
}

fn findings(state: &ClusterState) -> Vec<(String, String, String)> {
    let engine = Engine::new(state, EngineOptions::default());
    let opts = RunOptions {
        now_unix: 1_750_000_000,
        cert_warn_days: 30,
        ..RunOptions::default()
    };
    let report = run_checks(state, &engine, &meshdoctor::checks::builtin(), &opts).unwrap();
    report
        .findings
        .iter()
        .map(|f| (f.check.clone(), f.object.to_string(), f.message.clone()))
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

    let (fast_rows, general_rows) = (rows(&fast), rows(&general));
    assert_eq!(fast_rows.len(), general_rows.len(), "{name}: object count");
    for (f, g) in fast_rows.iter().zip(&general_rows) {
        assert_eq!(f, g, "{name}: fast and general paths differ");
    }
    let mut lines: Vec<u32> = fast_rows.iter().map(|r| r.3).collect();
    lines.sort_unstable();
    assert_eq!(lines, item_start_lines(&text), "{name}: item lines");
    assert_eq!(findings(&fast), findings(&general), "{name}: findings");
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
