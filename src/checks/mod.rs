//! The built-in check catalog, one file per check. The order here is the order of
//! `meshdoctor checks` and of the runner.

mod init_container_failing;
mod injection_failed_events;
mod namespace_not_selected;
mod pod_security_blocks_sidecar;
mod proxy_image_mismatch;
mod quota_blocks_sidecar;
pub(crate) mod sidecar;

pub(crate) mod util;

use crate::check::Check;

/// Every built-in check.
pub fn builtin() -> Vec<Box<dyn Check>> {
    vec![
        Box::new(namespace_not_selected::NamespaceNotSelected),
        Box::new(injection_failed_events::InjectionFailedEvents),
        Box::new(pod_security_blocks_sidecar::PodSecurityBlocksSidecar),
        Box::new(quota_blocks_sidecar::QuotaBlocksSidecar),
        Box::new(init_container_failing::InitContainerFailing),
        Box::new(proxy_image_mismatch::ProxyImageMismatch),
    ]
}
