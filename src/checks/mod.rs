//! The built-in check catalog, one file per check. The order here is the order of
//! `meshdoctor checks` and of the runner: the catalog order, decision and
//! configuration first, then the webhook machinery, then what fails after the webhook.

mod annotation_misplaced;
mod annotation_not_string;
mod cabundle_empty;
mod cabundle_mismatch;
mod cert_chain;
pub(crate) mod cert_expiry;
mod expected_injection;
mod host_network;
mod ignore_annotation_invalid;
mod init_container_failing;
mod inject_value_invalid;
mod injection_failed_events;
mod namespace_ambient_and_sidecar;
mod namespace_label_conflict;
mod namespace_not_selected;
mod pod_missing_sidecar;
mod pod_security_blocks_sidecar;
mod policy_disabled;
mod policy_invalid;
mod protected_namespace;
mod proxy_image_mismatch;
mod quota_blocks_sidecar;
mod revision_missing;
pub(crate) mod webhook_endpoints_not_ready;
mod webhook_fail_open;
mod webhook_networkpolicy;
mod webhook_service_missing;
mod webhook_timeout;
mod webhooks_overlap;

pub(crate) mod machinery;
pub(crate) mod sidecar;
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
        Box::new(cabundle_empty::CabundleEmpty),
        Box::new(cabundle_mismatch::CabundleMismatch),
        Box::new(cert_expiry::CertExpiry),
        Box::new(cert_chain::CertChain),
        Box::new(webhook_service_missing::WebhookServiceMissing),
        Box::new(webhook_endpoints_not_ready::WebhookEndpointsNotReady),
        Box::new(webhook_timeout::WebhookTimeout),
        Box::new(webhook_fail_open::WebhookFailOpen),
        Box::new(pod_missing_sidecar::PodMissingSidecar),
        Box::new(webhooks_overlap::WebhooksOverlap),
        Box::new(namespace_label_conflict::NamespaceLabelConflict),
        Box::new(namespace_ambient_and_sidecar::NamespaceAmbientAndSidecar),
        Box::new(revision_missing::RevisionMissing),
        Box::new(injection_failed_events::InjectionFailedEvents),
        Box::new(pod_security_blocks_sidecar::PodSecurityBlocksSidecar),
        Box::new(quota_blocks_sidecar::QuotaBlocksSidecar),
        Box::new(webhook_networkpolicy::WebhookNetworkPolicy),
        Box::new(init_container_failing::InitContainerFailing),
        Box::new(proxy_image_mismatch::ProxyImageMismatch),
        // Preflight-only checks (they read the manifests; `check` does not run them).
        Box::new(expected_injection::ExpectedInjection),
        Box::new(annotation_not_string::AnnotationNotString),
        Box::new(ignore_annotation_invalid::IgnoreAnnotationInvalid),
    ]
}
