//! The built-in check catalog, one file per check. The order here is the order of
//! `meshdoctor checks` and of the runner.

mod annotation_not_string;
mod cabundle_empty;
mod cabundle_mismatch;
mod cert_chain;
mod cert_expiry;
mod expected_injection;
mod ignore_annotation_invalid;
mod namespace_not_selected;
mod webhook_endpoints_not_ready;
mod webhook_fail_open;
mod webhook_networkpolicy;
mod webhook_service_missing;
mod webhook_timeout;

pub(crate) mod machinery;
pub(crate) mod util;

use crate::check::Check;

/// Every built-in check.
pub fn builtin() -> Vec<Box<dyn Check>> {
    vec![
        Box::new(namespace_not_selected::NamespaceNotSelected),
        Box::new(cabundle_empty::CabundleEmpty),
        Box::new(cabundle_mismatch::CabundleMismatch),
        Box::new(cert_expiry::CertExpiry),
        Box::new(cert_chain::CertChain),
        Box::new(webhook_service_missing::WebhookServiceMissing),
        Box::new(webhook_endpoints_not_ready::WebhookEndpointsNotReady),
        Box::new(webhook_timeout::WebhookTimeout),
        Box::new(webhook_fail_open::WebhookFailOpen),
        Box::new(webhook_networkpolicy::WebhookNetworkPolicy),
        // Preflight-only checks (they read the manifests; `check` does not run them).
        Box::new(expected_injection::ExpectedInjection),
        Box::new(annotation_not_string::AnnotationNotString),
        Box::new(ignore_annotation_invalid::IgnoreAnnotationInvalid),
    ]
}
