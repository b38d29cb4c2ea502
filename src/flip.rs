//! Finds the one change that would flip a verdict, and proves it by re-running the decision
//! with the change applied before suggesting it. Candidates go from the least invasive
//! (a namespace label) to the most specific (a pod template label).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::engine::{Engine, Verdict, WebhookRole};
use crate::mesh::istio::decide::INJECT_KEY;
use crate::workload::PodSubject;

const LINKERD_KEY: &str = "linkerd.io/inject";

/// One candidate change.
enum Change {
    /// Set (Some) or remove (None) namespace labels.
    NamespaceLabels(Vec<(String, Option<String>)>),
    /// Set a namespace annotation (Linkerd reads annotations).
    NamespaceAnnotation(String, String),
    /// Set a pod (template) label.
    PodLabel(String, String),
    /// Set a pod (template) annotation.
    PodAnnotation(String, String),
    /// Turn off hostNetwork.
    NoHostNetwork,
}

/// The verified change that flips `verdict`, as a command (or a one-line instruction).
pub fn find_flip(
    engine: &Engine<'_>,
    subject: &PodSubject<'_>,
    verdict: &Verdict,
) -> Option<String> {
    for change in candidates(engine, subject, verdict) {
        if simulate(engine, subject, &change).is_some_and(|v| v.inject != verdict.inject) {
            return Some(describe(subject, &change, verdict.inject));
        }
    }
    None
}

fn candidates(engine: &Engine<'_>, subject: &PodSubject<'_>, verdict: &Verdict) -> Vec<Change> {
    let mut out = Vec::new();
    let ns_labels = engine.effective_labels(&subject.namespace);
    if verdict.inject {
        match verdict.mesh {
            Some(crate::decision::Mesh::Linkerd) => {
                out.push(Change::PodAnnotation(LINKERD_KEY.into(), "disabled".into()))
            }
            _ => {
                out.push(Change::PodLabel(INJECT_KEY.into(), "false".into()));
                // Istio ≤ 1.11 reads only the annotation, and a legacy webhook without an
                // objectSelector does not look at the label either.
                out.push(Change::PodAnnotation(INJECT_KEY.into(), "false".into()));
            }
        }
        return out;
    }
    let has_istio = engine
        .roles
        .iter()
        .any(|r| matches!(r, WebhookRole::Istio { .. }));
    let has_linkerd = engine.roles.contains(&WebhookRole::Linkerd);
    if has_istio {
        // Clear labels that block every Istio webhook (istio-injection other than enabled).
        let blocking: Vec<(String, Option<String>)> = ns_labels
            .get("istio-injection")
            .filter(|v| v.as_str() != "enabled")
            .map(|_| vec![("istio-injection".to_owned(), None)])
            .unwrap_or_default();
        let has_default_ns_webhook = engine
            .webhooks
            .iter()
            .any(|w| w.name.as_ref() == "namespace.sidecar-injector.istio.io");
        if has_default_ns_webhook {
            out.push(Change::NamespaceLabels(vec![(
                "istio-injection".into(),
                Some("enabled".into()),
            )]));
        }
        for name in engine.istio.served_revision_names() {
            let mut labels = blocking.clone();
            labels.push(("istio.io/rev".into(), Some(name)));
            out.push(Change::NamespaceLabels(labels));
        }
        out.push(Change::PodLabel(INJECT_KEY.into(), "true".into()));
        // Whatever else selects a namespace for some Istio webhook (the legacy
        // `istio-injection: enabled` matchLabels, customised selectors).
        for (i, w) in engine.webhooks.iter().enumerate() {
            if matches!(engine.roles.get(i), Some(WebhookRole::Istio { .. }))
                && let Some(labels) = labels_to_select(&w.namespace_selector, &ns_labels)
            {
                out.push(Change::NamespaceLabels(labels));
            }
        }
        out.push(Change::PodAnnotation(INJECT_KEY.into(), "true".into()));
    }
    if has_linkerd {
        out.push(Change::NamespaceAnnotation(
            LINKERD_KEY.into(),
            "enabled".into(),
        ));
        out.push(Change::PodAnnotation(LINKERD_KEY.into(), "enabled".into()));
    }
    if subject.spec.and_then(|s| s.host_network).unwrap_or(false) {
        out.push(Change::NoHostNetwork);
    }
    out
}

/// The namespace label changes that make `selector` match, or `None` when it already matches,
/// cannot be satisfied by choosing label values (`Exists`, the API server's own
/// `kubernetes.io/metadata.name`) or is a deactivated (`istio.io/deactivated`) selector.
fn labels_to_select(
    selector: &crate::selector::Selector,
    labels: &BTreeMap<String, String>,
) -> Option<Vec<(String, Option<String>)>> {
    use crate::selector::Operator;
    if selector.is_nothing() || selector.matches(labels) {
        return None;
    }
    let mut changes = Vec::new();
    for r in selector.requirements() {
        let current = labels.get(r.key()).map(String::as_str);
        if r.matches_value(current) {
            continue;
        }
        if r.key() == crate::admission::METADATA_NAME_LABEL || r.key() == "istio.io/deactivated" {
            return None;
        }
        match r.operator() {
            Operator::Equals | Operator::In => {
                changes.push((r.key().to_owned(), Some(r.values().next()?.to_owned())));
            }
            Operator::NotIn | Operator::DoesNotExist => changes.push((r.key().to_owned(), None)),
            Operator::Exists => return None,
        }
    }
    Some(changes)
}

fn simulate(engine: &Engine<'_>, subject: &PodSubject<'_>, change: &Change) -> Option<Verdict> {
    let mut meta: ObjectMeta = subject.meta.clone();
    let mut ns_labels = engine.effective_labels(&subject.namespace);
    let mut spec = subject.spec.cloned();
    let mut ns_obj: Option<Namespace> = None;
    match change {
        Change::NamespaceLabels(changes) => {
            for (k, v) in changes {
                match v {
                    Some(v) => ns_labels.insert(k.clone(), v.clone()),
                    None => ns_labels.remove(k),
                };
            }
        }
        Change::NamespaceAnnotation(k, v) => {
            let mut ns = engine
                .state
                .namespaces
                .get(None, &subject.namespace)
                .map(|n| n.obj.clone())
                .unwrap_or_default();
            ns.metadata.name = Some(subject.namespace.clone());
            ns.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(k.clone(), v.clone());
            ns_obj = Some(ns);
        }
        Change::PodLabel(k, v) => {
            meta.labels
                .get_or_insert_with(BTreeMap::new)
                .insert(k.clone(), v.clone());
        }
        Change::PodAnnotation(k, v) => {
            meta.annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(k.clone(), v.clone());
        }
        Change::NoHostNetwork => {
            spec.as_mut()?.host_network = None;
        }
    }
    Some(engine.verdict_with(subject, &meta, spec.as_ref(), &ns_labels, ns_obj.as_ref()))
}

fn describe(subject: &PodSubject<'_>, change: &Change, injected_now: bool) -> String {
    let ns = &subject.namespace;
    let kind = subject.target.kind.to_ascii_lowercase();
    let name = &subject.target.name;
    let restart = match kind.as_str() {
        "pod" => {
            format!(" (then recreate pod {name}: injection happens only when a pod is created)")
        }
        "deployment" | "statefulset" | "daemonset" => {
            format!(" && kubectl rollout restart {kind}/{name} -n {ns}")
        }
        _ => " (existing pods keep their current state until recreated)".to_owned(),
    };
    match change {
        Change::NamespaceLabels(changes) => {
            let args: Vec<String> = changes
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{k}={v}"),
                    None => format!("{k}-"),
                })
                .collect();
            format!(
                "kubectl label namespace {ns} {} --overwrite{restart}",
                args.join(" ")
            )
        }
        Change::NamespaceAnnotation(k, v) => {
            format!("kubectl annotate namespace {ns} {k}={v} --overwrite{restart}")
        }
        Change::PodLabel(k, v) => template_patch(subject, "labels", k, v, injected_now),
        Change::PodAnnotation(k, v) => template_patch(subject, "annotations", k, v, injected_now),
        Change::NoHostNetwork => {
            format!(
                "remove spec.hostNetwork: true from {kind} {ns}/{name}: pods on the host network are never injected"
            )
        }
    }
}

fn template_patch(
    subject: &PodSubject<'_>,
    field: &str,
    key: &str,
    value: &str,
    _injected_now: bool,
) -> String {
    let ns = &subject.namespace;
    let kind = subject.target.kind.to_ascii_lowercase();
    let name = &subject.target.name;
    let inner = format!("{{\"metadata\":{{\"{field}\":{{\"{key}\":\"{value}\"}}}}}}");
    let body = match kind.as_str() {
        "pod" => {
            return format!(
                "recreate pod {ns}/{name} with metadata.{field}.{key}: \"{value}\" (a pod's injection is decided only when it is created)"
            );
        }
        "cronjob" => {
            format!("{{\"spec\":{{\"jobTemplate\":{{\"spec\":{{\"template\":{inner}}}}}}}}}")
        }
        _ => format!("{{\"spec\":{{\"template\":{inner}}}}}"),
    };
    format!("kubectl patch {kind} {name} -n {ns} --type merge -p '{body}'")
}

#[cfg(test)]
mod tests {
    use crate::engine::{Engine, EngineOptions};
    use crate::source::offline::{LoadOptions, load_text};
    use crate::state::ClusterState;
    use crate::workload::all_subjects;

    /// The seed documents' single opt-in webhook, served by an Istio 1.1 injector.
    const LEGACY: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: istio-sidecar-injector}
webhooks:
- name: sidecar-injector.istio.io
  clientConfig:
    service: {name: istio-sidecar-injector, namespace: istio-system, path: /inject}
  sideEffects: None
  admissionReviewVersions: [v1beta1]
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
  namespaceSelector:
    matchLabels: {istio-injection: enabled}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-sidecar-injector, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: sidecar-injector}}
  template:
    metadata:
      labels: {istio: sidecar-injector}
      annotations: {sidecar.istio.io/inject: "false"}
    spec:
      containers: [{name: webhook, image: "docker.io/istio/sidecar_injector:1.1.17"}]
---
{apiVersion: v1, kind: Namespace, metadata: {name: istio-system}}
---
{apiVersion: v1, kind: Namespace, metadata: {name: shop, labels: {istio-injection: enabled}}}
---
{apiVersion: v1, kind: Namespace, metadata: {name: legacy}}
---
{apiVersion: v1, kind: Pod, metadata: {name: in-shop, namespace: shop}, spec: {containers: [{name: a}]}}
---
{apiVersion: v1, kind: Pod, metadata: {name: in-legacy, namespace: legacy}, spec: {containers: [{name: a}]}}
"#;

    fn flips() -> Vec<(String, bool, Option<String>)> {
        let mut state = ClusterState::default();
        load_text(&mut state, "legacy.yaml", LEGACY, &LoadOptions::default()).unwrap();
        let engine = Engine::new(&state, EngineOptions::default());
        all_subjects(&state, None)
            .iter()
            .map(|s| {
                let d = engine.explain(s);
                (s.target.name.clone(), d.inject, d.flip)
            })
            .collect()
    }

    #[test]
    fn legacy_matchlabels_webhook_suggests_its_namespace_label() {
        let all = flips();
        let (_, inject, flip) = all.iter().find(|(n, ..)| n == "in-legacy").unwrap();
        assert!(!inject);
        assert_eq!(
            flip.as_deref(),
            Some(
                "kubectl label namespace legacy istio-injection=enabled --overwrite (then recreate pod in-legacy: injection happens only when a pod is created)"
            )
        );
    }

    #[test]
    fn istio_1_1_opts_out_with_the_annotation_not_the_label() {
        let all = flips();
        let (_, inject, flip) = all.iter().find(|(n, ..)| n == "in-shop").unwrap();
        assert!(inject);
        let flip = flip.as_deref().unwrap_or_default();
        assert!(
            flip.contains("metadata.annotations.sidecar.istio.io/inject: \"false\""),
            "{flip}"
        );
    }
}
