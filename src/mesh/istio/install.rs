//! Discovers an Istio installation in a cluster state: which webhooks are Istio injectors,
//! which revision (and tag) each serves, the injector settings of every revision and the
//! control-plane version each runs.

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::{MutatingWebhook, MutatingWebhookConfiguration};

use super::config::{InjectorSettings, configmap_revision};
use super::version::{IstioVersion, VersionInfo};
use crate::origin::Origin;
use crate::state::ClusterState;

pub const REV_LABEL: &str = "istio.io/rev";
pub const TAG_LABEL: &str = "istio.io/tag";
pub const DEFAULT_NAMESPACE: &str = "istio-system";

/// Whether a webhook is one of Istio's sidecar injectors (Helm names them
/// `[rev.]{namespace,object,auto}.sidecar-injector.istio.io`; old installs `sidecar-injector.istio.io`).
pub fn is_istio_injector_webhook(webhook_name: &str) -> bool {
    webhook_name.ends_with("sidecar-injector.istio.io")
}

/// One Istio injector webhook.
#[derive(Debug, Clone)]
pub struct IstioWebhook {
    pub configuration: String,
    pub name: String,
    /// The revision whose istiod serves it.
    pub revision: String,
    /// The revision tag the configuration implements, when it is a tag (`istio-revision-tag-*`).
    pub tag: Option<String>,
    /// Both selectors are `istio.io/deactivated: never-match` (`istioctl tag` neutralised it).
    pub deactivated: bool,
    pub origin: Origin,
}

/// Everything meshdoctor knows about the Istio installation.
#[derive(Debug, Clone, Default)]
pub struct IstioInstall {
    pub webhooks: Vec<IstioWebhook>,
    /// Injector settings by revision.
    pub revisions: BTreeMap<String, InjectorSettings>,
}

impl IstioInstall {
    pub fn discover(state: &ClusterState, version_override: Option<IstioVersion>) -> IstioInstall {
        let mut install = IstioInstall::default();
        // Where each revision's injector service lives, and its name (`istiod[-rev]`, or
        // `istio-sidecar-injector` for installs older than 1.5 that ran a separate injector).
        let mut service_of: BTreeMap<String, (String, String)> = BTreeMap::new();
        for cfg in state.mutating_webhooks.iter() {
            for wh in cfg.obj.webhooks.iter().flatten() {
                if !is_istio_injector_webhook(&wh.name) {
                    continue;
                }
                let revision = webhook_revision(&cfg.obj, wh);
                if let Some(svc) = &wh.client_config.service {
                    service_of
                        .entry(revision.clone())
                        .or_insert_with(|| (svc.namespace.clone(), svc.name.clone()));
                }
                install.webhooks.push(IstioWebhook {
                    configuration: cfg.obj.metadata.name.clone().unwrap_or_default(),
                    name: wh.name.clone(),
                    revision,
                    tag: cfg
                        .obj
                        .metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(TAG_LABEL))
                        .cloned(),
                    deactivated: is_deactivated(wh),
                    origin: cfg.origin.clone(),
                });
            }
        }

        // Every revision named by a webhook or by an injector ConfigMap.
        let mut revisions: Vec<String> = install
            .webhooks
            .iter()
            .map(|w| w.revision.clone())
            .collect();
        for cm in state.configmaps.iter() {
            if let Some(rev) = cm.obj.metadata.name.as_deref().and_then(configmap_revision) {
                revisions.push(rev.to_owned());
            }
        }
        revisions.sort();
        revisions.dedup();

        for rev in revisions {
            let ns = service_of
                .get(&rev)
                .map(|(ns, _)| ns.as_str())
                .unwrap_or(DEFAULT_NAMESPACE);
            let service = service_of.get(&rev).map(|(_, name)| name.as_str());
            let cm_name = if rev == "default" {
                "istio-sidecar-injector".to_owned()
            } else {
                format!("istio-sidecar-injector-{rev}")
            };
            let cm = state.configmaps.get(Some(ns), &cm_name).or_else(|| {
                state
                    .configmaps
                    .iter()
                    .find(|c| c.obj.metadata.name.as_deref() == Some(cm_name.as_str()))
            });
            let mut settings = match cm {
                Some(cm) => InjectorSettings::from_configmap(
                    &rev,
                    &cm.obj,
                    cm.origin.clone(),
                    VersionInfo {
                        version: None,
                        source: String::new(),
                    },
                ),
                None => InjectorSettings::assumed(
                    &rev,
                    VersionInfo {
                        version: None,
                        source: String::new(),
                    },
                ),
            };
            settings.version = detect_version(
                state,
                &rev,
                ns,
                service,
                settings.values_tag.as_deref(),
                version_override,
            );
            install.revisions.insert(rev, settings);
        }
        install
    }

    /// The settings of the revision that serves a webhook (Helm defaults when none were found).
    pub fn settings_for_revision(&self, revision: &str) -> Option<&InjectorSettings> {
        self.revisions.get(revision)
    }

    pub fn webhook(&self, configuration: &str, name: &str) -> Option<&IstioWebhook> {
        self.webhooks
            .iter()
            .find(|w| w.configuration == configuration && w.name == name)
    }

    /// Revisions and tags that some active webhook serves (what `istio.io/rev` may name).
    pub fn served_revision_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for w in self.webhooks.iter().filter(|w| !w.deactivated) {
            names.push(w.tag.clone().unwrap_or_else(|| w.revision.clone()));
        }
        names.sort();
        names.dedup();
        names
    }
}

/// The revision serving a webhook: the configuration's `istio.io/rev` label (Helm sets it, and
/// tags set it to their target revision), else the `istiod-<rev>` service name, else default.
fn webhook_revision(cfg: &MutatingWebhookConfiguration, wh: &MutatingWebhook) -> String {
    if let Some(rev) = cfg
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REV_LABEL))
        .filter(|r| !r.is_empty())
    {
        return rev.clone();
    }
    if let Some(svc) = &wh.client_config.service
        && let Some(rev) = svc.name.strip_prefix("istiod-")
    {
        return rev.to_owned();
    }
    "default".to_owned()
}

fn is_deactivated(wh: &MutatingWebhook) -> bool {
    let never = |s: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>| {
        s.and_then(|s| s.match_labels.as_ref())
            .and_then(|m| m.get("istio.io/deactivated"))
            .is_some_and(|v| v == "never-match")
    };
    never(wh.namespace_selector.as_ref()) && never(wh.object_selector.as_ref())
}

/// Finds the version a revision's istiod runs: `--istio-version`, else the image of its
/// Deployment (`istiod[-<rev>]`, or the Deployment named like the webhook's service, which is
/// how Istio < 1.5 ran its separate `istio-sidecar-injector`) or of its pods, else
/// `global.tag` in the injector values.
fn detect_version(
    state: &ClusterState,
    revision: &str,
    namespace: &str,
    service: Option<&str>,
    values_tag: Option<&str>,
    version_override: Option<IstioVersion>,
) -> VersionInfo {
    if let Some(v) = version_override {
        return VersionInfo {
            version: Some(v),
            source: "--istio-version".to_owned(),
        };
    }
    let deploy_name = if revision == "default" {
        "istiod".to_owned()
    } else {
        format!("istiod-{revision}")
    };
    let candidates =
        std::iter::once(deploy_name.as_str()).chain(service.filter(|s| *s != deploy_name));
    for name in candidates {
        let Some(d) = state.deployments.get(Some(namespace), name) else {
            continue;
        };
        let images = d.obj.spec.template.spec.as_ref().map(|s| &s.containers);
        for c in images.into_iter().flatten() {
            if let Some(img) = &c.image
                && let Some(v) = IstioVersion::parse(img)
            {
                return VersionInfo {
                    version: Some(v),
                    source: format!(
                        "image {img} of deployment {namespace}/{name} ({})",
                        d.origin
                    ),
                };
            }
        }
    }
    for p in state.pods.in_namespace(Some(namespace)) {
        let labels = p.obj.metadata.labels.as_ref();
        let is_istiod = labels
            .and_then(|l| l.get("app"))
            .is_some_and(|a| a == "istiod");
        let rev = labels
            .and_then(|l| l.get(REV_LABEL))
            .map(String::as_str)
            .unwrap_or("default");
        if !is_istiod || rev != revision {
            continue;
        }
        for c in p.obj.spec.iter().flat_map(|s| s.containers.iter()) {
            if let Some(img) = &c.image
                && let Some(v) = IstioVersion::parse(img)
            {
                let name = p.obj.metadata.name.as_deref().unwrap_or("");
                return VersionInfo {
                    version: Some(v),
                    source: format!("image {img} of pod {namespace}/{name} ({})", p.origin),
                };
            }
        }
    }
    if let Some(found) = chart_label_version(state, revision, namespace, &deploy_name, service) {
        return found;
    }
    if let Some(tag) = values_tag
        && let Some(v) = IstioVersion::parse(tag)
    {
        return VersionInfo {
            version: Some(v),
            source: format!("global.tag \"{tag}\" in the injector values"),
        };
    }
    if let Some(v) = IstioVersion::from_revision_name(revision) {
        return VersionInfo {
            version: Some(v),
            source: format!(
                "the revision's name \"{revision}\" (a naming convention; use --istio-version if it is not the version istiod runs)"
            ),
        };
    }
    VersionInfo {
        version: None,
        source: format!(
            "no istiod image or injector values tag for revision \"{revision}\" in the input; applying Istio {} rules (use --istio-version to choose)",
            VersionInfo::ASSUMED
        ),
    }
}

/// The version Helm's (or the operator's) labels name on the revision's objects: its istiod
/// Deployment, its injector ConfigMap, its MutatingWebhookConfigurations. Used when no image
/// tag says it (`latest`, a digest).
fn chart_label_version(
    state: &ClusterState,
    revision: &str,
    namespace: &str,
    deploy_name: &str,
    service: Option<&str>,
) -> Option<VersionInfo> {
    let found = |labels: Option<&BTreeMap<String, String>>, what: String| {
        let (v, key) = IstioVersion::from_chart_labels(labels?)?;
        let value = labels?.get(key)?;
        Some(VersionInfo {
            version: Some(v),
            source: format!("label {key}={value} of {what}"),
        })
    };
    let deployments = std::iter::once(deploy_name).chain(service.filter(|s| *s != deploy_name));
    for name in deployments {
        if let Some(d) = state.deployments.get(Some(namespace), name)
            && let Some(v) = found(
                d.obj.metadata.labels.as_ref(),
                format!("deployment {namespace}/{name} ({})", d.origin),
            )
        {
            return Some(v);
        }
    }
    let cm_name = match revision {
        "default" => "istio-sidecar-injector".to_owned(),
        rev => format!("istio-sidecar-injector-{rev}"),
    };
    if let Some(cm) = state.configmaps.get(Some(namespace), &cm_name)
        && let Some(v) = found(
            cm.obj.metadata.labels.as_ref(),
            format!("configmap {namespace}/{cm_name} ({})", cm.origin),
        )
    {
        return Some(v);
    }
    state.mutating_webhooks.iter().find_map(|cfg| {
        let labels = cfg.obj.metadata.labels.as_ref();
        let rev = labels.and_then(|l| l.get(REV_LABEL)).map(String::as_str);
        // A tag's configuration carries its target revision's labels too.
        if rev != Some(revision) {
            return None;
        }
        let name = cfg.obj.metadata.name.as_deref().unwrap_or("");
        found(
            labels,
            format!("mutatingwebhookconfiguration {name} ({})", cfg.origin),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::offline::{LoadOptions, load_text};

    /// Istio < 1.5 ran the injector as its own Deployment, named like the webhook's service.
    #[test]
    fn version_of_a_separate_injector_deployment() {
        let text = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-sidecar-injector
webhooks:
- name: sidecar-injector.istio.io
  clientConfig:
    service: {name: istio-sidecar-injector, namespace: istio-system, path: /inject}
  sideEffects: None
  admissionReviewVersions: [v1beta1]
  namespaceSelector:
    matchLabels: {istio-injection: enabled}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-sidecar-injector, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: sidecar-injector}}
  template:
    metadata: {labels: {istio: sidecar-injector}}
    spec:
      containers:
      - {name: sidecar-injector-webhook, image: "docker.io/istio/sidecar_injector:1.1.17"}
"#;
        let mut state = ClusterState::default();
        load_text(&mut state, "t.yaml", text, &LoadOptions::default()).unwrap();
        let install = IstioInstall::discover(&state, None);
        let settings = install.settings_for_revision("default").unwrap();
        assert_eq!(
            settings.version.version,
            Some(IstioVersion { major: 1, minor: 1 })
        );
        assert!(
            settings
                .version
                .source
                .contains("istio-system/istio-sidecar-injector"),
            "{}",
            settings.version.source
        );
    }

    /// An image tagged `latest` says nothing; Helm's labels do, unless they are a dev
    /// build's placeholder. A revision named `1-30` is the last resort.
    #[test]
    fn version_from_chart_labels_and_revision_name() {
        let deployment = |rev: &str, chart: &str| {
            let name = if rev == "default" {
                "istiod".to_owned()
            } else {
                format!("istiod-{rev}")
            };
            format!(
                r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: istio-system
  labels: {{app: istiod, istio.io/rev: {rev}, helm.sh/chart: "{chart}"}}
spec:
  selector: {{matchLabels: {{app: istiod}}}}
  template:
    metadata: {{labels: {{app: istiod}}}}
    spec:
      containers:
      - {{name: discovery, image: "registry.example/pilot:latest"}}
"#
            )
        };
        let configmap = |rev: &str| {
            let name = match rev {
                "default" => "istio-sidecar-injector".to_owned(),
                rev => format!("istio-sidecar-injector-{rev}"),
            };
            format!(
                r#"
apiVersion: v1
kind: ConfigMap
metadata: {{name: {name}, namespace: istio-system}}
data: {{config: "policy: enabled", values: "{{}}"}}
"#
            )
        };
        let text = [
            deployment("default", "istiod-1.28.1"),
            configmap("default"),
            deployment("1-30", "istiod-1.0.0"),
            configmap("1-30"),
            deployment("canary", "istiod-1.0.0"),
            configmap("canary"),
        ]
        .join("---");
        let mut state = ClusterState::default();
        load_text(&mut state, "t.yaml", &text, &LoadOptions::default()).unwrap();
        let install = IstioInstall::discover(&state, None);
        let v = |rev: &str| install.settings_for_revision(rev).unwrap().version.clone();
        assert_eq!(v("default").version, Some(IstioVersion::new(1, 28)));
        assert!(
            v("default")
                .source
                .starts_with("label helm.sh/chart=istiod-1.28.1 of deployment istio-system/istiod"),
            "{}",
            v("default").source
        );
        assert_eq!(v("1-30").version, Some(IstioVersion::new(1, 30)));
        assert!(
            v("1-30").source.contains("revision's name"),
            "{}",
            v("1-30").source
        );
        assert_eq!(v("canary").version, None);
    }
}
