//! The built-in check catalog, one file per check. The order here is the order of
//! `meshdoctor checks` and of the runner.

mod annotation_misplaced;
mod host_network;
mod inject_value_invalid;
mod namespace_label_conflict;
mod namespace_not_selected;
mod pod_missing_sidecar;
mod policy_disabled;
mod policy_invalid;
mod protected_namespace;
mod revision_missing;
mod webhooks_overlap;

pub(crate) mod support;
pub(crate) mod util;

use crate::check::Check;

/// Every built-in check.
pub fn builtin() -> Vec<Box<dyn Check>> {
    vec![
        Box::new(namespace_not_selected::NamespaceNotSelected),
        Box::new(policy_invalid::PolicyInvalid),
        Box::new(policy_disabled::PolicyDisabled),
        Box::new(annotation_misplaced::AnnotationMisplaced),
        Box::new(inject_value_invalid::InjectValueInvalid),
        Box::new(protected_namespace::ProtectedNamespace),
        Box::new(host_network::HostNetwork),
        Box::new(pod_missing_sidecar::PodMissingSidecar),
        Box::new(webhooks_overlap::WebhooksOverlap),
        Box::new(namespace_label_conflict::NamespaceLabelConflict),
        Box::new(revision_missing::RevisionMissing),
    ]
}
