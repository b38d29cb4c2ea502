//! Istio's ambient data plane as far as injection is concerned: which pods the CNI node agent
//! enrols (its default enablement selectors: a pod labelled `istio.io/dataplane-mode=ambient`,
//! or any pod of a namespace so labelled unless the pod says `none`), and what that means for a
//! sidecar. Ambient pods get no sidecar by design; ztunnel on their node carries their traffic.
//! A pod that does get a sidecar is left out of ambient redirection.

use std::collections::BTreeMap;

use crate::trace::{Step, StepResult};

/// The label that puts a namespace or pod into (or, with `none`, a pod out of) ambient.
pub const DATAPLANE_MODE: &str = "istio.io/dataplane-mode";
pub const AMBIENT: &str = "ambient";
/// The trace step's id.
pub const STEP: &str = "ambient";

/// How a pod stands towards the ambient data plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrollment {
    /// Not selected by ambient at all.
    None,
    /// Selected through its namespace's label.
    ByNamespace,
    /// Selected through its own label.
    ByPod,
    /// The namespace is ambient, but the pod's `istio.io/dataplane-mode=none` opts it out.
    OptedOut,
}

impl Enrollment {
    pub fn of(ns_labels: &BTreeMap<String, String>, pod_labels: &BTreeMap<String, String>) -> Self {
        let pod = pod_labels.get(DATAPLANE_MODE).map(String::as_str);
        if pod == Some(AMBIENT) {
            return Enrollment::ByPod;
        }
        if ns_labels.get(DATAPLANE_MODE).map(String::as_str) != Some(AMBIENT) {
            return Enrollment::None;
        }
        if pod == Some("none") {
            Enrollment::OptedOut
        } else {
            Enrollment::ByNamespace
        }
    }

    /// Whether ztunnel would carry the pod's traffic if it had no sidecar.
    pub fn is_ambient(self) -> bool {
        matches!(self, Enrollment::ByNamespace | Enrollment::ByPod)
    }

    /// The trace step for a pod in namespace `ns`, given whether a sidecar is injected. `None`
    /// when ambient has nothing to do with the pod.
    pub fn step(self, ns: &str, sidecar: bool) -> Option<Step> {
        let by = match self {
            Enrollment::None => return None,
            Enrollment::OptedOut => {
                let rest = if sidecar {
                    "; the sidecar carries its traffic"
                } else {
                    ": neither ztunnel nor a sidecar carries its traffic, it is outside the mesh"
                };
                return Some(Step::new(
                    STEP,
                    StepResult::Info,
                    format!(
                        "namespace \"{ns}\" is ambient ({DATAPLANE_MODE}={AMBIENT}), but the pod's label {DATAPLANE_MODE}=none opts it out of ambient{rest}"
                    ),
                ));
            }
            Enrollment::ByNamespace => {
                format!("namespace \"{ns}\" has {DATAPLANE_MODE}={AMBIENT}")
            }
            Enrollment::ByPod => format!("the pod has {DATAPLANE_MODE}={AMBIENT}"),
        };
        let detail = if sidecar {
            format!(
                "{by}, but a sidecar injection label also selects the pod: it gets a sidecar, and the ambient data plane leaves pods with a sidecar alone"
            )
        } else {
            format!(
                "{by}: the pod is in the ambient mesh and gets no sidecar by design; ztunnel on its node, not a sidecar, carries its traffic"
            )
        };
        Some(Step::new(STEP, StepResult::Info, detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn enablement_follows_the_cni_default_selectors() {
        let ambient_ns = labels(&[(DATAPLANE_MODE, AMBIENT)]);
        let plain_ns = labels(&[]);
        let none_pod = labels(&[(DATAPLANE_MODE, "none")]);
        let ambient_pod = labels(&[(DATAPLANE_MODE, AMBIENT)]);
        let plain_pod = labels(&[("app", "web")]);
        assert_eq!(
            Enrollment::of(&ambient_ns, &plain_pod),
            Enrollment::ByNamespace
        );
        assert_eq!(Enrollment::of(&ambient_ns, &none_pod), Enrollment::OptedOut);
        assert_eq!(Enrollment::of(&plain_ns, &ambient_pod), Enrollment::ByPod);
        assert_eq!(Enrollment::of(&plain_ns, &plain_pod), Enrollment::None);
        assert_eq!(Enrollment::of(&plain_ns, &none_pod), Enrollment::None);
        // Only the exact value counts.
        let other_ns = labels(&[(DATAPLANE_MODE, "Ambient")]);
        assert_eq!(Enrollment::of(&other_ns, &plain_pod), Enrollment::None);
    }

    #[test]
    fn steps_say_who_carries_the_traffic() {
        let s = Enrollment::ByNamespace
            .step("shop", false)
            .map(|s| s.detail);
        assert!(s.is_some_and(|d| d.contains("ztunnel") && d.contains("no sidecar by design")));
        let s = Enrollment::ByNamespace.step("shop", true).map(|s| s.detail);
        assert!(s.is_some_and(|d| d.contains("also selects")));
        assert!(Enrollment::None.step("shop", false).is_none());
        let s = Enrollment::OptedOut.step("shop", false).map(|s| s.detail);
        assert!(s.is_some_and(|d| d.contains("outside the mesh")));
    }
}
