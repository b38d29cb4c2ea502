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
            _ => out.push(Change::PodLabel(INJECT_KEY.into(), "false".into())),
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
