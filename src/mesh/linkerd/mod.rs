//! The Linkerd profile: how to recognise Linkerd's proxy-injector webhook, and what the injector
//! decides once the API server has called it (the `linkerd.io/inject` annotations, hostNetwork,
//! existing sidecars, the service-account token rule), with Linkerd's own reason ids.
//!
//! Whether the API server calls the webhook at all (its namespace and object selectors) is the
//! generic admission matcher's job, not this module's.

mod decide;
mod reason;
pub mod render;
mod settings;

#[cfg(test)]
mod fixture_tests;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub use decide::{AnnotationAt, LinkerdDecision, decide, decide_with, has_existing_sidecar};
pub use reason::Reason;
pub use settings::{InjectorSettings, LinkerdConfigError};

/// The annotation that turns injection on or off, on a namespace or a pod (template).
pub const INJECT_ANNOTATION: &str = "linkerd.io/inject";

/// `metadata.name` of the MutatingWebhookConfiguration Linkerd's chart renders.
pub const WEBHOOK_CONFIGURATION_NAME: &str = "linkerd-proxy-injector-webhook-config";

/// `webhooks[].name` of the proxy injector in that configuration.
pub const WEBHOOK_NAME: &str = "linkerd-proxy-injector.linkerd.io";

/// The ConfigMap (in the control-plane namespace) whose `values` key configures the injector.
pub const CONFIG_MAP_NAME: &str = "linkerd-config";

/// Step ids recorded by [`decide`], in the order they are recorded.
pub const STEP_HOST_NETWORK: &str = "host-network";
pub const STEP_EXISTING_SIDECAR: &str = "existing-sidecar";
pub const STEP_RESOURCE_KIND: &str = "resource-kind";
pub const STEP_INJECT_ANNOTATION: &str = "linkerd-inject-annotation";
pub const STEP_SERVICE_ACCOUNT_TOKEN: &str = "service-account-token";
/// Recorded only when the pod declares UDP ports (information: Linkerd injects anyway).
pub const STEP_UDP_PORTS: &str = "udp-ports";
/// Recorded only when the pod carries `linkerd.io/inject` as a label (which Linkerd ignores).
pub const STEP_INJECT_LABEL: &str = "linkerd-inject-label";

/// Whether a webhook is Linkerd's proxy injector.
///
/// Linkerd's chart fixes both names (A.2): the configuration `linkerd-proxy-injector-webhook-config`
/// holding the single webhook `linkerd-proxy-injector.linkerd.io`. Either name is enough, because
/// tools such as kustomize's `namePrefix` rename the configuration but not the webhooks inside it.
pub fn is_linkerd_injector_webhook(config_name: &str, webhook_name: &str) -> bool {
    webhook_name == WEBHOOK_NAME || config_name == WEBHOOK_CONFIGURATION_NAME
}

/// Whether a `linkerd.io/inject` value is one Linkerd accepts (`enabled`, `disabled`, `ingress`).
/// The comparison is case-sensitive, as Linkerd's is: `Enabled` is invalid. An empty value is not
/// valid here, although Linkerd treats an empty annotation as if it were absent.
pub fn valid_inject_value(v: &str) -> bool {
    matches!(v, "enabled" | "disabled" | "ingress")
}

/// Whether a `linkerd.io/inject` value turns injection on (`enabled` or `ingress`).
pub(crate) fn enables_injection(v: &str) -> bool {
    matches!(v, "enabled" | "ingress")
}

/// Describes a `linkerd.io/inject` that Linkerd will not see on a workload: one on the workload's
/// own metadata (Linkerd reads only the pod template, whose metadata is copied onto the pods) or
/// one set as a label instead of an annotation. `None` when nothing is misplaced, including when
/// the workload metadata repeats the value the template already has (harmless duplication).
pub fn misplaced_annotation(
    workload_meta: &ObjectMeta,
    template_meta: &ObjectMeta,
) -> Option<String> {
    let template_value = get(template_meta.annotations.as_ref(), INJECT_ANNOTATION);
    let mut notes: Vec<String> = Vec::new();

    if let Some(v) = get(workload_meta.annotations.as_ref(), INJECT_ANNOTATION)
        && template_value != Some(v)
    {
        let template = match template_value {
            Some(t) => {
                format!("the pod template's own annotation {INJECT_ANNOTATION}={t:?} applies")
            }
            None => "the pod template (spec.template.metadata.annotations) has none".to_owned(),
        };
        notes.push(format!(
            "workload metadata annotation {INJECT_ANNOTATION}={v:?} is ignored by Linkerd, which \
             reads only the pod template's annotations; {template}"
        ));
    }
    if let Some(v) = get(workload_meta.labels.as_ref(), INJECT_ANNOTATION) {
        notes.push(format!(
            "workload metadata label {INJECT_ANNOTATION}={v:?} is ignored by Linkerd, which reads \
             only annotations on the pod template"
        ));
    }
    if let Some(v) = get(template_meta.labels.as_ref(), INJECT_ANNOTATION)
        && template_value != Some(v)
    {
        notes.push(format!(
            "pod template label {INJECT_ANNOTATION}={v:?} is ignored by Linkerd, which reads \
             annotations only; set it under spec.template.metadata.annotations"
        ));
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

fn get<'a>(
    map: Option<&'a std::collections::BTreeMap<String, String>>,
    key: &str,
) -> Option<&'a str> {
    map.and_then(|m| m.get(key)).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn meta(annotations: &[(&str, &str)], labels: &[(&str, &str)]) -> ObjectMeta {
        let map = |kv: &[(&str, &str)]| {
            (!kv.is_empty()).then(|| {
                kv.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>()
            })
        };
        ObjectMeta {
            annotations: map(annotations),
            labels: map(labels),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn recognises_the_chart_webhook() {
        assert!(is_linkerd_injector_webhook(
            "linkerd-proxy-injector-webhook-config",
            "linkerd-proxy-injector.linkerd.io"
        ));
        // kustomize namePrefix renames the configuration only.
        assert!(is_linkerd_injector_webhook(
            "prod-linkerd-proxy-injector-webhook-config",
            "linkerd-proxy-injector.linkerd.io"
        ));
        assert!(!is_linkerd_injector_webhook(
            "istio-sidecar-injector",
            "namespace.sidecar-injector.istio.io"
        ));
        // The sp-validator is a validating webhook of another name.
        assert!(!is_linkerd_injector_webhook(
            "linkerd-sp-validator-webhook-config",
            "linkerd-sp-validator.linkerd.io"
        ));
    }

    #[test]
    fn inject_values() {
        for v in ["enabled", "disabled", "ingress"] {
            assert!(valid_inject_value(v), "{v}");
        }
        for v in ["Enabled", "true", "", " enabled", "yes", "DISABLED"] {
            assert!(!valid_inject_value(v), "{v:?}");
        }
        assert!(enables_injection("ingress"));
        assert!(!enables_injection("disabled"));
    }

    #[test]
    fn workload_annotation_without_template_annotation_is_misplaced() {
        let note = misplaced_annotation(
            &meta(&[("linkerd.io/inject", "enabled")], &[]),
            &meta(&[], &[]),
        );
        let note = note.unwrap_or_default();
        assert!(
            note.contains(r#"workload metadata annotation linkerd.io/inject="enabled" is ignored"#),
            "{note}"
        );
        assert!(note.contains("has none"), "{note}");
    }

    #[test]
    fn workload_annotation_differing_from_template_is_misplaced() {
        let note = misplaced_annotation(
            &meta(&[("linkerd.io/inject", "enabled")], &[]),
            &meta(&[("linkerd.io/inject", "disabled")], &[]),
        )
        .unwrap_or_default();
        assert!(
            note.contains(r#"own annotation linkerd.io/inject="disabled" applies"#),
            "{note}"
        );
    }

    #[test]
    fn same_value_on_both_is_not_misplaced() {
        let both = meta(&[("linkerd.io/inject", "enabled")], &[]);
        assert_eq!(misplaced_annotation(&both, &both), None);
        assert_eq!(misplaced_annotation(&meta(&[], &[]), &both), None);
        assert_eq!(misplaced_annotation(&meta(&[], &[]), &meta(&[], &[])), None);
        // Other annotations on the workload are not our business.
        assert_eq!(
            misplaced_annotation(
                &meta(&[("sidecar.istio.io/inject", "true")], &[]),
                &meta(&[], &[])
            ),
            None
        );
    }

    #[test]
    fn labels_are_misplaced_annotations() {
        let note = misplaced_annotation(
            &meta(&[], &[("linkerd.io/inject", "enabled")]),
            &meta(&[], &[("linkerd.io/inject", "enabled")]),
        )
        .unwrap_or_default();
        assert!(note.contains("workload metadata label"), "{note}");
        assert!(note.contains("pod template label"), "{note}");
        // A template label next to the same template annotation changes nothing.
        let t = meta(
            &[("linkerd.io/inject", "enabled")],
            &[("linkerd.io/inject", "enabled")],
        );
        assert_eq!(misplaced_annotation(&meta(&[], &[]), &t), None);
    }
}
