//! `check` loads cluster state slimmed (`source::slim`: the fields no check or verdict reads
//! are dropped as objects are typed). That must never change a report: for every fixture
//! cluster, through each of the loader's paths (the general YAML path, the JSON fast path, the
//! kubectl-YAML fast path), the slimmed state gives the same report, to the byte, as the full
//! one. And when a webhook's `matchConditions` (CEL over the whole pod) could see a dropped
//! field, `check` reads the state again in full.

#[path = "common/fast_path.rs"]
mod fast_path;

use std::path::Path;
use std::process::Command;

use fast_path::{cluster_fixtures, list_of, rows, state_path};
use meshdoctor::source::offline::{LoadOptions, load_paths, load_text};
use meshdoctor::state::ClusterState;

fn slim() -> LoadOptions {
    LoadOptions {
        slim: true,
        ..LoadOptions::default()
    }
}

/// The whole `check -A -o json` document of a state (fixed clock).
fn report(state: &ClusterState) -> String {
    meshdoctor::report::to_json(&fast_path::report(state))
}

/// Every object of a state, without the line it was read from.
fn objects(state: &ClusterState) -> Vec<(String, String, String, serde_json::Value)> {
    rows(state)
        .into_iter()
        .map(|(kind, ns, name, _, v)| (kind, ns, name, v))
        .collect()
}

fn loaded(name: &str, file: &str, text: &str, opts: &LoadOptions) -> ClusterState {
    let mut state = ClusterState::default();
    load_text(&mut state, file, text, opts).unwrap_or_else(|e| panic!("{name}: {file}: {e}"));
    state.sort();
    state
}

#[test]
fn every_fixture_cluster_gives_the_same_report_slimmed_through_every_loader_path() {
    let dirs = cluster_fixtures();
    assert!(dirs.len() > 30, "fixtures found: {}", dirs.len());
    let mut slimmed_fixtures = 0;
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let full = load_paths(&[state_path(&dir)], &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = report(&full);

        let general = load_paths(&[state_path(&dir)], &slim())
            .unwrap_or_else(|e| panic!("{name}: slim: {e}"));
        assert_eq!(report(&general), expected, "{name}: general path, slimmed");
        if rows(&general) != rows(&full) {
            slimmed_fixtures += 1;
        }

        let list = list_of(&full, 1);
        let json = serde_json::to_string_pretty(&list).unwrap();
        let yaml = meshdoctor::render::to_go_yaml(&list);
        for (file, text) in [("cluster.json", json), ("cluster.yaml", yaml)] {
            // A List as kubectl writes it: the JSON or the kubectl-YAML fast path.
            let slimmed = loaded(&name, file, &text, &slim());
            let whole = loaded(&name, file, &text, &LoadOptions::default());
            assert_eq!(report(&slimmed), report(&whole), "{name}: {file}, slimmed");
            assert_eq!(
                objects(&slimmed),
                objects(&general),
                "{name}: {file} vs the general path, slimmed"
            );
        }
    }
    // Not a test that passes because nothing was dropped.
    assert!(
        slimmed_fixtures >= 10,
        "only {slimmed_fixtures} fixtures had anything to slim"
    );
}

#[test]
fn slimming_drops_the_bulk_of_a_kubectl_shaped_pod() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let full = load_paths(&[state_path(&dir)], &LoadOptions::default()).unwrap();
    let json = serde_json::to_string(&list_of(&full, 1)).unwrap();
    let mut pod: serde_json::Value = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "fat", "namespace": "default"},
        "spec": {
            "volumes": [{"name": "kube-api-access", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]}}],
            "containers": [{"name": "app", "image": "app:1",
                "env": [{"name": "A", "value": "x".repeat(200)}],
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                "terminationMessagePath": "/dev/termination-log"}]
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    });
    let text = json.replacen("\"items\":[", &format!("\"items\":[{pod},"), 1);
    let state = loaded("demo", "cluster.json", &text, &slim());
    let got = serde_json::to_value(&state.pods.get(Some("default"), "fat").unwrap().obj).unwrap();
    pod["spec"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k == "containers");
    pod["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k == "name" || k == "image");
    pod["status"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k == "phase");
    assert_eq!(got, pod);
}

/// A webhook whose `matchConditions` read `object.spec.volumes`: slimmed, the pod would have
/// none, the condition would fail and the missing sidecar would go unreported.
#[test]
fn check_reads_in_full_when_a_webhook_has_match_conditions() {
    let state = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  volumes: [{name: data, emptyDir: {}}]
  containers: [{name: web, image: nginx}]
status: {phase: Running}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: istio-sidecar-injector, labels: {app: sidecar-injector}}
webhooks:
- name: namespace.sidecar-injector.istio.io
  clientConfig:
    service: {name: istiod, namespace: istio-system, path: /inject, port: 443}
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
  namespaceSelector:
    matchExpressions: [{key: istio-injection, operator: In, values: [enabled]}]
  matchConditions:
  - name: only-pods-with-volumes
    expression: "has(object.spec.volumes)"
  sideEffects: None
  admissionReviewVersions: [v1]
"#;
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("slim-match-conditions.yaml");
    std::fs::write(&path, state).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_meshdoctor"))
        .args(["check", "-A", "-o", "json", "--fail-on", "never", "--from"])
        .arg(&path)
        .env("MESHDOCTOR_NO_PROGRESS", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let missing: Vec<&serde_json::Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "pod-missing-sidecar")
        .collect();
    assert_eq!(missing.len(), 1, "{doc:#}");
    assert!(missing[0]["object"].to_string().contains("web"), "{doc:#}");
}
