//! Checks the `fixtures/linkerd-*` scenarios against the Linkerd decision alone: every state file
//! loads, every pod is listed in `expected.yaml`, and pods the webhook is called for get the
//! listed verdict. Pods the webhook's selectors keep away are only checked against the chart's
//! default selectors here; the full engine test drives them through the admission matcher.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;

use super::{
    InjectorSettings, Reason, decide_with, is_linkerd_injector_webhook, misplaced_annotation,
};
use crate::source::offline::{LoadOptions, load_text};
use crate::state::ClusterState;
use crate::trace::NoTrace;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    pods: Vec<ExpectedVerdict>,
    #[serde(default)]
    workloads: Vec<ExpectedVerdict>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedVerdict {
    #[serde(default)]
    kind: Option<String>,
    namespace: String,
    name: String,
    inject: bool,
    mesh: Option<String>,
    decisive: String,
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default)]
    misplaced: bool,
}

/// The engine's step when no injection webhook is called for the pod.
const NOT_CALLED: &str = "no-webhook-matched";

fn scenarios() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/ is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("linkerd-"))
        })
        .collect();
    dirs.sort();
    dirs
}

fn load(dir: &Path) -> (ClusterState, Expected) {
    let state_path = dir.join("state.yaml");
    let text = std::fs::read_to_string(&state_path).expect("state.yaml is readable");
    let mut state = ClusterState::default();
    load_text(
        &mut state,
        &state_path.display().to_string(),
        &text,
        &LoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let expected_text =
        std::fs::read_to_string(dir.join("expected.yaml")).expect("expected.yaml is readable");
    let expected: Expected =
        serde_saphyr::from_str(&expected_text).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    (state, expected)
}

/// The chart's default selectors (A.2), evaluated by hand for the fixture's sanity; the test
/// first makes sure the fixture's webhook really carries exactly these.
fn default_selectors_skip(
    ns_labels: &BTreeMap<String, String>,
    pod_labels: &BTreeMap<String, String>,
    namespace: &str,
) -> Option<&'static str> {
    let name = ns_labels
        .get("kubernetes.io/metadata.name")
        .map_or(namespace, String::as_str);
    if ns_labels
        .get("config.linkerd.io/admission-webhooks")
        .map(String::as_str)
        == Some("disabled")
        || name == "kube-system"
        || name == "cert-manager"
    {
        return Some("namespace-selector");
    }
    if pod_labels.contains_key("linkerd.io/control-plane-component")
        || pod_labels.contains_key("linkerd.io/cni-resource")
    {
        return Some("object-selector");
    }
    None
}

fn chart_default_selectors() -> serde_json::Value {
    serde_json::json!({
        "namespaceSelector": {"matchExpressions": [
            {"key": "config.linkerd.io/admission-webhooks", "operator": "NotIn", "values": ["disabled"]},
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "cert-manager"]}
        ]},
        "objectSelector": {"matchExpressions": [
            {"key": "linkerd.io/control-plane-component", "operator": "DoesNotExist"},
            {"key": "linkerd.io/cni-resource", "operator": "DoesNotExist"}
        ]}
    })
}

/// Finds the Linkerd webhook and returns the control-plane namespace it points at.
fn linkerd_control_plane(state: &ClusterState, dir: &Path) -> String {
    let mut found = None;
    for mwc in state.mutating_webhooks.iter() {
        let config = mwc.obj.metadata.name.as_deref().unwrap_or("");
        for wh in mwc.obj.webhooks.as_deref().unwrap_or_default() {
            if is_linkerd_injector_webhook(config, &wh.name) {
                let selectors = serde_json::json!({
                    "namespaceSelector": wh.namespace_selector,
                    "objectSelector": wh.object_selector,
                });
                assert_eq!(selectors, chart_default_selectors(), "{}", dir.display());
                found = wh
                    .client_config
                    .service
                    .as_ref()
                    .map(|s| s.namespace.clone());
            }
        }
    }
    found.unwrap_or_else(|| panic!("{}: no Linkerd injector webhook", dir.display()))
}

fn check(
    dir: &Path,
    what: &str,
    pod: &Pod,
    state: &ClusterState,
    exp: &ExpectedVerdict,
    settings: &InjectorSettings,
) {
    let at = format!("{}: {what} {}/{}", dir.display(), exp.namespace, exp.name);
    static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();
    let ns = state.namespaces.get(None, &exp.namespace);
    let ns_labels = ns
        .and_then(|n| n.obj.metadata.labels.as_ref())
        .unwrap_or(&NO_LABELS);
    let pod_labels = pod.metadata.labels.as_ref().unwrap_or(&NO_LABELS);
    let skipped = default_selectors_skip(ns_labels, pod_labels, &exp.namespace);

    if exp.decisive == NOT_CALLED {
        assert!(
            skipped.is_some(),
            "{at}: the chart's selectors call the webhook for it"
        );
        assert!(
            !exp.inject && exp.mesh.is_none() && exp.reasons.is_empty(),
            "{at}"
        );
        return;
    }
    assert_eq!(skipped, None, "{at}: the webhook is not called for it");
    let d = decide_with(pod, ns.map(|n| &n.obj), settings, &mut NoTrace);
    assert_eq!(d.inject, exp.inject, "{at}: {d:?}");
    assert_eq!(d.decisive, exp.decisive, "{at}: {d:?}");
    let ids: Vec<&str> = d.reasons.iter().map(|r| r.id()).collect();
    assert_eq!(ids, exp.reasons, "{at}");
    for r in &exp.reasons {
        assert!(Reason::from_id(r).is_some(), "{at}: unknown reason {r}");
    }
    let mesh = exp.inject.then_some("linkerd");
    assert_eq!(exp.mesh.as_deref(), mesh, "{at}");
}

#[test]
fn linkerd_fixtures_load_and_match_the_decision() {
    let dirs = scenarios();
    assert!(dirs.len() >= 8, "found only {dirs:?}");
    for dir in dirs {
        let (state, expected) = load(&dir);
        let cp = linkerd_control_plane(&state, &dir);
        let settings = InjectorSettings::from_state(&state, &cp).unwrap_or_else(|e| panic!("{e}"));

        // Every pod in the state is listed, and every listed pod exists.
        let mut listed: Vec<(String, String)> = expected
            .pods
            .iter()
            .map(|p| (p.namespace.clone(), p.name.clone()))
            .collect();
        let mut present: Vec<(String, String)> = state
            .pods
            .iter()
            .map(|p| {
                (
                    p.obj.metadata.namespace.clone().unwrap_or_default(),
                    p.obj.metadata.name.clone().unwrap_or_default(),
                )
            })
            .collect();
        listed.sort();
        present.sort();
        assert_eq!(
            listed,
            present,
            "{}: pods in expected.yaml vs state.yaml",
            dir.display()
        );

        for exp in &expected.pods {
            assert!(
                exp.kind.is_none() && !exp.misplaced,
                "{}: pod rows take no kind/misplaced",
                dir.display()
            );
            let pod = state
                .pods
                .get(Some(&exp.namespace), &exp.name)
                .map(|p| &p.obj);
            let Some(pod) = pod else { continue };
            check(&dir, "pod", pod, &state, exp, &settings);
        }

        for exp in &expected.workloads {
            assert_eq!(
                exp.kind.as_deref(),
                Some("Deployment"),
                "{}: only Deployments so far",
                dir.display()
            );
            let Some(dep) = state.deployments.get(Some(&exp.namespace), &exp.name) else {
                panic!(
                    "{}: no deployment {}/{}",
                    dir.display(),
                    exp.namespace,
                    exp.name
                );
            };
            let template = dep.obj.spec.template.clone();
            let template_meta = template.metadata.clone().unwrap_or_default();
            assert_eq!(
                misplaced_annotation(&dep.obj.metadata, &template_meta).is_some(),
                exp.misplaced,
                "{}: deployment {}",
                dir.display(),
                exp.name
            );
            let pod = Pod {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    namespace: Some(exp.namespace.clone()),
                    ..template_meta
                },
                spec: template.spec,
                status: None,
            };
            check(&dir, "deployment", &pod, &state, exp, &settings);
        }
    }
}
