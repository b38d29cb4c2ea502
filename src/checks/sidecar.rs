//! What an injector adds to a pod, as far as the post-injection checks need it: the proxy's
//! resources and security settings (from the Istio injector values or Linkerd's `linkerd-config`),
//! whether a CNI plugin replaces the privileged init container, Kubernetes quantities, and which
//! workload to restart for a pod.
//!
//! These are facts read from configuration, not a render of the injection template: the checks
//! that use them need a handful of fields, and reading them directly keeps the evidence pointing
//! at the value that decided.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodSpec};
use serde_json::Value;

use crate::decision::Mesh;
use crate::engine::{Engine, Verdict, WebhookRole};
use crate::mesh::istio::config::InjectorSettings;
use crate::origin::Origin;
use crate::state::ClusterState;
use crate::workload::PodSubject;

/// Names of the containers the injectors add.
pub const ISTIO_PROXY: &str = "istio-proxy";
pub const ISTIO_INIT: &str = "istio-init";
pub const ISTIO_VALIDATION: &str = "istio-validation";
pub const LINKERD_PROXY: &str = "linkerd-proxy";
pub const LINKERD_INIT: &str = "linkerd-init";
pub const LINKERD_VALIDATOR: &str = "linkerd-network-validator";

/// A Kubernetes quantity in thousandths of its unit (millicores, millibytes), so that CPU and
/// memory compare exactly without floating point.
pub type Milli = i128;

/// Parses a Kubernetes quantity (`100m`, `0.5`, `128Mi`, `1G`, `1e3`) into thousandths of the
/// base unit. `None` for anything the API server would reject.
pub fn parse_quantity(text: &str) -> Option<Milli> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    if number.is_empty() {
        return None;
    }
    let (negative, number) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part
        .chars()
        .chain(frac_part.chars())
        .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    // value = digits / 10^frac_len, scaled by the suffix, in thousandths.
    let digits: i128 = format!("{int_part}{frac_part}").parse().ok()?;
    let frac_len = u32::try_from(frac_part.len()).ok()?;
    let (mul, div_pow10): (i128, u32) = match suffix {
        "" => (1000, 0),
        "m" => (1, 0),
        "k" => (1000_i128.pow(2), 0),
        "M" => (1000_i128.pow(3), 0),
        "G" => (1000_i128.pow(4), 0),
        "T" => (1000_i128.pow(5), 0),
        "P" => (1000_i128.pow(6), 0),
        "E" => (1000_i128.pow(7), 0),
        "Ki" => (1000 * 1024, 0),
        "Mi" => (1000 * 1024_i128.pow(2), 0),
        "Gi" => (1000 * 1024_i128.pow(3), 0),
        "Ti" => (1000 * 1024_i128.pow(4), 0),
        "Pi" => (1000 * 1024_i128.pow(5), 0),
        "Ei" => (1000 * 1024_i128.pow(6), 0),
        other => {
            let exp: i32 = other
                .strip_prefix('e')
                .or_else(|| other.strip_prefix('E'))?
                .parse()
                .ok()?;
            if exp >= 0 {
                (1000 * 10_i128.checked_pow(u32::try_from(exp).ok()?)?, 0)
            } else {
                (1000, u32::try_from(-exp).ok()?)
            }
        }
    };
    let scaled = digits.checked_mul(mul)?;
    let divisor = 10_i128.checked_pow(frac_len.checked_add(div_pow10)?)?;
    // Round up, as the API server does when it stores a quantity at milli precision.
    let value = (scaled + divisor - 1) / divisor;
    Some(if negative { -value } else { value })
}

/// Shows a quantity in the unit people write it in: `cpu` in millicores, memory in Mi.
pub fn show_quantity(resource: &str, milli: Milli) -> String {
    if resource.ends_with("cpu") {
        if milli % 1000 == 0 {
            format!("{}", milli / 1000)
        } else {
            format!("{milli}m")
        }
    } else {
        let bytes = milli / 1000;
        let mi = 1024 * 1024;
        if bytes % mi == 0 {
            format!("{}Mi", bytes / mi)
        } else {
            format!("{bytes}")
        }
    }
}

/// The resources of one injected container: `requests`/`limits` → `cpu`/`memory` → value,
/// and where each came from.
#[derive(Debug, Clone)]
pub struct ProxyResources {
    pub requests: BTreeMap<String, String>,
    pub limits: BTreeMap<String, String>,
    /// Where the values were read, e.g. `global.proxy.resources in istio-system/istio-sidecar-injector`.
    pub source: String,
    pub origin: Origin,
}

impl ProxyResources {
    fn empty(source: String, origin: Origin) -> Self {
        ProxyResources {
            requests: BTreeMap::new(),
            limits: BTreeMap::new(),
            source,
            origin,
        }
    }
}

/// Istio chart defaults for `global.proxy.resources`.
pub const ISTIO_DEFAULT_REQUESTS: [(&str, &str); 2] = [("cpu", "100m"), ("memory", "128Mi")];
pub const ISTIO_DEFAULT_LIMITS: [(&str, &str); 2] = [("cpu", "2000m"), ("memory", "1024Mi")];

/// The injector values (`data.values` JSON) of an Istio revision, parsed.
pub fn istio_values(settings: &InjectorSettings) -> Option<Value> {
    settings
        .values_text
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
}

/// The Istio revision settings behind a verdict, when the verdict came from an Istio webhook.
pub fn istio_settings<'e>(
    engine: &'e Engine<'_>,
    verdict: &Verdict,
) -> Option<&'e InjectorSettings> {
    match engine.roles.get(verdict.webhook?)? {
        WebhookRole::Istio { revision } => engine.istio.settings_for_revision(revision),
        _ => None,
    }
}

fn annotation<'a>(subject: &'a PodSubject<'_>, key: &str) -> Option<&'a str> {
    subject
        .meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// The resources Istio gives `istio-proxy` (and, through the same template define, the init
/// container): any of the `sidecar.istio.io/proxyCPU|proxyMemory|proxyCPULimit|proxyMemoryLimit`
/// annotations replaces the values entirely; otherwise `global.proxy.resources`, else the chart
/// defaults.
pub fn istio_proxy_resources(
    subject: &PodSubject<'_>,
    settings: Option<&InjectorSettings>,
) -> ProxyResources {
    let keys = [
        ("sidecar.istio.io/proxyCPU", true, "cpu"),
        ("sidecar.istio.io/proxyMemory", true, "memory"),
        ("sidecar.istio.io/proxyCPULimit", false, "cpu"),
        ("sidecar.istio.io/proxyMemoryLimit", false, "memory"),
    ];
    if keys
        .iter()
        .any(|(k, _, _)| annotation(subject, k).is_some())
    {
        let mut r = ProxyResources::empty(
            "sidecar.istio.io/proxy* annotations on the pod template".to_owned(),
            subject.origin.clone(),
        );
        for (key, is_request, res) in keys {
            if let Some(v) = annotation(subject, key) {
                let map = if is_request {
                    &mut r.requests
                } else {
                    &mut r.limits
                };
                map.insert(res.to_owned(), v.to_owned());
            }
        }
        return r;
    }
    let origin = settings
        .map(|s| s.origin.clone())
        .unwrap_or(Origin::Derived);
    let cm = settings
        .and_then(|s| s.configmap.clone())
        .unwrap_or_else(|| "the chart defaults".to_owned());
    if let Some(res) = settings
        .and_then(istio_values)
        .and_then(|v| v.pointer("/global/proxy/resources").cloned())
        .filter(|v| v.is_object())
    {
        let read = |k: &str| -> BTreeMap<String, String> {
            res.get(k)
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| {
                            let s = match v {
                                Value::String(s) => s.clone(),
                                Value::Number(n) => n.to_string(),
                                _ => return None,
                            };
                            Some((k.clone(), s))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        return ProxyResources {
            requests: read("requests"),
            limits: read("limits"),
            source: format!("global.proxy.resources in configmap {cm}"),
            origin,
        };
    }
    let to_map = |pairs: [(&str, &str); 2]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    ProxyResources {
        requests: to_map(ISTIO_DEFAULT_REQUESTS),
        limits: to_map(ISTIO_DEFAULT_LIMITS),
        source: format!("the chart defaults (global.proxy.resources is not set in {cm})"),
        origin,
    }
}

/// Linkerd's `linkerd-config` values (YAML) and where they came from.
pub fn linkerd_values(state: &ClusterState) -> Option<(Value, Origin, String)> {
    let cm = state
        .configmaps
        .iter()
        .find(|c| c.obj.metadata.name.as_deref() == Some(crate::mesh::linkerd::CONFIG_MAP_NAME))?;
    let text = cm.obj.data.as_ref()?.get("values")?;
    let v: Value = serde_saphyr::from_str(text).ok()?;
    let ns = cm.obj.metadata.namespace.as_deref().unwrap_or("");
    Some((
        v,
        cm.origin.clone(),
        format!("{ns}/{}", crate::mesh::linkerd::CONFIG_MAP_NAME),
    ))
}

/// Linkerd's proxy resources: `config.linkerd.io/proxy-{cpu,memory}-{request,limit}` on the pod
/// template or its namespace, else `proxy.resources` in `linkerd-config` (the chart leaves them
/// empty: no requests and no limits).
/// `values` is [`linkerd_values`], read once by the caller: finding `linkerd-config` scans every
/// ConfigMap, which is too much to do for each pod.
pub fn linkerd_proxy_resources(
    state: &ClusterState,
    values: &Option<(Value, Origin, String)>,
    subject: &PodSubject<'_>,
) -> ProxyResources {
    let ns_ann = state
        .namespaces
        .get(None, &subject.namespace)
        .and_then(|n| n.obj.metadata.annotations.as_ref());
    let mut r = ProxyResources::empty(
        match &values {
            Some((_, _, name)) => format!("proxy.resources in configmap {name}"),
            None => "the chart defaults (no requests or limits)".to_owned(),
        },
        values
            .as_ref()
            .map(|(_, o, _)| o.clone())
            .unwrap_or(Origin::Derived),
    );
    for res in ["cpu", "memory"] {
        for (kind, is_request) in [("request", true), ("limit", false)] {
            let key = format!("config.linkerd.io/proxy-{res}-{kind}");
            let from_ann = annotation(subject, &key)
                .map(|v| (v.to_owned(), "pod template"))
                .or_else(|| {
                    ns_ann
                        .and_then(|a| a.get(&key))
                        .map(|v| (v.clone(), "namespace"))
                });
            let value = match from_ann {
                Some((v, place)) => {
                    r.source = format!("{key} on the {place}");
                    Some(v)
                }
                None => values.as_ref().and_then(|(v, _, _)| {
                    match v.pointer(&format!("/proxy/resources/{res}/{kind}"))? {
                        Value::String(s) if !s.is_empty() => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    }
                }),
            };
            if let Some(v) = value {
                let map = if is_request {
                    &mut r.requests
                } else {
                    &mut r.limits
                };
                map.insert(res.to_owned(), v);
            }
        }
    }
    r
}

/// Whether Istio's CNI plugin replaces `istio-init` for this revision: `pilot.cni.enabled`
/// (the injector template's switch) or the older `istio_cni.enabled`. Returns the value and the
/// field that gave it (`None` field = neither is set, chart default false).
pub fn istio_cni(settings: Option<&InjectorSettings>) -> (bool, Option<&'static str>) {
    let Some(values) = settings.and_then(istio_values) else {
        return (false, None);
    };
    for (pointer, field) in [
        ("/pilot/cni/enabled", "pilot.cni.enabled"),
        ("/istio_cni/enabled", "istio_cni.enabled"),
    ] {
        if let Some(b) = values.pointer(pointer).and_then(Value::as_bool) {
            return (b, Some(field));
        }
    }
    (false, None)
}

/// Whether Linkerd's CNI plugin replaces `linkerd-init` (`cniEnabled` in `linkerd-config`).
pub fn linkerd_cni(state: &ClusterState) -> bool {
    linkerd_values(state)
        .and_then(|(v, _, _)| v.get("cniEnabled").and_then(Value::as_bool))
        .unwrap_or(false)
}

/// How a pod carries a proxy container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyLayout {
    /// Among `spec.containers` (the classic sidecar).
    Container,
    /// Among `spec.initContainers` with `restartPolicy: Always`: a native sidecar, which starts
    /// before the later init containers and runs for the pod's life.
    Native,
    /// Among `spec.initContainers` without `restartPolicy: Always`: it would have to exit
    /// before the app starts (a cluster without native sidecar support runs it this way).
    InitOnly,
}

impl ProxyLayout {
    /// The spec field that holds the container, for evidence.
    pub fn field(self, name: &str) -> String {
        match self {
            ProxyLayout::Container => format!("spec.containers[name={name}]"),
            ProxyLayout::Native | ProxyLayout::InitOnly => {
                format!("spec.initContainers[name={name}]")
            }
        }
    }
}

/// The proxy container `name` (`istio-proxy`, `linkerd-proxy`) of a pod spec and its layout.
pub fn find_proxy<'s>(
    spec: Option<&'s PodSpec>,
    name: &str,
) -> Option<(&'s k8s_openapi::api::core::v1::Container, ProxyLayout)> {
    let spec = spec?;
    if let Some(c) = spec.containers.iter().find(|c| c.name == name) {
        return Some((c, ProxyLayout::Container));
    }
    let c = spec
        .init_containers
        .iter()
        .flatten()
        .find(|c| c.name == name)?;
    let layout = if c.restart_policy.as_deref() == Some("Always") {
        ProxyLayout::Native
    } else {
        ProxyLayout::InitOnly
    };
    Some((c, layout))
}

/// Whether a pod spec already carries a mesh proxy.
pub fn has_proxy(spec: Option<&PodSpec>) -> bool {
    spec.is_some_and(|s| {
        s.containers
            .iter()
            .chain(s.init_containers.iter().flatten())
            .any(|c| c.name == ISTIO_PROXY || c.name == LINKERD_PROXY)
    })
}

/// The subjects whose next pods go through admission with a sidecar added: workload templates,
/// and bare pods (no controller) not injected yet. Pods owned by a controller are covered by
/// their workload, and an existing injected pod was already admitted.
pub fn will_be_admitted_injected<'a, 's>(
    subjects: &'a [(PodSubject<'s>, Verdict)],
) -> impl Iterator<Item = (&'a PodSubject<'s>, &'a Verdict, Mesh)> + 'a {
    subjects.iter().filter_map(|(s, v)| {
        let mesh = v.mesh.filter(|_| v.inject)?;
        if s.target.kind == "Pod" {
            let owned = s
                .meta
                .owner_references
                .as_ref()
                .is_some_and(|o| o.iter().any(|r| r.controller == Some(true)));
            if owned || has_proxy(s.spec) {
                return None;
            }
        }
        Some((s, v, mesh))
    })
}

/// The workload that owns a pod and can be restarted: `("Deployment", "web")`,
/// `("StatefulSet", "db")`, `("DaemonSet", "agent")`; `None` for bare pods and Jobs.
pub fn restart_target(state: &ClusterState, pod: &Pod) -> Option<(&'static str, String)> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))?;
    match owner.kind.as_str() {
        "StatefulSet" => Some(("StatefulSet", owner.name.clone())),
        "DaemonSet" => Some(("DaemonSet", owner.name.clone())),
        "ReplicaSet" => {
            let from_state = state
                .replicasets
                .get(Some(ns), &owner.name)
                .and_then(|rs| rs.obj.metadata.owner_references.as_ref())
                .and_then(|refs| refs.iter().find(|r| r.kind == "Deployment"))
                .map(|d| d.name.clone());
            // Without the ReplicaSet, its name is `<deployment>-<pod-template-hash>`.
            from_state
                .or_else(|| owner.name.rsplit_once('-').map(|(d, _)| d.to_owned()))
                .map(|d| ("Deployment", d))
        }
        _ => None,
    }
}

/// `kubectl -n NS rollout restart deployment/web` for the workload that owns a pod, or
/// `kubectl -n NS delete pod NAME` when it has no restartable owner.
pub fn restart_command(state: &ClusterState, pod: &Pod) -> String {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or("");
    match restart_target(state, pod) {
        Some((kind, owner)) => format!(
            "kubectl -n {ns} rollout restart {}/{owner}",
            kind.to_ascii_lowercase()
        ),
        None => format!("kubectl -n {ns} delete pod {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("100m"), Some(100));
        assert_eq!(parse_quantity("2"), Some(2000));
        assert_eq!(parse_quantity("0.5"), Some(500));
        assert_eq!(parse_quantity("2000m"), parse_quantity("2"));
        assert_eq!(parse_quantity("128Mi"), Some(128 * 1024 * 1024 * 1000));
        assert_eq!(parse_quantity("1Gi"), parse_quantity("1024Mi"));
        assert_eq!(parse_quantity("1G"), Some(1_000_000_000_000));
        assert_eq!(parse_quantity("1e3"), Some(1_000_000));
        assert_eq!(parse_quantity("1.5Gi"), parse_quantity("1536Mi"));
        assert_eq!(parse_quantity(""), None);
        assert_eq!(parse_quantity("abc"), None);
        assert_eq!(parse_quantity("1x"), None);
        assert_eq!(parse_quantity("."), None);
        assert_eq!(parse_quantity("1e999999"), None);
    }

    #[test]
    fn shows_quantities() {
        assert_eq!(show_quantity("requests.cpu", 100), "100m");
        assert_eq!(show_quantity("cpu", 2000), "2");
        assert_eq!(
            show_quantity("memory", parse_quantity("128Mi").unwrap_or(0)),
            "128Mi"
        );
    }
}
