//! Small helpers shared by checks: reading a pod's injection intent, naming subjects.

use crate::check::ObjectRef;
use crate::workload::PodSubject;

pub const ISTIO_INJECT: &str = "sidecar.istio.io/inject";
pub const ISTIO_REV: &str = "istio.io/rev";
pub const LINKERD_INJECT: &str = "linkerd.io/inject";

/// What on a pod (template) asks for a sidecar: `(field, value)`, e.g.
/// `("metadata.labels.sidecar.istio.io/inject", "true")`.
pub fn injection_intent(subject: &PodSubject<'_>) -> Option<(String, String)> {
    let labels = subject.meta.labels.as_ref();
    let annotations = subject.meta.annotations.as_ref();
    let prefix = if subject.target.kind == "Pod" {
        "metadata"
    } else {
        "spec.template.metadata"
    };
    // An explicit opt-out wins over any other signal (istiod's own pods carry both an
    // istio.io/rev label and sidecar.istio.io/inject: "false").
    let says = |m: Option<&std::collections::BTreeMap<String, String>>, key: &str, value: &str| {
        m.and_then(|m| m.get(key)).is_some_and(|v| v == value)
    };
    if says(labels, ISTIO_INJECT, "false")
        || says(annotations, ISTIO_INJECT, "false")
        || says(annotations, LINKERD_INJECT, "disabled")
    {
        return None;
    }
    if let Some(v) = labels
        .and_then(|l| l.get(ISTIO_INJECT))
        .filter(|v| v.as_str() == "true")
    {
        return Some((format!("{prefix}.labels.{ISTIO_INJECT}"), v.clone()));
    }
    if let Some(v) = labels.and_then(|l| l.get(ISTIO_REV)) {
        return Some((format!("{prefix}.labels.{ISTIO_REV}"), v.clone()));
    }
    if let Some(v) = annotations
        .and_then(|a| a.get(ISTIO_INJECT))
        .filter(|v| v.as_str() == "true")
    {
        return Some((format!("{prefix}.annotations.{ISTIO_INJECT}"), v.clone()));
    }
    if let Some(v) = annotations
        .and_then(|a| a.get(LINKERD_INJECT))
        .filter(|v| matches!(v.as_str(), "enabled" | "ingress"))
    {
        return Some((format!("{prefix}.annotations.{LINKERD_INJECT}"), v.clone()));
    }
    None
}

/// The object a subject's finding is about: the pod, or the workload whose template it is.
pub fn subject_ref(subject: &PodSubject<'_>) -> ObjectRef {
    ObjectRef::new(
        &subject.target.kind,
        Some(&subject.namespace),
        &subject.target.name,
    )
}

/// `pod web-1` / `deployment web`.
pub fn subject_name(subject: &PodSubject<'_>) -> String {
    format!(
        "{} {}",
        subject.target.kind.to_ascii_lowercase(),
        subject.target.name
    )
}
