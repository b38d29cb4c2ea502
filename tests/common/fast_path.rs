//! Helpers shared by the tests that prove a loader fast path (JSON, YAML) builds the same
//! state as the general path: every object as a comparable row, the fixture clusters, their
//! findings, and the fixtures written out as one List.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use meshdoctor::check::{RunOptions, run_checks};
use meshdoctor::engine::{Engine, EngineOptions};
use meshdoctor::origin::Origin;
use meshdoctor::state::{ClusterState, Object};
use serde_json::Value;

/// One object of a state, comparable: kind, namespace, name, line, and its JSON form.
pub type Row = (String, String, String, u32, Value);

pub fn rows_of<
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

pub fn rows(state: &ClusterState) -> Vec<Row> {
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

/// Every object of `state` as the items of one List, `copies` times over (copy k > 0 renamed
/// `<name>-copy<k>`, so that large lists cross the parallel threshold).
pub fn list_of(state: &ClusterState, copies: usize) -> Value {
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
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items})
}

pub fn cluster_fixtures() -> Vec<PathBuf> {
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

pub fn state_path(dir: &Path) -> PathBuf {
    let file = dir.join("state.yaml");
    if file.exists() {
        file
    } else {
        dir.join("state")
    }
}

pub fn findings(state: &ClusterState) -> Vec<(String, String, String)> {
    report(state)
        .findings
        .iter()
        .map(|f| (f.check.clone(), f.object.to_string(), f.message.clone()))
        .collect()
}

/// The built-in checks' report on a state, on a fixed clock.
pub fn report(state: &ClusterState) -> meshdoctor::check::CheckReport {
    let engine = Engine::new(state, EngineOptions::default());
    let opts = RunOptions {
        now_unix: 1_750_000_000,
        cert_warn_days: 30,
        ..RunOptions::default()
    };
    run_checks(state, &engine, &meshdoctor::checks::builtin(), &opts).unwrap()
}

/// Asserts that the fast and the general path built the same state from `text`: the same
/// objects in the same order, items at `item_lines`, the same findings.
pub fn assert_same_state(
    name: &str,
    fast: &ClusterState,
    general: &ClusterState,
    item_lines: &[u32],
) {
    let (fast_rows, general_rows) = (rows(fast), rows(general));
    assert_eq!(fast_rows.len(), general_rows.len(), "{name}: object count");
    for (f, g) in fast_rows.iter().zip(&general_rows) {
        assert_eq!(f, g, "{name}: fast and general paths differ");
    }
    let mut lines: Vec<u32> = fast_rows.iter().map(|r| r.3).collect();
    lines.sort_unstable();
    assert_eq!(lines, item_lines, "{name}: item lines");
    assert_eq!(findings(fast), findings(general), "{name}: findings");
}
