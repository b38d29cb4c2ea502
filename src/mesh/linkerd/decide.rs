//! What Linkerd's proxy injector decides for a pod it has been called for: its report's
//! `Injectable()` — hostNetwork, an existing sidecar, the kind, the `linkerd.io/inject`
//! annotations of namespace and pod, and the service-account token rule — in Linkerd's order,
//! collecting every reason as Linkerd does rather than stopping at the first.
//!
//! The hot path (`NoTrace`) allocates only when the pod is skipped (the reasons vector).

use k8s_openapi::api::core::v1::{Container, Namespace, Pod, PodSpec};
use serde::Serialize;

use crate::trace::{Step, StepResult, Tracer};

use super::settings::InjectorSettings;
use super::{
    INJECT_ANNOTATION, Reason, STEP_EXISTING_SIDECAR, STEP_HOST_NETWORK, STEP_INJECT_ANNOTATION,
    STEP_INJECT_LABEL, STEP_RESOURCE_KIND, STEP_SERVICE_ACCOUNT_TOKEN, STEP_UDP_PORTS,
    enables_injection, valid_inject_value,
};

/// Linkerd's verdict for one pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkerdDecision {
    /// Whether the injector adds the proxy.
    pub inject: bool,
    /// Linkerd's reasons for skipping, in the order its `InjectionSkipped` event lists them.
    /// Empty exactly when `inject` is true.
    pub reasons: Vec<Reason>,
    /// The step that settled the verdict: the first reason's step, or the annotation step when
    /// the pod is injected.
    pub decisive: &'static str,
    /// Where the annotation that decided came from (Linkerd's `annotation_at` metric label), when
    /// the annotation rule passed or a pod `disabled` overrode the namespace.
    pub annotation_at: Option<AnnotationAt>,
    /// Whether the proxy runs in ingress mode (`linkerd.io/inject: ingress` on the pod, or on the
    /// namespace when the pod has no value of its own).
    pub ingress: bool,
}

impl LinkerdDecision {
    /// The message of the `InjectionSkipped` event Linkerd emits on the pod's owner, or `None`
    /// when the pod is injected.
    pub fn skip_event_message(&self) -> Option<String> {
        if self.reasons.is_empty() {
            return None;
        }
        let joined: Vec<&str> = self.reasons.iter().map(|r| r.message()).collect();
        Some(format!(
            "Linkerd sidecar proxy injection skipped: {}",
            joined.join(", ")
        ))
    }
}

/// Which object's `linkerd.io/inject` annotation decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnnotationAt {
    Namespace,
    Workload,
}

/// Decides with the chart's default settings (`identity.serviceAccountTokenProjection: true`).
pub fn decide<T: Tracer>(
    pod: &Pod,
    namespace: Option<&Namespace>,
    tracer: &mut T,
) -> LinkerdDecision {
    decide_with(pod, namespace, &InjectorSettings::CHART_DEFAULTS, tracer)
}

/// Decides as Linkerd's proxy injector does when the API server sends it `pod` (CREATE).
///
/// `namespace` is the pod's namespace; `None` means the input lacks it, and it is then taken to
/// have no annotations (the trace says so). A missing `spec` is taken as an empty one, since in
/// Linkerd's Go types a Pod always has a spec.
pub fn decide_with<T: Tracer>(
    pod: &Pod,
    namespace: Option<&Namespace>,
    settings: &InjectorSettings,
    tracer: &mut T,
) -> LinkerdDecision {
    static EMPTY_SPEC: std::sync::LazyLock<PodSpec> = std::sync::LazyLock::new(PodSpec::default);
    let spec = pod.spec.as_ref().unwrap_or(&EMPTY_SPEC);
    let mut reasons = Vec::new();

    // 1. hostNetwork.
    let host_network = spec.host_network.unwrap_or(false);
    tracer.record(|| match spec.host_network {
        Some(true) => Step::new(
            STEP_HOST_NETWORK,
            StepResult::Fail,
            "pod spec.hostNetwork is true: Linkerd does not inject host-network pods (host_network_enabled)",
        ),
        Some(false) => Step::new(STEP_HOST_NETWORK, StepResult::Pass, "pod spec.hostNetwork is false"),
        None => Step::new(STEP_HOST_NETWORK, StepResult::Pass, "pod spec.hostNetwork is not set"),
    });
    if host_network {
        reasons.push(Reason::HostNetworkEnabled);
    }

    // 2. A proxy already there.
    let sidecar = existing_sidecar(spec);
    tracer.record(|| match &sidecar {
        Some(hit) => Step::new(
            STEP_EXISTING_SIDECAR,
            StepResult::Fail,
            format!("{} (sidecar_already_exists)", hit.describe()),
        ),
        None => Step::new(
            STEP_EXISTING_SIDECAR,
            StepResult::Pass,
            "no linkerd-proxy or istio-proxy container, no proxy image, no linkerd-init or istio-init init container",
        ),
    });
    if sidecar.is_some() {
        reasons.push(Reason::SidecarAlreadyExists);
    }

    // 3. The kind: a Pod always has a pod spec, so it is always a supported resource. Linkerd
    //    also receives Services, which it only annotates; those never reach this function.
    tracer.record(|| {
        Step::new(
            STEP_RESOURCE_KIND,
            StepResult::Pass,
            "kind pod has a pod spec, which Linkerd can inject",
        )
    });

    // 4. The `linkerd.io/inject` annotations.
    let pod_value = non_empty(pod.metadata.annotations.as_ref(), INJECT_ANNOTATION);
    let ns_value =
        namespace.and_then(|n| non_empty(n.metadata.annotations.as_ref(), INJECT_ANNOTATION));
    let outcome = annotation_outcome(ns_value, pod_value);
    tracer.record(|| annotation_step(&outcome, pod, namespace, ns_value, pod_value));
    if let Some(r) = outcome.disabled {
        reasons.push(r);
    }

    // 5. The service-account token, which matters only without token projection.
    let automount = automount_service_account_token(spec, settings);
    tracer.record(|| automount_step(spec, settings, automount));
    if !automount {
        reasons.push(Reason::DisabledAutomountServiceAccountToken);
    }

    // Information only: neither of these changes the verdict.
    if let Some((container, port)) = first_udp_port(spec) {
        tracer.record(|| {
            Step::new(
                STEP_UDP_PORTS,
                StepResult::Info,
                format!(
                    "container {:?} declares port {}/UDP: Linkerd injects anyway but does not proxy UDP (udp_ports_enabled)",
                    container.name, port
                ),
            )
        });
    }
    if let Some(v) = non_empty(pod.metadata.labels.as_ref(), INJECT_ANNOTATION) {
        tracer.record(|| {
            Step::new(
                STEP_INJECT_LABEL,
                StepResult::Info,
                format!(
                    "pod label {INJECT_ANNOTATION}={v:?} is ignored: Linkerd reads annotations only"
                ),
            )
        });
    }

    let inject = reasons.is_empty();
    LinkerdDecision {
        inject,
        decisive: reasons
            .first()
            .map_or(STEP_INJECT_ANNOTATION, |r| r.step_id()),
        reasons,
        annotation_at: outcome.at,
        ingress: inject && outcome.ingress,
    }
}

/// Linkerd reads a missing and an empty annotation alike (Go's map lookup gives `""`).
fn non_empty<'a>(
    map: Option<&'a std::collections::BTreeMap<String, String>>,
    key: &str,
) -> Option<&'a str> {
    map.and_then(|m| m.get(key))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// The result of Linkerd's `disabledByAnnotation` on the webhook path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AnnotationOutcome {
    disabled: Option<Reason>,
    at: Option<AnnotationAt>,
    /// The value the pod ends up with (its own, else the namespace's) is `ingress`.
    ingress: bool,
}

/// Linkerd's rule: a bad namespace value, then a bad pod value, block injection; a namespace that
/// enables injection wins unless the pod says `disabled`; otherwise the pod must enable it.
fn annotation_outcome(ns: Option<&str>, pod: Option<&str>) -> AnnotationOutcome {
    let ingress = pod.or(ns) == Some("ingress");
    let (disabled, at) = if ns.is_some_and(|v| !valid_inject_value(v)) {
        (Some(Reason::InvalidInjectAnnotationNamespace), None)
    } else if pod.is_some_and(|v| !valid_inject_value(v)) {
        (Some(Reason::InvalidInjectAnnotationWorkload), None)
    } else if ns.is_some_and(enables_injection) {
        if pod == Some("disabled") {
            (
                Some(Reason::InjectionDisableAnnotationPresent),
                Some(AnnotationAt::Workload),
            )
        } else {
            (None, Some(AnnotationAt::Namespace))
        }
    } else if pod.is_some_and(enables_injection) {
        (None, Some(AnnotationAt::Workload))
    } else {
        (Some(Reason::InjectionEnableAnnotationAbsent), None)
    };
    AnnotationOutcome {
        disabled,
        at,
        ingress,
    }
}

fn annotation_step(
    outcome: &AnnotationOutcome,
    pod: &Pod,
    namespace: Option<&Namespace>,
    ns_value: Option<&str>,
    pod_value: Option<&str>,
) -> Step {
    let ns_name = namespace
        .and_then(|n| n.metadata.name.as_deref())
        .or(pod.metadata.namespace.as_deref())
        .unwrap_or("");
    let ns_desc = match (namespace, ns_value) {
        (None, _) => format!(
            "namespace {ns_name:?} is not in the input (taken as having no {INJECT_ANNOTATION} annotation)"
        ),
        (Some(_), None) => format!("namespace {ns_name:?} has no {INJECT_ANNOTATION} annotation"),
        (Some(_), Some(v)) => format!("namespace {ns_name:?} annotation {INJECT_ANNOTATION}={v:?}"),
    };
    let pod_desc = match pod_value {
        None => format!("pod has no {INJECT_ANNOTATION} annotation"),
        Some(v) => format!("pod annotation {INJECT_ANNOTATION}={v:?}"),
    };
    let ingress = if outcome.ingress && outcome.disabled.is_none() {
        " (ingress mode)"
    } else {
        ""
    };
    let (result, detail) = match (outcome.disabled, outcome.at) {
        (Some(Reason::InvalidInjectAnnotationNamespace), _) => (
            StepResult::Fail,
            format!(
                "{ns_desc} is not enabled, disabled or ingress; Linkerd checks the namespace first, so {pod_desc} does not count (invalid_inject_annotation_at_ns)"
            ),
        ),
        (Some(Reason::InvalidInjectAnnotationWorkload), _) => (
            StepResult::Fail,
            format!(
                "{pod_desc} is not enabled, disabled or ingress (invalid_inject_annotation_at_workload); {ns_desc}"
            ),
        ),
        (Some(Reason::InjectionDisableAnnotationPresent), _) => (
            StepResult::Fail,
            format!(
                "{pod_desc} opts out although {ns_desc} enables injection (injection_disable_annotation_present)"
            ),
        ),
        (Some(r), _) => (
            StepResult::Fail,
            format!(
                "neither enables injection: {ns_desc}, {pod_desc} ({})",
                r.id()
            ),
        ),
        (None, Some(AnnotationAt::Namespace)) => (
            StepResult::Pass,
            format!("{ns_desc} enables injection{ingress}; {pod_desc}"),
        ),
        (None, _) => (
            StepResult::Pass,
            format!("{pod_desc} enables injection{ingress}; {ns_desc}"),
        ),
    };
    Step::new(STEP_INJECT_ANNOTATION, result, detail)
}

/// Where a proxy was found, and by which sign.
struct SidecarHit<'a> {
    list: &'static str,
    index: usize,
    container: &'a Container,
    sign: Sign,
}

#[derive(Clone, Copy)]
enum Sign {
    ProxyName,
    ProxyImage,
    InitName,
    InitImage,
}

impl SidecarHit<'_> {
    fn describe(&self) -> String {
        let c = self.container;
        let at = format!("{}[{}] {:?}", self.list, self.index, c.name);
        let image = c.image.as_deref().unwrap_or("");
        match self.sign {
            Sign::ProxyName => format!("{at} is a proxy container already"),
            Sign::ProxyImage => format!("{at} runs the proxy image {image:?} already"),
            Sign::InitName => format!("{at} is a proxy-init container already"),
            Sign::InitImage => format!("{at} runs the proxy-init image {image:?} already"),
        }
    }
}

const PROXY_NAMES: [&str; 2] = ["linkerd-proxy", "istio-proxy"];
const PROXY_IMAGE_PREFIXES: [&str; 2] =
    ["cr.l5d.io/linkerd/proxy:", "gcr.io/istio-release/proxyv2:"];
const INIT_NAMES: [&str; 2] = ["linkerd-init", "istio-init"];
const INIT_IMAGE_PREFIXES: [&str; 2] = [
    "cr.l5d.io/linkerd/proxy-init:",
    "gcr.io/istio-release/proxy_init:",
];

/// Whether a pod spec already has a Linkerd or Istio sidecar (Linkerd's `HasExistingSidecars`).
pub fn has_existing_sidecar(spec: &PodSpec) -> bool {
    existing_sidecar(spec).is_some()
}

/// Linkerd's `HasExistingSidecars`: a proxy (by name or image) among the init containers and
/// containers, or a proxy-init (by name or image) among the init containers. A native-sidecar
/// proxy is an init container named `linkerd-proxy`, so the first rule catches it.
fn existing_sidecar(spec: &PodSpec) -> Option<SidecarHit<'_>> {
    let init = spec.init_containers.as_deref().unwrap_or_default();
    let main = &spec.containers;
    let lists = [("initContainers", init), ("containers", main.as_slice())];
    for (list, containers) in lists {
        for (index, c) in containers.iter().enumerate() {
            let sign = if PROXY_NAMES.contains(&c.name.as_str()) {
                Some(Sign::ProxyName)
            } else if has_prefix(c, &PROXY_IMAGE_PREFIXES) {
                Some(Sign::ProxyImage)
            } else {
                None
            };
            if let Some(sign) = sign {
                return Some(SidecarHit {
                    list,
                    index,
                    container: c,
                    sign,
                });
            }
        }
    }
    for (index, c) in init.iter().enumerate() {
        let sign = if INIT_NAMES.contains(&c.name.as_str()) {
            Some(Sign::InitName)
        } else if has_prefix(c, &INIT_IMAGE_PREFIXES) {
            Some(Sign::InitImage)
        } else {
            None
        };
        if let Some(sign) = sign {
            return Some(SidecarHit {
                list: "initContainers",
                index,
                container: c,
                sign,
            });
        }
    }
    None
}

fn has_prefix(c: &Container, prefixes: &[&str]) -> bool {
    c.image
        .as_deref()
        .is_some_and(|image| prefixes.iter().any(|p| image.starts_with(p)))
}

const SERVICE_ACCOUNT_MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Linkerd's automount rule. It matters only when the install does not project the token:
/// then `automountServiceAccountToken: false` on the pod, or no token mounted in the first
/// container, blocks injection.
///
/// At admission time the API server's ServiceAccount plugin has already mounted the token into
/// every container unless automount is off. A pod built from a template has no such mount yet, so
/// it is taken as mounted unless the pod turns automount off. (The ServiceAccount's own
/// `automountServiceAccountToken` is not part of the input and is assumed to be on.)
fn automount_service_account_token(spec: &PodSpec, settings: &InjectorSettings) -> bool {
    // Not turned off on the pod: the token is (or will be) mounted.
    settings.service_account_token_projection || spec.automount_service_account_token != Some(false)
}

fn first_container_mounts_token(spec: &PodSpec) -> bool {
    spec.containers.first().is_some_and(|c| {
        c.volume_mounts
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|m| m.mount_path == SERVICE_ACCOUNT_MOUNT)
    })
}

fn automount_step(spec: &PodSpec, settings: &InjectorSettings, automount: bool) -> Step {
    let from = settings
        .from
        .as_deref()
        .unwrap_or("the chart default (linkerd-config not in the input)");
    if settings.service_account_token_projection {
        return Step::new(
            STEP_SERVICE_ACCOUNT_TOKEN,
            StepResult::Pass,
            format!(
                "identity.serviceAccountTokenProjection is true ({from}), so automountServiceAccountToken does not matter"
            ),
        );
    }
    let pod_setting = match spec.automount_service_account_token {
        Some(v) => format!("pod spec.automountServiceAccountToken is {v}"),
        None => "pod spec.automountServiceAccountToken is not set".to_owned(),
    };
    if automount {
        let mount = if first_container_mounts_token(spec) {
            "the first container mounts the token"
        } else {
            "the API server will mount the token (assuming the ServiceAccount does not turn automount off)"
        };
        Step::new(
            STEP_SERVICE_ACCOUNT_TOKEN,
            StepResult::Pass,
            format!(
                "identity.serviceAccountTokenProjection is false ({from}); {pod_setting}, and {mount}"
            ),
        )
    } else {
        Step::new(
            STEP_SERVICE_ACCOUNT_TOKEN,
            StepResult::Fail,
            format!(
                "identity.serviceAccountTokenProjection is false ({from}) and {pod_setting}: the proxy would have no identity token (disabled_automount_service_account_token_account)"
            ),
        )
    }
}

/// The first UDP port among `containers` (Linkerd does not look at init containers here).
fn first_udp_port(spec: &PodSpec) -> Option<(&Container, i32)> {
    spec.containers.iter().find_map(|c| {
        c.ports
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|p| p.protocol.as_deref() == Some("UDP"))
            .map(|p| (c, p.container_port))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::trace::{NoTrace, Trace};

    fn pod(v: Value) -> Pod {
        let mut base = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "shop"},
            "spec": {"containers": [{"name": "app", "image": "shop/web:1"}]}
        });
        merge(&mut base, v);
        serde_json::from_value(base).expect("test pod")
    }

    fn merge(base: &mut Value, patch: Value) {
        match (base, patch) {
            (Value::Object(b), Value::Object(p)) => {
                for (k, v) in p {
                    merge(b.entry(k).or_insert(Value::Null), v);
                }
            }
            (b, p) => *b = p,
        }
    }

    fn annotated_pod(value: Option<&str>) -> Pod {
        match value {
            Some(v) => pod(json!({"metadata": {"annotations": {"linkerd.io/inject": v}}})),
            None => pod(json!({})),
        }
    }

    fn namespace(value: Option<&str>) -> Namespace {
        let mut ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
        if let Some(v) = value {
            merge(
                &mut ns,
                json!({"metadata": {"annotations": {"linkerd.io/inject": v}}}),
            );
        }
        serde_json::from_value(ns).expect("test namespace")
    }

    fn run(p: &Pod, ns: Option<&Namespace>) -> (LinkerdDecision, Vec<Step>) {
        let mut trace = Trace::default();
        let d = decide(p, ns, &mut trace);
        // The untraced hot path must reach the same verdict.
        assert_eq!(decide(p, ns, &mut NoTrace), d);
        (d, trace.steps)
    }

    fn verdict(ns: Option<&str>, p: Option<&str>) -> LinkerdDecision {
        run(&annotated_pod(p), Some(&namespace(ns))).0
    }

    fn step<'a>(steps: &'a [Step], id: &str) -> &'a Step {
        static MISSING: std::sync::LazyLock<Step> =
            std::sync::LazyLock::new(|| Step::new("missing", StepResult::Skip, ""));
        steps.iter().find(|s| s.step == id).unwrap_or(&MISSING)
    }

    /// Linkerd's own truth table for the webhook path (A.1.4), row by row.
    #[test]
    fn webhook_truth_table() {
        let rows = [
            (Some("enabled"), Some("enabled"), true),
            (Some("enabled"), None, true),
            (Some("enabled"), Some("disabled"), false),
            (Some("disabled"), Some("enabled"), true),
            (None, Some("enabled"), true),
            (Some("disabled"), Some("disabled"), false),
            (None, Some("disabled"), false),
            (Some("disabled"), None, false),
            (None, None, false),
        ];
        for (ns, p, inject) in rows {
            let d = verdict(ns, p);
            assert_eq!(d.inject, inject, "namespace {ns:?}, pod {p:?}: {d:?}");
            assert_eq!(d.reasons.is_empty(), inject);
            assert_eq!(d.decisive, STEP_INJECT_ANNOTATION);
        }
    }

    #[test]
    fn annotation_reasons_and_where_they_came_from() {
        let d = verdict(Some("enabled"), Some("disabled"));
        assert_eq!(d.reasons, [Reason::InjectionDisableAnnotationPresent]);
        assert_eq!(d.annotation_at, Some(AnnotationAt::Workload));

        // A pod `disabled` without an enabling namespace is "enable absent", not "disable present".
        for (ns, p) in [
            (None, Some("disabled")),
            (Some("disabled"), None),
            (None, None),
            (Some("disabled"), Some("disabled")),
        ] {
            let d = verdict(ns, p);
            assert_eq!(
                d.reasons,
                [Reason::InjectionEnableAnnotationAbsent],
                "{ns:?} {p:?}"
            );
            assert_eq!(d.annotation_at, None);
        }

        assert_eq!(
            verdict(Some("enabled"), None).annotation_at,
            Some(AnnotationAt::Namespace)
        );
        // The namespace decides even when the pod agrees with it.
        assert_eq!(
            verdict(Some("enabled"), Some("enabled")).annotation_at,
            Some(AnnotationAt::Namespace)
        );
        assert_eq!(
            verdict(Some("disabled"), Some("enabled")).annotation_at,
            Some(AnnotationAt::Workload)
        );
        assert_eq!(
            verdict(None, Some("enabled")).annotation_at,
            Some(AnnotationAt::Workload)
        );
    }

    #[test]
    fn ingress_behaves_like_enabled() {
        let d = verdict(None, Some("ingress"));
        assert!(d.inject && d.ingress, "{d:?}");
        let d = verdict(Some("ingress"), None);
        assert!(d.inject && d.ingress, "{d:?}");
        assert_eq!(d.annotation_at, Some(AnnotationAt::Namespace));
        // The pod's own value is the one it ends up with.
        let d = verdict(Some("ingress"), Some("enabled"));
        assert!(d.inject && !d.ingress, "{d:?}");
        let d = verdict(Some("enabled"), Some("ingress"));
        assert!(d.inject && d.ingress, "{d:?}");
        let d = verdict(Some("ingress"), Some("disabled"));
        assert_eq!(d.reasons, [Reason::InjectionDisableAnnotationPresent]);
        assert!(!d.ingress);
    }

    #[test]
    fn invalid_values_block_and_the_namespace_is_checked_first() {
        let d = verdict(Some("Enabled"), Some("enabled"));
        assert_eq!(d.reasons, [Reason::InvalidInjectAnnotationNamespace]);
        let d = verdict(Some("true"), Some("bogus"));
        assert_eq!(d.reasons, [Reason::InvalidInjectAnnotationNamespace]);
        let d = verdict(Some("enabled"), Some("true"));
        assert_eq!(d.reasons, [Reason::InvalidInjectAnnotationWorkload]);
        let d = verdict(None, Some("Disabled"));
        assert_eq!(d.reasons, [Reason::InvalidInjectAnnotationWorkload]);
        assert_eq!(d.annotation_at, None);
    }

    #[test]
    fn empty_value_counts_as_absent() {
        assert!(verdict(Some("enabled"), Some("")).inject);
        assert!(verdict(Some(""), Some("enabled")).inject);
        assert_eq!(
            verdict(Some(""), Some("")).reasons,
            [Reason::InjectionEnableAnnotationAbsent]
        );
    }

    #[test]
    fn namespace_missing_from_input_has_no_annotations() {
        let (d, steps) = run(&annotated_pod(Some("enabled")), None);
        assert!(d.inject);
        let (d, steps2) = run(&annotated_pod(None), None);
        assert_eq!(d.reasons, [Reason::InjectionEnableAnnotationAbsent]);
        for s in [&steps, &steps2] {
            let detail = &step(s, STEP_INJECT_ANNOTATION).detail;
            assert!(
                detail.contains(r#"namespace "shop" is not in the input"#),
                "{detail}"
            );
        }
    }

    #[test]
    fn annotations_are_not_labels() {
        let p = pod(json!({"metadata": {"labels": {"linkerd.io/inject": "enabled"}}}));
        let (d, steps) = run(&p, Some(&namespace(None)));
        assert_eq!(d.reasons, [Reason::InjectionEnableAnnotationAbsent]);
        let s = step(&steps, STEP_INJECT_LABEL);
        assert_eq!(s.result, StepResult::Info);
        assert!(s.detail.contains("ignored"), "{}", s.detail);
    }

    #[test]
    fn host_network_blocks_and_is_listed_first() {
        let p = pod(json!({"spec": {"hostNetwork": true}}));
        let (d, steps) = run(&p, Some(&namespace(Some("enabled"))));
        assert!(!d.inject);
        assert_eq!(d.reasons, [Reason::HostNetworkEnabled]);
        assert_eq!(d.decisive, STEP_HOST_NETWORK);
        assert_eq!(step(&steps, STEP_HOST_NETWORK).result, StepResult::Fail);

        // Linkerd collects every reason; hostNetwork still comes first.
        let p = pod(json!({"spec": {"hostNetwork": true}}));
        let (d, _) = run(&p, Some(&namespace(None)));
        assert_eq!(
            d.reasons,
            [
                Reason::HostNetworkEnabled,
                Reason::InjectionEnableAnnotationAbsent
            ]
        );
        assert_eq!(d.decisive, STEP_HOST_NETWORK);

        let p = pod(json!({"spec": {"hostNetwork": false}}));
        assert!(run(&p, Some(&namespace(Some("enabled")))).0.inject);
    }

    fn sidecar_reasons(spec: Value) -> Vec<Reason> {
        let p = pod(json!({"spec": spec}));
        run(&p, Some(&namespace(Some("enabled")))).0.reasons
    }

    #[test]
    fn existing_sidecars_by_name_and_image() {
        let hit = [Reason::SidecarAlreadyExists];
        let cases = [
            json!({"containers": [{"name": "app"}, {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.24.6"}]}),
            json!({"containers": [{"name": "linkerd-proxy"}]}),
            json!({"containers": [{"name": "app"}, {"name": "mesh", "image": "cr.l5d.io/linkerd/proxy:edge-26.8.3"}]}),
            json!({"containers": [{"name": "envoy", "image": "gcr.io/istio-release/proxyv2:1.20.0"}]}),
            // Native sidecar: the proxy is an init container.
            json!({"initContainers": [{"name": "linkerd-init"}, {"name": "linkerd-proxy", "restartPolicy": "Always"}]}),
            json!({"initContainers": [{"name": "istio-init"}]}),
            json!({"initContainers": [{"name": "setup", "image": "cr.l5d.io/linkerd/proxy-init:v2.4.1"}]}),
            json!({"initContainers": [{"name": "setup", "image": "gcr.io/istio-release/proxy_init:1.0.0"}]}),
        ];
        for spec in cases {
            assert_eq!(sidecar_reasons(spec.clone()), hit, "{spec}");
        }
    }

    #[test]
    fn look_alikes_are_not_sidecars() {
        let cases = [
            // Istio's docker.io image is not among Linkerd's prefixes; only the name would count.
            json!({"containers": [{"name": "envoy", "image": "docker.io/istio/proxyv2:1.24.6"}]}),
            // Init names count only among init containers.
            json!({"containers": [{"name": "app"}, {"name": "linkerd-init"}]}),
            json!({"containers": [{"name": "app", "image": "cr.l5d.io/linkerd/proxy-init:v2.4.1"}]}),
            // Prefixes include the tag colon.
            json!({"containers": [{"name": "app", "image": "cr.l5d.io/linkerd/proxyfoo:1"}]}),
            json!({"containers": [{"name": "Linkerd-Proxy"}]}),
        ];
        for spec in cases {
            assert_eq!(sidecar_reasons(spec.clone()), [], "{spec}");
        }
    }

    #[test]
    fn sidecar_detail_names_the_container() {
        let p = pod(
            json!({"spec": {"initContainers": [{"name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy:edge-26.8.3"}]}}),
        );
        let (d, steps) = run(&p, Some(&namespace(Some("enabled"))));
        assert_eq!(d.decisive, STEP_EXISTING_SIDECAR);
        let s = step(&steps, STEP_EXISTING_SIDECAR);
        assert_eq!(s.result, StepResult::Fail);
        assert!(
            s.detail.contains(r#"initContainers[0] "linkerd-proxy""#),
            "{}",
            s.detail
        );
    }

    #[test]
    fn automount_matters_only_without_token_projection() {
        let p = pod(json!({"spec": {"automountServiceAccountToken": false}}));
        let ns = namespace(Some("enabled"));
        assert!(
            run(&p, Some(&ns)).0.inject,
            "chart default projects the token"
        );

        let no_projection = InjectorSettings {
            service_account_token_projection: false,
            from: Some("ConfigMap linkerd/linkerd-config".to_owned()),
        };
        let mut trace = Trace::default();
        let d = decide_with(&p, Some(&ns), &no_projection, &mut trace);
        assert_eq!(d.reasons, [Reason::DisabledAutomountServiceAccountToken]);
        assert_eq!(d.decisive, STEP_SERVICE_ACCOUNT_TOKEN);
        let s = step(&trace.steps, STEP_SERVICE_ACCOUNT_TOKEN);
        assert_eq!(s.result, StepResult::Fail);
        assert!(
            s.detail.contains("ConfigMap linkerd/linkerd-config"),
            "{}",
            s.detail
        );

        for automount in [json!(true), Value::Null] {
            let p = pod(json!({"spec": {"automountServiceAccountToken": automount}}));
            let d = decide_with(&p, Some(&ns), &no_projection, &mut NoTrace);
            assert!(d.inject, "{automount}: {d:?}");
        }
    }

    #[test]
    fn all_reasons_in_linkerds_order() {
        let p = pod(json!({
            "metadata": {"annotations": {"linkerd.io/inject": "disabled"}},
            "spec": {"hostNetwork": true, "automountServiceAccountToken": false,
                     "containers": [{"name": "app"}, {"name": "istio-proxy"}]}
        }));
        let settings = InjectorSettings {
            service_account_token_projection: false,
            from: None,
        };
        let d = decide_with(
            &p,
            Some(&namespace(Some("enabled"))),
            &settings,
            &mut NoTrace,
        );
        assert_eq!(
            d.reasons,
            [
                Reason::HostNetworkEnabled,
                Reason::SidecarAlreadyExists,
                Reason::InjectionDisableAnnotationPresent,
                Reason::DisabledAutomountServiceAccountToken,
            ]
        );
        assert_eq!(
            d.skip_event_message().as_deref(),
            Some(
                "Linkerd sidecar proxy injection skipped: hostNetwork is enabled, pod has a sidecar injected already, \
                 pod has the annotation \"linkerd.io/inject:disabled\", automountServiceAccountToken set to \"false\", \
                 with Values.identity.serviceAccountTokenProjection set to \"false\""
            )
        );
    }

    #[test]
    fn udp_ports_warn_but_inject() {
        let p = pod(json!({"spec": {"containers": [
            {"name": "app", "ports": [{"containerPort": 8080}]},
            {"name": "dns", "ports": [{"containerPort": 53, "protocol": "UDP"}]}
        ]}}));
        let (d, steps) = run(&p, Some(&namespace(Some("enabled"))));
        assert!(d.inject);
        let s = step(&steps, STEP_UDP_PORTS);
        assert_eq!(s.result, StepResult::Info);
        assert!(
            s.detail.contains(r#"container "dns" declares port 53/UDP"#),
            "{}",
            s.detail
        );
        // Init containers' ports are not looked at.
        let p = pod(
            json!({"spec": {"initContainers": [{"name": "x", "ports": [{"containerPort": 53, "protocol": "UDP"}]}]}}),
        );
        let (_, steps) = run(&p, Some(&namespace(Some("enabled"))));
        assert!(steps.iter().all(|s| s.step != STEP_UDP_PORTS));
    }

    #[test]
    fn trace_has_one_step_per_rule_in_order() {
        let (d, steps) = run(
            &annotated_pod(Some("enabled")),
            Some(&namespace(Some("disabled"))),
        );
        assert!(d.inject);
        assert_eq!(d.skip_event_message(), None);
        let ids: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
        assert_eq!(
            ids,
            [
                STEP_HOST_NETWORK,
                STEP_EXISTING_SIDECAR,
                STEP_RESOURCE_KIND,
                STEP_INJECT_ANNOTATION,
                STEP_SERVICE_ACCOUNT_TOKEN
            ]
        );
        let s = step(&steps, STEP_INJECT_ANNOTATION);
        assert_eq!(s.result, StepResult::Pass);
        assert!(
            s.detail
                .contains(r#"pod annotation linkerd.io/inject="enabled""#),
            "{}",
            s.detail
        );
        assert!(
            s.detail
                .contains(r#"namespace "shop" annotation linkerd.io/inject="disabled""#),
            "{}",
            s.detail
        );
    }

    #[test]
    fn annotation_details_name_the_reason() {
        let cases = [
            (
                Some("Enabled"),
                Some("enabled"),
                "invalid_inject_annotation_at_ns",
            ),
            (
                Some("enabled"),
                Some("yes"),
                "invalid_inject_annotation_at_workload",
            ),
            (
                Some("enabled"),
                Some("disabled"),
                "injection_disable_annotation_present",
            ),
            (None, None, "injection_enable_annotation_absent"),
        ];
        for (ns, p, id) in cases {
            let (_, steps) = run(&annotated_pod(p), Some(&namespace(ns)));
            let s = step(&steps, STEP_INJECT_ANNOTATION);
            assert_eq!(s.result, StepResult::Fail);
            assert!(s.detail.contains(id), "{}", s.detail);
        }
        let (_, steps) = run(&annotated_pod(None), Some(&namespace(Some("ingress"))));
        let detail = &step(&steps, STEP_INJECT_ANNOTATION).detail;
        assert!(detail.contains(r#"namespace "shop" annotation linkerd.io/inject="ingress" enables injection (ingress mode)"#), "{detail}");
    }

    #[test]
    fn pod_without_spec_is_an_empty_pod() {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "x", "namespace": "shop", "annotations": {"linkerd.io/inject": "enabled"}}
        }))
        .expect("test pod");
        assert!(p.spec.is_none());
        assert!(run(&p, None).0.inject);
    }
}
