//! The render inputs read from a captured cluster: the `linkerd-config` values, the trust
//! anchors the injector mounts, the injector's version, and the owner the webhook looks up.

use serde_json::Value as Json;

use super::values::Values;
use crate::state::ClusterState;
use crate::workload::PodSubject;

/// The ConfigMap the injector mounts as its trust anchors (key `ca-bundle.crt`).
pub const TRUST_ROOTS_CONFIG_MAP: &str = "linkerd-identity-trust-roots";
/// The proxy injector's Deployment: its image tag is the injector's version.
pub const INJECTOR_DEPLOYMENT: &str = "linkerd-proxy-injector";

/// What the installed control plane renders with.
#[derive(Debug, Clone)]
pub struct LinkerdInstall {
    pub values: Values,
    pub control_namespace: String,
    /// The injector's own version (`linkerd.io/created-by`).
    pub injector_version: String,
    /// Where the values were read, for messages.
    pub source: String,
    /// The values document as stored (`Null` for the chart defaults), so that a version set
    /// later can lay its defaults under it ([`super::version::apply_defaults`]).
    pub values_doc: Json,
    /// The version rules the values were read with.
    pub rules: super::version::Rules,
}

impl LinkerdInstall {
    /// Reads the install of the control plane in `control_ns`. The chart defaults stand in for
    /// a missing `linkerd-config` (the source then says so).
    pub fn from_state(state: &ClusterState, control_ns: &str) -> Result<LinkerdInstall, String> {
        let (mut values, source, values_doc) = match state
            .configmaps
            .get(Some(control_ns), super::super::CONFIG_MAP_NAME)
        {
            Some(cm) => {
                let where_ = format!("configmap {control_ns}/{}", super::super::CONFIG_MAP_NAME);
                let text = cm
                    .obj
                    .data
                    .as_ref()
                    .and_then(|d| d.get("values"))
                    .ok_or_else(|| format!("{where_}: data.values: missing"))?;
                let doc: Json = serde_saphyr::from_str(text)
                    .map_err(|e| format!("{where_}: data.values: invalid YAML: {e}"))?;
                let v = Values::from_document(&doc)
                    .map_err(|e| format!("{where_}: data.values: {e}"))?;
                (v, format!("{where_} ({})", cm.origin), doc)
            }
            None => (
                Values::chart_defaults(),
                format!(
                    "chart defaults (no configmap {control_ns}/{})",
                    super::super::CONFIG_MAP_NAME
                ),
                Json::Null,
            ),
        };
        // The injector reads the trust anchors from this ConfigMap, not from the values.
        if let Some(pem) = state
            .configmaps
            .get(Some(control_ns), TRUST_ROOTS_CONFIG_MAP)
            .and_then(|cm| cm.obj.data.as_ref()?.get("ca-bundle.crt").cloned())
            .filter(|p| !p.trim().is_empty())
        {
            values.identity_trust_anchors_pem = pem;
        }
        let image_tag = injector_image_tag(state, control_ns);
        if values.linkerd_version.is_empty()
            && let Some(tag) = &image_tag
        {
            values.linkerd_version = tag.clone();
        }
        let injector_version = image_tag.unwrap_or_else(|| values.linkerd_version.clone());
        let rules = super::version::apply_defaults(&mut values, &values_doc);
        Ok(LinkerdInstall {
            values,
            control_namespace: control_ns.to_owned(),
            injector_version,
            source,
            values_doc,
            rules,
        })
    }
}

/// The namespace of the Linkerd control plane a state holds: the proxy injector webhook's
/// service namespace, else the namespace of a `linkerd-config` ConfigMap. `None`: no Linkerd.
pub fn control_namespace_in(state: &ClusterState) -> Option<String> {
    let from_webhook = state.mutating_webhooks.iter().find_map(|cfg| {
        let config_name = cfg.obj.metadata.name.as_deref().unwrap_or("");
        cfg.obj
            .webhooks
            .iter()
            .flatten()
            .filter(|w| super::super::is_linkerd_injector_webhook(config_name, &w.name))
            .find_map(|w| {
                w.client_config
                    .service
                    .as_ref()
                    .map(|s| s.namespace.clone())
            })
    });
    from_webhook.or_else(|| {
        state
            .configmaps
            .iter()
            .find(|cm| cm.obj.metadata.name.as_deref() == Some(super::super::CONFIG_MAP_NAME))
            .and_then(|cm| cm.obj.metadata.namespace.clone())
    })
}

/// Whether the state has a Linkerd injector: its webhook, or a `linkerd-config` ConfigMap.
pub fn has_linkerd(state: &ClusterState) -> bool {
    control_namespace_in(state).is_some()
        || state.mutating_webhooks.iter().any(|cfg| {
            let config_name = cfg.obj.metadata.name.as_deref().unwrap_or("");
            cfg.obj
                .webhooks
                .iter()
                .flatten()
                .any(|w| super::super::is_linkerd_injector_webhook(config_name, &w.name))
        })
}

/// The tag of the proxy injector's `proxy-injector` container image.
fn injector_image_tag(state: &ClusterState, control_ns: &str) -> Option<String> {
    let d = state
        .deployments
        .get(Some(control_ns), INJECTOR_DEPLOYMENT)?;
    let containers = &d.obj.spec.template.spec.as_ref()?.containers;
    containers
        .iter()
        .filter_map(|c| c.image.as_deref())
        .find(|i| i.contains("/controller") || i.contains("proxy-injector"))
        .and_then(|i| i.rsplit_once(':').map(|(_, t)| t.to_owned()))
        .filter(|t| !t.contains('/'))
}

/// The (kind, name) the webhook's owner lookup returns for the pod: a ReplicaSet resolves to
/// its Deployment and a Job to its CronJob when they have exactly one owner; a pod without an
/// owner is its own (kind `pod`, which gets no owner label).
pub fn owner_of(state: &ClusterState, subject: &PodSubject<'_>) -> (String, String) {
    let ns = subject.namespace.as_str();
    let (kind, name) = match subject.target.kind.as_str() {
        "Pod" => {
            let refs = subject.meta.owner_references.as_deref().unwrap_or(&[]);
            match refs {
                [one] => (one.kind.clone(), one.name.clone()),
                _ => return ("pod".into(), subject.target.name.clone()),
            }
        }
        other => (other.to_owned(), subject.target.name.clone()),
    };
    let grand = match kind.as_str() {
        "ReplicaSet" => state
            .replicasets
            .get(Some(ns), &name)
            .and_then(|o| single_owner(o.obj.metadata.owner_references.as_deref())),
        "Job" => state
            .jobs
            .get(Some(ns), &name)
            .and_then(|o| single_owner(o.obj.metadata.owner_references.as_deref())),
        _ => None,
    };
    let template_owner = if subject.target.kind == "ReplicaSet" || subject.target.kind == "Job" {
        subject
            .workload_meta
            .and_then(|m| single_owner(m.owner_references.as_deref()))
    } else {
        None
    };
    let (k, n) = grand.or(template_owner).unwrap_or((kind, name));
    (k.to_ascii_lowercase(), n)
}

/// The (kind, name) the webhook's owner lookup returns for `pod` as it is sent: a pod without
/// owner references is its own (no owner label), whatever workload its template came from.
pub fn owner_of_sent_pod(
    state: &ClusterState,
    subject: &PodSubject<'_>,
    pod: &Json,
) -> (String, String) {
    let owned = pod
        .pointer("/metadata/ownerReferences")
        .and_then(Json::as_array)
        .is_some_and(|refs| !refs.is_empty());
    if owned {
        owner_of(state, subject)
    } else {
        ("pod".into(), subject.target.name.clone())
    }
}

fn single_owner(
    refs: Option<&[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference]>,
) -> Option<(String, String)> {
    match refs? {
        [one] => Some((one.kind.clone(), one.name.clone())),
        _ => None,
    }
}
