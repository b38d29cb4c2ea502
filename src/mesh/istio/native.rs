//! Whether istiod injects `istio-proxy` as a native sidecar (an init container with
//! `restartPolicy: Always`) or as a regular container, decided as istiod decides it: the
//! `ENABLE_NATIVE_SIDECARS` environment of the revision's istiod, for `auto` the kubelet
//! versions of the cluster's Nodes, then the pod's `sidecar.istio.io/nativeSidecar` annotation.
//!
//! Everything that does not depend on the pod (each revision's flag, every node's kubelet
//! minor) is read once in [`NativeSidecars::new`], so that checks can ask for every pod.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::EnvVar;
use serde_json::Value;

use super::config::InjectorSettings;
use super::install::{DEFAULT_NAMESPACE, IstioInstall};
use super::version::IstioVersion;
use crate::state::{ClusterState, Kind};
use crate::trace::{Step, StepResult, StepSource};

/// istiod's feature flag.
pub const FLAG: &str = "ENABLE_NATIVE_SIDECARS";
/// The pod annotation that overrides the flag when it is exactly `true` or `false`.
pub const ANNOTATION: &str = "sidecar.istio.io/nativeSidecar";
/// The trace step's id.
pub const STEP: &str = "native-sidecar";

/// The first Istio minor whose flag is a string with an `auto` default; before it the flag is
/// a boolean that defaults to false.
const AUTO_SINCE: IstioVersion = IstioVersion {
    major: 1,
    minor: 27,
};
/// Native sidecars are stable from Kubernetes 1.33, the kubelet minor istiod's `auto` requires.
const MIN_KUBELET_MINOR: u64 = 33;

/// How istiod reads its flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enabled,
    Disabled,
    /// Decided by the Nodes' kubelet versions.
    Auto,
}

/// One revision's flag and where it was read.
#[derive(Debug, Clone)]
pub struct Flag {
    pub mode: Mode,
    /// `ENABLE_NATIVE_SIDECARS="auto" in the env of deployment istio-system/istiod`, or why the
    /// default applies.
    pub shown: String,
    pub source: Option<StepSource>,
}

/// istiod's view of one Node: its name and the kubelet minor (`None`: the version does not
/// parse, which istiod counts as too old).
#[derive(Debug, Clone)]
struct NodeFacts {
    name: String,
    version: String,
    minor: Option<u64>,
}

/// The decision for one pod.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What istiod decides for the cluster and the pod's node (the templates' `.NativeSidecars`).
    pub cluster: bool,
    /// After the pod's annotation: whether `istio-proxy` lands among the init containers.
    pub native: bool,
    /// Neither the flag nor the annotation settled it and the input has no Nodes: the layout
    /// is an assumption.
    pub assumed: bool,
    pub detail: String,
    pub source: Option<StepSource>,
}

impl Decision {
    /// The decision as a trace step.
    pub fn step(&self) -> Step {
        let result = if self.assumed {
            StepResult::NotEvaluated
        } else {
            StepResult::Info
        };
        let step = Step::new(STEP, result, self.detail.clone());
        match &self.source {
            Some(s) => step.with_source(s.clone()),
            None => step,
        }
    }
}

/// Each revision's flag and the cluster's Nodes, read once.
#[derive(Debug, Clone)]
pub struct NativeSidecars {
    flags: BTreeMap<String, Flag>,
    /// `Err` says why the Nodes are not known.
    nodes: Result<Vec<NodeFacts>, String>,
    by_name: HashMap<String, usize>,
}

impl NativeSidecars {
    pub fn new(state: &ClusterState, install: &IstioInstall) -> NativeSidecars {
        let flags = install
            .revisions
            .iter()
            .map(|(rev, s)| (rev.clone(), read_flag(state, s)))
            .collect();
        let nodes = match state.unavailable_reason(Kind::Node) {
            // A cluster without a single node is not a real observation (a read that found
            // none, or a state captured without them): assume, and say so, either way.
            Some(why) if state.nodes.is_empty() => Err(why),
            None if state.nodes.is_empty() => Err("no nodes in the input".to_owned()),
            _ => Ok(state
                .nodes
                .iter()
                .map(|n| {
                    let version = n
                        .obj
                        .status
                        .as_ref()
                        .and_then(|s| s.node_info.as_ref())
                        .map(|i| i.kubelet_version.clone())
                        .unwrap_or_default();
                    NodeFacts {
                        name: n.obj.metadata.name.clone().unwrap_or_default(),
                        minor: kubelet_minor(&version),
                        version,
                    }
                })
                .collect::<Vec<_>>()),
        };
        let by_name = match &nodes {
            Ok(list) => list
                .iter()
                .enumerate()
                .map(|(i, n)| (n.name.clone(), i))
                .collect(),
            Err(_) => HashMap::new(),
        };
        NativeSidecars {
            flags,
            nodes,
            by_name,
        }
    }

    /// The decision for a pod injected by `settings`' revision. `node_name` is the pod's
    /// `spec.nodeName`; `annotations` are the pod's.
    pub fn decide(
        &self,
        state: &ClusterState,
        settings: &InjectorSettings,
        node_name: Option<&str>,
        annotations: &BTreeMap<String, String>,
    ) -> Decision {
        let flag = match self.flags.get(&settings.revision) {
            Some(f) => f.clone(),
            None => read_flag(state, settings),
        };
        let (cluster, assumed, why) = match flag.mode {
            Mode::Enabled => (
                true,
                false,
                format!("{}: native sidecars are on", flag.shown),
            ),
            Mode::Disabled => (
                false,
                false,
                format!("{}: native sidecars are off", flag.shown),
            ),
            Mode::Auto => self.auto(&flag.shown, node_name),
        };
        let annotated = annotations.get(ANNOTATION).map(String::as_str);
        let native = match annotated {
            Some("true") => true,
            Some("false") => false,
            _ => cluster,
        };
        let layout = |native: bool| {
            if native {
                "so istio-proxy is injected as a native sidecar (an init container with restartPolicy: Always)"
            } else {
                "so istio-proxy is injected as a regular container"
            }
        };
        let detail = match annotated {
            Some(v @ ("true" | "false")) => format!(
                "pod annotation {ANNOTATION}={v:?} overrides istiod ({why}), {}",
                layout(native)
            ),
            Some(v) => format!(
                "{why}; pod annotation {ANNOTATION}={v:?} is neither \"true\" nor \"false\" and is ignored, {}",
                layout(native)
            ),
            None => format!("{why}, {}", layout(native)),
        };
        Decision {
            cluster,
            native,
            assumed: assumed && annotated != Some("true") && annotated != Some("false"),
            detail,
            source: flag.source,
        }
    }

    /// `auto`: the pod's node when it names one that exists, else every node must run a
    /// kubelet ≥ 1.33 (no nodes at all: on).
    fn auto(&self, shown: &str, node_name: Option<&str>) -> (bool, bool, String) {
        let nodes = match &self.nodes {
            Ok(n) => n,
            Err(why) => {
                return (
                    true,
                    true,
                    format!(
                        "{shown}, which istiod decides by the Nodes' kubelet versions, but the input has no Nodes ({why}): assuming every node runs a kubelet ≥ 1.{MIN_KUBELET_MINOR}, as on current clusters (include Node objects, e.g. from `meshdoctor snapshot`, to decide)"
                    ),
                );
            }
        };
        let old = |n: &NodeFacts| n.minor.is_none_or(|m| m < MIN_KUBELET_MINOR);
        let show = |n: &NodeFacts| {
            if n.minor.is_none() {
                format!(
                    "node {} reports kubelet version {:?}, which does not parse",
                    n.name, n.version
                )
            } else {
                format!("node {} runs kubelet {}", n.name, n.version)
            }
        };
        let mut fallback_note = String::new();
        if let Some(name) = node_name.filter(|n| !n.is_empty()) {
            match self.by_name.get(name).and_then(|&i| nodes.get(i)) {
                Some(n) => {
                    let on = !old(n);
                    return (
                        on,
                        false,
                        format!(
                            "{shown}: the pod's spec.nodeName decides, and {} ({} 1.{MIN_KUBELET_MINOR})",
                            show(n),
                            if on { "≥" } else { "<" }
                        ),
                    );
                }
                None => {
                    fallback_note = format!(
                        " (the pod's node {name} is not among them, so all of them decide)"
                    );
                }
            }
        }
        match nodes.iter().find(|n| old(n)) {
            Some(n) => (
                false,
                false,
                format!(
                    "{shown}: {} (< 1.{MIN_KUBELET_MINOR}), and one such node turns native sidecars off for the whole cluster{fallback_note}",
                    show(n)
                ),
            ),
            None if nodes.is_empty() => (
                true,
                false,
                format!(
                    "{shown}: the input's Node list is empty, and istiod then turns native sidecars on"
                ),
            ),
            None => (
                true,
                false,
                format!(
                    "{shown}: all {} nodes run kubelet ≥ 1.{MIN_KUBELET_MINOR}{fallback_note}",
                    nodes.len()
                ),
            ),
        }
    }
}

/// The revision's flag: the `ENABLE_NATIVE_SIDECARS` env of its istiod Deployment, else
/// `pilot.env` in the injector values (the chart renders both from the same value), else the
/// version's default.
pub fn read_flag(state: &ClusterState, settings: &InjectorSettings) -> Flag {
    let version = settings.version.effective();
    let namespace = settings
        .configmap
        .as_deref()
        .and_then(|c| c.split_once('/'))
        .map_or(DEFAULT_NAMESPACE, |(ns, _)| ns);
    let deploy_name = if settings.revision == "default" {
        "istiod".to_owned()
    } else {
        format!("istiod-{}", settings.revision)
    };
    if let Some(d) = state.deployments.get(Some(namespace), &deploy_name) {
        let containers = d
            .obj
            .spec
            .template
            .spec
            .as_ref()
            .map(|s| s.containers.as_slice())
            .unwrap_or_default();
        // istiod's container is `discovery`; a later entry of the same name wins, as in the
        // kubelet.
        let found = containers
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name == "discovery" || containers.len() == 1)
            .find_map(|(ci, c)| {
                let env = c.env.as_deref().unwrap_or_default();
                env.iter()
                    .enumerate()
                    .rev()
                    .find(|(_, e)| e.name == FLAG)
                    .map(|(ei, e)| (ci, ei, e))
            });
        let object = format!("Deployment/{namespace}/{deploy_name}");
        return match found {
            Some((ci, ei, e)) => env_flag(version, e, object, ci, ei, &d.origin.to_string()),
            None => Flag {
                mode: default_mode(version),
                shown: format!(
                    "{FLAG} is not set on deployment {namespace}/{deploy_name} (istiod {}'s default is {:?})",
                    describe(version),
                    default_text(version)
                ),
                source: Some(StepSource {
                    object,
                    field: "spec.template.spec.containers[name=discovery].env".into(),
                    location: d.origin.to_string(),
                }),
            },
        };
    }
    let from_values = settings
        .values_text
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|v| v.pointer(&format!("/pilot/env/{FLAG}")).cloned());
    let cm = settings.configmap.as_deref().unwrap_or("");
    match from_values {
        Some(v) => {
            let text = match &v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Flag {
                mode: parse_mode(version, Some(&text)),
                shown: format!(
                    "{FLAG}={text:?} in pilot.env of the injector values ({cm}; no istiod Deployment {namespace}/{deploy_name} in the input)"
                ),
                source: Some(StepSource {
                    object: format!("ConfigMap/{cm}"),
                    field: format!("data.values.pilot.env.{FLAG}"),
                    location: settings.origin.to_string(),
                }),
            }
        }
        None => Flag {
            mode: default_mode(version),
            shown: format!(
                "no istiod Deployment {namespace}/{deploy_name} in the input and no pilot.env.{FLAG} in the injector values: istiod {}'s default {:?} assumed",
                describe(version),
                default_text(version)
            ),
            source: None,
        },
    }
}

fn env_flag(
    version: IstioVersion,
    e: &EnvVar,
    object: String,
    container: usize,
    index: usize,
    location: &str,
) -> Flag {
    let source = Some(StepSource {
        object: object.clone(),
        field: format!("spec.template.spec.containers[{container}].env[{index}]"),
        location: location.to_owned(),
    });
    if e.value_from.is_some() && e.value.is_none() {
        return Flag {
            mode: default_mode(version),
            shown: format!(
                "{FLAG} on {object} comes from a valueFrom reference meshdoctor does not resolve: istiod {}'s default {:?} assumed",
                describe(version),
                default_text(version)
            ),
            source,
        };
    }
    let text = e.value.clone().unwrap_or_default();
    Flag {
        mode: parse_mode(version, Some(&text)),
        shown: format!("{FLAG}={text:?} on {object}"),
        source,
    }
}

/// How istiod of `version` reads the flag's value (`None`: unset).
pub fn parse_mode(version: IstioVersion, value: Option<&str>) -> Mode {
    if version >= AUTO_SINCE {
        // A string flag: exactly true, false or auto; anything else (even empty) is off.
        match value.unwrap_or("auto") {
            "true" => Mode::Enabled,
            "auto" => Mode::Auto,
            _ => Mode::Disabled,
        }
    } else {
        // A boolean flag read with Go's strconv.ParseBool; what does not parse is the default.
        match value {
            Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Mode::Enabled,
            _ => Mode::Disabled,
        }
    }
}

fn default_mode(version: IstioVersion) -> Mode {
    parse_mode(version, None)
}

fn default_text(version: IstioVersion) -> &'static str {
    if version >= AUTO_SINCE {
        "auto"
    } else {
        "false"
    }
}

fn describe(version: IstioVersion) -> String {
    format!("{}.{}", version.major, version.minor)
}

/// The minor of a kubelet version as istiod reads it (hashicorp/go-version: an optional `v`,
/// dot-separated numbers, then an optional pre-release or build suffix); a single number has
/// minor 0. `None` when it does not parse.
pub fn kubelet_minor(version: &str) -> Option<u64> {
    let v = version.strip_prefix('v').unwrap_or(version);
    let end = v.find(['-', '+']).unwrap_or(v.len());
    let (core, suffix) = v.split_at(end);
    let ok_suffix = suffix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.' | '~'))
        && suffix != "-"
        && suffix != "+";
    let parts: Vec<&str> = core.split('.').collect();
    if !ok_suffix
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    match parts.get(1) {
        Some(m) => m.parse().ok(),
        None => Some(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::istio::version::VersionInfo;
    use crate::origin::Origin;
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
    use k8s_openapi::api::core::v1::{
        Container, Node, NodeStatus, NodeSystemInfo, PodTemplateSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn v(minor: u32) -> IstioVersion {
        IstioVersion { major: 1, minor }
    }

    fn settings(minor: u32) -> InjectorSettings {
        let mut s = InjectorSettings::assumed(
            "default",
            VersionInfo {
                version: Some(v(minor)),
                source: "test".into(),
            },
        );
        s.configmap = Some("istio-system/istio-sidecar-injector".into());
        s
    }

    fn istiod(env: Option<&str>) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                name: Some("istiod".into()),
                namespace: Some("istio-system".into()),
                ..ObjectMeta::default()
            },
            spec: DeploymentSpec {
                template: PodTemplateSpec {
                    metadata: None,
                    spec: Some(k8s_openapi::api::core::v1::PodSpec {
                        containers: vec![Container {
                            name: "discovery".into(),
                            env: env.map(|e| {
                                vec![EnvVar {
                                    name: FLAG.into(),
                                    value: Some(e.into()),
                                    value_from: None,
                                }]
                            }),
                            ..Container::default()
                        }],
                        ..Default::default()
                    }),
                },
                ..DeploymentSpec::default()
            },
            status: None,
        }
    }

    fn node(name: &str, kubelet: &str) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: None,
            status: Some(NodeStatus {
                node_info: Some(NodeSystemInfo {
                    kubelet_version: kubelet.into(),
                    ..NodeSystemInfo::default()
                }),
                ..NodeStatus::default()
            }),
        }
    }

    fn state(env: Option<&str>, nodes: Option<&[(&str, &str)]>) -> ClusterState {
        let mut s = ClusterState::default();
        s.deployments.insert(istiod(env), Origin::Derived);
        if let Some(nodes) = nodes {
            s.mark_loaded(Kind::Node);
            for (n, k) in nodes {
                s.nodes.insert(node(n, k), Origin::Derived);
            }
        }
        s
    }

    fn decide(
        st: &ClusterState,
        minor: u32,
        node_name: Option<&str>,
        annotation: Option<&str>,
    ) -> Decision {
        let s = settings(minor);
        let mut install = IstioInstall::default();
        install.revisions.insert("default".into(), s.clone());
        let annotations = annotation
            .map(|a| BTreeMap::from([(ANNOTATION.to_owned(), a.to_owned())]))
            .unwrap_or_default();
        NativeSidecars::new(st, &install).decide(st, &s, node_name, &annotations)
    }

    #[test]
    fn flag_values_by_version() {
        for (minor, value, want) in [
            (27, None, Mode::Auto),
            (32, Some("auto"), Mode::Auto),
            (32, Some("true"), Mode::Enabled),
            (32, Some("false"), Mode::Disabled),
            (32, Some("True"), Mode::Disabled),
            (32, Some(""), Mode::Disabled),
            (26, None, Mode::Disabled),
            (26, Some("auto"), Mode::Disabled),
            (26, Some("1"), Mode::Enabled),
            (24, Some("True"), Mode::Enabled),
        ] {
            assert_eq!(parse_mode(v(minor), value), want, "1.{minor} {value:?}");
        }
    }

    #[test]
    fn kubelet_versions_parse_like_go_version() {
        assert_eq!(kubelet_minor("v1.33.1"), Some(33));
        assert_eq!(kubelet_minor("v1.32.4-eks-0a21954"), Some(32));
        assert_eq!(kubelet_minor("1.34.0+k3s1"), Some(34));
        assert_eq!(kubelet_minor("1"), Some(0));
        assert_eq!(kubelet_minor(""), None);
        assert_eq!(kubelet_minor("v1..2"), None);
        assert_eq!(kubelet_minor("banana"), None);
    }

    #[test]
    fn auto_asks_every_node_unless_the_pod_names_one() {
        let mixed = state(None, Some(&[("new", "v1.33.2"), ("old", "v1.31.0")]));
        assert!(!decide(&mixed, 32, None, None).native);
        assert!(decide(&mixed, 32, Some("new"), None).native);
        assert!(!decide(&mixed, 32, Some("old"), None).native);
        // A node that is not there: all nodes decide.
        assert!(!decide(&mixed, 32, Some("gone"), None).native);
        let new = state(None, Some(&[("a", "v1.33.0"), ("b", "v1.34.1")]));
        assert!(decide(&new, 32, None, None).native);
        let garbled = state(None, Some(&[("a", "v1.33.0"), ("b", "unknown")]));
        assert!(!decide(&garbled, 32, None, None).native);
        // An empty list that was read: on (as istiod decides), but said to be assumed.
        let empty = state(None, Some(&[]));
        let d = decide(&empty, 32, None, None);
        assert!(d.native && d.assumed);
    }

    #[test]
    fn without_nodes_the_layout_is_assumed_and_said() {
        let none = state(None, None);
        let d = decide(&none, 32, None, None);
        assert!(d.native && d.assumed, "{d:?}");
        assert!(d.detail.contains("no Nodes"), "{}", d.detail);
        // The annotation settles it: nothing assumed.
        let d = decide(&none, 32, None, Some("false"));
        assert!(!d.native && !d.assumed && d.cluster);
    }

    #[test]
    fn flag_and_annotation() {
        let old_nodes = state(Some("true"), Some(&[("a", "v1.29.0")]));
        assert!(decide(&old_nodes, 32, None, None).native);
        let off = state(Some("false"), Some(&[("a", "v1.34.0")]));
        assert!(!decide(&off, 32, None, None).native);
        let d = decide(&off, 32, None, Some("true"));
        assert!(d.native && !d.cluster);
        assert!(!decide(&off, 32, None, Some("yes")).native);
        // Before 1.27 nothing is automatic: the default is off whatever the nodes run.
        let pre = state(None, Some(&[("a", "v1.34.0")]));
        assert!(!decide(&pre, 26, None, None).native);
        let d = decide(&off, 32, None, None);
        assert_eq!(
            d.source.map(|s| s.field),
            Some("spec.template.spec.containers[0].env[0]".to_owned())
        );
    }

    #[test]
    fn chart_values_stand_in_for_a_missing_deployment() {
        let mut s = settings(32);
        s.values_text = Some(r#"{"pilot":{"env":{"ENABLE_NATIVE_SIDECARS":"false"}}}"#.into());
        let f = read_flag(&ClusterState::default(), &s);
        assert_eq!(f.mode, Mode::Disabled);
        assert!(f.shown.contains("pilot.env"), "{}", f.shown);
        let f = read_flag(&ClusterState::default(), &settings(32));
        assert_eq!(f.mode, Mode::Auto);
    }
}
