//! The facts of Istio's `istioctl x check-inject` test (`Test_analyzeRunningWebhooks`, reference
//! §3), read in place from `../shared/conformance/`: for each case and each
//! MutatingWebhookConfiguration, whether meshdoctor's API-server webhook matching calls one of
//! its webhooks for a pod with the case's labels, in a namespace with the case's labels.
//! check-inject's own reason strings are not reproduced; for a case it reports as blocked by a
//! label, our trace must name that label.
//!
//! Two data sets: Istio 1.24.6 (`istio-1.24.6/check-inject-cases.yaml` and its webhook files)
//! and the 1.32-dev snapshot (`istio-1.32-dev/check-inject/`, see its NOTICE.md). The 1.32-dev
//! snapshot ships only the webhook files; its case table is the 1.24.6 one, because
//! `istioctl/pkg/checkinject/` (code, test and test data) is unchanged between tag 1.24.6 and
//! commit 86c9f01fd735fb01d8192f5bcaf0d424afb7f14c (`git diff 1.24.6 86c9f01 --
//! istioctl/pkg/checkinject/` is empty). So the 1.24.6 manifest's cases run against each
//! snapshot's own webhook files. Each test prints `check-inject <version>: N/11 cases agree`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::core::v1::{Container, Namespace, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use meshdoctor::admission::{
    AdmissionRequest, MetadataNameLabel, compile_configurations, effective_namespace_labels,
};
use meshdoctor::engine::{Engine, EngineOptions};
use meshdoctor::origin::Origin;
use meshdoctor::source::offline::{LoadOptions, load_path};
use meshdoctor::state::ClusterState;
use meshdoctor::trace::{Trace, Tracer};
use meshdoctor::workload::all_subjects;
use serde::Deserialize;

/// Where the case manifest lives (it names webhook files relative to a data set's folder).
const CASES_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/conformance/istio-1.24.6"
);

/// The data sets: a label and the folder its `check-inject/check-inject/*.yaml` are under.
const DATA_SETS: [(&str, &str); 2] = [
    ("istio 1.24.6", CASES_DIR),
    (
        "istio 1.32-dev",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/conformance/istio-1.32-dev"
        ),
    ),
];

/// The pod and namespace names check-inject's test uses (they play no part in its analysis).
const NAME: &str = "test1";

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    webhook_configs: Vec<String>,
    #[serde(default)]
    pod_labels: BTreeMap<String, String>,
    #[serde(default)]
    namespace_labels: BTreeMap<String, String>,
    expected: Vec<ExpectedResult>,
}

#[derive(Debug, Deserialize)]
struct ExpectedResult {
    name: String,
    #[serde(default)]
    revision: String,
    injected: bool,
    reason: String,
}

/// `None` (and a printed note) when the conformance data is not next to the repository.
fn load_cases() -> Option<Vec<Case>> {
    let path = Path::new(CASES_DIR).join("check-inject-cases.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "skipping: {} is not available (the shared conformance data lives next to the repository)",
            path.display()
        );
        return None;
    };
    let cases: Vec<Case> = serde_saphyr::from_str(&text).expect("check-inject-cases.yaml parses");
    assert_eq!(cases.len(), 11, "the manifest lists 11 cases");
    Some(cases)
}

fn load_config(dir: &str, file: &str) -> MutatingWebhookConfiguration {
    let path = Path::new(dir).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The pod as the API server would hand it to a webhook's matchConditions.
fn pod_json(labels: &BTreeMap<String, String>) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": NAME, "namespace": NAME, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
    })
}

/// Whether any webhook of `config` is called for a pod CREATE with these labels, and the
/// trace of every webhook's matching.
fn config_matches(
    config: &MutatingWebhookConfiguration,
    pod_labels: &BTreeMap<String, String>,
    ns_labels: &BTreeMap<String, String>,
) -> (bool, Vec<String>) {
    let (webhooks, errors) = compile_configurations(&[config]);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!webhooks.is_empty());
    let pod = pod_json(pod_labels);
    let request = AdmissionRequest::pod_create(NAME, NAME, &pod, Some(pod_labels), Some(ns_labels));
    let mut trace = Trace::default();
    let mut any = false;
    for wh in &webhooks {
        trace.record(|| {
            meshdoctor::trace::Step::new(
                "webhook",
                meshdoctor::trace::StepResult::Info,
                wh.name.to_string(),
            )
        });
        any |= wh.matches(&request, &mut trace).is_matched();
    }
    let lines = trace
        .steps
        .iter()
        .map(|s| format!("{} {}", s.step, s.detail))
        .collect();
    (any, lines)
}

/// The `key=value` label check-inject says blocks injection, when it says so.
fn blocking_label(reason: &str) -> Option<&str> {
    let rest = reason
        .strip_prefix("Pod has ")
        .or_else(|| reason.strip_prefix("Namespace has "))?;
    rest.strip_suffix(" label, preventing injection")
}

/// Whether one trace line names both the key and the value of `key=value` (our traces quote
/// values: `sidecar.istio.io/inject="false"`).
fn names_label(trace: &[String], label: &str) -> bool {
    let (key, value) = label.split_once('=').unwrap_or((label, ""));
    trace
        .iter()
        .any(|l| l.contains(key) && (value.is_empty() || l.contains(value)))
}

/// The data sets whose webhook files are present (a missing one is said, not failed).
fn data_sets() -> Vec<(&'static str, &'static str)> {
    DATA_SETS
        .into_iter()
        .filter(|(label, dir)| {
            let present = Path::new(dir).join("check-inject/check-inject").is_dir();
            if !present {
                eprintln!("skipping {label}: {dir}/check-inject/check-inject is not available");
            }
            present
        })
        .collect()
}

/// Prints and checks one data set's tally: every case must agree.
fn report(test: &str, label: &str, cases: usize, problems: &[(String, String)]) {
    let failing: std::collections::BTreeSet<&str> =
        problems.iter().map(|(case, _)| case.as_str()).collect();
    let line = format!(
        "check-inject {label} ({test}): {}/{cases} cases agree",
        cases - failing.len()
    );
    println!("{line}");
    eprintln!("{line}");
    let text: Vec<&str> = problems.iter().map(|(_, p)| p.as_str()).collect();
    assert!(
        problems.is_empty(),
        "{label}: {} problems:\n{}",
        problems.len(),
        text.join("\n")
    );
}

#[test]
fn admission_matching_agrees_with_check_inject() {
    let Some(cases) = load_cases() else { return };
    for (label, dir) in data_sets() {
        admission_matching_for(label, dir, &cases);
    }
}

fn admission_matching_for(label: &str, dir: &str, cases: &[Case]) {
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut metadata_label_changed = Vec::new();
    for case in cases {
        let configs: Vec<MutatingWebhookConfiguration> = case
            .webhook_configs
            .iter()
            .map(|f| load_config(dir, f))
            .collect();
        // The API server (≥ 1.21) adds kubernetes.io/metadata.name to every namespace.
        let effective =
            effective_namespace_labels(NAME, &case.namespace_labels, MetadataNameLabel::Set);
        assert_eq!(
            effective
                .get("kubernetes.io/metadata.name")
                .map(String::as_str),
            Some(NAME)
        );
        for exp in &case.expected {
            let config = configs
                .iter()
                .find(|c| c.metadata.name.as_deref() == Some(exp.name.as_str()))
                .unwrap_or_else(|| panic!("{}: no configuration {}", case.name, exp.name));
            let revision = config
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("istio.io/rev"))
                .cloned()
                .unwrap_or_default();
            assert_eq!(revision, exp.revision, "{} / {}", case.name, exp.name);

            let (matched, trace) = config_matches(config, &case.pod_labels, &effective);
            let (as_stored, _) = config_matches(config, &case.pod_labels, &case.namespace_labels);
            if matched != as_stored {
                metadata_label_changed.push(format!("{} / {}", case.name, exp.name));
            }
            checked += 1;
            if matched != exp.injected {
                problems.push((
                    case.name.clone(),
                    format!(
                        "{} / {}: matched = {matched}, check-inject says injected = {} ({})\n  {}",
                        case.name,
                        exp.name,
                        exp.injected,
                        exp.reason,
                        trace.join("\n  ")
                    ),
                ));
            }
            if let Some(blamed) = blocking_label(&exp.reason)
                && !names_label(&trace, blamed)
            {
                problems.push((
                    case.name.clone(),
                    format!(
                        "{} / {}: check-inject blames {blamed}, our trace does not name it:\n  {}",
                        case.name,
                        exp.name,
                        trace.join("\n  ")
                    ),
                ));
            }
        }
    }
    // None of these webhooks select on kubernetes.io/metadata.name, so adding it changes nothing.
    assert!(
        metadata_label_changed.is_empty(),
        "the metadata.name label changed: {metadata_label_changed:?}"
    );
    assert_eq!(checked, 33, "{label}: 11 cases × 3 configurations");
    report("admission matching", label, cases.len(), &problems);
}

/// The same cases through the whole engine (every configuration at once, as in a cluster):
/// the pod is injected when some configuration injects it (no injector ConfigMap is in the
/// input, so the Helm default policy `enabled` applies and the webhook decides), by the
/// configuration check-inject names; a pod that is not injected has a trace naming the label
/// check-inject blames.
#[test]
fn engine_verdicts_agree_with_check_inject() {
    let Some(cases) = load_cases() else { return };
    for (label, dir) in data_sets() {
        engine_verdicts_for(label, dir, &cases);
    }
}

fn engine_verdicts_for(label: &str, dir: &str, cases: &[Case]) {
    let mut problems = Vec::new();
    for case in cases {
        let mut state = ClusterState::default();
        for file in &case.webhook_configs {
            let path: PathBuf = Path::new(dir).join(file);
            load_path(&mut state, &path, &LoadOptions::default())
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        }
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(NAME.into()),
                labels: Some(case.namespace_labels.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        state.namespaces.insert(ns, Origin::Derived);
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some(NAME.into()),
                namespace: Some(NAME.into()),
                labels: Some(case.pod_labels.clone()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".into(),
                    image: Some("nginx".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: None,
        };
        state.pods.insert(pod, Origin::Derived);
        let engine = Engine::new(&state, EngineOptions::default());
        assert!(
            engine.compile_errors.is_empty(),
            "{:?}",
            engine.compile_errors
        );
        let subjects = all_subjects(&state, None);
        let [subject] = subjects.as_slice() else {
            panic!("{}: one subject expected", case.name);
        };
        let d = engine.explain(subject);
        let injecting: Vec<&ExpectedResult> = case.expected.iter().filter(|e| e.injected).collect();
        if d.inject == injecting.is_empty() {
            problems.push((
                case.name.clone(),
                format!(
                    "{}: engine inject = {}, check-inject: {:?}",
                    case.name, d.inject, case.expected
                ),
            ));
        }
        if let ([one], Some(w)) = (injecting.as_slice(), &d.webhook)
            && w.configuration != one.name
        {
            problems.push((
                case.name.clone(),
                format!(
                    "{}: injected by {w}, check-inject says {}",
                    case.name, one.name
                ),
            ));
        }
        if !d.inject {
            let text: Vec<String> = d
                .trace
                .iter()
                .map(|s| format!("{} {}", s.step, s.detail))
                .collect();
            for exp in &case.expected {
                if let Some(blamed) = blocking_label(&exp.reason)
                    && !names_label(&text, blamed)
                {
                    problems.push((case.name.clone(), format!(
                        "{}: check-inject blames {blamed} ({}), the engine's trace does not name it:\n  {}",
                        case.name,
                        exp.name,
                        text.join("\n  ")
                    )));
                }
            }
        }
    }
    report("engine verdicts", label, cases.len(), &problems);
}
