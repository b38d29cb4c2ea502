//! Mesh versions, for `meshdoctor version`: the Istio and Linkerd releases whose rules and
//! renders meshdoctor knows, and the control-plane versions found in a cluster state (each
//! Istio revision's istiod, each Linkerd control plane's proxy injector).
//!
//! Nothing is detected here that the engine does not detect itself: Istio's versions are
//! [`IstioInstall::discover`]'s, Linkerd's are [`LinkerdInstall::from_state`]'s.

use serde::Serialize;

use super::istio::install::IstioInstall;
use super::istio::version::{
    IstioVersion, NEWEST_KNOWN, RENDER_CONFORMANCE, RULE_ERAS, VersionInfo,
};
use super::linkerd::render::MODELLED_VERSION;
use super::linkerd::render::cluster::{INJECTOR_DEPLOYMENT, LinkerdInstall};
use super::linkerd::{CONFIG_MAP_NAME, is_linkerd_injector_webhook};
use crate::state::ClusterState;

/// The Istio releases meshdoctor's rules and render are made for.
#[derive(Debug, Clone, Serialize)]
pub struct IstioKnown {
    /// The newest minor whose decision rules are known (`1.32`).
    pub newest_known: String,
    /// The rules of each range of releases, oldest first.
    pub rule_eras: Vec<RuleEra>,
    /// The rules applied when a cluster's version cannot be found.
    pub assumed_when_unknown: String,
    /// The releases the rendered pod is checked against.
    pub render_conformance: Vec<String>,
}

/// A range of Istio releases that decide injection the same way.
#[derive(Debug, Clone, Serialize)]
pub struct RuleEra {
    /// The first minor of the range (the first era also covers anything older).
    pub since: String,
    /// The last minor of the range.
    pub until: String,
    /// The rules' id (`label-wins-exact`).
    pub rules: String,
    pub description: String,
}

/// The Linkerd release meshdoctor's decision and render are modelled on.
#[derive(Debug, Clone, Serialize)]
pub struct LinkerdKnown {
    pub modelled_on: String,
}

/// One Istio revision's control plane found in a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IstioControlPlane {
    pub revision: String,
    /// Revision tags (`istioctl tag`) that point at this revision.
    pub tags: Vec<String>,
    /// `major.minor`, or `None` when nothing in the state says.
    pub version: Option<String>,
    /// The rules meshdoctor applies to this revision (the assumed ones when unknown).
    pub rules: String,
    /// Where the version was read, or why it is unknown.
    pub from: String,
}

/// One Linkerd control plane found in a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkerdControlPlane {
    /// The control-plane namespace (where `linkerd-config` lives).
    pub namespace: String,
    /// The proxy injector's version (`edge-26.8.3`), or `None` when nothing in the state says.
    pub version: Option<String>,
    /// Where the version was read, or why it is unknown.
    pub from: String,
}

pub fn istio_known() -> IstioKnown {
    let rule_eras = RULE_ERAS
        .iter()
        .enumerate()
        .map(|(i, (since, rules))| {
            let until = match RULE_ERAS.get(i + 1) {
                Some((next, _)) => IstioVersion {
                    major: next.major,
                    minor: next.minor.saturating_sub(1),
                },
                None => NEWEST_KNOWN,
            };
            RuleEra {
                since: since.to_string(),
                until: until.to_string(),
                rules: rules_id(rules),
                description: rules.describe().to_owned(),
            }
        })
        .collect();
    IstioKnown {
        newest_known: NEWEST_KNOWN.to_string(),
        rule_eras,
        assumed_when_unknown: VersionInfo::ASSUMED.to_string(),
        render_conformance: RENDER_CONFORMANCE.iter().map(|v| (*v).to_owned()).collect(),
    }
}

pub fn linkerd_known() -> LinkerdKnown {
    LinkerdKnown {
        modelled_on: MODELLED_VERSION.to_owned(),
    }
}

/// `LabelWinsExact` → `label-wins-exact`: the variant's name, so that a new era needs no
/// second list here.
fn rules_id(rules: &impl std::fmt::Debug) -> String {
    let name = format!("{rules:?}");
    let mut id = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            id.push('-');
        }
        id.push(c.to_ascii_lowercase());
    }
    id
}

/// Each Istio revision in the state (named by an injector webhook or an injector ConfigMap)
/// with the version its istiod runs, as the engine detects it.
pub fn istio_control_planes(state: &ClusterState) -> Vec<IstioControlPlane> {
    let install = IstioInstall::discover(state, None);
    install
        .revisions
        .iter()
        .map(|(revision, settings)| {
            let mut tags: Vec<String> = install
                .webhooks
                .iter()
                .filter(|w| &w.revision == revision)
                .filter_map(|w| w.tag.clone())
                .collect();
            tags.sort();
            tags.dedup();
            let v = &settings.version;
            IstioControlPlane {
                revision: revision.clone(),
                tags,
                version: v.version.map(|v| v.to_string()),
                rules: rules_id(&v.effective().rules()),
                from: v.source.clone(),
            }
        })
        .collect()
}

/// Each Linkerd control plane in the state: the namespaces of Linkerd injector webhooks'
/// services and of `linkerd-config` ConfigMaps.
pub fn linkerd_control_planes(state: &ClusterState) -> Vec<LinkerdControlPlane> {
    let mut namespaces: Vec<String> = Vec::new();
    for cfg in state.mutating_webhooks.iter() {
        let cfg_name = cfg.obj.metadata.name.as_deref().unwrap_or("");
        for wh in cfg.obj.webhooks.iter().flatten() {
            if is_linkerd_injector_webhook(cfg_name, &wh.name)
                && let Some(svc) = &wh.client_config.service
            {
                namespaces.push(svc.namespace.clone());
            }
        }
    }
    for cm in state.configmaps.iter() {
        if cm.obj.metadata.name.as_deref() == Some(CONFIG_MAP_NAME)
            && let Some(ns) = &cm.obj.metadata.namespace
        {
            namespaces.push(ns.clone());
        }
    }
    namespaces.sort();
    namespaces.dedup();
    namespaces
        .into_iter()
        .map(|ns| linkerd_control_plane(state, ns))
        .collect()
}

fn linkerd_control_plane(state: &ClusterState, namespace: String) -> LinkerdControlPlane {
    let install = match LinkerdInstall::from_state(state, &namespace) {
        Ok(install) => install,
        Err(why) => {
            return LinkerdControlPlane {
                namespace,
                version: None,
                from: why,
            };
        }
    };
    let version = Some(install.injector_version.clone()).filter(|v| !v.is_empty());
    let from = match &version {
        None => format!(
            "no proxy injector image and no linkerdVersion in the {}",
            install.source
        ),
        Some(v) => match injector_image_with_tag(state, &namespace, v) {
            Some(image) => image,
            None => format!("linkerdVersion in the {}", install.source),
        },
    };
    LinkerdControlPlane {
        namespace,
        version,
        from,
    }
}

/// Names the proxy injector image that carries `tag`, when the version came from it.
fn injector_image_with_tag(state: &ClusterState, namespace: &str, tag: &str) -> Option<String> {
    let name = INJECTOR_DEPLOYMENT;
    let d = state.deployments.get(Some(namespace), name)?;
    let spec = d.obj.spec.template.spec.as_ref()?;
    let image = spec
        .containers
        .iter()
        .filter_map(|c| c.image.as_deref())
        .find(|i| i.rsplit_once(':').is_some_and(|(_, t)| t == tag))?;
    Some(format!(
        "image {image} of deployment {namespace}/{name} ({})",
        d.origin
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::offline::{LoadOptions, load_text};

    fn load(text: &str) -> ClusterState {
        let mut s = ClusterState::default();
        load_text(&mut s, "t.yaml", text, &LoadOptions::default()).unwrap();
        s
    }

    #[test]
    fn the_known_releases_come_from_the_rules() {
        let known = istio_known();
        assert_eq!(known.newest_known, "1.32");
        assert_eq!(known.render_conformance, ["1.24.6", "1.32-dev"]);
        let eras: Vec<(&str, &str, &str)> = known
            .rule_eras
            .iter()
            .map(|e| (e.since.as_str(), e.until.as_str(), e.rules.as_str()))
            .collect();
        assert_eq!(
            eras,
            [
                ("1.0", "1.11", "annotation-only"),
                ("1.12", "1.26", "label-wins-lenient"),
                ("1.27", "1.32", "label-wins-exact"),
            ]
        );
        assert_eq!(linkerd_known().modelled_on, "edge-26.8.3");
    }

    const ISTIO: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: istio-revision-tag-prod, labels: {istio.io/rev: canary, istio.io/tag: prod}}
webhooks:
- name: namespace.sidecar-injector.istio.io
  clientConfig: {service: {name: istiod-canary, namespace: istio-system}}
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: istio-sidecar-injector}
webhooks:
- name: namespace.sidecar-injector.istio.io
  clientConfig: {service: {name: istiod, namespace: istio-system}}
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod-canary, namespace: istio-system}
spec:
  selector: {matchLabels: {app: istiod}}
  template:
    metadata: {labels: {app: istiod}}
    spec:
      containers:
      - {name: discovery, image: "docker.io/istio/pilot:1.27.1"}
"#;

    #[test]
    fn istio_revisions_with_their_tags_and_versions() {
        let planes = istio_control_planes(&load(ISTIO));
        assert_eq!(planes.len(), 2, "{planes:?}");
        let canary = &planes[0];
        assert_eq!(canary.revision, "canary");
        assert_eq!(canary.tags, ["prod"]);
        assert_eq!(canary.version.as_deref(), Some("1.27"));
        assert_eq!(canary.rules, "label-wins-exact");
        assert!(
            canary.from.contains("docker.io/istio/pilot:1.27.1"),
            "{}",
            canary.from
        );
        let default = &planes[1];
        assert_eq!(default.revision, "default");
        assert_eq!(default.version, None);
        assert!(default.from.contains("no istiod image"), "{}", default.from);
    }

    #[test]
    fn linkerd_version_from_the_injector_image_or_the_values() {
        let image = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: linkerd-proxy-injector, namespace: linkerd}
spec:
  selector: {matchLabels: {app: i}}
  template:
    metadata: {labels: {app: i}}
    spec:
      containers:
      - {name: proxy-injector, image: "cr.l5d.io/linkerd/controller:edge-26.8.3"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: linkerd-config, namespace: linkerd}
data: {values: "linkerdVersion: edge-26.1.1\n"}
"#;
        let planes = linkerd_control_planes(&load(image));
        assert_eq!(planes.len(), 1);
        assert_eq!(planes[0].namespace, "linkerd");
        assert_eq!(planes[0].version.as_deref(), Some("edge-26.8.3"));
        assert!(
            planes[0].from.contains("linkerd/linkerd-proxy-injector"),
            "{}",
            planes[0].from
        );
        let values = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: linkerd-config, namespace: mesh}\ndata: {values: \"linkerdVersion: edge-26.1.1\\n\"}\n";
        let planes = linkerd_control_planes(&load(values));
        assert_eq!(planes[0].namespace, "mesh");
        assert_eq!(planes[0].version.as_deref(), Some("edge-26.1.1"));
        assert!(
            planes[0]
                .from
                .starts_with("linkerdVersion in the configmap mesh/linkerd-config"),
            "{}",
            planes[0].from
        );
        let broken = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: linkerd-config, namespace: linkerd}\ndata: {other: x}\n";
        let planes = linkerd_control_planes(&load(broken));
        assert_eq!(planes[0].version, None);
        assert!(
            planes[0].from.contains("data.values: missing"),
            "{}",
            planes[0].from
        );
        assert!(linkerd_control_planes(&load(ISTIO)).is_empty());
    }
}
