//! Ground truth for the decision: against a real kube-apiserver 1.20.2 with Istio's Helm-shaped
//! webhooks (default and `canary` revisions) calling a real HTTPS injector, every combination of
//! namespace labels × pod labels × inject annotation × injector policy is created with
//! `dryRun=All`, and meshdoctor's offline prediction over the same objects must say what the
//! cluster did: the pod came back with `istio-proxy` exactly when meshdoctor says it would.

mod e2e_support;

use std::collections::BTreeMap;

use e2e_support::injector::{ISTIO_VERSION, TestInjector};
use e2e_support::istio::{self, DryRun, Endpoint, ISTIO_NAMESPACE};
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, ListParams};
use meshdoctor::admission::MetadataNameLabel;
use meshdoctor::engine::{Engine, EngineOptions};
use meshdoctor::origin::Origin;
use meshdoctor::state::{ClusterState, Kind};
use meshdoctor::workload::resolve;

type Labels = BTreeMap<String, String>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Namespace label sets: none, `istio-injection` on and off, `istio.io/rev` for each revision.
fn namespace_cases() -> Vec<(&'static str, Labels)> {
    vec![
        ("none", labels(&[])),
        (
            "injection-enabled",
            labels(&[("istio-injection", "enabled")]),
        ),
        (
            "injection-disabled",
            labels(&[("istio-injection", "disabled")]),
        ),
        ("rev-default", labels(&[("istio.io/rev", "default")])),
        ("rev-canary", labels(&[("istio.io/rev", "canary")])),
    ]
}

/// Pod label sets: none, `sidecar.istio.io/inject` true and false, `istio.io/rev=canary`.
fn pod_label_cases() -> Vec<(&'static str, Labels)> {
    vec![
        ("none", labels(&[])),
        (
            "inject-true",
            labels(&[("sidecar.istio.io/inject", "true")]),
        ),
        (
            "inject-false",
            labels(&[("sidecar.istio.io/inject", "false")]),
        ),
        ("rev-canary", labels(&[("istio.io/rev", "canary")])),
    ]
}

/// The `sidecar.istio.io/inject` annotation: absent, "true", "false".
fn annotation_cases() -> Vec<(&'static str, Labels)> {
    vec![
        ("none", labels(&[])),
        ("true", labels(&[("sidecar.istio.io/inject", "true")])),
        ("false", labels(&[("sidecar.istio.io/inject", "false")])),
    ]
}

/// Injector policy per run: (default revision, canary revision).
const POLICY_RUNS: [(&str, &str); 3] = [
    ("enabled", "enabled"),
    ("disabled", "disabled"),
    ("disabled", "enabled"),
];

struct Case {
    description: String,
    namespace: String,
    pod: Pod,
    actual: DryRun,
}

#[tokio::test]
async fn predicted_verdict_equals_the_dry_run_outcome() {
    let Some(server) = e2e_support::shared_or_skip("predicted_verdict_equals_the_dry_run_outcome")
    else {
        return;
    };
    let client = istio::client(server).await;
    let injector = TestInjector::start();
    istio::ensure_namespace(&client, ISTIO_NAMESPACE).await;
    istio::apply_configmap(&client, &istio::mesh_configmap()).await;
    for revision in ["default", "canary"] {
        let endpoint = Endpoint {
            url: injector.url(&format!("/inject/{revision}")),
            ca_pem: injector.ca_pem().to_owned(),
            failure_policy: "Fail",
            timeout_seconds: None,
        };
        istio::apply_webhooks(&client, &istio::injector_webhooks(revision, &endpoint)).await;
    }

    let mut agreeing = 0usize;
    let mut run = 0usize;
    let mut injected = 0usize;
    let mut disagreements: Vec<String> = Vec::new();
    for (run_index, (default_policy, canary_policy)) in POLICY_RUNS.iter().enumerate() {
        let mesh = istio::mesh_configmap();
        for (revision, policy) in [("default", default_policy), ("canary", canary_policy)] {
            let cm = istio::injector_configmap(revision, policy);
            istio::apply_configmap(&client, &cm).await;
            injector.set_revision(revision, &cm, Some(&mesh));
        }

        let mut namespaces: Vec<(&str, Namespace)> = Vec::new();
        for (label, ns_labels) in namespace_cases() {
            let name = istio::unique(&format!("m{run_index}-{label}"));
            namespaces.push((
                label,
                istio::create_namespace(&client, &name, &ns_labels).await,
            ));
        }
        if run_index == 0 {
            // The API server picks up new webhook configurations asynchronously.
            for ns_label in ["injection-enabled", "rev-canary"] {
                let ns = ns_name(&namespaces, ns_label);
                let probe = istio::pod("probe", &ns, &labels(&[]), &labels(&[]));
                istio::wait_for_webhooks(&client, &probe, |d| d.has_sidecar() == Some(true)).await;
            }
        }

        let mut cases: Vec<Case> = Vec::new();
        for (ns_label, ns) in &namespaces {
            let ns = ns.metadata.name.clone().unwrap_or_default();
            for (pod_label, pod_labels) in pod_label_cases() {
                for (annotation, annotations) in annotation_cases() {
                    let name = format!("p-{pod_label}-a-{annotation}");
                    let pod = istio::pod(&name, &ns, &pod_labels, &annotations);
                    let actual = istio::dry_run_create(&client, &pod).await;
                    cases.push(Case {
                        description: format!(
                            "policy default={default_policy} canary={canary_policy}; namespace {ns_label}; pod labels {pod_label}; annotation {annotation}"
                        ),
                        namespace: ns.clone(),
                        pod,
                        actual,
                    });
                }
            }
        }

        // meshdoctor's prediction, offline, over the objects as the API server stored them.
        let mut state = ClusterState::default();
        for (_, ns) in &namespaces {
            state.namespaces.insert(ns.clone(), Origin::Live);
        }
        let mwcs: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
        for mwc in mwcs
            .list(&ListParams::default())
            .await
            .expect("list webhooks")
        {
            state.mutating_webhooks.insert(mwc, Origin::Live);
        }
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ISTIO_NAMESPACE);
        for cm in cms
            .list(&ListParams::default())
            .await
            .expect("list configmaps")
        {
            state.configmaps.insert(cm, Origin::Live);
        }
        for case in &cases {
            state.pods.insert(case.pod.clone(), Origin::Live);
        }
        for kind in [
            Kind::Namespace,
            Kind::MutatingWebhookConfiguration,
            Kind::ConfigMap,
            Kind::Pod,
        ] {
            state.mark_loaded(kind);
        }
        let engine = Engine::new(
            &state,
            EngineOptions {
                istio_version: Some(ISTIO_VERSION),
                metadata_name_label: MetadataNameLabel::Absent,
            },
        );
        for case in &cases {
            run += 1;
            let name = case.pod.metadata.name.as_deref().unwrap_or("");
            let subject = resolve(&state, Kind::Pod, &case.namespace, name).expect("the pod");
            let predicted = engine.verdict(&subject);
            let actual = case.actual.has_sidecar();
            injected += usize::from(actual == Some(true));
            if actual == Some(predicted.inject) {
                agreeing += 1;
            } else {
                disagreements.push(format!(
                    "{}: predicted inject={} (decided by {}), cluster: {}",
                    case.description,
                    predicted.inject,
                    predicted.decisive,
                    match &case.actual {
                        DryRun::Admitted(_) => format!("admitted, sidecar={actual:?}"),
                        DryRun::Rejected(s) => format!("rejected: {}", s.message),
                    }
                ));
            }
        }
    }

    let calls = injector.calls();
    assert!(
        calls.iter().any(|c| c.injected == Some(true) && c.dry_run),
        "the injector saw dry-run requests and injected some: {calls:?}"
    );
    println!(
        "e2e matrix agreement: {agreeing}/{run} cases (predicted verdict == dry-run outcome); the cluster injected {injected} of them"
    );
    // Both outcomes occur, so agreement is not a constant answer agreeing with itself.
    assert!(
        injected > 0 && injected < run,
        "injected {injected} of {run}"
    );
    assert!(
        disagreements.is_empty(),
        "{} of {run} cases disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert_eq!(
        run,
        POLICY_RUNS.len()
            * namespace_cases().len()
            * pod_label_cases().len()
            * annotation_cases().len()
    );
}

fn ns_name(namespaces: &[(&str, Namespace)], label: &str) -> String {
    namespaces
        .iter()
        .find(|(l, _)| *l == label)
        .and_then(|(_, ns)| ns.metadata.name.clone())
        .unwrap_or_default()
}
