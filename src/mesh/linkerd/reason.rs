//! Linkerd's own reasons for skipping injection, with the ids and messages its proxy injector uses
//! (in its `InjectionSkipped` events, its `skip_reason` metric label and `linkerd inject`), so that
//! what meshdoctor prints can be matched against what the cluster reports.

use std::fmt;

use serde::Serialize;

/// One reason Linkerd's proxy injector gives for not injecting a pod.
///
/// `id()` is Linkerd's reason key and `message()` its human-readable text, both verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "&'static str")]
pub enum Reason {
    /// `spec.hostNetwork` is true.
    HostNetworkEnabled,
    /// The pod already has a Linkerd or Istio proxy (or proxy-init) container.
    SidecarAlreadyExists,
    /// The object has no pod template (Services, Namespaces, any other kind).
    UnsupportedResource,
    /// Neither the namespace nor the pod enables injection.
    InjectionEnableAnnotationAbsent,
    /// The namespace enables injection and the pod disables it.
    InjectionDisableAnnotationPresent,
    /// The pod's `linkerd.io/inject` value is not `enabled`, `disabled` or `ingress`.
    InvalidInjectAnnotationWorkload,
    /// The namespace's `linkerd.io/inject` value is not `enabled`, `disabled` or `ingress`.
    InvalidInjectAnnotationNamespace,
    /// `automountServiceAccountToken: false` while the install does not project the token.
    DisabledAutomountServiceAccountToken,
    /// The pod declares UDP ports. Linkerd only warns about this (`linkerd inject`); the webhook
    /// still injects, so [`super::decide`] never returns it as a reason.
    UdpPortsEnabled,
}

impl Reason {
    /// Every reason, in the order Linkerd declares them.
    pub const ALL: [Reason; 9] = [
        Reason::HostNetworkEnabled,
        Reason::SidecarAlreadyExists,
        Reason::UnsupportedResource,
        Reason::InjectionEnableAnnotationAbsent,
        Reason::InjectionDisableAnnotationPresent,
        Reason::InvalidInjectAnnotationWorkload,
        Reason::InvalidInjectAnnotationNamespace,
        Reason::DisabledAutomountServiceAccountToken,
        Reason::UdpPortsEnabled,
    ];

    /// Linkerd's reason key, as in the `skip_reason` metric label.
    pub fn id(self) -> &'static str {
        match self {
            Reason::HostNetworkEnabled => "host_network_enabled",
            Reason::SidecarAlreadyExists => "sidecar_already_exists",
            Reason::UnsupportedResource => "unsupported_resource",
            Reason::InjectionEnableAnnotationAbsent => "injection_enable_annotation_absent",
            Reason::InjectionDisableAnnotationPresent => "injection_disable_annotation_present",
            Reason::InvalidInjectAnnotationWorkload => "invalid_inject_annotation_at_workload",
            Reason::InvalidInjectAnnotationNamespace => "invalid_inject_annotation_at_ns",
            Reason::DisabledAutomountServiceAccountToken => {
                "disabled_automount_service_account_token_account"
            }
            Reason::UdpPortsEnabled => "udp_ports_enabled",
        }
    }

    /// Linkerd's message, as in the `InjectionSkipped` event.
    pub fn message(self) -> &'static str {
        match self {
            Reason::HostNetworkEnabled => "hostNetwork is enabled",
            Reason::SidecarAlreadyExists => "pod has a sidecar injected already",
            Reason::UnsupportedResource => "this resource kind is unsupported",
            // Linkerd formats the annotation as `name:value`, without a space.
            Reason::InjectionEnableAnnotationAbsent => {
                "neither the namespace nor the pod have the annotation \"linkerd.io/inject:enabled\""
            }
            Reason::InjectionDisableAnnotationPresent => {
                "pod has the annotation \"linkerd.io/inject:disabled\""
            }
            Reason::InvalidInjectAnnotationWorkload => {
                "invalid value for annotation \"linkerd.io/inject\" at workload"
            }
            Reason::InvalidInjectAnnotationNamespace => {
                "invalid value for annotation \"linkerd.io/inject\" at namespace"
            }
            Reason::DisabledAutomountServiceAccountToken => {
                "automountServiceAccountToken set to \"false\", with Values.identity.serviceAccountTokenProjection set to \"false\""
            }
            Reason::UdpPortsEnabled => "UDP port(s) configured on pod spec",
        }
    }

    /// Parses Linkerd's reason key (e.g. from a `skip_reason` label or a fixture).
    pub fn from_id(id: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.id() == id)
    }

    /// The id of the decision step that checks this reason.
    pub fn step_id(self) -> &'static str {
        match self {
            Reason::HostNetworkEnabled => super::STEP_HOST_NETWORK,
            Reason::SidecarAlreadyExists => super::STEP_EXISTING_SIDECAR,
            Reason::UnsupportedResource => super::STEP_RESOURCE_KIND,
            Reason::InjectionEnableAnnotationAbsent
            | Reason::InjectionDisableAnnotationPresent
            | Reason::InvalidInjectAnnotationWorkload
            | Reason::InvalidInjectAnnotationNamespace => super::STEP_INJECT_ANNOTATION,
            Reason::DisabledAutomountServiceAccountToken => super::STEP_SERVICE_ACCOUNT_TOKEN,
            Reason::UdpPortsEnabled => super::STEP_UDP_PORTS,
        }
    }
}

impl From<Reason> for &'static str {
    fn from(r: Reason) -> Self {
        r.id()
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        for r in Reason::ALL {
            assert_eq!(Reason::from_id(r.id()), Some(r));
        }
        let mut ids: Vec<_> = Reason::ALL.iter().map(|r| r.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Reason::ALL.len());
        assert_eq!(Reason::from_id("hostNetwork"), None);
    }

    #[test]
    fn messages_are_linkerds() {
        assert_eq!(
            Reason::InjectionEnableAnnotationAbsent.message(),
            r#"neither the namespace nor the pod have the annotation "linkerd.io/inject:enabled""#
        );
        assert_eq!(
            Reason::InjectionDisableAnnotationPresent.to_string(),
            r#"pod has the annotation "linkerd.io/inject:disabled""#
        );
        assert_eq!(
            Reason::InvalidInjectAnnotationNamespace.id(),
            "invalid_inject_annotation_at_ns"
        );
        assert_eq!(
            Reason::DisabledAutomountServiceAccountToken.id(),
            "disabled_automount_service_account_token_account"
        );
    }

    #[test]
    fn serializes_as_the_id() {
        let json = serde_json::to_string(&Reason::HostNetworkEnabled).ok();
        assert_eq!(json.as_deref(), Some("\"host_network_enabled\""));
    }
}
